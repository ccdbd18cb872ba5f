"""Custom actions from an action file: multi-step tasks, checkpoints, resume after kill -9,
and exact file:line:column errors for broken files. Real binary, official Python MCP client."""

import math
import subprocess
import time

import anyio
import pytest

from conftest import ROOT, armature_bin, http_client, vars_list
from test_cartesian import position

pytestmark = pytest.mark.anyio

# Where pick_and_place leaves the TCP: 10 centimetres up the tool's axis from the fixture's
# pose (x, y, z in metres).
CLEAR_OF_FIXTURE = [-0.486, 0.398, 0.369]
ACTIONS = (ROOT / "config" / "actions.toml").read_text()


def cell_config(actions_path) -> str:
    """The simulator with the action file at `actions_path`."""
    return f"""
robot = "builtin:ur5e"
actions = "{actions_path}"
[backend]
kind = "sim"
[sim]
part_width_m = 0.03
"""


def tcp_gap_mm(st, point):
    """How far the TCP is from `point` (mm)."""
    return 1000 * math.dist(position(st["positions"]), point)


async def wait_for_step(c, task_id, step, timeout=30.0):
    """Polls until the task runs `step` (1-based); returns its record."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, rec = await c.ok("task_status", {"task_id": task_id})
        current = (rec.get("steps") or {}).get("current")
        if current is not None and current >= step:
            assert current == step, f"missed step {step}: already at {current}"
            return rec
        assert rec["state"] == "running", rec
        await anyio.sleep(0.02)
    raise AssertionError(f"task {task_id} never reached step {step}")


async def test_pick_and_place_runs_to_success_step_by_step(server):
    async with http_client(server.url) as c:
        tools = {t.name: t for t in (await c.session.list_tools()).tools}
        slot = tools["pick_and_place"].input_schema["properties"]["slot"]
        assert (slot["type"], slot["minimum"], slot["maximum"]) == ("integer", 0, 5)
        assert tools["pick_and_place"].input_schema["required"] == ["slot"]
        assert "resume_task" in tools and "reset_part_counter" in tools

        text, ack = await c.ok("pick_and_place", {"slot": 3})
        assert ack["steps"] == 10 and ack["state"] == "running"
        assert text.startswith("Picking the part from slot 3 and placing it on the fixture. Task "), text
        seen = await c.wait_done(ack["task_id"], timeout=60)
        final = seen[-1]
        assert final["state"] == "succeeded", final
        assert final["message"].startswith("The part from slot 3 is on the fixture."), final["message"]
        assert final["steps"]["done"] == 10 and final["progress"] == 100

        progress = [r["progress"] for r in seen]
        assert progress == sorted(progress), progress
        steps = [r["steps"]["current"] for r in seen if r["steps"]["current"]]
        assert steps == sorted(steps) and len(set(steps)) >= 5, steps
        messages = " | ".join(r["message"] for r in seen)
        assert "Step 3 of 10, reaching into slot 3, " in messages, messages
        assert "Step 6 of 10, carrying the part to the fixture, " in messages, messages
        st = await c.state()
        assert tcp_gap_mm(st, CLEAR_OF_FIXTURE) <= 1.0, position(st["positions"])
        assert st["gripper"]["state"] == "open", st["gripper"]

    v = vars_list(server.state_dir)
    assert v["parts_placed"] == 1
    assert v["task_state"] == "succeeded"


async def test_bad_parameters_are_refused_and_nothing_moves(server):
    async with http_client(server.url) as c:
        cases = [
            ({"slot": 6}, "Slot must be a whole number from 0 to 5, not 6."),
            ({"slot": -1}, "Slot must be a whole number from 0 to 5, not minus 1."),
            ({"slot": 2.5}, "Slot must be a whole number from 0 to 5, not 2.5."),
            ({"slot": "3"}, "Slot must be a whole number from 0 to 5, not the text 3."),
            ({"slot": 1, "speed": 0.9}, "Speed must be a number from 5 to 25 hundredths, not 90 hundredths."),
            ({}, "Slot is required: a whole number from 0 to 5."),
            ({"slot": 1, "gripper": "soft"}, "Pick and place has no setting called gripper. It takes slot and speed."),
        ]
        for args, says in cases:
            err, text, _ = await c.call("pick_and_place", args)
            assert err and says in text, (args, text)
        err, text, _ = await c.call("inspect_slots", {"count": 0})
        assert err and "Count must be a whole number from 1 to 6, not 0." in text
        _, listed = await c.ok("list_tasks")
        assert listed["tasks"] == []
        st = await c.state()
        assert st["moving"] is False and max(abs(v) for v in st["velocities"]) == 0

        # A finished task cannot be resumed.
        _, ack = await c.ok("reset_part_counter")
        assert ack["variables"] == {"parts_placed": 0}
        _, ack = await c.ok("home")
        await c.wait_done(ack["task_id"])
        err, text, _ = await c.call("resume_task", {"task_id": ack["task_id"]})
        assert err and "is succeeded; only an interrupted task can be resumed" in text, text


async def test_kill_9_mid_step_then_resume_finishes_and_counts_each_place_once(make_server, tmp_path):
    state = tmp_path / "state"
    server = make_server(state_dir=state)
    async with http_client(server.url) as c:
        _, ack = await c.ok("pick_and_place", {"slot": 2})
        first = ack["task_id"]
        await wait_for_step(c, first, 6)
    server.kill9()
    assert "parts_placed" not in vars_list(state)

    server = make_server(state_dir=state)
    async with http_client(server.url) as c:
        _, rec = await c.ok("task_status", {"task_id": first})
        assert rec["state"] == "interrupted" and rec["steps"]["done"] == 5, rec
        assert "at step 6 of 10." in rec["message"], rec["message"]
        assert "Resume it to continue." in rec["message"]
        st = await c.state()
        assert st["moving"] is False, "motion never resumes by itself"

        text, res = await c.ok("resume_task", {"task_id": first[:8]})
        assert res["from_step"] == 6 and res["task_id"] == first
        assert "at step 6, back to its start first" in text, text
        seen = await c.wait_done(first, timeout=60)
        assert seen[-1]["state"] == "succeeded", seen[-1]
        assert seen[-1]["steps"]["resumed"] == 1
        assert any("returning to where step 6 starts" in r["message"] for r in seen), [r["message"] for r in seen]
        assert min(r["steps"]["current"] or 6 for r in seen) == 6, "finished steps never run again"
        st = await c.state()
        assert tcp_gap_mm(st, CLEAR_OF_FIXTURE) <= 1.0, position(st["positions"])
    assert vars_list(state)["parts_placed"] == 1

    # Killed after the count (step 9), in the last move: resuming does not count again.
    async with http_client(server.url) as c:
        _, ack = await c.ok("pick_and_place", {"slot": 4})
        second = ack["task_id"]
        await wait_for_step(c, second, 10)
    server.kill9()
    assert vars_list(state)["parts_placed"] == 2

    server = make_server(state_dir=state)
    async with http_client(server.url) as c:
        _, res = await c.ok("resume_task", {"task_id": second})
        assert res["from_step"] == 10
        seen = await c.wait_done(second, timeout=60)
        assert seen[-1]["state"] == "succeeded", seen[-1]
        err, text, _ = await c.call("resume_task", {"task_id": second})
        assert err and "only an interrupted task can be resumed" in text
    assert vars_list(state)["parts_placed"] == 2


async def test_an_edited_action_file_refuses_to_resume(make_server, tmp_path):
    actions = tmp_path / "actions.toml"
    actions.write_text(ACTIONS)
    config = cell_config(actions)
    state = tmp_path / "state"
    server = make_server(config, state_dir=state)
    async with http_client(server.url) as c:
        _, ack = await c.ok("pick_and_place", {"slot": 1})
        await wait_for_step(c, ack["task_id"], 2)
    server.kill9()

    # The slots moved: the interrupted task's steps no longer match.
    actions.write_text(ACTIONS.replace('"0.04 * slot"', '"0.05 * slot"'))
    server = make_server(config, state_dir=state)
    async with http_client(server.url) as c:
        err, text, _ = await c.call("resume_task", {"task_id": ack["task_id"]})
        assert err and "cannot be resumed: the steps of pick and place changed since. Start the action again." in text, text
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "interrupted"
        assert (await c.state())["moving"] is False


async def test_cancel_and_stop_act_within_and_between_steps(server):
    async with http_client(server.url) as c:
        # Within a wait step: the 30 s wait ends with the cancel, not with its time.
        _, ack = await c.ok("present_part", {"hold_s": 30})
        await wait_for_step(c, ack["task_id"], 2)
        await c.ok("cancel_task", {"task_id": ack["task_id"]})
        final = (await c.wait_done(ack["task_id"], timeout=15))[-1]
        assert final["state"] == "cancelled", final
        assert final["message"].startswith("Stopped ") and " at step 2 of 3, " in final["message"], final["message"]

        # Within a move, by stop (any operator's tool).
        _, ack = await c.ok("inspect_slots", {"count": 6})
        assert ack["steps"] == 13
        await wait_for_step(c, ack["task_id"], 4)
        await c.ok("stop")
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled" and final["steps"]["done"] == 3, final
        await anyio.sleep(0.3)
        st = await c.state()
        assert st["moving"] is False and max(abs(v) for v in st["velocities"]) < 0.01


async def test_an_action_with_a_confirmation_rule_waits_for_its_owner(server):
    async with http_client(server.url) as c:
        text, ack = await c.ok("go_to_maintenance")
        assert ack["state"] == "awaiting_confirmation", ack
        assert text.startswith("This moves a joint up to ") and "degrees. Confirm? Task " in text, text
        assert "about about" not in text
        assert (await c.state())["moving"] is False
        await c.ok("confirm_task", {"task_id": ack["task_id"]})
        final = (await c.wait_done(ack["task_id"], timeout=30))[-1]
        assert final["state"] == "succeeded", final


BROKEN = [
    # (what replaces what in the example file, the expected error line)
    ('move_to = "fixture_above"\nspeed', 'move_to = "fixture_abve"\nspeed',
     ':56:11: unknown position "fixture_abve": the robot file builtin:ur5e defines fixture_above, home, maintenance, ready, tray_above'),
    ('dx = "0.04 * slot" }\nspeed = "speed"', 'dx = "4 * slot" }\nspeed = "speed"',
     ':37:43: dx (m) can be 20.0000 (with slot = 5), beyond its limit 10.0000'),
    ('min = 0\nmax = 5', 'min = 0\nmax = "5"',
     ':20:7: invalid type: string "5", expected f64'),
    ('name = "present_part"', 'name = "pick_and_place"',
     ':81:8: action "pick_and_place" is defined twice (first at line 11)'),
    ('wait = "hold_s"', 'wait = "hold_s * hold_s"',
     ':100:16: two parameters multiplied together'),
    ('label = "moving above slot {i}"', 'label = "moving above slot {j}"',
     ':129:28: "{j}" names no parameter (known: count, i)'),
]


@pytest.mark.parametrize("old,new,says", BROKEN, ids=[b[2].split(": ")[1][:28] for b in BROKEN])
def test_broken_action_files_give_file_line_and_column(tmp_path, old, new, says):
    assert ACTIONS.count(old) >= 1, old
    actions = tmp_path / "actions.toml"
    actions.write_text(ACTIONS.replace(old, new, 1))
    config = tmp_path / "config.toml"
    config.write_text(cell_config(actions))
    check = subprocess.run([armature_bin(), "check-config", "--config", str(config)],
                           capture_output=True, text=True, timeout=10)
    assert check.returncode == 1
    assert f"{actions}{says}" in check.stderr, check.stderr
    # The plugin refuses to start with it, with the same message.
    serve = subprocess.run([armature_bin(), "serve", "--http", "127.0.0.1:0", "--config", str(config),
                            "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=10)
    assert serve.returncode == 1 and f"{actions}{says}" in serve.stderr, serve.stderr


async def test_a_fault_or_a_graceful_stop_leaves_the_task_interrupted_and_resumable(make_server, tmp_path):
    state = tmp_path / "state"
    faulty = f"""
robot = "builtin:ur5e"
actions = "{ROOT / 'config' / 'actions.toml'}"
[backend]
kind = "sim"
[sim]
protective_stop_after_s = 3.0
part_width_m = 0.03
"""
    server = make_server(faulty, state_dir=state)
    async with http_client(server.url) as c:
        _, ack = await c.ok("pick_and_place", {"slot": 0})
        task = ack["task_id"]
        final = (await c.wait_done(task, timeout=30))[-1]
        assert final["state"] == "interrupted" and final["error"]["code"] == "robot_fault", final
        k = final["steps"]["done"] + 1
        assert f"Interrupted at step {k} of 10" in final["message"], final["message"]
        assert "Resume it to continue." in final["message"] or k == 1, final["message"]
        # The arm is still in protective stop: resuming is refused, nothing moves.
        err, text, _ = await c.call("resume_task", {"task_id": task})
        assert err and "Not moving: the robot is in protective stop" in text, text
    server.stop()

    # The protective stop cleared (a healthy simulator); resume, then stop the plugin
    # gracefully mid-step: the task stays resumable.
    server = make_server(state_dir=state)
    async with http_client(server.url) as c:
        _, res = await c.ok("resume_task", {"task_id": task})
        assert res["from_step"] == k
        await wait_for_step(c, task, 6)
    server.stop()
    server = make_server(state_dir=state)
    async with http_client(server.url) as c:
        _, rec = await c.ok("task_status", {"task_id": task})
        assert rec["state"] == "interrupted", rec
        assert rec["steps"]["resumed"] == 1
        await c.ok("resume_task", {"task_id": task})
        final = (await c.wait_done(task, timeout=60))[-1]
        assert final["state"] == "succeeded" and final["steps"]["resumed"] == 2, final
    assert vars_list(state)["parts_placed"] == 1


async def test_a_gated_resume_waits_and_a_rejected_one_stays_interrupted(make_server, tmp_path):
    config = cell_config(ROOT / "config" / "actions.toml") + '[confirm.actions]\nresume_task = "always"\n'
    state = tmp_path / "state"
    server = make_server(config, state_dir=state)
    async with http_client(server.url) as c:
        _, ack = await c.ok("present_part", {"hold_s": 10})
        task = ack["task_id"]
        await wait_for_step(c, task, 2)
    server.kill9()
    server = make_server(config, state_dir=state)
    async with http_client(server.url) as c:
        text, res = await c.ok("resume_task", {"task_id": task})
        assert res["state"] == "awaiting_confirmation", res
        assert text.startswith("Resuming at step 2 moves a joint up to"), text
        assert (await c.state())["moving"] is False
        await c.ok("reject_task", {"task_id": task})
        _, rec = await c.ok("task_status", {"task_id": task})
        assert rec["state"] == "interrupted", rec
        assert "stays interrupted at step 2" in rec["message"], rec["message"]

        await c.ok("resume_task", {"task_id": task})
        await c.ok("confirm_task", {"task_id": task})
        final = (await c.wait_done(task, timeout=40))[-1]
        assert final["state"] == "succeeded" and final["steps"]["resumed"] == 2, final

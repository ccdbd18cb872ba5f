"""Custom actions that move in space and drive the I/O (docs/actions.md): move_linear to a
pose built from a parameter, move_relative in the tool frame, the real gripper, set_output
and wait_input, on the simulator through the real binary; a kill -9 in the middle of a
relative step and its resume; a file whose slot 5 enters a keep-out box refused at load."""

import math
import subprocess

import pytest

from conftest import ROOT, armature_bin, http_client
from test_cartesian import position
from test_custom_actions import wait_for_step

pytestmark = pytest.mark.anyio

TRAY_ABOVE = [1.2, -1.3, 1.6, -1.87, -math.pi / 2, 0.0]

# Above the slot (a pose: tray_above's TCP moved 4 cm a slot along x), 10 cm down the
# tool's own axis (it points down), close on the part, and back up.
ACTIONS = """
[[action]]
name = "pick_slot"
description = "Pick the part from tray slot N."
ack = "Picking from slot {slot}"
done = "Holding the part from slot {slot}."

[action.params.slot]
type = "integer"
min = 0
max = 5

[[action.steps]]
label = "moving above the tray"
move_to = "tray_above"

[[action.steps]]
label = "moving above slot {slot}"
move_linear = { from = "tray_above", dx = "0.04 * slot" }

[[action.steps]]
label = "reaching into slot {slot}"
move_relative = { dz = 0.1, frame = "tool" }
speed = 0.1

[[action.steps]]
label = "closing the gripper"
gripper = "close"

[[action.steps]]
label = "lifting the part"
move_relative = { dz = -0.1, frame = "tool" }


[[action]]
name = "wait_for_guard"
description = "Light the lamp, then wait for the guard to be closed."
ack = "Waiting for the guard"
done = "The guard is closed."

[[action.steps]]
set_output = "green_lamp"
value = true

[[action.steps]]
wait_input = "guard_closed"
value = true
timeout = 2
"""

# A clamp where slot 5's bottom would be; slots 0 to 4 stay clear of it.
CLAMP = """
[[cell.keep_out]]
name = "clamp"
min = [0.09, -0.65, 0.20]
max = [0.13, -0.55, 0.28]
"""


def write_config(tmp_path, cell_extra: str = "") -> str:
    (tmp_path / "actions.toml").write_text(ACTIONS)
    pedestal = (ROOT / "config" / "cell-pedestal.toml").read_text()
    (tmp_path / "cell.toml").write_text(pedestal + cell_extra)
    return f"""
robot = "{ROOT / 'robots' / 'ur5e.toml'}"
actions = "{tmp_path / 'actions.toml'}"
cell = "{tmp_path / 'cell.toml'}"
[backend]
kind = "sim"
[sim]
part_width_m = 0.03
"""


def tcp(st):
    return position(st["positions"])


def expected_above(slot):
    above = position(TRAY_ABOVE)
    return [above[0] + 0.04 * slot, above[1], above[2]]


def gap_mm(a, b):
    return 1000 * math.dist(a, b)


async def test_a_pick_with_relative_and_gripper_steps_succeeds_and_holds_the_part(make_server, tmp_path):
    server = make_server(write_config(tmp_path))
    async with http_client(server.url) as c:
        text, ack = await c.ok("pick_slot", {"slot": 3})
        assert ack["steps"] == 5 and text.startswith("Picking from slot 3."), text
        seen = await c.wait_done(ack["task_id"], timeout=60)
        assert seen[-1]["state"] == "succeeded", seen[-1]
        assert seen[-1]["message"].startswith("Holding the part from slot 3."), seen[-1]["message"]
        messages = " | ".join(r["message"] for r in seen)
        assert "Step 3 of 5, reaching into slot 3, " in messages, messages
        st = await c.state()
        assert gap_mm(tcp(st), expected_above(3)) <= 1.0, (tcp(st), expected_above(3))
        assert st["gripper"] == {"width_m": 0.03, "state": "holding"}


async def test_kill_9_in_a_relative_step_then_resume_ends_where_planned(make_server, tmp_path):
    config = write_config(tmp_path)
    state = tmp_path / "state"
    server = make_server(config, state_dir=state)
    async with http_client(server.url) as c:
        _, ack = await c.ok("pick_slot", {"slot": 2})
        task = ack["task_id"]
        await wait_for_step(c, task, 3)
    server.kill9()

    server = make_server(config, state_dir=state)
    async with http_client(server.url) as c:
        _, rec = await c.ok("task_status", {"task_id": task})
        assert rec["state"] == "interrupted" and rec["steps"]["done"] == 2, rec
        assert "at step 3 of 5." in rec["message"], rec["message"]
        _, res = await c.ok("resume_task", {"task_id": task})
        assert res["from_step"] == 3
        seen = await c.wait_done(task, timeout=60)
        assert seen[-1]["state"] == "succeeded", seen[-1]
        # The offset is not added again from where the arm was: it ends above slot 2.
        st = await c.state()
        assert gap_mm(tcp(st), expected_above(2)) <= 1.0, (tcp(st), expected_above(2))
        assert st["gripper"] == {"width_m": 0.03, "state": "holding"}


async def test_wait_input_times_out_with_the_inputs_label(make_server, tmp_path):
    server = make_server(write_config(tmp_path))
    async with http_client(server.url) as c:
        _, ack = await c.ok("wait_for_guard")
        final = (await c.wait_done(ack["task_id"], timeout=20))[-1]
        assert final["state"] == "failed" and final["error"]["code"] == "input_timeout", final
        # Said in one breath; the whole reason is in the record's error.
        assert final["message"].startswith("Failed at step 2 of 2"), final["message"]
        assert "the guard closed did not turn on within about 2 seconds" in final["error"]["message"], final["error"]
        st = await c.state()
        assert {o["name"]: o["value"] for o in st["outputs"]}["green_lamp"] is True


def test_a_slot_that_enters_a_keep_out_box_is_refused_at_load(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(write_config(tmp_path, CLAMP))
    check = subprocess.run([armature_bin(), "check-config", "--config", str(config)],
                           capture_output=True, text=True, timeout=20)
    assert check.returncode == 1, check.stdout
    says = (f'{tmp_path / "actions.toml"}:23:17: action "pick_slot", step 3 (reaching into slot 5) '
            "with slot = 5: That would take the tool ")
    assert says in check.stderr, check.stderr
    assert "into the clamp, " in check.stderr and " percent along." in check.stderr, check.stderr

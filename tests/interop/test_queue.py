"""A queue of motions through the real binary: "then slot four, then go home" without waiting,
and stop empties it."""

import random
import subprocess

import anyio
import pytest

from conftest import armature_bin, http_client

pytestmark = pytest.mark.anyio

A = [0.4, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]
B = [-0.4, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]
HOME = [0.0, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]

SMALL_QUEUE = """
robot = "builtin:ur5e"
[backend]
kind = "sim"
[tasks]
queue_limit = 2
"""


async def test_three_queued_moves_run_in_order_and_say_what_comes_next(server):
    async with http_client(server.url) as c:
        text1, first = await c.ok("move_joints", {"joints": A, "when": "after"})
        assert first["state"] == "running"  # the arm was free: it starts at once
        text2, second = await c.ok("move_joints", {"joints": B, "when": "after"})
        assert second["state"] == "queued" and second["place"] == 2, second
        assert text2.startswith("Moving the arm, second in line, starts in"), text2
        text3, third = await c.ok("home", {"when": "after"})
        assert third["state"] == "queued" and third["place"] == 3
        assert text3.startswith("Moving to home, third in line"), text3

        st = await c.state()
        assert [q["task_id"] for q in st["queue"]] == [second["task_id"], third["task_id"]]
        _, listed = await c.ok("list_tasks", {"limit": 3})
        assert [t["state"] for t in listed["tasks"]] == ["queued", "queued", "running"]

        recs = [(await c.wait_done(t["task_id"]))[-1] for t in (first, second, third)]
        assert [r["state"] for r in recs] == ["succeeded"] * 3
        for before, after in zip(recs, recs[1:]):
            assert after["started_at"] >= before["finished_at"], (before, after)
        assert "Next: moving the arm" in recs[0]["message"], recs[0]["message"]
        assert "Next: moving to home" in recs[1]["message"], recs[1]["message"]
        assert max(abs(a - b) for a, b in zip((await c.state())["positions"], HOME)) < 0.002


async def test_stop_during_the_first_drops_the_rest_and_the_arm_stands_still(server):
    async with http_client(server.url) as c:
        _, first = await c.ok("move_joints", {"joints": A, "when": "after"})
        _, second = await c.ok("move_joints", {"joints": B, "when": "after"})
        _, third = await c.ok("home", {"when": "after"})
        text, out = await c.ok("stop")
        assert out["task_id"] == first["task_id"]
        assert out["queue_dropped"] == [second["task_id"], third["task_id"]]
        assert text == f"Stopping the arm. Task {first['task_number']} will end cancelled. The 2 queued tasks were dropped."
        for t in (second, third):
            _, rec = await c.ok("task_status", {"task_id": t["task_id"]})
            assert rec["state"] == "cancelled" and rec["error"]["code"] == "stopped", rec
            assert "started_at" not in rec
        await c.wait_done(first["task_id"])
        at = (await c.state())["positions"]
        await anyio.sleep(2.0)
        st = await c.state()
        assert st["moving"] is False and st["queue"] == []
        assert max(abs(a - b) for a, b in zip(st["positions"], at)) < 1e-4


async def test_a_fault_drops_the_rest_of_the_line(make_server):
    server = make_server('robot = "builtin:ur5e"\n[backend]\nkind = "sim"\n[sim]\nprotective_stop_after_s = 1.5\n')
    async with http_client(server.url) as c:
        await anyio.sleep(1.0)
        _, first = await c.ok("move_joints", {"joints": A, "when": "after"})
        _, second = await c.ok("move_joints", {"joints": B, "when": "after"})
        final = (await c.wait_done(first["task_id"]))[-1]
        assert final["state"] == "failed", final
        _, rec = await c.ok("task_status", {"task_id": second["task_id"]})
        assert rec["state"] == "cancelled" and rec["error"]["code"] == "predecessor_failed", rec
        assert "the arm did not move" in rec["message"]


async def test_a_full_queue_refuses_with_its_limit(make_server):
    server = make_server(SMALL_QUEUE)
    async with http_client(server.url) as c:
        await c.ok("move_joints", {"joints": A, "when": "after"})
        await c.ok("move_joints", {"joints": B, "when": "after"})
        await c.ok("home", {"when": "after"})
        err, text, sc = await c.call("move_joints", {"joints": A, "when": "after"})
        assert err and sc["error"]["code"] == "queue_full"
        assert text == "The queue is full with 2 motions waiting. Wait for one to start, or stop."
        err, text, sc = await c.call("move_joints", {"joints": A})
        assert err and sc["error"]["code"] == "busy", text
        err, text, sc = await c.call("move_joints", {"joints": A, "when": "later"})
        assert err and sc["error"]["code"] == "invalid_value" and "When must be now or after, not the text later." in text
        await c.ok("stop")


async def test_cancel_removes_one_queued_task_and_not_anothers(make_server, monkeypatch):
    monkeypatch.setenv("ARMATURE_TOKEN_ALICE", "arm_alice_for_the_queue_test")
    monkeypatch.setenv("ARMATURE_TOKEN_BOB", "arm_bob_for_the_queue_test")
    server = make_server("\n".join([
        'robot = "builtin:ur5e"', "[backend]", 'kind = "sim"', "",
        "[[operators]]", 'name = "alice"', 'token_env = "ARMATURE_TOKEN_ALICE"', "",
        "[[operators]]", 'name = "bob"', 'token_env = "ARMATURE_TOKEN_BOB"', "",
    ]))
    async with http_client(server.url, "arm_alice_for_the_queue_test") as alice, \
            http_client(server.url, "arm_bob_for_the_queue_test") as bob:
        _, first = await alice.ok("move_joints", {"joints": A, "when": "after"})
        _, mine = await alice.ok("move_joints", {"joints": B, "when": "after"})
        _, last = await alice.ok("home", {"when": "after"})
        err, text, sc = await bob.call("cancel_task", {"task_id": mine["task_id"]})
        # Another operator's task answers exactly as an unknown one (no existence oracle).
        assert err and sc["error"]["code"] == "unknown_task", text
        text, out = await alice.ok("cancel_task", {"task_id": mine["task_id"]})
        assert out["stopping"] is False and out["state"] == "cancelled", out
        _, rec = await alice.ok("task_status", {"task_id": mine["task_id"]})
        assert rec["error"]["code"] == "cancelled" and "started_at" not in rec
        # The rest of the line goes on without it.
        recs = [(await alice.wait_done(t["task_id"]))[-1] for t in (first, last)]
        assert [r["state"] for r in recs] == ["succeeded", "succeeded"]
        assert recs[1]["started_at"] >= recs[0]["finished_at"]


async def test_queued_tasks_read_interrupted_after_kill_9_and_nothing_moves(make_server):
    first = make_server()
    async with http_client(first.url) as c:
        _, running = await c.ok("move_joints", {"joints": A, "when": "after"})
        _, q1 = await c.ok("move_joints", {"joints": B, "when": "after"})
        _, q2 = await c.ok("home", {"when": "after"})
        first.kill9()
    second = make_server(state_dir=first.state_dir)
    async with http_client(second.url) as c:
        for t in (q1, q2):
            _, rec = await c.ok("task_status", {"task_id": t["task_id"]})
            assert rec["state"] == "interrupted" and rec["error"]["code"] == "restarted_while_queued", rec
        await anyio.sleep(1.0)
        st = await c.state()
        assert st["moving"] is False and st["queue"] == [] and st["task_id"] is None
        assert max(abs(v) for v in st["velocities"]) == 0


async def test_queueing_races_stop_and_no_queued_task_starts_after_stop_answered(server):
    """200 rounds: a move, then a queued move and a stop from two clients at once. A task
    that stop's answer dropped must never start."""
    violations, dropped_count = [], 0
    rng = random.Random(7)
    async with http_client(server.url) as c1, http_client(server.url) as c2:
        for round_ in range(200):
            _, first = await c1.ok("move_joints", {"joints": A if round_ % 2 else B})
            results = {}

            async def queue():
                await anyio.sleep(rng.random() * 0.005)
                results["queued"] = await c1.call("move_joints", {"joints": HOME, "when": "after"})

            async def stop():
                await anyio.sleep(rng.random() * 0.005)
                results["stop"] = await c2.call("stop")

            async with anyio.create_task_group() as tg:
                tg.start_soon(queue)
                tg.start_soon(stop)
            err, _, queued = results["queued"]
            _, _, stopped = results["stop"]
            assert not err
            covered = queued["task_id"] in stopped["queue_dropped"]
            dropped_count += covered
            await c1.wait_done(first["task_id"])
            if not covered:
                await c2.ok("stop")  # queued after the stop: a new request, may run; end it
            rec = (await c1.wait_done(queued["task_id"]))[-1]
            if covered and ("started_at" in rec or rec["state"] != "cancelled"):
                violations.append((round_, rec["state"], rec["message"]))
    print(f"[queue race] 200 rounds, {dropped_count} queued before stop and dropped, {len(violations)} violations")
    assert not violations, violations[:5]

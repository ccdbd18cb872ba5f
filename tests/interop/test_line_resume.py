"""A straight line killed with `kill -9` mid-way, through the real binary on the built-in
simulator: after the restart it is interrupted, never re-applied from where the arm is, and
resume_task continues it along the same journaled line only while the tool is on it."""

import math

import anyio
import pytest

from conftest import at_ready, http_client, xyz

pytestmark = pytest.mark.anyio

HOME = [0.0, -math.pi / 2, 0.0, -math.pi / 2, 0.0, 0.0]


async def test_a_line_killed_mid_way_continues_along_the_same_line(make_server):
    first = make_server()
    async with http_client(first.url) as c:
        before = (await at_ready(c))["tcp_pose"]
        _, ack = await c.ok("move_relative", {"dz": 0.2, "speed": 0.2})
        await anyio.sleep(1.5)
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "running" and rec["progress"] > 0
        first.kill9()

    end = [before["x"], before["y"], before["z"] + 0.2]
    second = make_server(state_dir=first.state_dir)
    async with http_client(second.url) as c:
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "interrupted", rec
        assert "will not move again by itself" in rec["message"]
        assert "Resume it to go on along the same line." in rec["message"]
        # The record kept the planned line: its start (where the tool stood when it was
        # planned, a settled arm's micrometres from the state read before) and its end,
        # 20 centimetres up.
        assert math.dist(xyz(rec["line"]["start"]), xyz(before)) < 1e-4
        assert math.dist(xyz(rec["line"]["end"]), xyz(rec["line"]["start"])) == pytest.approx(0.2, abs=1e-6)
        assert math.dist(xyz(rec["line"]["end"]), end) < 1e-4

        # The simulated arm restarts at home, off the line: refused, nothing moves, and
        # the task stays interrupted.
        err, text, sc = await c.call("resume_task", {"task_id": ack["task_id"]})
        assert err and sc["error"]["code"] == "off_the_line", (text, sc)
        assert text.startswith(f"Task {ack['task_number']} stays interrupted: the tool is "), text
        assert "off its straight line" in text and "Nothing moved." in text
        st = await c.state()
        assert st["moving"] is False and max(abs(p - h) for p, h in zip(st["positions"], HOME)) < 1e-9
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "interrupted"

        # The tool back on the line, 30 % of the way up: the line goes on from there to its
        # own end, not 20 centimetres further.
        on_line = {k: before[k] for k in ("x", "y", "rx", "ry", "rz")} | {"z": before["z"] + 0.06}
        _, back = await c.ok("move_pose", on_line)
        assert (await c.wait_done(back["task_id"], timeout=30))[-1]["state"] == "succeeded"
        text, res = await c.ok("resume_task", {"task_id": ack["task_id"]})
        assert res["state"] == "running" and res["task_id"] == ack["task_id"]
        assert text.startswith(f"Continuing task {ack['task_number']} along its straight line"), text
        assert "14 centimetres to go" in text, text
        final = (await c.wait_done(ack["task_id"], timeout=30))[-1]
        assert final["state"] == "succeeded", final
        after = (await c.state())["tcp_pose"]
        assert math.dist(xyz(after), end) < 0.0005, (xyz(after), end)
        # Once done, it is not interrupted any more: a second resume is refused.
        err, text, sc = await c.call("resume_task", {"task_id": ack["task_id"]})
        assert err and sc["error"]["code"] == "not_interrupted", text

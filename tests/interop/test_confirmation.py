"""The confirmation gate: a gated move does not start until its owner confirms it, and is
dropped on reject, on stop, or when it expires."""

import anyio
import pytest

from conftest import distance, http_client

pytestmark = pytest.mark.anyio

HOME = [0.0, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]
SMALL = [0.2, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]
BIG = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]

CONFIG = """
robot = "builtin:ur5e"
[backend]
kind = "sim"
[confirm]
beyond_rad = 0.5
expire_s = 2.0
[confirm.actions]
move_joints = "beyond"
home = "always"
"""


async def still(c, at):
    """The arm has stayed where it was (within a micro-radian) and is not moving."""
    await anyio.sleep(0.5)
    st = await c.state()
    assert st["moving"] is False
    assert max(abs(v) for v in st["velocities"]) < 1e-6 and distance(st["positions"], at) < 1e-6, st


async def test_a_gated_move_waits_for_its_confirmation(make_server):
    server = make_server(CONFIG)
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": SMALL})
        assert ack["state"] == "running"  # 0.2 rad: below the threshold
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"

        text, ack = await c.ok("move_joints", {"joints": BIG})
        assert ack["state"] == "awaiting_confirmation"
        assert text.startswith("This turns the shoulder pan 103 degrees. Confirm?"), text
        await still(c, SMALL)
        err, busy, _ = await c.call("move_joints", {"joints": SMALL})
        assert err and "busy with task" in busy

        text, out = await c.ok("confirm_task", {"task_id": ack["task_id"]})
        assert out["state"] == "running" and text == f"Confirmed. Task {ack['task_number']} is moving."
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "succeeded"
        assert distance((await c.state())["positions"], BIG) < 0.002
        err, text, sc = await c.call("confirm_task", {"task_id": ack["task_id"]})
        assert err and sc["error"]["code"] == "not_awaiting_confirmation"
        assert text == f"Task {ack['task_number']} is succeeded; there is nothing to confirm."


async def test_reject_stop_and_expiry_drop_it_without_motion(make_server):
    server = make_server(CONFIG)
    async with http_client(server.url) as c:
        _, ack = await c.ok("home")  # home is always gated
        assert ack["state"] == "awaiting_confirmation"
        text, out = await c.ok("reject_task", {"task_id": ack["task_id"]})
        assert out["state"] == "cancelled" and "the arm did not move" in text
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "cancelled" and rec["error"]["code"] == "rejected"
        await still(c, HOME)

        _, ack = await c.ok("move_joints", {"joints": BIG})
        _, out = await c.ok("stop")
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "cancelled" and rec["error"]["code"] == "stopped"

        _, ack = await c.ok("move_joints", {"joints": BIG})
        await anyio.sleep(2.5)
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "cancelled" and rec["error"]["code"] == "confirmation_expired", rec
        err, text, sc = await c.call("confirm_task", {"task_id": ack["task_id"]})
        assert err and sc["error"]["code"] == "not_awaiting_confirmation"
        await still(c, HOME)
        # The expiry is in the audit trail.
        import json
        audit = [json.loads(l) for l in (server.state_dir / "audit.log").read_text().splitlines()]
        assert any(a["tool"] == "task_ended" and a["outcome"] == "expired" and a["task_id"] == ack["task_id"] for a in audit)
        # The arm is free again.
        _, ack = await c.ok("move_joints", {"joints": SMALL})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"

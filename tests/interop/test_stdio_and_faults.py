"""The same tools over stdio, and faults injected into the simulator surfacing in task status."""

import anyio
import pytest

from conftest import distance, http_client, stdio_client_for, vars_list

pytestmark = pytest.mark.anyio

TARGET = [0.6, -1.2, 0.5, -1.8, 0.3, 0.2]
FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]

FAULT_CONFIG = """
robot = "builtin:ur5e"
[backend]
kind = "sim"
[sim]
{fault}
"""


async def test_stdio_move_status_and_stop(tmp_path):
    async with stdio_client_for(tmp_path / "state") as c:
        names = {t.name for t in (await c.session.list_tools()).tools}
        assert {"move_joints", "task_status", "stop"} <= names
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert ack["state"] == "running"
        assert distance((await c.state())["positions"], TARGET) > 0.3
        seen = await c.wait_done(ack["task_id"])
        assert [r["progress"] for r in seen] == sorted(r["progress"] for r in seen)
        assert seen[-1]["state"] == "succeeded" and seen[-1]["owner"] == "local"
        assert distance((await c.state())["positions"], TARGET) < 0.002

        _, ack = await c.ok("move_joints", {"joints": FAR})
        await anyio.sleep(0.8)
        await c.ok("stop")
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "cancelled"
        assert max(abs(v) for v in (await c.state())["velocities"]) < 0.01
        err, text, _ = await c.call("move_joints", {"joints": [0.0, 0.0, 9.0, 0.0, 0.0, 0.0]})
        assert err and "The elbow stops at 180 degrees, not 516." in text
    assert vars_list(tmp_path / "state")["task_state"] == "cancelled"


@pytest.mark.parametrize(
    "fault,code,spoken",
    [
        ("protective_stop_after_s = 2.0", "robot_fault", "the robot is in protective stop"),
        ("freeze_state_after_s = 2.0", "stale_state", "no fresh robot state"),
        ("stall_joint = 1\nstall_after_s = 2.0", "following_error", "joint 1 is"),
    ],
    ids=["protective-stop", "stale-state", "stalled-joint"],
)
async def test_an_injected_fault_fails_the_task_with_its_cause(make_server, fault, code, spoken):
    server = make_server(FAULT_CONFIG.format(fault=fault))
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR})
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "failed", final
        assert final["error"]["code"] == code
        assert spoken in final["error"]["message"], final["error"]
        assert 0 < final["progress"] < 100
        await anyio.sleep(0.3)
        if code == "robot_fault":
            err, text, sc = await c.call("home")
            assert err and sc["error"]["code"] == "robot_fault" and "protective stop" in text
        elif code == "stale_state":
            err, text, sc = await c.call("home")
            assert err and sc["error"]["code"] == "stale_state" and "more than the 50 allowed" in text, text
            assert (await c.state())["connected"] is False


async def test_without_realtime_permission_it_warns_once_and_still_moves(make_server):
    import shutil

    for tool, package in (("setpriv", "util-linux"), ("prlimit", "util-linux")):
        assert shutil.which(tool), f"this test needs {tool}: apt-get install {package}"
    # Drop CAP_SYS_NICE and set RLIMIT_RTPRIO to 0: SCHED_FIFO is then refused by the kernel.
    server = make_server(wrapper=["setpriv", "--bounding-set", "-sys_nice", "--inh-caps", "-sys_nice",
                                  "prlimit", "--rtprio=0"])
    warnings = [l for l in server.log if "SCHED_FIFO priority 80 not permitted" in l]
    assert len(warnings) == 1, server.log
    assert "Operation not permitted" in warnings[0]
    async with http_client(server.url) as c:
        text, st = await c.ok("robot_state")
        assert st["realtime"]["policy"] == "SCHED_OTHER" and st["realtime"]["realtime"] is False
        assert "CAP_SYS_NICE" in st["realtime"]["note"]
        # The scheduling is for the screen, not read aloud.
        assert "SCHED" not in text and text.startswith("The UR5e is "), text
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"

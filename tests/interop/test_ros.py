"""The plugin driving `armsim-ros` through a real ROS master (Debian's ros-core), through MCP."""

import time

import anyio
import pytest

from conftest import RosCore, RosSim, distance, free_port, http_client, ros_config

pytestmark = pytest.mark.anyio

TARGET = [0.6, -1.2, 0.5, -1.8, 0.3, 0.2]
FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]


@pytest.fixture
def ros():
    started = []

    def make(*flags, master=None):
        master = master or RosCore().start()
        started.append(master)
        sim = RosSim(master, *flags).start()
        started.append(sim)
        return master, sim

    yield make
    for p in reversed(started):
        p.stop()


async def wait_up(c, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, st = await c.ok("robot_state")
        if st["link"]["up"] and st["connected"]:
            return st
        await anyio.sleep(0.1)
    raise AssertionError(f"never connected: {st['link']}")


async def test_moves_and_stop_through_follow_joint_trajectory(ros, make_server):
    master, sim = ros()
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        st = await wait_up(c)
        assert st["backend"] == "ros"
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        seen = await c.wait_done(ack["task_id"])
        assert seen[-1]["state"] == "succeeded", seen[-1]
        progress = [r["progress"] for r in seen]
        assert progress == sorted(progress) and any(0 < p < 100 for p in progress)
        assert distance((await c.state())["positions"], TARGET) <= 0.002
        assert any("goal armature-" in l for l in sim.log)

        _, ack = await c.ok("move_joints", {"joints": FAR})
        await anyio.sleep(1.0)
        await c.ok("stop")
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled" and 0 < final["progress"] < 100
        assert any("cancel received" in l for l in sim.log), sim.log
        await anyio.sleep(0.3)
        assert max(abs(v) for v in (await c.state())["velocities"]) < 0.01


async def test_a_rejected_goal_fails_with_the_controllers_reason(ros, make_server):
    master, sim = ros("--reject-goals")
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_up(c)
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "failed" and final["error"]["code"] == "trajectory_failed"
        assert "INVALID_GOAL (-1): goal rejected" in final["error"]["message"], final["error"]
        _, st = await c.ok("robot_state")
        assert st["moving"] is False


FAULTS = [
    (["--abort-after", "1"], "trajectory_failed", "PATH_TOLERANCE_VIOLATED (-4)"),
    (["--stop-joint-states-after", "3", "--stop-joint-states-for", "1.5"], "stale_state", "no fresh robot state"),
]


@pytest.mark.parametrize("flags,code,spoken", FAULTS, ids=["abort-mid-way", "stale-joint-states"])
async def test_a_fault_mid_motion_fails_the_task_and_the_next_move_works(ros, make_server, flags, code, spoken):
    master, sim = ros(*flags)
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_up(c)
        _, ack = await c.ok("move_joints", {"joints": FAR})
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "failed", final
        assert final["error"]["code"] == code
        assert spoken in final["error"]["message"], final["error"]
        assert 0 < final["progress"] < 100
        await anyio.sleep(2.0)
        await wait_up(c)
        if code == "stale_state":
            _, ack = await c.ok("move_joints", {"joints": TARGET})
            assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"


async def test_a_master_that_is_down_then_comes_up(make_server, ros):
    port = free_port()
    server = make_server(ros_config(f"http://127.0.0.1:{port}"))
    async with http_client(server.url) as c:
        await anyio.sleep(0.5)
        text, st = await c.ok("robot_state")
        assert st["link"]["up"] is False and st["link"]["cause"] == "the ROS master does not answer"
        err, text, sc = await c.call("home")
        assert err and sc["error"]["code"] == "robot_unreachable" and "ROS master" in text
        ros(master=RosCore(port).start())
        await wait_up(c, timeout=40)
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"


def test_a_peer_ros_client_sees_the_simulator(ros):
    import os
    import shutil
    import subprocess

    assert shutil.which("rostopic"), "this test needs rostopic: apt-get install python3-rostopic python3-sensor-msgs"
    master, _ = ros()
    env = dict(os.environ, ROS_MASTER_URI=master.uri, ROS_HOSTNAME="127.0.0.1")
    out = subprocess.run(["rostopic", "echo", "-n", "1", "/joint_states"], capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    assert "shoulder_pan_joint" in out.stdout and "wrist_3_joint" in out.stdout, out.stdout
    assert "-1.5707963267948966" in out.stdout, out.stdout  # home: shoulder lift at -π/2


async def test_robot_state_reports_the_age_of_joint_states(ros, make_server):
    master, _ = ros()
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_up(c)
        await anyio.sleep(2.2)
        _, st = await c.ok("robot_state")
        rt = st["realtime"]
        assert rt["states_seen"] > 100
        assert 0 < rt["state_age_p50_us"] <= rt["state_age_p99_us"] < 250_000

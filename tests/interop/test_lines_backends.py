"""Straight lines on the backends that run their own trajectories, through the real binary:
on ROS a line is one FollowJointTrajectory goal of many points (armsim-ros logs each goal
with its point count); on Modbus it is the companion's movel (armsim-modbus logs each move
it runs). Each ends where the line ends, and a stop mid-line ends the task cancelled."""

import math

import anyio
import pytest

from conftest import ModbusSim, at_ready, http_client, modbus_config, robot_tcp, ros_config, wait_connected, xyz
from test_cartesian import follow, off_line

pytestmark = pytest.mark.anyio

def goals(log):
    """The point counts of the trajectory goals armsim-ros received, in order."""
    return [int(l.split(" with ")[1].split()[0]) for l in log if "armsim-ros: goal " in l and " points" in l]


async def test_ros_a_line_is_one_goal_and_ends_ten_centimetres_higher(ros_sims, make_server):
    master, sim = ros_sims()
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_connected(c)
        before = (await at_ready(c))["tcp_pose"]
        sent = len(goals(sim.log))
        text, ack = await c.ok("move_relative", {"dz": 0.1})
        assert text.startswith("Moving 10 centimetres up, "), text
        goal = [before["x"], before["y"], before["z"] + 0.1]
        # The TCP, sampled through robot_state all the way: on the line, not a joint move's arc.
        worst, _ = await follow(c, ack["task_id"], xyz(before), goal)
        assert worst < 0.001, f"the TCP left the line by {worst * 1000:.2f} mm"
        final = (await c.wait_done(ack["task_id"], timeout=30))[-1]
        assert final["state"] == "succeeded", final
        after = (await c.state())["tcp_pose"]
        assert math.dist(xyz(after), goal) < 0.001, (xyz(after), goal)
        line = goals(sim.log)[sent:]
        assert len(line) == 1 and line[0] > 2, f"armsim-ros saw goals of {line} points"


async def test_ros_a_stop_mid_line_cancels_the_goal(ros_sims, make_server):
    master, sim = ros_sims()
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_connected(c)
        before = (await at_ready(c))["tcp_pose"]
        sent = len(goals(sim.log))
        _, ack = await c.ok("move_relative", {"dz": -0.2, "speed": 0.1})
        deadline = anyio.current_time() + 10
        while len(goals(sim.log)) == sent and anyio.current_time() < deadline:
            await anyio.sleep(0.02)
        await anyio.sleep(0.5)
        await c.ok("stop")
        final = (await c.wait_done(ack["task_id"], timeout=30))[-1]
        assert final["state"] == "cancelled", final
        assert any("cancel received" in l for l in sim.log), sim.log
        after = (await c.state())["tcp_pose"]
        # Stopped part of the way down: below the start, above the line's end.
        assert before["z"] - 0.2 < after["z"] < before["z"] - 0.001, (before, after)


@pytest.fixture
def modbus_sim():
    sim = ModbusSim().start()
    yield sim
    sim.stop()


def moves(log, kind):
    return [l for l in log if f"armsim-modbus: {kind} sequence" in l]


async def test_modbus_move_linear_is_one_movel_and_lands_within_a_millimetre(modbus_sim, make_server):
    server = make_server(modbus_config(modbus_sim.port))
    async with http_client(server.url) as c:
        await wait_connected(c)
        before = (await at_ready(c))["tcp_pose"]
        joint_moves = len(moves(modbus_sim.log, "movej"))
        target = {k: before[k] for k in ("rx", "ry", "rz")}
        target |= {"x": before["x"] + 0.05, "y": before["y"] - 0.05, "z": before["z"] + 0.05}
        _, ack = await c.ok("move_linear", target)
        # The robot's own TCP registers, sampled while it moves: on the line.
        worst = 0.0
        while (await c.ok("task_status", {"task_id": ack["task_id"]}))[1]["state"] == "running":
            worst = max(worst, off_line(robot_tcp(modbus_sim.port), xyz(before), xyz(target)))
            await anyio.sleep(0.02)
        assert worst < 0.001, f"the TCP left the line by {worst * 1000:.2f} mm"
        final = (await c.wait_done(ack["task_id"], timeout=30))[-1]
        assert final["state"] == "succeeded" and final["progress"] == 100, final
        # Where the robot's own TCP registers say the tool is, and where robot_state says
        # (from the joints read back, whose registers hold whole milliradians).
        assert math.dist(robot_tcp(modbus_sim.port), xyz(target)) < 0.001
        after = (await c.state())["tcp_pose"]
        assert math.dist(xyz(after), xyz(target)) < 0.001, (xyz(after), xyz(target))
        # The robot ran a movel, and no joint move.
        assert len(moves(modbus_sim.log, "movel")) == 1, modbus_sim.log
        assert len(moves(modbus_sim.log, "movej")) == joint_moves, modbus_sim.log


async def test_modbus_a_stop_mid_line_ends_cancelled_where_the_arm_really_is(modbus_sim, make_server):
    server = make_server(modbus_config(modbus_sim.port))
    async with http_client(server.url) as c:
        await wait_connected(c)
        before = (await at_ready(c))["tcp_pose"]
        _, ack = await c.ok("move_relative", {"dz": -0.2, "speed": 0.1})
        deadline = anyio.current_time() + 10
        while not moves(modbus_sim.log, "movel") and anyio.current_time() < deadline:
            await anyio.sleep(0.02)
        await anyio.sleep(1.0)
        await c.ok("stop")
        final = (await c.wait_done(ack["task_id"], timeout=30))[-1]
        assert final["state"] == "cancelled", final
        after = robot_tcp(modbus_sim.port)
        travelled = before["z"] - after[2]
        assert 0.001 < travelled < 0.2, (before, after)
        # Still on the line, and the record's progress is how far the arm really went.
        assert math.dist(after[:2], xyz(before)[:2]) < 0.001
        assert abs(final["progress"] - travelled / 0.2 * 100) < 3, (final["progress"], travelled)

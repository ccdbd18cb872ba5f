"""Cartesian moves through the real binary: move_relative, move_linear and move_pose on the
simulator, checked against a cell with a table and a keep-out box (docs/motion.md)."""

import math

import anyio
import pytest

from conftest import READY, at_ready, distance, http_client, xyz

pytestmark = pytest.mark.anyio

# The arm stands on the table (z = 0); a fixture to its side, clear of `ready`.
CELL = """
[cell]
name = "bench"

[[cell.planes]]
name = "table"
z = 0.0

[cell.workspace]
min = [-1.0, -1.0, -0.05]
max = [1.0, 1.0, 1.2]

[[cell.keep_out]]
name = "fixture"
min = [-0.60, 0.05, 0.0]
max = [-0.40, 0.25, 0.45]
"""

CONFIG = """
robot = "builtin:ur5e"
cell = "cell.toml"

[backend]
kind = "sim"

[motion]
max_speed = 1.0
"""

# The UR5e's standard DH parameters (UR's published figures), for the test's own forward
# kinematics: the TCP between robot_state samples, and its speed.
DH_D = [0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996]
DH_A = [0.0, -0.425, -0.3922, 0.0, 0.0, 0.0]
DH_ALPHA = [math.pi / 2, 0.0, 0.0, math.pi / 2, -math.pi / 2, 0.0]


def fk(q):
    """The TCP's 4x4 transform at joints `q`."""
    t = [[1.0 if i == j else 0.0 for j in range(4)] for i in range(4)]
    for i in range(6):
        ct, st = math.cos(q[i]), math.sin(q[i])
        ca, sa = math.cos(DH_ALPHA[i]), math.sin(DH_ALPHA[i])
        a = [[ct, -st * ca, st * sa, DH_A[i] * ct], [st, ct * ca, -ct * sa, DH_A[i] * st],
             [0.0, sa, ca, DH_D[i]], [0.0, 0.0, 0.0, 1.0]]
        t = [[sum(t[r][k] * a[k][c] for k in range(4)) for c in range(4)] for r in range(4)]
    return t


def position(q):
    t = fk(q)
    return [t[0][3], t[1][3], t[2][3]]


def rotation(pose):
    """The rotation matrix of a pose's rotation vector (Rodrigues)."""
    r = [pose["rx"], pose["ry"], pose["rz"]]
    th = math.sqrt(sum(v * v for v in r))
    if th < 1e-12:
        return [[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]]
    x, y, z = (v / th for v in r)
    c, s, v = math.cos(th), math.sin(th), 1 - math.cos(th)
    return [[c + x * x * v, x * y * v - z * s, x * z * v + y * s],
            [y * x * v + z * s, c + y * y * v, y * z * v - x * s],
            [z * x * v - y * s, z * y * v + x * s, c + z * z * v]]


def angle_between(p, q):
    """Degrees between two poses' orientations."""
    a, b = rotation(p), rotation(q)
    trace = sum(a[k][i] * b[k][i] for i in range(3) for k in range(3))
    return math.degrees(math.acos(max(-1.0, min(1.0, (trace - 1) / 2))))


def off_line(p, a, b):
    """How far point p is from the segment a-b (m)."""
    ab = [b[i] - a[i] for i in range(3)]
    n = sum(v * v for v in ab)
    s = 0.0 if n == 0 else max(0.0, min(1.0, sum((p[i] - a[i]) * ab[i] for i in range(3)) / n))
    return math.dist(p, [a[i] + s * ab[i] for i in range(3)])


@pytest.fixture
def cell_server(tmp_path, make_server):
    (tmp_path / "cell.toml").write_text(CELL)
    return make_server(CONFIG)


async def follow(c, task_id, a, b):
    """Samples robot_state until the task ends: the largest distance of the TCP from the
    line a-b and the highest TCP speed seen (from the joints' velocities)."""
    worst, fastest = 0.0, 0.0
    while True:
        st = await c.state()
        q, v = st["positions"], st["velocities"]
        p = position(q)
        worst = max(worst, off_line(p, a, b))
        dt = 1e-4
        ahead = position([q[i] + v[i] * dt for i in range(6)])
        fastest = max(fastest, math.dist(p, ahead) / dt)
        if st["task_id"] != task_id:
            return worst, fastest
        await anyio.sleep(0.01)


async def test_ten_centimetres_up_on_the_line_under_the_cap(cell_server):
    async with http_client(cell_server.url) as c:
        before = (await at_ready(c))["tcp_pose"]
        text, ack = await c.ok("move_relative", {"dz": 0.1, "speed": 1.0})
        assert text.startswith("Moving 10 centimetres up, "), text
        assert f"Task {ack['task_number']}." in text
        assert ack["state"] == "running"
        assert abs(ack["path_length_m"] - 0.1) < 1e-9
        assert ack["peak_tcp_speed_m_s"] <= 0.25 + 1e-9
        assert ack["min_clearance_m"] > 0.1 and ack["nearest_zone"] in ("table", "fixture")
        assert ack["min_manipulability"] > 0.005
        goal = [before["x"], before["y"], before["z"] + 0.1]
        worst, fastest = await follow(c, ack["task_id"], xyz(before), goal)
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        st = await c.state()
        after = st["tcp_pose"]
        assert abs(after["z"] - before["z"] - 0.1) < 0.0005
        assert math.dist(xyz(after), goal) < 0.0005
        assert angle_between(before, after) < 0.1
        assert worst < 0.001, f"the TCP left the line by {worst * 1000:.2f} mm"
        assert fastest <= 0.25 * 1.02, f"the TCP went {fastest:.3f} m/s, over the 0.25 m/s cap"
        assert st["tcp_rpy"]["z"] == after["z"]


async def test_a_tool_frame_move_goes_along_the_tools_own_axis(cell_server):
    async with http_client(cell_server.url) as c:
        before = (await at_ready(c))["tcp_pose"]
        # At `ready` the tool points down: its own z is the base's minus z.
        axis = [rotation(before)[i][2] for i in range(3)]
        assert axis[2] < -0.99
        text, ack = await c.ok("move_relative", {"dz": 0.05, "frame": "tool"})
        assert text.startswith("Moving 5 centimetres along the tool's plus z"), text
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        after = (await c.state())["tcp_pose"]
        expected = [before[k] + 0.05 * axis[i] for i, k in enumerate("xyz")]
        assert math.dist(xyz(after), expected) < 0.0005
        assert angle_between(before, after) < 0.1


async def test_move_linear_and_move_pose_reach_the_pose(cell_server):
    async with http_client(cell_server.url) as c:
        before = (await at_ready(c))["tcp_pose"]
        target = {"x": before["x"] + 0.05, "y": before["y"] - 0.05, "z": before["z"],
                  "roll": 180.0, "pitch": 0.0, "yaw": 90.0}
        _, ack = await c.ok("move_linear", {**target, "speed": 1.0})
        assert abs(ack["target_rpy"]["yaw"] - 90.0) < 1e-6
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        st = await c.state()
        assert math.dist(xyz(st["tcp_pose"]), xyz(target)) < 0.0005
        assert abs(st["tcp_rpy"]["yaw"] - 90.0) < 0.1
        back = {k: before[k] for k in ("x", "y", "z", "rx", "ry", "rz")}
        text, ack = await c.ok("move_pose", back)
        assert text.startswith("Moving the tool to the pose, "), text
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        st = await c.state()
        assert math.dist(xyz(st["tcp_pose"]), xyz(before)) < 0.0005
        assert distance(st["positions"], READY) < 0.01


REFUSALS = [
    # (tool, arguments, words the refusal must say, its code)
    ("move_relative", {"dz": -0.6}, ["into the table, ", "Nothing moved."], "into_zone"),
    ("move_linear", {"x": -0.49, "y": 0.15, "z": 0.40, "roll": 180.0, "pitch": 0.0, "yaw": 90.0},
     ["into the fixture, ", "Nothing moved."], "into_zone"),
    ("move_linear", {"x": -1.5, "y": 0.0, "z": 0.4, "roll": 180.0, "pitch": 0.0, "yaw": 0.0},
     ["out of reach", "further than the arm reaches", "Nothing moved."], "out_of_reach"),
    ("move_relative", {"dx": 0.5}, ["flip the arm's shoulder", "A joint move can get there"], "configuration_flip"),
    ("move_joints", {"joints": [0.0, -0.5, 1.9, -2.9, -math.pi / 2, 0.0]},
     ["into the table, ", "Nothing moved."], "into_zone"),
    ("move_linear", {"x": -0.5, "y": 0.0, "z": 0.4, "rx": 90.0, "ry": 0.0, "rz": 0.0},
     ["That rotation is 5157 degrees", "rotations are in radians"], "out_of_range"),
    ("move_linear", {"x": -0.5, "y": 0.0, "z": 0.4, "rx": 3.0, "ry": 0.0, "rz": 0.0, "yaw": 3.0},
     ["Give the orientation one way"], "invalid_value"),
    ("move_linear", {"x": -0.5, "y": 0.0, "z": 0.4}, ["orientation is missing"], "missing_parameter"),
    ("move_linear", {"x": 1000.0, "y": 0.0, "z": 0.4, "rx": 3.0, "ry": 0.0, "rz": 0.0},
     ["1000 metres from the base", "10 metres"], "out_of_range"),
    ("move_relative", {"dz": 5.0}, ["longer than the"], "out_of_range"),
    ("move_relative", {"rz": 400.0}, ["more than a full turn of 360 degrees"], "out_of_range"),
    ("move_relative", {"dz": 0.1, "frame": "world"}, ["no frame named world", "base and tool"],
     "unknown_frame"),
]


async def test_refusals_name_the_reason_and_nothing_moves(cell_server):
    async with http_client(cell_server.url) as c:
        before = await at_ready(c)
        tasks = len((await c.ok("list_tasks"))[1]["tasks"])
        for tool, args, words, code in REFUSALS:
            err, text, sc = await c.call(tool, args)
            assert err, f"{tool} {args} was accepted: {text}"
            for w in words:
                assert w in text, f"{tool} {args}: {text!r} lacks {w!r}"
            assert sc["error"]["code"] == code, (tool, args, sc)
        assert len((await c.ok("list_tasks"))[1]["tasks"]) == tasks, "a refusal created a task"
        st = await c.state()
        # Still where it was (the simulated servo settles by a few microradians).
        assert distance(st["positions"], before["positions"]) < 1e-4
        assert not st["moving"]


async def test_a_line_through_a_wrist_singularity_is_refused(cell_server):
    async with http_client(cell_server.url) as c:
        start = [0.0, -1.2, 1.5, -1.9, 0.3, 0.0]
        _, ack = await c.ok("move_joints", {"joints": start, "speed": 1.0})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        # The pose with wrist 2 at -0.3 rad: the line between passes where the wrist's axes align.
        t = fk([0.0, -1.2, 1.5, -1.9, -0.3, 0.0])
        yaw = math.degrees(math.atan2(t[1][0], t[0][0]))
        pitch = math.degrees(math.asin(-t[2][0]))
        roll = math.degrees(math.atan2(t[2][1], t[2][2]))
        err, text, sc = await c.call("move_linear", {"x": t[0][3], "y": t[1][3], "z": t[2][3],
                                                     "roll": roll, "pitch": pitch, "yaw": yaw})
        assert err, text
        assert text.startswith("That path nears a wrist singularity "), text
        assert sc["error"]["code"] == "singularity"
        assert distance((await c.state())["positions"], start) < 1e-4


async def test_a_stop_mid_line_brakes_on_the_line(cell_server):
    async with http_client(cell_server.url) as c:
        before = (await at_ready(c))["tcp_pose"]
        _, ack = await c.ok("move_relative", {"dz": 0.2, "speed": 1.0})
        goal = [before["x"], before["y"], before["z"] + 0.2]
        # Wait until it is well under way, then stop.
        while (await c.state())["tcp_pose"]["z"] < before["z"] + 0.05:
            await anyio.sleep(0.01)
        await c.ok("stop")
        worst, _ = await follow(c, ack["task_id"], xyz(before), goal)
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled", final
        st = await c.state()
        z = st["tcp_pose"]["z"]
        assert before["z"] + 0.05 < z < before["z"] + 0.2 - 0.01, "it did not stop mid-line"
        assert off_line(xyz(st["tcp_pose"]), xyz(before), goal) < 0.001
        assert worst < 0.001, f"the TCP left the line by {worst * 1000:.2f} mm while braking"
        assert angle_between(before, st["tcp_pose"]) < 0.1

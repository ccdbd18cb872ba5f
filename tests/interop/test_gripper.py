"""The gripper and the digital I/O through the real binary, on the three backends: a
gripper command is a short task holding the arm, closing on nothing fails with the spoken
reason, set_output switches the bit the backend holds (armsim-modbus's registers, read by a
peer Modbus client), inputs and the gripper appear in robot_state, bad input is refused with
no task and no motion, stop ends a stroke, and armsim-ros serves GripperCommand."""

import json
import math

import anyio
import pytest

from conftest import ROOT, ModbusSim, http_client, modbus_config, peer_registers, ros_config, wait_connected

pytestmark = pytest.mark.anyio

HOME = [0.0, -math.pi / 2, 0.0, -math.pi / 2, 0.0, 0.0]


def sim_config(tmp_path, part_width_m=None, robot=None) -> str:
    robot = robot or ROOT / "robots" / "ur5e.toml"
    text = f'robot = "{robot}"\n\n[backend]\nkind = "sim"\n'
    if part_width_m is not None:
        text += f"\n[sim]\npart_width_m = {part_width_m}\n"
    return text


def by_name(channels):
    return {c["name"]: c["value"] for c in channels}


async def test_close_on_a_part_succeeds_and_open_opens(make_server, tmp_path):
    server = make_server(sim_config(tmp_path, part_width_m=0.03))
    async with http_client(server.url) as c:
        st = await c.state()
        assert st["gripper"] == {"width_m": 0.085, "state": "open"}
        # The simulated part sensor (input 0) sees the part.
        assert by_name(st["inputs"]) == {"part_present": True, "guard_closed": False}
        assert "The gripper is open." in (await c.ok("robot_state"))[0]

        text, ack = await c.ok("gripper", {"action": "close"})
        assert ack["state"] == "running" and ack["action"] == "close"
        assert ack["eta_s"] == 1.5
        assert text.startswith("Closing the gripper")
        # The stroke holds the arm: a motion now is refused, naming the task.
        err, busy, sc = await c.call("home")
        assert err and sc["error"]["code"] == "busy", busy
        seen = await c.wait_done(ack["task_id"])
        assert seen[-1]["state"] == "succeeded", seen[-1]
        assert "The gripper closed on the part." in seen[-1]["message"]
        text, st = await c.ok("robot_state")
        assert st["gripper"] == {"width_m": 0.03, "state": "holding"}
        assert "The gripper is holding a part, 3 centimetres wide." in text
        # The I/O is for the screen: its values are in the structured part, not read aloud.
        assert {i["name"]: i["value"] for i in st["inputs"]}["part_present"] is True, st["inputs"]
        assert "Inputs" not in text, text

        _, ack = await c.ok("gripper", {"action": "open"})
        seen = await c.wait_done(ack["task_id"])
        assert seen[-1]["state"] == "succeeded", seen[-1]
        assert (await c.state())["gripper"] == {"width_m": 0.085, "state": "open"}
        # Nothing but the fingers moved.
        st = await c.state()
        assert max(abs(a - b) for a, b in zip(st["positions"], HOME)) < 1e-9


async def test_closing_on_nothing_fails_with_the_spoken_reason(make_server, tmp_path):
    # The built-in config puts a part between the simulated fingers; this one has none.
    server = make_server(sim_config(tmp_path))
    async with http_client(server.url) as c:
        assert by_name((await c.state())["inputs"])["part_present"] is False
        _, ack = await c.ok("gripper", {"action": "close"})
        rec = (await c.wait_done(ack["task_id"]))[-1]
        assert rec["state"] == "failed"
        assert rec["error"]["code"] == "nothing_grasped"
        assert "The gripper closed on nothing" in rec["message"], rec["message"]
        text, st = await c.ok("robot_state")
        assert st["gripper"] == {"width_m": 0.0, "state": "closed"}
        assert "The gripper is closed on nothing." in text


async def test_set_output_switches_the_bit_and_is_audited(server):
    async with http_client(server.url) as c:
        st = await c.state()
        assert by_name(st["outputs"]) == {"gripper_close": False, "green_lamp": False, "conveyor": False}
        text, out = await c.ok("set_output", {"name": "green_lamp", "value": True})
        assert text == "Green lamp on."
        assert out == {"name": "green_lamp", "label": "green lamp", "channel": 1, "value": True, "previous": False}
        text, _ = await c.ok("set_output", {"name": "conveyor", "value": True})
        assert text == "The conveyor on."
        text, st = await c.ok("robot_state")
        assert by_name(st["outputs"]) == {"gripper_close": False, "green_lamp": True, "conveyor": True}
        assert "Outputs" not in text, text
        _, out = await c.ok("set_output", {"name": "green_lamp", "value": False})
        assert out["previous"] is True
        assert by_name((await c.state())["outputs"])["green_lamp"] is False
        # Background: no task.
        assert (await c.ok("list_tasks"))[1]["tasks"] == []
    audit = [json.loads(l) for l in (server.state_dir / "audit.log").read_text().splitlines()]
    sets = [a for a in audit if a["tool"] == "set_output"]
    assert len(sets) == 3 and all(a["outcome"] != "refused" for a in sets), sets


REFUSALS = [
    ("set_output", {"name": "green_lmap", "value": True}, "unknown_output",
     "There is no output named green lmap. Did you mean green lamp? Nothing was switched."),
    ("set_output", {"name": "lamp", "value": True}, "unknown_output", "Did you mean green lamp?"),
    ("set_output", {"name": "part_present", "value": True}, "unknown_output", "There is no output named part present."),
    ("set_output", {"name": "green_lamp", "value": "yes"}, "invalid_type", "Value must be true or false, not the text yes."),
    ("set_output", {"name": "green_lamp", "value": 1}, "invalid_type", "Value must be true or false, not 1."),
    ("set_output", {"name": "green_lamp"}, "missing_parameter", "Value is required: true or false."),
    ("set_output", {"name": "green_lamp", "value": True, "pin": 3}, "unknown_parameter",
     "Set output has no setting called pin. It takes name and value."),
    ("gripper", {"action": "squeeze"}, "invalid_value", "Action must be open or close, not the text squeeze."),
    ("gripper", {"action": True}, "invalid_type", "Action must be text, not true."),
    ("gripper", {}, "missing_parameter", "Action is required."),
]


@pytest.mark.parametrize("tool,args,code,message", REFUSALS, ids=[f"{r[0]}-{r[2]}-{i}" for i, r in enumerate(REFUSALS)])
async def test_bad_input_is_refused_with_no_task_and_no_motion(server, tool, args, code, message):
    async with http_client(server.url) as c:
        err, text, sc = await c.call(tool, args)
        assert err, f"{tool} {args} was accepted: {text}"
        assert sc["error"]["code"] == code
        assert message in text, text
        await anyio.sleep(0.2)
        st = await c.state()
        assert max(abs(a - b) for a, b in zip(st["positions"], HOME)) < 1e-9
        assert st["moving"] is False
        assert st["gripper"] == {"width_m": 0.085, "state": "open"}
        assert not any(by_name(st["outputs"]).values())
        assert (await c.ok("list_tasks"))[1]["tasks"] == []


async def test_a_gripper_command_without_a_gripper_is_refused(make_server, tmp_path):
    text = (ROOT / "robots" / "ur5e.toml").read_text()
    bare = tmp_path / "bare.toml"
    bare.write_text(text[: text.index("# The gripper")])
    server = make_server(sim_config(tmp_path, robot=bare))
    async with http_client(server.url) as c:
        err, said, sc = await c.call("gripper", {"action": "close"})
        assert err and sc["error"]["code"] == "no_gripper"
        assert said == "UR5e has no gripper configured, so there is nothing to close. Nothing moved."
        st = await c.state()
        assert st["gripper"] is None and st["outputs"] == [] and st["inputs"] == []
        err, said, sc = await c.call("set_output", {"name": "green_lamp", "value": True})
        assert err and sc["error"]["code"] == "unknown_output"
        assert said == "There is no output named green lamp. There are no outputs.", said
        assert (await c.ok("list_tasks"))[1]["tasks"] == []


async def test_stop_during_a_stroke_ends_it_cancelled(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("gripper", {"action": "close"})
        # The full stroke takes 1.5 s; stop answers at once.
        await c.ok("stop")
        rec = (await c.wait_done(ack["task_id"]))[-1]
        assert rec["state"] == "cancelled", rec
        st = await c.state()
        assert st["gripper"]["state"] in ("partly_open", "open"), st["gripper"]
        # The fingers stand still where the stop found them.
        width = st["gripper"]["width_m"]
        await anyio.sleep(0.3)
        assert (await c.state())["gripper"]["width_m"] == width


@pytest.fixture
def modbus_sims():
    started = []

    def make(*flags):
        s = ModbusSim(*flags).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


async def test_modbus_outputs_and_the_gripper_on_urs_registers(modbus_sims, make_server):
    sim = modbus_sims("--part-width", "0.03")
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        st = await wait_connected(c)
        assert st["backend"] == "modbus"
        # UR's register 0 holds the inputs: the part sensor on bit 0.
        assert by_name(st["inputs"]) == {"part_present": True, "guard_closed": False}
        await c.ok("set_output", {"name": "conveyor", "value": True})
        # UR's register 1 holds the outputs, as a peer client reads them.
        assert peer_registers(sim.port, 1, 1) == [0b100]
        assert by_name((await c.state())["outputs"])["conveyor"] is True

        _, ack = await c.ok("gripper", {"action": "close"})
        rec = (await c.wait_done(ack["task_id"]))[-1]
        assert rec["state"] == "succeeded", rec
        # The gripper's output bit (channel 0) is on, and its gap register says 3 cm.
        assert peer_registers(sim.port, 1, 1) == [0b101]
        assert peer_registers(sim.port, 150, 1) == [300]
        st = await c.state()
        assert st["gripper"] == {"width_m": 0.03, "state": "holding"}
        assert by_name(st["outputs"])["gripper_close"] is True

        _, ack = await c.ok("gripper", {"action": "open"})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        assert peer_registers(sim.port, 1, 1) == [0b100]
        assert (await c.state())["gripper"]["state"] == "open"
    assert any("digital outputs 0b0000000101" in l for l in sim.log), sim.log


async def test_modbus_closing_on_nothing_fails(modbus_sims, make_server):
    sim = modbus_sims()
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        await wait_connected(c)
        _, ack = await c.ok("gripper", {"action": "close"})
        rec = (await c.wait_done(ack["task_id"]))[-1]
        assert rec["state"] == "failed" and rec["error"]["code"] == "nothing_grasped", rec
        assert "The gripper closed on nothing" in rec["message"]
        assert peer_registers(sim.port, 150, 1) == [0]


async def test_ros_gripper_command_goals_reach_the_action_server(ros_sims, make_server):
    master, sim = ros_sims("--part-width", "0.03")
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_connected(c)
        _, ack = await c.ok("gripper", {"action": "close"})
        rec = (await c.wait_done(ack["task_id"]))[-1]
        assert rec["state"] == "succeeded", rec
        # The goal asked for the closed gap with the configured force; the server stalled on the part.
        assert any("gripper goal armature-gripper-" in l and "position 0 max_effort 40" in l for l in sim.log), sim.log
        st = await c.state()
        assert st["gripper"] == {"width_m": 0.03, "state": "holding"}

        _, ack = await c.ok("gripper", {"action": "open"})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        assert any("position 0.085 max_effort 40" in l for l in sim.log), sim.log
        assert (await c.state())["gripper"] == {"width_m": 0.085, "state": "open"}

        # Stop cancels the goal on the action server, once the goal has arrived there.
        _, ack = await c.ok("gripper", {"action": "close"})
        deadline = anyio.current_time() + 5
        while sum("gripper goal" in l for l in sim.log) < 3 and anyio.current_time() < deadline:
            await anyio.sleep(0.02)
        await c.ok("stop")
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "cancelled"
        deadline = anyio.current_time() + 5
        while not any("gripper cancel received" in l for l in sim.log) and anyio.current_time() < deadline:
            await anyio.sleep(0.1)
        assert any("gripper cancel received" in l for l in sim.log), sim.log

        # Digital outputs are not served over ROS: said so, nothing changes.
        err, said, sc = await c.call("set_output", {"name": "green_lamp", "value": True})
        assert err and sc["error"]["code"] == "io_failed"
        assert said == "Green lamp was not switched: the controller did not take the command: digital outputs are not served over ROS yet."


async def test_ros_closing_on_nothing_fails(ros_sims, make_server):
    master, sim = ros_sims()
    server = make_server(ros_config(master.uri))
    async with http_client(server.url) as c:
        await wait_connected(c)
        _, ack = await c.ok("gripper", {"action": "close"})
        rec = (await c.wait_done(ack["task_id"]))[-1]
        assert rec["state"] == "failed" and rec["error"]["code"] == "nothing_grasped", rec
        assert "The gripper closed on nothing" in rec["message"]

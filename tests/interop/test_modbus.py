"""The plugin driving `armsim-modbus` over Modbus/TCP on loopback, through MCP; and a peer client."""

import json
import os
import signal
import time

import anyio
import pytest

from conftest import ModbusSim, distance, free_port, http_client, modbus_config

pytestmark = pytest.mark.anyio

TARGET = [0.6, -1.2, 0.5, -1.8, 0.3, 0.2]
FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]
HOME_MRAD = [0, 65536 - 1571, 0, 65536 - 1571, 0, 0]


@pytest.fixture
def sims():
    started = []

    def make(*flags, port=None):
        s = ModbusSim(*flags, port=port).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


async def wait_link(c, up=True, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, st = await c.ok("robot_state")
        if st["link"]["up"] == up and (not up or st["connected"]):
            return st
        await anyio.sleep(0.1)
    raise AssertionError(f"link never became {'up' if up else 'down'}: {st['link']}")


def test_a_peer_modbus_client_reads_the_simulated_ur(sims):
    from pymodbus.client import ModbusTcpClient

    sim = sims()
    client = ModbusTcpClient("127.0.0.1", port=sim.port)
    assert client.connect(), "pymodbus could not connect to armsim-modbus"
    try:
        assert client.read_holding_registers(258, count=1).registers == [7]  # RUNNING
        assert client.read_holding_registers(270, count=6).registers == HOME_MRAD
        assert client.read_input_registers(261, count=2).registers == [0, 0]  # no protective/e-stop
        bad = client.read_holding_registers(300, count=1)
        assert bad.isError() and bad.exception_code == 2
        bad = client.write_register(270, 1)
        assert bad.isError() and bad.exception_code == 2  # state registers are read-only
        assert client.read_holding_registers(258, count=1, device_id=42).registers == [7]  # any unit id
    finally:
        client.close()


async def test_moves_stop_and_cancel_over_modbus(sims, make_server):
    from pymodbus.client import ModbusTcpClient

    sim = sims()
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        st = await wait_link(c)
        assert st["backend"] == "modbus"
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert ack["state"] == "running"
        seen = await c.wait_done(ack["task_id"])
        assert seen[-1]["state"] == "succeeded", seen[-1]
        progress = [r["progress"] for r in seen]
        assert progress == sorted(progress) and any(0 < p < 100 for p in progress)
        assert distance((await c.state())["positions"], TARGET) <= 0.002
        peer = ModbusTcpClient("127.0.0.1", port=sim.port)
        peer.connect()
        regs = peer.read_holding_registers(270, count=6).registers
        peer.close()
        assert [r - 65536 if r > 32767 else r for r in regs] == [round(q * 1000) for q in TARGET]

        _, ack = await c.ok("move_joints", {"joints": FAR})
        await anyio.sleep(1.0)
        await c.ok("stop")
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "cancelled" and 0 < final["progress"] < 100
        await anyio.sleep(0.3)
        st = await c.state()
        assert max(abs(v) for v in st["velocities"]) < 0.01 and distance(st["positions"], FAR) > 0.3

        _, ack = await c.ok("move_to", {"position": "ready"})
        await anyio.sleep(0.8)
        await c.ok("cancel_task", {"task_id": ack["task_id"]})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "cancelled"
        _, ack = await c.ok("home")
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"


SPLIT_LOG = "the robot refuses one read across its register blocks (exception 2): polling with two requests"


# The shipped map puts the status block (250–254) next to UR's state registers, so a poll is
# one read of 250–285. A server that keeps its register blocks apart refuses that read; the
# plugin then polls in two requests and the user sees no difference.
@pytest.mark.parametrize("flags,refused", [((), False), (("--refuse-cross-block-reads",), True)], ids=["one-read", "refused-two-reads"])
async def test_a_poll_reads_the_status_and_the_state_together_or_apart_when_refused(sims, make_server, flags, refused):
    from pymodbus.client import ModbusTcpClient

    sim = sims(*flags)
    peer = ModbusTcpClient("127.0.0.1", port=sim.port)
    assert peer.connect(), "pymodbus could not connect to armsim-modbus"
    try:
        one = peer.read_holding_registers(250, count=36)
        if refused:
            assert one.isError() and one.exception_code == 2, one
        else:
            assert not one.isError() and one.registers[8] == 7, one  # 258: RUNNING
    finally:
        peer.close()
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        st = await wait_link(c)
        # Fresh: the robot's heartbeat moved between two polls on this connection.
        assert st["connected"] is True and st["fault"] is None, st
        text, st = await c.ok("robot_state")
        assert text.startswith("The UR5e is standing still."), text
        assert "Fault" not in text and "unreachable" not in text, text
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        assert distance((await c.state())["positions"], TARGET) <= 0.002
    said = [line for line in server.log if SPLIT_LOG in line]
    assert len(said) == (1 if refused else 0), said
    # The refusal is an answer, not a broken link: the plugin never reconnected.
    assert not any("robot unreachable over Modbus/TCP" in line for line in server.log), server.log


async def test_connection_refused_then_the_robot_comes_back(sims, make_server):
    port = free_port()
    server = make_server(modbus_config(port))
    async with http_client(server.url) as c:
        await anyio.sleep(0.3)
        text, st = await c.ok("robot_state")
        assert st["link"]["up"] is False and st["link"]["cause"] == "connection refused"
        assert st["connected"] is False
        assert text.startswith("The UR5e is unreachable: connection refused."), text
        err, text, sc = await c.call("home")
        assert err and sc["error"]["code"] == "robot_unreachable"
        assert text == "The robot is unreachable: connection refused. Nothing was done.", text
        sims(port=port)
        await wait_link(c)
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"


FAULTS = [
    (["--drop-connections-after", "3", "--drop-connections-count", "1"], "robot_unreachable", "the robot is unreachable (connection"),
    (["--freeze-after", "3", "--freeze-for", "1.5"], "stale_state", "no fresh robot state"),
    (["--protective-stop-after", "3", "--protective-stop-for", "1"], "robot_fault", "the robot is in protective stop"),
    (["--exceptions-after", "3", "--exceptions-for", "1"], "robot_unreachable", "Modbus exception 0x04"),
]


# Each fault starts 3 s after the simulator; the 3.3 s move starts within the first second or
# so, so the fault always lands mid-motion, even on a loaded machine.
@pytest.mark.parametrize("flags,code,spoken", FAULTS, ids=["dropped-connection", "heartbeat-stopped", "protective-stop", "exception"])
async def test_a_fault_mid_motion_fails_the_task_and_the_next_move_works(sims, make_server, flags, code, spoken):
    sim = sims(*flags)
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        await wait_link(c)
        _, ack = await c.ok("move_joints", {"joints": FAR})
        t0 = time.monotonic()
        seen = []
        while True:
            # Status answers all along, fault or not.
            _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
            await c.ok("robot_state")
            seen.append(rec)
            if rec["state"] != "running":
                break
            assert time.monotonic() - t0 < 20, rec
            await anyio.sleep(0.1)
        final = seen[-1]
        assert final["state"] == "failed", final
        assert final["error"]["code"] == code
        # The spoken message says the cause; its figures are in the error.
        assert spoken in final["error"]["message"], final["error"]
        # The audit trail has how the task ended.
        audit = [json.loads(l) for l in (server.state_dir / "audit.log").read_text().splitlines()]
        ended = [a for a in audit if a["tool"] == "task_ended" and a["task_id"] == ack["task_id"]]
        assert len(ended) == 1 and ended[0]["outcome"] == "failed" and ended[0]["code"] == code, ended
        text, out = await c.ok("stop")
        assert out["stopping"] is False and text == "Nothing is moving." 
        await anyio.sleep(2.5)  # the fault clears
        await wait_link(c)
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"


async def test_a_robot_error_code_fails_the_task_with_it(sims, make_server):
    sim = sims("--error-code", "7", "--error-moves", "1")
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        await wait_link(c)
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "failed" and final["error"]["code"] == "robot_error"
        assert "the robot answered with error 7" in final["message"]
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"


def test_a_register_map_outside_the_general_purpose_registers_is_refused(tmp_path):
    import subprocess

    from conftest import ROOT, armature_bin

    robot = (ROOT / "robots" / "ur5e.toml").read_text().replace("status_block = 250", "status_block = 134")
    (tmp_path / "r.toml").write_text(robot)
    config = modbus_config(5020).replace(f'robot = "{ROOT / "robots" / "ur5e.toml"}"', 'robot = "r.toml"')
    (tmp_path / "c.toml").write_text(config)
    r = subprocess.run([armature_bin(), "check-config", "--config", str(tmp_path / "c.toml")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "modbus: command_block 128..138 and status_block 134..138 overlap" in r.stderr, r.stderr


async def test_answers_slower_than_the_timeout_read_as_unreachable(sims, make_server):
    sim = sims("--latency-ms", "300")
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        deadline = time.monotonic() + 5
        while (st := (await c.state()))["link"]["cause"] != "no answer within the timeout":
            assert time.monotonic() < deadline, st["link"]
            await anyio.sleep(0.05)
        assert st["link"]["up"] is False
        err, text, sc = await c.call("move_joints", {"joints": TARGET})
        assert err and sc["error"]["code"] == "robot_unreachable" and "no answer within the timeout" in text
    assert any("robot unreachable over Modbus/TCP" in l and "no answer within the timeout" in l for l in server.log)


async def test_a_robot_program_that_does_not_run_is_named_and_nothing_moves(sims, make_server):
    from pymodbus.client import ModbusTcpClient

    sim = sims("--companion-stopped")
    server = make_server(modbus_config(sim.port))
    async with http_client(server.url) as c:
        deadline = time.monotonic() + 15
        while True:
            text, st = await c.ok("robot_state")
            if st["fault"] is not None:
                break
            assert time.monotonic() < deadline, (text, st)
            await anyio.sleep(0.1)
        fault = st["fault"]
        assert fault["kind"] == "companion_not_running" and fault["program"] == "armature.script", fault
        assert fault["register"] == 254, fault
        # The registers answer: the link is up and the state is the controller's, just read.
        assert st["link"]["up"] is True and st["connected"] is True, st
        assert text.startswith("The UR5e is standing still. Fault: the robot program is not running."), text

        err, text, sc = await c.call("move_joints", {"joints": TARGET})
        assert err and sc["error"]["code"] == "robot_fault", (text, sc)
        assert text == "Not moving: the robot program is not running.", text
        assert sc["error"]["message"] == text
        # Nothing moves: no task, no command in the registers, the joints where they were.
        _, listed = await c.ok("list_tasks")
        assert listed["tasks"] == []
        peer = ModbusTcpClient("127.0.0.1", port=sim.port)
        assert peer.connect()
        try:
            assert peer.read_holding_registers(136, count=2).registers == [0, 0]  # command, sequence
            assert peer.read_holding_registers(270, count=6).registers == HOME_MRAD
        finally:
            peer.close()

        # Play on the pendant: the companion runs, the fault clears, a move works.
        os.kill(sim.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 15
        while (st := await c.state())["fault"] is not None or not st["connected"]:
            assert time.monotonic() < deadline, st
            await anyio.sleep(0.1)
        assert any("companion program started" in l for l in sim.log)
        _, ack = await c.ok("move_joints", {"joints": TARGET})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
    assert any("the robot program is not running" in l and "register=254" in l for l in server.log), server.log
    assert any("the robot program runs again" in l for l in server.log), server.log

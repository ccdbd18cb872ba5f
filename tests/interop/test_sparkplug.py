"""Sparkplug B over MQTT against a real Mosquitto, with an independent decoder (pysparkplug) as
the peer: births with every metric, DDATA by exception, NDEATH as the will, rebirths, and the
commands the plugin takes (rebirth, stop with accept_stop) and refuses (anything that moves)."""

import json
import subprocess
import time

import anyio
import pytest

from conftest import armature_bin, http_client, vars_list
from sparkplug import GROUP, Mosquitto, Peer, births, config, metric

import pysparkplug as spb

pytestmark = pytest.mark.anyio

JOINTS = ["shoulder_pan_joint", "shoulder_lift_joint", "elbow_joint", "wrist_1_joint", "wrist_2_joint", "wrist_3_joint"]
D = spb.DataType
# Every device metric but the variables, with its type (docs/fleet.md has the same table).
DEVICE_METRICS = {
    "Robot/Model": D.STRING, "Robot/Backend": D.STRING, "Robot/Mode": D.STRING, "Robot/Phase": D.STRING,
    "Robot/Connected": D.BOOLEAN, "Robot/Link Up": D.BOOLEAN, "Robot/Link Down Cause": D.STRING,
    "Robot/Faulted": D.BOOLEAN, "Robot/Fault": D.STRING,
    **{f"Joints/{j}/Position": D.DOUBLE for j in JOINTS},
    **{f"Joints/{j}/Velocity": D.DOUBLE for j in JOINTS},
    **{f"TCP/{a}": D.DOUBLE for a in ["X", "Y", "Z", "Rx", "Ry", "Rz"]},
    "Task/Id": D.STRING, "Task/Action": D.STRING, "Task/State": D.STRING, "Task/Progress": D.DOUBLE,
    "Task/Message": D.STRING, "Task/Owner": D.STRING, "Task/Error": D.STRING,
    "Realtime/Policy": D.STRING, "Realtime/Priority": D.INT32, "Realtime/Realtime": D.BOOLEAN,
    "Realtime/Cycles": D.UINT64, "Realtime/Overruns": D.UINT64, "Realtime/Target Rate Hz": D.DOUBLE,
    "Realtime/Rate Hz": D.DOUBLE, "Realtime/Latency p50 us": D.DOUBLE, "Realtime/Latency p99 us": D.DOUBLE,
    "Realtime/Latency p99.9 us": D.DOUBLE, "Realtime/Latency Max us": D.DOUBLE,
    "Realtime/State Age p99 us": D.DOUBLE, "Commands/Last Refused": D.STRING,
}
VAR_TYPES = {bool: D.BOOLEAN, float: D.DOUBLE, int: D.DOUBLE, str: D.STRING, list: D.DOUBLE_ARRAY}
FAR = [1.2, -1.3, 1.6, -1.87, -1.2, 0.4]


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "mosquitto").start()
    yield b
    b.stop()


@pytest.fixture
def peer(broker):
    p = Peer(broker.port)
    yield p
    p.close()


def audit(state_dir) -> list[dict]:
    out = subprocess.run([armature_bin(), "audit", "--json", "--state-dir", str(state_dir)],
                         capture_output=True, text=True, timeout=10, check=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


async def wait_audit(state_dir, match, what: str, timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in audit(state_dir) if match(e)]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no audit entry for {what}: {audit(state_dir)}")
        await anyio.sleep(0.1)


def seq_of(m) -> int:
    return m.payload.seq


async def test_births_decode_with_every_metric_and_its_type(make_server, broker, peer):
    server = make_server(config(broker.port, "cell-1"))
    nb, db = births(peer, "cell-1")
    assert nb.device is None and db.device == "arm"
    assert seq_of(nb) == 0 and seq_of(db) == 1
    node = nb.metrics()
    assert node["bdSeq"].datatype == D.UINT64
    assert node["Node Control/Rebirth"].datatype == D.BOOLEAN and node["Node Control/Rebirth"].value is False
    assert node["Properties/Accept Stop"].value is False
    got = db.metrics()
    for name, dtype in DEVICE_METRICS.items():
        assert name in got, f"DBIRTH lacks {name}; it has {sorted(got)}"
        assert got[name].datatype == dtype, f"{name}: {got[name].datatype!r}, expected {dtype!r}"
    # Device Control/Stop is offered only with accept_stop.
    assert "Device Control/Stop" not in got
    assert got["Robot/Model"].value == "UR5e" and got["Robot/Backend"].value == "sim"
    assert got["Task/Id"].is_null  # no task yet on a fresh state directory
    # Every installation variable, typed as it is stored.
    variables = vars_list(server.state_dir)
    for name, value in variables.items():
        m = got[f"Variables/{name}"]
        assert m.datatype == VAR_TYPES[type(value)], name
    assert not peer.errors


async def test_ddata_shows_progress_rising_during_a_move(make_server, broker, peer):
    server = make_server(config(broker.port, "cell-1"))
    nb, _ = births(peer, "cell-1")
    start = peer.since().index(nb)
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR, "speed": 0.25})
        await c.wait_done(ack["task_id"])
    task = ack["task_id"]
    # The end comes in a DDATA, or in a DBIRTH when the end also created variables (the
    # queue's, after a first task): new metrics mean a new birth.
    done = peer.wait_for("the task succeeded", lambda m: m.kind in ("DDATA", "DBIRTH") and m.value("Task/State") == "succeeded")
    ours = [m for m in peer.since(start) if m.edge == "cell-1" and m.kind in ("NBIRTH", "DBIRTH", "DDATA")]
    # seq counts every message of the node from each NBIRTH's 0, without a gap. (The first
    # task creates the task_* variables: new metrics, so a new birth comes before their data.)
    seqs = [seq_of(m) for m in ours[: ours.index(done) + 1]]
    expected, n = [], 0
    for m in ours[: ours.index(done) + 1]:
        n = 0 if m.kind == "NBIRTH" else (n + 1) % 256
        expected.append(n)
    assert seqs == expected, seqs
    # Progress as a host follows it, from births and data alike, up to the end.
    progress = [m.value("Task/Progress") for m in ours[: ours.index(done) + 1]
                if m.kind in ("DDATA", "DBIRTH") and m.value("Task/Progress") is not None]
    assert len([p for p in progress if 0 < p < 100]) >= 3, progress
    assert progress == sorted(progress) and progress[-1] == 100, progress
    assert any(m.value("Task/Id") == task for m in ours)
    # Joints moved with the arm, reported by exception.
    positions = [m.value("Joints/shoulder_pan_joint/Position") for m in ours if "Joints/shoulder_pan_joint/Position" in m.metrics()]
    assert abs(positions[-1] - FAR[0]) < 0.01, positions[-3:]


async def test_kill_9_gives_ndeath_within_one_and_a_half_keep_alives(make_server, broker, peer):
    keep_alive = 5
    server = make_server(config(broker.port, "cell-1", keep_alive_s=keep_alive))
    nb, _ = births(peer, "cell-1")
    mark = peer.mark()
    killed = time.time()
    server.kill9()
    death = peer.wait_for("NDEATH", lambda m: m.kind == "NDEATH" and m.edge == "cell-1", 1.5 * keep_alive, mark)
    assert death.value("bdSeq") == nb.value("bdSeq")
    print(f"NDEATH {1000 * (death.at - killed):.0f} ms after kill -9 (keep-alive {keep_alive} s)")


async def test_a_broker_restart_brings_a_rebirth_with_the_newest_state(make_server, tmp_path):
    # The broker keeps the peer's session across its restart, so the peer sees the plugin's
    # births even if the plugin reconnects first.
    broker = Mosquitto(tmp_path / "persistent", persistent=True).start()
    peer = Peer(broker.port, persistent=True)
    try:
        await restart_and_rebirth(make_server, broker, peer)
    finally:
        peer.close()
        broker.stop()


async def restart_and_rebirth(make_server, broker, peer):
    server = make_server(config(broker.port, "cell-1"))
    nb, _ = births(peer, "cell-1")
    broker.stop()
    mark = peer.mark()
    # While the broker is away the arm moves; the plugin keeps only the newest state.
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": [0.2, -1.4, 0.3, -1.6, 0.1, 0.1]})
        await c.wait_done(ack["task_id"])
    broker.start()
    nb2, db2 = births(peer, "cell-1", start=mark, timeout=20)
    assert nb2.value("bdSeq") > nb.value("bdSeq")
    assert seq_of(nb2) == 0 and seq_of(db2) == 1
    assert db2.value("Task/Id") == ack["task_id"] and db2.value("Task/State") == "succeeded"
    # Nothing of the node came before its new birth but the old connection's death: the
    # restarted broker may deliver the will it kept, and its bdSeq names the old session.
    ours = [m for m in peer.since(mark) if m.edge == "cell-1"]
    first = next(m for m in ours if m.kind != "NDEATH")
    assert first.kind == "NBIRTH"
    early_deaths = ours[: ours.index(first)]
    assert all(d.value("bdSeq") == nb.value("bdSeq") for d in early_deaths), early_deaths


async def test_a_rebirth_command_is_honoured(make_server, broker, peer):
    make_server(config(broker.port, "cell-1"))
    nb, _ = births(peer, "cell-1")
    mark = peer.mark()
    peer.command("NCMD", "cell-1", [metric("Node Control/Rebirth", D.BOOLEAN, True)])
    nb2, db2 = births(peer, "cell-1", start=mark)
    # A rebirth on the same connection keeps bdSeq and starts seq again.
    assert nb2.value("bdSeq") == nb.value("bdSeq")
    assert seq_of(nb2) == 0 and seq_of(db2) == 1


async def test_a_move_command_over_mqtt_is_refused_and_audited(make_server, broker, peer):
    server = make_server(config(broker.port, "cell-1"))
    births(peer, "cell-1")
    peer.command("DCMD", "cell-1", [metric("Device Control/Move To", D.STRING, "home")], device="arm")
    m = peer.wait_for("the refusal in DDATA", lambda m: m.kind == "DDATA" and "Device Control/Move To" in (m.value("Commands/Last Refused") or ""))
    assert "never moved over MQTT" in m.value("Commands/Last Refused")
    e = await wait_audit(server.state_dir, lambda e: e["tool"] == "Device Control/Move To", "the move command")
    assert e["outcome"] == "refused" and e["code"] == "not_over_mqtt"
    assert e["operator"].startswith("mqtt:armature-plant-cell-1@127.0.0.1:")
    assert e["params"]["value"] == "home"
    # Without accept_stop even a stop is refused, and said so.
    peer.command("DCMD", "cell-1", [metric("Device Control/Stop", D.BOOLEAN, True)], device="arm")
    e = await wait_audit(server.state_dir, lambda e: e["tool"] == "Device Control/Stop", "the stop command")
    assert e["outcome"] == "refused" and e["code"] == "stop_not_accepted"
    async with http_client(server.url) as c:
        _, listed = await c.ok("list_tasks")
        assert listed["tasks"] == []
        assert (await c.state())["moving"] is False


async def test_with_accept_stop_a_stop_over_mqtt_stops_a_motion_and_is_audited(make_server, broker, peer):
    server = make_server(config(broker.port, "cell-1", extra="accept_stop = true"))
    _, db = births(peer, "cell-1")
    assert db.metrics()["Device Control/Stop"].datatype == D.BOOLEAN
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR, "speed": 0.1})
        task = ack["task_id"]
        peer.wait_for("DDATA with the task moving", lambda m: m.kind == "DDATA" and (m.value("Task/Progress") or 0) > 5)
        peer.command("DCMD", "cell-1", [metric("Device Control/Stop", D.BOOLEAN, True)], device="arm")
        seen = await c.wait_done(task)
        assert seen[-1]["state"] == "cancelled" and seen[-1]["progress"] < 100
    peer.wait_for("the task cancelled", lambda m: m.kind in ("DDATA", "DBIRTH") and m.value("Task/State") == "cancelled")
    e = await wait_audit(server.state_dir, lambda e: e["tool"] == "stop", "the stop")
    assert e["outcome"] == "ok" and e["operator"].startswith("mqtt:armature-plant-cell-1@")
    assert e["task_id"] == task


async def test_a_clean_stop_says_ndeath_before_it_goes(make_server, broker, peer):
    server = make_server(config(broker.port, "cell-1"))
    nb, _ = births(peer, "cell-1")
    mark = peer.mark()
    server.stop()  # SIGTERM: a DISCONNECT suppresses the will, so the plugin publishes NDEATH itself
    death = peer.wait_for("NDEATH", lambda m: m.kind == "NDEATH" and m.edge == "cell-1", 10, mark)
    assert death.value("bdSeq") == nb.value("bdSeq")
    assert server.proc.returncode == 0

"""A real Mosquitto broker (Debian's `mosquitto`) and an independent Sparkplug B peer: a paho-mqtt
subscriber whose payloads are decoded by pysparkplug's own protobuf code, not Armature's."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

try:
    import paho.mqtt.client as mqtt
    import pysparkplug as spb
except ImportError as e:  # pragma: no cover - the message is the point
    raise RuntimeError(
        "the Sparkplug tests need pysparkplug and paho-mqtt: run ./scripts/test, or "
        "`.venv/bin/pip install -r tests/interop/requirements.txt`"
    ) from e

from conftest import free_port

GROUP = "plant"


class Mosquitto:
    """Debian's mosquitto on a free loopback port, started and stopped by the test."""

    def __init__(self, workdir: Path, port: int | None = None, persistent: bool = False):
        self.port = port or free_port()
        self.workdir = workdir
        # Persistent: sessions survive a restart, and QoS 0 messages are queued for a
        # subscriber that is away (so a peer misses nothing published while it reconnects).
        self.persistent = persistent
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Mosquitto":
        exe = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if not exe:
            raise RuntimeError("the Sparkplug tests need an MQTT broker (mosquitto): apt-get install mosquitto (./scripts/test does)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        keep = f"persistence true\npersistence_location {self.workdir}/\nqueue_qos0_messages true\n" if self.persistent else "persistence false\n"
        if self.persistent and os.geteuid() == 0:
            # As root, mosquitto drops to its own user, which cannot write under the test's
            # private tmp dir: the sessions would not survive the restart.
            keep += "user root\n"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n{keep}"
            "max_queued_messages 100000\nlog_dest stderr\nlog_type error\nlog_type warning\n"
        )
        log = open(self.workdir / "mosquitto.log", "a")
        self.proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{self.port}: {(self.workdir / 'mosquitto.log').read_text()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@dataclass
class Msg:
    """One Sparkplug message as the peer received it."""

    at: float  # time.time() on arrival
    kind: str  # NBIRTH, DBIRTH, DDATA, NDEATH, ...
    edge: str
    device: str | None
    payload: object  # the pysparkplug payload
    _metrics: dict | None = None

    def metrics(self) -> dict:
        """name -> pysparkplug Metric (NDEATH: just bdSeq)."""
        if self._metrics is None:
            if self.kind == "NDEATH":
                self._metrics = {"bdSeq": self.payload.bd_seq_metric}
            else:
                self._metrics = {m.name: m for m in self.payload.metrics}
        return self._metrics

    def value(self, name: str):
        m = self.metrics().get(name)
        return None if m is None else m.value


DECODERS = {
    "NBIRTH": spb.NBirth, "DBIRTH": spb.DBirth, "NDATA": spb.NData, "DDATA": spb.DData,
    "NDEATH": spb.NDeath, "NCMD": spb.NCmd, "DCMD": spb.DCmd,
}


class Peer:
    """A Sparkplug host's view of the group: every message under spBv1.0/GROUP/#, decoded."""

    def __init__(self, port: int, persistent: bool = False):
        self.port = port
        self.msgs: list[Msg] = []
        self.errors: list[str] = []
        self.cond = threading.Condition()
        self.client = mqtt.Client(client_id=f"peer-{uuid.uuid4().hex[:8]}", clean_session=not persistent)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.client.on_connect = lambda c, *_: c.subscribe(f"spBv1.0/{GROUP}/#", qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()
        self.wait_connected()

    def wait_connected(self, timeout: float = 10):
        deadline = time.monotonic() + timeout
        while not self.client.is_connected():
            if time.monotonic() > deadline:
                raise AssertionError("the peer could not connect to mosquitto")
            time.sleep(0.05)
        time.sleep(0.2)  # the subscription's SUBACK

    def _on_message(self, _c, _u, m):
        at = time.time()
        parts = m.topic.split("/")
        kind = parts[2]
        try:
            payload = DECODERS[kind].decode(m.payload)
        except Exception as e:  # noqa: BLE001 - a payload the peer cannot decode is a finding
            with self.cond:
                self.errors.append(f"{m.topic}: {e!r}")
            return
        msg = Msg(at, kind, parts[3], parts[4] if len(parts) > 4 else None, payload)
        with self.cond:
            self.msgs.append(msg)
            self.cond.notify_all()

    def since(self, index: int = 0) -> list[Msg]:
        with self.cond:
            return list(self.msgs[index:])

    def mark(self) -> int:
        with self.cond:
            return len(self.msgs)

    def wait_for(self, what: str, match, timeout: float = 15, start: int = 0) -> Msg:
        """The first message from index `start` on for which `match(msg)` holds."""
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            # Each message is matched once, outside the lock: the MQTT thread never waits on
            # the test, so the arrival times it stamps stay true.
            with self.cond:
                new = self.msgs[seen:]
            for m in new:
                if match(m):
                    return m
            seen += len(new)
            with self.cond:
                if len(self.msgs) > seen:
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    kinds = [f"{m.kind}/{m.edge}" for m in self.msgs[start:]][-20:]
                    raise AssertionError(f"no {what} within {timeout} s; last messages: {kinds}; decode errors: {self.errors}")
                self.cond.wait(left)

    def command(self, kind: str, edge: str, metrics: list, device: str | None = None):
        """Publishes an NCMD or DCMD with `metrics` (pysparkplug Metric objects)."""
        cls = spb.NCmd if kind == "NCMD" else spb.DCmd
        payload = cls(timestamp=spb.get_current_timestamp(), metrics=tuple(metrics)).encode(include_dtypes=True)
        topic = f"spBv1.0/{GROUP}/{kind}/{edge}" + (f"/{device}" if device else "")
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def metric(name: str, datatype, value) -> "spb.Metric":
    return spb.Metric(timestamp=spb.get_current_timestamp(), name=name, datatype=datatype, value=value)


def config(port: int, edge: str, extra: str = "", keep_alive_s: int = 5) -> str:
    """The simulator config with a [sparkplug] section for node `edge` of GROUP."""
    return (
        'robot = "builtin:ur5e"\nactions = "builtin:example-cell"\n[backend]\nkind = "sim"\n'
        f'[sparkplug]\nbroker = "mqtt://127.0.0.1:{port}"\ngroup_id = "{GROUP}"\nedge_node_id = "{edge}"\n'
        f"keep_alive_s = {keep_alive_s}\n{extra}\n"
    )


def births(peer: Peer, edge: str, start: int = 0, timeout: float = 15) -> tuple[Msg, Msg]:
    """The next NBIRTH of `edge` and the DBIRTH that follows it."""
    nb = peer.wait_for(f"NBIRTH of {edge}", lambda m: m.kind == "NBIRTH" and m.edge == edge, timeout, start)
    idx = peer.since().index(nb)
    db = peer.wait_for(f"DBIRTH of {edge}", lambda m: m.kind == "DBIRTH" and m.edge == edge, timeout, idx)
    return nb, db


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]

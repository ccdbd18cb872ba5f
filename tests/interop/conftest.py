"""Fixtures: the real `armature` binary, served over HTTP or stdio, and an official-SDK MCP client."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

# Also loaded by path from tests/browser, where this folder is not on sys.path.
import sys  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from spoken import capture_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

# Every process the suite starts inherits this mark, however it was started (roslaunch
# passes its environment on to rosmaster and rosout): that is how leftovers are found.
RUN_MARK = f"ARMATURE_TEST_RUN={uuid.uuid4()}"
os.environ["ARMATURE_TEST_RUN"] = RUN_MARK.split("=", 1)[1]

try:
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    from mcp.client.streamable_http import streamable_http_client
except ImportError as e:  # pragma: no cover - the message is the point
    raise RuntimeError(
        "the interop tests need the official Python MCP SDK (package `mcp`): "
        "run ./scripts/test, or `python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt`"
    ) from e


def armsim_modbus_bin() -> str:
    path = Path(os.environ.get("ARMSIM_MODBUS_BIN", ROOT / "target" / "release" / "armsim-modbus"))
    if not path.exists():
        raise RuntimeError(f"the armsim-modbus binary is missing at {path}: run `cargo build --release --workspace` (./scripts/test does)")
    return str(path)


class ModbusSim:
    """A running `armsim-modbus` on a free loopback port."""

    def __init__(self, *flags: str, port: int | None = None):
        self.port = port or free_port()
        self.flags = list(flags)
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []

    def start(self) -> "ModbusSim":
        args = [armsim_modbus_bin(), "--listen", f"127.0.0.1:{self.port}", "--robot", str(ROOT / "robots" / "ur5e.toml"), *self.flags]
        self.proc = spawn_until(args, "serving", "armsim-modbus", self.log)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


class RosCore:
    """A real ROS master from Debian's `ros-core`, on a free port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "RosCore":
        if not shutil.which("roscore"):
            raise RuntimeError("the ROS tests need a ROS master (roscore): apt-get install ros-core (./scripts/test does)")
        env = dict(os.environ, ROS_MASTER_URI=self.uri, ROS_HOSTNAME="127.0.0.1", ROS_LOG_DIR=os.environ.get("ROS_LOG_DIR", "/tmp/armature-roslog"))
        self.proc = subprocess.Popen(["roscore", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + 20
        import xmlrpc.client

        while time.monotonic() < deadline:
            try:
                xmlrpc.client.ServerProxy(self.uri).getSystemState("/test")
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"roscore did not answer on {self.uri}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            # roslaunch starts rosmaster and rosout in sessions of their own, out of reach of
            # roscore's process group. Kill roslaunch first (it respawns rosout), then them.
            children = descendants(self.proc.pid)
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def descendants(pid: int) -> list[int]:
    """The processes below `pid` (children, their children, ...), from /proc."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # The command may hold spaces and parentheses: the fields follow the last ')'.
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        todo += kids
    return found


def marked_processes(also: str) -> list[str]:
    """Running processes this suite started: those carrying RUN_MARK in their environment,
    or naming `also` (the tests' temporary directory) on their command line, which catches
    the servers that an MCP client started over stdio with an environment of its own."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if cmdline and (RUN_MARK.encode() in environ or also in cmdline):
            found.append(f"{entry} {cmdline}")
    return found


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind(tmp_path_factory):
    """Fails the run, naming them, if processes the tests started outlive the suite."""
    base = f"{tmp_path_factory.getbasetemp()}/"
    yield
    deadline = time.monotonic() + 10  # time for a process being stopped to exit
    while (left := marked_processes(base)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        pytest.fail("processes started by the tests outlived the suite:\n" + "\n".join(left), pytrace=False)


class RosSim:
    """A running `armsim-ros` node."""

    def __init__(self, master: RosCore, *flags: str):
        self.master = master
        self.flags = list(flags)
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []

    def start(self) -> "RosSim":
        path = Path(os.environ.get("ARMSIM_ROS_BIN", ROOT / "target" / "release" / "armsim-ros"))
        if not path.exists():
            raise RuntimeError(f"the armsim-ros binary is missing at {path}: run `cargo build --release --workspace`")
        env = dict(os.environ, ROS_MASTER_URI=self.master.uri, ROS_HOSTNAME="127.0.0.1")
        args = [str(path), "--robot", str(ROOT / "robots" / "ur5e.toml"), *self.flags]
        self.proc = spawn_until(args, "serving", "armsim-ros", self.log, env)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def shipped_paths(text: str) -> str:
    """A shipped config's relative robot and action paths, made absolute."""
    text = text.replace('robot = "../robots/ur5e.toml"', f'robot = "{ROOT / "robots" / "ur5e.toml"}"')
    return text.replace('actions = "actions.toml"', f'actions = "{ROOT / "config" / "actions.toml"}"')


def ros_config(master_uri: str) -> str:
    """The shipped config/ros-ur5e.toml, pointed at `master_uri`."""
    text = (ROOT / "config" / "ros-ur5e.toml").read_text()
    text = shipped_paths(text)
    return text.replace('master_uri = "http://127.0.0.1:11311"', f'master_uri = "{master_uri}"')


def modbus_config(port: int) -> str:
    """The shipped config/modbus-ur5e.toml, pointed at `port`."""
    text = (ROOT / "config" / "modbus-ur5e.toml").read_text()
    text = shipped_paths(text)
    return text.replace('address = "127.0.0.1:5020"', f'address = "127.0.0.1:{port}"')


def armature_bin() -> str:
    path = Path(os.environ.get("ARMATURE_BIN", ROOT / "target" / "release" / "armature"))
    if not path.exists():
        raise RuntimeError(f"the armature binary is missing at {path}: run `cargo build --release` (./scripts/test does)")
    return str(path)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def spawn_until(args: list[str], ready_marker: str, what: str, log: list[str], env: dict | None = None,
                timeout: float = 15) -> subprocess.Popen:
    """Starts `args`, collects its stderr into `log`, and waits for a line with `ready_marker`."""
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    ready = threading.Event()

    def pump():
        assert proc.stderr
        for line in proc.stderr:
            log.append(line)
            if ready_marker in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(timeout):
        proc.kill()
        raise RuntimeError(f"{what} did not start:\n" + "".join(log))
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `armature serve --http` process with its own state directory."""

    def __init__(self, state_dir: Path, config: Path | None = None, wrapper: list[str] | None = None):
        self.state_dir = state_dir
        self.wrapper = wrapper or []
        self.config = config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.proc: subprocess.Popen | None = None
        self.log: list[str] = []

    def start(self) -> "Server":
        args = self.wrapper + [armature_bin(), "serve", "--http", f"127.0.0.1:{self.port}", "--state-dir", str(self.state_dir)]
        if self.config:
            args += ["--config", str(self.config)]
        env = dict(os.environ, ROS_HOSTNAME="127.0.0.1")
        self.proc = spawn_until(args, "is listening on", "armature", self.log, env)
        return self

    def kill9(self):
        assert self.proc
        self.proc.kill()
        self.proc.wait(5)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "state").start()
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path):
    """Starts servers on demand (e.g. with a fault-injection config, or twice on one state dir)."""
    started: list[Server] = []

    def make(config_text: str | None = None, state_dir: Path | None = None, wrapper: list[str] | None = None) -> Server:
        config = None
        if config_text is not None:
            config = tmp_path / f"config{len(started)}.toml"
            config.write_text(config_text)
        s = Server(state_dir or tmp_path / "state", config, wrapper).start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


class Client:
    """A thin helper over the SDK session: returns (is_error, text, structured)."""

    def __init__(self, session: ClientSession):
        self.session = session

    async def call(self, name: str, args: dict | None = None):
        r = await self.session.call_tool(name, args or {})
        text = r.content[0].text if r.content else ""
        capture_text(name, text, "refusal" if r.is_error else "result")
        return bool(r.is_error), text, r.structured_content

    async def ok(self, name: str, args: dict | None = None):
        err, text, sc = await self.call(name, args)
        assert not err, f"{name} refused: {text}"
        return text, sc

    async def state(self):
        return (await self.ok("robot_state"))[1]

    async def wait_done(self, task_id: str, timeout: float = 20.0):
        """Polls task_status until the task ends; returns every record seen."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _, rec = await self.ok("task_status", {"task_id": task_id})
            seen.append(rec)
            if rec["state"] not in ("running", "queued", "awaiting_confirmation"):
                return seen
            import anyio

            await anyio.sleep(0.1)
        raise AssertionError(f"task {task_id} still {seen[-1]['state']} after {timeout} s")


@asynccontextmanager
async def http_client(url: str, token: str | None = None, logs: list | None = None):
    import httpx2

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
    async def on_log(params):
        data = getattr(params, "data", None)
        if isinstance(data, str):
            capture_text("notification", data, "notification")
        elif isinstance(data, dict) and isinstance(data.get("text"), str):
            capture_text("notification", data["text"], "notification")
        if logs is not None:
            logs.append(params)

    async with http, streamable_http_client(url, http_client=http) as streams:
        async with ClientSession(streams[0], streams[1], logging_callback=on_log) as session:
            await session.initialize()
            yield Client(session)


@asynccontextmanager
async def stdio_client_for(state_dir: Path):
    params = StdioServerParameters(command=armature_bin(), args=["serve", "--stdio", "--state-dir", str(state_dir)])
    async with stdio_client(params) as streams:
        async with ClientSession(streams[0], streams[1]) as session:
            await session.initialize()
            yield Client(session)


def vars_list(state_dir: Path) -> dict:
    out = subprocess.run(
        [armature_bin(), "vars", "list", "--state-dir", str(state_dir), "--json"],
        capture_output=True, text=True, timeout=10, check=True,
    )
    return json.loads(out.stdout)


def distance(a, b) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


@pytest.fixture
def ros_sims():
    """Starts a real roscore and an armsim-ros on it (with `flags`); stops both after the test."""
    started = []

    def make(*flags):
        master = RosCore().start()
        started.append(master)
        sim = RosSim(master, *flags).start()
        started.append(sim)
        return master, sim

    yield make
    for p in reversed(started):
        p.stop()


async def wait_connected(c, timeout=20.0):
    """Polls robot_state until the backend's link is up; returns that state."""
    import anyio

    deadline = anyio.current_time() + timeout
    while anyio.current_time() < deadline:
        st = await c.state()
        if st["connected"]:
            return st
        await anyio.sleep(0.1)
    raise AssertionError(f"never connected: {st['link']}")


# The UR5e's `ready`: elbow up, the tool pointing down over the table.
READY = [0.0, -1.5707963267948966, 1.5707963267948966, -1.5707963267948966, -1.5707963267948966, 0.0]


def xyz(pose):
    """A pose's position, [x, y, z]."""
    return [pose["x"], pose["y"], pose["z"]]


async def at_ready(c, timeout=30.0):
    """Moves the arm to `ready` and returns robot_state there."""
    _, ack = await c.ok("move_joints", {"joints": READY, "speed": 1.0})
    final = (await c.wait_done(ack["task_id"], timeout=timeout))[-1]
    assert final["state"] == "succeeded", final
    return await c.state()


def peer_registers(port, address, count):
    """Reads holding registers from armsim-modbus as another Modbus client would."""
    from pymodbus.client import ModbusTcpClient

    peer = ModbusTcpClient("127.0.0.1", port=port)
    assert peer.connect(), "pymodbus could not connect to armsim-modbus"
    try:
        return peer.read_holding_registers(address, count=count).registers
    finally:
        peer.close()


def robot_tcp(port):
    """The TCP position [x, y, z] (m) in armsim-modbus's own TCP pose registers 400-402."""
    return [(r - 65536 if r > 32767 else r) / 10000.0 for r in peer_registers(port, 400, 3)]

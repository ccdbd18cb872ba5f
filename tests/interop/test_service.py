"""`armature serve` as systemd's Type=notify service, without systemd: the test plays the
service manager's notify socket (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID, as systemd sets
them), and reads the memory lock from `robot_state`."""

import shutil
import socket
import time

import pytest

from conftest import http_client

pytestmark = pytest.mark.anyio

# The plugin checks WATCHDOG_PID against its own pid, as sd_watchdog_enabled does: the shell
# sets it to its own pid, then becomes the plugin.
AS_WATCHED = ["sh", "-c", 'WATCHDOG_PID=$$ exec "$0" "$@"']


def receive(sock: socket.socket, until, timeout: float = 15) -> list[str]:
    """Datagrams received until `until(messages)` holds."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while not until(got):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            raise AssertionError(f"the service manager got only {got}")
    return got


async def test_ready_once_listening_watchdog_fed_stopping_at_the_end(make_server, tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        server = make_server(wrapper=AS_WATCHED)
        got = receive(sock, lambda g: any("READY=1" in m for m in g))
        ready = next(m for m in got if "READY=1" in m)
        assert f"STATUS=serving MCP at {server.url}" in ready
        # By the time READY=1 is sent the listener is bound: a client gets in at once.
        async with http_client(server.url) as c:
            await c.ok("robot_state")
        # Fed every 0.5 s (a quarter of the period) while the loop keeps its period.
        got = receive(sock, lambda g: sum("WATCHDOG=1" in m for m in g) >= 3)
        assert not any("watchdog unfed" in m for m in got), got
        server.stop()
        got = receive(sock, lambda g: any("STOPPING=1" in m for m in g))


async def test_no_watchdog_without_the_managers_pid(make_server, tmp_path, monkeypatch):
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        monkeypatch.setenv("WATCHDOG_USEC", "2000000")
        monkeypatch.setenv("WATCHDOG_PID", "1")  # another process's watchdog
        make_server()
        got = receive(sock, lambda g: any("READY=1" in m for m in g))
        sock.settimeout(1.5)
        with pytest.raises(TimeoutError):
            got.append(sock.recv(4096).decode())
        assert not any("WATCHDOG=1" in m for m in got), got


async def test_robot_state_says_memory_is_locked(server):
    async with http_client(server.url) as c:
        state = await c.state()
    assert state["memory_locked"] is True, state["realtime"]
    assert state["realtime"]["memory_locked"] is True and state["realtime"]["memory_note"] is None


async def test_without_permission_robot_state_says_why_memory_is_not_locked(make_server):
    for tool, package in [("prlimit", "util-linux"), ("setpriv", "util-linux")]:
        if not shutil.which(tool):
            pytest.fail(f"this test needs {tool}: apt-get install {package}", pytrace=False)
    server = make_server(wrapper=["prlimit", "--memlock=0", "--", "setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", "--"])
    async with http_client(server.url) as c:
        state = await c.state()
    assert state["memory_locked"] is False
    note = state["realtime"]["memory_note"]
    # A zero limit is refused as EPERM, a small one as ENOMEM: both say the limit.
    assert note.startswith("memory not locked (") and "; RLIMIT_MEMLOCK 0 KiB): a page fault can stall the cycle." in note, note
    assert note.endswith("Set LimitMEMLOCK=infinity or grant CAP_IPC_LOCK.")
    assert any("memory not locked" in l for l in server.log)

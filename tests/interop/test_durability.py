"""Durability is a precondition: a state directory on a small tmpfs that the test fills up or
makes read-only. Nothing is acknowledged that is not on disk, `stop` still works, the state
says so, the disk's recovery is noticed, and a graceful stop names what it could not save.

The tmpfs is mounted by the test, which needs root (CAP_SYS_ADMIN); where it cannot mount,
the test fails and says so."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from conftest import http_client, vars_list

pytestmark = pytest.mark.anyio

FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]
FULL = "The state directory cannot be written: no space left on device. Nothing moved."
READ_ONLY = "The state directory cannot be written: read-only file system. Nothing moved."
# The journal is allocated a segment ahead of its records, so a task's record can fit on a
# full disk; the gate refuses a motion first when the state directory has no room left for
# the progress variables. move_joints waits for a confirmation here.
CONFIG = """robot = "builtin:ur5e"
actions = "builtin:example-cell"
[backend]
kind = "sim"
[confirm.actions]
move_joints = "always"
"""


@contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.fail(f"this test mounts a {size} tmpfs as the state directory and needs root (CAP_SYS_ADMIN); "
                    f"mount said: {r.stderr.strip() or r.returncode}. Run the suite as root (CI does).", pytrace=False)
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path) -> Path:
    """Fills the filesystem of `path` to the last byte; returns the filler file."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for chunk in (1 << 16, 1 << 12, 1 << 8, 1):
            while True:
                try:
                    os.write(fd, b"\0" * chunk)
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    finally:
        os.close(fd)
    return filler


def journal_lines(state: Path) -> list[str]:
    return (state / "tasks.journal").read_bytes().decode().split("\n")


async def test_a_full_state_directory_refuses_what_it_cannot_keep_and_recovers(make_server, tmp_path):
    with tmpfs(tmp_path / "state", "1m") as state:
        server = make_server(CONFIG, state_dir=state)
        async with http_client(server.url) as c:
            _, done = await c.ok("home")
            await c.wait_done(done["task_id"])
            await c.ok("save_position", {"name": "before_full"})
            journal = state / "tasks.journal"
            before = journal.read_bytes()
            filler = fill(state)
            err, text, sc = await c.call("move_to", {"position": "ready"})
            assert err and sc["error"]["code"] == "durability", text
            assert text == FULL
            # Refused before the task's record: the journal (records and the zeros of its
            # allocated segment) is as it was.
            assert journal.read_bytes() == before

            err, text, sc = await c.call("save_position", {"name": "during_full"})
            assert err and sc["error"]["code"] == "durability", text
            assert text == ("The state directory cannot be written: no space left on device. "
                            "The position during full was not saved."), text
            _, positions = await c.ok("list_positions")
            assert "during_full" not in {p["name"] for p in positions["positions"]}

            err, text, sc = await c.call("reset_part_counter")
            assert err and sc["error"]["code"] == "durability", text
            assert text.endswith(": no space left on device. No variable was changed."), text

            st = await c.state()
            assert st["durability"]["ok"] is False
            assert "No space left on device" in st["durability"]["cause"]
            assert st["durability"]["failing_since"]
            assert "The state directory is not writable; motions are refused." in (await c.ok("robot_state"))[0]

            # While failing, new motions are refused, whichever path they take; stop works.
            err, text, sc = await c.call("move_joints", {"joints": FAR})
            assert err and text == FULL, text
            err, text, sc = await c.call("pick_and_place", {"slot": 1})
            assert err and text == FULL, text
            text, _ = await c.ok("stop")
            assert text == "Nothing is moving."
            _, tasks = await c.ok("list_tasks", {"limit": 100})
            assert all(t["action"] != "pick_and_place" for t in tasks["tasks"])

            # The disk recovers: the variables are written again, and the state says so.
            filler.unlink()
            for _ in range(100):
                st = await c.state()
                if st["durability"]["ok"]:
                    break
                await anyio.sleep(0.1)
            assert st["durability"]["ok"] is True, st["durability"]
            assert st["durability"]["recovered_at"]
            # The recovery is in the structured part; the text no longer warns.
            assert "not writable" not in (await c.ok("robot_state"))[0]
            await c.ok("save_position", {"name": "after_full"})
            _, ack = await c.ok("move_to", {"position": "ready"})
            assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        server.stop()
        assert server.proc.returncode == 0, "".join(server.log)
        saved = vars_list(state)
        assert "position.before_full" in saved and "position.after_full" in saved
        assert "position.during_full" not in saved

        # The next start finds only whole records.
        again = make_server(CONFIG, state_dir=state)
        assert not any("damaged lines" in line for line in again.log), "".join(again.log)
        for line in journal_lines(state)[:-1]:
            crc, record = line.split(" ", 1)
            json.loads(record)
        async with http_client(again.url) as c:
            _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
            assert rec["state"] == "succeeded"
        again.stop()


async def test_a_read_only_state_directory_stops_safely_and_says_what_was_lost(make_server, tmp_path):
    with tmpfs(tmp_path / "state", "4m") as state:
        server = make_server(state_dir=state)
        async with http_client(server.url) as c:
            _, moving = await c.ok("move_joints", {"joints": FAR, "speed": 0.05})
            await anyio.sleep(0.5)
            # The directory turns read-only under the running plugin. (A remount of the
            # tmpfs is refused while files are open for writing, so a read-only tmpfs is
            # mounted over it: every write by name now fails as on a read-only disk.)
            with read_only(state):
                # stop works whatever the disk does.
                text, sc = await c.ok("stop")
                assert text == f"Stopping the arm. Task {moving['task_number']} will end cancelled."
                seen = await c.wait_done(moving["task_id"])
                assert seen[-1]["state"] == "cancelled"
                st = await c.state()
                assert st["moving"] is False
                for _ in range(50):
                    if not st["durability"]["ok"]:
                        break
                    await anyio.sleep(0.1)
                    st = await c.state()
                assert "Read-only file system" in st["durability"]["cause"], st["durability"]
                err, text, sc = await c.call("home")
                assert err and sc["error"]["code"] == "durability" and text == READ_ONLY, text
                err, text, sc = await c.call("save_position", {"name": "on_ro"})
                assert err and text == ("The state directory cannot be written: read-only file system. "
                                        "The position on ro was not saved."), text
                # A graceful stop that cannot write the variables says so, and what was lost.
                server.stop()
                assert server.proc.returncode == 1, "".join(server.log)
                said = "".join(server.log)
                assert "cannot be written (Read-only file system); lost on exit: " in said, said
                assert "task_state" in said.split("lost on exit: ")[-1]


@contextmanager
def read_only(path: Path):
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)

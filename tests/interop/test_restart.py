"""`kill -9` mid-motion, restart on the same state directory: nothing is lost, nothing resumes."""

import json
import time

import anyio
import pytest

from conftest import http_client, vars_list

pytestmark = pytest.mark.anyio

FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]


async def test_a_task_running_at_kill_9_reads_interrupted_after_restart(make_server):
    first = make_server()
    async with http_client(first.url) as c:
        _, done = await c.ok("move_joints", {"joints": [0.3, -1.4, 0.2, -1.6, 0.1, 0.1]})
        await c.wait_done(done["task_id"])
        await c.ok("save_position", {"name": "kept"})
        _, ack = await c.ok("move_joints", {"joints": FAR})
        await anyio.sleep(1.0)
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "running" and rec["progress"] > 0
        first.kill9()

    # The variables file is intact right after the kill: it parses and holds the run's state.
    after_kill = vars_list(first.state_dir)
    assert after_kill["task_id"] == ack["task_id"]
    assert after_kill["task_state"] == "running"
    assert len(after_kill["position.kept"]) == 6

    second = make_server(state_dir=first.state_dir)
    async with http_client(second.url) as c:
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "interrupted"
        assert rec["error"]["code"] == "interrupted"
        assert "will not move again by itself" in rec["message"]
        assert rec["finished_at"]
        _, old = await c.ok("task_status", {"task_id": done["task_id"]})
        assert old["state"] == "succeeded"
        # Motion never resumes by itself: the simulated arm restarts at rest.
        await anyio.sleep(0.5)
        st = await c.state()
        assert st["moving"] is False and max(abs(v) for v in st["velocities"]) == 0
        _, positions = await c.ok("list_positions")
        assert "kept" in {p["name"] for p in positions["positions"]}
        # The arm is free for a new task.
        _, ack2 = await c.ok("home")
        assert (await c.wait_done(ack2["task_id"]))[-1]["state"] == "succeeded"
    # The variables are written by their own thread, moments after the state change.
    for _ in range(40):
        restarted = vars_list(first.state_dir)
        if restarted["task_state"] == "succeeded":
            break
        time.sleep(0.05)
    assert restarted["task_id"] == ack2["task_id"] and restarted["task_state"] == "succeeded"


async def test_a_damaged_journal_keeps_its_intact_records(make_server, tmp_path):
    first = make_server()
    async with http_client(first.url) as c:
        _, a = await c.ok("move_joints", {"joints": [0.3, -1.4, 0.2, -1.6, 0.1, 0.1]})
        await c.wait_done(a["task_id"])
        _, b = await c.ok("home")
        await c.wait_done(b["task_id"])
    first.stop()
    journal = first.state_dir / "tasks.journal"
    # A crash mid-append leaves a torn record where the records end, over the zeros of the
    # journal's allocated segment.
    data = journal.read_bytes()
    end = data.find(b"\0") if b"\0" in data else len(data)
    torn = b'7a3c91e0 {"task_id": "torn in the mid'
    journal.write_bytes(data[:end] + torn + data[end + len(torn):])

    second = make_server(state_dir=first.state_dir)
    log = "".join(second.log)
    assert "damaged lines" in log and "intact" in log, log
    assert list(first.state_dir.glob("tasks.journal.corrupt-*")), "the damaged journal was not kept"
    async with http_client(second.url) as c:
        for t in (a, b):
            _, rec = await c.ok("task_status", {"task_id": t["task_id"]})
            assert rec["state"] == "succeeded"


def test_a_damaged_variables_file_stops_start_with_a_clear_message(tmp_path):
    import subprocess

    from conftest import armature_bin

    state = tmp_path / "s"
    state.mkdir()
    (state / "variables.json").write_text('{"task_id": "abc", ')
    r = subprocess.run([armature_bin(), "serve", "--http", "127.0.0.1:0", "--state-dir", str(state)],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "variables.json is damaged" in r.stderr and "line 1" in r.stderr, r.stderr
    assert list(state.glob("variables.json.corrupt-*"))
    r = subprocess.run([armature_bin(), "vars", "list", "--state-dir", str(tmp_path / "empty"), "--json"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and json.loads(r.stdout) == {}

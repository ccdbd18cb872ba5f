"""An audit trail nobody can flush away: megabyte parameters and floods of refusals leave
bounded excerpts, counts, the older history, and log lines of a normal size."""

import json
import subprocess

import pytest

from conftest import armature_bin, http_client

pytestmark = pytest.mark.anyio


async def test_sixty_megabyte_refusals_neither_flush_the_history_nor_the_log(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": [0.1, -1.5, 0.1, -1.5, 0.1, 0.1]})
        await c.wait_done(ack["task_id"])
        name = "x" * 1_000_000  # under the 1 MiB body limit
        for _ in range(60):
            err, text, sc = await c.call("save_position", {"name": name})
            assert err and sc["error"]["code"] == "invalid_name"
            assert len(text) < 300, len(text)
    server.stop()
    out = subprocess.run([armature_bin(), "audit", "--json", "--state-dir", str(server.state_dir)],
                         capture_output=True, text=True, timeout=30, check=True)
    entries = [json.loads(line) for line in out.stdout.splitlines()]
    # The history before the flood is still there.
    assert entries[0]["tool"] == "move_joints" and entries[0]["task_id"] == ack["task_id"]
    assert any(e["tool"] == "task_ended" and e["task_id"] == ack["task_id"] for e in entries)
    refusals = [e for e in entries if e["tool"] == "save_position"]
    whole = [e for e in refusals if "repeated" not in e]
    counted = sum(e.get("repeated", 0) for e in refusals)
    assert len(whole) + counted == 60, (len(whole), counted)
    assert counted > 0
    for e in whole:
        assert e["params"]["name"].endswith("… (1000000 bytes)")
        assert len(json.dumps(e)) < 1024
    # The log carries excerpts, never megabytes.
    longest = max(len(line) for line in server.log)
    assert longest < 2048, longest

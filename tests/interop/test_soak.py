"""Issue 12, "Sessions end": a soak of moves, status polling and abandoned sessions against the
real binary, with its resident memory sampled once a second.

Two live clients (the official SDK) move the arm back and forth and poll task_status and
robot_state. Meanwhile sessions are opened at an even pace, call a tool (so they are told of every
task's end) and are walked away from without a DELETE, as a host does when a chat closes; one in
ten also opens its GET stream and never reads it (it goes away once its session has been closed,
and its stream must have been ended by then). The idle time is short, so the abandoned
sessions are closed while the soak runs.

Passes when, after the warm-up (two idle times: the open sessions have reached their steady
number), the resident memory grows by less than 2 MiB, and once the abandoning stops the session
count returns to the live ones. The task book is bounded by its own setting, `tasks.retention`
(default 1000 finished tasks, 2 to 3 KiB each); the soak keeps 20, so that the book is full before
the warm-up ends and what grows after it is what sessions, notices and polling cost. $ARMATURE_SOAK_S (default 120), $ARMATURE_SOAK_SESSIONS (default
400: the 2 000 in 10 minutes of the issue, at the same pace) and $ARMATURE_SOAK_IDLE_S (default 20)
set the run; the figures are printed, and appended as a JSON line to $ARMATURE_SOAK_REPORT when
set."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import anyio
import pytest

from conftest import http_client
from rawmcp import Raw

pytestmark = pytest.mark.anyio

DURATION_S = float(os.environ.get("ARMATURE_SOAK_S", "120"))
SESSIONS = int(os.environ.get("ARMATURE_SOAK_SESSIONS", "400"))
IDLE_S = float(os.environ.get("ARMATURE_SOAK_IDLE_S", "20"))
WARMUP_S = 2 * IDLE_S
GROWTH_LIMIT_KIB = 2048
LIVE = 2  # the mover and the poller
RETENTION = 20  # finished tasks kept: full within the warm-up
HOME = [0.0, -1.5707963, 0.0, -1.5707963, 0.0, 0.0]
AWAY = [0.4, -1.3, 0.3, -1.8, 0.2, 0.2]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


async def test_memory_stays_flat_and_abandoned_sessions_end(make_server):
    assert DURATION_S > WARMUP_S, f"ARMATURE_SOAK_S={DURATION_S} must exceed the warm-up, {WARMUP_S} s"
    server = make_server(f'robot = "builtin:ur5e"\n[backend]\nkind = "sim"\n[server]\nsession_idle_s = {IDLE_S}\n'
                         f'[tasks]\nretention = {RETENTION}\n')
    pid = server.proc.pid
    start = time.monotonic()
    samples: list[tuple[float, int, int]] = []  # (s since start, RSS KiB, sessions open)
    counts = {"moves": 0, "polls": 0, "abandoned": 0, "unread_streams": 0, "notices_heard": 0}
    open_now = {"n": 0}
    abandoning = {"done": False}
    unread: list = []  # (client, GET response nobody reads, when it was opened)
    streams = {"ended_by_server": 0, "outlived_session": 0}
    notices: list = []

    async with http_client(server.url, logs=notices) as mover, http_client(server.url) as poller:

        async def move():
            targets = [AWAY, HOME]
            while True:
                _, ack = await mover.ok("move_joints", {"joints": targets[counts["moves"] % 2]})
                await mover.wait_done(ack["task_id"], timeout=60)
                counts["moves"] += 1

        async def poll():
            while True:
                if counts["moves"]:
                    await poller.ok("task_status")
                open_now["n"] = (await poller.state())["sessions_open"]
                counts["polls"] += 1
                await anyio.sleep(0.05)

        async def sample():
            while True:
                samples.append((time.monotonic() - start, rss_kib(pid), open_now["n"]))
                await anyio.sleep(1.0)

        async def abandon():
            for i in range(SESSIONS):
                await anyio.sleep(max(0.0, start + i * DURATION_S / SESSIONS - time.monotonic()))
                client = Raw(server.url)
                await client.open()
                await client.ok("robot_state")
                if i % 10 == 0:
                    unread.append((client, await client.get(), time.monotonic()))
                    counts["unread_streams"] += 1
                else:
                    await client.http.aclose()  # walks away: no DELETE
                counts["abandoned"] += 1
            abandoning["done"] = True

        async def collect():
            # A client that never read its GET stream goes away once its session has been
            # closed; by then the server must have ended the stream (what it sent is buffered).
            while unread or not abandoning["done"]:
                if not unread or time.monotonic() < unread[0][2] + IDLE_S + 10:
                    await anyio.sleep(0.5)
                    continue
                client, stream, _ = unread.pop(0)
                try:
                    with anyio.fail_after(20):
                        await stream.aread()
                    streams["ended_by_server"] += 1
                except Exception:
                    streams["outlived_session"] += 1
                await stream.aclose()
                await client.http.aclose()

        async with anyio.create_task_group() as tg:
            for job in (move, poll, sample):
                tg.start_soon(job)
            collector = anyio.Event()

            async def collect_then_tell():
                await collect()
                collector.set()

            tg.start_soon(collect_then_tell)
            await abandon()
            # The last abandoned sessions idle out; the count must come back to the live ones.
            deadline = time.monotonic() + 3 * IDLE_S + 30
            while open_now["n"] != LIVE:
                assert time.monotonic() < deadline, f"{open_now['n']} sessions still open, {LIVE} live"
                await anyio.sleep(0.5)
            with anyio.fail_after(IDLE_S + 60):
                await collector.wait()
            await anyio.sleep(2)  # two more samples at the live count
            tg.cancel_scope.cancel()
        counts["notices_heard"] = len(notices)

    after = [s for s in samples if s[0] >= WARMUP_S]
    assert after, "no sample after the warm-up"
    base = after[0][1]
    peak = max(s[1] for s in after)
    final = samples[-1][1]
    report = {
        "duration_s": DURATION_S, "sessions": SESSIONS, "idle_s": IDLE_S, "warmup_s": WARMUP_S,
        "rss_start_kib": samples[0][1], "rss_after_warmup_kib": base, "rss_peak_after_warmup_kib": peak,
        "rss_final_kib": final, "growth_after_warmup_kib": peak - base,
        "sessions_open_peak": max(s[2] for s in samples), "sessions_open_final": samples[-1][2],
        "unread_streams_ended_by_server": streams["ended_by_server"], **counts,
        "samples": [[round(t, 1), r, n] for t, r, n in samples],
    }
    summary = {k: v for k, v in report.items() if k != "samples"}
    print(f"\nsoak: {json.dumps(summary)}")
    if os.environ.get("ARMATURE_SOAK_REPORT"):
        with open(os.environ["ARMATURE_SOAK_REPORT"], "a") as f:
            f.write(json.dumps(report) + "\n")
    assert samples[-1][2] == LIVE
    assert streams["outlived_session"] == 0, f"GET streams outlived their idle session: {summary}"
    assert peak - base < GROWTH_LIMIT_KIB, f"resident memory grew {peak - base} KiB after the warm-up: {summary}"

#!/usr/bin/env python3
"""Ack latency of `move_joints` through the official Python MCP client over streamable HTTP,
and the executor's wake-up latency as `robot_state` reports it. Prints a Markdown table.

    ./scripts/test   # once, to build the binary and the venv
    .venv/bin/python benches/ack_latency.py [--calls 200]

Each call is a real motion task (a short move, alternating between two targets); only
the tool call itself is timed, then the bench waits for the task to end before the next.
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
from conftest import Server, http_client  # noqa: E402

A = [0.0, -1.5708, 0.0, -1.5708, 0.0, 0.0]
B = [0.02, -1.55, 0.02, -1.55, 0.02, 0.02]


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, int(round(q * len(xs) + 0.5)) - 1))]


async def run(calls: int):
    with tempfile.TemporaryDirectory() as d:
        server = Server(Path(d) / "state").start()
        try:
            async with http_client(server.url) as c:
                await c.ok("robot_state")  # warm the session
                acks = []
                for i in range(calls):
                    t0 = time.perf_counter()
                    _, ack = await c.ok("move_joints", {"joints": B if i % 2 == 0 else A, "speed": 1.0})
                    acks.append((time.perf_counter() - t0) * 1e3)
                    assert ack["state"] == "running"
                    await c.wait_done(ack["task_id"])
                status = []
                _, ack = await c.ok("move_joints", {"joints": [1.0, -1.0, 0.5, -1.5, 0.3, 0.3]})
                while True:
                    t0 = time.perf_counter()
                    _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
                    status.append((time.perf_counter() - t0) * 1e3)
                    if rec["state"] != "running":
                        break
                _, st = await c.ok("robot_state")
                rt = st["realtime"]
            await asyncio.sleep(0.5)  # let the audit writer catch up
            audit = [json.loads(l) for l in (server.state_dir / "audit.log").read_text().splitlines()]
        finally:
            server.stop()
    inside = {tool: [a["elapsed_us"] / 1e3 for a in audit if a["tool"] == tool] for tool in ("move_joints", "task_status")}
    inside["move_joints"] = inside["move_joints"][:calls]
    print(f"| figure | p50 | p99 | max | n |")
    print(f"| --- | --- | --- | --- | --- |")
    print(f"| move_joints ack, Python mcp client over HTTP (ms) | {statistics.median(acks):.2f} | {pct(acks, 0.99):.2f} | {max(acks):.2f} | {len(acks)} |")
    for tool, label in (("move_joints", "move_joints ack"), ("task_status", "task_status")):
        xs = inside[tool]
        print(f"| {label}, inside the plugin: arguments in to result out (ms) | {statistics.median(xs):.3f} | {pct(xs, 0.99):.3f} | {max(xs):.3f} | {len(xs)} |")
    print(f"| task_status while moving, same client (ms) | {statistics.median(status):.2f} | {pct(status, 0.99):.2f} | {max(status):.2f} | {len(status)} |")
    print(f"| executor wake-up latency, {rt['policy']} prio {rt['priority']} at {rt['target_rate_hz']:.0f} Hz (µs) | {rt['latency_p50_us']:.0f} | {rt['latency_p99_us']:.0f} | {rt['latency_max_us']:.0f} | {rt['cycles']} cycles, {rt['overruns']} overruns, p99.9 {rt['latency_p999_us']:.0f} µs |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=200)
    asyncio.run(run(p.parse_args().calls))

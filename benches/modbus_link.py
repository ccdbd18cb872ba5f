#!/usr/bin/env python3
"""Time from a dropped Modbus connection to `robot_state` reporting it, and from the robot's
return to the link being up again. Prints a Markdown table.

    ./scripts/test   # once, to build the binaries and the venv
    .venv/bin/python benches/modbus_link.py [--rounds 10]

Each round kills `armsim-modbus` (the robot's server goes away: the connection is reset),
polls `robot_state` over MCP as fast as the client can until it says the link is down, then
starts the simulator again on the same port and waits until the link is back up.
"""

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
from conftest import ModbusSim, Server, http_client, modbus_config  # noqa: E402


async def until(c, up: bool) -> float:
    t0 = time.perf_counter()
    while True:
        _, st = await c.ok("robot_state")
        if st["link"]["up"] == up and (not up or st["connected"]):
            return time.perf_counter() - t0


async def run(rounds: int):
    sim = ModbusSim().start()
    with tempfile.TemporaryDirectory() as d:
        config = Path(d) / "modbus.toml"
        config.write_text(modbus_config(sim.port))
        server = Server(Path(d) / "state", config).start()
        down, back, causes = [], [], set()
        try:
            async with http_client(server.url) as c:
                await until(c, True)
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    sim.stop()
                    await until(c, False)
                    down.append((time.perf_counter() - t0) * 1e3)
                    _, st = await c.ok("robot_state")
                    causes.add(st["link"]["cause"])
                    sim = ModbusSim(port=sim.port).start()
                    back.append(await until(c, True) * 1e3)
        finally:
            server.stop()
            sim.stop()
    print("| figure | median (ms) | max (ms) | n |")
    print("| --- | --- | --- | --- |")
    print(f"| connection dropped → robot_state says unreachable | {statistics.median(down):.1f} | {max(down):.1f} | {len(down)} |")
    print(f"| simulator back → link up and state fresh (includes the backoff) | {statistics.median(back):.0f} | {max(back):.0f} | {len(back)} |")
    print(f"\ncauses reported: {', '.join(sorted(causes))}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=10)
    asyncio.run(run(p.parse_args().rounds))

#!/usr/bin/env python3
"""Latency from a joint-state message leaving `armsim-ros` to Armature's motion cycle seeing it,
through a real roscore; with `rostopic delay` on the same topic as the reference. Prints a table.

    ./scripts/test   # once: builds the binaries, installs ros-core and the venv
    .venv/bin/python benches/ros_latency.py [--seconds 20]

The simulator stamps each message when it publishes it; the plugin takes that stamp as the
sample time, and its cycle records the age of each new state the first time it reads it
(`robot_state.realtime.state_age_*`). Same host, same clock.
"""

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "interop"))
from conftest import RosCore, RosSim, Server, http_client, ros_config  # noqa: E402


async def run(seconds: float):
    master = RosCore().start()
    sim = RosSim(master).start()
    with tempfile.TemporaryDirectory() as d:
        config = Path(d) / "ros.toml"
        config.write_text(ros_config(master.uri))
        server = Server(Path(d) / "state", config).start()
        env = dict(os.environ, ROS_MASTER_URI=master.uri, ROS_HOSTNAME="127.0.0.1")
        delay = subprocess.Popen(["rostopic", "delay", "-w", "1000", "/joint_states"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            async with http_client(server.url) as c:
                await asyncio.sleep(1.5)
                await c.ok("robot_state")
                t0 = time.monotonic()
                await asyncio.sleep(seconds)
                _, st = await c.ok("robot_state")
                rt = st["realtime"]
        finally:
            delay.terminate()
            out = delay.communicate(timeout=10)[0]
            server.stop()
            sim.stop()
            master.stop()
    means = re.findall(r"average delay: ([0-9.]+)", out)
    print("| figure | p50 (µs) | p99 (µs) | n |")
    print("| --- | --- | --- | --- |")
    print(f"| joint state: armsim-ros publish → Armature's cycle sees it | {rt['state_age_p50_us']:.0f} | {rt['state_age_p99_us']:.0f} | {rt['states_seen']} |")
    if means:
        # rostopic prints the mean delay in seconds with three decimals.
        print(f"| reference: `rostopic delay` (Python subscriber), mean | {means[-1]} s (mean, ms resolution) | — | {len(means)} reports |")
    print(f"\nmeasured over {time.monotonic() - t0:.0f} s at 125 Hz; the cycle runs at {rt['target_rate_hz']:.0f} Hz ({rt['policy']})")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20)
    asyncio.run(run(p.parse_args().seconds))

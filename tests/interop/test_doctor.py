"""`armature doctor` on this machine: it passes here, and each broken part fails with its own line.

Without SCHED_FIFO is reproduced with `prlimit --rtprio=0` and `setpriv` dropping CAP_SYS_NICE
from the bounding set; a read-only state directory with a read-only bind mount in a mount
namespace of its own (`unshare -m`), so nothing outlives the test.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, ModbusSim, armature_bin, free_port, modbus_config

# The failure cases measure the loop briefly: their point is another line.
SHORT = ["--measure-s", "0.5"]


def need(tool: str, package: str):
    if not shutil.which(tool):
        pytest.fail(f"this test needs {tool}: apt-get install {package}", pytrace=False)


def sim_config(tmp_path: Path) -> Path:
    """The built-in simulator config on a free port (7400 may be taken on a shared machine)."""
    text = (ROOT / "config" / "default.toml").read_text()
    text = text.replace('http = "127.0.0.1:7400"', f'http = "127.0.0.1:{free_port()}"')
    path = tmp_path / "sim.toml"
    path.write_text(text)
    return path


def doctor(config: Path, state_dir: Path, *extra: str, wrapper: list[str] | None = None, json_out=False):
    args = (wrapper or []) + [armature_bin(), "doctor", "--config", str(config), "--state-dir", str(state_dir), *extra]
    if json_out:
        args.append("--json")
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def line(out: str, name: str) -> str:
    """The report line of check `name` (with its fix line, if any)."""
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l[6:].startswith(name + " ") or l[6:] == name:
            fix = lines[i + 1] if i + 1 < len(lines) and "fix:" in lines[i + 1] else ""
            return l + "\n" + fix
    raise AssertionError(f"no {name} line in:\n{out}")


def failed(out: str) -> list[str]:
    """The names of the checks that failed, but for the loop's latency: that one is a
    measurement of how busy the machine is right now (its figure is printed; armature-bench
    owns timing), so a test does not take its verdict."""
    names = [l[6:].split("  ")[0] for l in out.splitlines() if l.startswith("FAIL")]
    return [n for n in names if n != "loop latency"]


def exit_status(out: str) -> int:
    """What doctor exits with: 1 if any check failed."""
    return 1 if any(l.startswith("FAIL") for l in out.splitlines()) else 0


def test_doctor_passes_on_this_machine(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    r = doctor(sim_config(tmp_path), state)
    print(r.stdout)
    assert failed(r.stdout) == [] and r.returncode == exit_status(r.stdout), r.stdout + r.stderr
    for name in ["scheduling", "memory lock", "kernel", "cpu frequency", "isolated cpus", "clock source",
                 "loop latency", "state dir", "config", "robot file", "action file", "robot link",
                 "http address", "operators"]:
        assert line(r.stdout, name)
    assert line(r.stdout, "scheduling").startswith("PASS  scheduling       SCHED_FIFO at priority 80 permitted (CAP_SYS_NICE)")
    assert "500 Hz for 5.0 s under SCHED_FIFO 80: wake-up p99" in line(r.stdout, "loop latency")
    assert r.stdout.splitlines()[-1].endswith(f", {exit_status(r.stdout)} fail")


def test_doctor_json_has_every_check_with_its_status(tmp_path):
    r = doctor(sim_config(tmp_path), tmp_path, *SHORT, json_out=True)
    report = json.loads(r.stdout)
    timed = [c for c in report["checks"] if c["name"] == "loop latency"]
    assert len(timed) == 1 and "wake-up p99" in timed[0]["detail"], r.stdout
    others = [c for c in report["checks"] if c["name"] != "loop latency"]
    assert {c["status"] for c in others} <= {"pass", "warn"}, r.stdout
    assert r.returncode == (1 if timed[0]["status"] == "fail" else 0), r.stdout
    assert all(c["fix"] for c in report["checks"] if c["status"] != "pass")
    assert report["pass"] + report["warn"] + report["fail"] == len(report["checks"])


def test_without_sched_fifo_the_scheduling_line_fails(tmp_path):
    need("prlimit", "util-linux")
    need("setpriv", "util-linux")
    wrapper = ["prlimit", "--rtprio=0", "--", "setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice", "--"]
    r = doctor(sim_config(tmp_path), tmp_path, *SHORT, wrapper=wrapper)
    assert r.returncode == 1, r.stdout + r.stderr
    got = line(r.stdout, "scheduling")
    assert got.startswith("FAIL  scheduling       SCHED_FIFO at priority 80 not permitted (RLIMIT_RTPRIO 0, no CAP_SYS_NICE)"), got
    assert "fix: run as armature.service does (LimitRTPRIO=90, AmbientCapabilities=CAP_SYS_NICE)" in got
    assert "under SCHED_OTHER" in line(r.stdout, "loop latency")
    assert failed(r.stdout) == ["scheduling"], r.stdout


def test_a_read_only_state_dir_fails(tmp_path):
    need("unshare", "util-linux")
    state = tmp_path / "state"
    state.mkdir()
    config = sim_config(tmp_path)
    script = f'mount --bind "{state}" "{state}" && mount -o remount,bind,ro "{state}" && exec "$0" "$@"'
    r = doctor(config, state, *SHORT, wrapper=["unshare", "-m", "sh", "-c", script])
    assert r.returncode == 1, r.stdout + r.stderr
    got = line(r.stdout, "state dir")
    assert got.startswith(f"FAIL  state dir        {state} is not writable: Read-only file system (os error 30)"), got
    assert "fix: sudo install -d -o armature -g armature -m 0750" in got


def test_a_refusing_modbus_address_fails(tmp_path):
    port = free_port()  # nothing listens there
    config = tmp_path / "modbus.toml"
    config.write_text(modbus_config(port).replace('http = "127.0.0.1:7400"', f'http = "127.0.0.1:{free_port()}"'))
    r = doctor(config, tmp_path, *SHORT)
    assert r.returncode == 1, r.stdout + r.stderr
    got = line(r.stdout, "modbus")
    assert got.startswith(f"FAIL  modbus           cannot connect to 127.0.0.1:{port}: Connection refused"), got
    assert "fix: check [modbus] address" in got


def doctor_on_modbus_sim(tmp_path, *sim_args: str):
    """doctor on a Modbus config pointed at a fresh armsim-modbus; returns (result, its port)."""
    sim = ModbusSim(*sim_args).start()
    try:
        config = tmp_path / "modbus.toml"
        config.write_text(modbus_config(sim.port).replace('http = "127.0.0.1:7400"', f'http = "127.0.0.1:{free_port()}"'))
        return doctor(config, tmp_path, *SHORT), sim.port
    finally:
        sim.stop()


def test_a_stalled_companion_heartbeat_fails(tmp_path):
    r, port = doctor_on_modbus_sim(tmp_path, "--companion-stopped")
    assert r.returncode == 1, r.stdout + r.stderr
    assert line(r.stdout, "modbus").startswith(f"PASS  modbus           connected to 127.0.0.1:{port}")
    got = line(r.stdout, "companion")
    assert got.startswith("FAIL  companion        the robot program armature.script is not running: heartbeat register 254 stood at"), got
    assert "fix: load armature.script on the pendant and press Play" in got


def test_a_running_companion_passes(tmp_path):
    r, _ = doctor_on_modbus_sim(tmp_path)
    assert line(r.stdout, "companion").startswith("PASS  companion        armature.script runs: heartbeat register 254 went from"), r.stdout


def test_an_address_served_by_armature_passes_and_one_taken_by_another_program_fails(tmp_path, make_server):
    import socket

    server = make_server()
    config = tmp_path / "taken.toml"
    config.write_text((ROOT / "config" / "default.toml").read_text().replace("127.0.0.1:7400", f"127.0.0.1:{server.port}"))
    r = doctor(config, tmp_path, *SHORT)
    assert line(r.stdout, "http address").startswith(f"PASS  http address     127.0.0.1:{server.port} is served by a running Armature"), r.stdout
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        config.write_text((ROOT / "config" / "default.toml").read_text().replace("127.0.0.1:7400", f"127.0.0.1:{port}"))
        r = doctor(config, tmp_path, *SHORT)
    assert r.returncode == 1
    assert line(r.stdout, "http address").startswith(f"FAIL  http address     127.0.0.1:{port} is in use by another program"), r.stdout


def test_off_loopback_without_operators_fails(tmp_path):
    config = tmp_path / "open.toml"
    config.write_text((ROOT / "config" / "default.toml").read_text().replace("127.0.0.1:7400", f"0.0.0.0:{free_port()}"))
    r = doctor(config, tmp_path, *SHORT)
    assert r.returncode == 1
    got = line(r.stdout, "operators")
    assert "is not loopback and no [[operators]] are configured: serve refuses to start" in got, got
    assert "fix: armature token new NAME" in got


def test_ros_master_down_then_up_with_the_controller(tmp_path):
    from conftest import RosCore, RosSim, ros_config

    def ros_doctor(uri: str):
        config = tmp_path / "ros.toml"
        config.write_text(ros_config(uri).replace('http = "127.0.0.1:7400"', f'http = "127.0.0.1:{free_port()}"'))
        return doctor(config, tmp_path, *SHORT)

    down = f"http://127.0.0.1:{free_port()}"
    r = ros_doctor(down)
    assert r.returncode == 1
    got = line(r.stdout, "ros")
    assert got.startswith(f"FAIL  ros              the ROS master at {down} does not answer"), got
    assert "fix: start roscore" in got

    master = RosCore().start()
    try:
        r = ros_doctor(master.uri)
        got = line(r.stdout, "ros")
        assert got.startswith(f"FAIL  ros              master {master.uri} answers, but nobody publishes /joint_states"), got
        sim = RosSim(master).start()
        try:
            r = ros_doctor(master.uri)
        finally:
            sim.stop()
    finally:
        master.stop()
    assert line(r.stdout, "ros").startswith(
        f"PASS  ros              master {master.uri}, /joint_states published, action server at /scaled_pos_joint_traj_controller/follow_joint_trajectory"), r.stdout

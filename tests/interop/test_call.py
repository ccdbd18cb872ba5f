"""`armature call`: the CLI's MCP client (rmcp) against the real binary, as a CI script uses it."""

import json
import subprocess
import time

from conftest import armature_bin, free_port, vars_list


def call(url: str, *args: str, env: dict | None = None, timeout: float = 60):
    return subprocess.run([armature_bin(), "call", "--url", url, *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_move_to_ready_with_wait_ends_succeeded_and_exits_0(server):
    r = call(server.url, "move_to", "position=ready", "--wait")
    assert r.returncode == 0, r.stdout + r.stderr
    ack, final = r.stdout.strip().splitlines()
    assert ack.startswith("Moving to ready") and ack.endswith(".")
    assert final.startswith("Arrived at ready") and final.endswith("succeeded."), final
    assert vars_list(server.state_dir)["task_state"] == "succeeded"
    state = json.loads(call(server.url, "robot_state", "--json").stdout)
    assert state["moving"] is False


def test_a_refused_call_exits_2_with_the_refusal_text(server):
    r = call(server.url, "move_to", "position=nowhere", "--wait")
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stdout == ""
    assert r.stderr.startswith("There is no position named nowhere. Some are "), r.stderr
    r = call(server.url, "move_joints", "joints=[9,0,0,0,0,0]")
    assert r.returncode == 2
    assert r.stderr == "The shoulder pan stops at 360 degrees, not 516. Nothing moved.\n", r.stderr


def test_a_stopped_task_exits_4(server):
    waiting = subprocess.Popen([armature_bin(), "call", "--url", server.url, "move_joints",
                                '{"joints": [2.0, -1.0, 1.0, -1.2, 0.5, 0.5], "speed": 0.05}', "--wait"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while vars_list(server.state_dir).get("task_state") != "running":
            assert time.monotonic() < deadline, "the motion never started"
            time.sleep(0.1)
        assert call(server.url, "stop").returncode == 0
        out, err = waiting.communicate(timeout=30)
    finally:
        if waiting.poll() is None:
            waiting.kill()
            waiting.wait()
    assert waiting.returncode == 4, out + err
    assert out.strip().splitlines()[-1].startswith("Stopped "), out


def test_list_prints_every_tool(server):
    r = call(server.url, "--list")
    assert r.returncode == 0, r.stderr
    names = [l.split()[0] for l in r.stdout.splitlines()]
    for tool in ["move_to", "move_joints", "home", "task_status", "stop", "robot_state", "pick_and_place"]:
        assert tool in names


def test_bad_arguments_and_no_server_exit_1_saying_why(server):
    r = call(server.url, "move_to", "ready")
    assert r.returncode == 1
    assert r.stderr.startswith('armature: "ready" is not key=value'), r.stderr
    url = f"http://127.0.0.1:{free_port()}/mcp"
    r = call(url, "robot_state")
    assert r.returncode == 1 and f"cannot open an MCP session at {url}" in r.stderr, r.stderr


def test_a_token_from_the_environment_is_sent(make_server):
    import os

    config = '\n'.join(['robot = "builtin:ur5e"', "[backend]", 'kind = "sim"',
                        "[[operators]]", 'name = "ci"', 'token_env = "ARMATURE_TOKEN_CI"', ""])
    env = dict(os.environ, ARMATURE_TOKEN_CI="arm_ci_plaintext_token")
    os.environ["ARMATURE_TOKEN_CI"] = env["ARMATURE_TOKEN_CI"]
    try:
        server = make_server(config)
    finally:
        del os.environ["ARMATURE_TOKEN_CI"]
    r = call(server.url, "list_tasks", "--token-env", "ARMATURE_TOKEN_CI", env=env)
    assert r.returncode == 0, r.stderr
    r = call(server.url, "list_tasks")
    assert r.returncode == 1, r.stderr
    assert r.stderr.endswith("HTTP 401: the server needs an operator's token (give --token-env VAR)\n"), r.stderr
    r = call(server.url, "list_tasks", "--token-env", "ARMATURE_UNSET_VAR")
    assert r.returncode == 1 and "--token-env ARMATURE_UNSET_VAR: the variable is not set" in r.stderr

"""Bad input gets a clear refusal naming the value and the limit, no task and no motion."""

import json
import math
import subprocess

import anyio
import pytest

from conftest import armature_bin, http_client

pytestmark = pytest.mark.anyio

HOME = [0.0, -math.pi / 2, 0.0, -math.pi / 2, 0.0, 0.0]

REFUSALS = [
    ("move_joints", {"joints": [0.1, None, 0.0, -1.5, 0.0, 0.0]}, "not_finite",
     "Joint 2 is empty, as NaN or infinity arrive"),
    ("move_joints", {"joints": [0.1, -1.5, "NaN", -1.5, 0.0, 0.0]}, "not_finite",
     "Joint 3 is the text NaN"),
    ("move_joints", {"joints": [0.1, -1.5, "Infinity", -1.5, 0.0, 0.0]}, "not_finite",
     "Joint 3 is the text Infinity"),
    ("move_joints", {"joints": [0.0, -1.5, 4.0, -1.5, 0.0, 0.0]}, "out_of_range",
     "The elbow stops at 180 degrees, not 229. Nothing moved."),
    ("move_joints", {"joints": [7.0, -1.5, 0.0, -1.5, 0.0, 0.0]}, "out_of_range",
     "The shoulder pan stops at 360 degrees, not 401. Nothing moved."),
    ("move_joints", {"joints": [0.0, -1.5, 0.0]}, "out_of_range",
     "That gives 3 joint values; the robot has 6 joints. Nothing moved."),
    ("move_joints", {"joints": [0.0] * 7}, "out_of_range", "That gives 7 joint values; the robot has 6 joints."),
    ("move_joints", {"joints": "home"}, "invalid_type", "Joints must be a list of numbers, not the text home."),
    ("move_joints", {}, "missing_parameter", "Joints are required"),
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "speed": 0}, "out_of_range",
     "Speed must be above 0 and at most 1; 0 is not. Nothing moved."),
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "speed": 1.5}, "out_of_range",
     "at most 1; 1.5 is not."),
    ("home", {"speed": -0.2}, "out_of_range", "at most 1; minus 0.2 is not."),
    ("home", {"speed": "fast"}, "invalid_type", "Speed must be a number, not the text fast."),
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "sped": 0.1}, "unknown_parameter",
     "Move joints has no setting called sped. It takes joints, speed"),
    # Tiny speeds: refused with the minimum, every number said finite and rounded.
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "speed": 1e-9}, "out_of_range",
     "The move at under 0.1 percent speed is slower than the least allowed, 1 percent. Nothing moved."),
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "speed": 1e-300}, "out_of_range",
     "The move at under 0.1 percent speed is slower than the least allowed, 1 percent."),
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "speed": 5e-324}, "out_of_range",
     "The move at under 0.1 percent speed is slower than the least allowed, 1 percent."),
    ("home", {"speed": 0.009}, "out_of_range", "The move at 0.9 percent speed is slower than the least allowed, 1 percent."),
    ("move_joints", {"joints": [0.1, -1.2, 0.5, -1.8, 0.3, 0.2], "speed": 1e300}, "out_of_range",
     "at most 1; more than a billion is not."),
    # Only positions are positions.
    ("move_to", {"position": "position.home"}, "unknown_position", "There is no position named position home."),
    ("move_to", {"position": "x" * 100_000}, "unknown_position",
     "There is no position by that name. Some are fixture above, home and maintenance."),
    ("save_position", {"name": "x" * 100_000}, "invalid_name", "That is not a usable name"),
    ("move_to", {"position": "kitchen"}, "unknown_position",
     "There is no position named kitchen. Some are fixture above, home and maintenance."),
    ("task_status", {"task_id": "00000000-0000-4000-8000-000000000000"}, "unknown_task",
     "There is no such task."),
    ("task_status", {"task_id": "xyz"}, "invalid_task_id", "The text xyz is not a task"),
    ("cancel_task", {"task_id": "abcd1234"}, "unknown_task", "There is no task abcd1234."),
    ("list_tasks", {"limit": 0}, "out_of_range", "Limit must be a whole number from 1 to 100, not 0."),
    # An absurd number is said in words, never in scientific notation.
    ("list_tasks", {"limit": 1e300}, "out_of_range",
     "Limit must be a whole number from 1 to 100, not more than a billion."),
    ("task_status", {"task_id": -1e300}, "invalid_type",
     "Task id must be a task's number, as in 12, not minus more than a billion."),
    ("save_position", {"name": "#!?"}, "invalid_name", "That is not a usable name: a name needs at least one letter or digit"),
    ("save_position", {"name": "home"}, "reserved_name", "home is a position of the robot file"),
]


@pytest.mark.parametrize("tool,args,code,message", REFUSALS, ids=[f"{r[0]}-{r[2]}-{i}" for i, r in enumerate(REFUSALS)])
async def test_refused_clearly_and_nothing_moves(server, tool, args, code, message):
    async with http_client(server.url) as c:
        err, text, sc = await c.call(tool, args)
        assert err, f"{tool} {args} was accepted: {text}"
        assert sc["error"]["code"] == code
        assert message in text, text
        await anyio.sleep(0.2)
        st = await c.state()
        assert max(abs(a - b) for a, b in zip(st["positions"], HOME)) < 1e-9
        assert st["moving"] is False
        _, tasks = await c.ok("list_tasks")
        assert tasks["tasks"] == []
    # The refusal is in the audit log.
    audit = [json.loads(l) for l in (server.state_dir / "audit.log").read_text().splitlines()]
    assert {"tool": tool, "outcome": "refused", "code": code}.items() <= audit[-1].items() or any(
        a["tool"] == tool and a["code"] == code for a in audit
    )


async def test_unknown_tool_is_a_json_rpc_invalid_params_error_and_audited(server):
    from mcp import MCPError

    async with http_client(server.url) as c:
        with pytest.raises(MCPError) as e:
            await c.call("no_such_tool", {"x": 1})
        assert e.value.code == -32602
        assert 'there is no tool named "no_such_tool"' in e.value.message
        assert e.value.data == {"code": "unknown_tool"}
    audit = [json.loads(l) for l in (server.state_dir / "audit.log").read_text().splitlines()]
    assert any(a["tool"] == "no_such_tool" and a["outcome"] == "refused" and a["code"] == "unknown_tool" for a in audit)


async def test_huge_and_malformed_requests_are_refused_and_serving_goes_on(server):
    import httpx2 as httpx  # the HTTP client the MCP SDK itself uses

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    # A 413 leaves the rest of the body unread, so the server closes that connection: each
    # request gets a client (and a connection) of its own, as a real client would reconnect.
    async with httpx.AsyncClient(timeout=10) as h:
        huge = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"padding": "x" * (2 * 1024 * 1024)}})
        r = await h.post(server.url, content=huge, headers=headers)
        assert r.status_code == 413, (r.status_code, r.text[:200])
    async with httpx.AsyncClient(timeout=10) as h:
        r = await h.post(server.url, content=b"{this is not json", headers=headers)
        assert r.status_code == 400, (r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == -32700
    async with http_client(server.url) as c:
        _, st = await c.ok("robot_state")
        assert st["connected"] is True


def test_huge_line_on_stdio_is_dropped_and_serving_goes_on(tmp_path):
    proc = subprocess.Popen([armature_bin(), "serve", "--stdio", "--state-dir", str(tmp_path / "s")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def send(msg):
        proc.stdin.write((json.dumps(msg) + "\n").encode())
        proc.stdin.flush()

    def answer(want_id):
        while True:
            line = proc.stdout.readline()
            assert line, "server closed stdout"
            msg = json.loads(line)
            if msg.get("id") == want_id:
                return msg

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        assert "result" in answer(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "move_joints", "arguments": {"joints": [0.1] * 6, "pad": "x" * (2 * 1024 * 1024)}}})
        # Python's json writes NaN and Infinity as bare tokens, which are not JSON.
        proc.stdin.write(b'{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "move_joints", '
                         b'"arguments": {"joints": [0.1, NaN, 0.0, -1.5, Infinity, 0.0]}}}\n')
        proc.stdin.flush()
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "robot_state", "arguments": {}}})
        st = answer(3)["result"]["structuredContent"]
        assert st["moving"] is False
        assert max(abs(a - b) for a, b in zip(st["positions"], HOME)) < 1e-9
    finally:
        proc.kill()
        proc.wait(5)


async def test_a_variable_is_not_a_position(server):
    async with http_client(server.url) as c:
        # A first task fills the task_* mirror; the counter action writes a number.
        _, ack = await c.ok("move_joints", {"joints": [0.1, -1.5, 0.1, -1.5, 0.1, 0.1]})
        await c.wait_done(ack["task_id"])
        await c.ok("reset_part_counter")
        cases = [
            ("task_state", "The variable task state holds text, not a position. Nothing moved."),
            ("parts_placed", "The variable parts placed holds a number, not a position. Nothing moved."),
        ]
        for name, says in cases:
            err, text, sc = await c.call("move_to", {"position": name})
            assert err and sc["error"]["code"] == "not_a_position", text
            assert text.startswith(says), text
        err, text, sc = await c.call("save_position", {"name": "task_state"})
        assert err and sc["error"]["code"] == "reserved_name", text
        assert text == "task state is the name of a variable; choose another name."
        _, tasks = await c.ok("list_tasks")
        assert [t["task_id"] for t in tasks["tasks"]] == [ack["task_id"]]


async def test_the_longest_motion_is_refused_with_the_limit(make_server):
    server = make_server('robot = "builtin:ur5e"\nactions = "builtin:example-cell"\n'
                         '[backend]\nkind = "sim"\n[motion]\nmax_motion_s = 2\nmin_speed = 0.05\n')
    async with http_client(server.url) as c:
        err, text, sc = await c.call("move_joints", {"joints": [2.0, -1.0, 1.0, -1.2, 0.5, 0.5], "speed": 0.05})
        assert err and sc["error"]["code"] == "too_long", text
        assert text.startswith("The move would take about ") and text.endswith(
            "; the longest allowed is about 2 seconds. Nothing moved."), text
        err, text, sc = await c.call("home", {"speed": 0.04})
        assert err and text == "The move at 4 percent speed is slower than the least allowed, 5 percent. Nothing moved.", text
        # A custom action names the step that would be too long.
        err, text, sc = await c.call("pick_and_place", {"slot": 5, "speed": 0.1})
        assert err and sc["error"]["code"] == "too_long", text
        assert text.startswith("Step ") and " would take about " in text, text
        _, tasks = await c.ok("list_tasks")
        assert tasks["tasks"] == []

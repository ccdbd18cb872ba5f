"""Motion through the real binary over streamable HTTP, with the official Python MCP client."""

import math
import subprocess

import anyio
import pytest

from conftest import armature_bin, distance, http_client, vars_list

pytestmark = pytest.mark.anyio

HOME = [0.0, -math.pi / 2, 0.0, -math.pi / 2, 0.0, 0.0]
TARGET = [0.6, -1.2, 0.5, -1.8, 0.3, 0.2]
FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]

TOOLS = {"move_joints", "move_to", "home", "task_status", "cancel_task", "stop",
         "list_tasks", "robot_state", "save_position", "list_positions", "confirm_task", "reject_task", "approve_task",
         "resume_task", "gripper", "set_output", "move_linear", "move_pose", "move_relative"}
# The example cell's custom actions, served by the default configuration.
CELL = {"pick_and_place", "present_part", "inspect_slots", "go_to_maintenance", "reset_part_counter"}


async def test_lists_every_builtin_tool_with_schemas(server):
    async with http_client(server.url) as c:
        tools = {t.name: t for t in (await c.session.list_tools()).tools}
        assert set(tools) == TOOLS | CELL
        mj = tools["move_joints"]
        assert mj.input_schema["required"] == ["joints"]
        assert mj.input_schema["properties"]["joints"]["minItems"] == 6
        # Each output schema is anyOf [the result, ..., a refusal] (see src/mcp/schema.rs).
        assert "task_id" in mj.output_schema["anyOf"][0]["properties"]
        assert mj.output_schema["anyOf"][-1]["required"] == ["error"]
        assert tools["task_status"].output_schema["anyOf"][0]["properties"]["state"]["enum"][-1] == "interrupted"
        assert tools["task_status"].meta["armature/scope"] == "background"
        assert tools["home"].meta["armature/scope"] == "foreground"


async def test_move_acks_at_once_then_progresses_to_success(server):
    async with http_client(server.url) as c:
        text, ack = await c.ok("move_joints", {"joints": TARGET, "speed": 0.25})
        assert ack["state"] == "running"
        assert ack["eta_s"] > 1.0
        assert f"Task {ack['task_number']}" in text
        # The acknowledgement came back while the arm is still far from the target.
        assert distance((await c.state())["positions"], TARGET) > 0.3

        seen = await c.wait_done(ack["task_id"])
        progress = [r["progress"] for r in seen]
        assert progress == sorted(progress), f"progress went backwards: {progress}"
        assert any(0 < p < 100 for p in progress), f"no intermediate progress: {progress}"
        final = seen[-1]
        assert final["state"] == "succeeded" and final["progress"] == 100
        assert final["finished_at"] and final["error"] is None
        assert "succeeded" in final["message"]
        st = await c.state()
        assert distance(st["positions"], TARGET) < 0.002
        assert max(abs(v) for v in st["velocities"]) < 0.01


async def test_stop_mid_motion_cancels_and_the_arm_comes_to_rest(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR})
        await anyio.sleep(1.0)
        assert max(abs(v) for v in (await c.state())["velocities"]) > 0.1
        text, out = await c.ok("stop")
        assert out["stopping"] is True and out["task_id"] == ack["task_id"]
        seen = await c.wait_done(ack["task_id"])
        assert seen[-1]["state"] == "cancelled", seen[-1]
        assert 0 < seen[-1]["progress"] < 100
        st = await c.state()
        assert max(abs(v) for v in st["velocities"]) < 0.01
        assert distance(st["positions"], FAR) > 0.3
        assert st["moving"] is False
        # Stop with nothing moving says so.
        text, out = await c.ok("stop")
        assert out["stopping"] is False and text == "Nothing is moving."


async def test_cancel_task_stops_that_task(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_to", {"position": "maintenance"})
        await anyio.sleep(0.5)
        _, out = await c.ok("cancel_task", {"task_id": ack["task_id"][:6]})
        assert out["stopping"] is True
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "cancelled"
        err, text, _ = await c.call("cancel_task", {"task_id": ack["task_id"]})
        assert err and "cancelled; there is nothing to cancel" in text


async def test_a_second_motion_while_busy_is_refused_naming_the_task(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR})
        err, text, sc = await c.call("home")
        assert err
        assert sc["error"]["code"] == "busy"
        assert f"busy with task {ack['task_number']}, move joints. " in text, text
        await c.ok("stop")
        await c.wait_done(ack["task_id"])


async def test_home_move_to_and_saved_positions(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": TARGET, "speed": 1.0})
        assert ack["speed"] == 0.25 and ack["speed_capped"] is True
        await c.wait_done(ack["task_id"])
        _, saved = await c.ok("save_position", {"name": "bench_left"})
        assert distance(saved["joints"], TARGET) < 0.002
        _, ack = await c.ok("home")
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        assert distance((await c.state())["positions"], HOME) < 0.002
        _, ack = await c.ok("move_to", {"position": "bench_left"})
        assert (await c.wait_done(ack["task_id"]))[-1]["state"] == "succeeded"
        assert distance((await c.state())["positions"], TARGET) < 0.004
        _, positions = await c.ok("list_positions")
        by_name = {p["name"]: p["source"] for p in positions["positions"]}
        assert by_name["home"] == "robot" and by_name["bench_left"] == "saved"
        _, tasks = await c.ok("list_tasks", {"limit": 2})
        assert [t["action"] for t in tasks["tasks"]] == ["move_to", "home"]
    # Saved positions are installation variables, on disk.
    assert distance(vars_list(server.state_dir)["position.bench_left"], TARGET) < 0.002


async def test_robot_state_reports_the_realtime_loop(server):
    async with http_client(server.url) as c:
        await anyio.sleep(2.3)
        text, st = await c.ok("robot_state")
        rt = st["realtime"]
        # The loop's figures are summarized once a second: two summaries by now.
        assert rt["policy"] in ("SCHED_FIFO", "SCHED_OTHER")
        assert rt["realtime"] == (rt["policy"] == "SCHED_FIFO")
        assert rt["target_rate_hz"] == 500
        assert 450 < rt["rate_hz"] < 550
        assert rt["cycles"] >= 900
        assert rt["latency_p50_us"] <= rt["latency_p99_us"] <= rt["latency_max_us"]
        assert st["connected"] is True and st["mode"] == "running"
        assert [j["name"] for j in st["joints"]][0] == "shoulder_pan_joint"
        # Upright at home: the tool is about 1.08 m above the base.
        assert abs(st["tcp_pose"]["z"] - 1.0794) < 1e-3
        # The loop's figures are for the screen; the text says what an operator needs.
        assert text == "The UR5e is standing still. The gripper is open.", text


async def test_installation_variables_follow_the_motion(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": FAR})
        await anyio.sleep(0.8)
        first = vars_list(server.state_dir)
        await anyio.sleep(0.6)
        second = vars_list(server.state_dir)
        assert first["task_id"] == ack["task_id"]
        assert first["task_state"] == "running" and first["task_action"] == "move_joints"
        assert 0 < first["task_progress"] < second["task_progress"] < 100
        assert first["task_updated_at"] < second["task_updated_at"]
        await c.wait_done(ack["task_id"])
        await anyio.sleep(0.3)
        done = vars_list(server.state_dir)
        assert done["task_state"] == "succeeded" and done["task_progress"] == 100
    got = subprocess.run([armature_bin(), "vars", "get", "task_state", "--state-dir", str(server.state_dir)],
                         capture_output=True, text=True, timeout=10)
    assert got.returncode == 0 and got.stdout == "succeeded\n"
    missing = subprocess.run([armature_bin(), "vars", "get", "nope", "--state-dir", str(server.state_dir)],
                             capture_output=True, text=True, timeout=10)
    assert missing.returncode == 1 and 'no installation variable named "nope"' in missing.stderr

"""A confirmation the model cannot give: under `[confirm] approval = "human"` the requesting
session's confirm_task is refused; a person approves through the chat app's question
(elicitation, with the official Python SDK declaring it) or the MCP App view; and the view
itself is served as a `ui://` resource that the motion tools link to."""

import json
import subprocess
from contextlib import asynccontextmanager

import anyio
import httpx2
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from conftest import Client, armature_bin, distance, http_client

pytestmark = pytest.mark.anyio

HOME = [0.0, -1.5707963267948966, 0.0, -1.5707963267948966, 0.0, 0.0]
BIG = [1.0, -1.2, 0.5, -1.4, 0.3, 0.2]

HUMAN = """
robot = "builtin:ur5e"
[backend]
kind = "sim"
[confirm]
approval = "human"
expire_s = 30.0
[confirm.actions]
move_joints = "always"
"""

APP_MIME = "text/html;profile=mcp-app"
VIEW = "ui://armature/arm"


@asynccontextmanager
async def asking_client(url: str, answer: str, questions: list):
    """A client that declares elicitation; its user answers every question with `answer`."""

    async def on_question(_ctx, params):
        questions.append(params.message)
        return types.ElicitResult(action=answer, content={} if answer == "accept" else None)

    http = httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=300))
    async with http, streamable_http_client(url, http_client=http) as streams:
        async with ClientSession(streams[0], streams[1], elicitation_callback=on_question) as session:
            await session.initialize()
            yield Client(session)


async def wait_state(c, task_id, states, timeout=20.0):
    """Polls task_status until the task is in one of `states`; returns its record."""
    with anyio.fail_after(timeout):
        while True:
            _, rec = await c.ok("task_status", {"task_id": task_id})
            if rec["state"] in states:
                return rec
            await anyio.sleep(0.1)


def audit(server) -> list[dict]:
    out = subprocess.run([armature_bin(), "audit", "--json", "--state-dir", str(server.state_dir)],
                         capture_output=True, text=True, timeout=30, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


async def test_under_human_approval_the_model_cannot_confirm_its_own_move(make_server):
    server = make_server(HUMAN)
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": BIG})
        assert ack["state"] == "awaiting_confirmation"
        err, text, sc = await c.call("confirm_task", {"task_id": ack["task_id"]})
        assert err and sc["error"]["code"] == "human_approval_required"
        assert text == "A person must approve this move, on the dashboard or in your chat app."
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "awaiting_confirmation"
        st = await c.state()
        assert st["moving"] is False and distance(st["positions"], HOME) < 1e-6

        # Declining is always safe: reject stays open to the requester.
        text, out = await c.ok("reject_task", {"task_id": ack["task_id"]})
        assert out["state"] == "cancelled" and "the arm did not move" in text
        # And stop stays open to all.
        _, ack = await c.ok("move_joints", {"joints": BIG})
        _, out = await c.ok("stop")
        _, rec = await c.ok("task_status", {"task_id": ack["task_id"]})
        assert rec["state"] == "cancelled" and rec["error"]["code"] == "stopped"


async def test_the_users_accept_moves_the_arm_and_the_audit_names_the_channel(make_server):
    server = make_server(HUMAN)
    questions: list[str] = []
    async with asking_client(server.url, "accept", questions) as c:
        _, ack = await c.ok("move_joints", {"joints": BIG})
        assert ack["state"] == "awaiting_confirmation"
        rec = await wait_state(c, ack["task_id"], {"succeeded", "failed", "cancelled"})
        assert rec["state"] == "succeeded", rec
        assert rec["approval"] == {"by": "local", "channel": "elicitation"}
        assert distance((await c.state())["positions"], BIG) < 0.002
    assert len(questions) == 1
    assert questions[0].startswith("This turns the shoulder pan 57 degrees"), questions
    assert questions[0].endswith("Accept to start the move, or decline to drop it.")
    server.stop()
    entries = audit(server)
    answer = [e for e in entries if e["tool"] == "elicitation"]
    assert answer and answer[0]["params"]["answer"] == "accept" and answer[0]["outcome"] == "ok"
    end = [e for e in entries if e["tool"] == "task_ended" and e["task_id"] == ack["task_id"]]
    assert end[0]["params"]["approved_by"] == "local"
    assert end[0]["params"]["approval_channel"] == "elicitation"


@pytest.mark.parametrize("answer", ["decline", "cancel"])
async def test_decline_or_cancel_drops_the_move(make_server, answer):
    server = make_server(HUMAN)
    questions: list[str] = []
    async with asking_client(server.url, answer, questions) as c:
        _, ack = await c.ok("move_joints", {"joints": BIG})
        rec = await wait_state(c, ack["task_id"], {"cancelled", "running", "succeeded"})
        assert rec["state"] == "cancelled" and rec["error"]["code"] == "rejected", rec
        assert "approval" not in rec
        await anyio.sleep(0.3)
        st = await c.state()
        assert st["moving"] is False and distance(st["positions"], HOME) < 1e-6
    assert len(questions) == 1


async def test_the_app_view_is_served_linked_and_its_approve_tool_is_app_only(make_server):
    server = make_server(HUMAN)
    async with http_client(server.url) as c:
        caps = c.session.server_capabilities
        ui = caps.model_dump(by_alias=True)["extensions"]["io.modelcontextprotocol/ui"]
        assert ui["mimeTypes"] == [APP_MIME]
        listed = (await c.session.list_resources()).resources
        assert [(str(r.uri), r.mime_type) for r in listed] == [(VIEW, APP_MIME)]
        read = (await c.session.read_resource(VIEW)).contents
        assert read[0].mime_type == APP_MIME and read[0].text.startswith("<!doctype html>")
        assert "ui/initialize" in read[0].text

        tools = {t.name: t for t in (await c.session.list_tools()).tools}
        for motion in ("move_joints", "move_to", "home"):
            assert tools[motion].meta["ui"] == {"resourceUri": VIEW}, motion
        assert tools["approve_task"].meta["ui"]["visibility"] == ["app"]
        assert "ui" not in tools["robot_state"].meta

        # The view's Approve button (through the host, as the same session) starts the move
        # and the record names the channel.
        _, ack = await c.ok("move_joints", {"joints": BIG})
        text, out = await c.ok("approve_task", {"task_id": ack["task_id"]})
        assert out["state"] == "running" and text == f"Confirmed. Task {ack['task_number']} is moving."
        final = (await c.wait_done(ack["task_id"]))[-1]
        assert final["state"] == "succeeded" and final["approval"] == {"by": "local", "channel": "app"}


def test_an_unknown_approval_is_refused_at_load(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(HUMAN.replace('approval = "human"', 'approval = "humans"'))
    out = subprocess.run([armature_bin(), "check-config", "--config", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "unknown variant `humans`, expected `session` or `human`" in out.stderr, out.stderr

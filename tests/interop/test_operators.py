"""Operators over HTTP: tokens, ownership, roles, origin checks, and the audit trail."""

import json
import subprocess

import anyio
import pytest

from conftest import ROOT, armature_bin, http_client

pytestmark = pytest.mark.anyio

FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def new_token(name: str, role: str) -> tuple[str, str]:
    out = subprocess.run([armature_bin(), "token", "new", name, "--role", role], capture_output=True, text=True, check=True).stdout
    token = out.splitlines()[1].strip()
    block = out[out.index("[[operators]]"):]
    return token, block


@pytest.fixture
def operators(make_server, monkeypatch):
    alice, alice_block = new_token("alice", "operator")
    carol, carol_block = new_token("carol", "observer")
    bob = "arm_bob_plaintext_from_the_environment"
    monkeypatch.setenv("ARMATURE_TOKEN_BOB", bob)
    config = "\n".join([
        'robot = "builtin:ur5e"', "[backend]", 'kind = "sim"', "",
        alice_block, carol_block,
        "[[operators]]", 'name = "bob"', 'token_env = "ARMATURE_TOKEN_BOB"', "",
    ])
    server = make_server(config)
    return server, {"alice": alice, "bob": bob, "carol": carol}


async def test_no_or_a_wrong_token_gets_401_and_nothing_happens(operators):
    import httpx2

    server, tokens = operators
    async with httpx2.AsyncClient(timeout=10) as h:
        r = await h.post(server.url, json=INIT, headers=HEADERS)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"error": "unauthorized", "message": "this server needs an operator's token: send Authorization: Bearer <token>"}
        r = await h.post(server.url, json=INIT, headers={**HEADERS, "Authorization": "Bearer arm_not_a_token"})
        assert r.status_code == 401 and r.json()["message"] == "the bearer token is not an operator's token"
        r = await h.post(server.url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {tokens['alice']}", "Origin": "http://evil.example.com"})
        assert r.status_code == 403 and r.json()["error"] == "foreign_origin"
        r = await h.post(server.url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {tokens['alice']}", "Origin": "http://localhost:7400"})
        assert r.status_code == 200


async def test_ownership_roles_and_stop_for_everyone(operators):
    server, tokens = operators
    async with http_client(server.url, tokens["alice"]) as alice, \
            http_client(server.url, tokens["bob"]) as bob, \
            http_client(server.url, tokens["carol"]) as carol:
        _, ack = await alice.ok("move_joints", {"joints": FAR})
        task = ack["task_id"]
        _, rec = await alice.ok("task_status", {"task_id": task})
        assert rec["owner"] == "alice"

        # Another operator's task answers like one that does not exist (no existence oracle).
        err, text, sc = await bob.call("task_status", {"task_id": task})
        assert err and sc["error"]["code"] == "unknown_task"
        assert text == "There is no such task.", text
        err, text, sc = await bob.call("cancel_task", {"task_id": task})
        assert err and sc["error"]["code"] == "unknown_task"
        _, listed = await bob.ok("list_tasks")
        assert listed["tasks"] == []
        err, text, sc = await carol.call("home")
        assert err and sc["error"]["code"] == "forbidden"
        assert text == "carol is an observer: it may read status and stop, not call home."
        err, text, _ = await carol.call("save_position", {"name": "x"})
        assert err and "carol is an observer" in text
        _, st = await carol.ok("robot_state")
        assert st["task_id"] == task

        # Safety beats ownership: the observer stops alice's motion.
        _, out = await carol.ok("stop")
        assert out["stopping"] is True and out["task_id"] == task
        final = (await alice.wait_done(task))[-1]
        assert final["state"] == "cancelled"
        _, listed = await alice.ok("list_tasks")
        assert [t["task_id"] for t in listed["tasks"]] == [task]

    # Everything is in the audit log, and stays there after a restart.
    server.stop()
    out = subprocess.run([armature_bin(), "audit", "--json", "--state-dir", str(server.state_dir)],
                         capture_output=True, text=True, check=True).stdout
    entries = [json.loads(l) for l in out.splitlines()]
    seen = {(e["operator"], e["tool"], e["outcome"], e.get("code")) for e in entries}
    assert ("alice", "move_joints", "ok", None) in seen
    assert ("bob", "task_status", "refused", "unknown_task") in seen
    assert ("bob", "cancel_task", "refused", "unknown_task") in seen
    assert ("carol", "home", "refused", "forbidden") in seen
    assert ("carol", "stop", "ok", None) in seen
    assert ("alice", "task_ended", "cancelled", None) in seen
    first = entries[0]["time"]
    later = subprocess.run([armature_bin(), "audit", "--json", "--since", "2999-01-01T00:00:00Z", "--state-dir", str(server.state_dir)],
                           capture_output=True, text=True, check=True).stdout
    assert later == "" and first < "2999"


def test_no_operators_and_a_non_loopback_address_refuses_to_start(tmp_path):
    r = subprocess.run([armature_bin(), "serve", "--http", "0.0.0.0:0", "--state-dir", str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1
    assert "refusing to serve on 0.0.0.0:0: it is not a loopback address and no [[operators]] are configured" in r.stderr


def test_a_token_env_that_is_not_set_is_named(tmp_path):
    (tmp_path / "c.toml").write_text('robot = "builtin:ur5e"\n[backend]\nkind = "sim"\n[[operators]]\nname = "dan"\ntoken_env = "ARMATURE_UNSET_TOKEN"\n')
    r = subprocess.run([armature_bin(), "check-config", "--config", str(tmp_path / "c.toml")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert "operator dan: environment variable ARMATURE_UNSET_TOKEN (token_env) is not set" in r.stderr


async def test_the_owners_sessions_hear_how_a_task_ended(operators):
    server, tokens = operators
    logs_alice, logs_bob = [], []
    async with http_client(server.url, tokens["alice"], logs_alice) as alice, \
            http_client(server.url, tokens["bob"], logs_bob) as bob:
        await bob.ok("robot_state")
        _, ack = await alice.ok("move_joints", {"joints": [0.3, -1.4, 0.2, -1.6, 0.1, 0.1]})
        await alice.wait_done(ack["task_id"])
        for _ in range(50):
            if logs_alice:
                break
            await anyio.sleep(0.1)
    assert [l.data for l in logs_alice] == [f"Arrived at the joint target. Task {ack['task_number']} succeeded."]
    assert logs_alice[0].level == "info" and logs_alice[0].logger == "armature"
    assert logs_bob == []  # only the owner's sessions hear it


async def test_an_expired_token_gets_401_naming_when(make_server):
    import httpx2

    token, block = new_token("erin", "operator")
    config = "\n".join(['robot = "builtin:ur5e"', "[backend]", 'kind = "sim"', "", block,
                        'expires = "2026-01-01T00:00:00Z"', ""])
    server = make_server(config)
    async with httpx2.AsyncClient(timeout=10) as h:
        r = await h.post(server.url, json=INIT, headers={**HEADERS, "Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json() == {"error": "token_expired",
                        "message": "erin's token expired at 2026-01-01T00:00:00Z; ask for a new one (armature token new erin)"}

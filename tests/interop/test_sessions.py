"""Issue 12: MCP sessions belong to the operator who opened them, standard parsing of origins,
bearer schemes and task ids, idle sessions that end, and two clients racing on one session id.
Through the real binary over HTTP, by hand (rawmcp.py), because an SDK hides the session id."""

from __future__ import annotations

import json
import random
from collections import Counter
import subprocess
import time

import anyio
import pytest

from conftest import armature_bin, http_client
from rawmcp import HEADERS, NO_SESSION, Raw, answer

pytestmark = pytest.mark.anyio

NEAR = [0.2, -1.4, 0.1, -1.6, 0.1, 0.1]
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
SIM = 'robot = "builtin:ur5e"\n[backend]\nkind = "sim"\n'


def new_token(name: str) -> tuple[str, str]:
    out = subprocess.run([armature_bin(), "token", "new", name], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[1].strip(), out[out.index("[[operators]]"):]


@pytest.fixture
def two_operators(make_server):
    """A server with operators alice and bob, and their tokens."""
    def start(extra: str = ""):
        (alice, a_block), (bob, b_block) = new_token("alice"), new_token("bob")
        server = make_server("\n".join([SIM + extra, a_block, b_block, ""]))
        return server, alice, bob
    return start


def audit(server) -> list[dict]:
    out = subprocess.run([armature_bin(), "audit", "--json", "--state-dir", str(server.state_dir)],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


async def read_all(response, into: list, done: anyio.Event):
    """Collects an SSE stream's data lines until it ends."""
    try:
        async for line in response.aiter_lines():
            if line.startswith("data:") and line[5:].strip():
                into.append(json.loads(line[5:]))
    except Exception as e:  # the stream may be cut when the server closes the session
        into.append({"ended_with": type(e).__name__})
    finally:
        done.set()


async def test_another_operators_session_answers_as_if_it_did_not_exist(two_operators):
    server, alice_token, bob_token = two_operators()
    async with Raw(server.url, alice_token) as alice, Raw(server.url, bob_token) as bob:
        sid = await alice.open()
        ack = await alice.ok("move_joints", {"joints": NEAR})
        unknown = "0d7a6c4e-9f1b-4c2a-8e3d-5b6f7a8c9d0e"

        # A request: what bob hears on alice's session is what he hears on no session at all.
        r_foreign = await bob.post({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                    "params": {"name": "list_tasks", "arguments": {}}}, sid)
        r_unknown = await bob.post({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                                    "params": {"name": "list_tasks", "arguments": {}}}, unknown)
        assert answer(r_foreign) == answer(r_unknown)
        assert (r_foreign.status_code, r_foreign.text) == (404, NO_SESSION)

        # A GET stream: refused the same way, so none of alice's notices can be overheard.
        g_foreign, g_unknown = await bob.get(sid), await bob.get(unknown)
        await g_foreign.aread(), await g_unknown.aread()
        assert answer(g_foreign) == answer(g_unknown)
        assert (g_foreign.status_code, g_foreign.text) == (404, NO_SESSION)

        # A DELETE: refused the same way, and the session lives on.
        d_foreign, d_unknown = await bob.delete(sid), await bob.delete(unknown)
        assert answer(d_foreign) == answer(d_unknown)
        assert (d_foreign.status_code, d_foreign.text) == (404, NO_SESSION)

        listed = await alice.ok("list_tasks")
        assert [t["task_id"] for t in listed["tasks"]] == [ack["task_id"]]
        assert (await alice.ok("robot_state"))["sessions_open"] == 1
        # Her own DELETE ends it; then it is gone for her too.
        assert (await alice.delete()).status_code == 204
        status, _, body = await alice.call("list_tasks")
        assert (status, body) == (404, NO_SESSION)

    server.stop()
    refused = [(e["operator"], e["params"]["method"], e["params"]["owner"]) for e in audit(server)
               if e.get("code") == "foreign_session"]
    assert refused == [("bob", "POST", "alice"), ("bob", "GET", "alice"), ("bob", "DELETE", "alice")]
    assert any("refused: a request on another operator's MCP session" in line for line in server.log)


async def test_only_the_owners_stream_hears_her_task_end(two_operators):
    server, alice_token, bob_token = two_operators()
    async with Raw(server.url, alice_token) as alice, Raw(server.url, bob_token) as bob:
        sid = await alice.open()
        await bob.open()
        await bob.ok("robot_state")  # bob's own session is registered for his notices
        heard_alice, heard_bob, a_done, b_done = [], [], anyio.Event(), anyio.Event()
        stream = await alice.get()
        assert stream.status_code == 200
        bob_stream = await bob.get()
        overheard = await bob.get(sid)
        await overheard.aread()
        assert overheard.status_code == 404
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all, stream, heard_alice, a_done)
            tg.start_soon(read_all, bob_stream, heard_bob, b_done)
            ack = await alice.ok("move_joints", {"joints": NEAR})
            for _ in range(300):
                if any(m.get("method") == "notifications/message" for m in heard_alice):
                    break
                await anyio.sleep(0.1)
            await stream.aclose()
            await bob_stream.aclose()
            tg.cancel_scope.cancel()
    notes = [m["params"]["data"] for m in heard_alice if m.get("method") == "notifications/message"]
    assert notes == [f"Arrived at the joint target. Task {ack['task_number']} succeeded."]
    assert [m for m in heard_bob if m.get("method") == "notifications/message"] == []


async def test_bearer_schemes_and_origins_are_parsed_as_the_standards_say(two_operators):
    import httpx2

    server, alice_token, _ = two_operators()
    async with httpx2.AsyncClient(timeout=10) as h:
        for scheme in ("Bearer", "bearer", "BEARER"):
            r = await h.post(server.url, json=INIT, headers={**HEADERS, "Authorization": f"{scheme} {alice_token}"})
            assert r.status_code == 200, (scheme, r.text)
        auth = {"Authorization": f"Bearer {alice_token}"}
        for origin in ("http://LOCALHOST", "http://localhost:7400", "http://[::1]:7400", "https://127.0.0.1"):
            r = await h.post(server.url, json=INIT, headers={**HEADERS, **auth, "Origin": origin})
            assert r.status_code == 200, (origin, r.text)
        for origin in ("http://[::1]evil.com", "localhost", "http://localhost.evil.com", "http://localhost@evil.com", "null"):
            r = await h.post(server.url, json=INIT, headers={**HEADERS, **auth, "Origin": origin})
            assert r.status_code == 403, (origin, r.text)
            assert r.json() == {"error": "foreign_origin",
                                "message": f"requests from origin {origin} are refused: only local origins may call this server"}


async def test_task_ids_resolve_among_the_callers_own_tasks(two_operators):
    # Every motion waits for confirmation and is rejected: tasks are made fast, none moves.
    server, alice_token, bob_token = two_operators('[tasks]\nretention = 20000\n[confirm.actions]\nmove_joints = "always"\n')
    async with http_client(server.url, alice_token) as alice, http_client(server.url, bob_token) as bob:
        owner_of: dict[str, dict[str, str]] = {}  # 4-digit prefix -> operator -> task id
        shared = None
        for i in range(4000):
            name, client = ("alice", alice) if i % 2 == 0 else ("bob", bob)
            _, ack = await client.ok("move_joints", {"joints": NEAR})
            await client.ok("reject_task", {"task_id": ack["task_id"]})
            prefix = ack["task_id"][:4]
            owner_of.setdefault(prefix, {})[name] = ack["task_id"]
            if len(owner_of[prefix]) == 2:
                shared = prefix
                break
        assert shared, "no two tasks of alice and bob shared 4 digits in 4000 tries"

        # A prefix both have: each gets their own task, nobody hears "ambiguous".
        for name, client in (("alice", alice), ("bob", bob)):
            _, rec = await client.ok("task_status", {"task_id": shared})
            assert rec["task_id"] == owner_of[shared][name] and rec["owner"] == name

        # Alice's task, by prefix or whole id, answers bob exactly like an id that names nothing.
        alices = next(t for p, o in owner_of.items() if set(o) == {"alice"} for t in o.values())
        nothing = next(f"{n:04x}" for n in range(65536) if f"{n:04x}" not in owner_of)
        for tool in ("task_status", "cancel_task", "confirm_task", "reject_task"):
            for asked in (alices[:4], alices):
                err, text, sc = await bob.call(tool, {"task_id": asked})
                assert err and sc["error"]["code"] == "unknown_task", (tool, text)
                assert text == (f"There is no task {asked}." if len(asked) == 4 else "There is no such task."), text
            err, text, sc = await bob.call(tool, {"task_id": nothing})
            assert err and text == f"There is no task {nothing}." and sc["error"]["code"] == "unknown_task"
        _, rec = await alice.ok("task_status", {"task_id": alices[:4]})
        assert rec["task_id"] == alices


async def test_an_idle_session_and_its_stream_are_closed_while_a_busy_one_lives(make_server):
    server = make_server(SIM + "[server]\nsession_idle_s = 5\n")
    async with Raw(server.url) as live, Raw(server.url) as quiet:
        await live.open()
        quiet_sid = await quiet.open()
        await quiet.ok("robot_state")
        heard, ended = [], anyio.Event()
        stream = await quiet.get()  # the quiet client's last request
        assert stream.status_code == 200
        async with anyio.create_task_group() as tg:
            tg.start_soon(read_all, stream, heard, ended)
            assert (await live.ok("robot_state"))["sessions_open"] == 2
            # The busy client moves back and forth: each task's end reaches the quiet session
            # too, and does not keep it open.
            deadline = time.monotonic() + 60
            targets = [NEAR, [0.0, -1.5707963, 0.0, -1.5707963, 0.0, 0.0]]
            moves = 0
            while (st := await live.ok("robot_state"))["sessions_open"] != 1:
                assert time.monotonic() < deadline, "the quiet session was never closed"
                if not st["moving"]:
                    await live.ok("move_joints", {"joints": targets[moves % 2]})
                    moves += 1
                await anyio.sleep(0.1)
            with anyio.fail_after(30):
                await ended.wait()  # its GET stream ended with it
        notes = [m["params"]["data"] for m in heard if m.get("method") == "notifications/message"]
        assert notes and all("succeeded" in n for n in notes), heard
        status, _, body = await quiet.call("robot_state", sid=quiet_sid)
        assert (status, body) == (404, NO_SESSION)
        g = await quiet.get(quiet_sid)
        await g.aread()
        assert (g.status_code, g.text) == (404, NO_SESSION)
        assert (await live.ok("robot_state"))["sessions_open"] == 1
    assert any("closing an idle MCP session" in line for line in server.log)


async def test_two_clients_race_on_one_session_id(two_operators):
    server, alice_token, bob_token = two_operators()
    rng = random.Random(12)
    bad: list = []
    async with Raw(server.url, alice_token) as alice, Raw(server.url, bob_token) as bob:
        # Bob hammers alice's session while she works on it: he gets 404 every time, she never does.
        sid = await alice.open()

        async def alice_works():
            for _ in range(150):
                status, result, body = await alice.call("list_tasks", {"limit": 1})
                if status != 200 or result.get("isError"):
                    bad.append(("alice", status, body))

        async def bob_hammers():
            for i in range(150):
                kind = rng.choice(["post", "get", "delete"])
                if kind == "post":
                    status, _, body = await bob.call("list_tasks", sid=sid)
                elif kind == "get":
                    r = await bob.get(sid)
                    await r.aread()
                    status, body = r.status_code, r.text
                else:
                    r = await bob.delete(sid)
                    status, body = r.status_code, r.text
                if (status, body) != (404, NO_SESSION):
                    bad.append(("bob", kind, status, body))
                await anyio.sleep(rng.random() * 0.003)

        async with anyio.create_task_group() as tg:
            tg.start_soon(alice_works)
            tg.start_soon(bob_hammers)
        assert bad == []
        assert (await alice.ok("robot_state"))["sessions_open"] == 1

        # Two of alice's own clients on one id: one calls while the other deletes. Every call
        # is answered or finds no session; none started after the DELETE answered is served.
        seen = Counter()
        for _ in range(20):
            sid = await alice.open()
            async with Raw(server.url, alice_token, sid) as twin:
                deleted_at: list[float] = []
                outcomes: list = []

                async def caller():
                    for _ in range(30):
                        started = time.monotonic()
                        status, result, body = await twin.call("robot_state")
                        what = body if status != 200 else "cut" if result is None else result.get("isError")
                        outcomes.append((started, status, what))

                async def deleter():
                    await anyio.sleep(rng.random() * 0.05)
                    r = await alice.delete(sid)
                    assert r.status_code == 204, r.text
                    deleted_at.append(time.monotonic())

                async with anyio.create_task_group() as tg:
                    tg.start_soon(caller)
                    tg.start_soon(deleter)
                seen.update((status, what) for _, status, what in outcomes)
                for started, status, what in outcomes:
                    # "cut": the session closed while the call was in flight; its stream ended.
                    if (status, what) not in ((200, False), (404, NO_SESSION), (200, "cut")):
                        bad.append(("twin", status, what))
                    if started > deleted_at[0] and status != 404:
                        bad.append(("served after delete", status, what))
        print(f"calls racing a DELETE of their session: {dict(seen)}")
        assert bad == []
        async with Raw(server.url, alice_token) as last:
            await last.open()
            # The deleted ones are gone: left are alice's first session and this one.
            assert (await last.ok("robot_state"))["sessions_open"] == 2
    server.stop()
    # Past a burst, one caller's repeated refusals are written as counts ("repeated": n).
    assert sum(e.get("repeated", 1) for e in audit(server) if e.get("code") == "foreign_session") == 150

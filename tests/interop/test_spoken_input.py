"""Input as speech-to-text gives it: names said with spaces and capitals, a did-you-mean
for a name that is not there, and tasks asked for by the number their ack says."""

import json
import zlib

import anyio
import pytest

from conftest import http_client

pytestmark = pytest.mark.anyio

NEAR = [0.3, -1.4, 0.2, -1.6, 0.1, 0.1]
FAR = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]


async def test_a_position_saved_by_voice_is_found_again_as_said(server):
    async with http_client(server.url) as c:
        _, ack = await c.ok("move_joints", {"joints": NEAR})
        await c.wait_done(ack["task_id"])
        text, saved = await c.ok("save_position", {"name": "Over The Box"})
        assert saved["name"] == "over_the_box"
        assert saved["label"] == "over the box"
        assert text == "Saved the current position as over the box."

        _, listed = await c.ok("list_positions")
        mine = [p for p in listed["positions"] if p["name"] == "over_the_box"]
        assert mine == [{"name": "over_the_box", "label": "over the box", "joints": saved["joints"],
                         "source": "saved"}]
        robots = {p["name"]: p["label"] for p in listed["positions"] if p["source"] == "robot"}
        assert robots["fixture_above"] == "fixture above"

        _, home = await c.ok("home")
        await c.wait_done(home["task_id"])
        for said in ("over the box", "Over-The-Box"):
            text, ack = await c.ok("move_to", {"position": said})
            assert text.startswith("Moving to over the box"), text
            final = (await c.wait_done(ack["task_id"]))[-1]
            assert final["state"] == "succeeded"
            assert max(abs(a - b) for a, b in zip((await c.state())["positions"], NEAR)) < 1e-3
            _, home = await c.ok("move_to", {"position": "Fixture Above"})
            await c.wait_done(home["task_id"])


async def test_an_unknown_name_suggests_the_names_that_sound_near(server):
    async with http_client(server.url) as c:
        err, text, sc = await c.call("move_to", {"position": "fixture"})
        assert err and sc["error"]["code"] == "unknown_position"
        assert "There is no position named fixture. Did you mean fixture above?" in text, text
        err, text, sc = await c.call("move_to", {"position": "above"})
        assert err and sc["error"]["code"] == "unknown_position"
        hint = text.split("Did you mean ", 1)[1].split("?", 1)[0]
        assert sorted(hint.split(" or ")) == ["fixture above", "tray above"], text

        for name, limit in (("", "at least one letter or digit"), ("?!", "at least one letter or digit"),
                            ("a" * 65, "at most 64 characters; this one has 65")):
            err, text, sc = await c.call("save_position", {"name": name})
            assert err and sc["error"]["code"] == "invalid_name", text
            assert limit in text, text
        _, listed = await c.ok("list_positions")
        assert all(p["source"] == "robot" for p in listed["positions"])


async def test_a_task_is_found_by_its_number_across_a_kill_9(make_server):
    first = make_server()
    async with http_client(first.url) as c:
        text, done = await c.ok("move_joints", {"joints": NEAR})
        n = done["task_number"]
        assert n == 1 and text.endswith("Task 1."), text
        await c.wait_done(done["task_id"])
        for asked in (n, str(n), f"task {n}", f"Task {n}", "Task one", done["task_id"]):
            _, rec = await c.ok("task_status", {"task_id": asked})
            assert rec["task_id"] == done["task_id"] and rec["task_number"] == n, asked
        _, moving = await c.ok("move_joints", {"joints": FAR, "speed": 0.05})
        assert moving["task_number"] == n + 1
        await anyio.sleep(0.5)
        first.kill9()

    second = make_server(state_dir=first.state_dir)
    async with http_client(second.url) as c:
        _, rec = await c.ok("task_status", {"task_id": f"task {n}"})
        assert rec["task_id"] == done["task_id"] and rec["state"] == "succeeded"
        _, rec = await c.ok("task_status", {"task_id": n + 1})
        assert rec["task_id"] == moving["task_id"] and rec["state"] == "interrupted"
        assert f"task {n + 1}" in rec["message"], rec["message"]
        text, after = await c.ok("home")
        assert after["task_number"] == n + 2 and text.endswith(f"Task {n + 2}."), text
        await c.wait_done(after["task_id"])
        _, listed = await c.ok("list_tasks")
        assert [t["task_number"] for t in listed["tasks"]] == [n + 2, n + 1, n]

        for asked in (999, "task 999"):
            err, text, sc = await c.call("task_status", {"task_id": asked})
            assert err and sc["error"]["code"] == "unknown_task" and text == "There is no task 999.", text
        err, text, sc = await c.call("cancel_task", {"task_id": 999})
        assert err and text == "There is no task 999.", text


async def test_a_journal_without_numbers_is_numbered_on_load(make_server):
    first = make_server()
    async with http_client(first.url) as c:
        for _ in range(2):
            _, ack = await c.ok("home")
            await c.wait_done(ack["task_id"])
    first.stop()
    # A journal written before tasks had numbers: the same records, without them.
    journal = first.state_dir / "tasks.journal"
    lines = []
    ids = []
    # The records end where the zeros of the journal's allocated segment begin.
    for line in journal.read_bytes().split(b"\0", 1)[0].decode().splitlines():
        rec = json.loads(line.split(" ", 1)[1])
        rec.pop("task_number")
        if rec["task_id"] not in ids:
            ids.append(rec["task_id"])
        body = json.dumps(rec, separators=(",", ":"))
        lines.append(f"{zlib.crc32(body.encode()):08x} {body}\n")
    journal.write_text("".join(lines))

    for _ in range(2):
        again = make_server(state_dir=first.state_dir)
        async with http_client(again.url) as c:
            for k, task_id in enumerate(ids, start=1):
                _, rec = await c.ok("task_status", {"task_id": k})
                assert rec["task_id"] == task_id
        again.stop()
    records = journal.read_bytes().split(b"\0", 1)[0].decode().splitlines()
    assert records and all('"task_number":' in line for line in records)

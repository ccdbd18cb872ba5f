"""Issue 10, "Stop always wins": adversarial races through the real binary. Two MCP sessions fire at
once (owner and another client); a third session polls robot_state every few ms to see the arm.

A round is a violation when the arm moves for a task the plugin called dropped ("the arm did not
move"), reaches its target after stop answered, or still moves 300 ms after stop answered. Each test
runs every round, prints a summary (outcomes, final records, violations, stop-answer-to-standstill
p50/p99 beside the braking time the plan predicts), appends it as a JSON line to $ARMATURE_RACE_REPORT
when set, and then asserts 0 violations, listing the first ones. $ARMATURE_RACE_SCALE (default 1)
scales the round counts for a quick local loop; $ARMATURE_RACE_SEED changes the random offsets."""

from __future__ import annotations

import json
import os
import random
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field

import anyio
import pytest

from conftest import ROOT, distance, http_client

pytestmark = pytest.mark.anyio

HALF_PI = 1.5707963267948966
# Two targets 0.4 rad apart on the shoulder pan; each round goes to the one farther away.
TARGETS = ([-0.2, -HALF_PI, 0.0, -HALF_PI, 0.0, 0.0], [0.2, -HALF_PI, 0.0, -HALF_PI, 0.0, 0.0])
MOVED_RAD = 1e-4  # "moved": a joint this far from where the round started
# Standing still: every joint slower than this. The simulator's servo closes its last
# micro-radians exponentially (25 ms time constant), so exact zero comes late; 1 mrad/s is its
# own "settled" bound, and from there less than 3e-5 rad of travel is left.
STILL_RAD_S = 1e-3
AT_TARGET_RAD = 0.002  # the config's goal tolerance
HOLD_S = 0.3  # the "still moves 300 ms after stop answered"
# Without a stop in the race: how long to watch for a move that started. A started move is
# past MOVED_RAD within about 15 ms (1 rad/s² at the speed cap).
SEEN_S = 0.15
POLL_S = 0.002  # the observer's pause between robot_state calls
SEED = int(os.environ.get("ARMATURE_RACE_SEED", "10"))

GATED = """
robot = "builtin:ur5e"
[backend]
kind = "sim"
[confirm]
expire_s = {expire_s}
[confirm.actions]
move_joints = "always"
"""
ROBOT = tomllib.loads((ROOT / "robots" / "ur5e.toml").read_text())
ACCEL = [j["max_acceleration"] for j in ROBOT["joints"]]
# The default config's motion.max_speed: the speed every round moves at.
SPEED_CAP = 0.25


def rounds(n: int) -> int:
    """The issue's round count, scaled by $ARMATURE_RACE_SCALE."""
    return max(1, round(n * float(os.environ.get("ARMATURE_RACE_SCALE", "1"))))


def brake_ms(velocities) -> float:
    """The plan's braking time from these joint velocities: the path brakes at full acceleration."""
    return max((abs(v) / a for v, a in zip(velocities, ACCEL)), default=0.0) * 1e3


def cap_brake_ms() -> float:
    """The plan's braking time from the top speed an assistant may ask for."""
    return max(SPEED_CAP * j["max_velocity"] / j["max_acceleration"] for j in ROBOT["joints"]) * 1e3


@dataclass
class Sample:
    """One robot_state answer, with when it was asked for and when it came."""

    sent: float
    recv: float
    positions: list
    velocities: list

    def still(self) -> bool:
        """Every joint slower than STILL_RAD_S."""
        return max(abs(v) for v in self.velocities) <= STILL_RAD_S


class Observer:
    """A third session polling robot_state for the whole test."""

    def __init__(self, client):
        self.c = client
        self.samples: list[Sample] = []
        self.running = True

    async def run(self):
        while self.running:
            sent = time.monotonic()
            st = await self.c.state()
            if st["positions"]:
                self.samples.append(Sample(sent, time.monotonic(), st["positions"], st["velocities"]))
            await anyio.sleep(POLL_S)

    async def settled(self, timeout: float = 10.0) -> list:
        """Waits for two fresh samples of a still arm at one place; forgets older samples."""
        since = time.monotonic()
        deadline = since + timeout
        while time.monotonic() < deadline:
            fresh = [s for s in self.samples if s.sent >= since]
            if len(fresh) >= 2 and fresh[-1].still() and fresh[-2].still() \
                    and distance(fresh[-1].positions, fresh[-2].positions) < 1e-5:
                self.samples = fresh[-1:]
                return fresh[-1].positions
            await anyio.sleep(0.005)
        raise AssertionError(f"the arm did not come to a standstill within {timeout} s")

    async def watch(self, t_ref: float, deadline: float) -> bool:
        """Watches until HOLD_S after `t_ref` and then until the arm stands still, or until
        `deadline`; returns whether it was still moving at the deadline."""
        while time.monotonic() < deadline:
            late = [s for s in self.samples if s.sent >= t_ref + HOLD_S]
            if len(late) >= 2 and late[-1].still() and late[-2].still():
                return False
            await anyio.sleep(0.005)
        return True


@dataclass
class Round:
    """One race: what the clients were told, what the task record says, what the arm did."""

    n: int
    outcome: str
    record: dict
    moved: bool = False
    dropped: bool = False  # the plugin said the arm would not / did not move for this task
    reached: bool = False  # at the target in a sample taken after stop answered
    moving_late: bool = False  # moving in a sample taken HOLD_S or more after stop answered
    standstill_ms: float | None = None
    brake_ms: float | None = None
    false_nothing: bool = False  # stop said "Nothing is moving" for a task acknowledged running
    notes: list = field(default_factory=list)

    def violations(self) -> list[str]:
        """The issue's violations this round shows."""
        out = []
        if self.dropped and self.moved:
            out.append("the arm moved for a dropped task")
        if self.reached:
            out.append("the arm reached the target after stop answered")
        if self.moving_late:
            out.append(f"the arm still moved {HOLD_S * 1e3:.0f} ms after stop answered")
        return out

    def describe(self) -> str:
        """One line for the failure message."""
        rec = self.record
        code = (rec.get("error") or {}).get("code")
        return (f"round {self.n}: {self.outcome}; task {rec.get('state')}/{code} \"{rec.get('message')}\"; "
                f"moved={self.moved} {'; '.join(self.notes)}")


def record_summary(rec: dict) -> dict:
    """The task record's fields a report needs."""
    keep = ("task_id", "state", "message", "error", "progress")
    out = {k: rec.get(k) for k in keep}
    if rec.get("steps"):
        out["steps"] = {k: rec["steps"].get(k) for k in ("done", "current", "total")}
    return out


def is_dropped(rec: dict) -> bool:
    """The record says the task was dropped before the arm moved."""
    err = rec.get("error") or {}
    said = f"{rec.get('message')} {err.get('message')}"
    return rec.get("state") == "cancelled" and (
        "did not move" in said or err.get("code") in ("rejected", "confirmation_expired"))


def stop_said_nothing(answer) -> bool:
    """stop answered that nothing was moving."""
    err, text, sc = answer
    return not err and ((sc or {}).get("stopping") is False or text.startswith("Nothing is moving"))


def analyse(r: Round, samples: list[Sample], start: list, target: list | None, t_stop: float | None,
            t_stop_sent: float | None = None):
    """Fills in what the arm did, from the observer's samples (up to any clean-up stop)."""
    r.moved = any(distance(s.positions, start) > MOVED_RAD for s in samples)
    if t_stop is None:
        return
    after = [s for s in samples if s.sent >= t_stop]
    if target is not None:
        r.reached = any(distance(s.positions, target) <= AT_TARGET_RAD for s in after)
    late = [s for s in after if s.sent >= t_stop + HOLD_S]
    r.moving_late = any(not s.still() for s in late) or (
        len(late) >= 2 and distance(late[0].positions, late[-1].positions) > MOVED_RAD)
    moving = [i for i, s in enumerate(after) if not s.still()]
    rest = after[moving[-1] + 1:] if moving else after
    if rest:
        r.standstill_ms = (rest[0].recv - t_stop) * 1e3
    before = [s for s in samples if s.recv <= (t_stop_sent or t_stop)]
    if before:
        r.brake_ms = brake_ms(before[-1].velocities)


async def task_end(c, task_id: str, timeout: float = 15.0) -> dict:
    """Polls task_status until the task leaves running/queued/awaiting; returns the record."""
    deadline = time.monotonic() + timeout
    while True:
        _, rec = await c.ok("task_status", {"task_id": task_id})
        if rec["state"] not in ("running", "queued", "awaiting_confirmation") or time.monotonic() > deadline:
            return rec
        await anyio.sleep(0.01)


async def clean_up(r: Round, owner, other, obs: Observer, task_id: str, rec: dict) -> dict:
    """Ends whatever the round left (`rec` is the task's latest record): a task still waiting
    is rejected, a moving arm stopped. Returns the final record."""
    if rec["state"] == "awaiting_confirmation":
        r.notes.append("left awaiting confirmation: rejected")
        await owner.call("reject_task", {"task_id": task_id})
    elif rec["state"] in ("running", "queued") or (obs.samples and not obs.samples[-1].still()):
        r.notes.append(f"clean-up stop ({rec['state']})")
        await other.ok("stop")
    else:
        return rec
    return await task_end(owner, task_id)


def far_target(at: list) -> list:
    """The one of TARGETS farther from `at`."""
    return max(TARGETS, key=lambda t: distance(at, t))


def pct(values: list, q: float):
    """The `q` quantile (nearest rank), rounded to 0.01."""
    if not values:
        return None
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 2)


def report(name: str, results: list[Round], began: float, extra: dict | None = None) -> list[Round]:
    """Prints the summary, appends it to $ARMATURE_RACE_REPORT, returns the violating rounds."""
    bad = [r for r in results if r.violations() or r.false_nothing]
    kinds = Counter(v for r in results for v in r.violations())
    records = Counter(f"{r.record.get('state')}/{(r.record.get('error') or {}).get('code') or '-'}" for r in results)
    standstill = [r.standstill_ms for r in results if r.standstill_ms is not None]
    brakes = [r.brake_ms for r in results if r.brake_ms is not None]
    summary = {
        "test": name, "rounds": len(results), "duration_s": round(time.monotonic() - began, 1),
        "outcomes": dict(Counter(r.outcome for r in results)), "final_records": dict(records),
        "moved": sum(r.moved for r in results),
        "violations": sum(1 for r in results if r.violations()), "violation_kinds": dict(kinds),
        "violations_by_outcome": dict(Counter(r.outcome for r in results if r.violations())),
        "stop_said_nothing_is_moving_for_acked_task": sum(r.false_nothing for r in results),
        "stop_answer_to_standstill_ms": {"n": len(standstill), "p50": pct(standstill, 0.5),
                                         "p99": pct(standstill, 0.99), "max": pct(standstill, 1.0)},
        "plan_brake_from_speed_at_stop_ms": {"p50": pct(brakes, 0.5), "p99": pct(brakes, 0.99),
                                             "max": pct(brakes, 1.0)},
        "plan_brake_from_speed_cap_ms": round(cap_brake_ms(), 1),
        "first_violations": [r.describe() for r in bad[:5]],
        **(extra or {}),
    }
    print(f"\n[races] {name}: {len(results)} rounds in {summary['duration_s']} s")
    for key in ("outcomes", "final_records", "moved", "violations", "violation_kinds", "violations_by_outcome",
                "stop_said_nothing_is_moving_for_acked_task", "stop_answer_to_standstill_ms",
                "plan_brake_from_speed_at_stop_ms", "plan_brake_from_speed_cap_ms"):
        print(f"  {key}: {summary[key]}")
    for line in summary["first_violations"]:
        print(f"  ! {line}")
    if os.environ.get("ARMATURE_RACE_REPORT"):
        with open(os.environ["ARMATURE_RACE_REPORT"], "a") as f:
            f.write(json.dumps(summary) + "\n")
    return bad


def assert_none(name: str, bad: list[Round], total: int):
    """Fails naming the first few bad rounds and what each broke."""
    lines = "\n".join(r.describe() + " -> " + ", ".join(
        r.violations() + (["stop answered 'Nothing is moving' for a task acknowledged running"]
                          if r.false_nothing else [])) for r in bad[:5])
    count = len(bad)
    assert count == 0, f"{name}: {count} of {total} rounds broke 'stop always wins':\n{lines}"


async def race(first, second, offset: float):
    """Runs two calls at once, the second `offset` s after the first (either way when negative);
    returns each one's answer and the time it arrived."""
    out = [None, None]

    async def one(i, call, delay):
        await anyio.sleep(delay)
        answer = await call()
        out[i] = (answer, time.monotonic())

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, 0, first, max(0.0, -offset))
        tg.start_soon(one, 1, second, max(0.0, offset))
    return out


async def gated_move(owner, at):
    """A move_joints that waits for confirmation; returns its target and task id."""
    target = far_target(at)
    _, ack = await owner.ok("move_joints", {"joints": target})
    assert ack["state"] == "awaiting_confirmation", ack
    return target, ack["task_id"]


async def three_sessions(url, body):
    """Runs `body(owner, other, observer)` with three sessions and the observer polling."""
    async with http_client(url) as owner, http_client(url) as other, http_client(url) as watcher:
        obs = Observer(watcher)
        async with anyio.create_task_group() as tg:
            tg.start_soon(obs.run)
            try:
                await obs.settled()
                return await body(owner, other, obs)
            finally:
                obs.running = False


async def test_confirm_racing_stop(make_server):
    """The owner confirms a gated move while another client calls stop, 0–5 ms apart either way."""
    server = make_server(GATED.format(expire_s=60))
    rng = random.Random(SEED)
    began = time.monotonic()

    async def body(owner, other, obs):
        results = []
        for n in range(rounds(200)):
            at = await obs.settled()
            target, tid = await gated_move(owner, at)
            (conf, _), (stop, t_stop) = await race(
                lambda: owner.call("confirm_task", {"task_id": tid}), lambda: other.call("stop"),
                rng.uniform(-0.005, 0.005))
            moving = await obs.watch(t_stop, t_stop + 2.0)
            samples = list(obs.samples)
            rec = await task_end(owner, tid, timeout=0.0)
            r = Round(n, "confirm accepted" if not conf[0] else "confirm refused", record_summary(rec))
            r.dropped = is_dropped(rec) or conf[0]  # a refused confirm tells the owner nothing moves
            if moving:
                r.notes.append("still moving at the watch's end")
            final = await clean_up(r, owner, other, obs, tid, rec)
            r.record = record_summary(final)
            r.dropped = r.dropped or is_dropped(final)
            analyse(r, samples, at, target, t_stop)
            r.notes.append(f"confirm: {conf[1]!r}; stop: {stop[1]!r}")
            results.append(r)
        return results

    results = await three_sessions(server.url, body)
    assert_none("confirm vs stop", report("confirm_task racing stop", results, began), len(results))


async def test_reject_racing_confirm(make_server):
    """One session confirms, another (same operator) rejects, 0–5 ms apart either way."""
    server = make_server(GATED.format(expire_s=60))
    rng = random.Random(SEED + 1)
    began = time.monotonic()

    async def body(owner, other, obs):
        results = []
        for n in range(rounds(200)):
            at = await obs.settled()
            target, tid = await gated_move(owner, at)
            (conf, _), (rej, _) = await race(
                lambda: owner.call("confirm_task", {"task_id": tid}),
                lambda: other.call("reject_task", {"task_id": tid}), rng.uniform(-0.005, 0.005))
            outcome = {(False, True): "confirm won", (True, False): "reject won"}.get(
                (conf[0], rej[0]), f"confirm {'refused' if conf[0] else 'ok'}, reject {'refused' if rej[0] else 'ok'}")
            await anyio.sleep(SEEN_S)
            samples = list(obs.samples)
            _, seen = await owner.ok("task_status", {"task_id": tid})
            r = Round(n, outcome, record_summary(seen))
            r.dropped = is_dropped(seen) or not rej[0] or conf[0]
            final = await clean_up(r, owner, other, obs, tid, seen)
            r.dropped = r.dropped or is_dropped(final)
            analyse(r, samples, at, target, None)
            r.notes.append(f"confirm: {conf[1]!r}; reject: {rej[1]!r}")
            results.append(r)
        return results

    results = await three_sessions(server.url, body)
    assert_none("confirm vs reject", report("reject_task racing confirm_task", results, began), len(results))


async def motion_then_stop(n, owner, other, obs, rng, tool, args, target, watch_s) -> Round:
    """One round: `tool` from the owner, then stop from the other session 0–5 ms later.

    Odd rounds time the stop from the ack, even ones from sending the call: the task is
    registered before its motion reaches the executor, and that window closes before the ack
    is sent, so only a stop racing the call itself can land in it. A stop sent before the ack
    arrived that answers "Nothing is moving" came before the task existed: the motion that
    follows is legitimate and the round is not judged. Every other stop must win."""
    at = await obs.settled()
    out = {}
    acked = anyio.Event()

    async def motion():
        out["ack"] = (await owner.ok(tool, args))[1]
        out["t_ack"] = time.monotonic()
        acked.set()

    async def stopper():
        if n % 2:
            await acked.wait()
        await anyio.sleep(rng.uniform(0, 0.005))
        out["t_sent"] = time.monotonic()
        out["stop"] = await other.call("stop")
        out["t_stop"] = time.monotonic()

    async with anyio.create_task_group() as tg:
        tg.start_soon(motion)
        tg.start_soon(stopper)
    ack, stop, t_stop = out["ack"], out["stop"], out["t_stop"]
    after_ack = out["t_sent"] >= out["t_ack"]
    nothing = stop_said_nothing(stop)
    judged = after_ack or not nothing
    r = Round(n, f"stop sent {'after' if after_ack else 'before'} the ack: "
                 f"{'nothing is moving' if nothing else 'stopping'}", {})
    r.false_nothing = after_ack and nothing and ack["state"] == "running"
    moving = await obs.watch(t_stop, t_stop + watch_s) if judged else False
    samples = list(obs.samples)
    if moving:
        r.notes.append("still moving at the watch's end")
    _, seen = await owner.ok("task_status", {"task_id": ack["task_id"]})
    r.record = record_summary(await clean_up(r, owner, other, obs, ack["task_id"], seen))
    r.dropped = is_dropped(r.record)
    analyse(r, samples, at, target, t_stop if judged else None, out["t_sent"])
    r.notes.append(f"stop: {stop[1]!r}")
    return r


async def test_stop_0_to_5_ms_after_a_move(make_server):
    """move_joints from one session; stop from another 0–5 ms after it was sent."""
    server = make_server(None)
    rng = random.Random(SEED + 2)
    began = time.monotonic()

    async def body(owner, other, obs):
        results = []
        for n in range(rounds(200)):
            target = far_target(obs.samples[-1].positions)
            # A move that goes on runs to its end (about 1.1 s), to see whether it gets there.
            results.append(await motion_then_stop(
                n, owner, other, obs, rng, "move_joints", {"joints": target}, target, 2.5))
        return results

    results = await three_sessions(server.url, body)
    assert_none("move vs stop", report("move_joints then stop 0-5 ms later", results, began), len(results))


async def test_stop_0_to_5_ms_after_a_custom_action(make_server):
    """The example cell's pick_and_place; stop from another session 0–5 ms after it was sent."""
    server = make_server(None)  # the default config serves the example cell
    rng = random.Random(SEED + 3)
    began = time.monotonic()
    tray = ROBOT["positions"]["tray_above"]

    def step_one(slot):
        # Every slot's first step is a joint move above the tray; the slot is a line after it.
        return list(tray)

    async def body(owner, other, obs):
        results = []
        for n in range(rounds(100)):
            at = obs.samples[-1].positions
            if distance(at, tray) <= 0.01:
                # Already above the tray: step one would not move. Go home first.
                _, ack = await owner.ok("home")
                await owner.wait_done(ack["task_id"], timeout=30)
                await obs.settled()
            slot = rng.randrange(6)
            # Ten steps, about 12 s: one second past stop is plenty to see it go on.
            r = await motion_then_stop(
                n, owner, other, obs, rng, "pick_and_place", {"slot": slot}, step_one(slot), 1.0)
            r.notes.insert(0, f"slot {slot}")
            results.append(r)
        return results

    results = await three_sessions(server.url, body)
    bad = report("pick_and_place then stop 0-5 ms later", results, began)
    assert_none("custom action vs stop", bad, len(results))


async def test_cancel_task_drops_a_task_awaiting_confirmation(make_server):
    """cancel_task on a waiting task drops it: cancelled, a later confirm is refused, nothing moves."""
    server = make_server(GATED.format(expire_s=60))

    async def body(owner, other, obs):
        at = await obs.settled()
        _, tid = await gated_move(owner, at)
        err, text, _ = await owner.call("cancel_task", {"task_id": tid})
        print(f"\n[races] cancel_task on an awaiting task answered: {text!r} (error={err})")
        problems = []
        _, rec = await owner.ok("task_status", {"task_id": tid})
        if rec["state"] != "cancelled":
            problems.append(f"after cancel_task the task is {rec['state']}: {rec['message']!r}")
        err, text, sc = await owner.call("confirm_task", {"task_id": tid})
        if not err:
            problems.append(f"a later confirm_task was accepted: {text!r}")
        elif (sc or {}).get("error", {}).get("code") != "not_awaiting_confirmation":
            problems.append(f"a later confirm_task was refused with {sc}: {text!r}")
        await anyio.sleep(HOLD_S)
        if any(distance(s.positions, at) > MOVED_RAD for s in obs.samples):
            problems.append("the arm moved")
        final = await task_end(owner, tid, timeout=0.0)
        if final["state"] in ("running", "awaiting_confirmation"):
            await other.ok("stop")
        print(f"[races] final record: {record_summary(final)}")
        return problems

    problems = await three_sessions(server.url, body)
    assert not problems, "cancel_task on a task awaiting confirmation: " + "; ".join(problems)


async def test_confirm_racing_expiry(make_server):
    """The owner confirms right at the confirmation deadline (expire_s 0.25 s). Where "right at"
    falls depends on this machine's latencies, so the send time walks a staircase: half a
    millisecond later after a confirm that got in, earlier after one that came too late."""
    expire_s = 0.25
    server = make_server(GATED.format(expire_s=expire_s))
    rng = random.Random(SEED + 4)
    began = time.monotonic()
    lead = [-0.002]  # when to send, relative to the ack's send time plus expire_s

    async def body(owner, other, obs):
        results = []
        for n in range(rounds(100)):
            at = await obs.settled()
            t0 = time.monotonic()
            target, tid = await gated_move(owner, at)
            await anyio.sleep(max(0.0, t0 + expire_s + lead[0] + rng.uniform(-0.002, 0.002) - time.monotonic()))
            conf = await owner.call("confirm_task", {"task_id": tid})
            lead[0] += 0.0005 if not conf[0] else -0.0005
            await anyio.sleep(SEEN_S)
            samples = list(obs.samples)
            _, seen = await owner.ok("task_status", {"task_id": tid})
            code = ((conf[2] or {}).get("error") or {}).get("code")
            r = Round(n, "confirmed" if not conf[0] else f"refused: {code}", record_summary(seen))
            r.dropped = is_dropped(seen) or conf[0]
            final = await clean_up(r, owner, other, obs, tid, seen)
            r.dropped = r.dropped or is_dropped(final)
            analyse(r, samples, at, target, None)
            r.notes.append(f"confirm: {conf[1]!r}")
            results.append(r)
        return results

    results = await three_sessions(server.url, body)
    bad = report("confirm_task racing the expiry", results, began, {"send_lead_ms": round(lead[0] * 1e3, 2)})
    assert_none("confirm vs expiry", bad, len(results))

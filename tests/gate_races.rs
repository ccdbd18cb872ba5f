//! Stop always wins: the motion gate raced against itself, through the real registry, the
//! real executor thread and the simulated arm. Two threads meet at a barrier, then one
//! confirms, rejects, starts or steps while the other stops, thousands of times.
//!
//! In every round: a task recorded as dropped never moved the arm; a task that stop named
//! never succeeded; once stop answered, no motion began.

mod common;

use std::sync::Barrier;
use std::time::Duration;

use armature::tasks::{Confirm, Step, StepKind, TaskRecord, TaskState, When, Work};
use common::Cell;

/// Rounds per race (ARMATURE_RACE_ROUNDS overrides).
fn rounds() -> usize {
    std::env::var("ARMATURE_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Whether the arm went anywhere: further than a servo's settling creep (0.1 mrad).
fn moved(before: &[f64], after: &[f64]) -> bool {
    before.iter().zip(after).any(|(a, b)| (a - b).abs() > 1e-4)
}

fn dropped(rec: &TaskRecord) -> bool {
    rec.state == TaskState::Cancelled
        && rec.error.as_ref().is_some_and(|e| {
            matches!(
                e.code.as_str(),
                "stopped" | "rejected" | "confirmation_expired" | "cancelled"
            )
        })
}

/// Tallies a race and fails with the first violations.
#[derive(Default)]
struct Tally {
    outcomes: std::collections::BTreeMap<String, usize>,
    violations: Vec<String>,
}

impl Tally {
    fn count(&mut self, outcome: &str) {
        *self.outcomes.entry(outcome.into()).or_default() += 1;
    }

    fn check(&mut self, round: usize, ok: bool, what: &str) {
        if !ok {
            self.violations.push(format!("round {round}: {what}"));
        }
    }

    fn finish(self, race: &str) {
        println!(
            "{race}: {} rounds, outcomes {:?}, violations {}",
            rounds(),
            self.outcomes,
            self.violations.len()
        );
        assert!(
            self.violations.is_empty(),
            "{race}: {} violations, first: {:?}",
            self.violations.len(),
            &self.violations[..self.violations.len().min(5)]
        );
    }
}

/// Runs `a` and `b` on two threads released together, `b` after `skew` spins.
fn race<A, B, RA, RB>(a: A, b: B, skew: u32) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let ta = s.spawn(|| {
            barrier.wait();
            a()
        });
        let tb = s.spawn(|| {
            barrier.wait();
            for _ in 0..skew {
                std::hint::spin_loop();
            }
            b()
        });
        (ta.join().unwrap(), tb.join().unwrap())
    })
}

#[test]
fn confirm_against_stop() {
    let cell = Cell::new(Duration::from_secs(60));
    let mut tally = Tally::default();
    for round in 0..rounds() {
        let before = cell.joints();
        let held = cell.gate.start(cell.task(round, Confirm::Always)).unwrap();
        let id = held.record.task_id;
        let (confirmed, stopped) = race(
            || cell.gate.confirm(&id),
            || cell.gate.stop().unwrap(),
            (round % 64) as u32 * 50,
        );
        let rec = cell.settle(&id);
        let after = cell.joints();
        tally.count(if confirmed.is_ok() {
            "confirm first"
        } else {
            "stop first"
        });
        tally.check(
            round,
            !(dropped(&rec) && moved(&before, &after)),
            "dropped but moved",
        );
        tally.check(
            round,
            rec.state != TaskState::Succeeded,
            "stop named it, yet it succeeded",
        );
        tally.check(
            round,
            confirmed.is_ok() == (stopped.braking == Some(id)),
            "confirm and stop disagree on who won",
        );
    }
    tally.finish("confirm vs stop");
}

#[test]
fn confirm_against_reject() {
    let cell = Cell::new(Duration::from_secs(60));
    let mut tally = Tally::default();
    for round in 0..rounds() {
        let before = cell.joints();
        let held = cell.gate.start(cell.task(round, Confirm::Always)).unwrap();
        let id = held.record.task_id;
        let (confirmed, rejected) = race(
            || cell.gate.confirm(&id),
            || cell.gate.reject(&id),
            (round % 64) as u32 * 50,
        );
        if confirmed.is_ok() {
            cell.gate.stop().unwrap();
        }
        let rec = cell.settle(&id);
        let after = cell.joints();
        tally.count(if confirmed.is_ok() {
            "confirm first"
        } else {
            "reject first"
        });
        tally.check(
            round,
            confirmed.is_ok() != rejected.is_ok(),
            "both or neither won",
        );
        tally.check(
            round,
            !(dropped(&rec) && moved(&before, &after)),
            "rejected but moved",
        );
    }
    tally.finish("confirm vs reject");
}

#[test]
fn confirm_against_expiry() {
    let expire = Duration::from_millis(3);
    let cell = Cell::new(expire);
    let mut tally = Tally::default();
    for round in 0..rounds() {
        let before = cell.joints();
        let held = cell.gate.start(cell.task(round, Confirm::Always)).unwrap();
        let id = held.record.task_id;
        // Confirm around the deadline: a little before, at, or a little after it.
        let wait = Duration::from_micros(2000 + (round as u64 % 20) * 100);
        std::thread::sleep(wait);
        let confirmed = cell.gate.confirm(&id);
        if confirmed.is_ok() {
            cell.gate.stop().unwrap();
        }
        let rec = cell.settle(&id);
        let after = cell.joints();
        tally.count(if confirmed.is_ok() {
            "confirmed in time"
        } else {
            "expired first"
        });
        tally.check(
            round,
            !(dropped(&rec) && moved(&before, &after)),
            "expired but moved",
        );
        tally.check(
            round,
            confirmed.is_ok() != dropped(&rec),
            "confirm answer and record disagree",
        );
    }
    tally.finish("confirm vs expiry");
}

#[test]
fn start_against_stop() {
    let cell = Cell::new(Duration::from_secs(60));
    let mut tally = Tally::default();
    for round in 0..rounds() {
        let (started, stopped) = race(
            || cell.gate.start(cell.task(round, Confirm::Never)),
            || cell.gate.stop().unwrap(),
            (round % 64) as u32 * 50,
        );
        let id = started.unwrap().record.task_id;
        let named = stopped.braking == Some(id);
        let after_stop = named && cell.moved_after_stop(&id);
        let rec = cell.settle(&id);
        tally.count(if named { "start first" } else { "stop first" });
        tally.check(round, !after_stop, "a motion began after stop answered");
        tally.check(
            round,
            !named || rec.state == TaskState::Cancelled,
            &format!(
                "stop named it, yet it ended {:?}: {}",
                rec.state, rec.message
            ),
        );
        if !named {
            // Stop came first: this motion is legitimately the next; end it for the next round.
            cell.gate.stop().unwrap();
            cell.settle(&id);
        }
    }
    tally.finish("start vs stop");
}

#[test]
fn a_custom_actions_next_step_against_stop() {
    let cell = Cell::new(Duration::from_secs(60));
    // The steps' runner is a task on the async runtime, as in the plugin.
    let _runtime = cell.runtime.enter();
    let mut tally = Tally::default();
    let n = (rounds() / 4).max(50);
    for round in 0..n {
        let step = |k: usize, target: Vec<f64>| Step {
            label: format!("step {k}"),
            kind: StepKind::Move { target, speed: 1.0 },
        };
        let steps = vec![
            step(1, cell.target(round)),
            step(2, cell.target(round + 1)),
            step(3, cell.target(round)),
        ];
        let mut task = cell.task(round, Confirm::Never);
        task.action = "pick".into();
        task.work = Work::Steps(steps);
        let id = cell.gate.start(task).unwrap().record.task_id;
        // Stop somewhere within the first steps.
        std::thread::sleep(Duration::from_micros((round as u64 % 40) * 1500));
        let stopped = cell.gate.stop().unwrap();
        let at_stop = cell.gate.registry().get(&id).unwrap();
        let after_stop = cell.moved_after_stop(&id);
        let rec = cell.settle(&id);
        let done_at_stop = at_stop.steps.as_ref().map_or(0, |s| s.done);
        let done = rec.steps.as_ref().map_or(0, |s| s.done);
        tally.count(if stopped.braking.is_some() {
            "stopped while working"
        } else {
            "finished before stop"
        });
        if stopped.braking == Some(id) {
            tally.check(
                round,
                rec.state == TaskState::Cancelled,
                "it did not end cancelled",
            );
            tally.check(
                round,
                !after_stop,
                "a step's motion began after stop answered",
            );
            tally.check(
                round,
                done <= done_at_stop + 1,
                "a step ran after stop answered",
            );
        }
    }
    println!("custom action vs stop: {n} rounds");
    tally.finish("custom action vs stop");
}

#[test]
fn cancel_drops_a_held_task_and_it_can_no_longer_be_confirmed() {
    let cell = Cell::new(Duration::from_secs(60));
    let before = cell.joints();
    let held = cell.gate.start(cell.task(0, Confirm::Always)).unwrap();
    let id = held.record.task_id;
    cell.gate.cancel(&id).unwrap();
    let err = cell.gate.confirm(&id).unwrap_err();
    assert_eq!(err.code(), "not_awaiting_confirmation");
    let rec = cell.settle(&id);
    assert!(dropped(&rec), "{rec:?}");
    assert!(
        rec.message.contains("the arm did not move"),
        "{}",
        rec.message
    );
    assert!(!moved(&before, &cell.joints()));
}

#[test]
fn queueing_against_stop() {
    let cell = Cell::new(Duration::from_secs(60));
    let mut tally = Tally::default();
    for round in 0..rounds() {
        let first = cell.gate.start(cell.task(round, Confirm::Never)).unwrap();
        let first_id = first.record.task_id;
        let mut next = cell.task(round + 1, Confirm::Never);
        next.when = When::After;
        let (queued, stopped) = race(
            || cell.gate.start(next),
            || cell.gate.stop().unwrap(),
            (round % 64) as u32 * 50,
        );
        let id = queued.unwrap().record.task_id;
        let covered = stopped.queue_dropped.contains(&id);
        cell.settle(&first_id);
        // A task queued after the stop answered is a new request: it may run; end it.
        let ran_on = cell.gate.registry().get(&id).unwrap().state != TaskState::Cancelled;
        if ran_on {
            cell.gate.stop().unwrap();
        }
        let rec = cell.settle(&id);
        tally.count(if covered {
            "queued before stop"
        } else {
            "queued after stop"
        });
        tally.check(
            round,
            !covered || (dropped(&rec) && rec.started_at.is_none()),
            &format!(
                "stop dropped it, yet it ended {:?}: {}",
                rec.state, rec.message
            ),
        );
    }
    tally.finish("queue vs stop");
}

#[test]
fn stop_between_a_tasks_record_and_its_sync() {
    // A motion call takes the arm in two halves: its record is handed to the journal under
    // the lock, and the motion begins once that record is synced. Stop races the second half.
    let cell = Cell::new(Duration::from_secs(60));
    let mut tally = Tally::default();
    for round in 0..rounds() {
        let before = cell.joints();
        let (accepted, admission) = cell.gate.admit(cell.task(round, Confirm::Never)).unwrap();
        let id = accepted.record.task_id;
        // Stop lands before, during or after the sync (about half a millisecond here).
        let wait = Duration::from_micros((round % 32) as u64 * 60);
        let (settled, stopped) = race(
            || admission.settle_blocking(),
            || {
                std::thread::sleep(wait);
                cell.gate.stop().unwrap()
            },
            0,
        );
        tally.check(
            round,
            settled.is_ok(),
            &format!("settle refused: {settled:?}"),
        );
        // The task held the arm from the first half on: stop always names it.
        tally.check(
            round,
            stopped.braking == Some(id),
            "stop did not name the task that held the arm",
        );
        let after_stop = cell.moved_after_stop(&id);
        let rec = cell.settle(&id);
        let fenced = rec.error.as_ref().is_some_and(|e| e.code == "stopped");
        tally.count(if fenced {
            "stopped before it began"
        } else {
            "began, then braked"
        });
        tally.check(
            round,
            !fenced || !moved(&before, &cell.joints()),
            "recorded as never begun, yet the arm moved",
        );
        tally.check(round, !after_stop, "a motion began after stop answered");
        tally.check(
            round,
            rec.state == TaskState::Cancelled,
            &format!("stopped, yet it ended {:?}: {}", rec.state, rec.message),
        );
    }
    tally.finish("stop vs the second half of a start");
}

#[test]
fn a_task_stopped_before_its_record_was_synced_never_moves() {
    let cell = Cell::new(Duration::from_secs(60));
    let before = cell.joints();
    let (accepted, admission) = cell.gate.admit(cell.task(0, Confirm::Never)).unwrap();
    let id = accepted.record.task_id;
    let stopped = cell.gate.stop().unwrap();
    assert_eq!(stopped.braking, Some(id));
    admission.settle_blocking().unwrap();
    let rec = cell.settle(&id);
    assert_eq!(rec.state, TaskState::Cancelled, "{rec:?}");
    assert!(rec.message.contains("did not move"), "{}", rec.message);
    assert!(!moved(&before, &cell.joints()));
}

#[test]
fn an_admission_dropped_before_it_settles_still_begins_its_task() {
    // A client that goes away while its call awaits the record's sync drops the admission:
    // the task must still begin (or fail), never hold the arm without moving.
    let cell = Cell::new(Duration::from_secs(60));
    // Outside a runtime, the drop settles on the dropping thread.
    let (accepted, admission) = cell.gate.admit(cell.task(0, Confirm::Never)).unwrap();
    drop(admission);
    let rec = cell.settle(&accepted.record.task_id);
    assert_eq!(rec.state, TaskState::Succeeded, "{rec:?}");
    // Inside one, it settles on the runtime.
    let _in_runtime = cell.runtime.enter();
    let (accepted, admission) = cell.gate.admit(cell.task(1, Confirm::Never)).unwrap();
    drop(admission);
    let rec = cell.settle(&accepted.record.task_id);
    assert_eq!(rec.state, TaskState::Succeeded, "{rec:?}");
    assert!(cell.gate.registry().live().is_none());
}

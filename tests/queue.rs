//! The queue of motions through the motion gate: in order, emptied by stop, cut short by a
//! failure, bounded, and never started again after a crash.

mod common;

use std::time::Duration;

use armature::tasks::{Confirm, GateError, TaskState, When};
use armsim::FaultPlan;
use common::Cell;
use uuid::Uuid;

fn queue(cell: &Cell, rounds: std::ops::Range<usize>) -> Vec<Uuid> {
    rounds
        .map(|k| {
            let mut task = cell.task(k, Confirm::Never);
            task.when = When::After;
            cell.gate.start(task).unwrap().record.task_id
        })
        .collect()
}

#[test]
fn three_queued_moves_run_in_order_each_after_the_one_before() {
    let cell = Cell::new(Duration::from_secs(60));
    let ids = queue(&cell, 0..3);
    let second = cell.gate.registry().get(&ids[1]).unwrap();
    assert_eq!(second.state, TaskState::Queued);
    assert!(
        second
            .message
            .starts_with("Moving the arm, second in line, starts in"),
        "{}",
        second.message
    );
    let recs: Vec<_> = ids.iter().map(|id| cell.settle(id)).collect();
    for rec in &recs {
        assert_eq!(rec.state, TaskState::Succeeded, "{rec:?}");
    }
    for pair in recs.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let ended = before.finished_at.clone().unwrap();
        let started = after.started_at.clone().unwrap();
        assert!(started >= ended, "{started} before {ended}");
    }
    assert!(
        recs[0].message.contains("Next: moving the arm."),
        "{}",
        recs[0].message
    );
}

#[test]
fn stop_during_the_first_drops_the_others_and_the_arm_stands_still() {
    let cell = Cell::new(Duration::from_secs(60));
    let ids = queue(&cell, 0..3);
    let stopped = cell.gate.stop().unwrap();
    assert_eq!(stopped.braking, Some(ids[0]));
    assert_eq!(stopped.queue_dropped, ids[1..].to_vec());
    for id in &ids[1..] {
        let rec = cell.settle(id);
        assert_eq!(rec.state, TaskState::Cancelled);
        assert_eq!(rec.error.unwrap().code, "stopped");
        assert!(rec.started_at.is_none());
    }
    cell.settle(&ids[0]);
    let at = cell.joints();
    std::thread::sleep(Duration::from_secs(2));
    let view = cell.gate.view();
    assert_eq!(view.phase, "idle");
    // Standing still: no speed, and no further than a servo's settling creep.
    assert!(
        view.velocities.iter().all(|v| v.abs() < 1e-3),
        "{:?}",
        view.velocities
    );
    let drift = at
        .iter()
        .zip(cell.joints())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(drift < 1e-4, "moved {drift} rad after the stop");
}

#[test]
fn a_fault_in_the_first_drops_the_rest_of_its_owners_line() {
    let cell = Cell::with_faults(FaultPlan {
        protective_stop_at_s: Some(0.3),
        ..FaultPlan::default()
    });
    let ids = queue(&cell, 0..3);
    let first = cell.settle(&ids[0]);
    assert_eq!(first.state, TaskState::Failed, "{first:?}");
    for id in &ids[1..] {
        let rec = cell.settle(id);
        assert_eq!(rec.state, TaskState::Cancelled);
        assert_eq!(rec.error.unwrap().code, "predecessor_failed");
        assert!(
            rec.message.contains("the arm did not move"),
            "{}",
            rec.message
        );
    }
}

#[test]
fn a_full_queue_refuses_with_its_limit() {
    let cell = Cell::new(Duration::from_secs(60));
    queue(&cell, 0..9);
    let mut task = cell.task(9, Confirm::Never);
    task.when = When::After;
    match cell.gate.start(task) {
        Err(e @ GateError::QueueFull(8)) => {
            assert_eq!(e.code(), "queue_full");
            assert!(e.to_string().contains("8 motions waiting"), "{e}");
        }
        other => panic!("expected a full queue, got {other:?}"),
    }
    cell.gate.stop().unwrap();
}

#[test]
fn queued_tasks_read_interrupted_after_a_crash_and_none_starts() {
    let cell = Cell::new(Duration::from_secs(60));
    let ids = queue(&cell, 0..3);
    // Another process reads the state as a restart would.
    let (registry, _) = common::open(cell.dir.path());
    for id in &ids[1..] {
        let rec = registry.get(id).unwrap();
        assert_eq!(rec.state, TaskState::Interrupted);
        assert_eq!(rec.error.unwrap().code, "restarted_while_queued");
    }
    assert!(registry.live().is_none());
    assert!(registry.queue().is_empty());
    cell.gate.stop().unwrap();
}

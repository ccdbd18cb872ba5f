//! Tasks through the motion gate: one foreground task at a time, and the truth after a crash.

mod common;

use std::time::Duration;

use armature::tasks::{Confirm, GateError, TaskState};
use common::Cell;

#[test]
fn one_foreground_task_at_a_time() {
    let cell = Cell::new(Duration::from_secs(60));
    let first = cell.gate.start(cell.task(0, Confirm::Never)).unwrap();
    assert_eq!(first.record.state, TaskState::Running);
    match cell.gate.start(cell.task(1, Confirm::Never)) {
        Err(e @ GateError::Busy(_)) => {
            assert_eq!(e.code(), "busy");
            let number = first.record.task_number;
            assert!(
                e.to_string()
                    .contains(&format!("busy with task {number}, ")),
                "{e}"
            );
        }
        other => panic!("expected busy, got {other:?}"),
    }
    let done = cell.settle(&first.record.task_id);
    assert_eq!(done.state, TaskState::Succeeded);
    assert_eq!(done.progress, 100.0);
    assert!(done.finished_at.is_some());
    assert!(cell.gate.start(cell.task(1, Confirm::Never)).is_ok());
}

#[test]
fn a_running_task_reads_interrupted_after_a_crash_and_a_held_one_too() {
    let cell = Cell::new(Duration::from_secs(60));
    let moving = cell.gate.start(cell.task(0, Confirm::Never)).unwrap();
    let dir = cell.dir.path().to_path_buf();
    // Another process reads the state as a restart would, while this one still runs.
    let (registry, _) = common::open(&dir);
    let rec = registry.get(&moving.record.task_id).unwrap();
    assert_eq!(rec.state, TaskState::Interrupted);
    assert!(
        rec.message.contains("will not move again by itself"),
        "{}",
        rec.message
    );
    assert!(registry.live().is_none());
}

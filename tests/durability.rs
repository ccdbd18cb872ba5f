//! Durability as a precondition, on the real gate, registry, executor and simulated arm:
//! while the variables cannot be written (variables.json replaced by a directory, as in
//! the campaign), a start and a confirmation are refused with the cause, a held task can
//! still be dropped, `stop` answers, and once the file can be written again motions start.

mod common;

use std::time::{Duration, Instant};

use armature::tasks::{Confirm, GateError, TaskState};
use armature::vars::{VarStore, VarValue, VARS_FILE};
use common::Cell;

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn unwritable_variables_refuse_start_and_confirm_and_stop_still_answers() {
    let cell = Cell::new(Duration::from_secs(60));
    let (gate, vars, dir) = (&cell.gate, &cell.vars, &cell.dir);
    let _in_runtime = cell.runtime.enter();
    let held = gate.start(cell.task(0, Confirm::Always)).unwrap();
    assert!(held.held);
    let id = held.record.task_id;
    assert!(vars.flush(Duration::from_secs(5)));

    let file = dir.path().join(VARS_FILE);
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    vars.set_many([("probe", VarValue::Number(1.0))], true);
    until("the failure", || !gate.registry().durability().ok);
    let state = gate.registry().durability();
    assert!(state.failing_since.is_some());
    assert!(
        state
            .cause
            .as_deref()
            .unwrap_or("")
            .starts_with("installation variables: Is a directory"),
        "{state:?}"
    );

    let refused = gate.confirm(&id).unwrap_err();
    assert!(matches!(refused, GateError::Durability(_)));
    assert_eq!(
        refused.to_string(),
        "The state directory cannot be written: is a directory. Nothing moved."
    );
    assert_eq!(
        gate.registry().get(&id).unwrap().state,
        TaskState::AwaitingConfirmation
    );
    // Dropping a held task and stopping need no disk.
    assert_eq!(gate.reject(&id).unwrap().state, TaskState::Cancelled);
    assert!(gate.stop().unwrap().nothing());
    let refused = gate.start(cell.task(1, Confirm::Never)).unwrap_err();
    assert_eq!(refused.code(), "durability");
    assert_eq!(gate.registry().list(10).len(), 1, "no task was created");

    std::fs::remove_dir(&file).unwrap();
    until("the recovery", || gate.registry().durability().ok);
    assert!(gate.registry().durability().recovered_at.is_some());
    let on_disk = VarStore::read(dir.path()).unwrap();
    assert_eq!(on_disk["task_state"], VarValue::from("cancelled"));
    let moving = gate.start(cell.task(1, Confirm::Never)).unwrap();
    assert_eq!(moving.record.state, TaskState::Running);
    gate.stop().unwrap();
    gate.shutdown();
}

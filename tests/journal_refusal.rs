//! A motion whose record cannot reach the disk never begins: the gate hands the record to
//! the journal, and when its sync fails the task fails and the call is refused, with the
//! arm where it was. The disk is made to refuse for real: the process's file-size limit
//! (RLIMIT_FSIZE) is lowered below the journal's write position, so the writer thread's
//! next write fails with EFBIG. In a test binary of its own, since the limit is per process.

mod common;

use std::time::Duration;

use armature::tasks::{Confirm, GateError, TaskState};
use common::Cell;

/// Sets the soft file-size limit (the hard limit stays).
fn file_size_limit(bytes: libc::rlim_t) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls with a valid pointer to a local.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = bytes.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

#[test]
fn a_task_whose_record_cannot_be_synced_fails_unmoved_and_the_call_is_refused() {
    // Past the limit, a write gets EFBIG instead of the default SIGXFSZ that ends the process.
    // SAFETY: setting a signal's disposition to ignore.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cell = Cell::new(Duration::from_secs(60));
    let before = cell.joints();
    // One task on disk first, so the journal's write position is past the limit below.
    let first = cell.gate.start(cell.task(0, Confirm::Always)).unwrap();
    cell.gate.reject(&first.record.task_id).unwrap();
    assert!(cell.vars.flush(Duration::from_secs(5)));

    file_size_limit(16);
    let refused = cell.gate.start(cell.task(1, Confirm::Never));
    file_size_limit(libc::RLIM_INFINITY);

    let err = refused.unwrap_err();
    assert!(matches!(err, GateError::Durability(_)), "{err:?}");
    assert_eq!(err.code(), "durability");
    let said = err.to_string();
    assert!(said.contains("Nothing moved"), "{said}");
    let tasks = cell.gate.registry().list(10);
    let failed = tasks
        .iter()
        .find(|t| t.state == TaskState::Failed)
        .expect("the refused task is recorded as failed");
    assert_eq!(failed.error.as_ref().unwrap().code, "durability");
    assert!(
        failed.message.contains("did not move"),
        "{}",
        failed.message
    );
    assert_eq!(cell.gate.view().phase, "idle");
    let after = cell.joints();
    assert!(
        before.iter().zip(&after).all(|(a, b)| (a - b).abs() < 1e-4),
        "the arm moved: {before:?} -> {after:?}"
    );

    // The disk takes writes again: the arm is free and the next motion starts.
    let next = cell.gate.start(cell.task(2, Confirm::Never)).unwrap();
    let rec = cell.settle(&next.record.task_id);
    assert_eq!(rec.state, TaskState::Succeeded, "{rec:?}");
}

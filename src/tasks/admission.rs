//! Taking on a foreground task in two halves, so that nobody waits on the desk lock, or
//! blocks an async worker, while its record is synced.
//!
//! 1. Under the desk lock (`MotionGate::admit`): every check, the task's number, its
//!    record handed to the journal's writer thread, the arm's lease or a place in line.
//!    The record is handed over inside the lock, so it reaches the disk before anything
//!    that happens to the task afterwards.
//! 2. Once the record's sync returns, under the lock again (`settle`): the motion, runner
//!    or expiry clock begins, if the task still holds the arm. A stop or cancel in
//!    between has raised the executor's fence over its motion id, so a motion begun then
//!    is fenced off and the task ends cancelled. A record that could not be synced fails
//!    its task, nothing having moved, and the call is refused.
//!
//! Inside `actions::call`, the gate leaves half 2 to be awaited by `call` before it
//! answers ([`collect`]); elsewhere `MotionGate::start` waits on its own thread.

use std::cell::RefCell;
use std::sync::Arc;

use uuid::Uuid;

use super::journal::{JournalError, OnDisk};
use super::lease::Pending;
use super::motion::{end_unmoved, fail_live, MotionGate};
use super::registry::Desk;
use super::requests::{Accepted, GateError, MotionTask, When};
use super::words::why;
use super::{plan::fresh_record, TaskRecord, TaskState};

/// A task whose record is handed over but maybe not yet on disk: half 2 of taking it on.
/// Dropped unsettled (a cancelled request), it settles on the gate's runtime.
#[must_use = "a task begins only once its admission is settled"]
pub struct Admission {
    gate: Arc<MotionGate>,
    parts: Option<(OnDisk, Then)>,
}

/// What follows the sync.
pub(super) enum Then {
    /// The task holds the arm: begin it.
    Begin(Begin),
    /// The task waits in line: nothing, unless its record failed.
    Queued(Uuid),
}

/// A task that holds the arm and has not begun.
pub(super) struct Begin {
    /// The task.
    pub task_id: Uuid,
    /// The motion id the lease holds for it.
    pub motion_id: u64,
    /// Held for confirmation: its expiry clock starts, not its motion.
    pub held: bool,
    /// What starts.
    pub pending: Pending,
}

impl Admission {
    /// Awaits the record's sync, then begins the task (or refuses).
    pub async fn settle(mut self) -> Result<(), GateError> {
        let Some((on_disk, then)) = self.parts.take() else {
            return Ok(());
        };
        let synced = on_disk.synced().await;
        self.gate.settle(then, synced)
    }

    /// The same, waiting on this thread.
    pub fn settle_blocking(mut self) -> Result<(), GateError> {
        let Some((on_disk, then)) = self.parts.take() else {
            return Ok(());
        };
        self.gate.settle(then, on_disk.wait())
    }
}

impl Admission {
    /// Inside a [`collect`] scope, leaves the settling to the collector; elsewhere settles
    /// now, waiting on this thread.
    pub(super) fn settle_in_call(self) -> Result<(), GateError> {
        if UNSETTLED.try_with(|_| ()).is_ok() {
            UNSETTLED.with(|u| u.borrow_mut().push(self));
            Ok(())
        } else {
            self.settle_blocking()
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let Some((on_disk, then)) = self.parts.take() else {
            return;
        };
        // The caller went away: the task must still begin or fail, never hold the arm idle.
        let gate = self.gate.clone();
        match gate.runtime() {
            Some(rt) => {
                rt.spawn(async move {
                    let synced = on_disk.synced().await;
                    let _ = gate.settle(then, synced);
                });
            }
            None => {
                let _ = gate.settle(then, on_disk.wait());
            }
        }
    }
}

tokio::task_local! {
    /// The admissions made during one tool call, settled by the call before it answers.
    static UNSETTLED: RefCell<Vec<Admission>>;
}

/// Runs `call` (a tool's handler) collecting the admissions it makes: returns its answer
/// and them, to be settled before the answer goes out.
pub fn collect<T>(call: impl FnOnce() -> T) -> (T, Vec<Admission>) {
    UNSETTLED.sync_scope(RefCell::new(Vec::new()), || {
        let answer = call();
        let made = UNSETTLED.with(|u| std::mem::take(&mut *u.borrow_mut()));
        (answer, made)
    })
}

impl MotionGate {
    /// Takes on a foreground task: half 1 under the lock (checks, plan, record handed to
    /// the journal, lease or place in line), then half 2 once the record is on disk. Inside
    /// a [`collect`] scope half 2 is left to the collector; elsewhere this waits for it.
    pub fn start(self: &Arc<Self>, task: MotionTask) -> Result<Accepted, GateError> {
        let (accepted, admission) = self.admit(task)?;
        admission.settle_in_call()?;
        Ok(accepted)
    }

    /// Half 1, under the desk lock: the task holds the arm (not begun), is held for
    /// confirmation, or waits in line; its record is handed to the journal.
    pub fn admit(self: &Arc<Self>, task: MotionTask) -> Result<(Accepted, Admission), GateError> {
        let mut desk = self.registry.desk();
        if let Some(busy) = desk.busy() {
            return match task.when {
                When::After => {
                    let (accepted, on_disk) = self.enqueue(&mut desk, task)?;
                    let then = Then::Queued(accepted.record.task_id);
                    Ok((accepted, self.admission(on_disk, then)))
                }
                When::Now => Err(GateError::Busy(busy)),
            };
        }
        let rec = fresh_record(&task, TaskState::Running, String::new(), 0.0, None);
        let (accepted, begin, on_disk) = self.take_arm(&mut desk, rec, task)?;
        Ok((accepted, self.admission(on_disk, Then::Begin(begin))))
    }

    pub(super) fn admission(self: &Arc<Self>, on_disk: OnDisk, then: Then) -> Admission {
        Admission {
            gate: self.clone(),
            parts: Some((on_disk, then)),
        }
    }

    /// Half 2, once the record's sync returned: begins the task if it still holds the arm,
    /// or fails it (and refuses) if its record is not on disk.
    fn settle(
        self: &Arc<Self>,
        then: Then,
        synced: Result<(), JournalError>,
    ) -> Result<(), GateError> {
        let mut desk = self.registry.desk();
        let (result, ended) = match then {
            Then::Begin(begin) => {
                let (result, failed) = self.go(&mut desk, begin, synced);
                let ended = failed.map(|mut rec| {
                    self.promote_after(&mut desk, &mut rec);
                    // The failure is noted by the scribe if it cannot be written either.
                    let _ = self.registry.hand(&rec);
                    rec
                });
                (result, ended)
            }
            Then::Queued(task_id) => match synced {
                Ok(()) => (Ok(()), None),
                Err(e) => (
                    Err(GateError::Durability(e.cause())),
                    self.unqueue(&mut desk, &task_id, "durability", why::NOT_RECORDED),
                ),
            },
        };
        drop(desk);
        ended.into_iter().for_each(|r| self.after_end(r));
        result
    }

    /// Begins `begin` (desk locked) after its record's sync, or fails it. A task failed
    /// here is returned for the caller to hand the arm on, journal and announce.
    pub(super) fn go(
        self: &Arc<Self>,
        desk: &mut Desk,
        begin: Begin,
        synced: Result<(), JournalError>,
    ) -> (Result<(), GateError>, Option<TaskRecord>) {
        let holds = desk
            .lease
            .live
            .as_ref()
            .is_some_and(|l| l.task_id == begin.task_id && l.motion_id == begin.motion_id);
        let result = match synced {
            // Stopped, cancelled or confirmed meanwhile: that path took the task over.
            Ok(()) if !holds => return (Ok(()), None),
            Ok(()) => self.start_work(begin.task_id, begin.held, begin.pending, begin.motion_id),
            Err(e) => Err(GateError::Durability(e.cause())),
        };
        let Err(e) = result else {
            if let Some(rec) = desk.book.get(&begin.task_id) {
                self.registry.mirror(rec, true);
            }
            return (Ok(()), None);
        };
        let failed = match &e {
            _ if !holds => None,
            GateError::Durability(_) => desk.lease.live.take().and_then(|live| {
                end_unmoved(
                    desk,
                    &live.task_id,
                    TaskState::Failed,
                    "durability",
                    why::NOT_RECORDED,
                )
            }),
            other => fail_live(desk, "executor", &other.to_string()),
        };
        (Err(e), failed)
    }
}

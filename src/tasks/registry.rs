//! The task registry: one façade over the book of records, the lease on the arm, the
//! journal and the mirror into installation variables.
//!
//! Its lock (the desk) is the one critical section of the tasks layer: the motion gate
//! (`motion.rs`) does every check-and-start and every stop under it. Used only by the
//! async side and the supervisor thread; the motion thread never touches it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, Notify};
use uuid::Uuid;

use super::book::{self, Book, Scribe};
use super::journal::{Journal, JournalError, LoadReport, OnDisk};
use super::lease::{Lease, Live};
use super::mirror::mirror;
use super::{now_rfc3339, words, Applied, Sequence, TaskError, TaskRecord, TaskState};
use crate::durable;
use crate::vars::VarStore;

/// Progress is journaled at most this often (state changes always are).
const JOURNAL_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// A foreground action was refused because the arm is busy with this task.
#[derive(Debug, Clone)]
pub struct Busy {
    /// The task holding the arm.
    pub task_id: Uuid,
    /// Its number.
    pub task_number: u64,
    /// Its action.
    pub action: String,
    /// Its progress (0–100).
    pub progress: f64,
}

/// What the desk lock guards: the records and the lease, changed together.
pub(super) struct Desk {
    pub(super) book: Book,
    pub(super) lease: Lease,
}

impl Desk {
    /// The task holding the arm, if one does.
    pub(super) fn busy(&self) -> Option<Busy> {
        let held = self.book.get(&self.lease.live.as_ref()?.task_id)?;
        Some(Busy {
            task_id: held.task_id,
            task_number: held.task_number,
            action: held.action.clone(),
            progress: held.progress,
        })
    }
}

/// All tasks of one arm.
pub struct Registry {
    desk: Mutex<Desk>,
    scribe: Scribe,
    vars: VarStore,
    /// Where the journal and the variables live (the gate checks its free space).
    state_dir: PathBuf,
    /// The plugin is stopping: a multi-step task braked now ends `interrupted`, resumable.
    shutting_down: AtomicBool,
    /// Every task that ends, as it ends (audit, owners' sessions).
    ended: broadcast::Sender<TaskRecord>,
    /// Starts the next queued task when the arm comes free, in the same critical section;
    /// returns what to say of it ("Next: …"). Set once by the motion gate.
    promoter: OnceLock<Promoter>,
}

/// The gate's hook that hands the arm to the next queued task.
pub(super) type Promoter = Box<dyn Fn(&mut Desk, &TaskRecord) -> Option<String> + Send + Sync>;

impl Registry {
    /// Opens the registry in `state_dir`; a task that was running when the plugin last
    /// stopped is marked `interrupted` (and never resumed).
    pub fn open(
        state_dir: &Path,
        vars: VarStore,
        retention: usize,
    ) -> Result<(Self, LoadReport), JournalError> {
        let (mut journal, report) = Journal::open(state_dir)?;
        let book = book::load(&report, retention, &mut journal, |rec| {
            mirror(&vars, rec, true)
        })?;
        let registry = Self {
            desk: Mutex::new(Desk {
                book,
                lease: Lease::new(),
            }),
            scribe: Scribe::new(journal),
            vars,
            state_dir: state_dir.to_path_buf(),
            shutting_down: AtomicBool::new(false),
            ended: broadcast::channel(256).0,
            promoter: OnceLock::new(),
        };
        registry.evict_and_compact();
        Ok((registry, report))
    }

    /// The state directory.
    pub(super) fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The desk, locked.
    pub(super) fn desk(&self) -> MutexGuard<'_, Desk> {
        // The desk stays consistent between statements; a panic elsewhere must not stop
        // status and stop from answering.
        self.desk.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs the gate's hook that starts the next queued task (once).
    pub(super) fn set_promoter(&self, promoter: Promoter) {
        let _ = self.promoter.set(promoter);
    }

    /// After the live task `ended` left the arm (desk locked): the next in line takes it.
    /// Returns what to say of it.
    pub(super) fn promote(&self, desk: &mut Desk, ended: &TaskRecord) -> Option<String> {
        self.promoter.get().and_then(|p| p(desk, ended))
    }

    /// The queued tasks, in order: id, action, what it does, planned seconds.
    pub fn queue(&self) -> Vec<(Uuid, String, String, f64)> {
        self.desk()
            .lease
            .queue
            .iter()
            .map(|q| {
                (
                    q.task_id,
                    q.task.action.clone(),
                    q.task.doing.clone(),
                    q.eta_s,
                )
            })
            .collect()
    }

    /// Journals `rec` (synced before this returns).
    pub(super) fn journal(&self, rec: &TaskRecord) -> Result<(), JournalError> {
        self.scribe.write(rec)
    }

    /// Hands `rec` to the journal without waiting: records handed over under the desk
    /// lock reach the disk in the order they happened; the answer resolves once it is there.
    pub(super) fn hand(&self, rec: &TaskRecord) -> OnDisk {
        self.scribe.hand(rec)
    }

    /// Mirrors `rec` into the task variables.
    pub(super) fn mirror(&self, rec: &TaskRecord, urgent: bool) {
        mirror(&self.vars, rec, urgent);
    }

    /// While journal appends fail, tries the journal again by writing it whole.
    pub(super) fn retry_journal(&self) {
        let desk = self.desk();
        self.scribe.retry(&desk.book);
    }

    /// Whether the journal and the variables take writes, in that order.
    pub(super) fn health(&self) -> (durable::HealthStatus, durable::HealthStatus) {
        (self.scribe.health(), self.vars.health())
    }

    /// Journal appends since start; each is one fsync.
    pub fn journal_appends(&self) -> u64 {
        self.scribe.appends()
    }

    /// One task.
    pub fn get(&self, id: &Uuid) -> Option<TaskRecord> {
        self.desk().book.get(id).cloned()
    }

    /// The task numbered `n` ("task 12").
    pub fn by_number(&self, n: u64) -> Option<TaskRecord> {
        self.desk().book.by_number(n).cloned()
    }

    /// Up to `limit` tasks, newest first.
    pub fn list(&self, limit: usize) -> Vec<TaskRecord> {
        self.list_where(limit, |_| true)
    }

    /// Up to `limit` tasks that pass `keep`, newest first; only those are copied.
    pub fn list_where(&self, limit: usize, keep: impl Fn(&TaskRecord) -> bool) -> Vec<TaskRecord> {
        self.desk().book.list_where(limit, keep)
    }

    /// The task holding the arm and its current motion id, if any.
    pub fn live(&self) -> Option<(Uuid, u64)> {
        self.desk()
            .lease
            .live
            .as_ref()
            .map(|l| (l.task_id, l.motion_id))
    }

    /// The task holding the arm and how it is spoken of ("Moving to home").
    pub fn live_doing(&self) -> Option<(Uuid, String)> {
        self.desk()
            .lease
            .live
            .as_ref()
            .map(|l| (l.task_id, l.doing.clone()))
    }

    /// The task awaiting confirmation, if any.
    pub fn gated(&self) -> Option<Uuid> {
        self.desk()
            .lease
            .live
            .as_ref()
            .filter(|l| l.hold.is_some())
            .map(|l| l.task_id)
    }

    /// From now on the plugin is stopping (multi-step tasks braked now stay resumable).
    pub fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Whether the plugin is stopping.
    pub(super) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// Every task that ends from now on, with its final record.
    pub fn subscribe_ended(&self) -> broadcast::Receiver<TaskRecord> {
        self.ended.subscribe()
    }

    /// Tells the subscribers that `rec` ended.
    pub(super) fn announce_end(&self, rec: TaskRecord) {
        // No subscriber is not an error.
        let _ = self.ended.send(rec);
    }

    /// The executor started `motion_id`, planned to take `duration_s`.
    pub fn on_started(&self, motion_id: u64, duration_s: f64) {
        self.update_live(motion_id, |rec, live| {
            // A step's motion is one part of its task: the steps after it count too.
            let after = match (&live.seq, &rec.steps) {
                (Some(sl), Some(st)) => sl.seq.seconds_after(st.done),
                _ => 0.0,
            };
            rec.eta_s = Some(tenth(duration_s + after));
            false
        });
    }

    /// Measured progress of `motion_id` (0–1).
    pub fn on_progress(&self, motion_id: u64, progress: f64, remaining_s: f64, stopping: bool) {
        self.update_live(motion_id, |rec, live| {
            if let (Some(sl), Some(st)) = (&live.seq, &mut rec.steps) {
                let step = st.done;
                rec.progress = tenth(sl.seq.percent(step, progress));
                rec.eta_s = Some(tenth(remaining_s + sl.seq.seconds_after(step)));
                rec.message =
                    words::step_progress(step + 1, st.total, &st.label, rec.progress, stopping);
                return false;
            }
            rec.progress = tenth(progress * 100.0);
            rec.eta_s = Some(tenth(remaining_s));
            rec.message = words::progress(&live.doing, rec.progress, remaining_s, stopping);
            false
        });
    }

    /// `motion_id` ended in `state` (with `error` when it did not succeed).
    pub fn on_finished(
        &self,
        motion_id: u64,
        state: TaskState,
        progress: f64,
        error: Option<TaskError>,
    ) {
        let sequence = {
            let mut desk = self.desk();
            match desk
                .lease
                .live
                .as_mut()
                .filter(|l| l.motion_id == motion_id)
            {
                Some(Live {
                    task_id,
                    seq: Some(sl),
                    ..
                }) => {
                    let ok = state == TaskState::Succeeded;
                    if let Some(w) = sl.waiter.take() {
                        let _ = w.send(ok);
                    }
                    if ok {
                        // The runner records the checkpoint and goes on.
                        return;
                    }
                    Some(*task_id)
                }
                _ => None,
            }
        };
        if let Some(task_id) = sequence {
            // A multi-step task braked by a fault, or by the plugin stopping, can be resumed.
            let stopping = self.shutting_down.load(Ordering::Relaxed);
            let state = if state == TaskState::Cancelled && !stopping {
                TaskState::Cancelled
            } else {
                TaskState::Interrupted
            };
            let error = error.or_else(|| {
                (state == TaskState::Interrupted).then(|| TaskError {
                    code: "interrupted".into(),
                    message: "the plugin was stopping".into(),
                })
            });
            self.finish_sequence(&task_id, state, error);
            return;
        }
        self.update_live(motion_id, |rec, live| {
            if !rec.state.can_become(state) {
                return false;
            }
            rec.state = state;
            rec.progress = tenth(progress * 100.0);
            rec.eta_s = None;
            rec.message = words::motion_ended(
                &live.doing,
                &live.done,
                rec.task_number,
                state,
                rec.progress,
                error.as_ref().map(|e| e.message.as_str()),
            );
            rec.error = error.clone();
            rec.finished_at = Some(rec.updated_at.clone());
            true
        });
    }

    /// Applies `change` to the live task if it is `motion_id`; journals and mirrors it.
    /// `change` returns true for a state change (journaled and written at once).
    fn update_live(
        &self,
        motion_id: u64,
        change: impl FnOnce(&mut TaskRecord, &Live) -> bool,
    ) -> bool {
        self.update_where(|l| l.motion_id == motion_id, false, change)
    }

    /// Applies `change` to the live task if `pick` accepts it; journals and mirrors it.
    /// `checkpoint` journals it whatever changed. A task that ends frees the arm in the
    /// same critical section, so a client that sees it end may start the next motion.
    pub(super) fn update_where(
        &self,
        pick: impl Fn(&Live) -> bool,
        checkpoint: bool,
        change: impl FnOnce(&mut TaskRecord, &Live) -> bool,
    ) -> bool {
        let mut desk = self.desk();
        let Desk { book, lease } = &mut *desk;
        let Some(live) = lease.live.as_mut().filter(|l| pick(l)) else {
            return false;
        };
        let Some(rec) = book.get_mut(&live.task_id) else {
            return false;
        };
        let before = rec.state;
        rec.updated_at = now_rfc3339();
        let state_change = change(rec, live) && rec.state != before;
        let journal_it =
            state_change || checkpoint || live.last_journaled.elapsed() >= JOURNAL_PROGRESS_EVERY;
        if journal_it {
            live.last_journaled = Instant::now();
        }
        let mut rec = rec.clone();
        let ended = state_change && rec.state.is_terminal();
        if ended {
            lease.live = None;
            // The next in line takes the arm in this same critical section.
            if let Some(next) = self.promote(&mut desk, &rec) {
                rec.message = format!("{} {next}", rec.message);
                if let Some(r) = desk.book.get_mut(&rec.task_id) {
                    r.message = rec.message.clone();
                }
            }
        }
        if state_change {
            // Under the desk lock: a state change is on disk in the order it happened.
            self.scribe.write_or_log(&rec);
        }
        drop(desk);
        if journal_it && !state_change {
            self.scribe.write_or_log(&rec);
        }
        self.mirror(&rec, state_change || checkpoint);
        if ended {
            self.announce_end(rec);
            self.evict_and_compact();
        }
        state_change
    }

    /// The steps of the live task `task_id`, and the signal that wakes its runner when halted.
    pub(super) fn sequence(&self, task_id: &Uuid) -> Option<(Arc<Sequence>, Arc<Notify>)> {
        let mut desk = self.desk();
        let live = desk.lease.holding(task_id)?;
        live.seq.as_ref().map(|s| (s.seq.clone(), s.wake.clone()))
    }

    /// `step` (0-based) of `task_id` is finished: the checkpoint is journaled (fsynced)
    /// before this returns, with the variable it wrote, if any.
    pub(super) fn step_done(&self, task_id: &Uuid, step: usize, applied: Option<Applied>) -> bool {
        self.update_where(
            |l| l.task_id == *task_id && l.seq.is_some(),
            true,
            |rec, live| {
                let (Some(sl), Some(st)) = (&live.seq, &mut rec.steps) else {
                    return false;
                };
                st.done = st.done.max(step + 1);
                st.current = None;
                st.applied.extend(applied);
                rec.progress = tenth(sl.seq.percent(st.done, 0.0));
                rec.eta_s = Some(tenth(sl.seq.seconds_after(step)));
                rec.message = words::step_done(step + 1, st.total, &st.label, rec.progress);
                false
            },
        )
    }

    /// Ends the multi-step task `task_id` in `state`.
    pub(super) fn finish_sequence(
        &self,
        task_id: &Uuid,
        state: TaskState,
        error: Option<TaskError>,
    ) {
        self.update_where(
            |l| l.task_id == *task_id && l.seq.is_some(),
            true,
            |rec, live| {
                if !rec.state.can_become(state) {
                    return false;
                }
                let Some(st) = rec.steps.as_mut() else {
                    return false;
                };
                st.current = None;
                if state == TaskState::Succeeded {
                    rec.progress = 100.0;
                }
                rec.state = state;
                rec.eta_s = None;
                rec.message = words::sequence_ended(
                    &rec.action,
                    &live.done,
                    rec.task_number,
                    state,
                    st,
                    rec.progress,
                    error.as_ref().map(|e| e.message.as_str()),
                );
                rec.error = error.clone();
                rec.finished_at = Some(rec.updated_at.clone());
                true
            },
        );
    }

    /// Drops the oldest finished tasks beyond the retention, and compacts the journal
    /// once it holds far more lines than tasks.
    pub(super) fn evict_and_compact(&self) {
        let mut desk = self.desk();
        desk.book.evict();
        self.scribe.compact_if_due(&desk.book);
    }
}

/// Rounded to a tenth, as records keep progress and times.
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

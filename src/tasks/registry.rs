//! The task registry: every task's record, the one foreground task per arm, the journal
//! behind it, and the mirror of the running task into installation variables.
//!
//! Used only by the async side and the supervisor thread; the motion thread never
//! touches it.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, oneshot, Notify};
use uuid::Uuid;

use super::journal::{Journal, JournalError, LoadReport};
use super::{now_rfc3339, Applied, Sequence, Step, StepsStatus, TaskError, TaskRecord, TaskState};
use crate::vars::{VarStore, VarValue};

/// Progress is journaled at most this often (state changes always are).
const JOURNAL_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// A foreground task to create.
pub struct NewTask {
    /// The action (tool).
    pub action: String,
    /// Its parameters.
    pub params: serde_json::Value,
    /// Who starts it.
    pub owner: String,
    /// "Moving to home".
    pub doing: String,
    /// "Arrived at home.".
    pub done: String,
    /// Planned duration (s).
    pub eta_s: f64,
    /// A confirmation gate: the task waits for `confirm_task` before the arm moves.
    pub gate: Option<Gate>,
    /// The steps of a multi-step task; `None` for a single motion.
    pub sequence: Option<Arc<Sequence>>,
}

/// What a task starts with once it may move.
#[derive(Debug, Clone)]
pub enum Pending {
    /// One motion.
    Motion {
        /// Where it goes.
        target: crate::hal::Joints,
        /// At what speed.
        speed: f64,
    },
    /// The steps of a multi-step task, from step `from` (0-based), after `prelude`.
    Steps {
        /// The first step to run.
        from: usize,
        /// A move back to where that step starts (resume).
        prelude: Option<Step>,
    },
}

/// A motion held back until its owner confirms it.
#[derive(Debug, Clone)]
pub struct Gate {
    /// What starts once confirmed.
    pub start: Pending,
    /// The speakable question ("This moves the shoulder 80 degrees at 25 % speed. Confirm?").
    pub question: String,
    /// When it expires unconfirmed.
    pub deadline: Instant,
}

/// Why a gated task could not be released.
#[derive(Debug, Clone, PartialEq)]
pub enum ReleaseError {
    /// The task is not waiting for a confirmation (its state).
    NotAwaiting(TaskState),
    /// The confirmation came after the deadline; the task was dropped.
    Expired,
}

/// A foreground action was refused because the arm is busy with this task.
#[derive(Debug, Clone)]
pub struct Busy {
    /// The running task.
    pub task_id: Uuid,
    /// Its action.
    pub action: String,
    /// Its progress (0–100).
    pub progress: f64,
}

struct Live {
    task_id: Uuid,
    motion_id: u64,
    /// "Moving to home": how the running task is spoken of.
    doing: String,
    /// "Reached home.": what is said when it succeeds.
    done: String,
    /// Set while the task awaits confirmation: what to start once confirmed.
    gate: Option<Gate>,
    last_journaled: Instant,
    /// A multi-step task's steps and its runner's signals.
    seq: Option<SeqLive>,
}

struct SeqLive {
    seq: Arc<Sequence>,
    /// Cancel or stop was called: no further step starts.
    halted: bool,
    /// The runner waits on the current motion's end (true: it succeeded).
    waiter: Option<oneshot::Sender<bool>>,
    /// Wakes a runner that waits (a `wait` step) when the task is halted.
    wake: Arc<Notify>,
}

impl SeqLive {
    fn new(seq: Arc<Sequence>) -> Self {
        Self {
            seq,
            halted: false,
            waiter: None,
            wake: Arc::new(Notify::new()),
        }
    }
}

/// What the runner of a multi-step task finds when it enters a step.
pub enum Entered {
    /// Cancelled or stopped, or no longer the live task: go no further.
    Halted,
    /// Go on (a step without motion).
    Ready,
    /// The step's motion was handed to the executor; this tells how it ended.
    Moving(oneshot::Receiver<bool>),
    /// The motion could not be handed over (the executor's message).
    SendFailed(String),
}

/// Why a task could not be resumed.
#[derive(Debug, Clone)]
pub enum ResumeError {
    /// Another task holds the arm.
    Busy(Busy),
    /// The task is not interrupted (its state), or has no steps.
    NotInterrupted(TaskState),
    /// No such task.
    Unknown,
}

struct Inner {
    tasks: HashMap<Uuid, TaskRecord>,
    order: VecDeque<Uuid>,
    live: Option<Live>,
    next_motion: u64,
}

impl Inner {
    /// The task holding the arm, if one does.
    fn busy(&self) -> Option<Busy> {
        let running = self.tasks.get(&self.live.as_ref()?.task_id)?;
        Some(Busy {
            task_id: running.task_id,
            action: running.action.clone(),
            progress: running.progress,
        })
    }
}

/// All tasks of one arm.
pub struct Registry {
    inner: Mutex<Inner>,
    journal: Mutex<Journal>,
    vars: VarStore,
    retention: usize,
    /// The plugin is stopping: a multi-step task braked now ends `interrupted`, resumable.
    shutting_down: AtomicBool,
    /// Every task that ends, as it ends (audit, owners' sessions).
    ended: broadcast::Sender<TaskRecord>,
    /// Journal appends (each fsynced) since start.
    appends: AtomicU64,
}

/// The first four hex digits of a task id, to speak.
pub fn short_id(id: &Uuid) -> String {
    id.simple().to_string()[..4].to_owned()
}

/// Rounds for speech and status: whole seconds above 10, tenths below.
fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{:.0} seconds", s)
    } else if (s - 1.0).abs() < 0.05 {
        "1 second".into()
    } else {
        format!("{:.1} seconds", s)
    }
}

impl Registry {
    /// Opens the registry in `state_dir`; a task that was running when the plugin last
    /// stopped is marked `interrupted` (and never resumed).
    pub fn open(
        state_dir: &Path,
        vars: VarStore,
        retention: usize,
    ) -> Result<(Self, LoadReport), JournalError> {
        let (mut journal, report) = Journal::open(state_dir)?;
        let mut inner = Inner {
            tasks: HashMap::new(),
            order: VecDeque::new(),
            live: None,
            next_motion: 1,
        };
        for rec in &report.records {
            let mut rec = rec.clone();
            if !rec.state.is_terminal() {
                let now = now_rfc3339();
                rec.message = match &mut rec.steps {
                    Some(st) => {
                        st.current = None;
                        format!(
                            "Armature stopped while task {} ({}) was at step {} of {} ({}), {:.0} %. {} The arm will not move again by itself.",
                            short_id(&rec.task_id),
                            rec.action,
                            (st.done + 1).min(st.total),
                            st.total,
                            st.label,
                            rec.progress,
                            resume_hint(st)
                        )
                    }
                    None => format!(
                        "Armature stopped while task {} ({}) was {} at {:.0} %. The arm will not move again by itself.",
                        short_id(&rec.task_id),
                        rec.action,
                        rec.state.as_str(),
                        rec.progress
                    ),
                };
                rec.state = TaskState::Interrupted;
                rec.eta_s = None;
                rec.error = Some(TaskError {
                    code: "interrupted".into(),
                    message: "the plugin stopped (crash, power loss or restart) while the task ran"
                        .into(),
                });
                rec.updated_at = now.clone();
                rec.finished_at = Some(now);
                journal.append(&rec)?;
                mirror(&vars, &rec, true);
            }
            inner.order.push_back(rec.task_id);
            inner.tasks.insert(rec.task_id, rec);
        }
        let registry = Self {
            inner: Mutex::new(inner),
            journal: Mutex::new(journal),
            vars,
            retention: retention.max(1),
            shutting_down: AtomicBool::new(false),
            ended: broadcast::channel(256).0,
            appends: AtomicU64::new(0),
        };
        registry.evict_and_compact();
        Ok((registry, report))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The registry's data stays consistent between statements; a panic elsewhere
        // must not stop status and stop from answering.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn journal(&self, rec: &TaskRecord) {
        let mut j = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        self.appends.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = j.append(rec) {
            tracing::error!(task_id = %rec.task_id, error = %e, "cannot journal task");
        }
    }

    /// Creates a running foreground task, unless one is already running.
    ///
    /// Returns the record and the motion id to hand to the executor. The record is
    /// journaled (fsynced) before this returns.
    pub fn begin_foreground(&self, new: NewTask) -> Result<(TaskRecord, u64), Busy> {
        let NewTask {
            action,
            params,
            owner,
            doing,
            done,
            eta_s,
            gate,
            sequence,
        } = new;
        let mut inner = self.lock();
        if let Some(busy) = inner.busy() {
            return Err(busy);
        }
        let task_id = Uuid::new_v4();
        let motion_id = inner.next_motion;
        inner.next_motion += 1;
        let now = now_rfc3339();
        let (state, message) = match &gate {
            Some(g) => (
                TaskState::AwaitingConfirmation,
                format!("{} Task {}.", g.question, short_id(&task_id)),
            ),
            None => (
                TaskState::Running,
                format!(
                    "{doing}, about {}. Task {}.",
                    seconds(eta_s),
                    short_id(&task_id)
                ),
            ),
        };
        let rec = TaskRecord {
            task_id,
            action,
            params,
            state,
            progress: 0.0,
            message,
            created_at: now.clone(),
            updated_at: now,
            finished_at: None,
            eta_s: Some(eta_s),
            error: None,
            owner,
            steps: sequence.as_ref().map(|seq| StepsStatus {
                total: seq.steps.len(),
                done: 0,
                current: None,
                label: seq
                    .steps
                    .first()
                    .map(|s| s.label.clone())
                    .unwrap_or_default(),
                digest: seq.digest.clone(),
                resumed: 0,
                applied: vec![],
            }),
        };
        inner.live = Some(Live {
            task_id,
            motion_id,
            doing,
            done,
            last_journaled: Instant::now(),
            gate,
            seq: sequence.map(SeqLive::new),
        });
        inner.order.push_back(task_id);
        inner.tasks.insert(task_id, rec.clone());
        drop(inner);
        self.journal(&rec);
        mirror(&self.vars, &rec, true);
        Ok((rec, motion_id))
    }

    /// Releases a gated task: it becomes `running`; returns its motion id and what to start.
    pub fn release(&self, task_id: &Uuid) -> Result<(u64, Pending), ReleaseError> {
        let gate = {
            let inner = self.lock();
            let state = inner
                .tasks
                .get(task_id)
                .map(|t| t.state)
                .unwrap_or(TaskState::Failed);
            match inner
                .live
                .as_ref()
                .filter(|l| l.task_id == *task_id)
                .and_then(|l| l.gate.clone())
            {
                Some(g) => (g, inner.live.as_ref().map(|l| l.motion_id).unwrap_or(0)),
                None => return Err(ReleaseError::NotAwaiting(state)),
            }
        };
        let (gate, motion_id) = gate;
        if Instant::now() > gate.deadline {
            self.drop_gated(
                task_id,
                "confirmation_expired",
                "it was not confirmed in time; the arm did not move",
            );
            return Err(ReleaseError::Expired);
        }
        self.update_live(motion_id, |rec, _| {
            rec.state = TaskState::Running;
            rec.message = format!("Confirmed: {}.", rec.action);
            true
        });
        if let Some(live) = self.lock().live.as_mut() {
            live.gate = None;
        }
        Ok((motion_id, gate.start))
    }

    /// Drops a task still awaiting confirmation: `cancelled`, with `code` and `why`.
    /// Returns whether it was awaiting.
    pub fn drop_gated(&self, task_id: &Uuid, code: &str, why: &str) -> bool {
        let motion_id = match self
            .lock()
            .live
            .as_ref()
            .filter(|l| l.task_id == *task_id && l.gate.is_some())
        {
            Some(l) => l.motion_id,
            None => return false,
        };
        let dropped = self.update_live(motion_id, |rec, _| {
            rec.eta_s = None;
            // A resume that was not confirmed leaves the task as it was: interrupted.
            if let Some(st) = rec.steps.as_ref().filter(|s| s.resumed > 0) {
                rec.state = TaskState::Interrupted;
                rec.message = format!(
                    "Task {} stays interrupted at step {} of {}: {why}. resume_task again when ready.",
                    short_id(&rec.task_id),
                    (st.done + 1).min(st.total),
                    st.total
                );
            } else {
                rec.state = TaskState::Cancelled;
                rec.message = format!("Task {} was dropped: {why}.", short_id(&rec.task_id));
            }
            rec.error = Some(TaskError {
                code: code.into(),
                message: why.into(),
            });
            rec.finished_at = Some(rec.updated_at.clone());
            true
        });
        if dropped {
            self.announce_end(task_id);
        }
        dropped
    }

    /// The task awaiting confirmation, if any.
    pub fn gated(&self) -> Option<Uuid> {
        self.lock()
            .live
            .as_ref()
            .filter(|l| l.gate.is_some())
            .map(|l| l.task_id)
    }

    /// The running task's id and motion id, if any.
    pub fn live(&self) -> Option<(Uuid, u64)> {
        self.lock().live.as_ref().map(|l| (l.task_id, l.motion_id))
    }

    /// Journal appends since start; each is one fsync.
    pub fn journal_appends(&self) -> u64 {
        self.appends.load(Ordering::Relaxed)
    }

    /// One task.
    pub fn get(&self, id: &Uuid) -> Option<TaskRecord> {
        self.lock().tasks.get(id).cloned()
    }

    /// The most recently created task.
    pub fn latest(&self) -> Option<TaskRecord> {
        let inner = self.lock();
        inner
            .order
            .back()
            .and_then(|id| inner.tasks.get(id))
            .cloned()
    }

    /// Up to `limit` tasks, newest first.
    pub fn list(&self, limit: usize) -> Vec<TaskRecord> {
        self.list_where(limit, |_| true)
    }

    /// Up to `limit` tasks that pass `keep`, newest first; only those are copied.
    pub fn list_where(&self, limit: usize, keep: impl Fn(&TaskRecord) -> bool) -> Vec<TaskRecord> {
        let inner = self.lock();
        inner
            .order
            .iter()
            .rev()
            .filter_map(|id| inner.tasks.get(id))
            .filter(|t| keep(t))
            .take(limit)
            .cloned()
            .collect()
    }

    /// The executor started `motion_id`, planned to take `duration_s`.
    pub fn on_started(&self, motion_id: u64, duration_s: f64) {
        self.update_live(motion_id, |rec, _| {
            rec.eta_s = Some(duration_s);
            false
        });
    }

    /// Measured progress of `motion_id` (0–1).
    pub fn on_progress(&self, motion_id: u64, progress: f64, remaining_s: f64, stopping: bool) {
        self.update_live(motion_id, |rec, live| {
            if let (Some(sl), Some(st)) = (&live.seq, &mut rec.steps) {
                let step = st.done;
                rec.progress = (sl.seq.percent(step, progress) * 10.0).round() / 10.0;
                let left = remaining_s + sl.seq.seconds_after(step);
                rec.eta_s = Some((left * 10.0).round() / 10.0);
                rec.message = format!(
                    "{}Step {} of {}: {} — {:.0} %.",
                    if stopping { "Stopping at " } else { "" },
                    step + 1,
                    st.total,
                    st.label,
                    rec.progress
                );
                return false;
            }
            let doing = &live.doing;
            rec.progress = (progress * 1000.0).round() / 10.0;
            rec.eta_s = Some((remaining_s * 10.0).round() / 10.0);
            rec.message = if stopping {
                format!(
                    "Stopping: {}, {:.0} % done.",
                    doing.to_lowercase(),
                    rec.progress
                )
            } else {
                format!(
                    "{doing}: {:.0} % done, about {} left.",
                    rec.progress,
                    seconds(remaining_s)
                )
            };
            false
        });
    }

    /// `motion_id` ended in `state` (with `error` when it failed).
    pub fn on_finished(
        &self,
        motion_id: u64,
        state: TaskState,
        progress: f64,
        error: Option<TaskError>,
    ) {
        let task = {
            let mut inner = self.lock();
            match inner.live.as_mut().filter(|l| l.motion_id == motion_id) {
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
        if let Some(task_id) = task {
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
        let task_id = self.live().filter(|l| l.1 == motion_id).map(|l| l.0);
        let finished = self.update_live(motion_id, |rec, live| {
            let (doing, done) = (live.doing.as_str(), live.done.as_str());
            if !rec.state.can_become(state) {
                return false;
            }
            rec.state = state;
            rec.progress = (progress * 1000.0).round() / 10.0;
            rec.eta_s = None;
            rec.message = match (&error, state) {
                (_, TaskState::Succeeded) => {
                    format!("{done} Task {} succeeded.", short_id(&rec.task_id))
                }
                (_, TaskState::Cancelled) => format!(
                    "Stopped: {} was cancelled at {:.0} %. The arm is standing still.",
                    doing.to_lowercase(),
                    rec.progress
                ),
                (Some(e), _) => format!("{doing} failed at {:.0} %: {}.", rec.progress, e.message),
                (None, _) => format!("{doing} ended: {}.", state.as_str()),
            };
            rec.error = error.clone();
            rec.finished_at = Some(rec.updated_at.clone());
            true
        });
        if let Some(id) = task_id.filter(|_| finished) {
            self.announce_end(&id);
            self.evict_and_compact();
        }
    }

    /// Tells the subscribers that `task_id` ended.
    fn announce_end(&self, task_id: &Uuid) {
        if let Some(rec) = self.get(task_id) {
            // No subscriber is not an error.
            let _ = self.ended.send(rec);
        }
    }

    /// Every task that ends from now on, with its final record.
    pub fn subscribe_ended(&self) -> broadcast::Receiver<TaskRecord> {
        self.ended.subscribe()
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
    /// `checkpoint` journals it whatever changed.
    fn update_where(
        &self,
        pick: impl Fn(&Live) -> bool,
        checkpoint: bool,
        change: impl FnOnce(&mut TaskRecord, &Live) -> bool,
    ) -> bool {
        let mut inner = self.lock();
        let Inner {
            tasks, live: slot, ..
        } = &mut *inner;
        let Some(live) = slot.as_mut().filter(|l| pick(l)) else {
            return false;
        };
        let Some(rec) = tasks.get_mut(&live.task_id) else {
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
        let rec = rec.clone();
        // The arm is free in the same instant the task reads ended: a client that sees it
        // end may start the next motion at once. (Clearing it later could also clear a
        // task started in between.)
        if state_change && rec.state.is_terminal() {
            *slot = None;
        }
        drop(inner);
        if journal_it {
            self.journal(&rec);
        }
        mirror(&self.vars, &rec, state_change || checkpoint);
        state_change
    }

    /// The steps of the live task `task_id`, and the signal that wakes its runner when halted.
    pub fn sequence(&self, task_id: &Uuid) -> Option<(Arc<Sequence>, Arc<Notify>)> {
        let inner = self.lock();
        let live = inner.live.as_ref().filter(|l| l.task_id == *task_id)?;
        live.seq.as_ref().map(|s| (s.seq.clone(), s.wake.clone()))
    }

    /// The runner of `task_id` enters `step` (0-based; `label` says what it does). With
    /// `start`, the step moves: `start` hands the motion to the executor under the
    /// registry's lock, so that a cancel or stop is never overtaken by a start.
    pub fn enter_step<E: std::fmt::Display>(
        &self,
        task_id: &Uuid,
        step: usize,
        label: &str,
        start: Option<impl FnOnce(u64) -> Result<(), E>>,
    ) -> Entered {
        let mut inner = self.lock();
        let next_motion = inner.next_motion;
        let Inner { tasks, live, .. } = &mut *inner;
        let Some(live) = live.as_mut().filter(|l| l.task_id == *task_id) else {
            return Entered::Halted;
        };
        let (Some(sl), Some(rec)) = (live.seq.as_mut(), tasks.get_mut(task_id)) else {
            return Entered::Halted;
        };
        if sl.halted {
            return Entered::Halted;
        }
        let Some(st) = rec.steps.as_mut() else {
            return Entered::Halted;
        };
        st.current = Some(step + 1);
        st.label = label.to_owned();
        rec.progress = (sl.seq.percent(step, 0.0) * 10.0).round() / 10.0;
        rec.message = format!(
            "Step {} of {}: {} — {:.0} %.",
            step + 1,
            st.total,
            label,
            rec.progress
        );
        rec.updated_at = now_rfc3339();
        let entered = match start {
            None => Entered::Ready,
            Some(start) => {
                let motion_id = next_motion;
                live.motion_id = motion_id;
                let (tx, rx) = oneshot::channel();
                sl.waiter = Some(tx);
                match start(motion_id) {
                    Ok(()) => Entered::Moving(rx),
                    Err(e) => {
                        sl.waiter = None;
                        Entered::SendFailed(e.to_string())
                    }
                }
            }
        };
        let rec = rec.clone();
        live.last_journaled = Instant::now();
        if matches!(entered, Entered::Moving(_)) {
            inner.next_motion += 1;
        }
        drop(inner);
        // Journaled so that after a crash the task names the step it was in.
        self.journal(&rec);
        mirror(&self.vars, &rec, true);
        entered
    }

    /// `step` (0-based) of `task_id` is finished: the checkpoint is journaled (fsynced)
    /// before this returns, with the variable it wrote, if any.
    pub fn step_done(&self, task_id: &Uuid, step: usize, applied: Option<Applied>) -> bool {
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
                rec.progress = (sl.seq.percent(st.done, 0.0) * 10.0).round() / 10.0;
                rec.eta_s = Some((sl.seq.seconds_after(step) * 10.0).round() / 10.0);
                rec.message = format!(
                    "Step {} of {} done: {} — {:.0} %.",
                    step + 1,
                    st.total,
                    st.label,
                    rec.progress
                );
                false
            },
        )
    }

    /// Ends the multi-step task `task_id` in `state`.
    pub fn finish_sequence(&self, task_id: &Uuid, state: TaskState, error: Option<TaskError>) {
        let finished = self.update_where(
            |l| l.task_id == *task_id && l.seq.is_some(),
            true,
            |rec, live| {
                if !rec.state.can_become(state) {
                    return false;
                }
                let Some(st) = rec.steps.as_mut() else {
                    return false;
                };
                let at = (st.done + 1).min(st.total);
                st.current = None;
                rec.state = state;
                rec.eta_s = None;
                rec.message = match (state, &error) {
                    (TaskState::Succeeded, _) => {
                        rec.progress = 100.0;
                        format!("{} Task {} succeeded.", live.done, short_id(&rec.task_id))
                    }
                    (TaskState::Cancelled, _) => format!(
                        "Stopped at step {at} of {} ({}): {} was cancelled at {:.0} %. The arm is standing still.",
                        st.total,
                        st.label,
                        rec.action,
                        rec.progress
                    ),
                    (_, Some(e)) => format!(
                        "{} at step {at} of {} ({}): {}. {}",
                        if state == TaskState::Interrupted { "Interrupted" } else { "Failed" },
                        st.total,
                        st.label,
                        e.message,
                        resume_hint(st)
                    ),
                    (_, None) => format!("Task {} ended: {}.", short_id(&rec.task_id), state.as_str()),
                };
                rec.error = error.clone();
                rec.finished_at = Some(rec.updated_at.clone());
                true
            },
        );
        if finished {
            self.announce_end(task_id);
            self.evict_and_compact();
        }
    }

    /// Halts the live multi-step task (all of them when `task_id` is `None`): no further
    /// step starts, a waiting step ends. `stop` (the executor's stop) runs under the lock.
    /// Returns whether a multi-step task was live.
    pub fn halt(&self, task_id: Option<&Uuid>, stop: impl FnOnce(u64)) -> bool {
        let mut inner = self.lock();
        let Some(live) = inner
            .live
            .as_mut()
            .filter(|l| task_id.is_none_or(|t| *t == l.task_id))
        else {
            return false;
        };
        let Some(sl) = live.seq.as_mut() else {
            return false;
        };
        sl.halted = true;
        sl.wake.notify_one();
        stop(live.motion_id);
        true
    }

    /// From now on the plugin is stopping (multi-step tasks braked now stay resumable).
    pub fn shutting_down(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Takes up the interrupted multi-step task `task_id` again with `seq` (the same steps):
    /// it becomes running, or awaits confirmation with `gate`.
    pub fn resume(
        &self,
        task_id: &Uuid,
        seq: Arc<Sequence>,
        doing: String,
        done: String,
        gate: Option<Gate>,
    ) -> Result<(TaskRecord, u64), ResumeError> {
        let mut inner = self.lock();
        if let Some(busy) = inner.busy() {
            return Err(ResumeError::Busy(busy));
        }
        let motion_id = inner.next_motion;
        inner.next_motion += 1;
        let Some(rec) = inner.tasks.get_mut(task_id) else {
            return Err(ResumeError::Unknown);
        };
        let Some(st) = rec
            .steps
            .as_mut()
            .filter(|_| rec.state == TaskState::Interrupted)
        else {
            return Err(ResumeError::NotInterrupted(rec.state));
        };
        st.resumed += 1;
        st.current = None;
        let next = (st.done + 1).min(st.total);
        rec.state = match &gate {
            Some(_) => TaskState::AwaitingConfirmation,
            None => TaskState::Running,
        };
        rec.message = match &gate {
            Some(g) => format!("{} Task {}.", g.question, short_id(task_id)),
            None => format!(
                "Resuming task {} at step {next} of {}.",
                short_id(task_id),
                st.total
            ),
        };
        rec.error = None;
        rec.finished_at = None;
        rec.updated_at = now_rfc3339();
        let rec = rec.clone();
        inner.live = Some(Live {
            task_id: *task_id,
            motion_id,
            doing,
            done,
            gate,
            last_journaled: Instant::now(),
            seq: Some(SeqLive::new(seq)),
        });
        drop(inner);
        self.journal(&rec);
        mirror(&self.vars, &rec, true);
        Ok((rec, motion_id))
    }

    /// Drops the oldest finished tasks beyond the retention, and compacts the journal
    /// once it holds far more lines than tasks.
    fn evict_and_compact(&self) {
        let mut inner = self.lock();
        let finished = inner
            .tasks
            .values()
            .filter(|t| t.state.is_terminal())
            .count();
        let mut excess = finished.saturating_sub(self.retention);
        let Inner { tasks, order, .. } = &mut *inner;
        order.retain(|id| {
            let drop_it = excess > 0 && tasks.get(id).is_some_and(|t| t.state.is_terminal());
            if drop_it {
                tasks.remove(id);
                excess -= 1;
            }
            !drop_it
        });
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        if journal.lines() > 2 * inner.tasks.len() + 64 {
            let records: Vec<TaskRecord> = inner
                .order
                .iter()
                .filter_map(|id| inner.tasks.get(id))
                .cloned()
                .collect();
            if let Err(e) = journal.compact(&records) {
                tracing::error!(error = %e, "cannot compact the task journal");
            }
        }
    }
}

/// "Steps 1–3 are done; resume_task continues from step 4."
fn resume_hint(st: &StepsStatus) -> String {
    let next = (st.done + 1).min(st.total);
    match st.done {
        0 => format!("No step was finished; resume_task starts it again from step {next}."),
        1 => format!("Step 1 is done; resume_task continues from step {next}."),
        d => format!("Steps 1–{d} are done; resume_task continues from step {next}."),
    }
}

/// Mirrors a task into the `task_*` installation variables.
fn mirror(vars: &VarStore, rec: &TaskRecord, urgent: bool) {
    vars.set_many(
        [
            ("task_id", VarValue::String(rec.task_id.to_string())),
            ("task_action", VarValue::String(rec.action.clone())),
            ("task_state", VarValue::String(rec.state.as_str().into())),
            ("task_progress", VarValue::Number(rec.progress)),
            ("task_message", VarValue::String(rec.message.clone())),
            ("task_updated_at", VarValue::String(rec.updated_at.clone())),
        ],
        urgent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(action: &str, doing: &str, done: &str, eta_s: f64) -> NewTask {
        NewTask {
            action: action.into(),
            params: serde_json::json!({}),
            owner: "local".into(),
            doing: doing.into(),
            done: done.into(),
            eta_s,
            gate: None,
            sequence: None,
        }
    }

    fn open(dir: &Path) -> Registry {
        let vars = VarStore::open(dir).unwrap();
        Registry::open(dir, vars, 3).unwrap().0
    }

    #[test]
    fn one_foreground_task_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let reg = open(dir.path());
        let (first, motion) = reg
            .begin_foreground(task("home", "Moving to home", "Reached home.", 2.0))
            .unwrap();
        let busy = reg
            .begin_foreground(task("home", "Moving to home", "Reached home.", 2.0))
            .unwrap_err();
        assert_eq!(busy.task_id, first.task_id);
        reg.on_finished(motion, TaskState::Succeeded, 1.0, None);
        let done = reg.get(&first.task_id).unwrap();
        assert_eq!(done.state, TaskState::Succeeded);
        assert_eq!(done.progress, 100.0);
        assert!(done.finished_at.is_some());
        assert!(reg
            .begin_foreground(task("home", "Moving to home", "Reached home.", 2.0))
            .is_ok());
    }

    #[test]
    fn a_running_task_reads_interrupted_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let reg = open(dir.path());
            let (rec, motion) = reg
                .begin_foreground(task("move_joints", "Moving", "Done.", 3.0))
                .unwrap();
            reg.on_progress(motion, 0.4, 1.8, false);
            rec.task_id
        };
        let reg = open(dir.path());
        let rec = reg.get(&id).unwrap();
        assert_eq!(rec.state, TaskState::Interrupted);
        assert!(
            rec.message.contains("will not move again by itself"),
            "{}",
            rec.message
        );
        assert!(reg.live().is_none());
    }

    #[test]
    fn finished_tasks_beyond_retention_are_dropped_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let reg = open(dir.path());
        let mut ids = vec![];
        for _ in 0..5 {
            let (rec, m) = reg
                .begin_foreground(task("home", "Moving", "Done.", 1.0))
                .unwrap();
            reg.on_finished(m, TaskState::Succeeded, 1.0, None);
            ids.push(rec.task_id);
        }
        let listed: Vec<Uuid> = reg.list(10).into_iter().map(|r| r.task_id).collect();
        assert_eq!(listed, vec![ids[4], ids[3], ids[2]]);
    }

    #[test]
    fn a_checkpointed_task_is_interrupted_at_its_next_step_and_resumes_there() {
        use crate::tasks::{Step, StepKind};
        let wait = |l: &str| Step {
            label: l.into(),
            kind: StepKind::Wait { seconds: 1.0 },
        };
        let seq = Arc::new(Sequence::new(
            vec![wait("one"), wait("two"), wait("three")],
            vec![1.0, 1.0, 2.0],
        ));
        let dir = tempfile::tempdir().unwrap();
        let id = {
            let reg = open(dir.path());
            let mut new = task("cell_job", "Working", "Done.", 4.0);
            new.sequence = Some(seq.clone());
            let (rec, _) = reg.begin_foreground(new).unwrap();
            type NoStart = fn(u64) -> Result<(), String>;
            assert!(matches!(
                reg.enter_step(&rec.task_id, 0, "one", None::<NoStart>),
                Entered::Ready
            ));
            reg.step_done(&rec.task_id, 0, None);
            reg.enter_step(&rec.task_id, 1, "two", None::<NoStart>);
            let now = reg.get(&rec.task_id).unwrap();
            assert_eq!(now.progress, 25.0);
            assert_eq!(now.message, "Step 2 of 3: two — 25 %.");
            rec.task_id
        };
        let reg = open(dir.path());
        let rec = reg.get(&id).unwrap();
        assert_eq!(rec.state, TaskState::Interrupted);
        let st = rec.steps.clone().unwrap();
        assert_eq!((st.done, st.total, st.current), (1, 3, None));
        assert!(
            rec.message.contains("at step 2 of 3 (two)")
                && rec
                    .message
                    .contains("Step 1 is done; resume_task continues from step 2."),
            "{}",
            rec.message
        );
        let (resumed, _) = reg
            .resume(&id, seq, "Working".into(), "Done.".into(), None)
            .unwrap();
        assert_eq!(resumed.state, TaskState::Running);
        assert_eq!(resumed.steps.unwrap().resumed, 1);
        assert!(matches!(
            reg.resume(
                &id,
                Arc::new(Sequence::new(vec![], vec![])),
                String::new(),
                String::new(),
                None
            ),
            Err(ResumeError::Busy(_))
        ));
    }
}

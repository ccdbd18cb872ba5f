//! The task registry: every task's record, the one foreground task per arm, the journal
//! behind it, and the mirror of the running task into installation variables.
//!
//! Used only by the async side and the supervisor thread; the motion thread never
//! touches it.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::journal::{Journal, JournalError, LoadReport};
use super::{now_rfc3339, TaskError, TaskRecord, TaskState};
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
}

/// A motion held back until its owner confirms it.
#[derive(Debug, Clone)]
pub struct Gate {
    /// Where it goes.
    pub target: crate::hal::Joints,
    /// At what speed.
    pub speed: f64,
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
}

struct Inner {
    tasks: HashMap<Uuid, TaskRecord>,
    order: VecDeque<Uuid>,
    live: Option<Live>,
    next_motion: u64,
}

/// All tasks of one arm.
pub struct Registry {
    inner: Mutex<Inner>,
    journal: Mutex<Journal>,
    vars: VarStore,
    retention: usize,
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
                rec.message = format!(
                    "Armature stopped while task {} ({}) was {} at {:.0} %. The arm will not move again by itself.",
                    short_id(&rec.task_id),
                    rec.action,
                    rec.state.as_str(),
                    rec.progress
                );
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
        } = new;
        let mut inner = self.lock();
        if let Some(live) = &inner.live {
            let running = &inner.tasks[&live.task_id];
            return Err(Busy {
                task_id: running.task_id,
                action: running.action.clone(),
                progress: running.progress,
            });
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
        };
        inner.live = Some(Live {
            task_id,
            motion_id,
            doing,
            done,
            last_journaled: Instant::now(),
            gate,
        });
        inner.order.push_back(task_id);
        inner.tasks.insert(task_id, rec.clone());
        drop(inner);
        self.journal(&rec);
        mirror(&self.vars, &rec, true);
        Ok((rec, motion_id))
    }

    /// Releases a gated task: it becomes `running`; returns its motion id, target and speed.
    pub fn release(&self, task_id: &Uuid) -> Result<(u64, crate::hal::Joints, f64), ReleaseError> {
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
        Ok((motion_id, gate.target, gate.speed))
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
            rec.state = TaskState::Cancelled;
            rec.eta_s = None;
            rec.message = format!("Task {} was dropped: {why}.", short_id(&rec.task_id));
            rec.error = Some(TaskError {
                code: code.into(),
                message: why.into(),
            });
            rec.finished_at = Some(rec.updated_at.clone());
            true
        });
        if dropped {
            self.lock().live = None;
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
        if finished {
            self.lock().live = None;
            self.evict_and_compact();
        }
    }

    /// Applies `change` to the live task if it is `motion_id`; journals and mirrors it.
    /// `change` returns true for a state change (journaled and written at once).
    fn update_live(
        &self,
        motion_id: u64,
        change: impl FnOnce(&mut TaskRecord, &Live) -> bool,
    ) -> bool {
        let mut inner = self.lock();
        let Inner { tasks, live, .. } = &mut *inner;
        let Some(live) = live.as_mut().filter(|l| l.motion_id == motion_id) else {
            return false;
        };
        let Some(rec) = tasks.get_mut(&live.task_id) else {
            return false;
        };
        let before = rec.state;
        rec.updated_at = now_rfc3339();
        let state_change = change(rec, live) && rec.state != before;
        let journal_it = state_change || live.last_journaled.elapsed() >= JOURNAL_PROGRESS_EVERY;
        if journal_it {
            live.last_journaled = Instant::now();
        }
        let rec = rec.clone();
        drop(inner);
        if journal_it {
            self.journal(&rec);
        }
        mirror(&self.vars, &rec, state_change);
        state_change
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
}

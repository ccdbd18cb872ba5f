//! The motion gate: the only place that starts or stops motion.
//!
//! It owns readiness, the plan's ETA, the confirmation hold, the start with its failure
//! handling, cancel and stop. Each check-and-start and each stop runs under the desk lock
//! (`Registry::desk`), and hands its request to the executor inside that lock; a stop
//! also raises the executor's fence to the highest motion id handed out, so no motion
//! that existed when `stop` answered can begin after it (docs/design.md, "Stop always wins").

use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::admission::{Begin, Then};
use super::approval::{Approval, Channel};
use super::arm::{self, ArmView, NotReady};
use super::journal::OnDisk;
use super::lease::{Live, Pending, SeqLive};
use super::plan::{steps_status, work_end};
use super::registry::{Desk, Registry};
pub use super::requests::{
    Accepted, Cancelled, Confirm, GateError, MotionTask, Resume, Stopped, When, Work,
};
use super::space::line_record;
use super::words::{self, why};
use super::{now_rfc3339, runner, TaskRecord, TaskState};
use crate::hal::Joints;
use crate::motion::{ExecutorHandle, Request};
use crate::robot::linear::LinearPath;
use crate::robot::JointSpec;
use crate::vars::VarStore;

/// The gate's fixed settings.
#[derive(Debug, Clone)]
pub struct GateSettings {
    /// The robot's joints (limits for planning, names for questions).
    pub joints: Vec<JointSpec>,
    /// A state older than this is not planned from (ms).
    pub stale_state_ms: u64,
    /// How close the arm must be to a step's start to skip the move back (rad).
    pub goal_tolerance_rad: f64,
    /// How long a held task waits for its confirmation.
    pub expire: Duration,
    /// How many tasks may wait in line for the arm.
    pub queue_limit: usize,
    /// The slowest speed a move may have (fraction of the robot's limits).
    pub min_speed: f64,
    /// The longest a single move may take (s).
    pub max_motion_s: f64,
    /// The kinematics and the cell every path is checked against.
    pub space: super::space::Space,
}

/// The only way to move or stop the arm.
pub struct MotionGate {
    pub(super) registry: Arc<Registry>,
    executor: ExecutorHandle,
    pub(super) vars: VarStore,
    pub(super) settings: GateSettings,
    /// Where timers and step runners run; the supervisor thread starts them too.
    pub(super) rt: Option<tokio::runtime::Handle>,
    /// The digital I/O and the gripper (`tasks/gripper.rs`), attached once at start.
    pub(super) io: std::sync::OnceLock<super::IoLink>,
}

impl MotionGate {
    /// A gate over `registry` and `executor`.
    pub fn new(
        registry: Arc<Registry>,
        executor: ExecutorHandle,
        vars: VarStore,
        settings: GateSettings,
    ) -> Arc<Self> {
        let gate = Arc::new(Self {
            registry,
            executor,
            vars,
            settings,
            rt: tokio::runtime::Handle::try_current().ok(),
            io: std::sync::OnceLock::new(),
        });
        let weak = Arc::downgrade(&gate);
        gate.registry.set_promoter(Box::new(move |desk, ended| {
            weak.upgrade().and_then(|g| g.promote(desk, ended))
        }));
        gate
    }

    /// The task registry.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The arm's state for status tools.
    pub fn view(&self) -> ArmView {
        arm::view(&self.executor)
    }

    /// The arm's current joints, if the robot is reachable.
    pub fn current_joints(&self) -> Result<Vec<f64>, NotReady> {
        arm::reachable(&self.executor).map(|(_, s)| s.positions.to_vec())
    }

    /// Where a new motion would plan from, or why the arm may not move now.
    pub fn ready(&self) -> Result<Vec<f64>, NotReady> {
        self.ready_joints().map(|(j, _)| j.to_vec())
    }

    pub(super) fn ready_joints(&self) -> Result<(Joints, Joints), NotReady> {
        arm::ready(&self.executor, self.settings.stale_state_ms).map(|(j, s)| (j, s.positions))
    }

    /// Stops the executor thread after a controlled stop.
    pub fn shutdown(&self) {
        self.registry.shutting_down();
        self.executor.shutdown();
    }

    /// Hands the arm to `task` (its record `rec`, new or queued until now), desk locked:
    /// plans it from where the arm is, hands its record to the journal and gives it the
    /// lease. It begins (`admission.rs`) once the record is on disk. A refusal leaves
    /// nothing booked.
    pub(super) fn take_arm(
        self: &Arc<Self>,
        desk: &mut Desk,
        mut rec: TaskRecord,
        task: MotionTask,
    ) -> Result<(Accepted, Begin, OnDisk), GateError> {
        self.durable()?;
        let (from, _) = self.ready_joints()?;
        let (pending, seq, reach) = self.plan_work(&task.work, from)?;
        self.sensible(&reach, seq.as_ref().map(|s| s.steps.as_slice()))?;
        let hold = self.hold_if(task.confirm, &task.question, &reach, pending.clone());
        let task_id = rec.task_id;
        let motion_id = desk.lease.next_id();
        if rec.task_number == 0 {
            rec.task_number = desk.book.number();
        }
        let n = rec.task_number;
        rec.message = match (&hold, &task.work) {
            (Some(h), _) => words::awaiting(&h.question, n),
            (None, Work::Move { .. } | Work::Line { .. }) => {
                words::moving(&task.doing, reach.eta_s, n)
            }
            (None, Work::Steps(_)) => words::working(&task.doing, reach.steps, reach.eta_s, n),
        };
        rec.state = if hold.is_some() {
            TaskState::AwaitingConfirmation
        } else {
            TaskState::Running
        };
        rec.eta_s = Some(reach.eta_s);
        rec.steps = seq.as_ref().map(|s| steps_status(s));
        rec.line = line_record(&pending);
        rec.updated_at = now_rfc3339();
        rec.started_at = hold.is_none().then(|| rec.updated_at.clone());
        // On disk before anyone hears of it or it moves (awaited in `admission.rs`).
        let on_disk = self.registry.hand(&rec);
        let held = hold.is_some();
        desk.book.upsert(rec.clone());
        desk.lease.live = Some(Live {
            task_id,
            motion_id,
            doing: task.doing,
            done: task.done,
            hold,
            end: work_end(&task.work),
            last_journaled: Instant::now(),
            seq: seq.map(SeqLive::new),
        });
        let accepted = Accepted {
            record: rec,
            eta_s: reach.eta_s,
            steps: reach.steps,
            held,
            resumed_at: None,
            queued: None,
            line: match &pending {
                Pending::Path { line, .. } => Some(line.clone()),
                _ => None,
            },
        };
        let begin = Begin {
            task_id,
            motion_id,
            held,
            pending,
        };
        Ok((accepted, begin, on_disk))
    }

    /// After a task was journaled and holds the arm (desk locked): starts its work and
    /// mirrors its record.
    pub(super) fn begin(
        self: &Arc<Self>,
        accepted: &Accepted,
        pending: Pending,
        motion_id: u64,
    ) -> Result<(), GateError> {
        let rec = &accepted.record;
        self.start_work(rec.task_id, accepted.held, pending, motion_id)?;
        self.registry.mirror(rec, true);
        Ok(())
    }

    /// Starts the motion or the runner of `task_id`, which holds the arm (desk locked), or
    /// its expiry clock when `held`.
    pub(super) fn start_work(
        self: &Arc<Self>,
        task_id: Uuid,
        held: bool,
        pending: Pending,
        motion_id: u64,
    ) -> Result<(), GateError> {
        if held {
            self.expire_later(task_id);
        } else {
            match pending {
                Pending::Motion { target, speed } => self.send(Request::Start {
                    motion_id,
                    target,
                    speed,
                    path: None,
                })?,
                Pending::Path {
                    line,
                    target,
                    speed,
                } => self.send(Request::Start {
                    motion_id,
                    target,
                    speed,
                    path: Some(line.path),
                })?,
                Pending::Steps { from, prelude } => runner::run(self, task_id, from, prelude),
            }
        }
        Ok(())
    }

    /// Confirms the held task `task_id`: it becomes running and starts, in one critical
    /// section with every drop of it, so a task is either dropped or moving, never both.
    pub fn confirm(self: &Arc<Self>, task_id: &Uuid) -> Result<TaskRecord, GateError> {
        let owner = self
            .registry
            .get(task_id)
            .map(|r| r.owner)
            .unwrap_or_default();
        self.approve(task_id, &owner, Channel::Session)
    }

    /// Confirms the held task `task_id`, recording `approval` on it (see [`Self::confirm`]).
    pub(super) fn confirm_as(
        self: &Arc<Self>,
        task_id: &Uuid,
        approval: Approval,
    ) -> Result<TaskRecord, GateError> {
        self.durable()?;
        let mut desk = self.registry.desk();
        let short = words::task_number(desk.book.number_of(task_id));
        let deadline = desk
            .lease
            .holding(task_id)
            .and_then(|l| l.hold.as_ref())
            .map(|h| h.deadline);
        let (Some(deadline), Some(rec)) = (deadline, desk.book.get(task_id)) else {
            let state = desk
                .book
                .get(task_id)
                .map_or("unknown", |r| r.state.as_str());
            return Err(GateError::NotAwaiting(short, state, "confirm"));
        };
        if Instant::now() > deadline {
            if let Some(rec) =
                self.drop_held_locked(&mut desk, task_id, "confirmation_expired", why::EXPIRED)
            {
                drop(desk);
                self.after_end(rec);
            }
            return Err(GateError::Expired(short));
        }
        let mut rec = rec.clone();
        rec.state = TaskState::Running;
        rec.message = words::confirmed(&rec.action);
        rec.updated_at = now_rfc3339();
        rec.started_at = Some(rec.updated_at.clone());
        rec.approval = Some(approval);
        let fresh = desk.lease.next_id();
        let Some(live) = desk.lease.holding(task_id) else {
            return Err(GateError::NotAwaiting(short, "unknown", "confirm"));
        };
        let Some(hold) = live.hold.take() else {
            return Err(GateError::NotAwaiting(short, "unknown", "confirm"));
        };
        // A single motion gets a fresh id; a runner takes one per step.
        if matches!(hold.start, Pending::Motion { .. } | Pending::Path { .. }) {
            live.motion_id = fresh;
        }
        let motion_id = live.motion_id;
        live.last_journaled = Instant::now();
        // On disk before it moves: it begins once the sync returns (`admission.rs`).
        let on_disk = self.registry.hand(&rec);
        if let Some(r) = desk.book.get_mut(task_id) {
            *r = rec.clone();
        }
        drop(desk);
        let begin = Begin {
            task_id: *task_id,
            motion_id,
            held: false,
            pending: hold.start,
        };
        self.admission(on_disk, Then::Begin(begin))
            .settle_in_call()?;
        Ok(rec)
    }

    /// Drops the held task `task_id` (`code`, `why`): it never moves. Returns its record
    /// if it was held.
    pub fn drop_held(&self, task_id: &Uuid, code: &str, why: &str) -> Option<TaskRecord> {
        let mut desk = self.registry.desk();
        let dropped = self.drop_held_locked(&mut desk, task_id, code, why)?;
        drop(desk);
        self.after_end(dropped.clone());
        Some(dropped)
    }

    /// Drops the held task `task_id` (desk locked), journals it, and hands the arm to the
    /// next in line. Its record, or None if it was not held.
    fn drop_held_locked(
        &self,
        desk: &mut Desk,
        task_id: &Uuid,
        code: &str,
        why: &str,
    ) -> Option<TaskRecord> {
        let mut rec = drop_locked(desk, task_id, code, why)?;
        self.promote_after(desk, &mut rec);
        self.registry.journal(&rec).ok();
        Some(rec)
    }

    /// The arm came free because `rec` ended (desk locked): the next in line takes it, and
    /// `rec`'s message, in the book too, says what comes next.
    pub(super) fn promote_after(&self, desk: &mut Desk, rec: &mut TaskRecord) {
        if let Some(next) = self.registry.promote(desk, rec) {
            rec.message = format!("{} {next}", rec.message);
            desk.book.upsert(rec.clone());
        }
    }

    /// Rejects the held task `task_id`.
    pub fn reject(&self, task_id: &Uuid) -> Result<TaskRecord, GateError> {
        let known = self.registry.get(task_id);
        let state = known.as_ref().map(|r| r.state);
        let n = known.map_or(0, |r| r.task_number);
        self.drop_held(task_id, "rejected", why::REJECTED)
            .ok_or_else(|| {
                GateError::NotAwaiting(
                    words::task_number(n),
                    state.map_or("unknown", TaskState::as_str),
                    "reject",
                )
            })
    }

    /// Cancels `task_id`: a held task is dropped, a moving one brakes, a multi-step one
    /// starts no further step.
    pub fn cancel(&self, task_id: &Uuid) -> Result<Cancelled, GateError> {
        let mut desk = self.registry.desk();
        if let Some(rec) = self.unqueue(&mut desk, task_id, "cancelled", why::CANCELLED_QUEUED) {
            drop(desk);
            self.after_end(rec);
            return Ok(Cancelled::Dropped);
        }
        let state = desk.book.get(task_id).map(|r| r.state);
        let Some(live) = desk.lease.holding(task_id) else {
            let state = state.map_or("unknown", TaskState::as_str);
            let n = desk.book.number_of(task_id);
            return Err(GateError::NotRunning(words::task_number(n), state));
        };
        if live.hold.is_some() {
            if let Some(rec) =
                self.drop_held_locked(&mut desk, task_id, "cancelled", why::CANCELLED)
            {
                drop(desk);
                self.after_end(rec);
            }
            return Ok(Cancelled::Dropped);
        }
        if let Some(sl) = live.seq.as_mut() {
            sl.halt();
        }
        let fence = live.motion_id;
        self.send(Request::Stop { fence })?;
        Ok(Cancelled::Braking)
    }

    /// Stops whatever moves, for anyone: the queue is emptied, a held task is dropped, a
    /// multi-step task starts no further step, and the executor's fence rises to every
    /// motion handed out.
    pub fn stop(&self) -> Result<Stopped, GateError> {
        let mut desk = self.registry.desk();
        let fence = desk.lease.fence();
        let mut ended = self.drop_queue(&mut desk, |_| true, "stopped", why::STOPPED_QUEUED);
        let mut answer = Stopped {
            queue_dropped: ended.iter().map(|r| r.task_id).collect(),
            ..Stopped::default()
        };
        let held = desk
            .lease
            .live
            .as_ref()
            .map(|l| (l.task_id, l.hold.is_some()));
        match held {
            Some((id, true)) => {
                if let Some(rec) = drop_locked(&mut desk, &id, "stopped", why::STOPPED) {
                    self.registry.journal(&rec).ok();
                    ended.push(rec);
                }
                answer.dropped = Some(id);
            }
            Some((id, false)) => {
                if let Some(sl) = desk.lease.live.as_mut().and_then(|l| l.seq.as_mut()) {
                    sl.halt();
                }
                answer.braking = Some(id);
            }
            None => answer.moving = !arm::idle(&self.executor),
        }
        let sent = self.send(Request::Stop { fence });
        drop(desk);
        ended.into_iter().for_each(|r| self.after_end(r));
        sent.map(|()| answer)
    }

    fn send(&self, request: Request) -> Result<(), GateError> {
        self.executor
            .send(request)
            .map_err(|e| GateError::Executor(e.to_string()))
    }

    /// The runner of `task_id` enters `step` (0-based, spoken as `label`); a moving step's
    /// motion is handed to the executor under the lock, so a cancel or stop is never
    /// overtaken by it.
    pub(super) fn enter_step(
        &self,
        task_id: &Uuid,
        step: usize,
        label: &str,
        motion: Option<(Joints, f64, Option<Arc<LinearPath>>)>,
    ) -> runner::Entered {
        use runner::Entered;
        let mut desk = self.registry.desk();
        let motion_id = motion.as_ref().map(|_| desk.lease.next_id());
        let Desk { book, lease } = &mut *desk;
        let Some(live) = lease.holding(task_id) else {
            return Entered::Halted;
        };
        let (Some(sl), Some(rec)) = (live.seq.as_mut(), book.get_mut(task_id)) else {
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
        rec.message = words::step_progress(step + 1, st.total, label, rec.progress, false);
        rec.updated_at = now_rfc3339();
        let entered = match (motion, motion_id) {
            (Some((target, speed, path)), Some(motion_id)) => {
                live.motion_id = motion_id;
                let (tx, rx) = tokio::sync::oneshot::channel();
                sl.waiter = Some(tx);
                match self.send(Request::Start {
                    motion_id,
                    target,
                    speed,
                    path,
                }) {
                    Ok(()) => Entered::Moving(rx),
                    Err(e) => {
                        sl.waiter = None;
                        Entered::SendFailed(e.to_string())
                    }
                }
            }
            _ => Entered::Ready,
        };
        let rec = rec.clone();
        live.last_journaled = Instant::now();
        drop(desk);
        // Journaled so that after a crash the task names the step it was in.
        self.registry.journal(&rec).ok();
        self.registry.mirror(&rec, true);
        entered
    }

    /// The runtime for timers and runners: the one the gate was made in, else the caller's.
    pub(super) fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.rt
            .clone()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
    }

    /// A task that ended outside the supervisor: mirrored, announced, evicted.
    pub(super) fn after_end(&self, rec: TaskRecord) {
        self.registry.mirror(&rec, true);
        self.registry.announce_end(rec);
        self.registry.evict_and_compact();
    }
}

/// Drops the held task `task_id` under the desk lock: its record ends (a resume that was
/// never confirmed stays interrupted) and the arm is free. None if it was not held.
fn drop_locked(desk: &mut Desk, task_id: &Uuid, code: &str, why: &str) -> Option<TaskRecord> {
    desk.lease.holding(task_id).filter(|l| l.hold.is_some())?;
    desk.lease.live = None;
    let rec = desk.book.get_mut(task_id)?;
    let (state, message) = match rec.steps.as_ref().filter(|s| s.resumed > 0) {
        Some(st) => (
            TaskState::Interrupted,
            words::stays_interrupted(rec.task_number, st, why),
        ),
        None => (TaskState::Cancelled, words::dropped(rec.task_number, why)),
    };
    rec.end(state, message, code, why);
    Some(rec.clone())
}

/// Ends `task_id`'s record (desk locked) in `state`, as a task that never moved the arm
/// ("Task 4 was dropped: …"); its record.
pub(super) fn end_unmoved(
    desk: &mut Desk,
    task_id: &Uuid,
    state: TaskState,
    code: &str,
    why: &str,
) -> Option<TaskRecord> {
    let rec = desk.book.get_mut(task_id)?;
    rec.end(state, words::dropped(rec.task_number, why), code, why);
    Some(rec.clone())
}

/// Fails the live task (desk locked) with `code` and `message`, freeing the arm; its record.
pub(super) fn fail_live(desk: &mut Desk, code: &str, message: &str) -> Option<TaskRecord> {
    let live = desk.lease.live.take()?;
    let rec = desk.book.get_mut(&live.task_id)?;
    let said = words::motion_ended(
        &live.doing,
        &live.done,
        rec.task_number,
        TaskState::Failed,
        rec.progress,
        Some(message),
    );
    rec.end(TaskState::Failed, said, code, message);
    Some(rec.clone())
}

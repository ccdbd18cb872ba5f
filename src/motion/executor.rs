//! The real-time executor: one thread per arm, a fixed-rate read → update → write cycle.
//!
//! The thread never blocks on the async side: requests arrive through a bounded channel
//! it polls with `try_recv`, events leave through one it fills with `try_send`, and the
//! latest state is published through a triple buffer. Nothing in the cycle allocates,
//! logs or does I/O; the backend behind [`RobotArm`] does its I/O elsewhere.

use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::clock::{now_ns, sleep_until_ns};
use super::rt::{make_current_thread_realtime, SchedulingReport};
use super::stats::{CycleStats, StatsRecorder};
use super::trajectory::{Plan, StopProfile};
use crate::hal::{ArmCommand, ArmState, CommandError, Fault, Joints, Phase, RobotArm, RobotMode};
use crate::robot::JointSpec;

/// How the executor runs and when it gives up on a motion.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Cycle rate (Hz).
    pub rate_hz: u32,
    /// SCHED_FIFO priority (1–99).
    pub priority: u8,
    /// A state older than this aborts a motion.
    pub stale_after: Duration,
    /// Largest allowed distance between a joint and its setpoint while moving (rad).
    pub following_error: f64,
    /// How close every joint must be to the target to call a move done (rad).
    pub goal_tolerance: f64,
    /// How often progress events are sent while moving.
    pub progress_interval: Duration,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            rate_hz: 500,
            priority: 80,
            stale_after: Duration::from_millis(50),
            following_error: 0.1,
            goal_tolerance: 0.002,
            progress_interval: Duration::from_millis(100),
        }
    }
}

/// What the async side asks of the executor.
#[derive(Debug, Clone, Copy)]
pub enum Request {
    /// Plan from the current setpoint to `target` and follow it.
    Start {
        /// Identifies the motion in events.
        motion_id: u64,
        /// Final joint positions (already checked against the limits).
        target: Joints,
        /// Fraction of the robot's limits (already checked).
        speed: f64,
    },
    /// Controlled stop of `motion_id`, or of whatever moves when `None`.
    Stop {
        /// The motion to stop.
        motion_id: Option<u64>,
    },
    /// Clear the cycle statistics.
    ResetStats,
    /// End the thread after a controlled stop.
    Shutdown,
}

/// Why a motion did not succeed; `Copy` so it can cross the cycle without allocating.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MotionError {
    /// No fresh state from the robot.
    #[error(
        "no fresh robot state for {age_ms:.0} ms (limit {limit_ms:.0} ms); stopped the motion"
    )]
    StaleState {
        /// Age of the latest state.
        age_ms: f64,
        /// The configured bound.
        limit_ms: f64,
    },
    /// The robot reported a fault.
    #[error("{0}; the motion was aborted")]
    Fault(Fault),
    /// The motion took too long.
    #[error("the move took {elapsed_s:.1} s, over its limit of {limit_s:.1} s; stopped it")]
    Timeout {
        /// Time since the motion started.
        elapsed_s: f64,
        /// The limit derived from the planned duration.
        limit_s: f64,
    },
    /// A joint lags its setpoint too far (blocked, collision, stalled drive).
    #[error(
        "joint {joint} is {error_rad:.3} rad away from where it should be (limit {limit_rad:.3} rad); stopped the motion"
    )]
    FollowingError {
        /// 1-based joint number.
        joint: usize,
        /// The distance.
        error_rad: f64,
        /// The configured limit.
        limit_rad: f64,
    },
    /// The backend refused a command.
    #[error("{0}")]
    Command(CommandError),
    /// The robot is not in a mode that accepts motion.
    #[error("the robot is not ready to move (mode {0:?})")]
    NotReady(RobotMode),
    /// Another motion is running.
    #[error("another motion ({0}) is running")]
    Busy(u64),
}

impl MotionError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MotionError::StaleState { .. } => "stale_state",
            MotionError::Fault(Fault::Unreachable { .. }) => "robot_unreachable",
            MotionError::Fault(Fault::Controller { .. }) => "robot_error",
            MotionError::Fault(Fault::Trajectory { .. }) => "trajectory_failed",
            MotionError::Fault(_) => "robot_fault",
            MotionError::Timeout { .. } => "timeout",
            MotionError::FollowingError { .. } => "following_error",
            MotionError::Command(_) => "command_refused",
            MotionError::NotReady(_) => "robot_not_ready",
            MotionError::Busy(_) => "busy",
        }
    }
}

/// How a motion ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// At the target, settled.
    Succeeded,
    /// Stopped on request.
    Cancelled,
    /// Aborted.
    Failed(MotionError),
}

/// What the executor reports back.
#[derive(Debug, Clone)]
pub enum Event {
    /// A motion began; its planned duration.
    Started {
        /// The motion.
        motion_id: u64,
        /// Planned duration (s).
        duration_s: f64,
    },
    /// Measured progress of a motion.
    Progress {
        /// The motion.
        motion_id: u64,
        /// 0 to 1, never decreasing.
        progress: f64,
        /// Estimated time left (s).
        remaining_s: f64,
        /// Whether the motion is braking to a stop.
        stopping: bool,
    },
    /// A motion ended.
    Finished {
        /// The motion.
        motion_id: u64,
        /// How.
        outcome: Outcome,
        /// Progress reached.
        progress: f64,
    },
}

/// The executor's latest published view, for status requests.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    /// Latest robot state (None before the first cycle).
    pub state: Option<ArmState>,
    /// The setpoint last written.
    pub setpoint: Joints,
    /// What the executor is doing.
    pub phase: Phase,
    /// The motion in progress (0 when idle).
    pub motion_id: u64,
    /// Its progress, 0 to 1.
    pub progress: f64,
    /// Cycle statistics.
    pub stats: CycleStats,
    /// When this snapshot was published.
    pub published_at: Instant,
}

/// The async side's handle on an executor thread.
pub struct ExecutorHandle {
    requests: SyncSender<Request>,
    snapshot: Mutex<triple_buffer::Output<Snapshot>>,
    events: Mutex<Option<Receiver<Event>>>,
    scheduling: SchedulingReport,
    backend: &'static str,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Why a request could not be handed to the executor.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request queue is full (the cycle is not draining it).
    #[error("the motion thread is not taking requests (queue full)")]
    Full,
    /// The executor thread has ended.
    #[error("the motion thread has stopped")]
    Stopped,
}

impl ExecutorHandle {
    /// Starts the executor thread for `arm`.
    pub fn spawn(
        arm: Box<dyn RobotArm>,
        joints: Vec<JointSpec>,
        config: ExecutorConfig,
    ) -> std::io::Result<Self> {
        let backend = arm.backend();
        let (req_tx, req_rx) = mpsc::sync_channel(32);
        let (ev_tx, ev_rx) = mpsc::sync_channel(1024);
        let initial = Snapshot {
            state: None,
            setpoint: Joints::zeros(joints.len()),
            phase: Phase::Idle,
            motion_id: 0,
            progress: 0.0,
            stats: CycleStats {
                target_rate_hz: f64::from(config.rate_hz),
                ..Default::default()
            },
            published_at: Instant::now(),
        };
        let (snap_in, snap_out) = triple_buffer::triple_buffer(&initial);
        let (sched_tx, sched_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("armature-motion".into())
            .spawn(move || {
                let report = make_current_thread_realtime(config.priority);
                let _ = sched_tx.send(report);
                Executor::new(arm, joints, config, req_rx, ev_tx, snap_in).run();
            })?;
        let scheduling = sched_rx.recv().map_err(|_| {
            std::io::Error::other("the motion thread ended before reporting its scheduling")
        })?;
        if let Some(note) = &scheduling.note {
            tracing::warn!(policy = scheduling.policy, "{note}");
        } else {
            tracing::info!(
                policy = scheduling.policy,
                priority = scheduling.priority,
                "motion thread is real-time"
            );
        }
        Ok(Self {
            requests: req_tx,
            snapshot: Mutex::new(snap_out),
            events: Mutex::new(Some(ev_rx)),
            scheduling,
            backend,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Hands a request to the cycle without waiting.
    pub fn send(&self, request: Request) -> Result<(), SendError> {
        self.requests.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => SendError::Full,
            TrySendError::Disconnected(_) => SendError::Stopped,
        })
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        *out.read()
    }

    /// Takes the event receiver (once; the task supervisor owns it).
    pub fn take_events(&self) -> Option<Receiver<Event>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The scheduling in force on the motion thread.
    pub fn scheduling(&self) -> &SchedulingReport {
        &self.scheduling
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Stops the thread (after a controlled stop) and waits for it.
    pub fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown);
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

enum Activity {
    Idle,
    Moving {
        id: u64,
        plan: Plan,
        started: Instant,
        progress: f64,
    },
    Stopping {
        id: u64,
        plan: Plan,
        stop: StopProfile,
        began: Instant,
        progress: f64,
        outcome: Outcome,
    },
}

struct Executor {
    arm: Box<dyn RobotArm>,
    joints: Vec<JointSpec>,
    config: ExecutorConfig,
    requests: Receiver<Request>,
    events: SyncSender<Event>,
    snapshot: triple_buffer::Input<Snapshot>,
    activity: Activity,
    /// Where the arm is held when idle, and the last setpoint written.
    setpoint: Joints,
    velocity: Joints,
    initialized: bool,
    /// Consecutive cycles the arm has been within tolerance and still.
    settled_cycles: u32,
    /// The sample time of the last robot state seen, to measure the age of new ones.
    last_sample: Option<Instant>,
    /// Whether the backend follows our setpoints (else the controller runs its own
    /// trajectory, and only the target and standstill can be checked).
    tracks: bool,
    last_progress_event: Instant,
    /// A `Finished` event the channel had no room for; retried every cycle.
    pending: Option<Event>,
    shutting_down: bool,
    stats: StatsRecorder,
}

impl Executor {
    fn new(
        arm: Box<dyn RobotArm>,
        joints: Vec<JointSpec>,
        config: ExecutorConfig,
        requests: Receiver<Request>,
        events: SyncSender<Event>,
        snapshot: triple_buffer::Input<Snapshot>,
    ) -> Self {
        let n = joints.len();
        let stats = StatsRecorder::new(f64::from(config.rate_hz), now_ns());
        let tracks = arm.tracks_setpoints();
        Self {
            arm,
            joints,
            config,
            requests,
            events,
            snapshot,
            activity: Activity::Idle,
            setpoint: Joints::zeros(n),
            velocity: Joints::zeros(n),
            initialized: false,
            settled_cycles: 0,
            tracks,
            last_sample: None,
            last_progress_event: Instant::now(),
            pending: None,
            shutting_down: false,
            stats,
        }
    }

    fn run(mut self) {
        let period_ns = 1_000_000_000 / u64::from(self.config.rate_hz.max(1));
        let mut deadline = now_ns() + period_ns;
        loop {
            sleep_until_ns(deadline);
            let woke = now_ns();
            let latency_ns = woke.saturating_sub(deadline);
            let now = Instant::now();

            // Read.
            let state = self.arm.read(now);
            if Some(state.sampled_at) != self.last_sample && state.link_down_since.is_none() {
                self.last_sample = Some(state.sampled_at);
                self.stats.record_state_age(
                    now.saturating_duration_since(state.sampled_at).as_nanos() as u64,
                );
            }
            self.take_requests(now, &state);
            if self.shutting_down && matches!(self.activity, Activity::Idle) {
                break;
            }

            // Update.
            let command = self.update(now, &state);

            // Write.
            if let Err(e) = self.arm.write(&command) {
                self.hold_at(state.positions);
                if let Activity::Moving { id, progress, .. }
                | Activity::Stopping { id, progress, .. } = self.activity
                {
                    self.finish(id, progress, Outcome::Failed(MotionError::Command(e)));
                }
            }

            self.publish(state, now);
            self.flush_pending();
            let done = now_ns();
            deadline += period_ns;
            let mut overruns = 0;
            if done > deadline {
                // Skip the deadlines already missed rather than running cycles back to back.
                overruns = (done - deadline) / period_ns + 1;
                deadline += overruns * period_ns;
            }
            self.stats.record(latency_ns, overruns, done);
        }
    }

    fn take_requests(&mut self, now: Instant, state: &ArmState) {
        loop {
            let request = match self.requests.try_recv() {
                Ok(r) => r,
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => Request::Shutdown,
            };
            match request {
                Request::Start {
                    motion_id,
                    target,
                    speed,
                } => self.start(motion_id, target, speed, now, state),
                Request::Stop { motion_id } => self.stop(motion_id, now, Outcome::Cancelled),
                Request::ResetStats => self.stats.reset(now_ns()),
                Request::Shutdown => {
                    self.shutting_down = true;
                    self.stop(None, now, Outcome::Cancelled);
                    return;
                }
            }
        }
    }

    fn start(
        &mut self,
        motion_id: u64,
        target: Joints,
        speed: f64,
        now: Instant,
        state: &ArmState,
    ) {
        let refuse = |error| Event::Finished {
            motion_id,
            outcome: Outcome::Failed(error),
            progress: 0.0,
        };
        let refusal = match (&self.activity, state.mode, state.fault) {
            (Activity::Moving { id, .. } | Activity::Stopping { id, .. }, _, _) => {
                Some(MotionError::Busy(*id))
            }
            (_, _, Some(fault)) => Some(MotionError::Fault(fault)),
            (_, mode, None) if mode != RobotMode::Running => Some(MotionError::NotReady(mode)),
            _ => None,
        };
        if let Some(error) = refusal {
            self.emit(refuse(error));
            return;
        }
        if !self.initialized {
            self.hold_at(state.positions);
        }
        let plan = Plan::new(&self.joints, self.setpoint, target, speed);
        self.emit(Event::Started {
            motion_id,
            duration_s: plan.duration(),
        });
        self.activity = Activity::Moving {
            id: motion_id,
            plan,
            started: now,
            progress: 0.0,
        };
        self.settled_cycles = 0;
        self.last_progress_event = now;
    }

    /// Begins a controlled stop of the running motion, ending it with `outcome`.
    fn stop(&mut self, which: Option<u64>, now: Instant, outcome: Outcome) {
        if let Activity::Moving {
            id,
            plan,
            started,
            progress,
        } = self.activity
        {
            if which.is_some_and(|w| w != id) {
                return;
            }
            let (s, rate) = plan.path_at(now.duration_since(started).as_secs_f64());
            let stop = StopProfile::new(s, rate, plan.stop_accel);
            self.settled_cycles = 0;
            self.activity = Activity::Stopping {
                id,
                plan,
                stop,
                began: now,
                progress,
                outcome,
            };
        }
    }

    fn update(&mut self, now: Instant, state: &ArmState) -> ArmCommand {
        if !self.initialized {
            self.hold_at(state.positions);
        }
        let age = now.saturating_duration_since(state.sampled_at);
        let stale = age > self.config.stale_after;
        // Take the activity out; every branch puts back what follows.
        match std::mem::replace(&mut self.activity, Activity::Idle) {
            Activity::Idle => {
                // A controller running its own trajectories holds where it is; the next
                // plan must start from there.
                if !self.tracks || state.link_down_since.is_some() {
                    self.hold_at(state.positions);
                }
                self.command(Phase::Idle, 0, self.setpoint, 0.0)
            }
            Activity::Moving {
                id,
                plan,
                started,
                progress,
            } => {
                let t = now.duration_since(started).as_secs_f64();
                if let Some(fault) = state.fault {
                    // The controller has braked already; hold where the arm is.
                    self.hold_at(state.positions);
                    return self.finish(id, progress, Outcome::Failed(MotionError::Fault(fault)));
                }
                if stale {
                    let error = MotionError::StaleState {
                        age_ms: age.as_secs_f64() * 1e3,
                        limit_ms: self.config.stale_after.as_secs_f64() * 1e3,
                    };
                    self.activity = Activity::Moving {
                        id,
                        plan,
                        started,
                        progress,
                    };
                    self.stop(Some(id), now, Outcome::Failed(error));
                    return self.update(now, state);
                }
                if let Some(error) = self.following_error(state).filter(|_| self.tracks) {
                    self.hold_at(state.positions);
                    return self.finish(id, progress, Outcome::Failed(error));
                }
                let progress = progress.max(plan.progress_of(&state.positions));
                if t > plan.duration() && self.settled_for_a_while(state, Some(&plan.target)) {
                    self.hold_at(plan.target);
                    return self.finish(id, 1.0, Outcome::Succeeded);
                }
                let limit_s = plan.duration() * 1.5 + 1.0;
                if t > limit_s {
                    self.hold_at(state.positions);
                    return self.finish(
                        id,
                        progress,
                        Outcome::Failed(MotionError::Timeout {
                            elapsed_s: t,
                            limit_s,
                        }),
                    );
                }
                let (s, rate) = plan.path_at(t);
                (self.setpoint, self.velocity) = plan.joints_at(s, rate);
                self.activity = Activity::Moving {
                    id,
                    plan,
                    started,
                    progress,
                };
                self.maybe_progress(now, id, progress, (plan.duration() - t).max(0.0), false);
                self.command(Phase::Moving, id, plan.target, plan.speed)
            }
            Activity::Stopping {
                id,
                plan,
                stop,
                began,
                progress,
                outcome,
            } => {
                let tau = now.duration_since(began).as_secs_f64();
                if let Some(fault) = state.fault {
                    let outcome = match outcome {
                        Outcome::Cancelled => Outcome::Failed(MotionError::Fault(fault)),
                        other => other,
                    };
                    self.hold_at(state.positions);
                    return self.finish(id, progress, outcome);
                }
                let (s, rate) = stop.at(tau);
                (self.setpoint, self.velocity) = plan.joints_at(s, rate);
                let progress = if stale {
                    progress
                } else {
                    progress.max(plan.progress_of(&state.positions))
                };
                let braked = tau >= stop.duration();
                // Our setpoint is where a tracking arm stops; a controller running its own
                // trajectory stops wherever its own braking ends.
                let setpoint = self.setpoint;
                let at = self.tracks.then_some(&setpoint);
                // A stale state cannot confirm standstill; trust the braking profile then.
                let still = braked && (stale || self.settled_for_a_while(state, at));
                if still || tau > stop.duration() + 1.0 {
                    if !self.tracks && !stale {
                        self.hold_at(state.positions);
                    }
                    return self.finish(id, progress, outcome);
                }
                self.activity = Activity::Stopping {
                    id,
                    plan,
                    stop,
                    began,
                    progress,
                    outcome,
                };
                self.maybe_progress(now, id, progress, (stop.duration() - tau).max(0.0), true);
                self.command(Phase::Stopping, id, plan.target, plan.speed)
            }
        }
    }

    fn command(&self, phase: Phase, motion_id: u64, target: Joints, speed: f64) -> ArmCommand {
        ArmCommand {
            motion_id,
            phase,
            positions: self.setpoint,
            velocities: self.velocity,
            target,
            speed,
        }
    }

    fn hold_at(&mut self, positions: Joints) {
        self.setpoint = positions;
        self.velocity = Joints::zeros(positions.len());
        self.initialized = true;
    }

    fn following_error(&self, state: &ArmState) -> Option<MotionError> {
        let limit = self.config.following_error;
        (0..self.setpoint.len()).find_map(|i| {
            let error =
                (state.positions.get(i).copied().unwrap_or(f64::NAN) - self.setpoint[i]).abs();
            (error > limit || error.is_nan()).then_some(MotionError::FollowingError {
                joint: i + 1,
                error_rad: error,
                limit_rad: limit,
            })
        })
    }

    /// Whether the arm has been at `target` and still for 20 ms (so a servo's settling
    /// overshoot is over before a motion is reported done).
    fn settled_for_a_while(&mut self, state: &ArmState, target: Option<&Joints>) -> bool {
        let tol = self.config.goal_tolerance;
        let at_target = target.is_none_or(|t| {
            state
                .positions
                .iter()
                .zip(t.iter())
                .all(|(q, t)| (q - t).abs() <= tol)
        });
        let settled = at_target && state.velocities.max_abs() < 0.005;
        self.settled_cycles = if settled { self.settled_cycles + 1 } else { 0 };
        self.settled_cycles >= (self.config.rate_hz / 50).max(1)
    }

    fn maybe_progress(
        &mut self,
        now: Instant,
        motion_id: u64,
        progress: f64,
        remaining_s: f64,
        stopping: bool,
    ) {
        if now.duration_since(self.last_progress_event) >= self.config.progress_interval {
            self.last_progress_event = now;
            // Progress is advisory: when the channel is full, the next one will do.
            let _ = self.events.try_send(Event::Progress {
                motion_id,
                progress,
                remaining_s,
                stopping,
            });
        }
    }

    /// Ends motion `id`: the arm holds its setpoint and the async side hears how it ended.
    fn finish(&mut self, id: u64, progress: f64, outcome: Outcome) -> ArmCommand {
        self.activity = Activity::Idle;
        self.velocity = Joints::zeros(self.velocity.len());
        self.emit(Event::Finished {
            motion_id: id,
            outcome,
            progress,
        });
        self.command(Phase::Idle, 0, self.setpoint, 0.0)
    }

    /// Sends an event that must not be lost; keeps it for the next cycle if there is no room.
    fn emit(&mut self, event: Event) {
        if self.pending.is_some() {
            self.flush_pending();
        }
        if let Err(TrySendError::Full(e)) = self.events.try_send(event) {
            self.pending = Some(e);
        }
    }

    fn flush_pending(&mut self) {
        if let Some(e) = self.pending.take() {
            if let Err(TrySendError::Full(e)) = self.events.try_send(e) {
                self.pending = Some(e);
            }
        }
    }

    fn publish(&mut self, state: ArmState, now: Instant) {
        let (phase, motion_id, progress) = match self.activity {
            Activity::Idle => (Phase::Idle, 0, 0.0),
            Activity::Moving { id, progress, .. } => (Phase::Moving, id, progress),
            Activity::Stopping { id, progress, .. } => (Phase::Stopping, id, progress),
        };
        self.snapshot.write(Snapshot {
            state: Some(state),
            setpoint: self.setpoint,
            phase,
            motion_id,
            progress,
            stats: self.stats.summary(),
            published_at: now,
        });
    }
}

//! The real-time executor: one thread per arm, a fixed-rate read → update → write cycle.
//!
//! The thread never blocks on the async side: requests arrive through a bounded channel
//! it polls with `try_recv`, events leave through one it fills with `try_send`, and the
//! latest state is published through a triple buffer. Nothing in the cycle allocates,
//! logs or does I/O; the backend behind [`RobotArm`] does its I/O elsewhere.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::clock::{now_ns, sleep_until_ns};
use super::course::Course;
use super::messages::{Event, MotionError, Outcome, Request, Snapshot};
use super::stats::StatsRecorder;
use crate::hal::{ArmCommand, ArmState, Joints, Phase, RobotArm, RobotMode};
use crate::robot::linear::LinearPath;
use crate::robot::JointSpec;
use crate::robot::{Plan, StopProfile};

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

enum Activity {
    Idle,
    Moving {
        id: u64,
        plan: Course,
        started: Instant,
        progress: f64,
    },
    Stopping {
        id: u64,
        plan: Course,
        stop: StopProfile,
        began: Instant,
        progress: f64,
        outcome: Outcome,
    },
}

pub(super) struct Executor {
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
    /// The highest motion id a stop has covered: no motion at or below it may begin.
    fence: u64,
    stats: StatsRecorder,
}

impl Executor {
    pub(super) fn new(
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
            fence: 0,
            stats,
        }
    }

    pub(super) fn run(mut self) {
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
                if let Activity::Moving {
                    id, progress, plan, ..
                }
                | Activity::Stopping {
                    id, progress, plan, ..
                } = std::mem::replace(&mut self.activity, Activity::Idle)
                {
                    let error = Outcome::Failed(MotionError::Command(e));
                    self.finish(id, progress, error, plan.into_path());
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
                    path,
                } => self.start(motion_id, (target, speed, path), now, state),
                Request::Stop { fence } => self.stop(fence, now, Outcome::Cancelled),
                Request::Shutdown => {
                    self.shutting_down = true;
                    self.stop(u64::MAX, now, Outcome::Cancelled);
                    return;
                }
            }
        }
    }

    fn start(
        &mut self,
        motion_id: u64,
        (target, speed, path): (Joints, f64, Option<Arc<LinearPath>>),
        now: Instant,
        state: &ArmState,
    ) {
        // A stop that covered this motion came first: it never begins.
        if motion_id <= self.fence {
            self.emit(Event::Finished {
                motion_id,
                outcome: Outcome::Fenced,
                progress: 0.0,
                path,
            });
            return;
        }
        let refusal = match (&self.activity, state.mode, state.fault) {
            (Activity::Moving { id, .. } | Activity::Stopping { id, .. }, _, _) => {
                Some(MotionError::Busy(*id))
            }
            (_, _, Some(fault)) => Some(MotionError::Fault(fault)),
            (_, mode, None) if mode != RobotMode::Running => Some(MotionError::NotReady(mode)),
            _ => None,
        };
        if let Some(error) = refusal {
            self.emit(Event::Finished {
                motion_id,
                outcome: Outcome::Failed(error),
                progress: 0.0,
                path,
            });
            return;
        }
        if !self.initialized {
            self.hold_at(state.positions);
        }
        let plan = match path {
            // Sampled from where the arm was when the gate planned it: the following-error
            // check catches an arm that has moved since.
            Some(path) if !path.samples.is_empty() => {
                self.arm.follow(motion_id, &path);
                Course::path(path, speed)
            }
            Some(path) => {
                self.emit(Event::Finished {
                    motion_id,
                    outcome: Outcome::Succeeded,
                    progress: 1.0,
                    path: Some(path),
                });
                return;
            }
            None => Course::Joint(Plan::new(&self.joints, self.setpoint, target, speed)),
        };
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

    /// Raises the fence to `fence` and begins a controlled stop of the running motion if
    /// the fence covers it, ending it with `outcome`.
    fn stop(&mut self, fence: u64, now: Instant, outcome: Outcome) {
        self.fence = self.fence.max(fence);
        self.brake(fence, now, outcome);
    }

    /// Begins a controlled stop of the running motion if its id is at or below `upto`.
    fn brake(&mut self, upto: u64, now: Instant, outcome: Outcome) {
        match std::mem::replace(&mut self.activity, Activity::Idle) {
            Activity::Moving {
                id,
                plan,
                started,
                progress,
            } if id <= upto => {
                let (s, rate) = plan.path_at(now.duration_since(started).as_secs_f64());
                let stop = StopProfile::new(s, rate, plan.stop_accel());
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
            other => self.activity = other,
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
                mut plan,
                started,
                progress,
            } => {
                let t = now.duration_since(started).as_secs_f64();
                if let Some(fault) = state.fault {
                    // The controller has braked already; hold where the arm is.
                    self.hold_at(state.positions);
                    let outcome = Outcome::Failed(MotionError::Fault(fault));
                    return self.finish(id, progress, outcome, plan.into_path());
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
                    self.brake(id, now, Outcome::Failed(error));
                    return self.update(now, state);
                }
                if let Some(error) = self.following_error(state).filter(|_| self.tracks) {
                    self.hold_at(state.positions);
                    return self.finish(id, progress, Outcome::Failed(error), plan.into_path());
                }
                let (s, rate) = plan.path_at(t);
                let progress = progress.max(plan.progress_of(&state.positions, s, self.tracks));
                let (target, speed, duration) = (plan.target(), plan.speed(), plan.duration());
                if t > duration && self.settled_for_a_while(state, Some(&target)) {
                    self.hold_at(target);
                    return self.finish(id, 1.0, Outcome::Succeeded, plan.into_path());
                }
                let limit_s = duration * 1.5 + 1.0;
                if t > limit_s {
                    self.hold_at(state.positions);
                    let error = MotionError::Timeout {
                        elapsed_s: t,
                        limit_s,
                    };
                    return self.finish(id, progress, Outcome::Failed(error), plan.into_path());
                }
                (self.setpoint, self.velocity) = plan.joints_at(s, rate);
                self.activity = Activity::Moving {
                    id,
                    plan,
                    started,
                    progress,
                };
                self.maybe_progress(now, id, progress, (duration - t).max(0.0), false);
                self.command(Phase::Moving, id, target, speed)
            }
            Activity::Stopping {
                id,
                mut plan,
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
                    return self.finish(id, progress, outcome, plan.into_path());
                }
                let (s, rate) = stop.at(tau);
                (self.setpoint, self.velocity) = plan.joints_at(s, rate);
                let progress = if stale {
                    progress
                } else {
                    progress.max(plan.progress_of(&state.positions, s, self.tracks))
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
                    return self.finish(id, progress, outcome, plan.into_path());
                }
                let (target, speed) = (plan.target(), plan.speed());
                self.activity = Activity::Stopping {
                    id,
                    plan,
                    stop,
                    began,
                    progress,
                    outcome,
                };
                self.maybe_progress(now, id, progress, (stop.duration() - tau).max(0.0), true);
                self.command(Phase::Stopping, id, target, speed)
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

    /// Ends motion `id`: the arm holds its setpoint and the async side hears how it ended,
    /// with the motion's sampled path, so that it is freed there.
    fn finish(
        &mut self,
        id: u64,
        progress: f64,
        outcome: Outcome,
        path: Option<Arc<LinearPath>>,
    ) -> ArmCommand {
        self.activity = Activity::Idle;
        self.velocity = Joints::zeros(self.velocity.len());
        self.emit(Event::Finished {
            motion_id: id,
            outcome,
            progress,
            path,
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

#[cfg(test)]
#[path = "executor_tests.rs"]
mod tests;

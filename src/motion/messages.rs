//! What crosses between the async side and the motion thread: requests, events, errors
//! and the published snapshot. Every type is `Copy` or allocation-free, so the cycle can
//! take and send them without allocating. A sampled path crosses as an `Arc` that goes
//! both ways: in with `Start`, back with `Finished`, so it is never freed on the cycle.

use std::sync::Arc;
use std::time::Instant;

use super::stats::CycleStats;
use crate::hal::{ArmState, CommandError, Fault, Joints, Phase, RobotMode};
use crate::robot::linear::LinearPath;

/// What the async side asks of the executor.
#[derive(Debug, Clone)]
pub enum Request {
    /// Plan from the current setpoint to `target` and follow it, or follow `path`.
    Start {
        /// Identifies the motion in events.
        motion_id: u64,
        /// Final joint positions (already checked against the limits).
        target: Joints,
        /// Fraction of the robot's limits (already checked).
        speed: f64,
        /// A path sampled and checked before the ack (a straight line), followed sample
        /// by sample instead of a joint move to `target`.
        path: Option<Arc<LinearPath>>,
    },
    /// Controlled stop of every motion whose id is at or below `fence`: the one moving
    /// brakes, and a `Start` that arrives later with such an id never begins. Ids grow,
    /// so a stop fenced at the highest id handed out covers every motion that exists.
    Stop {
        /// The highest motion id this stop covers.
        fence: u64,
    },
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
    /// A stop covered it before it began: the arm did not move for it.
    Fenced,
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
        /// The motion's sampled path, handed back so it is freed off the motion thread.
        path: Option<Arc<LinearPath>>,
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

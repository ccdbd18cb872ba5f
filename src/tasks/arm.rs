//! What the tasks layer reads of the arm: whether it may move now, and a plain view of its
//! state for status tools (which never import the HAL or the executor).

use serde_json::Value;

use super::rfc3339_of;
use crate::hal::{ArmState, Fault, Joints, Phase, RobotMode};
use crate::motion::{ExecutorHandle, Snapshot};

/// Why the arm may not move now.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotReady {
    /// Nothing has arrived from the robot yet.
    #[error("{}", super::words::no_state())]
    NoState,
    /// The link to the robot is down.
    #[error("{}", super::words::unreachable(cause))]
    Unreachable {
        /// Since when (RFC 3339).
        since: String,
        /// Why, said aloud.
        cause: String,
    },
    /// The latest state is too old to plan from.
    #[error("{}", super::words::stale(*age_ms, *limit_ms))]
    Stale {
        /// Its age.
        age_ms: u64,
        /// The configured bound.
        limit_ms: u64,
    },
    /// The robot reports a fault.
    #[error("{}", super::words::not_moving_fault(.0))]
    Fault(String),
    /// The robot is not in a mode that moves.
    #[error("{}", super::words::not_moving_mode(.0))]
    Mode(String),
}

impl NotReady {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoState | Self::Mode(_) => "robot_not_ready",
            Self::Unreachable { .. } => "robot_unreachable",
            Self::Stale { .. } => "stale_state",
            Self::Fault(_) => "robot_fault",
        }
    }
}

/// The snapshot and the robot state in it, or why there is none to use.
pub(super) fn reachable(executor: &ExecutorHandle) -> Result<(Snapshot, ArmState), NotReady> {
    let snap = executor.snapshot();
    let state = snap.state.ok_or(NotReady::NoState)?;
    if let (Some(since), Some(Fault::Unreachable { cause })) = (state.link_down_since, state.fault)
    {
        return Err(NotReady::Unreachable {
            since: rfc3339_of(since),
            cause: super::words::link(&cause),
        });
    }
    Ok((snap, state))
}

/// Where a new motion plans from, and the robot's state; or why the arm may not move now.
pub(super) fn ready(
    executor: &ExecutorHandle,
    stale_limit_ms: u64,
) -> Result<(Joints, ArmState), NotReady> {
    let (snap, state) = reachable(executor)?;
    let age = snap
        .published_at
        .saturating_duration_since(state.sampled_at)
        .as_millis() as u64;
    if age > stale_limit_ms {
        return Err(NotReady::Stale {
            age_ms: age,
            limit_ms: stale_limit_ms,
        });
    }
    if let Some(fault) = state.fault {
        return Err(NotReady::Fault(super::words::fault(&fault)));
    }
    if state.mode != RobotMode::Running {
        return Err(NotReady::Mode(format!("{:?}", state.mode)));
    }
    let start = if snap.phase == Phase::Idle {
        snap.setpoint
    } else {
        state.positions
    };
    Ok((start, state))
}

/// The arm as status tools show it: plain values only.
#[derive(Debug, Clone)]
pub struct ArmView {
    /// The backend's name ("sim", "modbus", "ros").
    pub backend: &'static str,
    /// Joint positions (rad); empty before the first state.
    pub positions: Vec<f64>,
    /// Joint velocities (rad/s).
    pub velocities: Vec<f64>,
    /// The mode, as on the wire ("running").
    pub mode: String,
    /// The active fault as JSON, and said in words.
    pub fault: Option<(Value, String)>,
    /// The age of the latest state (ms), if any.
    pub age_ms: Option<f64>,
    /// Since when the link is down (RFC 3339) and why.
    pub link_down: Option<(String, String)>,
    /// Why the link is down, said aloud.
    pub link_said: Option<String>,
    /// "idle", "moving" or "stopping".
    pub phase: &'static str,
    /// Whether the cycle has run long enough to have figures.
    pub measured: bool,
    /// Whether the process's memory is locked (`mlockall`).
    pub memory_locked: bool,
    /// The real-time loop's scheduling and figures, as JSON.
    pub realtime: Value,
}

/// Reads the executor's latest snapshot into a view.
pub(super) fn view(executor: &ExecutorHandle) -> ArmView {
    let snap = executor.snapshot();
    let sched = executor.scheduling();
    let stats = snap.stats;
    let state = snap.state;
    let age_ms = state.map(|s| {
        snap.published_at
            .saturating_duration_since(s.sampled_at)
            .as_secs_f64()
            * 1e3
    });
    let link_down = state.and_then(|s| match (s.link_down_since, s.fault) {
        (Some(since), Some(Fault::Unreachable { cause })) => {
            Some((rfc3339_of(since), cause.to_string()))
        }
        _ => None,
    });
    let link_said = state.and_then(|s| match (s.link_down_since, s.fault) {
        (Some(_), Some(Fault::Unreachable { cause })) => Some(super::words::link(&cause)),
        _ => None,
    });
    let mode = state.map_or(RobotMode::Disconnected, |s| s.mode);
    let fault = state.and_then(|s| s.fault).map(|f| {
        (
            serde_json::to_value(f).unwrap_or(Value::Null),
            super::words::fault(&f),
        )
    });
    ArmView {
        backend: executor.backend(),
        positions: state.map(|s| s.positions.to_vec()).unwrap_or_default(),
        velocities: state.map(|s| s.velocities.to_vec()).unwrap_or_default(),
        mode: serde_json::to_value(mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        fault,
        link_said,
        age_ms,
        link_down,
        phase: match snap.phase {
            Phase::Idle => "idle",
            Phase::Moving => "moving",
            Phase::Stopping => "stopping",
        },
        measured: stats.rate_hz > 0.0,
        memory_locked: sched.memory_locked,
        realtime: serde_json::json!({
            "policy": sched.policy,
            "priority": sched.priority,
            "realtime": sched.realtime,
            "note": sched.note,
            "memory_locked": sched.memory_locked,
            "memory_note": sched.memory_note,
            "target_rate_hz": stats.target_rate_hz,
            "rate_hz": stats.rate_hz,
            "cycles": stats.cycles,
            "overruns": stats.overruns,
            "latency_p50_us": stats.latency_p50_us,
            "latency_p99_us": stats.latency_p99_us,
            "latency_p999_us": stats.latency_p999_us,
            "latency_max_us": stats.latency_max_us,
            "state_age_p50_us": stats.state_age_p50_us,
            "state_age_p99_us": stats.state_age_p99_us,
            "states_seen": stats.states_seen
        }),
    }
}

/// Whether the executor is between motions.
pub(super) fn idle(executor: &ExecutorHandle) -> bool {
    executor.snapshot().phase == Phase::Idle
}

//! The hardware abstraction: what the real-time cycle needs from an arm, and its backends.
//!
//! A backend does its own I/O elsewhere (its own thread or task); `read` and `write`
//! only exchange the latest state and command and never block.

mod joints;
pub mod limits;
pub mod sim;

use std::time::Instant;

pub use joints::{Joints, MAX_JOINTS};

/// The arm's operating mode as its controller reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RobotMode {
    /// No state has arrived from the controller.
    Disconnected,
    /// Powered, brakes released, following commands.
    Running,
    /// Braked by a protective stop; needs the operator to clear it.
    ProtectiveStop,
    /// Emergency stop pressed.
    EmergencyStop,
}

/// A fault the backend reports; any one aborts a motion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fault {
    /// The controller stopped the arm (collision, safety limit).
    ProtectiveStop,
    /// An emergency stop is pressed.
    EmergencyStop,
    /// The controller reports a drive fault on a joint (0-based).
    Joint {
        /// The joint.
        joint: u8,
    },
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::ProtectiveStop => write!(f, "the robot is in protective stop"),
            Fault::EmergencyStop => write!(f, "the emergency stop is pressed"),
            Fault::Joint { joint } => write!(f, "joint {} reports a drive fault", joint + 1),
        }
    }
}

/// The latest state of the arm.
#[derive(Debug, Clone, Copy)]
pub struct ArmState {
    /// Joint positions (rad).
    pub positions: Joints,
    /// Joint velocities (rad/s).
    pub velocities: Joints,
    /// Operating mode.
    pub mode: RobotMode,
    /// Active fault, if any.
    pub fault: Option<Fault>,
    /// When the controller sampled this state.
    pub sampled_at: Instant,
}

/// What the motion executor is doing, so goal-based backends know when to send a goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No motion: hold the setpoint.
    Idle,
    /// Following a planned motion towards `target`.
    Moving,
    /// Decelerating to a controlled stop.
    Stopping,
}

/// The command written every cycle.
#[derive(Debug, Clone, Copy)]
pub struct ArmCommand {
    /// The motion this command belongs to (0 when idle); a backend that sends whole goals
    /// sends one per motion id, never twice.
    pub motion_id: u64,
    /// What the executor is doing.
    pub phase: Phase,
    /// Position setpoint for this cycle (rad).
    pub positions: Joints,
    /// Velocity feed-forward for this cycle (rad/s).
    pub velocities: Joints,
    /// The motion's final target (rad).
    pub target: Joints,
    /// The motion's speed as a fraction of the robot's limits.
    pub speed: f64,
}

/// Why a backend refused a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// The command breaks a limit of the robot definition.
    #[error("command refused: {0}")]
    Limit(#[from] crate::robot::LimitError),
}

/// An arm as the real-time cycle sees it.
pub trait RobotArm: Send {
    /// A short name for status reports, e.g. "sim".
    fn backend(&self) -> &'static str;
    /// The latest state; never blocks.
    fn read(&mut self, now: Instant) -> ArmState;
    /// Hands over this cycle's command; never blocks.
    fn write(&mut self, command: &ArmCommand) -> Result<(), CommandError>;
}

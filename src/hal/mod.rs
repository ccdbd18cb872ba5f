//! The hardware abstraction: what the real-time cycle needs from an arm, and its backends.
//!
//! A backend does its own I/O elsewhere (its own thread or task); `read` and `write`
//! only exchange the latest state and command and never block.

pub mod backoff;
pub mod edges;
pub mod io;
pub mod limits;
pub mod modbus;
pub mod modbus_io;
pub mod ros;
pub mod ros_io;

pub mod sim;

use std::time::Instant;

/// The joint vector lives with the robot's definition; re-exported where the arm is driven.
pub use crate::robot::{Joints, MAX_JOINTS};

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
    /// Connected, but not running (powered off, booting, idle).
    NotReady,
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
    /// The controller answered the current command with an error code.
    Controller {
        /// The robot's error code.
        code: u16,
    },
    /// The trajectory controller rejected or aborted the goal.
    Trajectory {
        /// `FollowJointTrajectoryResult.error_code` (or the goal status when it has none).
        code: i32,
        /// The controller's `error_string`, truncated.
        text: ShortText,
    },
    /// The controller's registers answer, but the companion program on the robot does not
    /// run: its heartbeat register stands still, so nobody serves the handshake.
    CompanionNotRunning {
        /// The program's name, e.g. `armature.script`.
        program: &'static str,
        /// The heartbeat register (from the robot's register map).
        register: u16,
        /// How long the heartbeat has stood still, as measured (ms).
        unchanged_ms: u32,
    },
    /// The link to the controller is down.
    Unreachable {
        /// Why.
        cause: LinkError,
    },
}

/// A short text that is `Copy`, so it can cross the real-time cycle without allocating.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortText {
    len: u8,
    bytes: [u8; 120],
}

impl ShortText {
    /// `text`, cut at 120 bytes (on a character boundary).
    pub fn new(text: &str) -> Self {
        let mut end = text.len().min(120);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0; 120];
        bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        Self {
            len: end as u8,
            bytes,
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Built from a &str cut on a character boundary.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("")
    }
}

impl std::fmt::Debug for ShortText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl serde::Serialize for ShortText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why the link to a controller is down; `Copy` so it can cross the real-time cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "code")]
pub enum LinkError {
    /// The first connection attempt has not finished yet.
    Connecting,
    /// Nothing listens at the address.
    Refused,
    /// No answer within the configured timeout.
    Timeout,
    /// The controller closed the connection.
    Closed,
    /// The connection was reset.
    Reset,
    /// The controller answered with a Modbus exception.
    Exception(u8),
    /// Another I/O error (errno).
    Io(i32),
    /// The ROS master does not answer.
    RosMaster,
    /// No joint states arrive on the configured topic.
    NoJointStates,
    /// Nothing subscribes to the trajectory action's goal topic.
    NoActionServer,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Connecting => write!(f, "not connected yet"),
            LinkError::Refused => write!(f, "connection refused"),
            LinkError::Timeout => write!(f, "no answer within the timeout"),
            LinkError::Closed => write!(f, "connection closed by the robot"),
            LinkError::Reset => write!(f, "connection reset"),
            LinkError::Exception(code) => write!(f, "Modbus exception 0x{code:02X}"),
            LinkError::Io(errno) => write!(f, "{}", std::io::Error::from_raw_os_error(*errno)),
            LinkError::RosMaster => write!(f, "the ROS master does not answer"),
            LinkError::NoJointStates => write!(f, "no joint states received yet"),
            LinkError::NoActionServer => write!(f, "no trajectory action server is connected"),
        }
    }
}

impl LinkError {
    /// Classifies an I/O error.
    pub fn from_io(e: &std::io::Error) -> Self {
        use std::io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => LinkError::Refused,
            TimedOut | WouldBlock => LinkError::Timeout,
            UnexpectedEof | BrokenPipe | NotConnected => LinkError::Closed,
            ConnectionReset | ConnectionAborted => LinkError::Reset,
            _ => LinkError::Io(e.raw_os_error().unwrap_or(0)),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::ProtectiveStop => write!(f, "the robot is in protective stop"),
            Fault::EmergencyStop => write!(f, "the emergency stop is pressed"),
            Fault::Joint { joint } => write!(f, "joint {} reports a drive fault", joint + 1),
            Fault::Controller { code } => write!(
                f,
                "the robot answered with error {code} ({})",
                wire::modbus::error::describe(*code)
            ),
            Fault::CompanionNotRunning {
                program,
                register,
                unchanged_ms,
            } => write!(
                f,
                // Tenths cut, not rounded: it has stood still at least this long.
                "the robot program {program} is not running: heartbeat register {register} has not changed for {}.{} s",
                unchanged_ms / 1000,
                unchanged_ms % 1000 / 100
            ),
            Fault::Unreachable { cause } => write!(f, "the robot is unreachable ({cause})"),
            Fault::Trajectory { code, text } => {
                let name = match code {
                    -1 => "INVALID_GOAL",
                    -2 => "INVALID_JOINTS",
                    -3 => "OLD_HEADER_TIMESTAMP",
                    -4 => "PATH_TOLERANCE_VIOLATED",
                    -5 => "GOAL_TOLERANCE_VIOLATED",
                    _ => "controller error",
                };
                write!(
                    f,
                    "the trajectory controller failed the goal: {name} ({code})"
                )?;
                if !text.as_str().is_empty() {
                    write!(f, ": {}", text.as_str())?;
                }
                Ok(())
            }
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
    /// Since when the link to the controller has been down (None while it is up).
    pub link_down_since: Option<Instant>,
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
    /// Whether the arm follows the cycle's setpoints (true), or runs its own trajectory
    /// to the target of each motion (false: a controller's `movej` or a ROS controller).
    fn tracks_setpoints(&self) -> bool {
        true
    }
    /// Motion `motion_id` follows the sampled line `path`: a backend that sends whole
    /// goals sends it as one (the cycle's setpoints already follow it otherwise).
    fn follow(
        &mut self,
        _motion_id: u64,
        _path: &std::sync::Arc<crate::robot::linear::LinearPath>,
    ) {
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopped_companion_is_named_with_its_register_and_how_long() {
        let fault = Fault::CompanionNotRunning {
            program: "armature.script",
            register: 144,
            unchanged_ms: 2_049,
        };
        assert_eq!(
            fault.to_string(),
            "the robot program armature.script is not running: heartbeat register 144 has not changed for 2.0 s"
        );
        assert_eq!(
            serde_json::to_value(fault).ok(),
            Some(serde_json::json!({
                "kind": "companion_not_running",
                "program": "armature.script",
                "register": 144,
                "unchanged_ms": 2049
            }))
        );
    }
}

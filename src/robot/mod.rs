//! What the arm is and can do: its definition (joints, limits, named positions, kinematics,
//! loaded from TOML), the joint vector, and joint-space trajectories within its limits.
//! The base layer: it imports nothing else of the plugin.

mod definition;
pub mod io;
mod joints;
mod kinematics;
mod limits;
pub mod linear;
pub mod names;
mod trajectory;

pub use definition::{DefinitionError, JointSpec, RobotDefinition, RosNames, BUILTIN_UR5E};
pub use joints::{Joints, MAX_JOINTS};
pub use kinematics::{
    angle_between, ArmConfig, Bend, DhParameters, IkError, Kinematics, KinematicsSpec, PoseError,
    RpyPose, SpecError, TcpPose, ToolSpec, MAX_POSE_DISTANCE,
};
pub use limits::{check_speed, check_target, number, LimitError};
pub use trajectory::{Plan, Profile, StopProfile};

//! Robot definitions: joints, limits, named positions and kinematics, loaded from TOML.

mod definition;
mod kinematics;
mod limits;

pub use definition::{DefinitionError, JointSpec, RobotDefinition, RosNames, BUILTIN_UR5E};
pub use kinematics::{DhParameters, TcpPose};
pub use limits::{check_speed, check_target, LimitError};

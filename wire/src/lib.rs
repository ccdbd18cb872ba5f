//! `wire`: the contracts between Armature and the robots it drives, shared by the plugin and
//! the simulators so the two sides cannot drift apart.
//!
//! - [`modbus`]: UR's state registers and Armature's handshake in the general-purpose
//!   registers, with their encodings (see `docs/modbus.md`).
//! - [`ros_msgs`]: the ROS message types of a `FollowJointTrajectory` controller, generated
//!   from the definitions vendored in `msg/` (see `docs/ros.md`).
//! - [`ur_io`]: UR's digital I/O registers and the gripper's width register (`docs/io.md`).

pub mod modbus;
pub mod ros_msgs;
pub mod ur_io;

//! `armsim`: a deterministic model of a robot arm's joints, with fault injection.
//!
//! The model is a position-controlled servo per joint: each joint tracks a commanded
//! position (with velocity feed-forward) but never exceeds its velocity or acceleration
//! limit, the way a real controller's joint servo does. Time only advances through
//! [`ArmModel::step`], so a run is reproducible to the bit.

mod faults;
mod model;

pub use faults::{FaultPlan, StallFault};
pub use model::{ArmModel, JointLimit, ModelState, SimMode};

pub mod modbus_robot;
pub mod movel;
pub mod robot_file;
pub mod ros_gripper;

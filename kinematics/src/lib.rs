//! The kinematics both sides need, in one place: the plugin plans and checks straight
//! lines with them (`armature::robot::kinematics`), and `armsim-modbus` runs the
//! companion's `movel` with them, so the simulator never carries a copy of the plugin's
//! maths.

use serde::Deserialize;

pub mod ur;

/// Standard DH parameters, one entry per joint (metres and radians).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhParameters {
    /// Link offsets along the previous z axis.
    pub d: Vec<f64>,
    /// Link lengths along the new x axis.
    pub a: Vec<f64>,
    /// Link twists about the new x axis.
    pub alpha: Vec<f64>,
}

//! The parts of an Armature robot definition (`robots/*.toml`) the simulators need.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use wire::modbus::RegisterMap;

use crate::JointLimit;

#[derive(Debug, Deserialize)]
struct RawJoint {
    name: String,
    min: f64,
    max: f64,
    max_velocity: f64,
    max_acceleration: f64,
}

#[derive(Debug, Deserialize)]
struct RawRobot {
    joints: Vec<RawJoint>,
    #[serde(default)]
    positions: BTreeMap<String, Vec<f64>>,
    modbus: Option<RegisterMap>,
}

/// A robot as the simulator sees it.
#[derive(Debug, Clone)]
pub struct SimRobotFile {
    /// Joint names, base to wrist.
    pub names: Vec<String>,
    /// Joint limits, base to wrist.
    pub limits: Vec<JointLimit>,
    /// Where the arm starts (the definition's `home`).
    pub home: Vec<f64>,
    /// The Modbus register map, if the definition has one.
    pub modbus: Option<RegisterMap>,
}

impl SimRobotFile {
    /// Reads a robot definition; errors name the file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let file = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {file}: {e}"))?;
        let raw: RawRobot = toml::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
        let limits = raw
            .joints
            .iter()
            .map(|j| JointLimit {
                min: j.min,
                max: j.max,
                max_velocity: j.max_velocity,
                max_acceleration: j.max_acceleration,
            })
            .collect::<Vec<_>>();
        let home = raw
            .positions
            .get("home")
            .cloned()
            .unwrap_or_else(|| vec![0.0; limits.len()]);
        if let Some(map) = &raw.modbus {
            map.validate(limits.len())
                .map_err(|e| format!("{file}: modbus: {e}"))?;
        }
        let names = raw.joints.into_iter().map(|j| j.name).collect();
        Ok(Self {
            names,
            limits,
            home,
            modbus: raw.modbus,
        })
    }
}

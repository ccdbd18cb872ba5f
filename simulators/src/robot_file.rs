//! The parts of an Armature robot definition (`robots/*.toml`) the simulators need.

use std::collections::BTreeMap;
use std::path::Path;

use armature_kinematics::ur::UrGeometry;
use armature_kinematics::DhParameters;
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
struct RawGripper {
    open_width_m: f64,
    closed_width_m: f64,
    stroke_s: f64,
    output: Option<String>,
    width_register: Option<u16>,
}

#[derive(Debug, Deserialize)]
struct RawChannel {
    name: String,
    channel: u16,
}

/// The DH part of `[kinematics]`; other keys (a URDF, its links) are not the simulator's.
#[derive(Debug, Deserialize)]
struct RawDh {
    d: Vec<f64>,
    a: Vec<f64>,
    alpha: Vec<f64>,
}

#[derive(Debug, Deserialize)]
struct RawRobot {
    joints: Vec<RawJoint>,
    #[serde(default)]
    positions: BTreeMap<String, Vec<f64>>,
    modbus: Option<RegisterMap>,
    gripper: Option<RawGripper>,
    #[serde(default)]
    outputs: Vec<RawChannel>,
    kinematics: Option<toml::Value>,
}

/// The gripper as the simulators drive it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimGripper {
    /// The gap when open (m).
    pub open_width_m: f64,
    /// The gap when closed on nothing (m).
    pub closed_width_m: f64,
    /// A full stroke's seconds.
    pub stroke_s: f64,
    /// The output channel that closes it (Modbus).
    pub output: Option<u16>,
    /// The register its gap is published in (Modbus).
    pub width_register: Option<u16>,
}

impl SimGripper {
    /// The gap after `dt` seconds moving from `width` towards open or closed, stopping on a
    /// part of `part` width between the fingers.
    pub fn step(&self, width: f64, close: bool, part: Option<f64>, dt: f64) -> f64 {
        let target = match (close, part) {
            (true, Some(p)) if p > self.closed_width_m && p < width + 1e-9 => p,
            (true, _) => self.closed_width_m,
            (false, _) => self.open_width_m,
        };
        let range = self.open_width_m - self.closed_width_m;
        let rate = if self.stroke_s > 0.0 {
            range / self.stroke_s
        } else {
            f64::INFINITY
        };
        let step = rate * dt;
        if (target - width).abs() <= step {
            target
        } else {
            width + step.copysign(target - width)
        }
    }
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
    /// The gripper, if the definition has one.
    pub gripper: Option<SimGripper>,
    /// The UR geometry, when `[kinematics]` gives DH parameters of UR's shape.
    pub geometry: Option<UrGeometry>,
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
        let gripper = raw.gripper.as_ref().map(|g| SimGripper {
            open_width_m: g.open_width_m,
            closed_width_m: g.closed_width_m,
            stroke_s: g.stroke_s,
            output: g
                .output
                .as_ref()
                .and_then(|name| raw.outputs.iter().find(|o| o.name == *name))
                .map(|o| o.channel),
            width_register: g.width_register,
        });
        let geometry = raw
            .kinematics
            .and_then(|k| k.try_into::<RawDh>().ok())
            .and_then(|k| {
                UrGeometry::from_dh(&DhParameters {
                    d: k.d,
                    a: k.a,
                    alpha: k.alpha,
                })
            });
        let names = raw.joints.into_iter().map(|j| j.name).collect();
        Ok(Self {
            names,
            limits,
            home,
            modbus: raw.modbus,
            gripper,
            geometry,
        })
    }
}

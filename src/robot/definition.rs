//! Loading and validating a robot definition file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use wire::modbus::RegisterMap;

use super::kinematics::{Kinematics, KinematicsSpec, ToolSpec};
use super::MAX_JOINTS;

/// The UR5e definition shipped inside the binary, so `armature serve` needs no files.
pub const BUILTIN_UR5E: &str = include_str!("../../robots/ur5e.toml");

/// A robot definition that failed to load; names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum DefinitionError {
    /// The file could not be read.
    #[error("cannot read robot definition {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or lacks a field.
    #[error("robot definition {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A field has a value the robot cannot have.
    #[error("robot definition {file}: {field}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The field, e.g. `joints[2].max_velocity`.
        field: String,
        /// What is wrong, with the value.
        message: String,
    },
}

/// One joint's name and limits.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JointSpec {
    /// Name, as the controller (or ROS) calls it.
    pub name: String,
    /// Lowest position (rad).
    pub min: f64,
    /// Highest position (rad).
    pub max: f64,
    /// Speed limit (rad/s).
    pub max_velocity: f64,
    /// Acceleration limit (rad/s²).
    pub max_acceleration: f64,
    /// How it is said ("shoulder pan"); derived from the name when not given.
    #[serde(default)]
    pub label: Option<String>,
}

impl JointSpec {
    /// Its spoken label: `label`, else the name without `_joint` and underscores
    /// (`shoulder_pan_joint` → "shoulder pan").
    pub fn spoken(&self) -> String {
        match &self.label {
            Some(l) => l.clone(),
            None => self
                .name
                .trim_end_matches("_joint")
                .replace(['_', '-', '.'], " ")
                .trim()
                .to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RobotSection {
    name: String,
    #[serde(default)]
    vendor: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawDefinition {
    robot: RobotSection,
    joints: Vec<JointSpec>,
    #[serde(default)]
    kinematics: Option<KinematicsSpec>,
    #[serde(default)]
    tool: Option<ToolSpec>,
    #[serde(default)]
    cell: Option<toml::Table>,
    #[serde(default)]
    positions: BTreeMap<String, Vec<f64>>,
    #[serde(default)]
    modbus: Option<RegisterMap>,
    #[serde(default)]
    ros: Option<RosNames>,
}

/// The robot's ROS topics (the `[ros]` table); joint names are the joints' names.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosNames {
    /// `sensor_msgs/JointState` topic.
    pub joint_states: String,
    /// The `FollowJointTrajectory` action namespace of the trajectory controller.
    pub controller: String,
    /// The `GripperCommand` action namespace of the gripper's controller, if it has one.
    #[serde(default)]
    pub gripper: Option<String>,
}

/// A validated robot definition.
#[derive(Debug, Clone)]
pub struct RobotDefinition {
    /// Model name, e.g. "UR5e".
    pub name: String,
    /// Maker, if given.
    pub vendor: Option<String>,
    /// Joints, base to wrist.
    pub joints: Vec<JointSpec>,
    /// The kinematics (DH or URDF, with the `[tool]` TCP offset), if the file gives them:
    /// needed for the TCP pose and for Cartesian moves.
    pub kinematics: Option<Kinematics>,
    /// Named positions defined by the robot file (always includes `home`).
    pub positions: BTreeMap<String, Vec<f64>>,
    /// The Modbus/TCP register map, if the robot is driven over Modbus.
    pub modbus: Option<RegisterMap>,
    /// The ROS topics, if the robot is driven through ROS.
    pub ros: Option<RosNames>,
    /// The `[cell]` table, unread: `crate::cell` reads and checks it.
    pub cell: Option<toml::Table>,
    /// The gripper and the named digital outputs and inputs (`robot/io.rs`).
    pub io: super::io::IoSpec,
    /// Where the definition came from, for messages.
    pub source: String,
}

impl RobotDefinition {
    /// Loads and validates a definition file.
    pub fn load(path: &Path) -> Result<Self, DefinitionError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DefinitionError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)
    }

    /// Parses and validates definition text; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Self, DefinitionError> {
        let raw: RawDefinition = toml::from_str(text).map_err(|e| DefinitionError::Parse {
            file: file.into(),
            message: e.to_string(),
        })?;
        let invalid = |field: String, message: String| DefinitionError::Invalid {
            file: file.into(),
            field,
            message,
        };
        let n = raw.joints.len();
        if n == 0 || n > MAX_JOINTS {
            return Err(invalid(
                "joints".into(),
                format!("{n} joints given; a robot has 1 to {MAX_JOINTS}"),
            ));
        }
        for (i, j) in raw.joints.iter().enumerate() {
            let field = |f: &str| format!("joints[{i}].{f}");
            for (name, v) in [
                ("min", j.min),
                ("max", j.max),
                ("max_velocity", j.max_velocity),
                ("max_acceleration", j.max_acceleration),
            ] {
                if !v.is_finite() {
                    return Err(invalid(field(name), format!("{v} is not a finite number")));
                }
            }
            if j.min >= j.max {
                return Err(invalid(
                    field("min"),
                    format!("min {} must be below max {}", j.min, j.max),
                ));
            }
            if j.max_velocity <= 0.0 {
                return Err(invalid(
                    field("max_velocity"),
                    format!("{} must be above 0", j.max_velocity),
                ));
            }
            if j.max_acceleration <= 0.0 {
                return Err(invalid(
                    field("max_acceleration"),
                    format!("{} must be above 0", j.max_acceleration),
                ));
            }
            if raw.joints[..i].iter().any(|o| o.name == j.name) {
                return Err(invalid(
                    field("name"),
                    format!("\"{}\" is used twice", j.name),
                ));
            }
        }
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        let kinematics = match (&raw.kinematics, &raw.tool) {
            (Some(k), tool) => Some(
                Kinematics::from_spec(k, tool.as_ref(), &raw.joints, dir)
                    .map_err(|e| invalid(e.field, e.message))?,
            ),
            (None, Some(_)) => {
                return Err(invalid(
                    "tool".into(),
                    "a TCP offset needs the robot's [kinematics]".into(),
                ))
            }
            (None, None) => None,
        };
        if let Some(map) = &raw.modbus {
            map.validate(n).map_err(|m| invalid("modbus".into(), m))?;
        }
        let io = super::io::parse(text)
            .map_err(|e| invalid(format!("{} (line {})", e.field, e.line), e.message.clone()))?;
        let width = io.gripper.as_ref().and_then(|g| g.width_register);
        if let (Some(map), Some(w)) = (&raw.modbus, width) {
            let command = map.command_block..map.command_block + RegisterMap::command_layout(n).len;
            let status = map.status_block..map.status_block + wire::modbus::status_layout::LEN;
            if command.contains(&w) || status.contains(&w) {
                return Err(invalid(
                    "gripper.width_register".into(),
                    format!(
                        "{w} lies in the handshake's command block ({}–{}) or status block ({}–{})",
                        command.start,
                        command.end - 1,
                        status.start,
                        status.end - 1
                    ),
                ));
            }
        }
        if !raw.positions.contains_key("home") {
            return Err(invalid(
                "positions.home".into(),
                "missing; every robot needs a home".into(),
            ));
        }
        let def = RobotDefinition {
            name: raw.robot.name,
            vendor: raw.robot.vendor,
            joints: raw.joints,
            kinematics,
            positions: raw.positions,
            modbus: raw.modbus,
            ros: raw.ros,
            cell: raw.cell,
            io,
            source: file.into(),
        };
        for (name, joints) in &def.positions {
            super::check_target(&def, joints)
                .map_err(|e| invalid(format!("positions.{name}"), e.to_string()))?;
        }
        Ok(def)
    }

    /// Number of joints.
    pub fn dof(&self) -> usize {
        self.joints.len()
    }

    /// The home position.
    pub fn home(&self) -> &[f64] {
        // parse() refuses a definition without `positions.home`.
        self.positions.get("home").map(Vec::as_slice).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_ur5e_loads() {
        let def = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
        assert_eq!(def.dof(), 6);
        assert_eq!(def.joints[0].name, "shoulder_pan_joint");
        assert!((def.joints[1].max_velocity - std::f64::consts::PI).abs() < 1e-12);
        assert_eq!(def.home().len(), 6);
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let bad =
            BUILTIN_UR5E.replacen("max_velocity = 3.141592653589793", "max_velocity = -1.0", 1);
        let err = RobotDefinition::parse(&bad, "robots/bad.toml")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "robot definition robots/bad.toml: joints[0].max_velocity: -1 must be above 0"
        );

        let short = BUILTIN_UR5E.replacen("home = [0.0, ", "home = [", 1);
        let err = RobotDefinition::parse(&short, "r.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("positions.home"), "{err}");
        assert!(
            err.contains("5 joint values given; the robot has 6"),
            "{err}"
        );

        let err = RobotDefinition::parse("[robot]\nname = 1\n", "r.toml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("robot definition r.toml: TOML parse error at line 2"),
            "{err}"
        );
    }
}

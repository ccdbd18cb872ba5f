//! The plugin configuration: which robot, which backend, how motion runs, where to listen.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::motion::ExecutorConfig;
use crate::robot::{DefinitionError, RobotDefinition, BUILTIN_UR5E};

/// The configuration embedded in the binary (simulated UR5e).
pub const DEFAULT_CONFIG: &str = include_str!("../config/default.toml");

/// A configuration that could not be loaded; names the file and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not valid TOML, an unknown key or a wrong type.
    #[error("config {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message with line and column.
        message: String,
    },
    /// A value outside what the plugin accepts.
    #[error("config {file}: {field} = {value}: {limit}")]
    Invalid {
        /// The file.
        file: String,
        /// The key.
        field: &'static str,
        /// The value given.
        value: String,
        /// The rule it broke.
        limit: &'static str,
    },
    /// The robot definition it names is broken.
    #[error(transparent)]
    Robot(#[from] DefinitionError),
    /// The action file it names is broken (each error with file:line:column).
    #[error(transparent)]
    Actions(#[from] crate::actions::custom::ActionsError),
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// HTTP listen address.
    #[serde(default = "default_http")]
    pub http: SocketAddr,
}

fn default_http() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7400))
}

/// Which backend drives the arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The in-process simulator.
    Sim,
    /// A controller's Modbus/TCP server (Universal Robots with the companion program).
    Modbus,
    /// A ROS 1 trajectory controller (`FollowJointTrajectory`) and joint states.
    Ros,
}

/// `[ros]`: the master, and overrides of the robot file's topics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RosSection {
    /// The master URI; default: the `ROS_MASTER_URI` environment variable.
    pub master_uri: Option<String>,
    /// Joint states topic (default: the robot file's).
    pub joint_states: Option<String>,
    /// Action namespace (default: the robot file's `controller`).
    pub controller: Option<String>,
}

/// `[backend]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// The backend.
    pub kind: BackendKind,
}

/// `[motion]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MotionConfig {
    /// Cycle rate (Hz).
    #[serde(default = "d_rate")]
    pub rate_hz: u32,
    /// SCHED_FIFO priority.
    #[serde(default = "d_prio")]
    pub rt_priority: u8,
    /// Stale-state bound (ms).
    #[serde(default = "d_stale")]
    pub stale_state_ms: u64,
    /// Following-error limit (rad).
    #[serde(default = "d_follow")]
    pub following_error_rad: f64,
    /// Goal tolerance (rad).
    #[serde(default = "d_tol")]
    pub goal_tolerance_rad: f64,
    /// Speed cap for assistants (fraction of the robot's limits).
    #[serde(default = "d_speed")]
    pub max_speed: f64,
}

fn d_rate() -> u32 {
    500
}
fn d_prio() -> u8 {
    80
}
fn d_stale() -> u64 {
    50
}
fn d_follow() -> f64 {
    0.1
}
fn d_tol() -> f64 {
    0.002
}
fn d_speed() -> f64 {
    0.25
}

/// `[tasks]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TasksConfig {
    /// Finished tasks kept.
    #[serde(default = "d_retention")]
    pub retention: usize,
}

fn d_retention() -> usize {
    1000
}

/// `[modbus]`: how to reach the controller.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModbusSection {
    /// The controller's Modbus/TCP server, e.g. "192.168.1.10:502".
    pub address: SocketAddr,
    /// Unit id (UR answers any).
    #[serde(default = "d_unit")]
    pub unit_id: u8,
    /// State polls per second.
    #[serde(default = "d_poll")]
    pub poll_hz: u32,
    /// Bound on every connect, read and write (ms).
    #[serde(default = "d_timeout")]
    pub timeout_ms: u64,
}

fn d_unit() -> u8 {
    1
}
fn d_poll() -> u32 {
    125
}
fn d_timeout() -> u64 {
    200
}

impl ModbusSection {
    /// The backend's settings.
    pub fn backend(&self) -> crate::hal::modbus::ModbusConfig {
        crate::hal::modbus::ModbusConfig {
            address: self.address,
            unit_id: self.unit_id,
            poll_hz: self.poll_hz,
            timeout: Duration::from_millis(self.timeout_ms),
        }
    }
}

impl Config {
    /// The ROS backend's settings (for `backend.kind = "ros"`).
    pub fn ros_backend(&self) -> crate::hal::ros::RosConfig {
        let section = self.ros.clone().unwrap_or_default();
        let names = self.robot.ros.clone();
        crate::hal::ros::RosConfig {
            master_uri: section.master_uri,
            joint_states: section
                .joint_states
                .or_else(|| names.as_ref().map(|n| n.joint_states.clone()))
                .unwrap_or_else(|| "/joint_states".into()),
            action_ns: section
                .controller
                .or_else(|| names.map(|n| n.controller))
                .unwrap_or_default(),
        }
    }
}

/// When a motion waits for its owner's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmRule {
    /// Never: it starts at once.
    #[default]
    Never,
    /// Always.
    Always,
    /// When a joint moves further than `beyond_rad` or the speed is above `beyond_speed`.
    Beyond,
}

/// `[confirm]`: the confirmation gate.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmSection {
    /// Per action (tool name): never, always or beyond.
    #[serde(default)]
    pub actions: std::collections::BTreeMap<String, ConfirmRule>,
    /// With `beyond`: the largest joint distance (rad) that needs no confirmation.
    #[serde(default = "d_beyond_rad")]
    pub beyond_rad: f64,
    /// With `beyond`: the highest speed (fraction) that needs no confirmation.
    #[serde(default = "d_beyond_speed")]
    pub beyond_speed: f64,
    /// An unconfirmed task is dropped after this many seconds.
    #[serde(default = "d_expire")]
    pub expire_s: f64,
}

fn d_beyond_rad() -> f64 {
    0.5
}
fn d_beyond_speed() -> f64 {
    0.25
}
fn d_expire() -> f64 {
    60.0
}

impl Default for ConfirmSection {
    fn default() -> Self {
        Self {
            actions: Default::default(),
            beyond_rad: d_beyond_rad(),
            beyond_speed: d_beyond_speed(),
            expire_s: d_expire(),
        }
    }
}

impl ConfirmSection {
    /// Whether `action` moving a joint `distance` rad at `speed` needs confirmation.
    pub fn needed(&self, action: &str, distance: f64, speed: f64) -> bool {
        self.applies(self.rule(action, ConfirmRule::Never), distance, speed)
    }

    /// The rule for `action`: this section's, else `fallback`.
    pub fn rule(&self, action: &str, fallback: ConfirmRule) -> ConfirmRule {
        self.actions.get(action).copied().unwrap_or(fallback)
    }

    /// Whether `rule` asks for confirmation of a move of `distance` rad at `speed`.
    pub fn applies(&self, rule: ConfirmRule, distance: f64, speed: f64) -> bool {
        match rule {
            ConfirmRule::Never => false,
            ConfirmRule::Always => true,
            ConfirmRule::Beyond => distance > self.beyond_rad || speed > self.beyond_speed,
        }
    }
}

/// `[sim]`: faults to inject into the simulator, in seconds after start.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// Protective stop this long after start.
    pub protective_stop_after_s: Option<f64>,
    /// Reported state freezes this long after start.
    pub freeze_state_after_s: Option<f64>,
    /// This joint (1-based) stalls...
    pub stall_joint: Option<usize>,
    /// ...this long after start (0 if not given).
    pub stall_after_s: Option<f64>,
}

impl SimConfig {
    /// The fault plan for the `armsim` model.
    pub fn faults(&self) -> armsim::FaultPlan {
        armsim::FaultPlan {
            protective_stop_at_s: self.protective_stop_after_s,
            freeze_state_at_s: self.freeze_state_after_s,
            stall: self.stall_joint.map(|j| armsim::StallFault {
                joint: j.saturating_sub(1),
                at_s: self.stall_after_s.unwrap_or(0.0),
            }),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    robot: String,
    /// An action file (relative to this file), or "builtin:example-cell".
    actions: Option<String>,
    server: Option<ServerConfig>,
    backend: BackendConfig,
    motion: Option<MotionConfig>,
    tasks: Option<TasksConfig>,
    #[serde(default)]
    sim: SimConfig,
    #[serde(default)]
    operators: Vec<crate::operators::OperatorSpec>,
    #[serde(default)]
    confirm: ConfirmSection,
    modbus: Option<ModbusSection>,
    ros: Option<RosSection>,
}

/// A loaded, validated configuration with its robot.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from.
    pub source: String,
    /// The robot definition.
    pub robot: RobotDefinition,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[backend]`.
    pub backend: BackendConfig,
    /// `[motion]`.
    pub motion: MotionConfig,
    /// `[tasks]`.
    pub tasks: TasksConfig,
    /// `[sim]`.
    pub sim: SimConfig,
    /// `[modbus]`, required with `backend.kind = "modbus"`.
    pub modbus: Option<ModbusSection>,
    /// `[ros]`, with `backend.kind = "ros"`.
    pub ros: Option<RosSection>,
    /// `[[operators]]`, resolved.
    pub operators: crate::operators::Operators,
    /// `[confirm]`.
    pub confirm: ConfirmSection,
    /// The custom actions of the action file, checked against the robot.
    pub actions: Vec<crate::actions::custom::CustomAction>,
    /// Where they came from.
    pub actions_source: Option<String>,
}

impl Config {
    /// The embedded default configuration.
    pub fn builtin() -> Result<Self, ConfigError> {
        Self::parse(DEFAULT_CONFIG, "<built-in default>", Path::new("."))
    }

    /// Loads a configuration file; a relative robot path is taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &file, base)
    }

    fn parse(text: &str, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.into(),
            message: e.to_string(),
        })?;
        let robot = match raw.robot.as_str() {
            "builtin:ur5e" => RobotDefinition::parse(BUILTIN_UR5E, "builtin:ur5e")?,
            path => RobotDefinition::load(&resolve(base, path))?,
        };
        let motion = raw.motion.unwrap_or(MotionConfig {
            rate_hz: d_rate(),
            rt_priority: d_prio(),
            stale_state_ms: d_stale(),
            following_error_rad: d_follow(),
            goal_tolerance_rad: d_tol(),
            max_speed: d_speed(),
        });
        let invalid = |field, value: String, limit| ConfigError::Invalid {
            file: file.into(),
            field,
            value,
            limit,
        };
        if !(10..=2000).contains(&motion.rate_hz) {
            return Err(invalid(
                "motion.rate_hz",
                motion.rate_hz.to_string(),
                "must be 10 to 2000",
            ));
        }
        if !(1..=99).contains(&motion.rt_priority) {
            return Err(invalid(
                "motion.rt_priority",
                motion.rt_priority.to_string(),
                "must be 1 to 99",
            ));
        }
        if !(motion.max_speed > 0.0 && motion.max_speed <= 1.0) {
            return Err(invalid(
                "motion.max_speed",
                motion.max_speed.to_string(),
                "must be in (0, 1]",
            ));
        }
        if !(motion.following_error_rad > 0.0 && motion.goal_tolerance_rad > 0.0) {
            return Err(invalid(
                "motion.following_error_rad",
                motion.following_error_rad.to_string(),
                "tolerances must be above 0",
            ));
        }
        if motion.stale_state_ms == 0 {
            return Err(invalid(
                "motion.stale_state_ms",
                "0".into(),
                "must be above 0",
            ));
        }
        if let Some(j) = raw.sim.stall_joint.filter(|&j| j == 0 || j > robot.dof()) {
            return Err(invalid(
                "sim.stall_joint",
                j.to_string(),
                "must be a joint number from 1 to the robot's count",
            ));
        }
        if raw.backend.kind == BackendKind::Modbus {
            let Some(section) = &raw.modbus else {
                return Err(invalid(
                    "modbus",
                    "missing".into(),
                    "backend.kind = \"modbus\" needs a [modbus] table with the address",
                ));
            };
            if robot.modbus.is_none() {
                return Err(invalid(
                    "robot",
                    robot.source.clone(),
                    "has no [modbus] register map",
                ));
            }
            if !(1..=1000).contains(&section.poll_hz) {
                return Err(invalid(
                    "modbus.poll_hz",
                    section.poll_hz.to_string(),
                    "must be 1 to 1000",
                ));
            }
            if !(10..=10_000).contains(&section.timeout_ms) {
                return Err(invalid(
                    "modbus.timeout_ms",
                    section.timeout_ms.to_string(),
                    "must be 10 to 10000",
                ));
            }
        }
        if raw.backend.kind == BackendKind::Ros {
            let section = raw.ros.clone().unwrap_or_default();
            if robot.ros.is_none()
                && (section.joint_states.is_none() || section.controller.is_none())
            {
                return Err(invalid(
                    "ros",
                    robot.source.clone(),
                    "the robot file has no [ros] table and the config names no topics",
                ));
            }
        }
        let names = crate::actions::builtin_names();
        let reserved = names.as_slice();
        let (actions, actions_source) = match raw.actions.as_deref() {
            None => (vec![], None),
            Some("builtin:example-cell") => {
                let name = "builtin:example-cell (config/actions.toml)";
                let a = crate::actions::custom::parse(
                    crate::actions::custom::EXAMPLE_CELL,
                    name,
                    &robot,
                    reserved,
                )?;
                (a, Some(name.to_owned()))
            }
            Some(path) => {
                let path = resolve(base, path);
                let a = crate::actions::custom::load(&path, &robot, reserved)?;
                (a, Some(path.display().to_string()))
            }
        };
        Ok(Self {
            actions,
            actions_source,
            source: file.into(),
            robot,
            server: raw.server.unwrap_or(ServerConfig {
                http: default_http(),
            }),
            backend: raw.backend,
            motion,
            tasks: raw.tasks.unwrap_or(TasksConfig {
                retention: d_retention(),
            }),
            sim: raw.sim,
            modbus: raw.modbus,
            ros: raw.ros,
            confirm: raw.confirm,
            operators: crate::operators::Operators::from_specs(&raw.operators).map_err(|e| {
                ConfigError::Parse {
                    file: file.into(),
                    message: e.to_string(),
                }
            })?,
        })
    }

    /// The executor settings.
    pub fn executor(&self) -> ExecutorConfig {
        ExecutorConfig {
            rate_hz: self.motion.rate_hz,
            priority: self.motion.rt_priority,
            stale_after: Duration::from_millis(self.motion.stale_state_ms),
            following_error: self.motion.following_error_rad,
            goal_tolerance: self.motion.goal_tolerance_rad,
            progress_interval: Duration::from_millis(100),
        }
    }
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}

/// The default state directory: `$XDG_STATE_HOME/armature` (or `~/.local/state/armature`).
pub fn default_state_dir() -> PathBuf {
    dirs::state_dir()
        .or_else(|| dirs::home_dir().map(|h| h.join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."))
        .join("armature")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_config_loads() {
        let c = Config::builtin().unwrap();
        assert_eq!(c.robot.name, "UR5e");
        assert_eq!(c.motion.rate_hz, 500);
        assert_eq!(c.motion.max_speed, 0.25);
        assert_eq!(c.server.http.to_string(), "127.0.0.1:7400");
    }

    #[test]
    fn bad_values_name_the_field() {
        let text = DEFAULT_CONFIG.replace("max_speed = 0.25", "max_speed = 1.5");
        let err = Config::parse(&text, "c.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config c.toml: motion.max_speed = 1.5: must be in (0, 1]"
        );
        let text = DEFAULT_CONFIG.replace("rate_hz = 500", "rate_hz = 500\nrate = 1");
        let err = Config::parse(&text, "c.toml", Path::new("."))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `rate`"), "{err}");
    }
}

//! The plugin configuration: read (`raw`), then checked into a typed plan (`plan`, `confirm`)
//! with its robot and its action file (`action_file`). Every refusal names the file and line.
//!
//! This layer knows nothing of the tools' handlers: the built-in tool names come in as a
//! parameter of [`Config::load`], so `crate::actions` can depend on it and not the reverse.

pub mod action_file;
mod confirm;
mod plan;
mod raw;
mod sparkplug;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::motion::ExecutorConfig;
use crate::robot::{DefinitionError, RobotDefinition, BUILTIN_UR5E};

pub use action_file::{ActionsError, CustomAction, Scope};
pub use confirm::{Approval, Confirm, ConfirmRule, MAX_EXPIRE_S};
pub use plan::{AuditConfig, Backend, BackendKind, MotionConfig, ServerConfig, TasksConfig};
pub use sparkplug::{SparkplugConfig, TlsFiles};

/// The configuration embedded in the binary (simulated UR5e).
pub const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

/// A configuration that could not be loaded; names the file and line.
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
    #[error("{file}:{line}:{column}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A value outside what the plugin accepts.
    #[error("{file}:{line}: {field} = {value}: {limit}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line of the value.
        line: usize,
        /// The key, e.g. `confirm.beyond_rad`.
        field: String,
        /// The value given.
        value: String,
        /// The rule it broke.
        limit: String,
    },
    /// A table that is missing, or given where it does not apply.
    #[error("{file}:{line}: [{section}] {message}")]
    Section {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// The table, e.g. `modbus`.
        section: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The `[[operators]]` cannot be set up (e.g. a token variable is not set).
    #[error("config {file}: {message}")]
    Operators {
        /// The file.
        file: String,
        /// Which operator and why.
        message: String,
    },
    /// The robot definition it names is broken.
    #[error(transparent)]
    Robot(#[from] DefinitionError),
    /// The action file it names is broken (each error with file:line:column).
    #[error(transparent)]
    Actions(#[from] ActionsError),
    /// The robot file's `[cell]` is broken (file and field).
    #[error(transparent)]
    Cell(#[from] crate::cell::CellError),
}

/// The built-in cell (`cell = "builtin:pedestal"`): floor and box out of the UR5e's reach.
const PEDESTAL_CELL: &str = include_str!("../../config/cell-pedestal.toml");

/// A loaded, checked configuration with its robot and custom actions.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it came from.
    pub source: String,
    /// The robot definition.
    pub robot: RobotDefinition,
    /// The cell around the arm (the robot file's `[cell]`, or an open cell).
    pub cell: crate::cell::Cell,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[backend]` with its section (`[sim]`, `[modbus]` or `[ros]`).
    pub backend: Backend,
    /// `[motion]`.
    pub motion: MotionConfig,
    /// `[tasks]`.
    pub tasks: TasksConfig,
    /// `[[operators]]`, resolved.
    pub operators: crate::operators::Operators,
    /// `[confirm]`.
    pub confirm: Confirm,
    /// `[audit]`.
    pub audit: AuditConfig,
    /// The custom actions of the action file, checked against the robot.
    pub actions: Vec<CustomAction>,
    /// Where they came from.
    pub actions_source: Option<String>,
    /// `[sparkplug]`: the Sparkplug B edge node, when configured.
    pub sparkplug: Option<SparkplugConfig>,
    /// `[sim] part_width_m`: a part between the simulated gripper's fingers (m).
    pub sim_part_width_m: Option<f64>,
}

impl Config {
    /// The embedded default configuration; `builtin_tools` are the built-in tool names.
    pub fn builtin(builtin_tools: &[&str]) -> Result<Self, ConfigError> {
        Self::parse(
            DEFAULT_CONFIG,
            "<built-in default>",
            Path::new("."),
            builtin_tools,
        )
    }

    /// Loads a configuration file; a relative robot or action path is taken from the file's
    /// folder. `builtin_tools` are the built-in tool names: custom actions may not take them,
    /// and `[confirm.actions]` may name only them and the custom actions.
    pub fn load(path: &Path, builtin_tools: &[&str]) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: file.clone(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, &file, base, builtin_tools)
    }

    fn parse(
        text: &str,
        file: &str,
        base: &Path,
        builtin_tools: &[&str],
    ) -> Result<Self, ConfigError> {
        let at = Place { file, text };
        let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
            let (line, column) = place(text, e.span().map_or(0, |s| s.start));
            ConfigError::Parse {
                file: file.into(),
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        let robot = match raw.robot.get_ref().as_str() {
            "builtin:ur5e" => RobotDefinition::parse(BUILTIN_UR5E, "builtin:ur5e")?,
            path => RobotDefinition::load(&resolve(base, path))?,
        };
        let cell = match raw.cell.as_ref().map(|c| c.get_ref().as_str()) {
            None => crate::cell::Cell::of_robot(&robot)?,
            Some("builtin:pedestal") => {
                crate::cell::Cell::parse(PEDESTAL_CELL, "builtin:pedestal")?
                    // The embedded file has a [cell]; an open cell only if it were emptied.
                    .unwrap_or_else(|| crate::cell::Cell::open("builtin:pedestal"))
            }
            Some(path) => crate::cell::Cell::load(&resolve(base, path))?,
        };
        let backend = plan::backend(&raw, &robot, &at)?;
        let sim_part_width_m = plan::sim_part(&raw, &at)?;
        let motion = plan::motion(raw.motion, &at)?;
        let audit = plan::audit(&raw.audit, &at)?;
        let paths = path_check(&cell, &motion);
        let (actions, actions_source) = match raw.actions.as_ref().map(|a| a.get_ref().as_str()) {
            None => (vec![], None),
            Some("builtin:example-cell") => {
                let name = "builtin:example-cell (config/actions.toml)";
                let a = action_file::parse_in(
                    action_file::EXAMPLE_CELL,
                    name,
                    &robot,
                    &paths,
                    builtin_tools,
                )?;
                (a, Some(name.to_owned()))
            }
            Some(path) => {
                let path = resolve(base, path);
                let a = action_file::load_in(&path, &robot, &paths, builtin_tools)?;
                (a, Some(path.display().to_string()))
            }
        };
        let tools: Vec<&str> = builtin_tools
            .iter()
            .copied()
            .chain(actions.iter().map(|a| a.name.as_str()))
            .collect();
        let confirm = confirm::check(raw.confirm, &at, &tools, &robot)?;
        let sparkplug = raw
            .sparkplug
            .as_ref()
            .map(|s| sparkplug::sparkplug(s, base, &at))
            .transpose()?;
        let operators = crate::operators::Operators::from_specs(&raw.operators).map_err(|e| {
            ConfigError::Operators {
                file: file.into(),
                message: e.to_string(),
            }
        })?;
        Ok(Self {
            source: file.into(),
            robot,
            cell,
            server: ServerConfig::from_raw(raw.server, &at)?,
            backend,
            motion,
            tasks: TasksConfig::from_raw(&raw.tasks, &at)?,
            operators,
            confirm,
            audit,
            actions,
            actions_source,
            sparkplug,
            sim_part_width_m,
        })
    }

    /// What custom actions' paths are checked against: the cell and the caps.
    pub fn path_check(&self) -> action_file::PathCheck {
        path_check(&self.cell, &self.motion)
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

/// The file being checked, to turn a value's byte span into its line.
struct Place<'a> {
    file: &'a str,
    text: &'a str,
}

impl Place<'_> {
    /// A value at `span` that breaks `limit`.
    fn invalid(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        value: impl Into<String>,
        limit: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.into(),
            line: place(self.text, span.start).0,
            field: field.into(),
            value: value.into(),
            limit: limit.into(),
        }
    }

    /// A table at `span` (or the key that needs it) that is wrong as a whole.
    fn section(&self, span: Range<usize>, section: &'static str, message: String) -> ConfigError {
        ConfigError::Section {
            file: self.file.into(),
            line: place(self.text, span.start).0,
            section,
            message,
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn place(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A number as a person would write it: `NaN`, `inf`, `1e300` rather than 301 digits.
fn show(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-4..1e9).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
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
mod tests;

/// The cell and the caps of `motion`, for checking paths.
fn path_check(cell: &crate::cell::Cell, motion: &plan::MotionConfig) -> action_file::PathCheck {
    action_file::PathCheck {
        cell: cell.clone(),
        limits: crate::robot::linear::LinearLimits {
            tcp_speed: motion.max_tcp_speed,
            sample_hz: f64::from(motion.rate_hz),
            ..crate::robot::linear::LinearLimits::default()
        },
        cap: motion.max_speed,
    }
}

//! The action file (`config/actions.toml`): read, then checked against the robot before the
//! plugin starts. Every problem is reported with its file, line and column.
//!
//! `raw` is the file format, `check` and `steps` turn it into [`CustomAction`]s, `expr` reads
//! the linear expressions steps may use. Running the actions is `crate::actions::custom`.

mod check;
mod expr;
mod path;
mod poses;
mod raw;
#[cfg(test)]
mod space_tests;
mod steps;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

pub use expr::Linear;
pub use path::{relative_target, PathCheck, Tail};

use super::confirm::ConfirmRule;
use crate::robot::linear::Frame;
use crate::robot::{RobotDefinition, TcpPose};
use crate::vars::VarValue;
use check::Checker;
use raw::RawFile;

/// The example cell, embedded for the built-in configuration.
pub const EXAMPLE_CELL: &str = include_str!("../../../config/actions.toml");

/// Most steps one call may expand to (repeats included).
pub const MAX_STEPS: usize = 1000;
/// Longest `wait` step (s).
const MAX_WAIT_S: f64 = 600.0;

/// One problem in an action file, where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct DefinitionError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (characters).
    pub column: usize,
    /// What is wrong, naming the value and the rule.
    pub message: String,
}

/// Why an action file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ActionsError {
    /// It could not be read.
    #[error("cannot read actions file {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// It has errors, each with its place.
    #[error("{}", list(.0))]
    Invalid(Vec<DefinitionError>),
}

fn list(errors: &[DefinitionError]) -> String {
    let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    lines.join("\n")
}

/// Whether a tool needs the arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Moves the arm: one at a time per arm.
    Foreground,
    /// Never waits on the arm; answers while it moves.
    Background,
}

/// A parameter's type and the values it allows.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamKind {
    /// A whole number in `[min, max]`.
    Integer {
        /// Smallest.
        min: i64,
        /// Largest.
        max: i64,
    },
    /// A number in `[min, max]`.
    Number {
        /// Smallest.
        min: f64,
        /// Largest.
        max: f64,
    },
    /// One of these words.
    Choice(Vec<String>),
    /// true or false.
    Bool,
}

/// A parameter of a custom action.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// For the assistant.
    pub description: String,
    /// Its type and range.
    pub kind: ParamKind,
    /// Used when the call leaves it out; without one it is required.
    pub default: Option<serde_json::Value>,
}

/// How `set_variable` changes its variable.
#[derive(Debug, Clone, PartialEq)]
pub enum OpDef {
    /// Replace it (strings may hold `{param}`).
    Set(VarValue),
    /// Add a value to it.
    Add(Linear),
}

/// A pose a step goes to; its values may depend on parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum PoseDef {
    /// x, y, z (m) and a rotation vector (rad): UR's convention.
    Vector([Linear; 6]),
    /// x, y, z (m) and roll, pitch, yaw (degrees).
    Rpy([Linear; 6]),
    /// A named position's TCP pose, moved by dx, dy, dz (m) along the base's axes.
    From {
        /// The position's TCP pose (its forward kinematics).
        base: TcpPose,
        /// dx, dy, dz.
        offset: [Linear; 3],
    },
}

impl PoseDef {
    /// The pose for `values`.
    pub fn eval(&self, values: &BTreeMap<String, f64>) -> TcpPose {
        let v = |e: &[Linear]| -> Vec<f64> { e.iter().map(|x| x.eval(values)).collect() };
        match self {
            Self::Vector(e) => {
                let p = v(e);
                TcpPose::from_array([p[0], p[1], p[2], p[3], p[4], p[5]])
            }
            Self::Rpy(e) => {
                let p = v(e);
                crate::robot::RpyPose {
                    x: p[0],
                    y: p[1],
                    z: p[2],
                    roll: p[3],
                    pitch: p[4],
                    yaw: p[5],
                }
                .to_tcp()
            }
            Self::From { base, offset } => {
                let d = v(offset);
                TcpPose {
                    x: base.x + d[0],
                    y: base.y + d[1],
                    z: base.z + d[2],
                    ..*base
                }
            }
        }
    }
}

/// A step as defined: values may depend on parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum StepDef {
    /// A joint move.
    Move {
        /// What it is called (`{param}` allowed).
        label: String,
        /// Where it is written (byte offset), for the load check's errors.
        at: usize,
        /// One value per joint.
        joints: Vec<Linear>,
        /// Fraction of the robot's limits; default: the configured cap.
        speed: Option<Linear>,
    },
    /// A straight TCP line to a pose.
    Line {
        /// What it is called.
        label: String,
        /// Where it is written (byte offset).
        at: usize,
        /// Where it goes, in the base frame.
        pose: PoseDef,
        /// Fraction of the caps; default: the configured cap.
        speed: Option<Linear>,
    },
    /// A straight TCP line by an offset from where the previous move ends.
    Relative {
        /// What it is called.
        label: String,
        /// Where it is written (byte offset).
        at: usize,
        /// dx, dy, dz (m) and rx, ry, rz (degrees).
        offset: [Linear; 6],
        /// The frame of the offset.
        frame: Frame,
        /// Fraction of the caps; default: the configured cap.
        speed: Option<Linear>,
    },
    /// Open or close the gripper.
    Gripper {
        /// What it is called.
        label: String,
        /// Close (true) or open.
        close: bool,
    },
    /// Set a named digital output.
    SetOutput {
        /// What it is called.
        label: String,
        /// The output's name in the robot file.
        name: String,
        /// On or off.
        value: bool,
    },
    /// Wait until a named digital input has a value.
    WaitInput {
        /// What it is called.
        label: String,
        /// The input's name in the robot file.
        name: String,
        /// The value waited for.
        value: bool,
        /// How long to wait before the task fails (s).
        timeout: Linear,
    },
    /// Stand still.
    Wait {
        /// What it is called.
        label: String,
        /// Seconds.
        seconds: Linear,
    },
    /// Write an installation variable.
    SetVariable {
        /// What it is called.
        label: String,
        /// The variable.
        name: String,
        /// How it changes.
        op: OpDef,
    },
    /// A block done `count` times, with its index (from 0) named `index`.
    Repeat {
        /// How many times.
        count: Linear,
        /// The index's name in expressions and labels.
        index: Option<String>,
        /// The block.
        steps: Vec<StepDef>,
    },
}

/// A custom action: its tool, parameters, words and steps.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomAction {
    /// Tool name.
    pub name: String,
    /// Human title.
    pub title: String,
    /// For the assistant.
    pub description: String,
    /// Foreground (moves the arm) or background.
    pub scope: Scope,
    /// Said when it starts (`{param}` allowed).
    pub ack: String,
    /// Said when it succeeds.
    pub done: String,
    /// Whether it waits for confirmation; `None` leaves it to `[confirm.actions]`.
    pub confirm: Option<ConfirmRule>,
    /// Its parameters, in file order.
    pub params: Vec<Param>,
    /// Its steps.
    pub steps: Vec<StepDef>,
}

/// Reads and checks the action file at `path` for `robot` in an open cell; `reserved` are
/// the built-in tool names.
pub fn load(
    path: &Path,
    robot: &RobotDefinition,
    reserved: &[&str],
) -> Result<Vec<CustomAction>, ActionsError> {
    load_in(path, robot, &PathCheck::open(robot), reserved)
}

/// Reads and checks the action file at `path` for `robot`, its paths against `paths`.
pub fn load_in(
    path: &Path,
    robot: &RobotDefinition,
    paths: &PathCheck,
    reserved: &[&str],
) -> Result<Vec<CustomAction>, ActionsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ActionsError::Read {
        file: file.clone(),
        source,
    })?;
    parse_in(&text, &file, robot, paths, reserved)
}

/// Checks the action file `text` (named `file` in errors) for `robot` in an open cell.
pub fn parse(
    text: &str,
    file: &str,
    robot: &RobotDefinition,
    reserved: &[&str],
) -> Result<Vec<CustomAction>, ActionsError> {
    parse_in(text, file, robot, &PathCheck::open(robot), reserved)
}

/// Checks the action file `text` (named `file` in errors) for `robot`, every move's path
/// against `paths` for every allowed parameter value.
pub fn parse_in(
    text: &str,
    file: &str,
    robot: &RobotDefinition,
    paths: &PathCheck,
    reserved: &[&str],
) -> Result<Vec<CustomAction>, ActionsError> {
    let mut check = Checker {
        text,
        file,
        robot,
        paths,
        errors: vec![],
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            let at = e.span().map(|s| s.start).unwrap_or(0);
            check.error(at, e.message().trim().to_owned());
            return Err(ActionsError::Invalid(check.errors));
        }
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut actions = vec![];
    for a in raw.action {
        let span = a.span();
        let a = a.into_inner();
        let name = a.name.get_ref().clone();
        if reserved.contains(&name.as_str()) {
            check.error(
                a.name.span().start,
                format!("action \"{name}\" has the name of a built-in tool; choose another"),
            );
        } else if let Some(line) = seen.get(&name) {
            check.error(
                a.name.span().start,
                format!("action \"{name}\" is defined twice (first at line {line})"),
            );
        }
        seen.insert(name.clone(), check.place(a.name.span().start).0);
        if let Some(action) = check.action(a, span) {
            actions.push(action);
        }
    }
    if check.errors.is_empty() {
        Ok(actions)
    } else {
        Err(ActionsError::Invalid(check.errors))
    }
}

/// What a parameter accepts, for messages: "a whole number from 0 to 5".
pub fn accepts(kind: &ParamKind) -> String {
    match kind {
        ParamKind::Integer { min, max } => format!(
            "a whole number from {} to {}",
            said(*min as f64),
            said(*max as f64)
        ),
        ParamKind::Number { min, max } if hundredths(*min, *max) => format!(
            "a number from {} to {} hundredths",
            said(min * 100.0),
            said(max * 100.0)
        ),
        ParamKind::Number { min, max } => {
            format!("a number from {} to {}", said(*min), said(*max))
        }
        ParamKind::Choice(c) => {
            let c: Vec<String> = c.iter().map(|c| crate::robot::names::spoken(c)).collect();
            format!("one of {}", c.join(", "))
        }
        ParamKind::Bool => "true or false".into(),
    }
}

/// Whether a range is said in hundredths: a limit such as 0.05 would be misstated at the
/// one decimal place a listener gets (docs/voice.md).
fn hundredths(min: f64, max: f64) -> bool {
    let tenths = |x: f64| ((x * 10.0).round() - x * 10.0).abs() < 1e-9;
    min.abs() < 10.0 && max.abs() < 10.0 && !(tenths(min) && tenths(max))
}

/// A number as said (`cell::words::number`, the words module's rounding); a whole number
/// stays exact below a million, as a slot number must.
fn said(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e6 {
        format!("{x:.0}").replace('-', "minus ")
    } else {
        crate::cell::words::number(x)
    }
}

/// Checks `value` for the parameter `name`; the error names the value and what is allowed.
pub fn check_value(name: &str, kind: &ParamKind, value: &Value) -> Result<(), String> {
    let ok = match (kind, value) {
        (ParamKind::Integer { min, max }, Value::Number(n)) => n
            .as_f64()
            .is_some_and(|v| v.fract() == 0.0 && v >= *min as f64 && v <= *max as f64),
        (ParamKind::Number { min, max }, Value::Number(n)) => n
            .as_f64()
            .is_some_and(|v| v.is_finite() && v >= *min && v <= *max),
        (ParamKind::Choice(c), Value::String(s)) => c.contains(s),
        (ParamKind::Bool, Value::Bool(_)) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        // Numbers said rounded: a caller's 1e300 is not read out as 301 digits.
        let shown = match value {
            Value::Number(n) => match (kind, n.as_f64()) {
                (_, None) => "that number".into(),
                (ParamKind::Number { min, max }, Some(v)) if hundredths(*min, *max) => {
                    format!("{} hundredths", said(v * 100.0))
                }
                (_, Some(v)) => said(v),
            },
            Value::Array(_) => "a list".into(),
            Value::Object(_) => "an object".into(),
            Value::String(s)
                if s.chars().count() <= 24
                    && s.chars().all(|c| c.is_alphanumeric() || c == ' ') =>
            {
                format!("the text {s}")
            }
            Value::String(_) => "that text".into(),
            other => other.to_string(),
        };
        // Said aloud: "slot must be a whole number from 0 to 5, not 9."
        let name = crate::robot::names::spoken(name);
        Err(format!("{name} must be {}, not {shown}.", accepts(kind)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::BUILTIN_UR5E;

    fn robot() -> RobotDefinition {
        RobotDefinition::parse(BUILTIN_UR5E, "builtin:ur5e").unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        match parse(text, "a.toml", &robot(), &["home"]) {
            Ok(_) => vec![],
            Err(ActionsError::Invalid(e)) => e.iter().map(|e| e.to_string()).collect(),
            Err(e) => vec![e.to_string()],
        }
    }

    const HEAD: &str =
        "[[action]]\nname = \"job\"\ndescription = \"d\"\nack = \"a\"\ndone = \"d\"\n";

    #[test]
    fn the_example_cell_loads() {
        let actions = parse(EXAMPLE_CELL, "cell", &robot(), &["home"]).unwrap();
        let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pick_and_place",
                "present_part",
                "inspect_slots",
                "go_to_maintenance",
                "reset_part_counter"
            ]
        );
        assert_eq!(actions[0].steps.len(), 10);
        assert_eq!(actions[4].scope, Scope::Background);
    }

    #[test]
    fn each_problem_is_placed_at_its_line_and_column() {
        let cases = [
            (
                "[action.params.n]\ntype = \"integer\"\nmin = 0\nmax = 3\ndefault = 7\n[[action.steps]]\nwait = \"n\"\n",
                "a.toml:10:11: default of n must be a whole number from 0 to 3, not 7.",
            ),
            (
                "[action.params.n]\ntype = \"number\"\n[[action.steps]]\nwait = 1\n",
                "a.toml:6:1: parameter \"n\" needs min and max",
            ),
            (
                "[action.params.s]\ntype = \"string\"\n[[action.steps]]\nwait = 1\n",
                "a.toml:6:1: parameter \"s\" is a string: list its allowed values",
            ),
            (
                "[[action.steps]]\nmove_joints = { joints = [0, 0, 0] }\n",
                "a.toml:7:26: joints has 3 values; the robot has 6 joints",
            ),
            (
                "[[action.steps]]\nmove_joints = { from = \"home\", offset = { knee = 0.1 } }\n",
                "a.toml:7:50: offset names no joint \"knee\"",
            ),
            (
                "[[action.steps]]\nwait = 1\nmove_to = \"home\"\n",
                "a.toml:8:11: a step does one thing: it has both wait and move_to",
            ),
            ("[[action.steps]]\nlabel = \"x\"\n", "a.toml:6:1: a step needs one of"),
            (
                "[[action.steps]]\nmove_to = \"home\"\nspeed = 1.5\n",
                "a.toml:8:9: speed can be 1.5000, beyond its limit 1.0000",
            ),
            (
                "[action.params.n]\ntype = \"integer\"\nmin = 1\nmax = 40\n[[action.steps]]\nrepeat = \"n\"\nas = \"i\"\nsteps = [ { move_joints = { from = \"home\", offset = { shoulder_pan_joint = \"0.2 * i\" } } } ]\n",
                "a.toml:13:76: shoulder_pan_joint (rad) can be 7.8000 (with i = 39), beyond its limit 6.2832",
            ),
            (
                "scope = \"background\"\n[[action.steps]]\nmove_to = \"home\"\n",
                "a.toml:7:1: action \"job\" is background-scoped",
            ),
            (
                "[[action.steps]]\nset_variable = \"count\"\n",
                "a.toml:7:16: set_variable \"count\" needs either value = ... or add = ...",
            ),
        ];
        for (body, expected) in cases {
            let got = errors(&format!("{HEAD}{body}"));
            assert!(
                got.iter().any(|e| e.starts_with(expected)),
                "expected {expected}\n got {got:#?}"
            );
        }
    }

    #[test]
    fn a_built_in_tool_name_is_refused() {
        let got = errors(&format!(
            "{}[[action.steps]]\nwait = 1\n",
            HEAD.replace("\"job\"", "\"home\"")
        ));
        assert!(
            got.iter()
                .any(|e| e.contains("has the name of a built-in tool")),
            "{got:?}"
        );
    }
}

//! The action file (`config/actions.toml`): read, then checked against the robot before the
//! plugin starts. Every problem is reported with its file, line and column.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::expr::{Extent, Linear};
use crate::actions::Scope;
use crate::config::ConfirmRule;
use crate::robot::RobotDefinition;
use crate::vars::VarValue;

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

/// A step as defined: values may depend on parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum StepDef {
    /// A joint move.
    Move {
        /// What it is called (`{param}` allowed).
        label: String,
        /// One value per joint.
        joints: Vec<Linear>,
        /// Fraction of the robot's limits; default: the configured cap.
        speed: Option<Linear>,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    action: Vec<Spanned<RawAction>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawScope {
    Foreground,
    Background,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    name: Spanned<String>,
    title: Option<String>,
    description: Spanned<String>,
    scope: Option<RawScope>,
    ack: Spanned<String>,
    done: Spanned<String>,
    confirm: Option<ConfirmRule>,
    #[serde(default)]
    params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum RawType {
    Integer,
    Number,
    String,
    Boolean,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParam {
    #[serde(rename = "type")]
    kind: RawType,
    min: Option<Spanned<f64>>,
    max: Option<Spanned<f64>>,
    #[serde(rename = "enum")]
    choices: Option<Vec<String>>,
    default: Option<Spanned<toml::Value>>,
    description: Option<String>,
}

/// A number, or an expression of the parameters.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum ExprSrc {
    Number(f64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJoints {
    from: Option<Spanned<String>>,
    #[serde(default)]
    offset: BTreeMap<String, Spanned<ExprSrc>>,
    joints: Option<Spanned<Vec<Spanned<ExprSrc>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    label: Option<Spanned<String>>,
    move_to: Option<Spanned<String>>,
    move_joints: Option<Spanned<RawJoints>>,
    speed: Option<Spanned<ExprSrc>>,
    wait: Option<Spanned<ExprSrc>>,
    set_variable: Option<Spanned<String>>,
    value: Option<Spanned<toml::Value>>,
    add: Option<Spanned<ExprSrc>>,
    repeat: Option<Spanned<ExprSrc>>,
    #[serde(rename = "as")]
    index: Option<Spanned<String>>,
    steps: Option<Vec<Spanned<RawStep>>>,
}

/// Reads and checks the action file at `path` for `robot`; `reserved` are the built-in
/// tool names.
pub fn load(
    path: &Path,
    robot: &RobotDefinition,
    reserved: &[&str],
) -> Result<Vec<CustomAction>, ActionsError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ActionsError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, robot, reserved)
}

/// Checks the action file `text` (named `file` in errors) for `robot`.
pub fn parse(
    text: &str,
    file: &str,
    robot: &RobotDefinition,
    reserved: &[&str],
) -> Result<Vec<CustomAction>, ActionsError> {
    let mut check = Checker {
        text,
        file,
        robot,
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

/// The names usable in one step's expressions and labels.
#[derive(Clone, Default)]
struct Scope2 {
    /// Numeric parameters and repeat indices, with their ranges.
    numbers: BTreeMap<String, (f64, f64)>,
    /// Every name a label may mention.
    words: BTreeSet<String>,
}

struct Checker<'a> {
    text: &'a str,
    file: &'a str,
    robot: &'a RobotDefinition,
    errors: Vec<DefinitionError>,
}

fn valid_name(name: &str, max: usize) -> bool {
    !name.is_empty()
        && name.len() <= max
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn show(values: &BTreeMap<String, f64>) -> String {
    let parts: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
    parts.join(", ")
}

impl Checker<'_> {
    /// 1-based line and column of byte `offset`.
    fn place(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (line, before[line_start..].chars().count() + 1)
    }

    fn error(&mut self, offset: usize, message: String) {
        let (line, column) = self.place(offset);
        self.errors.push(DefinitionError {
            file: self.file.to_owned(),
            line,
            column,
            message,
        });
    }

    fn action(&mut self, a: RawAction, span: Range<usize>) -> Option<CustomAction> {
        let before = self.errors.len();
        let name = a.name.get_ref().clone();
        if !valid_name(&name, 48) {
            self.error(a.name.span().start, format!("action name \"{name}\" must be 1 to 48 lowercase letters, digits or _, starting with a letter"));
        }
        if a.description.get_ref().trim().is_empty() {
            self.error(
                a.description.span().start,
                format!("action \"{name}\" needs a description for the assistant"),
            );
        }
        let params = self.params(a.params);
        let mut scope = Scope2::default();
        for p in &params {
            scope.words.insert(p.name.clone());
            match p.kind {
                ParamKind::Integer { min, max } => {
                    scope
                        .numbers
                        .insert(p.name.clone(), (min as f64, max as f64));
                }
                ParamKind::Number { min, max } => {
                    scope.numbers.insert(p.name.clone(), (min, max));
                }
                _ => {}
            }
        }
        self.template(&a.ack, &scope);
        self.template(&a.done, &scope);
        if a.steps.is_empty() {
            self.error(span.start, format!("action \"{name}\" has no steps"));
        }
        let steps = self.steps(&a.steps, &scope);
        let scope_kind = match a.scope {
            Some(RawScope::Background) => {
                if let Some(at) = a.steps.iter().find_map(moving_step) {
                    self.error(at, format!("action \"{name}\" is background-scoped, so it may only set variables: moves and waits need a foreground action"));
                }
                Scope::Background
            }
            _ => Scope::Foreground,
        };
        (self.errors.len() == before).then(|| CustomAction {
            title: a.title.unwrap_or_else(|| name.replace('_', " ")),
            name,
            description: a.description.into_inner(),
            scope: scope_kind,
            ack: a.ack.into_inner(),
            done: a.done.into_inner(),
            confirm: a.confirm,
            params,
            steps,
        })
    }

    fn params(&mut self, table: BTreeMap<String, Spanned<RawParam>>) -> Vec<Param> {
        let mut out = vec![];
        for (name, raw) in table {
            let at = raw.span().start;
            if !valid_name(&name, 32) {
                self.error(at, format!("parameter name \"{name}\" must be 1 to 32 lowercase letters, digits or _, starting with a letter"));
                continue;
            }
            if let Some(p) = self.param(&name, raw.into_inner(), at) {
                out.push(p);
            }
        }
        out
    }

    fn param(&mut self, name: &str, raw: RawParam, at: usize) -> Option<Param> {
        let numeric = matches!(raw.kind, RawType::Integer | RawType::Number);
        let kind = if numeric {
            let (Some(min), Some(max)) = (&raw.min, &raw.max) else {
                self.error(at, format!("parameter \"{name}\" needs min and max: they bound every value computed from it"));
                return None;
            };
            let (lo, hi) = (*min.get_ref(), *max.get_ref());
            if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
                self.error(
                    min.span().start,
                    format!("parameter \"{name}\": min {lo} must be finite and not above max {hi}"),
                );
                return None;
            }
            if raw.kind == RawType::Integer {
                if lo.fract() != 0.0 || hi.fract() != 0.0 {
                    self.error(
                        min.span().start,
                        format!("parameter \"{name}\" is an integer: min {lo} and max {hi} must be whole numbers"),
                    );
                    return None;
                }
                ParamKind::Integer {
                    min: lo as i64,
                    max: hi as i64,
                }
            } else {
                ParamKind::Number { min: lo, max: hi }
            }
        } else if raw.kind == RawType::String {
            match raw.choices.as_deref() {
                Some(c) if !c.is_empty() => ParamKind::Choice(c.to_vec()),
                _ => {
                    self.error(at, format!("parameter \"{name}\" is a string: list its allowed values in enum = [...]"));
                    return None;
                }
            }
        } else {
            ParamKind::Bool
        };
        if !numeric && (raw.min.is_some() || raw.max.is_some()) {
            self.error(
                at,
                format!("parameter \"{name}\": min and max apply to numbers only"),
            );
        }
        let default = match &raw.default {
            None => None,
            Some(d) => {
                let value = serde_json::to_value(d.get_ref()).unwrap_or(serde_json::Value::Null);
                if let Err(why) = super::expand::check_value(name, &kind, &value) {
                    self.error(d.span().start, format!("default of {why}"));
                    return None;
                }
                Some(value)
            }
        };
        Some(Param {
            name: name.to_owned(),
            description: raw.description.unwrap_or_default(),
            kind,
            default,
        })
    }

    /// Checks that every `{name}` in a text names something in `scope`.
    fn template(&mut self, text: &Spanned<String>, scope: &Scope2) {
        let s = text.get_ref();
        let mut rest = s.as_str();
        let mut base = 0;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            if !scope.words.contains(name) {
                let known: Vec<&str> = scope.words.iter().map(String::as_str).collect();
                self.error(
                    text.span().start + 1 + base + open,
                    format!(
                        "\"{{{name}}}\" names no parameter (known: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
            }
            base += open + close + 1;
            rest = &rest[open + close + 1..];
        }
    }

    /// Reads a number or expression and checks the names it uses.
    fn expr(&mut self, src: &Spanned<ExprSrc>, scope: &Scope2) -> Option<Linear> {
        let text = match src.get_ref() {
            ExprSrc::Number(n) => return Some(Linear::constant(*n)),
            ExprSrc::Text(t) => t,
        };
        // The span starts at the opening quote.
        let start = src.span().start + 1;
        let e = match Linear::parse(text) {
            Ok(e) => e,
            Err(err) => {
                self.error(start + err.offset, err.message);
                return None;
            }
        };
        for name in e.terms.keys() {
            if !scope.numbers.contains_key(name) {
                let known: Vec<&str> = scope.numbers.keys().map(String::as_str).collect();
                let offset = text.find(name.as_str()).unwrap_or(0);
                self.error(
                    start + offset,
                    format!(
                        "\"{name}\" is not a number parameter here (known: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                );
                return None;
            }
        }
        Some(e)
    }

    /// Checks that `e` stays in `[lo, hi]` for every allowed parameter value.
    fn within(
        &mut self,
        at: usize,
        e: &Linear,
        scope: &Scope2,
        (lo, hi): (f64, f64),
        what: &str,
    ) -> Option<Extent> {
        let x = e.extent(&scope.numbers);
        let (value, values, limit) = if x.min < lo {
            (x.min, &x.at_min, lo)
        } else if x.max > hi {
            (x.max, &x.at_max, hi)
        } else {
            return Some(x);
        };
        let when = if values.is_empty() {
            String::new()
        } else {
            format!(" (with {})", show(values))
        };
        self.error(
            at,
            format!("{what} can be {value:.4}{when}, beyond its limit {limit:.4}"),
        );
        None
    }

    fn steps(&mut self, raw: &[Spanned<RawStep>], scope: &Scope2) -> Vec<StepDef> {
        raw.iter().filter_map(|s| self.step(s, scope)).collect()
    }

    fn step(&mut self, raw: &Spanned<RawStep>, scope: &Scope2) -> Option<StepDef> {
        let s = raw.get_ref();
        let mut kinds: Vec<(&str, usize)> = [
            ("move_to", s.move_to.as_ref().map(|v| v.span().start)),
            (
                "move_joints",
                s.move_joints.as_ref().map(|v| v.span().start),
            ),
            ("wait", s.wait.as_ref().map(|v| v.span().start)),
            (
                "set_variable",
                s.set_variable.as_ref().map(|v| v.span().start),
            ),
            ("repeat", s.repeat.as_ref().map(|v| v.span().start)),
        ]
        .into_iter()
        .filter_map(|(k, at)| at.map(|at| (k, at)))
        .collect();
        // The error points at the second one in the file.
        kinds.sort_by_key(|k| k.1);
        let (kind, at) = match kinds.as_slice() {
            [one] => *one,
            [] => {
                self.error(
                    raw.span().start,
                    "a step needs one of move_to, move_joints, wait, set_variable or repeat".into(),
                );
                return None;
            }
            [_, second, ..] => {
                self.error(
                    second.1,
                    format!(
                        "a step does one thing: it has both {} and {}",
                        kinds[0].0, second.0
                    ),
                );
                return None;
            }
        };
        // Keys that belong to another kind of step.
        let stray = [
            (
                "speed",
                s.speed.as_ref().map(|v| v.span().start),
                ["move_to", "move_joints"].as_slice(),
            ),
            (
                "value",
                s.value.as_ref().map(|v| v.span().start),
                ["set_variable"].as_slice(),
            ),
            (
                "add",
                s.add.as_ref().map(|v| v.span().start),
                ["set_variable"].as_slice(),
            ),
            (
                "as",
                s.index.as_ref().map(|v| v.span().start),
                ["repeat"].as_slice(),
            ),
            (
                "steps",
                s.steps
                    .as_ref()
                    .and_then(|v| v.first())
                    .map(|v| v.span().start),
                ["repeat"].as_slice(),
            ),
        ];
        for (key, key_at, allowed) in stray {
            if let Some(key_at) = key_at.filter(|_| !allowed.contains(&kind)) {
                self.error(key_at, format!("\"{key}\" does not apply to a {kind} step"));
                return None;
            }
        }
        let label = |default: String| {
            s.label
                .as_ref()
                .map(|l| l.get_ref().clone())
                .unwrap_or(default)
        };
        if let Some(l) = &s.label {
            self.template(l, scope);
        }
        let speed = match &s.speed {
            None => None,
            Some(sp) => {
                let e = self.expr(sp, scope)?;
                self.within(sp.span().start, &e, scope, (1e-3, 1.0), "speed")?;
                Some(e)
            }
        };
        match kind {
            "move_to" => {
                let name = s.move_to.as_ref()?;
                let joints = self.position(name)?;
                Some(StepDef::Move {
                    label: label(format!("moving to {}", name.get_ref())),
                    joints: joints.into_iter().map(Linear::constant).collect(),
                    speed,
                })
            }
            "move_joints" => {
                let mj = s.move_joints.as_ref()?;
                let joints = self.joints(mj, scope)?;
                let label = label(match &mj.get_ref().from {
                    Some(f) => format!("moving near {}", f.get_ref()),
                    None => "moving".to_owned(),
                });
                Some(StepDef::Move {
                    label,
                    joints,
                    speed,
                })
            }
            "wait" => {
                let w = s.wait.as_ref()?;
                let seconds = self.expr(w, scope)?;
                self.within(
                    w.span().start,
                    &seconds,
                    scope,
                    (0.0, MAX_WAIT_S),
                    "wait (s)",
                )?;
                Some(StepDef::Wait {
                    label: label("waiting".into()),
                    seconds,
                })
            }
            "set_variable" => {
                let name = s.set_variable.as_ref()?;
                let n = name.get_ref();
                let ok_name = !n.is_empty()
                    && n.len() <= 64
                    && n.starts_with(|c: char| c.is_ascii_lowercase())
                    && n.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.'
                    });
                if !ok_name {
                    self.error(name.span().start, format!("variable name \"{n}\" must be 1 to 64 lowercase letters, digits, _ or ., starting with a letter"));
                    return None;
                }
                if n.starts_with("task_") || n.starts_with("position.") {
                    self.error(name.span().start, format!("variable \"{n}\" is written by Armature itself (task_* and position.* are reserved)"));
                    return None;
                }
                let op = match (&s.value, &s.add) {
                    (Some(v), None) => OpDef::Set(self.var_value(v, scope)?),
                    (None, Some(a)) => OpDef::Add(self.expr(a, scope)?),
                    _ => {
                        self.error(
                            at,
                            format!("set_variable \"{n}\" needs either value = ... or add = ..."),
                        );
                        return None;
                    }
                };
                Some(StepDef::SetVariable {
                    label: label(format!("setting {n}")),
                    name: n.clone(),
                    op,
                })
            }
            _ => {
                let count_src = s.repeat.as_ref()?;
                let count = self.expr(count_src, scope)?;
                let extent = self.within(
                    count_src.span().start,
                    &count,
                    scope,
                    (0.0, MAX_STEPS as f64),
                    "repeat count",
                )?;
                let mut inner = scope.clone();
                let index = match &s.index {
                    None => None,
                    Some(i) => {
                        let n = i.get_ref();
                        if !valid_name(n, 32) || scope.words.contains(n) {
                            self.error(i.span().start, format!("repeat index \"{n}\" must be a new name: lowercase letters, digits or _"));
                            return None;
                        }
                        inner
                            .numbers
                            .insert(n.clone(), (0.0, (extent.max.floor() - 1.0).max(0.0)));
                        inner.words.insert(n.clone());
                        Some(n.clone())
                    }
                };
                let Some(raw_steps) = s.steps.as_ref().filter(|v| !v.is_empty()) else {
                    self.error(
                        at,
                        "repeat needs steps = [...] (or [[...steps]] tables) to repeat".into(),
                    );
                    return None;
                };
                let steps = self.steps(raw_steps, &inner);
                (steps.len() == raw_steps.len()).then_some(StepDef::Repeat {
                    count,
                    index,
                    steps,
                })
            }
        }
    }

    fn position(&mut self, name: &Spanned<String>) -> Option<Vec<f64>> {
        let n = name.get_ref();
        match self.robot.positions.get(n) {
            Some(j) => Some(j.clone()),
            None => {
                let known: Vec<&str> = self.robot.positions.keys().map(String::as_str).collect();
                self.error(
                    name.span().start,
                    format!(
                        "unknown position \"{n}\": the robot file {} defines {}",
                        self.robot.source,
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn joints(&mut self, mj: &Spanned<RawJoints>, scope: &Scope2) -> Option<Vec<Linear>> {
        let raw = mj.get_ref();
        let specs = self.robot.joints.clone();
        let names: Vec<&str> = specs.iter().map(|j| j.name.as_str()).collect();
        let names = names.join(", ");
        let at = mj.span().start;
        let mut joints: Vec<(Linear, usize)> = match (&raw.from, &raw.joints) {
            (Some(from), None) => {
                let base = self.position(from)?;
                base.into_iter()
                    .map(|v| (Linear::constant(v), from.span().start))
                    .collect()
            }
            (None, Some(list)) => {
                if list.get_ref().len() != specs.len() {
                    self.error(
                        list.span().start,
                        format!(
                            "joints has {} values; the robot has {} joints ({names})",
                            list.get_ref().len(),
                            specs.len()
                        ),
                    );
                    return None;
                }
                let mut out = vec![];
                for v in list.get_ref() {
                    out.push((self.expr(v, scope)?, v.span().start));
                }
                out
            }
            _ => {
                self.error(at, "move_joints needs either from = \"<position>\" (with an optional offset) or joints = [...]".into());
                return None;
            }
        };
        for (name, off) in &raw.offset {
            let Some(i) = specs.iter().position(|j| &j.name == name) else {
                self.error(
                    off.span().start,
                    format!("offset names no joint \"{name}\" (joints: {names})"),
                );
                return None;
            };
            let e = self.expr(off, scope)?;
            let sum = joints[i].0.clone();
            joints[i] = (sum.plus(e), off.span().start);
        }
        let mut ok = true;
        for ((e, at), spec) in joints.iter().zip(&specs) {
            ok &= self
                .within(
                    *at,
                    e,
                    scope,
                    (spec.min, spec.max),
                    &format!("{} (rad)", spec.name),
                )
                .is_some();
        }
        ok.then(|| joints.into_iter().map(|j| j.0).collect())
    }

    fn var_value(&mut self, v: &Spanned<toml::Value>, scope: &Scope2) -> Option<VarValue> {
        let value = match v.get_ref() {
            toml::Value::Boolean(b) => VarValue::Bool(*b),
            toml::Value::Integer(i) => VarValue::Number(*i as f64),
            toml::Value::Float(f) => VarValue::Number(*f),
            toml::Value::String(s) => {
                self.template(&Spanned::new(v.span(), s.clone()), scope);
                VarValue::String(s.clone())
            }
            toml::Value::Array(items) => {
                let numbers: Option<Vec<f64>> = items
                    .iter()
                    .map(|i| i.as_float().or_else(|| i.as_integer().map(|n| n as f64)))
                    .collect();
                match numbers {
                    Some(n) => VarValue::List(n),
                    None => {
                        self.error(v.span().start, "a list value holds numbers only".into());
                        return None;
                    }
                }
            }
            other => {
                self.error(
                    v.span().start,
                    format!(
                        "value must be a number, a string, true/false or a list of numbers, not {}",
                        other.type_str()
                    ),
                );
                return None;
            }
        };
        Some(value)
    }
}

/// Where a step (or a step inside a repeat) moves or waits.
fn moving_step(s: &Spanned<RawStep>) -> Option<usize> {
    let r = s.get_ref();
    if r.move_to.is_some() || r.move_joints.is_some() || r.wait.is_some() {
        return Some(s.span().start);
    }
    r.steps.as_ref()?.iter().find_map(moving_step)
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
                "a.toml:10:11: default of n = 7: must be a whole number from 0 to 3",
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

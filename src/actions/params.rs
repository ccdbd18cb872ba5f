//! Reading tool arguments, with refusals that name the parameter and the value.

use serde_json::{Map, Value};

use super::Refusal;
use crate::audit::excerpt;

/// A tool's arguments, checked against the names it takes.
pub(super) struct Args<'a> {
    map: &'a Map<String, Value>,
}

/// A value as a refusal says it aloud: a number rounded for the ear (`words::rounded`), short plain
/// text as it is, anything else by its kind. Never quotes, brackets or a wall of digits.
pub(super) fn said_value(v: &Value) -> String {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| "that number".into(), crate::tasks::words::rounded),
        Value::String(s) => {
            let plain = s
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '.'));
            if plain && !s.trim().is_empty() && s.chars().count() <= 24 {
                format!("the text {}", s.trim())
            } else {
                "that text".into()
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Null => "nothing".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// A tool's or parameter's name as said, first letter up: `task_id` → "Task id".
pub(super) fn said_name(name: &str) -> String {
    crate::tasks::words::capitalised(&crate::tasks::words::spoken_name(&excerpt(name, 40)))
}

/// Names in a list as said: "joints, speed and when".
pub(super) fn said_list(names: &[&str]) -> String {
    let said: Vec<String> = names
        .iter()
        .map(|n| crate::tasks::words::spoken_name(n))
        .collect();
    match said.as_slice() {
        [] => "nothing".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

impl<'a> Args<'a> {
    /// Wraps `map`, refusing any name not in `allowed`.
    pub(super) fn new(
        tool: &str,
        map: &'a Map<String, Value>,
        allowed: &[&str],
    ) -> Result<Self, Refusal> {
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            let unknown = match said_value(&Value::from(unknown.as_str())).strip_prefix("the text ")
            {
                Some(plain) => format!("called {plain}"),
                None => "by that name".into(),
            };
            let takes = if allowed.is_empty() {
                "nothing".to_owned()
            } else {
                said_list(allowed)
            };
            return Err(Refusal::new(
                "unknown_parameter",
                format!(
                    "{} has no setting {unknown}. It takes {takes}.",
                    said_name(tool)
                ),
            ));
        }
        Ok(Self { map })
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// A number; `None` when absent or null.
    pub(super) fn number(&self, name: &str) -> Result<Option<f64>, Refusal> {
        match self.present(name) {
            None => Ok(None),
            Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                Refusal::new(
                    "invalid_type",
                    format!(
                        "{} must be a number, not {}.",
                        said_name(name),
                        said_value(v)
                    ),
                )
            }),
        }
    }

    /// A required string.
    pub(super) fn string(&self, name: &str) -> Result<&'a str, Refusal> {
        match self.present(name) {
            None => Err(Refusal::new(
                "missing_parameter",
                format!("{} is required.", said_name(name)),
            )),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(Refusal::new(
                "invalid_type",
                format!("{} must be text, not {}.", said_name(name), said_value(v)),
            )),
        }
    }

    /// A required true or false; nothing else counts (not 1, not "on").
    pub(super) fn boolean(&self, name: &str) -> Result<bool, Refusal> {
        match self.present(name) {
            None => Err(Refusal::new(
                "missing_parameter",
                format!("{} is required: true or false.", said_name(name)),
            )),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(Refusal::new(
                "invalid_type",
                format!(
                    "{} must be true or false, not {}.",
                    said_name(name),
                    said_value(v)
                ),
            )),
        }
    }

    /// An optional task: a string (number, "task 12", id) or a whole number, as text.
    pub(super) fn opt_task(&self, name: &str) -> Result<Option<String>, Refusal> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(Some(n.to_string())),
            Some(v) => Err(Refusal::new(
                "invalid_type",
                format!(
                    "{} must be a task's number, as in 12, not {}.",
                    said_name(name),
                    said_value(v)
                ),
            )),
        }
    }

    /// A required task (see `opt_task`).
    pub(super) fn task(&self, name: &str) -> Result<String, Refusal> {
        self.opt_task(name)?.ok_or_else(|| {
            Refusal::new(
                "missing_parameter",
                format!("{} is required: the task's number.", said_name(name)),
            )
        })
    }

    /// An optional string.
    pub(super) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, Refusal> {
        self.present(name).map(|_| self.string(name)).transpose()
    }

    /// A required array of finite-or-not numbers (the limit check judges finiteness).
    pub(super) fn numbers(&self, name: &str) -> Result<Vec<f64>, Refusal> {
        let list = match self.map.get(name) {
            None | Some(Value::Null) => {
                return Err(Refusal::new(
                    "missing_parameter",
                    format!(
                        "{} are required: one value in radians per joint.",
                        said_name(name)
                    ),
                ))
            }
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(Refusal::new(
                    "invalid_type",
                    format!(
                        "{} must be a list of numbers, not {}.",
                        said_name(name),
                        said_value(v)
                    ),
                ))
            }
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Number(n) => n.as_f64().ok_or_else(|| {
                    Refusal::new(
                        "invalid_type",
                        format!("Joint {} is not a usable number.", i + 1),
                    )
                }),
                // JSON has no NaN or infinity; clients send null or a string for them.
                Value::Null => Err(Refusal::new(
                    "not_finite",
                    format!(
                        "Joint {} is empty, as NaN or infinity arrive; every joint needs a finite number.",
                        i + 1
                    ),
                )),
                Value::String(s) if s.trim().parse::<f64>().is_ok() => Err(Refusal::new(
                    "not_finite",
                    format!(
                        "Joint {} is {}; give a finite number in radians.",
                        i + 1,
                        said_value(v)
                    ),
                )),
                other => Err(Refusal::new(
                    "invalid_type",
                    format!(
                        "Joint {} must be a number, not {}.",
                        i + 1,
                        said_value(other)
                    ),
                )),
            })
            .collect()
    }
}

/// A tool's typed arguments: the names it takes (the same as its schema's properties, as
/// a test checks) and how they are read, with refusals that name the value.
pub(super) trait ToolArgs: schemars::JsonSchema + Sized {
    /// The parameter names.
    const NAMES: &'static [&'static str];
    /// Reads them from checked arguments.
    fn read(args: &Args<'_>) -> Result<Self, Refusal>;

    /// Reads `map` for `tool`, refusing names it does not take.
    fn parse(tool: &str, map: &Map<String, Value>) -> Result<Self, Refusal> {
        Self::read(&Args::new(tool, map, Self::NAMES)?)
    }
}

/// A tool that takes no arguments.
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NoArgs {}

impl ToolArgs for NoArgs {
    const NAMES: &'static [&'static str] = &[];
    fn read(_: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {})
    }
}

/// A task as a caller names it: its number (12, "12", "task 12") or its id.
// Only its schema is used: `Args::task` reads the value.
#[allow(dead_code)]
#[derive(schemars::JsonSchema)]
#[serde(untagged)]
pub(super) enum TaskRef {
    /// The task's number, as in its acknowledgement ("task 12").
    Number(u64),
    /// "12", "task 12", the task's id, or the id's first 4 or more characters.
    Text(String),
}

/// A tool that takes one task.
#[derive(schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskIdArgs {
    /// The task: its number (12 or "task 12") or its id.
    #[schemars(with = "TaskRef")]
    pub task_id: String,
}

impl ToolArgs for TaskIdArgs {
    const NAMES: &'static [&'static str] = &["task_id"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            task_id: a.task("task_id")?,
        })
    }
}

/// When a motion starts, as a tool argument.
#[derive(schemars::JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub(crate) enum WhenWord {
    /// At once; refused while the arm is busy (the default).
    Now,
    /// After the running task and those already waiting: queued.
    After,
}

impl WhenWord {
    /// Reads the optional `when` argument.
    pub(crate) fn read(a: &Args<'_>) -> Result<Option<Self>, Refusal> {
        match a.opt_string("when")? {
            None => Ok(None),
            Some("now") => Ok(Some(Self::Now)),
            Some("after") => Ok(Some(Self::After)),
            Some(other) => Err(Refusal::new(
                "invalid_value",
                format!(
                    "When must be now or after, not {}.",
                    said_value(&Value::from(other))
                ),
            )),
        }
    }

    /// The gate's word for it.
    pub(crate) fn gate(this: Option<Self>) -> crate::tasks::When {
        match this {
            Some(Self::After) => crate::tasks::When::After,
            _ => crate::tasks::When::Now,
        }
    }
}

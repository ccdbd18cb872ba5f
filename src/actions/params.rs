//! Reading tool arguments, with refusals that name the parameter and the value.

use serde_json::{Map, Value};

use super::Refusal;
use crate::audit::excerpt;
use crate::robot::number;

/// A tool's arguments, checked against the names it takes.
pub(super) struct Args<'a> {
    map: &'a Map<String, Value>,
}

/// A value as a refusal quotes it: numbers rounded (see `robot::number`), cut at 60
/// characters.
fn describe(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        if out.len() > 64 {
            return;
        }
        match v {
            Value::Number(n) => match n.as_f64() {
                Some(x) => out.push_str(&number(x)),
                None => out.push_str(&n.to_string()),
            },
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&Value::from(excerpt(k, 64)).to_string());
                    out.push_str(": ");
                    write(item, out);
                }
                out.push('}');
            }
            Value::String(s) => out.push_str(&Value::from(excerpt(s, 64)).to_string()),
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map(|c| c.0).unwrap_or(s.len())]
        )
    } else {
        s
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
            let takes = if allowed.is_empty() {
                "no parameters".to_owned()
            } else {
                allowed.join(", ")
            };
            return Err(Refusal::new(
                "unknown_parameter",
                format!("{tool} has no parameter \"{unknown}\"; it takes {takes}"),
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
                    format!("{name} = {} is not a number", describe(v)),
                )
            }),
        }
    }

    /// A required string.
    pub(super) fn string(&self, name: &str) -> Result<&'a str, Refusal> {
        match self.present(name) {
            None => Err(Refusal::new(
                "missing_parameter",
                format!("{name} is required"),
            )),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(Refusal::new(
                "invalid_type",
                format!("{name} = {} is not a string", describe(v)),
            )),
        }
    }

    /// A required true or false; nothing else counts (not 1, not "on").
    pub(super) fn boolean(&self, name: &str) -> Result<bool, Refusal> {
        match self.present(name) {
            None => Err(Refusal::new(
                "missing_parameter",
                format!("{name} is required: true or false"),
            )),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(Refusal::new(
                "invalid_type",
                format!("{name} = {} is not true or false", describe(v)),
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
                    "{name} = {} is not a task: give its number, as in 12, or its id",
                    describe(v)
                ),
            )),
        }
    }

    /// A required task (see `opt_task`).
    pub(super) fn task(&self, name: &str) -> Result<String, Refusal> {
        self.opt_task(name)?.ok_or_else(|| {
            Refusal::new(
                "missing_parameter",
                format!("{name} is required: the task's number or id"),
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
                    format!("{name} is required: one value (rad) per joint"),
                ))
            }
            Some(Value::Array(a)) => a,
            Some(v) => {
                return Err(Refusal::new(
                    "invalid_type",
                    format!("{name} = {} is not a list of numbers", describe(v)),
                ))
            }
        };
        list.iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Number(n) => n.as_f64().ok_or_else(|| {
                    Refusal::new(
                        "invalid_type",
                        format!("{name}[{i}] = {n} is not a usable number"),
                    )
                }),
                // JSON has no NaN or infinity; clients send null or a string for them.
                Value::Null => Err(Refusal::new(
                    "not_finite",
                    format!(
                        "joint {} is null (NaN or infinity?); every joint needs a finite number",
                        i + 1
                    ),
                )),
                Value::String(s) if s.trim().parse::<f64>().is_ok() => Err(Refusal::new(
                    "not_finite",
                    format!(
                        "joint {} = \"{s}\" is a string; give a finite number in radians",
                        i + 1
                    ),
                )),
                other => Err(Refusal::new(
                    "invalid_type",
                    format!("joint {} = {} is not a number", i + 1, describe(other)),
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
                format!("when = \"{other}\" must be now or after"),
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

//! Actions: the tools an assistant can call. Each built-in tool is one item (`tools/`);
//! custom actions come from the action file (`custom/`). Actions speak to the tasks
//! layer, never to the HAL or the executor.

pub mod custom;
mod guards;
mod params;
mod tool;
mod tools;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use tool::{ActionSpec, Effect, Scope};

use crate::app::App;
use crate::audit::AuditEntry;
use crate::config::Config;
use crate::tasks;

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The operator's name (`local` on stdio).
    pub operator: String,
    /// What they may do.
    pub role: crate::operators::Role,
    /// Where the call comes from: an MCP session, or the dashboard (a person at the page).
    pub channel: crate::tasks::Channel,
}

impl Caller {
    /// The same operator, calling from the dashboard.
    pub fn at_dashboard(self) -> Self {
        Self {
            channel: crate::tasks::Channel::Dashboard,
            ..self
        }
    }
}

impl From<crate::operators::Operator> for Caller {
    fn from(o: crate::operators::Operator) -> Self {
        Self {
            operator: o.name,
            role: o.role,
            channel: crate::tasks::Channel::Session,
        }
    }
}

/// A tool's answer: a short speakable sentence and the structured result.
#[derive(Debug, Clone)]
pub struct ActionOutput {
    /// Speakable text.
    pub text: String,
    /// Matches the tool's output schema.
    pub structured: serde_json::Value,
    /// The task it created or touched, for the audit log.
    pub task_id: Option<String>,
}

/// A refusal: nothing was done. The message names the bad value and the limit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// Stable code, e.g. `out_of_range`.
    pub code: &'static str,
    /// For a person.
    pub message: String,
}

/// A refusal's message is cut to this many characters: a value a caller chose may be
/// quoted in it, and it reaches the log, the audit and the caller's speech.
const MESSAGE_CHARS: usize = 600;

impl Refusal {
    /// A refusal with `code` and `message` (its middle cut out past [`MESSAGE_CHARS`], so
    /// that the start and the rule at its end are kept).
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let message = message.into();
        let n = message.chars().count();
        let message = if n <= MESSAGE_CHARS {
            message
        } else {
            let head: String = message.chars().take(MESSAGE_CHARS * 2 / 3).collect();
            let tail: String = message.chars().skip(n - MESSAGE_CHARS / 3).collect();
            format!("{head} … ({} characters cut) … {tail}", n - MESSAGE_CHARS)
        };
        Self { code, message }
    }
}

/// The names of the built-in tools; a custom action may not take one.
pub fn builtin_names() -> Vec<&'static str> {
    tools::TOOLS.iter().map(|t| t.name).collect()
}

/// Every tool for this configuration: the built-ins, then the custom actions.
pub fn catalog(config: &Config) -> Vec<ActionSpec> {
    let mut all: Vec<ActionSpec> = tools::TOOLS.iter().map(|t| t.spec(config)).collect();
    all.extend(custom::specs(&config.actions));
    all
}

/// Runs the tool `name` for `caller`; audits the call either way.
pub async fn call(
    app: &Arc<App>,
    caller: &Caller,
    name: &str,
    args: Option<&Map<String, Value>>,
) -> Result<ActionOutput, Refusal> {
    let started = std::time::Instant::now();
    let empty = Map::new();
    let args = args.unwrap_or(&empty);
    let (mut result, admitted) = tasks::collect(|| dispatch(app, caller, name, args));
    // A motion call answers once its task's record is on disk and the task has begun.
    for admission in admitted {
        if let Err(e) = admission.settle().await {
            result = Err(Refusal::from(e));
        }
    }
    let (refusal, task_id) = match &result {
        Ok(out) => (None, out.task_id.clone()),
        Err(r) => (Some(r.code), None),
    };
    let reads = tools::TOOLS
        .iter()
        .any(|t| t.name == name && t.effect == Effect::Reads);
    let entry = AuditEntry::now(
        &caller.operator,
        name,
        Value::Object(args.clone()),
        refusal,
        task_id,
        started.elapsed(),
    )
    .reading(reads);
    app.audit.record(entry);
    result
}

fn dispatch(
    app: &Arc<App>,
    caller: &Caller,
    name: &str,
    args: &Map<String, Value>,
) -> Result<ActionOutput, Refusal> {
    if let Some(tool) = tools::TOOLS.iter().find(|t| t.name == name) {
        return (tool.run)(app, caller, args);
    }
    match app.config.actions.iter().find(|a| a.name == name) {
        Some(action) => custom::call(app, caller, action, args),
        None => Err(Refusal::new(
            "unknown_tool",
            format!("there is no tool named \"{name}\""),
        )),
    }
}

//! Actions: the tools an assistant can call, their schemas, scopes and handlers.

mod builtin;
mod catalog;
pub mod custom;
mod params;
mod speech;

pub use builtin::call;
pub use catalog::{catalog, ActionSpec, Scope, BUILTIN_TOOLS};

/// Who is calling.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The operator's name (`local` on stdio).
    pub operator: String,
    /// What they may do.
    pub role: crate::operators::Role,
}

impl From<crate::operators::Operator> for Caller {
    fn from(o: crate::operators::Operator) -> Self {
        Self {
            operator: o.name,
            role: o.role,
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

impl Refusal {
    /// A refusal with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

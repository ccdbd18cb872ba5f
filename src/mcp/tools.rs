//! The action catalog as MCP tools, built once per server and shared by its sessions.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde_json::{json, Value};

use super::schema::with_refusal;
use crate::actions::{self, ActionSpec, Effect, Scope};
use crate::config::Config;

/// The tools of one configuration.
pub struct Catalog {
    /// In catalog order.
    pub tools: Vec<Tool>,
    /// Names of the tools that start motion tasks (followed as MCP tasks when asked).
    pub motions: Vec<String>,
}

fn as_object(v: Value) -> Arc<JsonObject> {
    Arc::new(match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    })
}

/// A tool that starts a motion: a foreground tool, or resume_task, which answers at once
/// like a background tool but starts a motion task.
fn starts_motion(spec: &ActionSpec) -> bool {
    spec.effect == Effect::Moves
}

/// `spec` as an MCP tool. `record` is the task record's schema: a motion tool followed as
/// an MCP task delivers the final record as its result.
fn tool(spec: ActionSpec, record: Option<&Value>) -> Tool {
    let foreground = spec.scope == Scope::Foreground;
    let motion = starts_motion(&spec);
    let mut meta = JsonObject::new();
    meta.insert("armature/scope".into(), json!(spec.scope));
    super::app::tool_meta(&mut meta, &spec.name, motion);
    let mut annotations = ToolAnnotations::with_title(spec.title.clone())
        .read_only(spec.effect == Effect::Reads)
        .destructive(false)
        .open_world(false);
    if foreground {
        annotations = annotations.idempotent(false);
    }
    let output = with_refusal(spec.output, record.filter(|_| motion).cloned());
    Tool::new(spec.name, spec.description, as_object(spec.input))
        .with_title(spec.title)
        .with_raw_output_schema(Arc::new(output))
        .with_annotations(annotations)
        .with_meta(rmcp::model::MetaObject(meta))
}

impl Catalog {
    /// Every tool of `config`.
    pub fn new(config: &Config) -> Self {
        let specs = actions::catalog(config);
        let motions = specs
            .iter()
            .filter(|s| starts_motion(s))
            .map(|s| s.name.clone())
            .collect();
        // task_status answers with the record.
        let record = specs
            .iter()
            .find(|s| s.name == "task_status")
            .map(|s| s.output.clone());
        let tools = specs
            .into_iter()
            .map(|s| tool(s, record.as_ref()))
            .collect();
        Self { tools, motions }
    }

    /// The tool named `name`.
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Whether `name` starts a motion task.
    pub fn is_motion(&self, name: &str) -> bool {
        self.motions.iter().any(|m| m == name)
    }
}

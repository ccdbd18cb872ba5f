//! A tool as one item: its name, words for the assistant, scope, kind, schemas derived
//! from its argument and output types, and its handler. The catalog, the dispatch and
//! the set of motion tools all come from the one list in `tools/`.

use std::sync::Arc;

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{Map, Value};

use super::{ActionOutput, Caller, Refusal};
use crate::app::App;
use crate::config::Config;
pub use crate::config::Scope;

/// What calling a tool does to the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads only.
    Reads,
    /// Changes state (a task, a variable, a stop) without starting motion.
    Changes,
    /// Starts a motion task.
    Moves,
}

/// A tool's handler.
pub(super) type Handler =
    fn(&Arc<App>, &Caller, &Map<String, Value>) -> Result<ActionOutput, Refusal>;

/// One built-in tool.
pub(super) struct ToolItem {
    /// Its name.
    pub name: &'static str,
    /// Its title.
    pub title: &'static str,
    /// Its scope.
    pub scope: Scope,
    /// What it does to the cell.
    pub effect: Effect,
    /// What it does, for the assistant (some words depend on the robot and config).
    pub description: fn(&Config) -> String,
    /// JSON Schema of its arguments.
    pub input: fn(&Config) -> Value,
    /// JSON Schema of its `structuredContent`.
    pub output: fn() -> Value,
    /// Runs it.
    pub run: Handler,
}

/// One tool as an assistant sees it (built-in or custom).
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Tool name.
    pub name: String,
    /// Human title.
    pub title: String,
    /// What it does, for the assistant.
    pub description: String,
    /// Its scope.
    pub scope: Scope,
    /// What it does to the cell.
    pub effect: Effect,
    /// JSON Schema of the arguments.
    pub input: Value,
    /// JSON Schema of `structuredContent`.
    pub output: Value,
}

impl ToolItem {
    /// This tool as the assistant sees it under `config`.
    pub(super) fn spec(&self, config: &Config) -> ActionSpec {
        ActionSpec {
            name: self.name.into(),
            title: self.title.into(),
            description: (self.description)(config),
            scope: self.scope,
            effect: self.effect,
            input: (self.input)(config),
            output: (self.output)(),
        }
    }
}

/// The JSON Schema of `T`, inlined (no `$ref`), without the meta-schema line.
pub(super) fn schema<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut value = Value::from(generator.into_root_schema_for::<T>());
    if let Some(map) = value.as_object_mut() {
        map.remove("title");
    }
    plain_enums(&mut value);
    value
}

/// Writes a `oneOf` of documented constants (how a unit enum's variants come out) as a
/// plain `enum` of strings, which every client reads.
fn plain_enums(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let consts: Option<Vec<Value>> = map
                .get("oneOf")
                .and_then(Value::as_array)
                .and_then(|alts| alts.iter().map(|a| a.get("const").cloned()).collect());
            if let Some(consts) = consts {
                map.remove("oneOf");
                map.insert("type".into(), Value::from("string"));
                map.insert("enum".into(), Value::Array(consts));
            }
            map.values_mut().for_each(plain_enums);
        }
        Value::Array(items) => items.iter_mut().for_each(plain_enums),
        _ => {}
    }
}

/// Serialises a tool's typed output as its structured content.
pub(super) fn structured<T: serde::Serialize>(out: &T) -> Value {
    // Output types are plain structs of strings, numbers and lists: they always serialise.
    serde_json::to_value(out).unwrap_or(Value::Null)
}

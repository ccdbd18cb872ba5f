//! Output schemas as clients check them: every declared `outputSchema` also admits a refusal.
//!
//! A refusal is a result with `isError: true`, its message as text, and
//! `structuredContent: {"error": {"code", "message"}}`. The spec says structured content
//! MUST conform to the output schema, and the TypeScript SDK's `Client.callTool` validates
//! it whenever it is present, `isError` or not (the Python SDK skips errors; rmcp's client
//! does not validate). So each tool's schema is `{"type": "object", "anyOf": [its result,
//! a refusal]}`: a refusal reaches every client as a result with its text and code.

use serde_json::{json, Map, Value};

/// Keywords that stay at the root, where the `$ref`s inside the branches resolve against them.
const ROOT_KEYWORDS: &[&str] = &["$schema", "$id", "$defs", "definitions"];

/// The structured content of a refusal with `code` and `message`.
pub(super) fn refusal_content(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

/// The schema of a refusal's structured content.
pub(super) fn refusal_schema() -> Value {
    json!({
        "type": "object",
        "description": "A refusal (isError: true): nothing was done; the code is stable, the message names the bad value and the limit.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                "required": ["code", "message"]
            }
        },
        "required": ["error"]
    })
}

/// One root schema admitting any of `branches` (each a JSON Schema object). The root
/// keywords of the branches move to the root, so their `$ref`s still resolve; a `$defs`
/// name used by two branches is kept once (schemas from types name a definition by its type).
pub(super) fn any_of(branches: impl IntoIterator<Item = Value>) -> Map<String, Value> {
    let mut root = Map::new();
    let mut kept = vec![];
    for branch in branches {
        let mut branch = match branch {
            Value::Object(m) => m,
            other => {
                kept.push(other);
                continue;
            }
        };
        for key in ROOT_KEYWORDS {
            let Some(value) = branch.remove(*key) else {
                continue;
            };
            match (root.get_mut(*key), value) {
                (Some(Value::Object(have)), Value::Object(more)) => {
                    for (name, def) in more {
                        have.entry(name).or_insert(def);
                    }
                }
                (Some(_), _) => {}
                (None, value) => {
                    root.insert((*key).to_owned(), value);
                }
            }
        }
        kept.push(Value::Object(branch));
    }
    // The spec wants an object schema at the root of every outputSchema.
    root.insert("type".into(), json!("object"));
    root.insert("anyOf".into(), Value::Array(kept));
    root
}

/// A tool's declared `output` widened to admit a refusal, and `more` (e.g. the final
/// task record a motion tool delivers through the tasks extension).
pub(super) fn with_refusal(output: Value, more: Option<Value>) -> Map<String, Value> {
    let mut branches = vec![output];
    branches.extend(more);
    branches.push(refusal_schema());
    any_of(branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_and_the_refusal_are_branches_of_one_object_schema() {
        let output = json!({"type": "object", "properties": {"task_id": {"type": "string"}}, "required": ["task_id"]});
        let schema = Value::Object(with_refusal(output.clone(), None));
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["anyOf"][0], output);
        assert_eq!(schema["anyOf"][1]["required"], json!(["error"]));
        assert_eq!(schema["anyOf"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn definitions_move_to_the_root_where_refs_resolve() {
        let a = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {"pose": {"$ref": "#/$defs/Pose"}},
            "$defs": {"Pose": {"type": "array"}}
        });
        let b = json!({"type": "object", "$defs": {"Pose": {"type": "array"}, "Error": {"type": "object"}}});
        let schema = Value::Object(with_refusal(a, Some(b)));
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(
            schema["$defs"],
            json!({"Pose": {"type": "array"}, "Error": {"type": "object"}})
        );
        for branch in schema["anyOf"].as_array().into_iter().flatten() {
            assert!(branch.get("$defs").is_none() && branch.get("$schema").is_none());
        }
        assert_eq!(
            schema["anyOf"][0]["properties"]["pose"]["$ref"],
            "#/$defs/Pose"
        );
    }
}

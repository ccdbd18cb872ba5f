//! The catalog of built-in tools: names, descriptions, scopes and JSON schemas.

use serde_json::{json, Value};

use crate::config::Config;
pub use crate::config::Scope;

/// One tool as an assistant sees it.
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
    /// JSON Schema of the arguments.
    pub input: Value,
    /// JSON Schema of `structuredContent`.
    pub output: Value,
}

fn speed_schema(cap: f64) -> Value {
    json!({
        "type": "number", "exclusiveMinimum": 0, "maximum": 1,
        "description": format!("Fraction of the robot's maximum speed, in (0, 1]. Capped at {cap}; default {cap}.")
    })
}

fn task_ack_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "task_id": {"type": "string", "format": "uuid"},
            "action": {"type": "string"},
            "state": {"type": "string"},
            "eta_s": {"type": "number"},
            "speed": {"type": "number"},
            "speed_capped": {"type": "boolean"},
            "target": {"type": "array", "items": {"type": "number"}},
            "message": {"type": "string"}
        },
        "required": ["task_id", "action", "state", "eta_s", "speed", "target", "message"]
    })
}

/// The status record's schema (DESIGN.md).
pub fn task_record_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "task_id": {"type": "string", "format": "uuid"},
            "action": {"type": "string"},
            "params": {},
            "state": {"type": "string", "enum": ["awaiting_confirmation", "queued", "running", "succeeded", "failed", "cancelled", "interrupted"]},
            "progress": {"type": "number", "minimum": 0, "maximum": 100},
            "message": {"type": "string"},
            "created_at": {"type": "string"},
            "updated_at": {"type": "string"},
            "finished_at": {"type": ["string", "null"]},
            "eta_s": {"type": ["number", "null"]},
            "error": {
                "type": ["object", "null"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}}
            },
            "owner": {"type": "string"}
        },
        "required": ["task_id", "action", "state", "progress", "message", "created_at", "updated_at", "owner"]
    })
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": false})
}

/// A background tool of the confirmation gate: takes a task id, answers its new state.
fn gate_tool(name: &'static str, title: &'static str, description: &str) -> ActionSpec {
    ActionSpec {
        name: name.into(),
        title: title.into(),
        description: description.into(),
        scope: Scope::Background,
        input: object(json!({"task_id": {"type": "string"}}), &["task_id"]),
        output: json!({
            "type": "object",
            "properties": {"task_id": {"type": "string"}, "state": {"type": "string"}},
            "required": ["task_id", "state"]
        }),
    }
}

/// The built-in tools' names; a custom action may not take one.
pub const BUILTIN_TOOLS: &[&str] = &[
    "move_joints",
    "move_to",
    "home",
    "task_status",
    "cancel_task",
    "confirm_task",
    "reject_task",
    "resume_task",
    "stop",
    "list_tasks",
    "robot_state",
    "save_position",
    "list_positions",
];

/// Every tool for this configuration: the built-ins, then the custom actions.
pub fn catalog(config: &Config) -> Vec<ActionSpec> {
    let mut all = builtins(config);
    all.extend(super::custom::specs(&config.actions));
    all
}

fn builtins(config: &Config) -> Vec<ActionSpec> {
    let robot = &config.robot;
    let cap = config.motion.max_speed;
    let n = robot.dof();
    let names: Vec<&str> = robot.joints.iter().map(|j| j.name.as_str()).collect();
    let ranges: Vec<String> = robot
        .joints
        .iter()
        .map(|j| format!("{} [{:.3}, {:.3}]", j.name, j.min, j.max))
        .collect();
    vec![
        ActionSpec {
            name: "move_joints".into(),
            title: "Move joints".into(),
            description: format!(
                "Move the {} to joint positions in radians, one per joint in this order: {}. \
                 Returns at once with a task id; follow it with task_status. Ranges (rad): {}.",
                robot.name,
                names.join(", "),
                ranges.join(", ")
            ),
            scope: Scope::Foreground,
            input: object(
                json!({
                    "joints": {
                        "type": "array", "items": {"type": "number"}, "minItems": n, "maxItems": n,
                        "description": "Target joint positions (rad), base to wrist."
                    },
                    "speed": speed_schema(cap)
                }),
                &["joints"],
            ),
            output: task_ack_schema(),
        },
        ActionSpec {
            name: "move_to".into(),
            title: "Move to a named position".into(),
            description: "Move the arm to a named position (see list_positions). Returns at once with a task id."
                .into(),
            scope: Scope::Foreground,
            input: object(
                json!({
                    "position": {"type": "string", "description": "A name from list_positions, e.g. home."},
                    "speed": speed_schema(cap)
                }),
                &["position"],
            ),
            output: task_ack_schema(),
        },
        ActionSpec {
            name: "home".into(),
            title: "Go home".into(),
            description: "Move the arm to its home position. Returns at once with a task id.".into(),
            scope: Scope::Foreground,
            input: object(json!({"speed": speed_schema(cap)}), &[]),
            output: task_ack_schema(),
        },
        ActionSpec {
            name: "task_status".into(),
            title: "Task status".into(),
            description: "Status of a task (default: the latest): state, progress 0-100, a speakable message, ETA. \
                          Answers at once, also while the arm moves."
                .into(),
            scope: Scope::Background,
            input: object(
                json!({"task_id": {"type": "string", "description": "The task id, or its first 4+ characters."}}),
                &[],
            ),
            output: task_record_schema(),
        },
        ActionSpec {
            name: "cancel_task".into(),
            title: "Cancel a task".into(),
            description: "Controlled stop of one task's motion. The arm decelerates and stands still.".into(),
            scope: Scope::Background,
            input: object(json!({"task_id": {"type": "string"}}), &["task_id"]),
            output: json!({
                "type": "object",
                "properties": {"task_id": {"type": "string"}, "stopping": {"type": "boolean"}, "state": {"type": "string"}},
                "required": ["task_id", "stopping", "state"]
            }),
        },
        gate_tool(
            "confirm_task",
            "Confirm a task",
            "Confirm a motion that waits for confirmation (state awaiting_confirmation): the arm starts moving. \
             Only the task's owner may confirm.",
        ),
        gate_tool(
            "reject_task",
            "Reject a task",
            "Drop a motion that waits for confirmation; the arm does not move. Owner only.",
        ),
        ActionSpec {
            name: "resume_task".into(),
            title: "Resume a task".into(),
            description: "Take up an interrupted custom action (state interrupted, after a restart or a fault) \
                          where it stopped: the arm first returns to where the first unfinished step starts, \
                          then the remaining steps run. Finished steps never run again. Owner only."
                .into(),
            scope: Scope::Background,
            input: object(json!({"task_id": {"type": "string", "description": "The task id, or its first 4+ characters."}}), &["task_id"]),
            output: json!({
                "type": "object",
                "properties": {
                    "task_id": {"type": "string"}, "action": {"type": "string"}, "state": {"type": "string"},
                    "eta_s": {"type": "number"}, "steps": {"type": "integer"}, "from_step": {"type": "integer"},
                    "message": {"type": "string"}
                },
                "required": ["task_id", "state", "from_step", "message"]
            }),
        },
        ActionSpec {
            name: "stop".into(),
            title: "Stop".into(),
            description: "Controlled stop of whatever the arm is doing, whoever started it.".into(),
            scope: Scope::Background,
            input: object(json!({}), &[]),
            output: json!({
                "type": "object",
                "properties": {"stopping": {"type": "boolean"}, "task_id": {"type": ["string", "null"]}},
                "required": ["stopping"]
            }),
        },
        ActionSpec {
            name: "list_tasks".into(),
            title: "List tasks".into(),
            description: "Recent tasks, newest first.".into(),
            scope: Scope::Background,
            input: object(json!({"limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10}}), &[]),
            output: json!({
                "type": "object",
                "properties": {"tasks": {"type": "array", "items": task_record_schema()}},
                "required": ["tasks"]
            }),
        },
        ActionSpec {
            name: "robot_state".into(),
            title: "Robot state".into(),
            description: "Joints, TCP pose, mode, connection and the real-time loop's figures. Answers at once.".into(),
            scope: Scope::Background,
            input: object(json!({}), &[]),
            output: json!({
                "type": "object",
                "properties": {
                    "robot": {"type": "string"},
                    "backend": {"type": "string"},
                    "connected": {"type": "boolean"},
                    "mode": {"type": "string"},
                    "fault": {},
                    "moving": {"type": "boolean"},
                    "task_id": {"type": ["string", "null"]},
                    "joints": {"type": "array", "items": {"type": "object"}},
                    "positions": {"type": "array", "items": {"type": "number"}},
                    "velocities": {"type": "array", "items": {"type": "number"}},
                    "tcp_pose": {"type": ["object", "null"]},
                    "state_age_ms": {"type": ["number", "null"]},
                    "durability": {"type": "object"},
                    "realtime": {"type": "object"}
                },
                "required": ["robot", "backend", "connected", "mode", "moving", "positions", "velocities", "realtime"]
            }),
        },
        ActionSpec {
            name: "save_position".into(),
            title: "Save position".into(),
            description: "Store the arm's current joints under a name (persistent); move_to can go there later.".into(),
            scope: Scope::Background,
            input: object(
                json!({"name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,31}$"}}),
                &["name"],
            ),
            output: json!({
                "type": "object",
                "properties": {"name": {"type": "string"}, "joints": {"type": "array", "items": {"type": "number"}}},
                "required": ["name", "joints"]
            }),
        },
        ActionSpec {
            name: "list_positions".into(),
            title: "List positions".into(),
            description: "Named positions: those of the robot definition and those saved by operators.".into(),
            scope: Scope::Background,
            input: object(json!({}), &[]),
            output: json!({
                "type": "object",
                "properties": {"positions": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "joints": {"type": "array"}, "source": {"type": "string"}}
                }}},
                "required": ["positions"]
            }),
        },
    ]
}

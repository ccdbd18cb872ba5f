//! Custom actions: the cell's jobs, defined in an action file, each served as its own tool.
//!
//! `crate::config::action_file` reads and checks the file, `expand` turns a call into
//! concrete steps, `runner` executes them; this module starts and resumes such tasks.

mod expand;
mod runner;

use std::sync::Arc;

use serde_json::{json, Map, Value};

pub use crate::config::action_file::{
    load, parse, ActionsError, CustomAction, DefinitionError, Param, ParamKind, EXAMPLE_CELL,
};
pub use runner::run;

use super::builtin::{busy, expire_later, find_task, may_move, own_task, ready_to_move};
use super::params::Args;
use super::speech::about;
use super::{ActionOutput, ActionSpec, Caller, Refusal, Scope};
use crate::app::App;
use crate::hal::Joints;
use crate::motion::Plan;
use crate::tasks::{
    short_id, Gate, NewTask, Pending, ResumeError, Sequence, Step, StepKind, TaskState,
};

/// The tool for each custom action.
pub fn specs(actions: &[CustomAction]) -> Vec<ActionSpec> {
    actions
        .iter()
        .map(|a| {
            let mut properties = Map::new();
            for p in &a.params {
                let mut schema = match &p.kind {
                    ParamKind::Integer { min, max } => {
                        json!({"type": "integer", "minimum": min, "maximum": max})
                    }
                    ParamKind::Number { min, max } => {
                        json!({"type": "number", "minimum": min, "maximum": max})
                    }
                    ParamKind::Choice(c) => json!({"type": "string", "enum": c}),
                    ParamKind::Bool => json!({"type": "boolean"}),
                };
                if !p.description.is_empty() {
                    schema["description"] = json!(p.description);
                }
                if let Some(d) = &p.default {
                    schema["default"] = d.clone();
                }
                properties.insert(p.name.clone(), schema);
            }
            let required: Vec<&str> = a
                .params
                .iter()
                .filter(|p| p.default.is_none())
                .map(|p| p.name.as_str())
                .collect();
            let output = match a.scope {
                Scope::Foreground => json!({
                    "type": "object",
                    "properties": {
                        "task_id": {"type": "string", "format": "uuid"},
                        "action": {"type": "string"},
                        "state": {"type": "string"},
                        "eta_s": {"type": "number"},
                        "steps": {"type": "integer"},
                        "message": {"type": "string"}
                    },
                    "required": ["task_id", "action", "state", "eta_s", "steps", "message"]
                }),
                Scope::Background => json!({
                    "type": "object",
                    "properties": {"message": {"type": "string"}, "variables": {"type": "object"}},
                    "required": ["message", "variables"]
                }),
            };
            let description = match a.scope {
                Scope::Foreground => format!(
                    "{} Runs as one task of several steps: returns at once with a task id; \
                     follow it with task_status, stop it with cancel_task or stop.",
                    a.description.trim_end()
                ),
                Scope::Background => a.description.clone(),
            };
            ActionSpec {
                name: a.name.clone(),
                title: a.title.clone(),
                description,
                scope: a.scope,
                input: json!({
                    "type": "object", "properties": properties, "required": required,
                    "additionalProperties": false
                }),
                output,
            }
        })
        .collect()
}

/// Runs the custom action `action` for `caller`.
pub fn call(
    app: &Arc<App>,
    caller: &Caller,
    action: &CustomAction,
    args: &Map<String, Value>,
) -> Result<ActionOutput, Refusal> {
    may_move(caller, &action.name)?;
    let bound = expand::bind(action, args)?;
    let cap = app.config.motion.max_speed;
    let steps = expand::expand(action, &bound, &app.config.robot, cap)?;
    if action.scope == Scope::Background {
        return set_now(app, action, &bound, steps);
    }
    let (start, _) = ready_to_move(app)?;
    let (seq, reach) = sequence(app, steps, start);
    let seq = Arc::new(seq);
    let eta: f64 = seq.weights.iter().sum();
    let n = seq.steps.len();
    let gate = gate(
        app,
        action,
        &action.name,
        reach,
        || {
            format!(
                "{} runs {}, {}, moving a joint up to {:.0} degrees. Confirm?",
                action.title,
                count(n),
                about(eta),
                reach.0.to_degrees()
            )
        },
        Pending::Steps {
            from: 0,
            prelude: None,
        },
    );
    let gated = gate.is_some();
    let doing = bound.render(&action.ack);
    let new = NewTask {
        action: action.name.clone(),
        params: Value::Object(bound.params().clone()),
        owner: caller.operator.clone(),
        doing: doing.clone(),
        done: bound.render(&action.done),
        eta_s: eta,
        gate,
        sequence: Some(seq),
    };
    let (rec, _) = app.registry.begin_foreground(new).map_err(busy)?;
    let text = if gated {
        expire_later(app, rec.task_id);
        rec.message.clone()
    } else {
        run(app, rec.task_id, 0, None);
        format!(
            "{} {}, {}. Task {}.",
            sentence(&doing),
            count(n),
            about(eta),
            short_id(&rec.task_id)
        )
    };
    Ok(ActionOutput {
        structured: json!({
            "task_id": rec.task_id, "action": action.name, "state": rec.state,
            "eta_s": (eta * 100.0).round() / 100.0, "steps": n, "message": text,
        }),
        text,
        task_id: Some(rec.task_id.to_string()),
    })
}

/// "1 step", "10 steps".
fn count(n: usize) -> String {
    if n == 1 {
        "1 step".into()
    } else {
        format!("{n} steps")
    }
}

/// "Picking slot 3." from "Picking slot 3".
fn sentence(s: &str) -> String {
    let s = s.trim_end();
    if s.ends_with(['.', '!', '?']) {
        s.to_owned()
    } else {
        format!("{s}.")
    }
}

/// `resume_task`: takes up an interrupted multi-step task at its first unfinished step.
pub fn resume(
    app: &Arc<App>,
    caller: &Caller,
    args: &Map<String, Value>,
) -> Result<ActionOutput, Refusal> {
    may_move(caller, "resume_task")?;
    let a = Args::new("resume_task", args, &["task_id"])?;
    let rec = own_task(caller, find_task(app, a.string("task_id")?)?)?;
    let short = short_id(&rec.task_id);
    if rec.state != TaskState::Interrupted {
        return Err(Refusal::new(
            "not_interrupted",
            format!(
                "Task {short} is {}; only an interrupted task can be resumed.",
                rec.state.as_str()
            ),
        ));
    }
    let Some(status) = rec.steps.clone() else {
        return Err(Refusal::new(
            "not_resumable",
            format!(
                "Task {short} ({}) is a single motion, not a custom action with steps; start it again instead.",
                rec.action
            ),
        ));
    };
    let changed = |why: String| {
        Refusal::new(
            "definition_changed",
            format!(
                "Task {short} cannot be resumed: {why}. Nothing moved; start the action again."
            ),
        )
    };
    let action = app
        .config
        .actions
        .iter()
        .find(|x| x.name == rec.action)
        .ok_or_else(|| changed(format!("the action {} is no longer defined", rec.action)))?;
    let empty = Map::new();
    let params = rec.params.as_object().unwrap_or(&empty);
    let bound = expand::bind(action, params).map_err(|r| changed(r.message))?;
    let cap = app.config.motion.max_speed;
    let steps =
        expand::expand(action, &bound, &app.config.robot, cap).map_err(|r| changed(r.message))?;
    let (start, state) = ready_to_move(app)?;
    let (seq, _) = sequence(app, steps, start);
    if seq.digest != status.digest {
        return Err(changed(format!(
            "the steps of {} were edited since it was interrupted (they no longer match)",
            action.name
        )));
    }
    // A variable written after its checkpoint but lost in the crash is written now, once.
    for done in &status.applied {
        if app.vars.get(&done.name) == done.before && done.before.as_ref() != Some(&done.after) {
            tracing::warn!(task_id = %rec.task_id, variable = %done.name, value = %done.after, "rewriting a variable lost in the interruption");
            app.vars
                .set_many([(done.name.clone(), done.after.clone())], true);
        }
    }
    let from = status.done.min(seq.steps.len());
    let prelude = seq.steps[..from].iter().rev().find_map(|s| match &s.kind {
        StepKind::Move { target, speed } => Some(Step {
            label: format!("returning to where step {} starts", from + 1),
            kind: StepKind::Move {
                target: target.clone(),
                speed: *speed,
            },
        }),
        _ => None,
    });
    let prelude = prelude.filter(|p| match &p.kind {
        StepKind::Move { target, .. } => {
            let tol = app.config.motion.goal_tolerance_rad;
            target
                .iter()
                .zip(state.positions.iter())
                .any(|(t, p)| (t - p).abs() > tol)
        }
        _ => false,
    });
    let mut rest: Vec<Step> = prelude.iter().cloned().collect();
    rest.extend(seq.steps[from..].iter().cloned());
    let (remaining, reach) = sequence(app, rest, start);
    let eta: f64 = remaining.weights.iter().sum();
    let label = seq
        .steps
        .get(from)
        .map(|s| s.label.clone())
        .unwrap_or_default();
    let total = seq.steps.len();
    let pending = Pending::Steps {
        from,
        prelude: prelude.clone(),
    };
    let gate = gate(
        app,
        action,
        "resume_task",
        reach,
        || {
            format!(
                "Resuming {} at step {} of {total} moves a joint up to {:.0} degrees. Confirm?",
                action.title,
                from + 1,
                reach.0.to_degrees()
            )
        },
        pending,
    );
    let gated = gate.is_some();
    let (rec, _) = app
        .registry
        .resume(
            &rec.task_id,
            Arc::new(seq),
            bound.render(&action.ack),
            bound.render(&action.done),
            gate,
        )
        .map_err(|e| match e {
            ResumeError::Busy(b) => busy(b),
            ResumeError::NotInterrupted(s) => Refusal::new(
                "not_interrupted",
                format!(
                    "Task {short} is {}; only an interrupted task can be resumed.",
                    s.as_str()
                ),
            ),
            ResumeError::Unknown => {
                Refusal::new("unknown_task", format!("There is no task {short}."))
            }
        })?;
    let text = if gated {
        expire_later(app, rec.task_id);
        rec.message.clone()
    } else {
        run(app, rec.task_id, from, prelude.clone());
        let back = if prelude.is_some() {
            "; first back to where it starts"
        } else {
            ""
        };
        format!(
            "Resuming task {short} at step {} of {total} ({label}){back}, {}.",
            from + 1,
            about(eta)
        )
    };
    Ok(ActionOutput {
        structured: json!({
            "task_id": rec.task_id, "action": rec.action, "state": rec.state,
            "eta_s": (eta * 100.0).round() / 100.0, "steps": total, "message": text,
            "from_step": from + 1,
        }),
        text,
        task_id: Some(rec.task_id.to_string()),
    })
}

/// The steps with their planned seconds, chained from `start`; and the largest joint
/// travel of one move and the highest speed, for the confirmation rule.
fn sequence(app: &App, steps: Vec<Step>, start: Joints) -> (Sequence, (f64, f64)) {
    let joints = &app.config.robot.joints;
    let mut at = start;
    let (mut reach, mut fastest) = (0.0f64, 0.0f64);
    let weights = steps
        .iter()
        .map(|s| match &s.kind {
            StepKind::Move { target, speed } => {
                let Some(target) = Joints::from_slice(target) else {
                    return 0.0;
                };
                for i in 0..target.len() {
                    reach = reach.max((target[i] - at[i]).abs());
                }
                fastest = fastest.max(*speed);
                let d = Plan::new(joints, at, target, *speed).duration();
                at = target;
                d
            }
            StepKind::Wait { seconds } => *seconds,
            StepKind::SetVariable { .. } => 0.0,
        })
        .collect();
    (Sequence::new(steps, weights), (reach, fastest))
}

/// The gate for `tool` moving `reach` (largest joint travel, highest speed), by the
/// config's rule for `tool`, else the action file's.
fn gate(
    app: &App,
    action: &CustomAction,
    tool: &str,
    reach: (f64, f64),
    question: impl FnOnce() -> String,
    start: Pending,
) -> Option<Gate> {
    let confirm = &app.config.confirm;
    let rule = confirm.rule(tool, action.confirm.unwrap_or_default());
    confirm.applies(rule, reach.0, reach.1).then(|| Gate {
        start,
        question: question(),
        deadline: std::time::Instant::now() + std::time::Duration::from_secs_f64(confirm.expire_s),
    })
}

/// A background action: its `set_variable` steps, written at once.
fn set_now(
    app: &App,
    action: &CustomAction,
    bound: &expand::Bound,
    steps: Vec<Step>,
) -> Result<ActionOutput, Refusal> {
    let mut written = Map::new();
    for s in steps {
        if let StepKind::SetVariable { name, op } = s.kind {
            let value = op.apply(app.vars.get(&name).as_ref());
            app.vars.set_many([(name.clone(), value.clone())], true);
            written.insert(name, serde_json::to_value(value).unwrap_or(Value::Null));
        }
    }
    let text = sentence(&bound.render(&action.done));
    Ok(ActionOutput {
        structured: json!({"message": text, "variables": written}),
        text,
        task_id: None,
    })
}

//! Custom actions: the cell's jobs, defined in an action file, each served as its own tool.
//!
//! `crate::config::action_file` reads and checks the file, `expand` turns a call into
//! concrete steps; this module starts and resumes such tasks through the motion gate,
//! whose runner executes them.

mod expand;

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

pub use crate::config::action_file::{
    load, parse, ActionsError, CustomAction, DefinitionError, Param, ParamKind, EXAMPLE_CELL,
};

use super::guards::{confirm_rule, may_move};
use super::params::{Args, WhenWord};
use super::tool::structured;
use super::{ActionOutput, ActionSpec, Caller, Effect, Refusal, Scope};
use crate::app::App;
use crate::tasks::words::{sentence, Question};
use crate::tasks::{
    task_number, MotionTask, Resume, Sequence, Step, StepKind, TaskRecord, TaskState, Work,
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
            if a.scope == Scope::Foreground {
                properties.insert("when".into(), when_schema());
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
                        "task_number": {"type": "integer", "minimum": 1},
                        "action": {"type": "string"},
                        "state": {"type": "string"},
                        "eta_s": {"type": "number"},
                        "steps": {"type": "integer"},
                        "message": {"type": "string"},
                        "place": {"type": ["integer", "null"]},
                        "starts_in_s": {"type": ["number", "null"]}
                    },
                    "required": ["task_id", "task_number", "action", "state", "eta_s", "steps", "message"]
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
                effect: match a.scope {
                    Scope::Foreground => Effect::Moves,
                    Scope::Background => Effect::Changes,
                },
                input: json!({
                    "type": "object", "properties": properties, "required": required,
                    "additionalProperties": false
                }),
                output,
            }
        })
        .collect()
}

/// The acknowledgement of `resume_task`.
#[derive(Serialize, JsonSchema)]
pub struct ResumeAck {
    /// The task.
    #[schemars(extend("format" = "uuid"))]
    task_id: String,
    /// Its number, to say and to ask for ("task 12").
    task_number: u64,
    /// Its action.
    action: String,
    /// `running`, or `awaiting_confirmation`.
    state: TaskState,
    /// Planned seconds of what remains.
    eta_s: f64,
    /// Its step count.
    steps: usize,
    /// The step it continues at (1-based).
    from_step: usize,
    /// What was said.
    message: String,
}

impl ResumeAck {
    /// The answer for `rec`, taken up with `steps` steps from `from_step` (1-based) and
    /// `eta_s` seconds to go.
    pub fn of(rec: &TaskRecord, eta_s: f64, steps: usize, from_step: usize) -> Self {
        Self {
            task_id: rec.task_id.to_string(),
            task_number: rec.task_number,
            action: rec.action.clone(),
            state: rec.state,
            eta_s: (eta_s * 100.0).round() / 100.0,
            steps,
            from_step,
            message: rec.message.clone(),
        }
    }
}

/// Runs the custom action `action` for `caller`.
pub fn call(
    app: &Arc<App>,
    caller: &Caller,
    action: &CustomAction,
    args: &Map<String, Value>,
) -> Result<ActionOutput, Refusal> {
    may_move(caller, &action.name)?;
    // `when` is the gate's, not the action's: the action file's parameters never see it.
    let mut args = args.clone();
    let when = match args.remove("when") {
        Some(w) if action.scope == Scope::Foreground => {
            let one = Map::from_iter([("when".to_owned(), w)]);
            WhenWord::read(&Args::new(&action.name, &one, &["when"])?)?
        }
        // A background action takes only its file's parameters: bind refuses this one.
        Some(w) => {
            args.insert("when".into(), w);
            None
        }
        None => None,
    };
    let bound = expand::bind(action, &args)?;
    let steps = expand::expand(action, &bound, &app.config.robot, &app.config.path_check())?;
    if action.scope == Scope::Background {
        return set_now(app, action, &bound, steps);
    }
    let task = MotionTask {
        action: action.name.clone(),
        params: Value::Object(bound.params().clone()),
        owner: caller.operator.clone(),
        doing: bound.render(&action.ack),
        done: bound.render(&action.done),
        work: Work::Steps(steps),
        confirm: confirm_rule(
            &app.config.confirm,
            &action.name,
            action.confirm.unwrap_or_default(),
        ),
        question: Question::Action {
            title: action.title.clone(),
        },
        when: WhenWord::gate(when),
    };
    let accepted = app.gate.start(task)?;
    let rec = accepted.record;
    let text = rec.message.clone();
    Ok(ActionOutput {
        structured: json!({
            "task_id": rec.task_id, "task_number": rec.task_number, "action": action.name, "state": rec.state,
            "eta_s": (accepted.eta_s * 100.0).round() / 100.0, "steps": accepted.steps,
            "message": text, "place": accepted.queued.map(|q| q.0),
            "starts_in_s": accepted.queued.map(|q| (q.1 * 100.0).round() / 100.0),
        }),
        text,
        task_id: Some(rec.task_id.to_string()),
    })
}

/// `resume_task`: takes up the caller's interrupted multi-step task `rec` at its first
/// unfinished step.
pub fn resume(app: &Arc<App>, rec: TaskRecord) -> Result<ActionOutput, Refusal> {
    let short = task_number(rec.task_number);
    if rec.state != TaskState::Interrupted {
        return Err(Refusal::new(
            "not_interrupted",
            crate::tasks::words::not_in_state(
                &short,
                &crate::tasks::words::state_words(rec.state),
                "only an interrupted task can be resumed",
            ),
        ));
    }
    let Some(status) = rec.steps.clone() else {
        return Err(Refusal::new(
            "not_resumable",
            format!(
                "Task {short} is a single motion, not an action with steps; start it again instead."
            ),
        ));
    };
    let changed = |why: String| {
        Refusal::new(
            "definition_changed",
            format!("Task {short} cannot be resumed: {why}. Start the action again."),
        )
    };
    let action = app
        .config
        .actions
        .iter()
        .find(|x| x.name == rec.action)
        .ok_or_else(|| {
            changed(format!(
                "the action {} is no longer defined",
                crate::tasks::words::spoken_name(&crate::audit::excerpt(&rec.action, 40))
            ))
        })?;
    let empty = Map::new();
    let params = rec.params.as_object().unwrap_or(&empty);
    let bound = expand::bind(action, params).map_err(|r| changed(r.message))?;
    let steps = expand::expand(action, &bound, &app.config.robot, &app.config.path_check())
        .map_err(|r| changed(r.message))?;
    app.gate.ready()?;
    if Sequence::new(steps.clone(), vec![]).digest != status.digest {
        return Err(changed(format!(
            "the steps of {} changed since",
            crate::tasks::words::spoken_name(&action.name)
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
    let task = Resume {
        steps,
        title: action.title.clone(),
        doing: bound.render(&action.ack),
        done: bound.render(&action.done),
        confirm: confirm_rule(
            &app.config.confirm,
            "resume_task",
            action.confirm.unwrap_or_default(),
        ),
    };
    let accepted = app.gate.resume(&rec.task_id, task)?;
    let (from_step, _) = accepted.resumed_at.unwrap_or((1, false));
    let rec = accepted.record;
    let ack = ResumeAck::of(&rec, accepted.eta_s, accepted.steps, from_step);
    Ok(ActionOutput {
        text: rec.message.clone(),
        task_id: Some(rec.task_id.to_string()),
        structured: structured(&ack),
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
            // Answered only once on disk; a step that cannot be written is taken back and
            // refused, naming what the earlier steps did write.
            app.vars
                .set_durably(
                    [(name.clone(), value.clone())],
                    std::time::Duration::from_secs(2),
                )
                .map_err(|e| {
                    let done = if written.is_empty() {
                        "No variable was changed".to_owned()
                    } else {
                        format!(
                            "{} written, {} not",
                            crate::tasks::words::count_variables(written.len()),
                            crate::tasks::words::spoken_name(&name)
                        )
                    };
                    Refusal::new(
                        "durability",
                        crate::tasks::words::cannot_record(&e.cause(), &done),
                    )
                })?;
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

/// The schema of a foreground action's `when` argument.
fn when_schema() -> Value {
    json!({
        "type": "string", "enum": ["now", "after"],
        "description": "now (default: refused while the arm is busy) or after (queued behind the running task)."
    })
}

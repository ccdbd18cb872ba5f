//! The confirmation tools, `confirm_task`, `reject_task` and the app-only `approve_task`,
//! and `resume_task`, which takes an interrupted custom action up again, or continues an
//! interrupted straight line along the same line.

use schemars::JsonSchema;
use serde::Serialize;

use crate::actions::custom;
use crate::actions::guards::{confirm_rule, find_own_task, may_move};
use crate::actions::params::{TaskIdArgs, ToolArgs};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Refusal};
use crate::config::{Approval, ConfirmRule};
use crate::tasks::{Channel, TaskRecord, TaskState};

/// A gate tool's answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct GateAnswer {
    /// The task.
    task_id: String,
    /// Its number, to say and to ask for ("task 12").
    task_number: u64,
    /// Its state now.
    state: TaskState,
}

/// `confirm_task`.
pub(super) const CONFIRM_TASK: ToolItem = ToolItem {
    name: "confirm_task",
    title: "Confirm a task",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |_| {
        "Confirm a motion that waits for confirmation (state awaiting_confirmation): the arm starts moving. \
         Only the task's owner may confirm."
            .into()
    },
    input: |_| schema::<TaskIdArgs>(),
    output: schema::<GateAnswer>,
    run: |app, caller, args| {
        may_move(caller, "confirm_task")?;
        let a = TaskIdArgs::parse("confirm_task", args)?;
        let rec = find_own_task(app, caller, &a.task_id)?;
        // The dashboard's Approve is a person at the page, whatever the rule.
        if caller.channel == Channel::Dashboard {
            let rec = app
                .gate
                .approve(&rec.task_id, &caller.operator, Channel::Dashboard)?;
            return Ok(confirmed(rec));
        }
        // A gate the requester can open is no human gate: under "human" only a person
        // approves (dashboard, elicitation, the app view); declining stays allowed.
        if app.config.confirm.approval == Approval::Human {
            return Err(Refusal::new(
                "human_approval_required",
                "A person must approve this move, on the dashboard or in your chat app.",
            ));
        }
        let rec = app.gate.confirm(&rec.task_id)?;
        Ok(confirmed(rec))
    },
};

/// The answer to a confirmation that started `rec`.
fn confirmed(rec: TaskRecord) -> ActionOutput {
    let text = crate::tasks::words::confirm_answer(rec.task_number, rec.steps.is_some());
    ActionOutput {
        text,
        task_id: Some(rec.task_id.to_string()),
        structured: structured(&GateAnswer {
            task_id: rec.task_id.to_string(),
            task_number: rec.task_number,
            state: rec.state,
        }),
    }
}

/// `approve_task`: the MCP App view's Approve button. The MCP layer marks it app-only
/// (`_meta.ui.visibility: ["app"]`), so hosts keep it from the model.
pub(super) const APPROVE_TASK: ToolItem = ToolItem {
    name: "approve_task",
    title: "Approve a task (app view)",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |_| {
        "The arm view's Approve button: a person approves a motion that waits for confirmation. \
         For the view inside the chat app only, never for the assistant."
            .into()
    },
    input: |_| schema::<TaskIdArgs>(),
    output: schema::<GateAnswer>,
    run: |app, caller, args| {
        may_move(caller, "approve_task")?;
        let a = TaskIdArgs::parse("approve_task", args)?;
        let rec = find_own_task(app, caller, &a.task_id)?;
        let rec = app
            .gate
            .approve(&rec.task_id, &caller.operator, Channel::App)?;
        Ok(confirmed(rec))
    },
};

/// `reject_task`.
pub(super) const REJECT_TASK: ToolItem = ToolItem {
    name: "reject_task",
    title: "Reject a task",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |_| {
        "Drop a motion that waits for confirmation; the arm does not move. Owner only.".into()
    },
    input: |_| schema::<TaskIdArgs>(),
    output: schema::<GateAnswer>,
    run: |app, caller, args| {
        may_move(caller, "reject_task")?;
        let a = TaskIdArgs::parse("reject_task", args)?;
        let rec = find_own_task(app, caller, &a.task_id)?;
        let rec = app.gate.reject(&rec.task_id)?;
        Ok(ActionOutput {
            text: crate::tasks::words::rejected(rec.task_number),
            task_id: Some(rec.task_id.to_string()),
            structured: structured(&GateAnswer {
                task_id: rec.task_id.to_string(),
                task_number: rec.task_number,
                state: rec.state,
            }),
        })
    },
};

/// `resume_task`.
pub(super) const RESUME_TASK: ToolItem = ToolItem {
    name: "resume_task",
    title: "Resume a task",
    scope: Scope::Background,
    effect: Effect::Moves,
    description: |_| {
        "Take up an interrupted custom action (state interrupted, after a restart or a fault) \
         where it stopped: the arm first returns to where the first unfinished step starts, \
         then the remaining steps run. Finished steps never run again. An interrupted \
         straight line (move_linear, move_relative) continues along the same line to its end, \
         only while the tool is still on it. Owner only."
            .into()
    },
    input: |_| schema::<TaskIdArgs>(),
    output: schema::<custom::ResumeAck>,
    run: |app, caller, args| {
        may_move(caller, "resume_task")?;
        let a = TaskIdArgs::parse("resume_task", args)?;
        let rec = find_own_task(app, caller, &a.task_id)?;
        if rec.line.is_some() && rec.state == TaskState::Interrupted {
            return resume_line(app, &rec);
        }
        custom::resume(app, rec)
    },
};

/// Continues the interrupted straight line `rec` along the same line.
fn resume_line(
    app: &std::sync::Arc<crate::app::App>,
    rec: &TaskRecord,
) -> Result<ActionOutput, Refusal> {
    let confirm = confirm_rule(&app.config.confirm, "resume_task", ConfirmRule::Never);
    let accepted = app.gate.resume_line(&rec.task_id, confirm)?;
    let rec = accepted.record;
    // A line is one step, continued.
    let ack = custom::ResumeAck::of(&rec, accepted.eta_s, 1, 1);
    Ok(ActionOutput {
        structured: structured(&ack),
        text: rec.message,
        task_id: Some(rec.task_id.to_string()),
    })
}

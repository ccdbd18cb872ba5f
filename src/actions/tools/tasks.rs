//! The task tools: `task_status`, `cancel_task`, `list_tasks`, and `stop`, which answers
//! any operator at any moment.

use schemars::JsonSchema;
use serde::Serialize;

use crate::actions::guards::find_own_task;
use crate::actions::params::{Args, NoArgs, TaskIdArgs, ToolArgs};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Refusal};
use crate::tasks::{words, Cancelled, TaskRecord, TaskState};

/// `task_status`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct StatusArgs {
    /// The task: its number (12 or "task 12") or its id (default: your latest task).
    #[schemars(with = "Option<crate::actions::params::TaskRef>")]
    task_id: Option<String>,
}

impl ToolArgs for StatusArgs {
    const NAMES: &'static [&'static str] = &["task_id"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            task_id: a.opt_task("task_id")?,
        })
    }
}

/// `list_tasks`' arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListArgs {
    /// How many tasks, newest first (1 to 100, default 10).
    #[schemars(range(min = 1, max = 100))]
    limit: Option<u32>,
}

impl ToolArgs for ListArgs {
    const NAMES: &'static [&'static str] = &["limit"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        let limit = a.number("limit")?.unwrap_or(10.0);
        if !(limit.fract() == 0.0 && (1.0..=100.0).contains(&limit)) {
            return Err(Refusal::new(
                "out_of_range",
                format!(
                    "Limit must be a whole number from 1 to 100, not {}.",
                    crate::tasks::words::rounded(limit)
                ),
            ));
        }
        Ok(Self {
            limit: Some(limit as u32),
        })
    }
}

/// `cancel_task`'s answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct CancelAnswer {
    /// The task.
    task_id: String,
    /// Its number, to say and to ask for ("task 12").
    task_number: u64,
    /// Whether the arm brakes for it (false: it was waiting and was dropped).
    stopping: bool,
    /// Its state now.
    state: TaskState,
}

/// `list_tasks`' answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct TaskList {
    /// Newest first.
    tasks: Vec<TaskRecord>,
}

/// `stop`'s answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct StopAnswer {
    /// Whether the arm brakes.
    stopping: bool,
    /// The task that held the arm: braking, or not yet moving and now never will.
    task_id: Option<String>,
    /// Its number.
    task_number: Option<u64>,
    /// A task that waited for confirmation and was dropped.
    dropped: Option<String>,
    /// Queued tasks that were dropped; none of them will start.
    queue_dropped: Vec<String>,
}

/// `task_status`.
pub(super) const TASK_STATUS: ToolItem = ToolItem {
    name: "task_status",
    title: "Task status",
    scope: Scope::Background,
    effect: Effect::Reads,
    description: |_| {
        "Status of a task (default: the latest): state, progress 0-100, a speakable message, ETA. \
         Answers at once, also while the arm moves."
            .into()
    },
    input: |_| schema::<StatusArgs>(),
    output: schema::<TaskRecord>,
    run: |app, caller, args| {
        let a = StatusArgs::parse("task_status", args)?;
        let rec = match a.task_id {
            Some(id) => find_own_task(app, caller, &id)?,
            None => app
                .registry
                .list_where(1, |t| t.owner == caller.operator)
                .pop()
                .ok_or_else(|| Refusal::new("no_tasks", "You have no tasks yet."))?,
        };
        Ok(ActionOutput {
            text: rec.message.clone(),
            task_id: Some(rec.task_id.to_string()),
            structured: structured(&rec),
        })
    },
};

/// `cancel_task`.
pub(super) const CANCEL_TASK: ToolItem = ToolItem {
    name: "cancel_task",
    title: "Cancel a task",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |_| {
        "Controlled stop of one task's motion. The arm decelerates and stands still. \
         A task waiting for confirmation is dropped."
            .into()
    },
    input: |_| schema::<TaskIdArgs>(),
    output: schema::<CancelAnswer>,
    run: |app, caller, args| {
        let a = TaskIdArgs::parse("cancel_task", args)?;
        let rec = find_own_task(app, caller, &a.task_id)?;
        let how = app.gate.cancel(&rec.task_id)?;
        let state = app
            .registry
            .get(&rec.task_id)
            .map_or(rec.state, |r| r.state);
        let text = words::cancelling(rec.task_number, how == Cancelled::Braking);
        let answer = CancelAnswer {
            task_id: rec.task_id.to_string(),
            task_number: rec.task_number,
            stopping: how == Cancelled::Braking,
            state,
        };
        Ok(ActionOutput {
            text,
            task_id: Some(rec.task_id.to_string()),
            structured: structured(&answer),
        })
    },
};

/// `list_tasks`.
pub(super) const LIST_TASKS: ToolItem = ToolItem {
    name: "list_tasks",
    title: "List tasks",
    scope: Scope::Background,
    effect: Effect::Reads,
    description: |_| "Recent tasks, newest first.".into(),
    input: |_| schema::<ListArgs>(),
    output: schema::<TaskList>,
    run: |app, caller, args| {
        let a = ListArgs::parse("list_tasks", args)?;
        let limit = a.limit.unwrap_or(10) as usize;
        let tasks = app
            .registry
            .list_where(limit, |t| t.owner == caller.operator);
        let text = words::task_list(
            tasks.len(),
            tasks
                .first()
                .map(|t| (t.task_number, t.action.as_str(), t.state)),
        );
        Ok(ActionOutput {
            text,
            task_id: None,
            structured: structured(&TaskList { tasks }),
        })
    },
};

/// `stop`.
pub(super) const STOP: ToolItem = ToolItem {
    name: "stop",
    title: "Stop",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |_| {
        "Controlled stop of whatever the arm is doing, whoever started it. A motion waiting \
         for confirmation is dropped, and no motion acknowledged before this answer starts after it."
            .into()
    },
    input: |_| schema::<NoArgs>(),
    output: schema::<StopAnswer>,
    run: |app, _caller, args| {
        NoArgs::parse("stop", args)?;
        let stopped = app.gate.stop()?;
        let number = |id: &uuid::Uuid| app.registry.get(id).map_or(0, |r| r.task_number);
        let text = words::stopping(
            stopped.braking.as_ref().map(number),
            stopped.dropped.as_ref().map(number),
            stopped.moving,
            stopped.queue_dropped.len(),
        );
        let answer = StopAnswer {
            stopping: stopped.braking.is_some() || stopped.moving,
            task_id: stopped.braking.or(stopped.dropped).map(|t| t.to_string()),
            task_number: stopped.braking.or(stopped.dropped).map(|t| number(&t)),
            dropped: stopped.dropped.map(|t| t.to_string()),
            queue_dropped: stopped
                .queue_dropped
                .iter()
                .map(|t| t.to_string())
                .collect(),
        };
        Ok(ActionOutput {
            text,
            task_id: answer.task_id.clone(),
            structured: structured(&answer),
        })
    },
};

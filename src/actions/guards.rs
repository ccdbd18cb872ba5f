//! The checks every tool shares: who may move, whose task it is, which task an id names,
//! and how the gate's refusals reach the caller.

use uuid::Uuid;

use super::{Caller, Refusal};
use crate::app::App;
use crate::config::{Confirm as ConfirmSection, ConfirmRule};
use crate::operators::Role;
use crate::tasks::{short_id, Confirm, GateError, NotReady, TaskRecord};

impl From<GateError> for Refusal {
    fn from(e: GateError) -> Self {
        Refusal::new(e.code(), e.to_string())
    }
}

impl From<NotReady> for Refusal {
    fn from(e: NotReady) -> Self {
        Refusal::new(e.code(), e.to_string())
    }
}

/// Refuses an observer a tool that changes the cell.
pub(super) fn may_move(caller: &Caller, tool: &str) -> Result<(), Refusal> {
    if caller.role == Role::Observer {
        return Err(Refusal::new(
            "forbidden",
            format!(
                "{} is an observer: it may read status and stop, not call {tool}.",
                caller.operator
            ),
        ));
    }
    Ok(())
}

/// A task's status and cancel belong to its owner; `stop` is the only tool that acts on
/// anyone's motion.
pub(super) fn own_task(caller: &Caller, rec: TaskRecord) -> Result<TaskRecord, Refusal> {
    if rec.owner != caller.operator {
        return Err(Refusal::new(
            "not_your_task",
            format!(
                "Task {} is not your task (it belongs to another operator). Use stop to halt any motion.",
                short_id(&rec.task_id)
            ),
        ));
    }
    Ok(rec)
}

/// The caller's task named by `id` (a UUID, or its first 4 or more hex digits).
pub(super) fn find_own_task(app: &App, caller: &Caller, id: &str) -> Result<TaskRecord, Refusal> {
    own_task(caller, find_task(app, id)?)
}

/// The task named by `id` (a UUID, or its first 4 or more hex digits).
pub(super) fn find_task(app: &App, id: &str) -> Result<TaskRecord, Refusal> {
    let id = id.trim();
    if let Ok(uuid) = Uuid::parse_str(id) {
        return app
            .registry
            .get(&uuid)
            .ok_or_else(|| Refusal::new("unknown_task", format!("There is no task {id}.")));
    }
    let prefix = id.to_ascii_lowercase();
    if prefix.len() < 4 || prefix.len() > 32 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Refusal::new(
            "invalid_task_id",
            format!("\"{id}\" is not a task id: give the UUID or its first 4 or more characters."),
        ));
    }
    let mut matches = app
        .registry
        .list_where(2, |t| t.task_id.simple().to_string().starts_with(&prefix));
    match (matches.pop(), matches.is_empty()) {
        (None, _) => Err(Refusal::new(
            "unknown_task",
            format!("There is no task {id}."),
        )),
        (Some(rec), true) => Ok(rec),
        (Some(_), false) => Err(Refusal::new(
            "ambiguous_task_id",
            format!("Several tasks start with {id}; give more characters."),
        )),
    }
}

/// The confirmation rule for `tool` under `[confirm]`, else `fallback`.
pub(super) fn confirm_rule(confirm: &ConfirmSection, tool: &str, fallback: ConfirmRule) -> Confirm {
    match confirm.rule(tool, fallback) {
        ConfirmRule::Never => Confirm::Never,
        ConfirmRule::Always => Confirm::Always,
        ConfirmRule::Beyond => Confirm::Beyond {
            rad: confirm.beyond_rad,
            speed: confirm.beyond_speed,
        },
    }
}

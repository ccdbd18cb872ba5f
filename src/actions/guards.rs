//! The checks every tool shares: who may move, whose task it is, which task an id names,
//! and how the gate's refusals reach the caller.

use uuid::Uuid;

use super::{Caller, Refusal};
use crate::app::App;
use crate::config::{Confirm as ConfirmSection, ConfirmRule};
use crate::operators::Role;
use crate::robot::names;
use crate::tasks::{Confirm, GateError, NotReady, TaskRecord};

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

/// A value that breaks one of the robot's limits, said with the joints' labels.
pub(super) fn out_of_range(
    robot: &crate::robot::RobotDefinition,
) -> impl Fn(crate::robot::LimitError) -> Refusal + '_ {
    |e| {
        Refusal::new(
            "out_of_range",
            crate::tasks::words::limit(&e, &robot.joints),
        )
    }
}

/// Refuses an observer a tool that changes the cell.
pub(super) fn may_move(caller: &Caller, tool: &str) -> Result<(), Refusal> {
    if caller.role == Role::Observer {
        return Err(Refusal::new(
            "forbidden",
            crate::tasks::words::observer(&caller.operator, tool),
        ));
    }
    Ok(())
}

/// The number in a task as people say it: "12", "task 12", "Task #12", "task twelve".
fn spoken_number(id: &str) -> Option<u64> {
    let lower = id.trim().to_lowercase();
    let rest = lower.strip_prefix("task").unwrap_or(&lower).trim_start();
    let rest = rest.strip_prefix("number").unwrap_or(rest).trim_start();
    let rest = rest.strip_prefix('#').unwrap_or(rest).trim();
    let rest = rest.strip_suffix('.').unwrap_or(rest);
    names::number_said(rest)
}

/// The caller's task named by `id`: its number ("12", "task 12"), its UUID, or the UUID's
/// first 4 or more hex digits. Digits only are a number first; four to twelve that number
/// no task of the caller's are tried as the start of a UUID.
///
/// Only the caller's own tasks are searched: another operator's task answers exactly like
/// an id that names no task, so an answer never tells one operator which ids another holds.
/// `stop` is the only tool that acts on anyone's motion.
pub(super) fn find_own_task(app: &App, caller: &Caller, id: &str) -> Result<TaskRecord, Refusal> {
    let id = id.trim();
    let unknown = || Refusal::new("unknown_task", crate::tasks::words::unknown_task(id));
    let mine = |t: &TaskRecord| t.owner == caller.operator;
    if let Ok(uuid) = Uuid::parse_str(id) {
        return app.registry.get(&uuid).filter(mine).ok_or_else(unknown);
    }
    if let Some(n) = spoken_number(id) {
        let found = app.registry.by_number(n).filter(mine);
        // Four to twelve digits may also be the start of an id; longer is no id a person says.
        let maybe_id = (4..=12).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
        match found {
            Some(rec) => return Ok(rec),
            None if !maybe_id => {
                return Err(Refusal::new(
                    "unknown_task",
                    crate::tasks::words::unknown_task(&crate::tasks::words::task_number(n)),
                ))
            }
            None => {}
        }
    }
    let prefix = id.to_ascii_lowercase();
    if prefix.len() < 4 || prefix.len() > 32 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Refusal::new(
            "invalid_task_id",
            crate::tasks::words::not_a_task(id),
        ));
    }
    let mut matches = app.registry.list_where(2, |t| {
        mine(t) && t.task_id.simple().to_string().starts_with(&prefix)
    });
    match (matches.pop(), matches.is_empty()) {
        (None, _) => Err(unknown()),
        (Some(rec), true) => Ok(rec),
        (Some(_), false) => Err(Refusal::new(
            "ambiguous_task_id",
            crate::tasks::words::ambiguous_task(),
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

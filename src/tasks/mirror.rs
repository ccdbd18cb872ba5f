//! The mirror of the running task into installation variables (`task_*`), as a robot
//! program or a pendant would read them.

use super::TaskRecord;
use crate::vars::{VarStore, VarValue};

/// Mirrors `rec` into the `task_*` variables; `urgent` writes them at once.
pub(super) fn mirror(vars: &VarStore, rec: &TaskRecord, urgent: bool) {
    vars.set_many(
        [
            ("task_id", VarValue::String(rec.task_id.to_string())),
            ("task_action", VarValue::String(rec.action.clone())),
            ("task_state", VarValue::String(rec.state.as_str().into())),
            ("task_progress", VarValue::Number(rec.progress)),
            ("task_message", VarValue::String(rec.message.clone())),
            ("task_updated_at", VarValue::String(rec.updated_at.clone())),
        ],
        urgent,
    );
}

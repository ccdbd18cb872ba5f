//! Who approved a held task, and through which channel: recorded on the task (journaled)
//! and in the audit log's entry for its end.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::motion::{GateError, MotionGate};
use super::TaskRecord;

/// Where an approval came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The requesting session's own `confirm_task` (only under `approval = "session"`).
    Session,
    /// The dashboard's Approve button, by an operator allowed to approve.
    Dashboard,
    /// The chat app's question to its user (MCP elicitation).
    Elicitation,
    /// The MCP App view inside the chat (the app-only `approve_task` tool).
    App,
}

impl Channel {
    /// The name used on the wire and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Dashboard => "dashboard",
            Self::Elicitation => "elicitation",
            Self::App => "app",
        }
    }
}

/// Who approved a task and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Approval {
    /// The person (operator name) who approved.
    pub by: String,
    /// The channel the approval came through.
    pub channel: Channel,
}

impl MotionGate {
    /// Approves the held task `task_id` for `approver` through `channel`: it starts, in the
    /// same critical section as every drop of it, and its record names who approved. The
    /// caller has checked that `approver` may approve (the gate does not know roles).
    pub fn approve(
        self: &Arc<Self>,
        task_id: &Uuid,
        approver: &str,
        channel: Channel,
    ) -> Result<TaskRecord, GateError> {
        self.confirm_as(
            task_id,
            Approval {
                by: approver.to_owned(),
                channel,
            },
        )
    }
}

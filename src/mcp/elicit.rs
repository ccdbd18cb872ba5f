//! The question to a person (MCP elicitation): under `[confirm] approval = "human"`, a held
//! motion is put to the requesting client's user through the host's own UI, when that
//! client declared the capability. Accept starts it; decline or cancel drops it (`rejected`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{ElicitRequestParams, ElicitationAction, ElicitationSchema};
use rmcp::service::ElicitationMode;
use rmcp::{Peer, RoleServer};
use serde_json::json;
use uuid::Uuid;

use crate::actions::Caller;
use crate::app::App;
use crate::audit::AuditEntry;
use crate::config::Approval;
use crate::tasks::{Channel, TaskState};

/// Whether a motion's answer calls for the question: a held task, a human gate, and a
/// client that can ask its user.
pub(super) fn wanted(app: &App, peer: &Peer<RoleServer>, state: Option<&str>) -> bool {
    app.config.confirm.approval == Approval::Human
        && state == Some(TaskState::AwaitingConfirmation.as_str())
        && peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
}

/// Puts the held task `task_id` to the user of `peer`, on its own tokio task (the tool has
/// answered already); `question` is the task's spoken question.
pub(super) fn ask(
    app: Arc<App>,
    peer: Peer<RoleServer>,
    caller: Caller,
    task_id: Uuid,
    question: String,
) {
    // The question lasts as long as the hold; the gate's expiry drops the task anyway.
    let wait = Duration::from_secs_f64(app.config.confirm.expire_s);
    tokio::spawn(async move {
        let params = ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: format!("{question} Accept to start the move, or decline to drop it."),
            requested_schema: ElicitationSchema::builder().build_unchecked(),
        };
        let began = Instant::now();
        let answer = match peer
            .create_elicitation_with_timeout(params, Some(wait))
            .await
        {
            Ok(r) => r.action,
            Err(e) => {
                // No answer: the task stays held until another channel decides or it expires.
                tracing::info!(%task_id, error = %e, "the question to the user got no answer");
                return;
            }
        };
        let (word, outcome) = match answer {
            ElicitationAction::Accept => (
                "accept",
                app.gate
                    .approve(&task_id, &caller.operator, Channel::Elicitation)
                    .err(),
            ),
            // Decline, cancel, or anything newer: declining is always safe.
            other => {
                let word = if other == ElicitationAction::Decline {
                    "decline"
                } else {
                    "cancel"
                };
                (word, app.gate.reject(&task_id).err())
            }
        };
        let code = outcome.as_ref().map(|e| e.code());
        tracing::info!(%task_id, answer = word, operator = %caller.operator, refused = ?code, "the user answered");
        app.audit.record(AuditEntry::now(
            &caller.operator,
            "elicitation",
            json!({"task_id": task_id.to_string(), "answer": word, "channel": Channel::Elicitation}),
            code,
            Some(task_id.to_string()),
            began.elapsed(),
        ));
    });
}

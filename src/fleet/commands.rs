//! Commands over MQTT. NCMD `Node Control/Rebirth` is honoured. DCMD `Device Control/Stop`
//! stops the arm through the `stop` tool, only with `accept_stop = true`, audited under the
//! MQTT link's name. Nothing else is taken: the arm is never moved over MQTT. Every refusal
//! is audited and shown in the `Commands/Last Refused` metric.

use std::time::Instant;

use serde_json::json;

use super::metrics::now_ms;
use super::node::Node;
use super::payload::{self, PbMetric, PbValue};
use crate::audit::AuditEntry;

/// The one node command taken.
pub(crate) const REBIRTH: &str = "Node Control/Rebirth";
/// The one device command taken, with `accept_stop = true`.
pub(crate) const STOP: &str = "Device Control/Stop";

/// What the publisher does next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Publish NBIRTH and DBIRTH again.
    Rebirth,
    /// Nothing more.
    Done,
}

/// Handles one message on the NCMD or DCMD topic.
pub(crate) async fn handle(node: &Node, topic: &str, bytes: &[u8]) -> Reply {
    let started = Instant::now();
    let node_cmd = topic == node.topics.ncmd;
    if !node_cmd && topic != node.topics.dcmd {
        return Reply::Done;
    }
    let metrics = match payload::commands(bytes) {
        Ok(m) => m,
        Err(e) => {
            let why = format!("A command on {topic} is not a Sparkplug B payload ({e}).");
            refuse(node, topic, "-", json!(null), "bad_payload", why, started);
            return Reply::Done;
        }
    };
    let mut reply = Reply::Done;
    for m in &metrics {
        let name = m.name.as_deref().unwrap_or("");
        let yes = matches!(m.value, Some(PbValue::BooleanValue(true)));
        match (node_cmd, name) {
            (true, REBIRTH) if yes => {
                tracing::info!(topic, "rebirth requested over MQTT");
                reply = Reply::Rebirth;
            }
            (false, STOP) if yes => stop(node, topic, m, started).await,
            // A false control is the idle value a host writes back: nothing to do.
            (true, REBIRTH) | (false, STOP) => {}
            _ => {
                let why = format!(
                    "{name} over MQTT is refused: only {STOP} is taken (with accept_stop = true) \
                     and {REBIRTH}; the arm is never moved over MQTT."
                );
                refuse(
                    node,
                    topic,
                    name,
                    payload::shown(m),
                    "not_over_mqtt",
                    why,
                    started,
                );
            }
        }
    }
    reply
}

async fn stop(node: &Node, topic: &str, m: &PbMetric, started: Instant) {
    if !node.cfg.accept_stop {
        let why = format!(
            "{STOP} over MQTT is refused: this plugin has accept_stop = false in [sparkplug]."
        );
        refuse(
            node,
            topic,
            STOP,
            payload::shown(m),
            "stop_not_accepted",
            why,
            started,
        );
        return;
    }
    // The same call as an assistant's `stop`, audited by `actions::call` under the link.
    match crate::actions::call(&node.app, &node.caller, "stop", None).await {
        Ok(out) => {
            tracing::warn!(operator = %node.caller.operator, answer = %out.text, "stop over MQTT")
        }
        Err(r) => {
            tracing::warn!(operator = %node.caller.operator, refusal = %r.message, "stop over MQTT refused");
            set_last_refused(node, r.message);
        }
    }
}

fn refuse(
    node: &Node,
    topic: &str,
    what: &str,
    value: serde_json::Value,
    code: &str,
    why: String,
    started: Instant,
) {
    tracing::warn!(topic, metric = what, code, "{why}");
    let params = json!({ "topic": topic, "value": value });
    node.app.audit.record(AuditEntry::now(
        &node.caller.operator,
        what,
        params,
        Some(code),
        None,
        started.elapsed(),
    ));
    set_last_refused(node, why);
}

fn set_last_refused(node: &Node, why: String) {
    node.extra.send_modify(|e| e.last_refused = (why, now_ms()));
}

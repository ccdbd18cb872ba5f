//! Connected MCP sessions by operator, so that a task's end can be told to its owner.
//!
//! The message goes out as an MCP log notification: rmcp marks logging deprecated
//! (SEP-2577), but it is what current clients show, so this module allows it.
#![allow(deprecated)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::{Peer, RoleServer};
use uuid::Uuid;

use crate::tasks::Registry;

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// A new session number.
pub fn next_session() -> u64 {
    NEXT_SESSION.fetch_add(1, Ordering::Relaxed)
}

/// The sessions that have called a tool, with their operator.
#[derive(Default)]
pub struct Sessions {
    list: Mutex<Vec<(u64, String, Peer<RoleServer>)>>,
}

impl Sessions {
    /// Remembers session `id` of `operator`.
    pub fn register(&self, id: u64, operator: &str, peer: &Peer<RoleServer>) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        if !list.iter().any(|(i, _, _)| *i == id) {
            list.push((id, operator.to_owned(), peer.clone()));
        }
    }

    /// Sends `message` as an MCP log notification to every session of `owner`; forgets the
    /// sessions that are gone.
    pub async fn tell(&self, owner: &str, message: &str, failed: bool) {
        let peers: Vec<(u64, Peer<RoleServer>)> = {
            let list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            list.iter()
                .filter(|(_, o, _)| o == owner)
                .map(|(i, _, p)| (*i, p.clone()))
                .collect()
        };
        let level = if failed {
            LoggingLevel::Warning
        } else {
            LoggingLevel::Info
        };
        for (id, peer) in peers {
            let note =
                LoggingMessageNotificationParam::new(level, message.into()).with_logger("armature");
            if peer.notify_logging_message(note).await.is_err() {
                self.list
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|(i, _, _)| *i != id);
            }
        }
    }

    /// Watches task `id` and tells its owner's sessions how it ended.
    pub fn tell_when_done(self: &Arc<Self>, registry: Arc<Registry>, id: Uuid) {
        let sessions = self.clone();
        tokio::spawn(async move {
            // A motion ends within its timeout; a gated one within its expiry. Give up after a day.
            for _ in 0..(24 * 3600 * 5) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                match registry.get(&id) {
                    Some(rec) if rec.state.is_terminal() => {
                        let failed = rec.state != crate::tasks::TaskState::Succeeded;
                        sessions.tell(&rec.owner, &rec.message, failed).await;
                        return;
                    }
                    Some(_) => {}
                    None => return,
                }
            }
        });
    }
}

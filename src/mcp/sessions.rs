//! Connected MCP sessions by operator, so that a task's end can be told to its owner.
//!
//! The message goes out as an MCP log notification: rmcp marks logging deprecated
//! (SEP-2577), but it is what current clients show, so this module allows it.
#![allow(deprecated)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::{Peer, RoleServer};
use tokio::sync::broadcast::error::RecvError;

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

    /// Tells each task's owner's sessions how it ended, for as long as the registry lives.
    pub fn follow(self: &Arc<Self>, registry: &Registry) {
        let sessions = self.clone();
        let mut ended = registry.subscribe_ended();
        tokio::spawn(async move {
            loop {
                match ended.recv().await {
                    Ok(rec) => {
                        let failed = rec.state != crate::tasks::TaskState::Succeeded;
                        sessions.tell(&rec.owner, &rec.message, failed).await;
                    }
                    Err(RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "task-end notifications fell behind")
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        });
    }
}

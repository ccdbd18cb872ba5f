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
pub(super) fn next_session() -> u64 {
    NEXT_SESSION.fetch_add(1, Ordering::Relaxed)
}

/// How severe a level is, least first, as the spec orders them (`LoggingLevel` has no order).
fn rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// One connected session.
struct Session {
    id: u64,
    operator: String,
    peer: Peer<RoleServer>,
    /// The least severe level it wants (`logging/setLevel`); every level until it asks.
    level: Option<LoggingLevel>,
}

/// The sessions that have called a tool or set a log level, with their operator.
#[derive(Default)]
pub struct Sessions {
    list: Mutex<Vec<Session>>,
}

impl Sessions {
    /// Remembers session `id` of `operator`.
    pub fn register(&self, id: u64, operator: &str, peer: &Peer<RoleServer>) {
        self.entry(id, operator, peer, |_| {});
    }

    /// Session `id` of `operator` receives log notifications of `level` and above only.
    pub fn set_level(&self, id: u64, operator: &str, peer: &Peer<RoleServer>, level: LoggingLevel) {
        self.entry(id, operator, peer, |s| s.level = Some(level));
    }

    fn entry(
        &self,
        id: u64,
        operator: &str,
        peer: &Peer<RoleServer>,
        f: impl FnOnce(&mut Session),
    ) {
        let mut list = self.list.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = list.iter_mut().find(|s| s.id == id) {
            return f(s);
        }
        let mut s = Session {
            id,
            operator: operator.to_owned(),
            peer: peer.clone(),
            level: None,
        };
        f(&mut s);
        list.push(s);
    }

    /// Sends `message` as an MCP log notification to every session of `owner` that wants its
    /// level; forgets the sessions that are gone.
    pub async fn tell(&self, owner: &str, message: &str, failed: bool) {
        let level = if failed {
            LoggingLevel::Warning
        } else {
            LoggingLevel::Info
        };
        let peers: Vec<(u64, Peer<RoleServer>)> = {
            let list = self.list.lock().unwrap_or_else(|p| p.into_inner());
            list.iter()
                .filter(|s| s.operator == owner)
                .filter(|s| s.level.is_none_or(|l| rank(level) >= rank(l)))
                .map(|s| (s.id, s.peer.clone()))
                .collect()
        };
        for (id, peer) in peers {
            let note =
                LoggingMessageNotificationParam::new(level, message.into()).with_logger("armature");
            if peer.notify_logging_message(note).await.is_err() {
                self.list
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|s| s.id != id);
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

//! Connected MCP sessions by operator, so that a task's end can be told to its owner.
//!
//! The message goes out as an MCP log notification: rmcp marks logging deprecated
//! (SEP-2577), but it is what current clients show, so this module allows it.
#![allow(deprecated)]

use std::collections::VecDeque;
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

/// Notices kept for one session while earlier ones are being sent: a slow or absent reader
/// loses the oldest, never memory.
const OUTBOX_NOTICES: usize = 32;

/// One notice to send.
struct Notice {
    level: LoggingLevel,
    text: String,
}

/// A session's notices waiting to be sent, and whether a sender is at work on them.
#[derive(Default)]
struct Outbox {
    queue: VecDeque<Notice>,
    sending: bool,
    /// Notices dropped unsent because the queue was full.
    dropped: u64,
}

impl Outbox {
    /// Queues `notice`, dropping the oldest when full; true when no sender is at work, so the
    /// caller must start one.
    fn push(&mut self, notice: Notice, session: u64) -> bool {
        if self.queue.len() >= OUTBOX_NOTICES {
            self.queue.pop_front();
            self.dropped += 1;
            tracing::debug!(
                session,
                dropped = self.dropped,
                "a session reads no notices; the oldest was dropped"
            );
        }
        self.queue.push_back(notice);
        !std::mem::replace(&mut self.sending, true)
    }
}

/// One connected session.
struct Session {
    id: u64,
    operator: String,
    peer: Peer<RoleServer>,
    /// The least severe level it wants (`logging/setLevel`); every level until it asks.
    level: Option<LoggingLevel>,
    outbox: Arc<Mutex<Outbox>>,
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

    fn list(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry(
        &self,
        id: u64,
        operator: &str,
        peer: &Peer<RoleServer>,
        f: impl FnOnce(&mut Session),
    ) {
        let mut list = self.list();
        if let Some(s) = list.iter_mut().find(|s| s.id == id) {
            return f(s);
        }
        let mut s = Session {
            id,
            operator: operator.to_owned(),
            peer: peer.clone(),
            level: None,
            outbox: Default::default(),
        };
        f(&mut s);
        list.push(s);
    }

    /// Forgets the sessions whose transport has closed (ended, deleted or reaped).
    pub fn prune(&self) {
        self.list().retain(|s| !s.peer.is_transport_closed());
    }

    /// Queues `message` as an MCP log notification for every session of `owner` that wants
    /// its level, and returns at once: each session's notices are sent in order by a task of
    /// its own, so one slow reader holds up nobody else.
    pub fn tell(&self, owner: &str, message: &str, failed: bool) {
        let level = if failed {
            LoggingLevel::Warning
        } else {
            LoggingLevel::Info
        };
        self.prune();
        let list = self.list();
        for s in list.iter().filter(|s| s.operator == owner) {
            if s.level.is_some_and(|l| rank(level) < rank(l)) {
                continue;
            }
            let notice = Notice {
                level,
                text: message.to_owned(),
            };
            let start = s
                .outbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(notice, s.id);
            if start {
                tokio::spawn(send_all(s.peer.clone(), s.outbox.clone()));
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
                        sessions.tell(&rec.owner, &rec.message, failed);
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

/// Sends a session's queued notices in order until none is left; stops, dropping the rest,
/// once the session is gone.
async fn send_all(peer: Peer<RoleServer>, outbox: Arc<Mutex<Outbox>>) {
    loop {
        let next = {
            let mut out = outbox.lock().unwrap_or_else(|p| p.into_inner());
            match out.queue.pop_front() {
                Some(n) => n,
                None => {
                    out.sending = false;
                    return;
                }
            }
        };
        let note = LoggingMessageNotificationParam::new(next.level, next.text.into())
            .with_logger("armature");
        if peer.notify_logging_message(note).await.is_err() {
            // `sending` stays set: nothing more is sent to a closed session, and prune forgets it.
            outbox
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .queue
                .clear();
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unread_outbox_keeps_the_newest_notices_only() {
        let mut out = Outbox::default();
        let starts: Vec<bool> = (0..100)
            .map(|i| {
                let text = format!("Task {i} succeeded.");
                let notice = Notice {
                    level: LoggingLevel::Info,
                    text,
                };
                out.push(notice, 1)
            })
            .collect();
        // One sender is started, for the first notice; it is still at work on the rest.
        assert_eq!(starts.iter().filter(|s| **s).count(), 1);
        assert!(starts[0]);
        assert_eq!(out.queue.len(), OUTBOX_NOTICES);
        assert_eq!(out.dropped, 100 - OUTBOX_NOTICES as u64);
        assert_eq!(out.queue[0].text, "Task 68 succeeded.");
        assert_eq!(out.queue[OUTBOX_NOTICES - 1].text, "Task 99 succeeded.");
    }
}

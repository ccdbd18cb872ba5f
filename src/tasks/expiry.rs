//! A held task's confirmation deadline: dropped when its time is up, if nobody answered.

use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use super::motion::MotionGate;
use super::words::why;

impl MotionGate {
    /// Drops `task_id` when its confirmation time is up, if it is still held by then.
    pub(super) fn expire_later(self: &Arc<Self>, task_id: Uuid) {
        let gate = self.clone();
        let after = self.settings.expire;
        let expire = move || {
            let due = gate
                .registry
                .desk()
                .lease
                .holding(&task_id)
                .and_then(|l| l.hold.as_ref())
                .is_some_and(|h| Instant::now() >= h.deadline);
            if due
                && gate
                    .drop_held(&task_id, "confirmation_expired", why::EXPIRED)
                    .is_some()
            {
                tracing::info!(%task_id, "unconfirmed task expired");
            }
        };
        match self.runtime() {
            Some(rt) => {
                rt.spawn(async move {
                    tokio::time::sleep(after).await;
                    expire();
                });
            }
            None => {
                // Outside a runtime (tools, tests): a plain timer thread does the same.
                let spawned = std::thread::Builder::new()
                    .name("armature-expiry".into())
                    .spawn(move || {
                        std::thread::sleep(after);
                        expire();
                    });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start the confirmation timer; confirm checks the deadline");
                }
            }
        }
    }
}

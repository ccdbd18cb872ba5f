//! Durability as a precondition: whether the state directory takes writes, as
//! `robot_state` reports it and as the gate checks it before any motion.

use super::motion::MotionGate;
use super::registry::Registry;
use super::requests::GateError;
use crate::durable::{self, HealthStatus};

/// The least free space a motion may start with: its progress variables are rewritten
/// whole (a few KiB, twice over with the temporary copy), and the audit log grows.
const MIN_FREE_BYTES: u64 = 64 * 1024;

/// Whether the task journal and the installation variables can be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Durability {
    /// Both take writes.
    pub ok: bool,
    /// Since when writes fail (RFC 3339), while they do.
    pub failing_since: Option<String>,
    /// What fails and why, while it does: "installation variables: No space left on device".
    pub cause: Option<String>,
    /// When writes last succeeded again after failing (RFC 3339).
    pub recovered_at: Option<String>,
    /// Failed writes since start.
    pub failures: u64,
}

impl Registry {
    /// Whether the state directory takes writes now, or since when and why it does not.
    /// A failing journal is tried again first (never under the desk lock's holder).
    pub fn durability(&self) -> Durability {
        self.retry_journal();
        let (journal, vars) = self.health();
        let parts = [
            ("task journal", &journal),
            ("installation variables", &vars),
        ];
        let failing: Vec<_> = parts
            .iter()
            .filter_map(|(what, h)| h.failing.as_ref().map(|f| (*what, f)))
            .collect();
        let since = failing.iter().map(|(_, f)| f.since.clone()).min();
        let cause = (!failing.is_empty()).then(|| {
            failing
                .iter()
                .map(|(what, f)| format!("{what}: {}", f.cause))
                .collect::<Vec<_>>()
                .join("; ")
        });
        Durability {
            ok: failing.is_empty(),
            failing_since: since,
            cause,
            recovered_at: latest(&journal, &vars),
            failures: journal.failures + vars.failures,
        }
    }
}

fn latest(a: &HealthStatus, b: &HealthStatus) -> Option<String> {
    // RFC 3339 UTC stamps of one format order as text.
    a.recovered_at.clone().max(b.recovered_at.clone())
}

impl MotionGate {
    /// Refuses a motion while the variables cannot be written, or while the state
    /// directory has no room for what a motion writes. The journal's own append is tested
    /// by the task's record, but it goes into an allocated segment, so it can succeed on a
    /// full disk where the progress variables, written whole each time, would not.
    pub(super) fn durable(&self) -> Result<(), GateError> {
        if let Some(f) = self.registry.health().1.failing {
            return Err(GateError::Durability(f.cause));
        }
        match durable::free_bytes(self.registry.state_dir()) {
            Ok(free) if free < MIN_FREE_BYTES => {
                let full = std::io::Error::from_raw_os_error(libc::ENOSPC);
                Err(GateError::Durability(durable::cause(&full)))
            }
            // A filesystem that cannot say leaves the writes themselves to tell.
            _ => Ok(()),
        }
    }
}

//! Durability as a precondition: whether the state directory takes writes, as
//! `robot_state` reports it and as the gate checks it before any motion.

use super::motion::MotionGate;
use super::registry::Registry;
use super::requests::GateError;
use crate::durable::HealthStatus;

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
    /// Refuses a motion while the variables cannot be written. The journal needs no such
    /// check: the task's own append is the test, and refuses it if it fails.
    pub(super) fn durable(&self) -> Result<(), GateError> {
        match self.registry.health().1.failing {
            Some(f) => Err(GateError::Durability(f.cause)),
            None => Ok(()),
        }
    }
}

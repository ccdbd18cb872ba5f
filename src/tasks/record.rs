//! The task status record and its state machine.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A task's state (docs/design.md, "Task states").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Waiting for an operator's confirmation.
    AwaitingConfirmation,
    /// Accepted, waiting for the arm.
    Queued,
    /// The arm is moving for it.
    Running,
    /// Done as asked.
    Succeeded,
    /// Ended by an error.
    Failed,
    /// Stopped on request.
    Cancelled,
    /// The plugin stopped while it ran (or a fault stopped a custom action's step); never
    /// resumed by itself. Only `resume_task` takes a custom action up again: the one way out
    /// of a terminal state (`Registry::resume`).
    Interrupted,
}

impl TaskState {
    /// Whether the task has ended.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::Interrupted
        )
    }

    /// Whether the state machine allows going from `self` to `next`.
    pub fn can_become(self, next: TaskState) -> bool {
        use TaskState::*;
        match self {
            AwaitingConfirmation => matches!(next, Queued | Running | Cancelled | Failed),
            Queued => matches!(next, Running | Cancelled | Failed | Interrupted),
            Running => matches!(next, Succeeded | Failed | Cancelled | Interrupted),
            Succeeded | Failed | Cancelled | Interrupted => false,
        }
    }

    /// The name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }
}

/// A task's error: a stable code and a speakable message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskError {
    /// Machine-readable, e.g. `stale_state`.
    pub code: String,
    /// For a person.
    pub message: String,
}

/// The status record of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskRecord {
    /// Its id.
    pub task_id: Uuid,
    /// Its number, to say ("task 12"): given in order, unique across restarts. Records
    /// journaled before numbers existed read as 0 and are numbered on load.
    #[serde(default)]
    pub task_number: u64,
    /// The action (tool) that created it.
    pub action: String,
    /// The parameters it was called with.
    pub params: serde_json::Value,
    /// Where it is in its life.
    pub state: TaskState,
    /// 0 to 100.
    pub progress: f64,
    /// A short speakable sentence.
    pub message: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
    /// When it took the arm and began (absent while queued or awaiting confirmation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// When it ended.
    pub finished_at: Option<String>,
    /// Seconds left, while it runs.
    pub eta_s: Option<f64>,
    /// Why it failed.
    pub error: Option<TaskError>,
    /// Who started it.
    pub owner: String,
    /// A multi-step task's checkpoint: steps done, the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<super::StepsStatus>,
    /// Who approved it, and through which channel, when it waited for a confirmation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<super::Approval>,
    /// A straight line's planned ends, journaled so that an interrupted line can be
    /// continued along the same line (never re-applied from where the arm is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<LineRecord>,
}

/// The straight line a task moves the TCP along, in the base frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LineRecord {
    /// Where the TCP was when the line was planned.
    pub start: crate::robot::TcpPose,
    /// Where the line ends.
    pub end: crate::robot::TcpPose,
    /// The speed fraction it was planned at.
    pub speed: f64,
}

impl TaskRecord {
    /// Ends the task now in `state`, saying `message`, with the error `code` and `why`.
    pub(crate) fn end(&mut self, state: TaskState, message: String, code: &str, why: &str) {
        self.state = state;
        self.eta_s = None;
        self.updated_at = now_rfc3339();
        self.message = message;
        self.error = Some(TaskError {
            code: code.into(),
            message: why.into(),
        });
        self.finished_at = Some(self.updated_at.clone());
    }
}

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    rfc3339_at(time::OffsetDateTime::now_utc())
}

/// A monotonic instant as RFC 3339 UTC wall-clock time.
pub fn rfc3339_of(at: std::time::Instant) -> String {
    let ago = time::Duration::try_from(at.elapsed()).unwrap_or(time::Duration::ZERO);
    rfc3339_at(time::OffsetDateTime::now_utc() - ago)
}

fn rfc3339_at(now: time::OffsetDateTime) -> String {
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::TaskState::*;

    #[test]
    fn terminal_states_never_change() {
        for end in [Succeeded, Failed, Cancelled, Interrupted] {
            assert!(end.is_terminal());
            for next in [
                AwaitingConfirmation,
                Queued,
                Running,
                Succeeded,
                Failed,
                Cancelled,
                Interrupted,
            ] {
                assert!(!end.can_become(next), "{end:?} -> {next:?}");
            }
        }
    }

    #[test]
    fn a_running_task_ends_but_never_goes_back() {
        assert!(Running.can_become(Succeeded));
        assert!(Running.can_become(Interrupted));
        assert!(!Running.can_become(Queued));
        assert!(!Running.can_become(AwaitingConfirmation));
        assert!(Queued.can_become(Running));
        assert!(AwaitingConfirmation.can_become(Queued));
        assert!(!Queued.can_become(Succeeded));
    }

    #[test]
    fn states_use_the_designed_names() {
        assert_eq!(
            serde_json::to_string(&AwaitingConfirmation).unwrap(),
            "\"awaiting_confirmation\""
        );
        assert_eq!(Interrupted.as_str(), "interrupted");
    }
}

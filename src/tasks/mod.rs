//! Tasks: ids, the state machine, the registry and its durable journal.

mod journal;
mod record;
mod registry;
mod steps;
pub mod supervisor;

pub use journal::{Journal, JournalError, LoadReport, JOURNAL_FILE};
pub use record::{now_rfc3339, rfc3339_of, TaskError, TaskRecord, TaskState};
pub use registry::{
    short_id, Busy, Entered, Gate, NewTask, Pending, Registry, ReleaseError, ResumeError,
};
pub use steps::{Applied, Sequence, Step, StepKind, StepsStatus, VarOp};

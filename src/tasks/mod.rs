//! Tasks: ids, the state machine, the registry and its durable journal, and the motion
//! gate, the one place that starts or stops motion.

mod admission;
mod approval;
mod arm;
mod book;
mod expiry;
mod gripper;
mod health;
mod journal;
mod lease;
mod mirror;
mod motion;
mod plan;
mod queue;
mod record;
mod registry;
mod requests;
mod resume;
mod resume_line;
mod runner;
mod space;
mod steps;
pub mod supervisor;
pub mod words;

pub use admission::{collect, Admission};
pub use approval::{Approval, Channel};
pub use arm::{ArmView, NotReady};
pub use gripper::{GripperState, GripperView, IoLink, IoView};
pub use health::Durability;
pub use journal::{Journal, JournalError, LoadReport, OnDisk, JOURNAL_FILE};
pub use lease::{Hold, Pending};
pub use motion::{
    Accepted, Cancelled, Confirm, GateError, GateSettings, MotionGate, MotionTask, Resume, Stopped,
    When, Work,
};
pub use record::{now_rfc3339, rfc3339_of, LineRecord, TaskError, TaskRecord, TaskState};
pub use registry::{Busy, Registry};
pub use requests::LineTarget;
pub use space::{PlannedLine, Space};
pub use steps::{Applied, Sequence, Step, StepKind, StepsStatus, VarOp};
pub use words::task_number;

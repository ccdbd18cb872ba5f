//! Motion: trajectory planning, the real-time executor thread, and its scheduling.

pub mod clock;
pub mod executor;
pub mod rt;
pub mod stats;
pub mod trajectory;

pub use executor::{
    Event, ExecutorConfig, ExecutorHandle, MotionError, Outcome, Request, Snapshot,
};
pub use rt::SchedulingReport;
pub use stats::CycleStats;
pub use trajectory::Plan;

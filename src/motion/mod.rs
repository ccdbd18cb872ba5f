//! Motion: the real-time executor thread that follows planned trajectories, and its scheduling.

pub mod clock;
mod course;
mod executor;
mod handle;
mod messages;
pub mod rt;
pub mod stats;

pub use executor::ExecutorConfig;
pub use handle::{ExecutorHandle, SendError};
pub use messages::{Event, MotionError, Outcome, Request, Snapshot};
pub use rt::SchedulingReport;
pub use stats::CycleStats;

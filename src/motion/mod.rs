//! Motion: trajectory planning, the real-time executor thread, and its scheduling.

pub mod clock;
mod executor;
mod handle;
mod messages;
pub mod rt;
pub mod stats;
pub mod trajectory;

pub use executor::ExecutorConfig;
pub use handle::{ExecutorHandle, SendError};
pub use messages::{Event, MotionError, Outcome, Request, Snapshot};
pub use rt::SchedulingReport;
pub use stats::CycleStats;
pub use trajectory::Plan;

//! Real-time scheduling of the executor thread.

use serde::Serialize;
use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadSchedulePolicy,
};

/// The scheduling actually in force on the executor thread.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SchedulingReport {
    /// `SCHED_FIFO` or `SCHED_OTHER`.
    pub policy: &'static str,
    /// The SCHED_FIFO priority (0 under SCHED_OTHER).
    pub priority: u8,
    /// Whether the thread runs at real-time priority.
    pub realtime: bool,
    /// Why it does not, when it does not.
    pub note: Option<String>,
}

/// Puts the calling thread under SCHED_FIFO at `priority` (1–99), or reports why not.
pub fn make_current_thread_realtime(priority: u8) -> SchedulingReport {
    let result = ThreadPriority::try_from(priority.clamp(1, 99))
        .map_err(|e| e.to_string())
        .and_then(|p| {
            set_thread_priority_and_policy(
                thread_native_id(),
                p,
                ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
            )
            .map_err(|e| match e {
                thread_priority::Error::OS(code) => {
                    std::io::Error::from_raw_os_error(code).to_string()
                }
                other => other.to_string(),
            })
        });
    match result {
        Ok(()) => SchedulingReport {
            policy: "SCHED_FIFO",
            priority: priority.clamp(1, 99),
            realtime: true,
            note: None,
        },
        Err(e) => SchedulingReport {
            policy: "SCHED_OTHER",
            priority: 0,
            realtime: false,
            note: Some(format!(
                "SCHED_FIFO priority {priority} not permitted ({e}); running at normal priority. \
                 Grant CAP_SYS_NICE or an RLIMIT_RTPRIO of at least {priority} to get it."
            )),
        },
    }
}

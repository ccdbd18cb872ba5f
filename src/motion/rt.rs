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
    /// Whether the process's memory is locked (`mlockall`).
    pub memory_locked: bool,
    /// What of it is not locked, and why.
    pub memory_note: Option<String>,
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
            memory_locked: false,
            memory_note: None,
        },
        Err(e) => SchedulingReport {
            policy: "SCHED_OTHER",
            priority: 0,
            realtime: false,
            note: Some(format!(
                "SCHED_FIFO priority {priority} not permitted ({e}); running at normal priority. \
                 Grant CAP_SYS_NICE or an RLIMIT_RTPRIO of at least {priority} to get it."
            )),
            memory_locked: false,
            memory_note: None,
        },
    }
}

/// Whether the process's memory is locked in RAM, so a page fault cannot stall the cycle.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MemoryLock {
    /// Whether `mlockall` succeeded.
    pub locked: bool,
    /// What was not locked, or why nothing was, and the fix.
    pub note: Option<String>,
}

/// `CAP_IPC_LOCK`: with it, RLIMIT_MEMLOCK does not bound what the process locks.
const CAP_IPC_LOCK: u32 = 14;

/// Locks the process's memory with `mlockall`, as far as it is permitted.
///
/// With an unlimited RLIMIT_MEMLOCK (or CAP_IPC_LOCK), current and future pages are locked.
/// Under a finite limit only the pages mapped now are: locking future ones too would make any
/// allocation past the limit fail, and the process abort.
pub fn lock_memory() -> MemoryLock {
    let limit = memlock_limit();
    let unbounded = limit.is_none() || has_capability(CAP_IPC_LOCK);
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    let mut rc = unsafe { libc::mlockall(libc::MCL_CURRENT) };
    if rc == 0 && unbounded {
        // Everything mapped now (the code, the cycle's memory, the running threads' stacks)
        // is in RAM and stays. Later mappings are locked as they are touched, so a new
        // thread's unused stack takes no RAM. A kernel without MCL_ONFAULT (before 4.4)
        // locks them whole. A call without MCL_CURRENT leaves the current locks as they are.
        // SAFETY: as above.
        rc = unsafe { libc::mlockall(libc::MCL_FUTURE | libc::MCL_ONFAULT) };
        if rc != 0 {
            // SAFETY: as above.
            rc = unsafe { libc::mlockall(libc::MCL_FUTURE) };
        }
    }
    let limit_words = limit.map_or("unlimited".to_owned(), |b| format!("{} KiB", b / 1024));
    if rc == 0 {
        return MemoryLock {
            locked: true,
            note: (!unbounded).then(|| {
                format!(
                    "the pages mapped at start are locked, later allocations are not: \
                     RLIMIT_MEMLOCK is {limit_words}. Set LimitMEMLOCK=infinity to lock them too."
                )
            }),
        };
    }
    let err = std::io::Error::last_os_error();
    MemoryLock {
        locked: false,
        note: Some(format!(
            "memory not locked ({err}; RLIMIT_MEMLOCK {limit_words}): a page fault can stall the \
             cycle. Set LimitMEMLOCK=infinity or grant CAP_IPC_LOCK."
        )),
    }
}

/// The soft RLIMIT_MEMLOCK in bytes; `None` when unlimited.
pub fn memlock_limit() -> Option<u64> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut rl) };
    (rc != 0 || rl.rlim_cur != libc::RLIM_INFINITY).then_some(rl.rlim_cur)
}

/// Whether the calling thread has capability `cap` in its effective set.
pub fn has_capability(cap: u32) -> bool {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << cap) != 0)
}

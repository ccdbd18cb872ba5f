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
/// With an unlimited RLIMIT_MEMLOCK (or CAP_IPC_LOCK): the program's code and read-only data
/// whole, the pages in use now (the cycle's memory, the calling thread's stack) and every page
/// touched later. Under a finite limit only the pages mapped now are: locking future ones too
/// would make any allocation past the limit fail, and the process abort.
pub fn lock_memory() -> MemoryLock {
    let limit = memlock_limit();
    let unbounded = limit.is_none() || has_capability(CAP_IPC_LOCK);
    let rc = if unbounded {
        lock_code_and_touched()
    } else {
        // SAFETY: mlockall takes flags only and touches no memory of ours.
        unsafe { libc::mlockall(libc::MCL_CURRENT) }
    };
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

/// How much of the calling (cycle) thread's stack is brought in before locking.
const STACK_PREFAULT: usize = 256 * 1024;

/// The stack of a thread that calls [`lock_memory`]: set explicitly, so a small
/// `RUST_MIN_STACK` cannot leave too little room for the prefault.
pub const LOCKING_THREAD_STACK: usize = 2 * 1024 * 1024;

/// Locks what the cycle can meet: code and read-only data whole (a page the cycle first runs
/// mid-motion must not wait on the disk), and anonymous memory as it is touched. Other threads'
/// stacks, untouched, then take no RAM: locking them whole cost 2 MiB each.
fn lock_code_and_touched() -> libc::c_int {
    prefault_stack();
    let on_fault = libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT;
    // SAFETY: mlockall takes flags only and touches no memory of ours.
    if unsafe { libc::mlockall(on_fault) } != 0 {
        // A kernel without MCL_ONFAULT (before 4.4): everything, whole.
        // SAFETY: as above.
        return unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    }
    for (start, len) in file_mappings() {
        // Brings the mapping in and clears its on-fault mark. A failure leaves it locked on
        // fault, which is still locked once run.
        // SAFETY: the range is one of our mappings, listed by the kernel; mlock reads no memory.
        let _ = unsafe { libc::mlock(start as *const libc::c_void, len) };
    }
    0
}

/// Touches the calling thread's stack below this frame, so the cycle's deepest calls find
/// their pages present (and, once locked, kept).
#[inline(never)]
fn prefault_stack() {
    let mut pages = [0u8; STACK_PREFAULT];
    std::hint::black_box(&mut pages);
}

/// The readable mappings of the program and its libraries (the files mapped executable
/// somewhere): start and length. Other mapped files (shared memory, data) are left alone.
fn file_mappings() -> Vec<(usize, usize)> {
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else {
        return vec![];
    };
    let parsed: Vec<Mapping> = maps.lines().filter_map(file_mapping).collect();
    let code: std::collections::HashSet<&str> = parsed
        .iter()
        .filter(|m| m.executable)
        .map(|m| m.path)
        .collect();
    parsed
        .iter()
        .filter(|m| code.contains(m.path))
        .map(|m| (m.start, m.len))
        .collect()
}

/// A readable file mapping from `/proc/self/maps`.
#[derive(Debug, PartialEq)]
struct Mapping<'a> {
    start: usize,
    len: usize,
    executable: bool,
    path: &'a str,
}

/// One `/proc/self/maps` line, if it maps a file readably.
fn file_mapping(line: &str) -> Option<Mapping<'_>> {
    let mut fields = line.split_whitespace();
    let (range, perms) = (fields.next()?, fields.next()?);
    let path = fields.nth(3)?;
    if !path.starts_with('/') || !perms.starts_with('r') {
        return None;
    }
    let (a, b) = range.split_once('-')?;
    let (a, b) = (
        usize::from_str_radix(a, 16).ok()?,
        usize::from_str_radix(b, 16).ok()?,
    );
    (b > a).then(|| Mapping {
        start: a,
        len: b - a,
        executable: perms.as_bytes().get(2) == Some(&b'x'),
        path,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_readable_file_mapping_is_listed_and_anything_else_is_not() {
        let code = "55d1c0a00000-55d1c1a00000 r-xp 00600000 08:01 1234   /usr/bin/armature";
        assert_eq!(
            file_mapping(code),
            Some(Mapping {
                start: 0x55d1c0a00000,
                len: 0x0100_0000,
                executable: true,
                path: "/usr/bin/armature"
            })
        );
        let data = "55d1c1a00000-55d1c1b00000 r--p 01600000 08:01 1234   /usr/bin/armature";
        assert_eq!(file_mapping(data).map(|m| m.executable), Some(false));
        let guard = "7f0000000000-7f0000001000 ---p 00000000 08:01 99 /usr/lib/libc.so.6";
        assert_eq!(file_mapping(guard), None);
        let stack = "7f0000001000-7f0000201000 rw-p 00000000 00:00 0";
        assert_eq!(file_mapping(stack), None);
        assert_eq!(
            file_mapping("7ffd0000-7ffd2000 r-xp 00000000 00:00 0  [vdso]"),
            None
        );
        assert_eq!(file_mapping("garbage"), None);
    }

    #[test]
    fn this_process_maps_its_own_program() {
        let exe = std::env::current_exe().expect("the test binary's path");
        let maps = std::fs::read_to_string("/proc/self/maps").expect("procfs");
        let own: Vec<(usize, usize)> = maps
            .lines()
            .filter(|l| l.ends_with(exe.to_str().expect("a UTF-8 path")))
            .filter_map(file_mapping)
            .map(|m| (m.start, m.len))
            .collect();
        assert!(
            own.len() >= 2,
            "the test binary's code and data mappings:\n{maps}"
        );
        let listed = file_mappings();
        assert!(own.iter().all(|m| listed.contains(m)), "{listed:?}");
        // A mapped data file is not the program: it is left out.
        let data = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(data.path(), [1u8; 8192]).expect("written");
        let file = std::fs::File::open(data.path()).expect("opened");
        // SAFETY: a private read-only mapping of a file we own, unmapped below.
        let at = unsafe {
            use std::os::fd::AsRawFd;
            libc::mmap(
                std::ptr::null_mut(),
                8192,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        assert_ne!(at, libc::MAP_FAILED);
        assert!(!file_mappings().iter().any(|m| m.0 == at as usize));
        // SAFETY: the mapping made above, of that length.
        unsafe { libc::munmap(at, 8192) };
    }
}

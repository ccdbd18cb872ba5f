//! The machine: real-time permissions, kernel, CPU frequency, isolated CPUs, clock source,
//! and a short measurement of the motion loop's wake-ups on this machine.

use std::time::Duration;

use super::Check;
use crate::motion::clock::{now_ns, sleep_until_ns};
use crate::motion::rt::{has_capability, lock_memory, make_current_thread_realtime, MemoryLock};
use crate::motion::stats::StatsRecorder;
use crate::motion::{CycleStats, SchedulingReport};

/// `CAP_SYS_NICE`: SCHED_FIFO at any priority, whatever RLIMIT_RTPRIO says.
const CAP_SYS_NICE: u32 = 23;

/// What the measuring thread found.
struct Measured {
    sched: SchedulingReport,
    memory: MemoryLock,
    stats: CycleStats,
}

/// The machine's checks, in the order they print.
pub(super) fn checks(rate_hz: u32, priority: u8, measure: Duration) -> Vec<Check> {
    let measured = std::thread::Builder::new()
        .name("armature-doctor-loop".into())
        .spawn(move || measure_loop(rate_hz, priority, measure))
        .map_err(|e| e.to_string())
        .and_then(|t| {
            t.join()
                .map_err(|_| "the measuring thread panicked".to_owned())
        });
    let mut out = Vec::new();
    match &measured {
        Ok(m) => {
            out.push(scheduling(&m.sched, priority));
            out.push(memory(&m.memory));
        }
        Err(e) => out.push(Check::fail(
            "scheduling",
            format!("could not start a thread to measure: {e}"),
            "free memory or raise the thread limit (ulimit -u), then run again",
        )),
    }
    out.push(kernel());
    out.push(governor());
    out.push(isolated());
    out.push(clocksource());
    if let Ok(m) = &measured {
        out.push(loop_figures(m, rate_hz, measure));
    }
    out
}

/// Runs a loop at `rate_hz` for `measure` as the executor does: same priority, same clock,
/// same statistics.
fn measure_loop(rate_hz: u32, priority: u8, measure: Duration) -> Measured {
    let sched = make_current_thread_realtime(priority);
    let memory = lock_memory();
    let period_ns = 1_000_000_000 / u64::from(rate_hz.max(1));
    let start = now_ns();
    let end = start + measure.as_nanos() as u64;
    let mut stats = StatsRecorder::new(f64::from(rate_hz), start);
    let mut deadline = start + period_ns;
    while deadline < end {
        sleep_until_ns(deadline);
        let woke = now_ns();
        let latency_ns = woke.saturating_sub(deadline);
        deadline += period_ns;
        let mut overruns = 0;
        if woke > deadline {
            // As the executor does: skip the deadlines already missed.
            overruns = (woke - deadline) / period_ns + 1;
            deadline += overruns * period_ns;
        }
        stats.record(latency_ns, overruns, woke);
    }
    Measured {
        sched,
        memory,
        stats: stats.summary_now(),
    }
}

/// The soft RLIMIT_RTPRIO.
fn rtprio_limit() -> String {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `rl` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_RTPRIO, &mut rl) } != 0 {
        return "unknown".into();
    }
    if rl.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        rl.rlim_cur.to_string()
    }
}

fn scheduling(s: &SchedulingReport, priority: u8) -> Check {
    let limit = rtprio_limit();
    if s.realtime {
        let by = if has_capability(CAP_SYS_NICE) {
            "CAP_SYS_NICE".to_owned()
        } else {
            format!("RLIMIT_RTPRIO {limit}")
        };
        Check::pass(
            "scheduling",
            format!("SCHED_FIFO at priority {priority} permitted ({by})"),
        )
    } else {
        Check::fail(
            "scheduling",
            format!(
                "SCHED_FIFO at priority {priority} not permitted (RLIMIT_RTPRIO {limit}, no CAP_SYS_NICE): \
                 the motion thread would run at normal priority"
            ),
            format!(
                "run as armature.service does (LimitRTPRIO=90, AmbientCapabilities=CAP_SYS_NICE), \
                 or give this user an rtprio of at least {priority} in /etc/security/limits.d/"
            ),
        )
    }
}

fn memory(m: &MemoryLock) -> Check {
    match (m.locked, &m.note) {
        (true, None) => Check::pass("memory lock", "mlockall: current and future pages locked"),
        (true, Some(note)) => Check::warn(
            "memory lock",
            note.clone(),
            "LimitMEMLOCK=infinity, as armature.service sets",
        ),
        (false, note) => Check::warn(
            "memory lock",
            note.clone().unwrap_or_else(|| "mlockall failed".into()),
            "run as armature.service does (LimitMEMLOCK=infinity), or grant CAP_IPC_LOCK",
        ),
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

fn kernel() -> Check {
    let release = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = read_trimmed("/proc/sys/kernel/version").unwrap_or_default();
    let rt = read_trimmed("/sys/kernel/realtime").as_deref() == Some("1")
        || version.contains("PREEMPT_RT");
    let model = ["PREEMPT_RT", "PREEMPT_DYNAMIC", "PREEMPT"]
        .into_iter()
        .find(|m| version.contains(m))
        .unwrap_or("not preemptible");
    if rt {
        Check::pass("kernel", format!("{release}, PREEMPT_RT"))
    } else {
        Check::warn(
            "kernel",
            format!("{release}, {model}: not PREEMPT_RT, so wake-ups can run late under load"),
            "for a real arm, boot a PREEMPT_RT kernel (Debian: apt install linux-image-rt-amd64)",
        )
    }
}

fn governor() -> Check {
    let mut governors: Vec<(String, String)> = std::fs::read_dir("/sys/devices/system/cpu")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let cpu = name.strip_prefix("cpu")?;
            cpu.parse::<u32>().ok()?;
            let g = read_trimmed(&format!(
                "/sys/devices/system/cpu/{name}/cpufreq/scaling_governor"
            ))?;
            Some((name, g))
        })
        .collect();
    governors.sort();
    if governors.is_empty() {
        return Check::pass(
            "cpu frequency",
            "no frequency scaling exposed (a fixed clock, or a virtual machine)",
        );
    }
    let slow: Vec<String> = governors
        .iter()
        .filter(|(_, g)| g != "performance")
        .map(|(c, g)| format!("{c} {g}"))
        .collect();
    if slow.is_empty() {
        Check::pass(
            "cpu frequency",
            format!("governor performance on {} CPUs", governors.len()),
        )
    } else {
        Check::warn(
            "cpu frequency",
            format!("governor not performance: {}", slow.join(", ")),
            "cpupower frequency-set -g performance (Debian: apt install linux-cpupower)",
        )
    }
}

fn isolated() -> Check {
    match read_trimmed("/sys/devices/system/cpu/isolated").filter(|s| !s.is_empty()) {
        None => Check::pass(
            "isolated cpus",
            "none: the motion thread shares the CPUs (the loop measurement shows what that costs)",
        ),
        Some(cpus) => Check::warn(
            "isolated cpus",
            format!("CPUs {cpus} are isolated, but Armature does not pin its motion thread: it runs on the others"),
            format!("pin the service there (systemctl edit armature: CPUAffinity={cpus}), or boot without isolcpus="),
        ),
    }
}

fn clocksource() -> Check {
    let current = read_trimmed("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .unwrap_or_default();
    let available =
        read_trimmed("/sys/devices/system/clocksource/clocksource0/available_clocksource")
            .unwrap_or_default();
    match current.as_str() {
        "tsc" | "kvm-clock" | "arch_sys_counter" | "hyperv_clocksource_tsc_page" => {
            Check::pass("clock source", format!("{current} (fast to read)"))
        }
        "" => Check::warn(
            "clock source",
            "unknown: /sys/devices/system/clocksource is not readable",
            "mount sysfs, then run again",
        ),
        other => Check::warn(
            "clock source",
            format!("{other}: slow to read, and the cycle reads the clock every period (available: {available})"),
            "boot with clocksource=tsc if the CPU's TSC is stable",
        ),
    }
}

fn loop_figures(m: &Measured, rate_hz: u32, measure: Duration) -> Check {
    let s = &m.stats;
    let period_us = 1e6 / f64::from(rate_hz.max(1));
    let detail = format!(
        "{rate_hz} Hz for {:.1} s under {}: wake-up p99 {:.0} µs, max {:.0} µs, {} of {} cycles late by a period",
        measure.as_secs_f64(),
        if m.sched.realtime {
            format!("SCHED_FIFO {}", m.sched.priority)
        } else {
            "SCHED_OTHER".to_owned()
        },
        s.latency_p99_us,
        s.latency_max_us,
        s.overruns,
        s.cycles
    );
    if s.cycles == 0 {
        Check::fail(
            "loop latency",
            "no cycle ran",
            "run again with a longer --measure-s",
        )
    } else if s.latency_p99_us >= period_us / 2.0 {
        Check::fail(
            "loop latency",
            detail,
            format!(
                "this machine cannot keep a {rate_hz} Hz loop: grant SCHED_FIFO, boot a PREEMPT_RT kernel, \
                 or lower motion.rate_hz"
            ),
        )
    } else if s.latency_max_us >= period_us / 2.0 || s.latency_p99_us >= period_us / 10.0 {
        Check::warn(
            "loop latency",
            detail,
            "a PREEMPT_RT kernel, the performance governor and a quiet machine shorten the tail",
        )
    } else {
        Check::pass("loop latency", detail)
    }
}

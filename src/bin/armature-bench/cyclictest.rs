//! `cyclictest` (Debian `rt-tests`): the reference for the executor's wake-up latency,
//! run alongside it at the same rate, priority and policy, one thread pinned to each CPU
//! (a VM can stall one vCPU and not the other, so the thread on the executor's CPU must be
//! among them). It prints every sample, so the bench knows when each late wake-up came and
//! can set the executor's overruns beside them.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::procs::tool;
use super::report::Summary;

/// A cyclictest run in progress.
pub struct Cyclictest {
    child: Child,
    interval_us: u32,
    started: Instant,
}

/// What a cyclictest run saw.
#[derive(Debug, Clone, Serialize)]
pub struct Wakeups {
    /// Wake-up latency percentiles (µs).
    pub latency: Summary,
    /// When each deadline a thread missed was due, in seconds since the bench's `since`
    /// instant: one entry a missed deadline, counted as the executor counts its overruns.
    pub missed_at_s: Vec<f64>,
}

impl Cyclictest {
    /// Starts one thread per CPU at `rate_hz` with SCHED_FIFO `priority` for `duration`.
    pub fn start(rate_hz: u32, priority: u8, duration: Duration) -> Result<Self, String> {
        let bin = tool("cyclictest", "rt-tests")?;
        let interval_us = 1_000_000 / rate_hz.max(1);
        let started = Instant::now();
        let child = Command::new(bin)
            // -S: a thread pinned to each CPU, all at the same priority; -d0: all at the
            // same interval (cyclictest spaces them 500 µs apart by default).
            .args(["-q", "-v", "-m", "-S", "-d0", "--policy=fifo"])
            .arg(format!("-p{priority}"))
            .args([
                &format!("-i{interval_us}"),
                &format!("-D{}", duration.as_secs().max(1)),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start cyclictest: {e}"))?;
        Ok(Self {
            child,
            interval_us,
            started,
        })
    }

    /// Waits for it to end. Missed deadlines (what the executor counts as overruns) are
    /// timed from `since`.
    pub fn finish(self, since: Instant) -> Result<Wakeups, String> {
        let out = self
            .child
            .wait_with_output()
            .map_err(|e| format!("cyclictest: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "cyclictest failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let offset = self.started.saturating_duration_since(since).as_secs_f64()
            - since.saturating_duration_since(self.started).as_secs_f64();
        parse(
            &String::from_utf8_lossy(&out.stdout),
            self.interval_us,
            offset,
        )
    }
}

/// Samples from cyclictest's verbose output: lines of "thread: loop: µs".
///
/// A wake-up `L` late misses `floor(L / period)` deadlines, and cyclictest then skips them:
/// its next loop is due at the first deadline still ahead, so one sample stands for all of
/// them (a process stopped for 11 ms printed one sample of 17 183 µs, then 16 µs). The
/// executor counts each skipped deadline as an overrun, so the missed ones are counted the
/// same way here. Loop `n` of a thread was due `n` + (deadlines it skipped before) periods
/// after the start, which lies `offset_s` after the bench's reference instant.
fn parse(text: &str, interval_us: u32, offset_s: f64) -> Result<Wakeups, String> {
    let mut samples = vec![];
    let mut missed_at_s = vec![];
    let mut skipped: HashMap<&str, u64> = HashMap::new();
    let period = f64::from(interval_us);
    for line in text.lines() {
        let mut f = line.split(':').map(str::trim);
        let (Some(thread), Some(n), Some(us), None) = (f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let (Ok(n), Ok(us)) = (n.parse::<u64>(), us.parse::<f64>()) else {
            continue;
        };
        let before = skipped.entry(thread).or_default();
        let due = n + *before;
        // Truncation is the rule: a wake-up 1.9 periods late has missed one deadline.
        let missed = (us / period) as u64;
        for k in 1..=missed {
            missed_at_s.push(offset_s + (due + k) as f64 * period / 1e6);
        }
        *before += missed;
        samples.push(us);
    }
    if samples.is_empty() {
        return Err("cyclictest printed no samples".into());
    }
    Ok(Wakeups {
        latency: Summary::of(samples),
        missed_at_s,
    })
}

/// Of `overruns_at_s` (when the executor's overrun count rose, as the bench saw it), those
/// with no deadline missed by cyclictest within `window_s` either side: the machine cannot
/// explain them, so they are the executor's own.
pub fn unexplained(overruns_at_s: &[f64], missed_at_s: &[f64], window_s: f64) -> usize {
    overruns_at_s
        .iter()
        .filter(|&&t| !missed_at_s.iter().any(|&l| (l - t).abs() <= window_s))
        .count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_samples_and_counts_the_deadlines_a_late_one_missed() {
        let text = "Max CPUs = 2\nThread 0 Interval: 2500\n       0:       0:      39\n       0:       1:    2100\n       1:       1:      12\n       0:       2:   17183\n       0:       3:      16\n       0:     500:    4000\n";
        let w = super::parse(text, 2000, 1.0).unwrap();
        assert_eq!(w.latency.n, 6);
        assert_eq!(w.latency.p50, 39.0);
        // Loop 1 missed one deadline; loop 2 (due a period later for that skip) missed 8;
        // loop 500 is due 9 periods later than its number says, and missed 2.
        let mut want = vec![1.004];
        want.extend((1..=8).map(|k| 1.0 + (3 + k) as f64 * 0.002));
        want.extend([1.0 + 510.0 * 0.002, 1.0 + 511.0 * 0.002]);
        assert_eq!(w.missed_at_s.len(), want.len());
        for (got, want) in w.missed_at_s.iter().zip(&want) {
            assert!(
                (got - want).abs() < 1e-9,
                "{:?} against {want:?}",
                w.missed_at_s
            );
        }
        assert!(super::parse("no samples\n", 2000, 0.0).is_err());
    }

    #[test]
    fn overruns_near_a_late_wake_up_are_the_machine_s() {
        assert_eq!(super::unexplained(&[1.0, 5.0, 9.5], &[1.3, 9.0], 1.0), 1);
        assert_eq!(super::unexplained(&[], &[1.0], 1.0), 0);
    }
}

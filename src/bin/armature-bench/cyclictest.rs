//! `cyclictest` (Debian `rt-tests`): the reference for the executor's wake-up latency,
//! run alongside it at the same rate, priority and policy, one thread pinned to each CPU
//! (a VM can stall one vCPU and not the other, so the thread on the executor's CPU must be
//! among them). It prints every sample, so the bench knows when each late wake-up came and
//! can set the executor's overruns beside them.

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
    /// When each wake-up that came a whole period or more late was due, in seconds since
    /// the bench's `since` instant.
    pub late_at_s: Vec<f64>,
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

    /// Waits for it to end. Late wake-ups (a whole period or more, what the executor counts
    /// as overruns) are timed from `since`.
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

/// Samples from cyclictest's verbose output: lines of "thread: loop: µs". Loop `n` was due
/// `n` intervals after the start, which lies `offset_s` after the bench's reference instant.
fn parse(text: &str, interval_us: u32, offset_s: f64) -> Result<Wakeups, String> {
    let mut samples = vec![];
    let mut late_at_s = vec![];
    let period = f64::from(interval_us);
    for line in text.lines() {
        let mut f = line.split(':').map(str::trim);
        let (Some(_), Some(n), Some(us), None) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        let (Ok(n), Ok(us)) = (n.parse::<u64>(), us.parse::<f64>()) else {
            continue;
        };
        if us >= period {
            late_at_s.push(offset_s + n as f64 * period / 1e6);
        }
        samples.push(us);
    }
    if samples.is_empty() {
        return Err("cyclictest printed no samples".into());
    }
    Ok(Wakeups {
        latency: Summary::of(samples),
        late_at_s,
    })
}

/// Of `overruns_at_s` (when the executor's overrun count rose, as the bench saw it), those
/// with no late cyclictest wake-up within `window_s` either side: the machine cannot
/// explain them, so they are the executor's own.
pub fn unexplained(overruns_at_s: &[f64], late_at_s: &[f64], window_s: f64) -> usize {
    overruns_at_s
        .iter()
        .filter(|&&t| !late_at_s.iter().any(|&l| (l - t).abs() <= window_s))
        .count()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_samples_and_times_the_late_ones() {
        let text = "Max CPUs = 2\nThread 0 Interval: 2500\n       0:       0:      39\n       0:       1:    2100\n       0:     500:      12\n";
        let w = super::parse(text, 2000, 1.0).unwrap();
        assert_eq!(w.latency.n, 3);
        assert_eq!(w.latency.p50, 39.0);
        assert_eq!(w.late_at_s, vec![1.002]);
        assert!(super::parse("no samples\n", 2000, 0.0).is_err());
    }

    #[test]
    fn overruns_near_a_late_wake_up_are_the_machine_s() {
        assert_eq!(super::unexplained(&[1.0, 5.0, 9.5], &[1.3, 9.0], 1.0), 1);
        assert_eq!(super::unexplained(&[], &[1.0], 1.0), 0);
    }
}

//! `cyclictest` (Debian `rt-tests`): the reference for the executor's wake-up latency,
//! run alongside it at the same rate, priority and policy.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::procs::tool;
use super::report::Summary;

/// A cyclictest run in progress.
pub struct Cyclictest {
    child: Child,
}

impl Cyclictest {
    /// Starts one thread at `rate_hz` with SCHED_FIFO `priority` for `duration`.
    pub fn start(rate_hz: u32, priority: u8, duration: Duration) -> Result<Self, String> {
        let bin = tool("cyclictest", "rt-tests")?;
        let interval_us = 1_000_000 / rate_hz.max(1);
        let child = Command::new(bin)
            .args(["-q", "-m", "--policy=fifo", &format!("-p{priority}")])
            .args([
                &format!("-i{interval_us}"),
                &format!("-D{}", duration.as_secs().max(1)),
                "-h20000",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start cyclictest: {e}"))?;
        Ok(Self { child })
    }

    /// Waits for it to end; its latency percentiles (µs) from its histogram, and how many
    /// wake-ups came a whole period or more late (what the executor counts as overruns).
    pub fn finish(self, period_us: f64) -> Result<(Summary, u64), String> {
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
        let text = String::from_utf8_lossy(&out.stdout);
        Ok((parse(&text)?, late(&text, period_us)))
    }
}

/// Wake-ups at least `period_us` late, from the histogram (and its overflow count).
fn late(text: &str, period_us: f64) -> u64 {
    let mut n = 0;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("# Histogram Overflows:") {
            n += v
                .split_whitespace()
                .filter_map(|x| x.parse::<u64>().ok())
                .sum::<u64>();
            continue;
        }
        let mut f = line.split_whitespace();
        if let (Some(us), Some(c), None) = (f.next(), f.next(), f.next()) {
            if let (Ok(us), Ok(c)) = (us.parse::<f64>(), c.parse::<u64>()) {
                if us >= period_us {
                    n += c;
                }
            }
        }
    }
    n
}

/// Percentiles from cyclictest's histogram: lines of "<µs> <count>", then "# …" totals.
fn parse(text: &str) -> Result<Summary, String> {
    let mut bins: Vec<(f64, u64)> = vec![];
    let mut max = 0.0f64;
    for line in text.lines() {
        if let Some(m) = line.strip_prefix("# Max Latencies:") {
            max = m
                .split_whitespace()
                .filter_map(|v| v.parse::<f64>().ok())
                .fold(0.0, f64::max);
            continue;
        }
        let mut f = line.split_whitespace();
        if let (Some(us), Some(n), None) = (f.next(), f.next(), f.next()) {
            if let (Ok(us), Ok(n)) = (us.parse::<f64>(), n.parse::<u64>()) {
                bins.push((us, n));
            }
        }
    }
    let total: u64 = bins.iter().map(|b| b.1).sum();
    if total == 0 {
        return Err("cyclictest printed no histogram".into());
    }
    let at = |q: f64| {
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for &(us, n) in &bins {
            seen += n;
            if seen >= rank {
                return us;
            }
        }
        max
    };
    Ok(Summary {
        n: total as usize,
        p50: at(0.5),
        p99: at(0.99),
        p999: at(0.999),
        max,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_the_histogram() {
        let text = "000000 000000\n000001 000050\n000002 000049\n000030 000001\n# Total: 000000100\n# Min Latencies: 00001\n# Avg Latencies: 00002\n# Max Latencies: 00030\n";
        let s = super::parse(text).unwrap();
        assert_eq!((s.n, s.p50, s.p99, s.max), (100, 1.0, 2.0, 30.0));
        assert_eq!(super::late(text, 30.0), 1);
        assert_eq!(
            super::late(&format!("{text}# Histogram Overflows: 00002\n"), 30.0),
            3
        );
    }
}

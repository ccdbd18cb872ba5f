//! Cycle statistics kept by the executor itself: rate, wake-up latency, overruns.
//!
//! A fixed histogram of 1 µs bins, allocated once; recording is O(1) and summaries are
//! computed in the cycle once a second, so the async side only copies a small struct.

use serde::Serialize;

/// Latency bins of 1 µs; anything above lands in the overflow count (and `max`).
const BINS: usize = 20_000;

/// A summary the async side can read at any time.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct CycleStats {
    /// Configured cycle rate (Hz).
    pub target_rate_hz: f64,
    /// Cycles per second measured over the last summary period.
    pub rate_hz: f64,
    /// Cycles since start (or since the last reset).
    pub cycles: u64,
    /// Cycles that finished after the next cycle's deadline.
    pub overruns: u64,
    /// Median wake-up latency (µs).
    pub latency_p50_us: f64,
    /// 99th percentile wake-up latency (µs).
    pub latency_p99_us: f64,
    /// 99.9th percentile wake-up latency (µs).
    pub latency_p999_us: f64,
    /// Largest wake-up latency (µs).
    pub latency_max_us: f64,
    /// Median age of a robot state when the cycle first sees it (µs): from the
    /// controller's sample to the cycle that reads it.
    pub state_age_p50_us: f64,
    /// 99th percentile of that age (µs).
    pub state_age_p99_us: f64,
    /// New robot states seen.
    pub states_seen: u64,
}

/// The recorder living on the executor thread.
pub struct StatsRecorder {
    bins: Box<[u32]>,
    age: Histogram,
    overflow: u64,
    count: u64,
    overruns: u64,
    max_ns: u64,
    period_start_ns: u64,
    period_cycles: u64,
    summary: CycleStats,
}

impl StatsRecorder {
    /// A recorder for a cycle at `rate_hz`, starting now.
    pub fn new(rate_hz: f64, now_ns: u64) -> Self {
        Self {
            age: Histogram::new(),
            bins: counters(BINS),
            overflow: 0,
            count: 0,
            overruns: 0,
            max_ns: 0,
            period_start_ns: now_ns,
            period_cycles: 0,
            summary: CycleStats {
                target_rate_hz: rate_hz,
                ..Default::default()
            },
        }
    }

    /// Records one cycle's wake-up latency and how many deadlines it overran.
    pub fn record(&mut self, latency_ns: u64, overruns: u64, now_ns: u64) {
        let us = (latency_ns / 1000) as usize;
        match self.bins.get_mut(us) {
            Some(bin) => *bin = bin.saturating_add(1),
            None => self.overflow += 1,
        }
        self.count += 1;
        self.overruns += overruns;
        self.max_ns = self.max_ns.max(latency_ns);
        self.period_cycles += 1;
        let elapsed = now_ns.saturating_sub(self.period_start_ns);
        if elapsed >= 1_000_000_000 {
            self.summary.rate_hz = self.period_cycles as f64 * 1e9 / elapsed as f64;
            self.period_start_ns = now_ns;
            self.period_cycles = 0;
            self.summarize();
        }
    }

    /// Records the age (ns) of a robot state the cycle sees for the first time.
    pub fn record_state_age(&mut self, age_ns: u64) {
        self.age.record(age_ns / 1000);
    }

    fn summarize(&mut self) {
        self.summary.states_seen = self.age.count;
        self.summary.state_age_p50_us = self.age.percentile(0.5);
        self.summary.state_age_p99_us = self.age.percentile(0.99);
        self.summary.cycles = self.count;
        self.summary.overruns = self.overruns;
        self.summary.latency_max_us = self.max_ns as f64 / 1000.0;
        let ranks = [0.5, 0.99, 0.999].map(|q| ((self.count as f64) * q).ceil().max(1.0) as u64);
        let mut found = [None; 3];
        let mut seen = 0u64;
        for (us, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            for (slot, &rank) in found.iter_mut().zip(&ranks) {
                if slot.is_none() && seen >= rank {
                    *slot = Some(us as f64);
                }
            }
            if found[2].is_some() {
                break;
            }
        }
        let overflowed = self.summary.latency_max_us;
        self.summary.latency_p50_us = found[0].unwrap_or(overflowed);
        self.summary.latency_p99_us = found[1].unwrap_or(overflowed);
        self.summary.latency_p999_us = found[2].unwrap_or(overflowed);
    }

    /// A summary of every cycle recorded so far, made now (the cycle makes one a second).
    pub fn summary_now(&mut self) -> CycleStats {
        self.summarize();
        self.summary
    }

    /// The latest summary.
    pub fn summary(&self) -> CycleStats {
        self.summary
    }
}

/// A small 10 µs-bin histogram (to 100 ms), allocated once.
struct Histogram {
    bins: Box<[u32]>,
    count: u64,
}

impl Histogram {
    const BIN_US: u64 = 10;

    fn new() -> Self {
        Self {
            bins: counters(10_000),
            count: 0,
        }
    }

    fn record(&mut self, us: u64) {
        let i = ((us / Self::BIN_US) as usize).min(self.bins.len() - 1);
        self.bins[i] = self.bins[i].saturating_add(1);
        self.count += 1;
    }

    fn percentile(&self, q: f64) -> f64 {
        let rank = ((self.count as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank && self.count > 0 {
                return (i as u64 * Self::BIN_US) as f64;
            }
        }
        0.0
    }
}

/// `n` zeroed counters with every page written now. Memory allocated zeroed can come as
/// fresh pages the allocator never touched, and the first count in a rare bin would then
/// take a page fault inside the cycle wherever the memory lock does not bring them in.
fn counters(n: usize) -> Box<[u32]> {
    let mut bins = vec![0u32; n].into_boxed_slice();
    for c in bins.iter_mut() {
        // Volatile, so the compiler cannot drop a write of a zero it knows is there.
        // SAFETY: `c` is a valid, aligned and exclusive reference.
        unsafe { std::ptr::write_volatile(c, 0) };
    }
    bins
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut s = StatsRecorder::new(500.0, 0);
        for i in 0..1000u64 {
            // 990 cycles at 10 µs, 10 at 500 µs.
            let lat = if i % 100 == 0 { 500_000 } else { 10_000 };
            s.record(lat, 0, i * 2_000_000);
        }
        s.record(25_000_000, 1, 2_000_000_000);
        let sum = s.summary();
        assert_eq!(sum.cycles, 1001);
        assert_eq!(sum.overruns, 1);
        assert_eq!(sum.latency_p50_us, 10.0);
        assert_eq!(sum.latency_p99_us, 500.0);
        assert_eq!(sum.latency_max_us, 25_000.0);
        assert!((sum.rate_hz - 500.5).abs() < 1.0, "{}", sum.rate_hz);
    }

    #[test]
    fn counters_are_in_ram_before_the_cycle_counts_in_them() {
        // Large enough that the allocator maps fresh pages for it.
        let bins = super::counters(1 << 20);
        let page = 4096;
        let start = bins.as_ptr() as usize / page * page;
        let end = (bins.as_ptr() as usize + bins.len() * 4).div_ceil(page) * page;
        let mut present = vec![0u8; (end - start) / page];
        // SAFETY: the range covers our own live allocation; `present` has one byte a page.
        let rc = unsafe {
            libc::mincore(
                start as *mut libc::c_void,
                end - start,
                present.as_mut_ptr(),
            )
        };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        let missing = present.iter().filter(|p| **p & 1 == 0).count();
        assert_eq!(
            missing,
            0,
            "{missing} of {} pages not in RAM",
            present.len()
        );
        assert!(bins.iter().all(|c| *c == 0));
    }
}

//! Reconnect delays shared by the network backends (Modbus, ROS).

use std::time::Duration;

/// Reconnect delays: 0.5 s doubling to 30 s, each ±20 %.
#[derive(Debug, Clone)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    const BASE_S: f64 = 0.5;
    const CAP_S: f64 = 30.0;
    const JITTER: f64 = 0.2;

    /// No failures yet.
    pub fn new() -> Self {
        Self { failures: 0 }
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let nominal = (Self::BASE_S * 2f64.powi(self.failures.min(16) as i32 - 1)).min(Self::CAP_S);
        let jitter = 1.0 + Self::JITTER * (2.0 * fastrand::f64() - 1.0);
        Duration::from_secs_f64(nominal * jitter)
    }

    /// A success: the next failure starts again at the base delay.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_to_thirty_with_jitter() {
        let mut b = Backoff::new();
        let nominal = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0];
        for n in nominal {
            let d = b.next_delay().as_secs_f64();
            assert!(
                d >= n * 0.8 - 1e-9 && d <= n * 1.2 + 1e-9,
                "{d} not within 20 % of {n}"
            );
        }
        b.reset();
        assert!(b.next_delay().as_secs_f64() <= 0.6);
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let delays: Vec<u128> = (0..20)
            .map(|_| Backoff::new().next_delay().as_millis())
            .collect();
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 5, "{delays:?}");
    }
}

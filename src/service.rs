//! systemd's side of `armature serve` (`Type=notify`): ready once the listener is bound, and
//! the watchdog fed only while the motion loop keeps its period. Outside systemd (no
//! `NOTIFY_SOCKET`) every call here does nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use crate::app::App;

/// A loop whose cycle count has not moved for this long has stalled. The executor publishes
/// its counts once a second, so this allows two missed summaries.
const STALL: Duration = Duration::from_secs(3);

/// The share of its target rate the loop must keep.
const MIN_RATE_SHARE: f64 = 0.9;

/// Tells the service manager that the plugin serves at `url`.
pub fn ready(url: &str) {
    let status = format!("serving MCP at {url}");
    if let Err(e) = sd_notify::notify(false, &[NotifyState::Ready, NotifyState::Status(&status)]) {
        tracing::warn!(error = %e, "could not tell systemd that the service is ready");
    }
}

/// Tells the service manager that the plugin is stopping.
pub fn stopping() {
    let _ = sd_notify::notify(false, &[NotifyState::Stopping]);
}

/// The motion loop's figures the watchdog judges.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoopFigures {
    /// Cycles counted so far (published once a second).
    pub cycles: u64,
    /// Cycles per second over the last second.
    pub rate_hz: f64,
    /// The configured rate.
    pub target_rate_hz: f64,
}

/// Judges successive loop figures: healthy while the count moves and the rate holds.
#[derive(Debug)]
pub struct LoopHealth {
    cycles: u64,
    changed_at: Instant,
}

impl LoopHealth {
    /// Starts judging at `now`.
    pub fn new(now: Instant) -> Self {
        Self {
            cycles: 0,
            changed_at: now,
        }
    }

    /// `Ok` while the loop keeps its period; else why not, in words.
    pub fn judge(&mut self, f: LoopFigures, now: Instant) -> Result<(), String> {
        if f.cycles != self.cycles {
            self.cycles = f.cycles;
            self.changed_at = now;
        }
        let still = now.saturating_duration_since(self.changed_at);
        if still > STALL {
            return Err(format!(
                "the motion loop has counted no cycle for {:.1} s",
                still.as_secs_f64()
            ));
        }
        // Before its first summary the loop has no rate yet; the stall rule covers it.
        if f.cycles > 0 && f.rate_hz < MIN_RATE_SHARE * f.target_rate_hz {
            return Err(format!(
                "the motion loop runs at {:.0} Hz, below {:.0} % of its {:.0} Hz",
                f.rate_hz,
                MIN_RATE_SHARE * 100.0,
                f.target_rate_hz
            ));
        }
        Ok(())
    }
}

/// The loop's figures as the app shows them to status tools.
fn figures(app: &App) -> LoopFigures {
    let rt = app.gate.view().realtime;
    let num = |k: &str| rt[k].as_f64().unwrap_or(0.0);
    LoopFigures {
        cycles: rt["cycles"].as_u64().unwrap_or(0),
        rate_hz: num("rate_hz"),
        target_rate_hz: num("target_rate_hz"),
    }
}

/// Feeds systemd's watchdog (`WatchdogSec=`) while the motion loop keeps its period; a
/// loop that stalls or slows goes unfed, and systemd restarts the service.
pub fn spawn_watchdog(app: Arc<App>, shutdown: CancellationToken) {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) {
        return;
    }
    // Several looks per watchdog period, and at least one per summary of the loop.
    let every =
        Duration::from_micros(usec / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    tracing::info!(
        watchdog_s = usec as f64 / 1e6,
        "systemd watchdog on: fed while the motion loop keeps its period"
    );
    tokio::spawn(async move {
        let mut health = LoopHealth::new(Instant::now());
        let mut failing = false;
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            match health.judge(figures(&app), Instant::now()) {
                Ok(()) => {
                    if failing {
                        tracing::info!("the motion loop keeps its period again; watchdog fed");
                        failing = false;
                    }
                    let _ = sd_notify::notify(false, &[NotifyState::Watchdog]);
                }
                Err(why) => {
                    if !failing {
                        tracing::error!("{why}; the systemd watchdog is no longer fed");
                        let status = format!("watchdog unfed: {why}");
                        let _ = sd_notify::notify(false, &[NotifyState::Status(&status)]);
                        failing = true;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn fig(cycles: u64, rate_hz: f64) -> LoopFigures {
        LoopFigures {
            cycles,
            rate_hz,
            target_rate_hz: 500.0,
        }
    }

    #[test]
    fn a_loop_that_keeps_its_period_is_healthy() {
        let t0 = Instant::now();
        let mut h = LoopHealth::new(t0);
        assert_eq!(h.judge(fig(0, 0.0), at(t0, 500)), Ok(()));
        assert_eq!(h.judge(fig(500, 499.8), at(t0, 1000)), Ok(()));
        assert_eq!(h.judge(fig(1000, 500.1), at(t0, 2000)), Ok(()));
        // Between two summaries the count stands still: still healthy.
        assert_eq!(h.judge(fig(1000, 500.1), at(t0, 2900)), Ok(()));
    }

    #[test]
    fn a_stalled_loop_is_named() {
        let t0 = Instant::now();
        let mut h = LoopHealth::new(t0);
        assert_eq!(h.judge(fig(500, 500.0), at(t0, 1000)), Ok(()));
        let err = h.judge(fig(500, 500.0), at(t0, 4500)).unwrap_err();
        assert_eq!(err, "the motion loop has counted no cycle for 3.5 s");
    }

    #[test]
    fn a_loop_that_never_starts_is_named() {
        let t0 = Instant::now();
        let mut h = LoopHealth::new(t0);
        assert!(h.judge(fig(0, 0.0), at(t0, 3100)).is_err());
    }

    #[test]
    fn a_slow_loop_is_named() {
        let t0 = Instant::now();
        let mut h = LoopHealth::new(t0);
        let err = h.judge(fig(400, 400.0), at(t0, 1000)).unwrap_err();
        assert_eq!(
            err,
            "the motion loop runs at 400 Hz, below 90 % of its 500 Hz"
        );
    }
}

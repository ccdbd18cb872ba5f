//! Faults a test can schedule on the simulated arm, at times measured on the model's clock.

/// One joint stops moving (a blocked or broken drive) from a given time on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StallFault {
    /// Index of the joint that stalls (0-based).
    pub joint: usize,
    /// Model time in seconds at which it stalls.
    pub at_s: f64,
}

/// Faults to inject, each at a time on the model's own clock (seconds since it started).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FaultPlan {
    /// The arm goes into protective stop at this time: it brakes and refuses motion.
    pub protective_stop_at_s: Option<f64>,
    /// The arm's reported state stops updating at this time (a frozen driver or link).
    pub freeze_state_at_s: Option<f64>,
    /// A joint stops moving at a given time.
    pub stall: Option<StallFault>,
}

impl FaultPlan {
    /// Whether a fault scheduled at `at` has fired by model time `now`.
    pub(crate) fn fired(at: Option<f64>, now: f64) -> bool {
        at.is_some_and(|t| now >= t)
    }
}

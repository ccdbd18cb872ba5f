//! The concrete steps of a multi-step task, and the checkpoint record kept with the task.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::vars::VarValue;

/// One step with every parameter filled in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// How it is spoken of: "moving above slot 4".
    pub label: String,
    /// What it does.
    pub kind: StepKind,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// A joint move to `target` at `speed` (already checked and capped).
    Move {
        /// Joint positions (rad).
        target: Vec<f64>,
        /// Fraction of the robot's limits.
        speed: f64,
    },
    /// A straight TCP line to `pose`, planned from where the arm is when the step starts.
    Line {
        /// x, y, z (m) and a rotation vector (rad), in the base frame: planned once, at
        /// the call, so a resumed relative step never adds its offset again.
        pose: [f64; 6],
        /// The joints the line ends at, as planned at the call (a resume moves back here).
        end: Vec<f64>,
        /// Fraction of the caps.
        speed: f64,
    },
    /// Set a named digital output.
    SetOutput {
        /// Its name in the robot file.
        name: String,
        /// The backend's channel.
        channel: u16,
        /// On or off.
        value: bool,
    },
    /// Wait until a named digital input has `value`; fail after `timeout_s`.
    WaitInput {
        /// Its name in the robot file.
        name: String,
        /// How it is said: "part present".
        said: String,
        /// The backend's channel.
        channel: u16,
        /// The value waited for.
        value: bool,
        /// Seconds before the task fails.
        timeout_s: f64,
    },
    /// Stand still this long.
    Wait {
        /// Seconds.
        seconds: f64,
    },
    /// A gripper stroke (tasks/gripper.rs).
    Gripper {
        /// Close (true) or open (false).
        close: bool,
        /// The full stroke's seconds, for progress and the ETA.
        stroke_s: f64,
    },
    /// Write an installation variable.
    SetVariable {
        /// The variable.
        name: String,
        /// The new value, or how it changes.
        op: VarOp,
    },
}

/// How `set_variable` changes its variable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VarOp {
    /// Replace it.
    Set(VarValue),
    /// Add to it (a missing or non-number variable counts as 0).
    Add(f64),
}

impl StepKind {
    /// Where a moving step leaves the arm, and at what speed it goes there.
    pub fn ends_at(&self) -> Option<(Vec<f64>, f64)> {
        match self {
            Self::Move { target, speed } => Some((target.clone(), *speed)),
            Self::Line { end, speed, .. } => Some((end.clone(), *speed)),
            _ => None,
        }
    }
}

impl VarOp {
    /// The variable's value after the change, given the value `before` it.
    pub fn apply(&self, before: Option<&VarValue>) -> VarValue {
        match (self, before) {
            (VarOp::Set(v), _) => v.clone(),
            (VarOp::Add(d), Some(VarValue::Number(n))) => VarValue::Number(n + d),
            (VarOp::Add(d), _) => VarValue::Number(*d),
        }
    }
}

/// A sequence of steps, with its fingerprint.
#[derive(Debug, Clone)]
pub struct Sequence {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Each step's share of the task, in planned seconds.
    pub weights: Vec<f64>,
    /// Identifies the steps: a resumed task must expand to the same.
    pub digest: String,
}

impl Sequence {
    /// Wraps `steps` with their `weights` (same length).
    pub fn new(steps: Vec<Step>, weights: Vec<f64>) -> Self {
        let digest = digest(&steps);
        Self {
            steps,
            weights,
            digest,
        }
    }

    /// Progress (0–100) with `done` steps finished and `fraction` of the next one.
    pub fn percent(&self, done: usize, fraction: f64) -> f64 {
        let total: f64 = self.weights.iter().sum();
        if total <= 0.0 {
            return 100.0 * done as f64 / self.steps.len().max(1) as f64;
        }
        let before: f64 = self.weights.iter().take(done).sum();
        let current = self.weights.get(done).copied().unwrap_or(0.0) * fraction.clamp(0.0, 1.0);
        (100.0 * (before + current) / total).clamp(0.0, 100.0)
    }

    /// Planned seconds of the steps after `step`.
    pub fn seconds_after(&self, step: usize) -> f64 {
        self.weights.iter().skip(step + 1).sum()
    }
}

/// The first 16 hex digits of the SHA-256 of the steps' JSON.
fn digest(steps: &[Step]) -> String {
    let json = serde_json::to_vec(steps).unwrap_or_default();
    let hash = Sha256::digest(&json);
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A finished `set_variable`: what the variable held before and what was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Applied {
    /// The step (1-based).
    pub step: usize,
    /// The variable.
    pub name: String,
    /// Its value before, if it had one.
    pub before: Option<VarValue>,
    /// The value written.
    pub after: VarValue,
}

/// Where a multi-step task stands; journaled with the task at every finished step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StepsStatus {
    /// How many steps the task has.
    pub total: usize,
    /// How many are finished (the checkpoint): the next to run is `done + 1`.
    pub done: usize,
    /// The step running now (1-based), if one is.
    pub current: Option<usize>,
    /// What the current (or last) step does.
    pub label: String,
    /// The steps' fingerprint ([`Sequence::digest`]).
    pub digest: String,
    /// How many times the task was resumed.
    #[serde(default)]
    pub resumed: u32,
    /// The variables its finished steps wrote.
    #[serde(default)]
    pub applied: Vec<Applied>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(s: f64) -> Step {
        Step {
            label: "waiting".into(),
            kind: StepKind::Wait { seconds: s },
        }
    }

    #[test]
    fn progress_follows_the_planned_seconds() {
        let seq = Sequence::new(vec![wait(1.0), wait(3.0)], vec![1.0, 3.0]);
        assert_eq!(seq.percent(0, 0.0), 0.0);
        assert_eq!(seq.percent(0, 1.0), 25.0);
        assert_eq!(seq.percent(1, 0.5), 62.5);
        assert_eq!(seq.percent(2, 0.0), 100.0);
        assert_eq!(seq.seconds_after(0), 3.0);
    }

    #[test]
    fn the_digest_changes_with_the_steps() {
        let a = Sequence::new(vec![wait(1.0)], vec![1.0]);
        let b = Sequence::new(vec![wait(1.5)], vec![1.5]);
        assert_eq!(a.digest.len(), 16);
        assert_ne!(a.digest, b.digest);
        assert_eq!(a.digest, Sequence::new(vec![wait(1.0)], vec![9.0]).digest);
    }
}

//! What the executor follows: a joint move it plans itself, or a path sampled before the
//! ack (a straight TCP line). Both are driven by one path parameter `s` from 0 to 1, so
//! following, progress and braking along the path are the same code for both.

use std::sync::Arc;

use crate::hal::Joints;
use crate::robot::linear::LinearPath;
use crate::robot::Plan;

/// The course of one motion.
#[derive(Debug, Clone)]
pub(super) enum Course {
    /// A joint-space move, planned on the motion thread from the setpoint (no allocation).
    Joint(Plan),
    /// A path planned and sampled off the real-time thread; the `Arc` goes back in the
    /// `Finished` event so that it is freed off this thread.
    Path {
        /// The sampled path.
        path: Arc<LinearPath>,
        /// Its speed fraction, for the command.
        speed: f64,
        /// Its last sample's joints.
        target: Joints,
        /// The sample the measured joints were last nearest (only moves forward).
        cursor: usize,
    },
}

impl Course {
    /// A path to follow (the caller has checked it has samples).
    pub(super) fn path(path: Arc<LinearPath>, speed: f64) -> Self {
        let target = path.samples.last().map_or(Joints::zeros(0), |p| p.joints);
        Self::Path {
            path,
            speed,
            target,
            cursor: 0,
        }
    }

    /// Planned duration (s).
    pub(super) fn duration(&self) -> f64 {
        match self {
            Self::Joint(plan) => plan.duration(),
            Self::Path { path, .. } => path.duration(),
        }
    }

    /// `(s, ds/dt)` at `t` seconds after the start.
    pub(super) fn path_at(&self, t: f64) -> (f64, f64) {
        match self {
            Self::Joint(plan) => plan.path_at(t),
            Self::Path { path, .. } => path.profile.at(t),
        }
    }

    /// Joint positions and velocities at `s` moving at `rate`.
    pub(super) fn joints_at(&self, s: f64, rate: f64) -> (Joints, Joints) {
        match self {
            Self::Joint(plan) => plan.joints_at(s, rate),
            Self::Path { path, .. } => sample_at(path, s, rate),
        }
    }

    /// Progress 0 to 1: a joint move projects the measured joints on the move. A path
    /// followed by our setpoints counts the commanded `s`; a path a controller runs itself
    /// (ROS goal, Modbus `movel`) counts the sample the measured joints have reached, so
    /// that the record says where the arm really is.
    pub(super) fn progress_of(&mut self, measured: &[f64], commanded_s: f64, tracks: bool) -> f64 {
        match self {
            Self::Joint(plan) => plan.progress_of(measured),
            Self::Path { .. } if tracks => commanded_s.clamp(0.0, 1.0),
            Self::Path { path, cursor, .. } => {
                // Forward while the next sample is nearer: a few steps a cycle, no allocation.
                let gap = |k: usize| {
                    path.samples.get(k).map_or(f64::INFINITY, |p| {
                        p.joints
                            .iter()
                            .zip(measured)
                            .map(|(a, b)| (a - b).abs())
                            .fold(0.0, f64::max)
                    })
                };
                while gap(*cursor + 1) < gap(*cursor) {
                    *cursor += 1;
                }
                path.samples.get(*cursor).map_or(0.0, |p| p.s)
            }
        }
    }

    /// The deceleration of `s` for a controlled stop.
    pub(super) fn stop_accel(&self) -> f64 {
        match self {
            Self::Joint(plan) => plan.stop_accel,
            Self::Path { path, .. } => path.stop_accel,
        }
    }

    /// The final joints.
    pub(super) fn target(&self) -> Joints {
        match self {
            Self::Joint(plan) => plan.target,
            Self::Path { target, .. } => *target,
        }
    }

    /// The speed fraction.
    pub(super) fn speed(&self) -> f64 {
        match self {
            Self::Joint(plan) => plan.speed,
            Self::Path { speed, .. } => *speed,
        }
    }

    /// The sampled path, to hand back when the motion ends.
    pub(super) fn into_path(self) -> Option<Arc<LinearPath>> {
        match self {
            Self::Joint(_) => None,
            Self::Path { path, .. } => Some(path),
        }
    }
}

/// The joints at `s` between the two samples around it, and their velocity at `rate`:
/// a binary search and a linear blend, no allocation.
fn sample_at(path: &LinearPath, s: f64, rate: f64) -> (Joints, Joints) {
    let samples = &path.samples;
    let k = samples.partition_point(|p| p.s <= s);
    let (a, b) = match (
        k.checked_sub(1).and_then(|i| samples.get(i)),
        samples.get(k),
    ) {
        (Some(a), Some(b)) => (a, b),
        // Before the first sample or past the last: hold that end, still.
        (None, Some(only)) | (Some(only), None) => {
            return (only.joints, Joints::zeros(only.joints.len()))
        }
        (None, None) => return (Joints::zeros(0), Joints::zeros(0)),
    };
    let ds = b.s - a.s;
    let f = if ds > 0.0 {
        ((s - a.s) / ds).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (mut q, mut qd) = (a.joints, a.joints);
    for i in 0..q.len() {
        let d = b.joints[i] - a.joints[i];
        q[i] = a.joints[i] + d * f;
        qd[i] = if ds > 0.0 { d / ds * rate } else { 0.0 };
    }
    (q, qd)
}

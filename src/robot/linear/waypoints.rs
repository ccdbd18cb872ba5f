//! A sampled line thinned to the waypoints of one trajectory goal, for a controller that
//! interpolates between points itself (a ROS `FollowJointTrajectory` controller).
//!
//! The executor's samples are one cycle apart (500 a second): far more than a goal needs.
//! Waypoints are kept at a regular stride, halved until joint-space interpolation between
//! neighbours keeps the TCP within the tolerance of where the line puts it at every sample.

use super::LinearPath;
use crate::robot::{Joints, Kinematics};

/// How far (m) interpolation between waypoints may take the TCP from the line: half of
/// the 1 mm a line is held to, the rest left to the controller's own interpolation.
pub const WAYPOINT_TOLERANCE: f64 = 0.0005;
/// Waypoints per second of motion at first: as many as a joint move's goal carries.
const START_PER_SECOND: f64 = 25.0;

/// One point of a trajectory goal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Waypoint {
    /// Seconds from the start of the motion.
    pub t: f64,
    /// The joints there (rad).
    pub positions: Joints,
    /// Their velocities there (rad/s).
    pub velocities: Joints,
}

impl LinearPath {
    /// The waypoints of one goal: every stride-th sample and the last, the stride the
    /// largest (from 25 points a second down to every sample) that keeps the TCP within
    /// `tolerance` (m) of the line between waypoints. The first waypoint is the first
    /// sample after the start; the start is where the arm already is.
    pub fn waypoints(&self, kin: &Kinematics, tolerance: f64) -> Vec<Waypoint> {
        let n = self.samples.len();
        if n < 2 {
            return self.samples.iter().map(|p| self.waypoint(p.t, 0)).collect();
        }
        let per_second = (1.0 / self.dt.max(1e-6)).max(1.0);
        let mut stride = ((per_second / START_PER_SECOND).round() as usize).max(1);
        loop {
            let kept = kept_indices(n, stride);
            if stride == 1 || self.deviation(kin, &kept) <= tolerance {
                return kept
                    .iter()
                    .filter(|&&k| k > 0)
                    .map(|&k| self.waypoint(self.samples[k].t, k))
                    .collect();
            }
            stride /= 2;
        }
    }

    /// The waypoint at sample `k`: its velocity from the neighbouring samples (still at
    /// either end).
    fn waypoint(&self, t: f64, k: usize) -> Waypoint {
        let q = self.samples[k].joints;
        let mut v = Joints::zeros(q.len());
        if k > 0 && k + 1 < self.samples.len() {
            let (a, b) = (&self.samples[k - 1], &self.samples[k + 1]);
            let dt = (b.t - a.t).max(1e-9);
            for i in 0..v.len() {
                v[i] = (b.joints[i] - a.joints[i]) / dt;
            }
        }
        Waypoint {
            t,
            positions: q,
            velocities: v,
        }
    }

    /// The largest distance (m) of the TCP from where the line puts it, over every
    /// sample, when the joints are interpolated linearly between the kept samples.
    fn deviation(&self, kin: &Kinematics, kept: &[usize]) -> f64 {
        let mut worst: f64 = 0.0;
        for pair in kept.windows(2) {
            let (a, b) = (&self.samples[pair[0]], &self.samples[pair[1]]);
            for p in &self.samples[pair[0] + 1..pair[1]] {
                let f = (p.t - a.t) / (b.t - a.t).max(1e-9);
                let mut q = a.joints;
                for i in 0..q.len() {
                    q[i] += (b.joints[i] - a.joints[i]) * f;
                }
                let at = kin.tcp_transform(&q).translation.vector;
                let on_line = self.pose_at(p.s).translation.vector;
                worst = worst.max((at - on_line).norm());
            }
        }
        worst
    }
}

/// Every `stride`-th index below `n`, and the last.
fn kept_indices(n: usize, stride: usize) -> Vec<usize> {
    let mut kept: Vec<usize> = (0..n).step_by(stride).collect();
    if kept.last() != Some(&(n - 1)) {
        kept.push(n - 1);
    }
    kept
}

//! Synchronized joint-space trajectories.
//!
//! Every joint follows the same normalized path parameter `s(t)` from 0 to 1, so all
//! joints start and arrive together on a straight line in joint space. The profile of
//! `s` is a trapezoid (or a triangle for short moves) whose peak speed and acceleration
//! are the largest that keep every joint within its own limits scaled by the speed.

use super::Joints;
use crate::robot::JointSpec;

/// Moves shorter than this (rad, largest joint) are treated as already there.
const MIN_DISTANCE: f64 = 1e-9;

/// A trapezoidal profile of the path parameter `s` from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    /// Peak ds/dt reached (1/s).
    pub peak_rate: f64,
    /// d²s/dt² while accelerating and braking (1/s²).
    pub accel: f64,
    /// Duration of the acceleration phase (s).
    pub t_accel: f64,
    /// Total duration (s).
    pub duration: f64,
}

impl Profile {
    /// The fastest profile within a rate limit `v` and an acceleration limit `a`.
    pub fn new(v: f64, a: f64) -> Self {
        if v * v / a >= 1.0 {
            // Triangle: it never reaches `v`.
            let t_accel = (1.0 / a).sqrt();
            Self {
                peak_rate: a * t_accel,
                accel: a,
                t_accel,
                duration: 2.0 * t_accel,
            }
        } else {
            let t_accel = v / a;
            Self {
                peak_rate: v,
                accel: a,
                t_accel,
                duration: t_accel + 1.0 / v,
            }
        }
    }

    /// `(s, ds/dt)` at time `t` (clamped to the profile).
    pub fn at(&self, t: f64) -> (f64, f64) {
        let (a, v, ta, total) = (self.accel, self.peak_rate, self.t_accel, self.duration);
        if t <= 0.0 {
            (0.0, 0.0)
        } else if t < ta {
            (0.5 * a * t * t, a * t)
        } else if t < total - ta {
            (0.5 * a * ta * ta + v * (t - ta), v)
        } else if t < total {
            let r = total - t;
            (1.0 - 0.5 * a * r * r, a * r)
        } else {
            (1.0, 0.0)
        }
    }
}

/// A planned joint move from `start` to `target`.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Where the move starts.
    pub start: Joints,
    /// Where it ends.
    pub target: Joints,
    /// The requested speed, a fraction of the robot's limits.
    pub speed: f64,
    /// The profile of the path parameter.
    pub profile: Profile,
    /// d²s/dt² for a controlled stop: the robot's full acceleration limits.
    pub stop_accel: f64,
}

impl Plan {
    /// Plans a move; `speed` in (0, 1] scales every joint's speed and acceleration limits.
    pub fn new(joints: &[JointSpec], start: Joints, target: Joints, speed: f64) -> Self {
        let (mut rate, mut accel, mut stop_accel) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        for (i, spec) in joints.iter().enumerate().take(start.len()) {
            let d = (target[i] - start[i]).abs();
            if d > MIN_DISTANCE {
                rate = rate.min(spec.max_velocity * speed / d);
                accel = accel.min(spec.max_acceleration * speed / d);
                stop_accel = stop_accel.min(spec.max_acceleration / d);
            }
        }
        let profile = if rate.is_finite() {
            Profile::new(rate, accel)
        } else {
            Profile {
                peak_rate: 0.0,
                accel: 0.0,
                t_accel: 0.0,
                duration: 0.0,
            }
        };
        Self {
            start,
            target,
            speed,
            profile,
            stop_accel,
        }
    }

    /// Planned duration in seconds.
    pub fn duration(&self) -> f64 {
        self.profile.duration
    }

    /// `(s, ds/dt)` at `t` seconds after the start.
    pub fn path_at(&self, t: f64) -> (f64, f64) {
        self.profile.at(t)
    }

    /// Joint positions and velocities at path parameter `s` moving at `rate` = ds/dt.
    pub fn joints_at(&self, s: f64, rate: f64) -> (Joints, Joints) {
        let (mut q, mut qd) = (self.start, self.start);
        for i in 0..self.start.len() {
            let d = self.target[i] - self.start[i];
            q[i] = self.start[i] + d * s;
            qd[i] = d * rate;
        }
        (q, qd)
    }

    /// How far along the path `measured` lies, from 0 to 1: its projection on the move.
    pub fn progress_of(&self, measured: &[f64]) -> f64 {
        let (mut dot, mut norm) = (0.0, 0.0);
        for i in 0..self.start.len() {
            let d = self.target[i] - self.start[i];
            dot += (measured.get(i).copied().unwrap_or(self.start[i]) - self.start[i]) * d;
            norm += d * d;
        }
        if norm <= MIN_DISTANCE * MIN_DISTANCE {
            1.0
        } else {
            (dot / norm).clamp(0.0, 1.0)
        }
    }
}

/// A controlled stop along the planned path, braking at the robot's full acceleration.
#[derive(Debug, Clone, Copy)]
pub struct StopProfile {
    s0: f64,
    rate0: f64,
    accel: f64,
}

impl StopProfile {
    /// Brakes from path parameter `s0` moving at `rate0`, with deceleration `accel`.
    pub fn new(s0: f64, rate0: f64, accel: f64) -> Self {
        Self {
            s0,
            rate0: rate0.max(0.0),
            accel: accel.max(f64::MIN_POSITIVE),
        }
    }

    /// How long the stop takes (s).
    pub fn duration(&self) -> f64 {
        self.rate0 / self.accel
    }

    /// `(s, ds/dt)` at `tau` seconds into the stop.
    pub fn at(&self, tau: f64) -> (f64, f64) {
        // Already still (or a move of zero length, whose deceleration is infinite).
        if self.rate0 == 0.0 {
            return (self.s0.min(1.0), 0.0);
        }
        let tau = tau.clamp(0.0, self.duration());
        let s = self.s0 + self.rate0 * tau - 0.5 * self.accel * tau * tau;
        (s.min(1.0), self.rate0 - self.accel * tau)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::{RobotDefinition, BUILTIN_UR5E};

    #[test]
    fn stopping_a_move_of_zero_length_stays_put_without_nan() {
        let at = j(&[0.1, -1.0, 0.5, 0.0, 0.0, 0.0]);
        let plan = Plan::new(&ur5e(), at, at, 1.0);
        let (s, rate) = plan.path_at(0.0);
        let stop = StopProfile::new(s, rate, plan.stop_accel);
        for tau in [0.0, 0.001, 1.0] {
            let (s, rate) = stop.at(tau);
            let (q, qd) = plan.joints_at(s, rate);
            assert!(
                q.iter().chain(qd.iter()).all(|x| x.is_finite()),
                "{q:?} {qd:?}"
            );
            assert_eq!(q, at);
        }
    }

    fn ur5e() -> Vec<JointSpec> {
        RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml")
            .unwrap()
            .joints
    }

    fn j(v: &[f64]) -> Joints {
        Joints::from_slice(v).unwrap()
    }

    /// Samples a plan and returns the peak |velocity| and |acceleration| per joint.
    fn peaks(plan: &Plan, dt: f64) -> (Vec<f64>, Vec<f64>) {
        let n = plan.start.len();
        let (mut pv, mut pa) = (vec![0.0_f64; n], vec![0.0_f64; n]);
        let mut prev_v = Joints::zeros(n);
        let steps = (plan.duration() / dt).ceil() as usize + 2;
        for k in 0..=steps {
            let (s, r) = plan.path_at(k as f64 * dt);
            let (_, v) = plan.joints_at(s, r);
            for i in 0..n {
                pv[i] = pv[i].max(v[i].abs());
                if k > 0 {
                    pa[i] = pa[i].max(((v[i] - prev_v[i]) / dt).abs());
                }
            }
            prev_v = v;
        }
        (pv, pa)
    }

    #[test]
    fn every_joint_stays_within_its_scaled_limits() {
        let joints = ur5e();
        for speed in [0.1, 0.25, 1.0] {
            let plan = Plan::new(
                &joints,
                j(&[0.0, -1.57, 0.0, -1.57, 0.0, 0.0]),
                j(&[2.5, -0.5, 1.2, -2.0, 1.0, -3.0]),
                speed,
            );
            let (pv, pa) = peaks(&plan, 1e-4);
            for (i, spec) in joints.iter().enumerate() {
                assert!(
                    pv[i] <= spec.max_velocity * speed + 1e-9,
                    "joint {i} v {} at speed {speed}",
                    pv[i]
                );
                assert!(
                    pa[i] <= spec.max_acceleration * speed * 1.001,
                    "joint {i} a {} at speed {speed}",
                    pa[i]
                );
            }
            // The limiting joint (6, the longest move) reaches its speed limit.
            assert!(
                (pv[5] - joints[5].max_velocity * speed).abs() < 1e-6
                    || plan.profile.peak_rate < plan.profile.accel * plan.profile.t_accel + 1e-9
            );
        }
    }

    #[test]
    fn all_joints_arrive_together() {
        let joints = ur5e();
        let start = j(&[0.0, -1.57, 0.0, -1.57, 0.0, 0.0]);
        let target = j(&[0.3, -0.5, 1.2, -2.0, 0.1, 0.0]);
        let plan = Plan::new(&joints, start, target, 0.5);
        let t = plan.duration();
        // At every instant each joint has covered the same fraction of its own distance.
        for k in 1..10 {
            let (s, r) = plan.path_at(t * k as f64 / 10.0);
            let (q, _) = plan.joints_at(s, r);
            for i in 0..5 {
                let frac = (q[i] - start[i]) / (target[i] - start[i]);
                assert!((frac - s).abs() < 1e-12);
            }
        }
        let (s, r) = plan.path_at(t);
        assert_eq!((s, r), (1.0, 0.0));
        assert_eq!(plan.joints_at(s, r).0, target);
    }

    #[test]
    fn known_duration_of_a_single_joint_move() {
        // 2 rad at speed 0.5: v = π/2, a = 2; t_acc = 0.785 s; T = t_acc + d / v.
        let joints = ur5e();
        let plan = Plan::new(
            &joints,
            Joints::zeros(6),
            j(&[2.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            0.5,
        );
        let v = std::f64::consts::PI / 2.0;
        assert!(
            (plan.duration() - (v / 2.0 + 2.0 / v)).abs() < 1e-9,
            "{}",
            plan.duration()
        );
        // A zero-length move takes no time.
        assert_eq!(
            Plan::new(&joints, Joints::zeros(6), Joints::zeros(6), 0.5).duration(),
            0.0
        );
    }

    #[test]
    fn a_controlled_stop_decelerates_and_does_not_jump() {
        let joints = ur5e();
        let plan = Plan::new(
            &joints,
            Joints::zeros(6),
            j(&[3.0, 0.0, 0.0, 0.0, 0.0, 0.0]),
            1.0,
        );
        let (s0, r0) = plan.path_at(plan.duration() / 2.0);
        let stop = StopProfile::new(s0, r0, plan.stop_accel);
        assert_eq!(stop.at(0.0), (s0, r0));
        let (s_end, r_end) = stop.at(stop.duration());
        assert!(r_end.abs() < 1e-12 && s_end > s0 && s_end <= 1.0);
        // Braking at 4 rad/s² from π rad/s takes π/4 s.
        assert!((stop.duration() - std::f64::consts::PI / 4.0).abs() < 1e-9);
    }

    #[test]
    fn progress_is_the_projection_on_the_move() {
        let joints = ur5e();
        let plan = Plan::new(
            &joints,
            Joints::zeros(6),
            j(&[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
            0.5,
        );
        assert_eq!(plan.progress_of(&[0.5, 0.5, 0.0, 0.0, 0.0, 0.0]), 0.5);
        assert_eq!(plan.progress_of(&[-1.0, 0.0, 0.0, 0.0, 0.0, 0.0]), 0.0);
        assert_eq!(plan.progress_of(&[2.0, 2.0, 0.0, 0.0, 0.0, 0.0]), 1.0);
    }
}

//! Straight-line TCP moves, planned and sampled to joint space before the motion starts
//! (never on the real-time thread).
//!
//! The TCP runs along the segment from its start to the target position while its
//! orientation turns by slerp, both driven by one path parameter `s` from 0 to 1 with the
//! same trapezoidal profile as a joint move. The profile's peak rate and acceleration are
//! the largest that keep the TCP under its speed cap, the orientation under its turn rate,
//! and every joint under its own limits, all scaled by the requested speed fraction.
//!
//! The result is a [`LinearPath`]: joint samples every executor cycle (`t = k·dt`), each
//! solved by inverse kinematics from the one before, so the TCP is on the line at every
//! sample. How an executor follows it:
//! - each cycle `k` it commands `samples[k].joints` (velocity from the neighbouring
//!   samples); after the last sample it holds the end;
//! - progress is `samples[k].s`, the fraction of the line covered;
//! - a stop brakes along the path: from the current `s` and `ds/dt`, a
//!   [`StopProfile`](crate::robot::StopProfile) with [`LinearPath::stop_accel`] gives
//!   `s(τ)`, and [`LinearPath::joints_at`] gives the joints there (interpolated between
//!   samples at most one cycle apart), so the TCP stays on the line while it decelerates.

mod relative;
mod waypoints;

#[cfg(test)]
mod tests;

use nalgebra::{Isometry3, Translation3};

pub use relative::{Frame, RelativeError, RelativeMove};
pub use waypoints::{Waypoint, WAYPOINT_TOLERANCE};

use super::{IkError, JointSpec, Joints, Kinematics, Profile};

/// The default TCP speed cap (m/s), as UR's default tool speed for `movel`.
pub const DEFAULT_TCP_SPEED: f64 = 0.25;
/// The default TCP acceleration (m/s²), UR's `movel` default.
pub const DEFAULT_TCP_ACCELERATION: f64 = 1.2;
/// The default cap on how fast the tool's orientation turns (rad/s), about 60 °/s.
pub const DEFAULT_TURN_SPEED: f64 = 1.05;
/// The default angular acceleration of the tool's orientation (rad/s²).
pub const DEFAULT_TURN_ACCELERATION: f64 = 3.0;

/// Grid of the planning pass: at most this far apart along the line (m) …
const GRID_STEP: f64 = 0.002;
/// … and in orientation (rad).
const GRID_TURN: f64 = 0.005;
/// A joint that moves more than this between neighbouring grid points (rad) has jumped to
/// another branch of the inverse kinematics.
const JUMP: f64 = 0.25;
/// How many times the timing is tightened when curvature pushes a joint over its limit.
const RETIME_TRIES: usize = 6;

/// The caps a linear move runs under, before the speed fraction scales them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearLimits {
    /// TCP speed cap (m/s).
    pub tcp_speed: f64,
    /// TCP acceleration (m/s²).
    pub tcp_acceleration: f64,
    /// How fast the orientation may turn (rad/s).
    pub turn_speed: f64,
    /// Angular acceleration of the orientation (rad/s²).
    pub turn_acceleration: f64,
    /// Samples per second: the executor's cycle rate.
    pub sample_hz: f64,
}

impl Default for LinearLimits {
    fn default() -> Self {
        Self {
            tcp_speed: DEFAULT_TCP_SPEED,
            tcp_acceleration: DEFAULT_TCP_ACCELERATION,
            turn_speed: DEFAULT_TURN_SPEED,
            turn_acceleration: DEFAULT_TURN_ACCELERATION,
            sample_hz: 500.0,
        }
    }
}

/// One sample of a planned path: at time `t` the path is at `s` with these joints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathSample {
    /// Seconds from the start.
    pub t: f64,
    /// Fraction of the path covered, 0 to 1.
    pub s: f64,
    /// The joints there.
    pub joints: Joints,
}

/// A planned straight-line move, sampled to joint space every cycle.
#[derive(Debug, Clone)]
pub struct LinearPath {
    /// The TCP where the move starts (base frame).
    pub start: Isometry3<f64>,
    /// The TCP where it ends.
    pub end: Isometry3<f64>,
    /// Length of the line (m).
    pub length: f64,
    /// How far the orientation turns (rad).
    pub turn: f64,
    /// The profile of `s` over time.
    pub profile: Profile,
    /// d²s/dt² for a controlled stop: the full (unscaled) limits.
    pub stop_accel: f64,
    /// Time between samples (s).
    pub dt: f64,
    /// The samples, `t = k·dt`, the last at the end of the move.
    pub samples: Vec<PathSample>,
    /// The highest TCP speed between samples (m/s).
    pub peak_tcp_speed: f64,
    /// The line as one trajectory goal's points, for a backend whose controller
    /// interpolates itself (empty for one that follows the samples).
    pub waypoints: Vec<Waypoint>,
}

/// Why a linear move cannot be planned; `fraction` says where along the line (0 to 1).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The robot file gives no kinematics.
    #[error("the robot definition has no [kinematics], so it cannot move in straight lines")]
    NoKinematics,
    /// Start joints (or joint limits) of the wrong count.
    #[error("{given} joint values given; the robot has {expected} joints")]
    WrongCount {
        /// How many were given.
        given: usize,
        /// How many the kinematics has.
        expected: usize,
    },
    /// A speed fraction outside (0, 1].
    #[error("speed {0} is outside (0, 1]: give a fraction of the robot's maximum speed")]
    Speed(f64),
    /// A point of the line has no joint solution within the ranges.
    #[error("{:.0} % of the way: {source}", fraction * 100.0)]
    Unreachable {
        /// Where along the line.
        fraction: f64,
        /// What the solver found.
        source: IkError,
    },
    /// Along the line the joints curve too sharply to keep within their limits.
    #[error(
        "{:.0} % of the way, the line turns joint {index} ({name}) too sharply to stay within its limits: the path passes next to a singularity",
        fraction * 100.0
    )]
    Curvature {
        /// Where along the line.
        fraction: f64,
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The joints there.
        at: Joints,
    },
    /// Staying on the line would need a joint to jump: a change of arm configuration.
    #[error(
        "{:.0} % of the way, staying on the line needs joint {index} ({name}) to jump {step:.2} rad: the arm would have to change its configuration",
        fraction * 100.0
    )]
    Jump {
        /// Where along the line.
        fraction: f64,
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The jump (rad).
        step: f64,
        /// The joints just before it.
        before: Joints,
    },
}

impl LinearPath {
    /// Planned duration (s).
    pub fn duration(&self) -> f64 {
        self.profile.duration
    }

    /// The TCP on the line at fraction `s`: position along the segment, orientation by slerp.
    pub fn pose_at(&self, s: f64) -> Isometry3<f64> {
        line_pose(&self.start, &self.end, s)
    }

    /// The joints at fraction `s`, interpolated between the two samples around it.
    pub fn joints_at(&self, s: f64) -> Joints {
        let k = self.samples.partition_point(|p| p.s <= s);
        let (Some(b), Some(a)) = (
            self.samples.get(k),
            k.checked_sub(1).and_then(|i| self.samples.get(i)),
        ) else {
            return self
                .samples
                .last()
                .map(|p| p.joints)
                .unwrap_or(Joints::zeros(0));
        };
        let f = if b.s > a.s {
            (s - a.s) / (b.s - a.s)
        } else {
            0.0
        };
        let mut q = a.joints;
        for i in 0..q.len() {
            q[i] += (b.joints[i] - a.joints[i]) * f;
        }
        q
    }
}

fn line_pose(start: &Isometry3<f64>, end: &Isometry3<f64>, s: f64) -> Isometry3<f64> {
    let p = start.translation.vector.lerp(&end.translation.vector, s);
    let r = start.rotation.slerp(&end.rotation, s);
    Isometry3::from_parts(Translation3::from(p), r)
}

/// Plans the TCP's straight line from `start` joints to `target` at `speed` (a fraction in
/// (0, 1]) under `limits` and the joints' own limits.
pub fn plan_linear(
    kin: &Kinematics,
    joints: &[JointSpec],
    start: &Joints,
    target: &Isometry3<f64>,
    speed: f64,
    limits: &LinearLimits,
) -> Result<LinearPath, PlanError> {
    if !(speed.is_finite() && speed > 0.0 && speed <= 1.0) {
        return Err(PlanError::Speed(speed));
    }
    if start.len() != kin.dof() || joints.len() != kin.dof() {
        return Err(PlanError::WrongCount {
            given: start.len(),
            expected: kin.dof(),
        });
    }
    let from = kin.tcp_transform(start);
    let length = (target.translation.vector - from.translation.vector).norm();
    let turn = from.rotation.angle_to(&target.rotation);

    // Planning pass: the joints on a fine grid give how fast each joint turns per unit of s.
    let n = ((length / GRID_STEP).max(turn / GRID_TURN).ceil() as usize).max(1);
    let mut slope = vec![0.0_f64; start.len()];
    let mut prev = *start;
    for k in 1..=n {
        let s = k as f64 / n as f64;
        let q = solve(kin, joints, &line_pose(&from, target, s), &prev, s)?;
        for (i, spec) in joints.iter().enumerate() {
            let step = (q[i] - prev[i]).abs();
            if step > JUMP {
                return Err(PlanError::Jump {
                    fraction: s,
                    index: i + 1,
                    name: spec.name.clone(),
                    step,
                    before: prev,
                });
            }
            slope[i] = slope[i].max(step * n as f64);
        }
        prev = q;
    }

    // The fastest profile of s under every cap: the TCP's, the orientation's, each joint's.
    let per = |cap: f64, extent: f64| {
        if extent > 1e-12 {
            cap / extent
        } else {
            f64::INFINITY
        }
    };
    let mut rate = per(limits.tcp_speed, length).min(per(limits.turn_speed, turn));
    let mut accel = per(limits.tcp_acceleration, length).min(per(limits.turn_acceleration, turn));
    let mut stop_accel = accel;
    for (spec, d) in joints.iter().zip(&slope) {
        rate = rate.min(per(spec.max_velocity, *d));
        accel = accel.min(per(spec.max_acceleration, *d));
        stop_accel = stop_accel.min(per(spec.max_acceleration, *d));
    }
    let dt = 1.0 / limits.sample_hz;
    if !rate.is_finite() {
        // Nothing to do: already there.
        let p = PathSample {
            t: 0.0,
            s: 1.0,
            joints: *start,
        };
        return Ok(LinearPath {
            start: from,
            end: *target,
            length,
            turn,
            profile: Profile {
                peak_rate: 0.0,
                accel: 0.0,
                t_accel: 0.0,
                duration: 0.0,
            },
            stop_accel: f64::INFINITY,
            dt,
            samples: vec![p],
            peak_tcp_speed: 0.0,
            waypoints: Vec::new(),
        });
    }
    let (mut rate, mut accel) = (rate * speed, accel * speed);

    // Sampling pass, tightened while curvature takes a joint over its scaled limit.
    let mut worst = (0.0, 0, *start);
    for _ in 0..RETIME_TRIES {
        let profile = Profile::new(rate, accel);
        let samples = sample(kin, joints, &from, target, start, &profile, dt)?;
        let (over, at, index) = overshoot(&samples, joints, speed, dt);
        if over <= 1.0 {
            let peak_tcp_speed = samples
                .windows(2)
                .map(|w| (w[1].s - w[0].s) * length / (w[1].t - w[0].t).max(1e-12))
                .fold(0.0, f64::max);
            return Ok(LinearPath {
                start: from,
                end: *target,
                length,
                turn,
                profile,
                stop_accel,
                dt,
                samples,
                peak_tcp_speed,
                waypoints: Vec::new(),
            });
        }
        worst = (samples[at].s, index, samples[at].joints);
        rate /= over * 1.02;
        accel /= over * over * 1.02;
    }
    // Still over after tightening: the joints curve too sharply along the line, which
    // happens only beside a singularity.
    Err(PlanError::Curvature {
        fraction: worst.0,
        index: worst.1 + 1,
        name: joints[worst.1].name.clone(),
        at: worst.2,
    })
}

fn solve(
    kin: &Kinematics,
    joints: &[JointSpec],
    pose: &Isometry3<f64>,
    near: &Joints,
    s: f64,
) -> Result<Joints, PlanError> {
    kin.inverse(pose, near, joints)
        .map_err(|source| PlanError::Unreachable {
            fraction: s,
            source,
        })
}

/// Samples the line every `dt` along `profile`, each by IK from the one before.
fn sample(
    kin: &Kinematics,
    joints: &[JointSpec],
    from: &Isometry3<f64>,
    target: &Isometry3<f64>,
    start: &Joints,
    profile: &Profile,
    dt: f64,
) -> Result<Vec<PathSample>, PlanError> {
    let steps = (profile.duration / dt).ceil() as usize;
    let mut out = Vec::with_capacity(steps + 1);
    out.push(PathSample {
        t: 0.0,
        s: 0.0,
        joints: *start,
    });
    let mut prev = *start;
    for k in 1..=steps {
        let t = (k as f64 * dt).min(profile.duration);
        let (s, _) = profile.at(t);
        let q = solve(kin, joints, &line_pose(from, target, s), &prev, s)?;
        out.push(PathSample { t, s, joints: q });
        prev = q;
    }
    Ok(out)
}

/// The largest ratio of a joint's speed (or the root of its acceleration's) between
/// samples to its scaled limit, at most 1 when every joint is within its limits; with the
/// sample and the joint where it is largest.
fn overshoot(
    samples: &[PathSample],
    joints: &[JointSpec],
    speed: f64,
    dt: f64,
) -> (f64, usize, usize) {
    let mut worst = (0.0_f64, 0, 0);
    let mut note = |ratio: f64, k: usize, i: usize| {
        if ratio > worst.0 {
            worst = (ratio, k, i);
        }
    };
    let mut prev_v: Option<Vec<f64>> = None;
    for (k, w) in samples.windows(2).enumerate() {
        let h = (w[1].t - w[0].t).max(1e-12);
        let v: Vec<f64> = (0..w[0].joints.len())
            .map(|i| (w[1].joints[i] - w[0].joints[i]) / h)
            .collect();
        for (i, spec) in joints.iter().enumerate() {
            note(v[i].abs() / (spec.max_velocity * speed), k, i);
            if let Some(pv) = &prev_v {
                // Accelerations over a full cycle only: the last sample's step may be short.
                if (h - dt).abs() < 1e-9 {
                    let a = (v[i] - pv[i]).abs() / dt;
                    note((a / (spec.max_acceleration * speed)).sqrt(), k, i);
                }
            }
        }
        prev_v = Some(v);
    }
    worst
}

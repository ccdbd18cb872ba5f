//! The companion's `movel` as the simulated controller runs it: the TCP along the straight
//! segment to a pose, its orientation turning by slerp, both driven by one path parameter
//! whose rate ramps up and down within the tool speed and acceleration; each cycle the
//! joints come from the UR closed-form inverse kinematics (the crate the plugin plans
//! with), the solution nearest the last one. A stop decelerates along the same line.

use std::f64::consts::PI;

use armature_kinematics::ur::UrGeometry;
use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};

/// A straight move in progress.
#[derive(Debug, Clone)]
pub struct LinearMove {
    start: Isometry3<f64>,
    end: Isometry3<f64>,
    /// Fraction of the way covered.
    s: f64,
    /// ds/dt now, its cap and its acceleration.
    rate: f64,
    peak: f64,
    accel: f64,
    stopping: bool,
    /// The joints commanded last.
    joints: [f64; 6],
}

/// Why a `movel` cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MovelError {
    /// No joint values put the flange on a point of the line.
    Unreachable,
}

impl LinearMove {
    /// A move from the flange at `joints` to `end` at `speed` and `accel` (m/s and m/s²
    /// along the line; rad/s and rad/s² for a turn in place).
    pub fn new(
        geometry: &UrGeometry,
        joints: [f64; 6],
        end: Isometry3<f64>,
        speed: f64,
        accel: f64,
    ) -> Result<Self, MovelError> {
        let start = geometry.forward(&joints);
        if nearest(geometry, &end, &joints).is_none() {
            return Err(MovelError::Unreachable);
        }
        let length = (end.translation.vector - start.translation.vector).norm();
        let turn = start.rotation.angle_to(&end.rotation);
        // Along the line when it has a length, else along the turn.
        let span = if length > 1e-4 {
            length
        } else {
            turn.max(1e-9)
        };
        Ok(Self {
            start,
            end,
            s: 0.0,
            rate: 0.0,
            peak: speed.max(1e-6) / span,
            accel: accel.max(1e-6) / span,
            stopping: false,
            joints,
        })
    }

    /// Decelerate to a standstill on the line.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Fraction of the way covered.
    pub fn progress(&self) -> f64 {
        self.s
    }

    /// Whether the path parameter has come to rest (at the end, or stopped on the way).
    pub fn at_rest(&self) -> bool {
        self.rate == 0.0 && (self.stopping || self.s >= 1.0)
    }

    /// Advances `dt` seconds: the joints and velocities to command, or why not.
    pub fn step(
        &mut self,
        geometry: &UrGeometry,
        dt: f64,
    ) -> Result<([f64; 6], [f64; 6]), MovelError> {
        if self.stopping {
            self.rate = (self.rate - self.accel * dt).max(0.0);
        } else {
            let braking = (2.0 * self.accel * (1.0 - self.s)).max(0.0).sqrt();
            self.rate = (self.rate + self.accel * dt).min(self.peak).min(braking);
        }
        self.s = (self.s + self.rate * dt).min(1.0);
        if self.s >= 1.0 || (!self.stopping && 1.0 - self.s < 1e-9) {
            self.s = 1.0;
            self.rate = 0.0;
        }
        let p = self
            .start
            .translation
            .vector
            .lerp(&self.end.translation.vector, self.s);
        let r = self.start.rotation.slerp(&self.end.rotation, self.s);
        let pose = Isometry3::from_parts(Translation3::from(p), r);
        let q = nearest(geometry, &pose, &self.joints).ok_or(MovelError::Unreachable)?;
        let mut v = [0.0; 6];
        if dt > 0.0 {
            for ((v, q), was) in v.iter_mut().zip(&q).zip(&self.joints) {
                *v = (q - was) / dt;
            }
        }
        self.joints = q;
        Ok((q, v))
    }
}

/// A pose from UR's `p[x, y, z, rx, ry, rz]` (metres, rotation vector in radians).
pub fn pose_from_array(p: [f64; 6]) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(p[0], p[1], p[2]),
        UnitQuaternion::from_scaled_axis(Vector3::new(p[3], p[4], p[5])),
    )
}

/// A pose as UR's `p[x, y, z, rx, ry, rz]`.
pub fn pose_to_array(pose: &Isometry3<f64>) -> [f64; 6] {
    let (t, r) = (pose.translation.vector, pose.rotation.scaled_axis());
    [t.x, t.y, t.z, r.x, r.y, r.z]
}

/// The solution for the flange at `pose` nearest `near`, each joint taken within π of its
/// value in `near` (so that it never winds a full turn).
fn nearest(geometry: &UrGeometry, pose: &Isometry3<f64>, near: &[f64; 6]) -> Option<[f64; 6]> {
    geometry
        .solve(pose, near[5])
        .into_iter()
        .map(|mut q| {
            for (x, n) in q.iter_mut().zip(near) {
                *x += ((n - *x) / (2.0 * PI)).round() * 2.0 * PI;
            }
            q
        })
        .min_by(|a, b| distance(a, near).total_cmp(&distance(b, near)))
}

fn distance(a: &[f64; 6], b: &[f64; 6]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use armature_kinematics::DhParameters;

    fn ur5e() -> UrGeometry {
        let dh = DhParameters {
            d: vec![0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996],
            a: vec![0.0, -0.425, -0.3922, 0.0, 0.0, 0.0],
            alpha: vec![PI / 2.0, 0.0, 0.0, PI / 2.0, -PI / 2.0, 0.0],
        };
        UrGeometry::from_dh(&dh).unwrap()
    }

    #[test]
    fn a_movel_keeps_the_flange_on_the_line_and_ends_at_the_pose() {
        let g = ur5e();
        let ready = [0.0, -PI / 2.0, PI / 2.0, -PI / 2.0, -PI / 2.0, 0.0];
        let start = g.forward(&ready);
        let end = Isometry3::from_parts(
            Translation3::from(start.translation.vector + Vector3::new(0.1, 0.0, 0.1)),
            start.rotation,
        );
        let mut m = LinearMove::new(&g, ready, end, 0.25, 1.2).unwrap();
        let (a, b) = (start.translation.vector, end.translation.vector);
        let mut steps = 0;
        while !m.at_rest() {
            let (q, _) = m.step(&g, 0.002).unwrap();
            let p = g.forward(&q).translation.vector;
            let t = ((p - a).dot(&(b - a)) / (b - a).norm_squared()).clamp(0.0, 1.0);
            assert!((p - (a + (b - a) * t)).norm() < 1e-6);
            steps += 1;
            assert!(steps < 10_000);
        }
        let at = g.forward(&m.joints);
        assert!((at.translation.vector - b).norm() < 1e-9);
        // 0.14 m at 0.25 m/s and 1.2 m/s²: about 0.77 s.
        assert!((steps as f64 * 0.002 - 0.77).abs() < 0.05, "{steps}");
    }
}

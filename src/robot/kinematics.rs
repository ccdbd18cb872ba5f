//! Forward kinematics from standard Denavit–Hartenberg parameters.

use serde::{Deserialize, Serialize};

/// Standard DH parameters, one entry per joint (metres and radians).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DhParameters {
    /// Link offsets along the previous z axis.
    pub d: Vec<f64>,
    /// Link lengths along the new x axis.
    pub a: Vec<f64>,
    /// Link twists about the new x axis.
    pub alpha: Vec<f64>,
}

/// Tool centre point pose in the base frame: position (m) and rotation vector (rad),
/// the same convention as a UR pendant's `p[x, y, z, rx, ry, rz]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct TcpPose {
    /// x (m).
    pub x: f64,
    /// y (m).
    pub y: f64,
    /// z (m).
    pub z: f64,
    /// Rotation vector x (rad).
    pub rx: f64,
    /// Rotation vector y (rad).
    pub ry: f64,
    /// Rotation vector z (rad).
    pub rz: f64,
}

type Mat4 = [[f64; 4]; 4];

fn mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [[0.0; 4]; 4];
    for (i, row) in out.iter_mut().enumerate() {
        for (j, cell) in row.iter_mut().enumerate() {
            *cell = (0..4).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

impl DhParameters {
    /// The TCP pose for the given joint angles (extra or missing joints are ignored).
    pub fn forward(&self, joints: &[f64]) -> TcpPose {
        let mut t: Mat4 = [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
        ];
        for (i, &q) in joints.iter().enumerate().take(self.d.len()) {
            let (st, ct) = q.sin_cos();
            let (sa, ca) = self.alpha[i].sin_cos();
            let link = [
                [ct, -st * ca, st * sa, self.a[i] * ct],
                [st, ct * ca, -ct * sa, self.a[i] * st],
                [0.0, sa, ca, self.d[i]],
                [0.0, 0.0, 0.0, 1.0],
            ];
            t = mul(&t, &link);
        }
        let (rx, ry, rz) = rotation_vector(&t);
        TcpPose {
            x: t[0][3],
            y: t[1][3],
            z: t[2][3],
            rx,
            ry,
            rz,
        }
    }
}

/// Axis–angle of a rotation matrix, as a vector whose length is the angle.
fn rotation_vector(t: &Mat4) -> (f64, f64, f64) {
    let trace = t[0][0] + t[1][1] + t[2][2];
    let angle = ((trace - 1.0) / 2.0).clamp(-1.0, 1.0).acos();
    if angle < 1e-9 {
        return (0.0, 0.0, 0.0);
    }
    if (std::f64::consts::PI - angle) < 1e-6 {
        // Near 180°, the skew part vanishes; take the axis from the diagonal.
        let x = ((t[0][0] + 1.0) / 2.0).max(0.0).sqrt();
        let y = ((t[1][1] + 1.0) / 2.0)
            .max(0.0)
            .sqrt()
            .copysign(t[0][1] + t[1][0]);
        let z = ((t[2][2] + 1.0) / 2.0)
            .max(0.0)
            .sqrt()
            .copysign(t[0][2] + t[2][0]);
        return (x * angle, y * angle, z * angle);
    }
    let k = angle / (2.0 * angle.sin());
    (
        k * (t[2][1] - t[1][2]),
        k * (t[0][2] - t[2][0]),
        k * (t[1][0] - t[0][1]),
    )
}

#[cfg(test)]
mod tests {
    use crate::robot::{RobotDefinition, BUILTIN_UR5E};

    #[test]
    fn ur5e_zero_pose_matches_the_dh_table() {
        let r = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
        let p = r.kinematics.unwrap().forward(&[0.0; 6]);
        // All joints at zero: arm stretched along -x; z = d1 - d5; y = -(d4 + d6).
        assert!((p.x - (-0.425 - 0.3922)).abs() < 1e-9, "x {}", p.x);
        assert!((p.y - (-(0.1333 + 0.0996))).abs() < 1e-9, "y {}", p.y);
        assert!((p.z - (0.1625 - 0.0997)).abs() < 1e-9, "z {}", p.z);
    }

    #[test]
    fn ur5e_home_is_upright() {
        let r = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
        let p = r.kinematics.as_ref().unwrap().forward(r.home());
        // Upright: the tool sits above the base at d1 + a2 + a3 + d5 high.
        assert!(
            (p.z - (0.1625 + 0.425 + 0.3922 + 0.0997)).abs() < 1e-9,
            "z {}",
            p.z
        );
    }
}

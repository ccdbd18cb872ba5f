//! Closed-form inverse kinematics of the Universal Robots family (UR3/5/10/16/20/30, CB3
//! and e-Series), after K. P. Hawkins, "Analytic Inverse Kinematics for the Universal
//! Robots UR-5/UR-10 Arms" (2013): three parallel middle axes and a spherical-offset
//! wrist give up to eight solutions, one per shoulder, elbow and wrist choice.

use std::f64::consts::{FRAC_PI_2, PI};

use nalgebra::{Isometry3, Matrix3, Matrix4, Rotation3, Translation3, UnitQuaternion, Vector4};
use serde::Serialize;

use crate::DhParameters;

/// Which way a joint-space branch bends, from the signs of its singular factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bend {
    /// The factor is positive.
    Positive,
    /// The factor is negative.
    Negative,
}

impl Bend {
    fn of(v: f64) -> Self {
        if v >= 0.0 {
            Self::Positive
        } else {
            Self::Negative
        }
    }
}

/// The arm's configuration: the shoulder, elbow and wrist choices of the eight UR
/// solutions. Moving from one to another needs a pass through a singularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ArmConfig {
    /// Which side of the base axis the wrist is on (the shoulder singularity divides them).
    pub shoulder: Bend,
    /// Elbow up or down (sin of the elbow angle; the stretched arm divides them).
    pub elbow: Bend,
    /// Wrist flipped or not (sin of wrist 2; the aligned wrist divides them).
    pub wrist: Bend,
}

impl ArmConfig {
    /// The first of shoulder, elbow and wrist that differs, for messages.
    pub fn first_difference(&self, other: &ArmConfig) -> Option<&'static str> {
        if self.shoulder != other.shoulder {
            Some("shoulder")
        } else if self.elbow != other.elbow {
            Some("elbow")
        } else if self.wrist != other.wrist {
            Some("wrist")
        } else {
            None
        }
    }
}

/// The UR family's six DH lengths (m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UrGeometry {
    d1: f64,
    a2: f64,
    a3: f64,
    d4: f64,
    d5: f64,
    d6: f64,
}

/// The three factors whose product (with a2·a3) is det J of a UR arm; each vanishes at
/// one singularity: shoulder (wrist centre on the base axis), elbow (arm stretched),
/// wrist (axes 4 and 6 aligned).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SingularFactors {
    pub shoulder: f64,
    pub elbow: f64,
    pub wrist: f64,
}

fn dh(theta: f64, d: f64, a: f64, alpha: f64) -> Matrix4<f64> {
    let (st, ct) = theta.sin_cos();
    let (sa, ca) = alpha.sin_cos();
    Matrix4::new(
        ct,
        -st * ca,
        st * sa,
        a * ct,
        st,
        ct * ca,
        -ct * sa,
        a * st,
        0.0,
        sa,
        ca,
        d,
        0.0,
        0.0,
        0.0,
        1.0,
    )
}

/// An angle wrapped into (-π, π].
pub fn wrap(a: f64) -> f64 {
    let w = a.rem_euclid(2.0 * PI);
    if w > PI {
        w - 2.0 * PI
    } else {
        w
    }
}

/// Inverse of a rigid 4×4 transform.
fn rigid_inverse(m: &Matrix4<f64>) -> Matrix4<f64> {
    let r = m.fixed_view::<3, 3>(0, 0).transpose();
    let t = -(r * m.fixed_view::<3, 1>(0, 3));
    let mut out = Matrix4::identity();
    out.fixed_view_mut::<3, 3>(0, 0).copy_from(&r);
    out.fixed_view_mut::<3, 1>(0, 3).copy_from(&t);
    out
}

impl UrGeometry {
    /// The UR geometry of DH parameters that have UR's structure, else `None`.
    pub fn from_dh(p: &DhParameters) -> Option<Self> {
        const EPS: f64 = 1e-9;
        let alpha = [FRAC_PI_2, 0.0, 0.0, FRAC_PI_2, -FRAC_PI_2, 0.0];
        let shaped = p.d.len() == 6
            && p.alpha.iter().zip(alpha).all(|(a, b)| (a - b).abs() < EPS)
            && [p.a[0], p.a[3], p.a[4], p.a[5], p.d[1], p.d[2]]
                .iter()
                .all(|v| v.abs() < EPS)
            && p.a[1].abs() > EPS
            && p.a[2].abs() > EPS
            && p.d[5].abs() > EPS;
        shaped.then_some(Self {
            d1: p.d[0],
            a2: p.a[1],
            a3: p.a[2],
            d4: p.d[3],
            d5: p.d[4],
            d6: p.d[5],
        })
    }

    /// Every solution for the flange pose `t` (angles in (-π, π]), each checked by its
    /// forward kinematics. `free6` is taken for joint 6 at a wrist singularity, where
    /// any value serves.
    pub fn solve(&self, t: &Isometry3<f64>, free6: f64) -> Vec<[f64; 6]> {
        const EPS: f64 = 1e-10;
        let g = self;
        let m = t.to_homogeneous();
        let p = m.fixed_view::<3, 1>(0, 3).into_owned();
        let z6 = m.fixed_view::<3, 1>(0, 2).into_owned();
        let p5 = p - z6 * g.d6;
        let r = p5.x.hypot(p5.y);
        let mut out = Vec::with_capacity(8);
        if r < g.d4.abs() - EPS {
            return out;
        }
        let psi = (g.d4 / r.max(EPS)).clamp(-1.0, 1.0).acos();
        let phi = p5.y.atan2(p5.x);
        for t1 in [phi + psi + FRAC_PI_2, phi - psi + FRAC_PI_2] {
            let (s1, c1) = t1.sin_cos();
            let c5 = (p.x * s1 - p.y * c1 - g.d4) / g.d6;
            if c5.abs() > 1.0 + 1e-9 {
                continue;
            }
            let a5 = c5.clamp(-1.0, 1.0).acos();
            for t5 in [a5, -a5] {
                let s5 = t5.sin();
                let t6 = if s5.abs() < 1e-9 {
                    free6
                } else {
                    // Rows 0 and 1 of R06 are the x and y columns of its inverse.
                    let y = (-m[(0, 1)] * s1 + m[(1, 1)] * c1) / s5;
                    let x = (m[(0, 0)] * s1 - m[(1, 0)] * c1) / s5;
                    y.atan2(x)
                };
                let t01 = dh(t1, g.d1, 0.0, FRAC_PI_2);
                let t45 = dh(t5, g.d5, 0.0, -FRAC_PI_2);
                let t56 = dh(t6, g.d6, 0.0, 0.0);
                let t14 = rigid_inverse(&t01) * m * rigid_inverse(&(t45 * t56));
                let p13 = (t14 * Vector4::new(0.0, -g.d4, 0.0, 1.0)).xyz();
                let n13 = p13.norm();
                let c3 = (n13 * n13 - g.a2 * g.a2 - g.a3 * g.a3) / (2.0 * g.a2 * g.a3);
                if c3.abs() > 1.0 + 1e-9 {
                    continue;
                }
                let a3 = c3.clamp(-1.0, 1.0).acos();
                for t3 in [a3, -a3] {
                    let t2 = -p13.y.atan2(-p13.x)
                        + (g.a3 * t3.sin() / n13.max(EPS)).clamp(-1.0, 1.0).asin();
                    let t12 = dh(t2, 0.0, g.a2, 0.0);
                    let t23 = dh(t3, 0.0, g.a3, 0.0);
                    let t34 = rigid_inverse(&(t12 * t23)) * t14;
                    let t4 = t34[(1, 0)].atan2(t34[(0, 0)]);
                    let q = [t1, t2, t3, t4, t5, t6].map(wrap);
                    if self.flange_error(&q, &m) < 1e-7 {
                        out.push(q);
                    }
                }
            }
        }
        out
    }

    /// Largest element difference between the flange at `q` and `m`.
    fn flange_error(&self, q: &[f64; 6], m: &Matrix4<f64>) -> f64 {
        (self.flange(q) - m).abs().max()
    }

    /// The flange transform at `q` (the DH forward kinematics).
    fn flange(&self, q: &[f64; 6]) -> Matrix4<f64> {
        let g = self;
        dh(q[0], g.d1, 0.0, FRAC_PI_2)
            * dh(q[1], 0.0, g.a2, 0.0)
            * dh(q[2], 0.0, g.a3, 0.0)
            * dh(q[3], g.d4, 0.0, FRAC_PI_2)
            * dh(q[4], g.d5, 0.0, -FRAC_PI_2)
            * dh(q[5], g.d6, 0.0, 0.0)
    }

    /// The flange pose at `q` in the base frame (the DH forward kinematics).
    pub fn forward(&self, q: &[f64; 6]) -> Isometry3<f64> {
        let m = self.flange(q);
        let r: Matrix3<f64> = m.fixed_view::<3, 3>(0, 0).into_owned();
        Isometry3::from_parts(
            Translation3::new(m[(0, 3)], m[(1, 3)], m[(2, 3)]),
            UnitQuaternion::from_rotation_matrix(&Rotation3::from_matrix_unchecked(r)),
        )
    }

    /// The singular factors at `q`.
    pub fn factors(&self, q: &[f64]) -> SingularFactors {
        let g = self;
        let (q2, q3, q4) = (q[1], q[2], q[3]);
        SingularFactors {
            // The wrist centre's distance from the base axis, along the arm's plane.
            shoulder: g.a2 * q2.cos() + g.a3 * (q2 + q3).cos() + g.d5 * (q2 + q3 + q4).sin(),
            elbow: q3.sin(),
            wrist: q[4].sin(),
        }
    }

    /// The configuration at `q`.
    pub fn config(&self, q: &[f64]) -> ArmConfig {
        let f = self.factors(q);
        ArmConfig {
            shoulder: Bend::of(f.shoulder),
            elbow: Bend::of(f.elbow),
            wrist: Bend::of(f.wrist),
        }
    }
}

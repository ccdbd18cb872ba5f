//! Forward and inverse kinematics of the robot: a serial chain from DH parameters or a
//! URDF, a TCP offset (the tool), closed-form IK for the UR family and damped least
//! squares for any other chain, manipulability and the arm's configuration.

mod chain;
mod numeric;
mod pose;

#[cfg(test)]
mod tests;

use std::path::Path;

use nalgebra::{Isometry3, Matrix6, Vector3};
use serde::Deserialize;

pub use chain::DhParameters;
pub(crate) use pose::said;
pub use pose::{angle_between, PoseError, RpyPose, TcpPose, MAX_POSE_DISTANCE};
pub use ur::{ArmConfig, Bend};

use crate::robot::{JointSpec, Joints};
// The UR closed form lives in the crate the simulator shares (its movel runs on it).
use armature_kinematics::ur::{self, UrGeometry};
use chain::{Chain, Motion};

/// The `[kinematics]` table of a robot file: DH parameters, or a URDF and the links the
/// chain runs between.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinematicsSpec {
    /// DH link offsets (m).
    #[serde(default)]
    pub d: Option<Vec<f64>>,
    /// DH link lengths (m).
    #[serde(default)]
    pub a: Option<Vec<f64>>,
    /// DH link twists (rad).
    #[serde(default)]
    pub alpha: Option<Vec<f64>>,
    /// A URDF file, relative to the robot file.
    #[serde(default)]
    pub urdf: Option<String>,
    /// The URDF link that is the base frame (default `base`).
    #[serde(default)]
    pub base_link: Option<String>,
    /// The URDF link that is the flange (default `tool0`).
    #[serde(default)]
    pub tip_link: Option<String>,
}

/// The `[tool]` table of a robot file: the TCP offset from the flange, as UR's
/// `set_tcp(p[x, y, z, rx, ry, rz])` (metres, rotation vector in radians).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolSpec {
    /// What the tool is, for messages.
    #[serde(default)]
    pub name: Option<String>,
    /// The TCP in the flange frame.
    pub tcp: [f64; 6],
}

/// A kinematics table that cannot be used; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    /// The field, e.g. `kinematics.urdf`.
    pub field: String,
    /// What is wrong, with the value.
    pub message: String,
}

/// Why no joint values reach a pose; the message names the value and the limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IkError {
    /// No joint values put the TCP there, within the arm's reach or not.
    #[error(
        "the pose is out of reach: its flange point is {distance:.3} m from the shoulder, \
         and the arm reaches at most {reach:.3} m (or cannot hold that orientation there)"
    )]
    Unreachable {
        /// Distance from the shoulder to the flange point the pose needs (m).
        distance: f64,
        /// The arm's reach from the shoulder (m).
        reach: f64,
    },
    /// Solutions exist, but each needs a joint outside its range.
    #[error(
        "the pose needs joint {index} ({name}) at {value:.3}, outside its range {min} to {max}"
    )]
    OutsideLimits {
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The value the nearest solution needs.
        value: f64,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed.
        max: f64,
    },
}

/// A robot's kinematics: chain, tool and solvers.
#[derive(Debug, Clone)]
pub struct Kinematics {
    chain: Chain,
    tcp: Isometry3<f64>,
    tool_name: Option<String>,
    ur: Option<UrGeometry>,
    source: String,
    shoulder: Vector3<f64>,
    reach: f64,
}

impl Kinematics {
    /// Kinematics from DH parameters, with no tool.
    pub fn from_dh(dh: &DhParameters) -> Self {
        Self::new(
            Chain::from_dh(dh),
            UrGeometry::from_dh(dh),
            "DH parameters".into(),
        )
    }

    /// Kinematics from URDF text between two links, whose movable joints must be `joints`.
    pub fn from_urdf(text: &str, base: &str, tip: &str, joints: &[&str]) -> Result<Self, String> {
        let robot = urdf_rs::read_from_string(text).map_err(|e| e.to_string())?;
        let chain = Chain::from_urdf(&robot, base, tip, joints)?;
        Ok(Self::new(chain, None, format!("URDF {}", robot.name)))
    }

    fn new(chain: Chain, ur: Option<UrGeometry>, source: String) -> Self {
        let (shoulder, reach) = chain.reach();
        Self {
            chain,
            tcp: Isometry3::identity(),
            tool_name: None,
            ur,
            source,
            shoulder,
            reach,
        }
    }

    /// The same kinematics with a TCP offset from the flange.
    pub fn with_tool(mut self, tcp: &TcpPose, name: Option<String>) -> Self {
        self.tcp = tcp.to_isometry();
        self.tool_name = name;
        self
    }

    /// Builds the kinematics of a robot file's `[kinematics]` and `[tool]` tables; a URDF
    /// path is taken from `dir`.
    pub fn from_spec(
        spec: &KinematicsSpec,
        tool: Option<&ToolSpec>,
        joints: &[JointSpec],
        dir: &Path,
    ) -> Result<Self, SpecError> {
        let err = |field: &str, message: String| SpecError {
            field: format!("kinematics.{field}"),
            message,
        };
        let n = joints.len();
        let kin = match (&spec.urdf, &spec.d, &spec.a, &spec.alpha) {
            (Some(_), Some(_), _, _) | (Some(_), _, Some(_), _) | (Some(_), _, _, Some(_)) => {
                return Err(err(
                    "urdf",
                    "give either a URDF or DH parameters, not both".into(),
                ));
            }
            (Some(file), None, None, None) => {
                let path = dir.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| err("urdf", format!("cannot read {}: {e}", path.display())))?;
                let names: Vec<&str> = joints.iter().map(|j| j.name.as_str()).collect();
                let base = spec.base_link.as_deref().unwrap_or("base");
                let tip = spec.tip_link.as_deref().unwrap_or("tool0");
                let mut k = Self::from_urdf(&text, base, tip, &names)
                    .map_err(|m| err("urdf", format!("{}: {m}", path.display())))?;
                k.source = format!("URDF {}", path.display());
                k
            }
            (None, Some(d), Some(a), Some(alpha)) => {
                for (name, v) in [("d", d), ("a", a), ("alpha", alpha)] {
                    if v.len() != n {
                        return Err(err(
                            name,
                            format!("{} values given; the robot has {n} joints", v.len()),
                        ));
                    }
                    if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
                        return Err(err(name, format!("{bad} is not a finite number")));
                    }
                }
                if spec.base_link.is_some() || spec.tip_link.is_some() {
                    return Err(err("base_link", "only a URDF has links to name".into()));
                }
                Self::from_dh(&DhParameters {
                    d: d.clone(),
                    a: a.clone(),
                    alpha: alpha.clone(),
                })
            }
            _ => {
                return Err(err(
                    "d",
                    "give a URDF (urdf = \"file.urdf\") or all three of d, a and alpha".into(),
                ))
            }
        };
        let Some(tool) = tool else {
            return Ok(kin);
        };
        let tcp = TcpPose::from_array(tool.tcp);
        tcp.check().map_err(|e| SpecError {
            field: "tool.tcp".into(),
            message: e.to_string(),
        })?;
        Ok(kin.with_tool(&tcp, tool.name.clone()))
    }

    /// Number of joints.
    pub fn dof(&self) -> usize {
        self.chain.dof()
    }

    /// Where the kinematics came from, e.g. "DH parameters" or "URDF robots/ur5e.urdf".
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The tool's name, if the robot file gives one.
    pub fn tool_name(&self) -> Option<&str> {
        self.tool_name.as_deref()
    }

    /// The TCP in the flange frame.
    pub fn tcp_offset(&self) -> Isometry3<f64> {
        self.tcp
    }

    /// Whether the closed-form UR solver serves this robot.
    pub fn has_closed_form(&self) -> bool {
        self.ur.is_some()
    }

    /// The TCP pose for the given joint angles (missing joints count as zero).
    pub fn forward(&self, joints: &[f64]) -> TcpPose {
        TcpPose::from_isometry(&self.tcp_transform(joints))
    }

    /// The TCP in the base frame.
    pub fn tcp_transform(&self, joints: &[f64]) -> Isometry3<f64> {
        self.chain.flange(joints) * self.tcp
    }

    /// The flange in the base frame.
    pub fn flange_transform(&self, joints: &[f64]) -> Isometry3<f64> {
        self.chain.flange(joints)
    }

    /// The geometric Jacobian at the TCP, as a 6×6 matrix (unused columns zero).
    fn jacobian6(&self, joints: &[f64]) -> Matrix6<f64> {
        let (frames, flange) = self.chain.frames(joints);
        let tcp = flange * self.tcp;
        let jac = self.chain.jacobian_at(&frames, &tcp.translation.vector);
        let mut out = Matrix6::zeros();
        let cols = jac.ncols().min(6);
        out.columns_mut(0, cols).copy_from(&jac.columns(0, cols));
        out
    }

    /// Yoshikawa's manipulability √det(J Jᵀ) at the TCP: 0 at a singularity.
    pub fn manipulability(&self, joints: &[f64]) -> f64 {
        let (frames, flange) = self.chain.frames(joints);
        let tcp = flange * self.tcp;
        let jac = self.chain.jacobian_at(&frames, &tcp.translation.vector);
        (&jac * jac.transpose()).determinant().max(0.0).sqrt()
    }

    /// det J of a six-joint arm; its sign changes only through a singularity.
    pub fn jacobian_determinant(&self, joints: &[f64]) -> Option<f64> {
        (self.dof() == 6).then(|| self.jacobian6(joints).determinant())
    }

    /// The UR arm's shoulder/elbow/wrist configuration at `joints`; `None` for other arms.
    pub fn configuration(&self, joints: &[f64]) -> Option<ArmConfig> {
        self.ur.as_ref().map(|u| u.config(joints))
    }

    /// Which singularity `joints` are nearest, for a UR arm: "shoulder", "elbow" or "wrist".
    pub fn nearest_singularity(&self, joints: &[f64]) -> Option<&'static str> {
        let u = self.ur.as_ref()?;
        let f = u.factors(joints);
        // The shoulder factor is a length; scale it by the arm's reach to compare.
        let shoulder = f.shoulder.abs() / self.reach.max(1e-9);
        let (elbow, wrist) = (f.elbow.abs(), f.wrist.abs());
        Some(if shoulder <= elbow && shoulder <= wrist {
            "shoulder"
        } else if elbow <= wrist {
            "elbow"
        } else {
            "wrist"
        })
    }

    /// The arm's reach from its shoulder (m, an upper bound) and the shoulder's position.
    pub fn reach(&self) -> (Vector3<f64>, f64) {
        (self.shoulder, self.reach)
    }

    /// Every closed-form solution for a TCP pose (angles in (-π, π]); empty for arms
    /// without a closed form. `free6` serves joint 6 at a wrist singularity.
    pub fn solutions(&self, target: &Isometry3<f64>, free6: f64) -> Vec<[f64; 6]> {
        match &self.ur {
            Some(u) => u.solve(&(target * self.tcp.inverse()), free6),
            None => Vec::new(),
        }
    }

    /// The joint values nearest `near` that put the TCP at `target` within the joints'
    /// ranges: closed form for a UR arm, damped least squares otherwise.
    pub fn inverse(
        &self,
        target: &Isometry3<f64>,
        near: &[f64],
        limits: &[JointSpec],
    ) -> Result<Joints, IkError> {
        if self.ur.is_some() {
            let free6 = near.get(5).copied().unwrap_or(0.0);
            let found: Vec<Joints> = self
                .solutions(target, free6)
                .iter()
                .filter_map(|q| Joints::from_slice(q))
                .collect();
            return self.nearest(target, found, near, limits);
        }
        self.inverse_numeric(target, near, limits)
    }

    /// Damped least squares from `near`, then from spread seeds if that fails; the
    /// solution nearest `near` within the joints' ranges.
    pub fn inverse_numeric(
        &self,
        target: &Isometry3<f64>,
        near: &[f64],
        limits: &[JointSpec],
    ) -> Result<Joints, IkError> {
        if let Some(q) = numeric::solve(self, target, near) {
            if let Some(q) = self.fit(&q, near, limits) {
                return Ok(q);
            }
        }
        // Other seeds spread over the joints' ranges, the same every time.
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        let mut found = Vec::new();
        for _ in 0..24 {
            let seed: Vec<f64> = limits
                .iter()
                .map(|j| {
                    let (lo, hi) = (
                        j.min.max(-std::f64::consts::PI),
                        j.max.min(std::f64::consts::PI),
                    );
                    lo + (hi - lo) * rng.f64()
                })
                .collect();
            if let Some(q) = numeric::solve(self, target, &seed) {
                found.push(q);
            }
        }
        self.nearest(target, found, near, limits)
    }

    /// The solution nearest `near` once each is brought into the joints' ranges.
    fn nearest(
        &self,
        target: &Isometry3<f64>,
        found: Vec<Joints>,
        near: &[f64],
        limits: &[JointSpec],
    ) -> Result<Joints, IkError> {
        let dist = |q: &Joints| -> f64 {
            q.iter()
                .zip(near)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        };
        let best = found
            .iter()
            .filter_map(|q| self.fit(q, near, limits))
            .min_by(|a, b| dist(a).total_cmp(&dist(b)));
        if let Some(q) = best {
            return Ok(q);
        }
        // Every solution needs some joint out of range: name the one that misses by least.
        let miss = found
            .iter()
            .filter_map(|q| self.worst_miss(q, limits))
            .min_by(|a, b| a.0.total_cmp(&b.0));
        if let Some((_, i, value)) = miss {
            let j = &limits[i];
            return Err(IkError::OutsideLimits {
                index: i + 1,
                name: j.name.clone(),
                value,
                min: j.min,
                max: j.max,
            });
        }
        let flange = target * self.tcp.inverse();
        Err(IkError::Unreachable {
            distance: (flange.translation.vector - self.shoulder).norm(),
            reach: self.reach,
        })
    }

    /// The joint of `q` furthest outside its range, once moved by whole turns as near to
    /// the range as it goes: (how far, which, its value); `None` if all fit.
    fn worst_miss(&self, q: &Joints, limits: &[JointSpec]) -> Option<(f64, usize, f64)> {
        use std::f64::consts::TAU;
        let mut worst: Option<(f64, usize, f64)> = None;
        for (i, (v, spec)) in q.iter().zip(limits).enumerate() {
            let off = |c: f64| (spec.min - c).max(c - spec.max).max(0.0);
            let turns: &[f64] = if self.is_revolute(i) {
                &[-2.0, -1.0, 0.0, 1.0, 2.0]
            } else {
                &[0.0]
            };
            let (d, value) = turns
                .iter()
                .map(|k| v + k * TAU)
                .map(|c| (off(c), c))
                .fold((f64::INFINITY, *v), |a, b| if b.0 < a.0 { b } else { a });
            if d > 0.0 && worst.is_none_or(|w| d > w.0) {
                worst = Some((d, i, value));
            }
        }
        worst
    }

    /// The base, each joint's origin, the flange and the TCP in the base frame (m), in
    /// chain order: the polyline a view draws the arm along.
    pub fn link_points(&self, joints: &[f64]) -> Vec<[f64; 3]> {
        let (frames, flange) = self.chain.frames(joints);
        let tcp = flange * self.tcp;
        let mut out = vec![[0.0; 3]];
        for f in frames.iter().take(self.chain.dof()).chain([&flange, &tcp]) {
            let v = f.translation.vector;
            out.push([v.x, v.y, v.z]);
        }
        out
    }

    /// Whether joint `i` (0-based) turns, rather than slides.
    pub fn is_revolute(&self, i: usize) -> bool {
        self.chain.joints.get(i).map(|j| j.motion) == Some(Motion::Revolute)
    }

    /// `q` with each turning joint moved by whole turns to the value nearest `near` within
    /// its range; `None` if some joint has no such value.
    fn fit(&self, q: &Joints, near: &[f64], limits: &[JointSpec]) -> Option<Joints> {
        use std::f64::consts::TAU;
        let mut out = *q;
        for (i, spec) in limits.iter().enumerate().take(q.len()) {
            let v = q[i];
            let inside = |c: &f64| *c >= spec.min - 1e-12 && *c <= spec.max + 1e-12;
            let turns = self.is_revolute(i);
            out[i] = if turns {
                let r = near.get(i).copied().unwrap_or(0.0);
                let k = ((r - v) / TAU).round();
                [k - 1.0, k, k + 1.0]
                    .into_iter()
                    .map(|k| v + k * TAU)
                    .filter(inside)
                    .min_by(|a, b| (a - r).abs().total_cmp(&(b - r).abs()))?
            } else if inside(&v) {
                v
            } else {
                return None;
            };
        }
        Some(out)
    }
}

//! A serial chain of joints, built from DH parameters or a URDF, with its forward
//! kinematics and geometric Jacobian.

use nalgebra::{Isometry3, Matrix6xX, Translation3, Unit, UnitQuaternion, Vector3};

use crate::robot::{Joints, MAX_JOINTS};

/// DH parameters come from the kinematics crate the simulator shares.
pub use armature_kinematics::DhParameters;

/// How a joint moves its child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Motion {
    /// Rotation about the axis (rad).
    Revolute,
    /// Translation along the axis (m).
    Prismatic,
}

/// One movable joint: the fixed transform from the previous joint's frame to this joint's
/// frame at zero, then its motion about or along `axis` (in its own frame).
#[derive(Debug, Clone)]
pub(crate) struct ChainJoint {
    pub(crate) origin: Isometry3<f64>,
    pub(crate) axis: Unit<Vector3<f64>>,
    pub(crate) motion: Motion,
}

/// Base to flange: the movable joints in order and the fixed transform after the last.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    pub(crate) joints: Vec<ChainJoint>,
    pub(crate) tip: Isometry3<f64>,
}

/// Rotation about x by `a`, then translation (for DH's `Tz(d) Tx(a) Rx(α)`).
fn dh_link(d: f64, a: f64, alpha: f64) -> Isometry3<f64> {
    Isometry3::from_parts(Translation3::new(0.0, 0.0, d), UnitQuaternion::identity())
        * Isometry3::from_parts(
            Translation3::new(a, 0.0, 0.0),
            UnitQuaternion::from_axis_angle(&Vector3::x_axis(), alpha),
        )
}

impl Chain {
    /// The chain of standard DH parameters: joint i turns about z_{i-1}, then
    /// `Tz(d_i) Tx(a_i) Rx(α_i)`.
    pub(crate) fn from_dh(dh: &DhParameters) -> Self {
        let mut joints = Vec::with_capacity(dh.d.len());
        let mut origin = Isometry3::identity();
        for i in 0..dh.d.len() {
            joints.push(ChainJoint {
                origin,
                axis: Vector3::z_axis(),
                motion: Motion::Revolute,
            });
            origin = dh_link(dh.d[i], dh.a[i], dh.alpha[i]);
        }
        Self {
            joints,
            tip: origin,
        }
    }

    /// The chain of a URDF from `base` to `tip` through the named movable joints, which
    /// must be exactly `names`, in order. Going up the tree from `base` is allowed only
    /// through fixed joints (e.g. UR's `base` frame hangs off `base_link`).
    pub(crate) fn from_urdf(
        robot: &urdf_rs::Robot,
        base: &str,
        tip: &str,
        names: &[&str],
    ) -> Result<Self, String> {
        let parent_joint = |link: &str| robot.joints.iter().find(|j| j.child.link == link);
        let path_to_root = |link: &str| -> Result<Vec<&urdf_rs::Joint>, String> {
            if !robot.links.iter().any(|l| l.name == link) {
                return Err(format!("the URDF has no link \"{link}\""));
            }
            let mut path = Vec::new();
            let mut at = link.to_string();
            while let Some(j) = parent_joint(&at) {
                if path.len() > robot.joints.len() {
                    return Err("the URDF's joints form a loop".into());
                }
                path.push(j);
                at = j.parent.link.clone();
            }
            Ok(path)
        };
        let up = path_to_root(base)?;
        let down = path_to_root(tip)?;
        // Drop the common part (the path from the shared ancestor to the root).
        let common = up
            .iter()
            .rev()
            .zip(down.iter().rev())
            .take_while(|(a, b)| a.name == b.name)
            .count();
        let up = &up[..up.len() - common];
        let down: Vec<_> = down[..down.len() - common].iter().rev().collect();

        let mut fixed = Isometry3::identity();
        for j in up {
            if j.joint_type != urdf_rs::JointType::Fixed {
                return Err(format!(
                    "the way from base_link \"{base}\" to tip_link \"{tip}\" goes up through the movable joint \"{}\"; only fixed joints may lie above the base",
                    j.name
                ));
            }
            fixed = urdf_origin(&j.origin) * fixed;
        }
        let mut fixed = fixed.inverse();
        let mut joints = Vec::new();
        for j in down {
            let origin = fixed * urdf_origin(&j.origin);
            let motion = match j.joint_type {
                urdf_rs::JointType::Fixed => {
                    fixed = origin;
                    continue;
                }
                urdf_rs::JointType::Revolute | urdf_rs::JointType::Continuous => Motion::Revolute,
                urdf_rs::JointType::Prismatic => Motion::Prismatic,
                ref other => {
                    return Err(format!(
                        "joint \"{}\" is {other:?}; only revolute, continuous, prismatic and fixed joints are supported",
                        j.name
                    ))
                }
            };
            let axis = Vector3::from(*j.axis.xyz);
            let Some(axis) = Unit::try_new(axis, 1e-9) else {
                return Err(format!("joint \"{}\" has a zero axis", j.name));
            };
            joints.push((
                j.name.as_str(),
                ChainJoint {
                    origin,
                    axis,
                    motion,
                },
            ));
            fixed = Isometry3::identity();
        }
        let found: Vec<&str> = joints.iter().map(|(n, _)| *n).collect();
        if found != names {
            return Err(format!(
                "the movable joints from \"{base}\" to \"{tip}\" are {found:?}; the robot's joints are {names:?}"
            ));
        }
        if found.len() > MAX_JOINTS {
            return Err(format!(
                "{} movable joints; at most {MAX_JOINTS}",
                found.len()
            ));
        }
        Ok(Self {
            joints: joints.into_iter().map(|(_, j)| j).collect(),
            tip: fixed,
        })
    }

    /// Number of movable joints.
    pub(crate) fn dof(&self) -> usize {
        self.joints.len()
    }

    /// Each joint's frame (after its motion) in the base frame, and the flange's.
    /// Missing values count as zero.
    pub(crate) fn frames(&self, q: &[f64]) -> ([Isometry3<f64>; MAX_JOINTS], Isometry3<f64>) {
        let mut frames = [Isometry3::identity(); MAX_JOINTS];
        let mut t = Isometry3::identity();
        for (i, j) in self.joints.iter().enumerate() {
            let v = q.get(i).copied().unwrap_or(0.0);
            let local = match j.motion {
                Motion::Revolute => Isometry3::from_parts(
                    Translation3::identity(),
                    UnitQuaternion::from_axis_angle(&j.axis, v),
                ),
                Motion::Prismatic => Isometry3::from_parts(
                    Translation3::from(j.axis.into_inner() * v),
                    UnitQuaternion::identity(),
                ),
            };
            t = t * j.origin * local;
            frames[i] = t;
        }
        (frames, t * self.tip)
    }

    /// The flange in the base frame.
    pub(crate) fn flange(&self, q: &[f64]) -> Isometry3<f64> {
        self.frames(q).1
    }

    /// The geometric Jacobian at `point` (base frame) for joints `q`: rows vx, vy, vz,
    /// wx, wy, wz; one column per joint.
    pub(crate) fn jacobian_at(
        &self,
        frames: &[Isometry3<f64>; MAX_JOINTS],
        point: &Vector3<f64>,
    ) -> Matrix6xX<f64> {
        let mut jac = Matrix6xX::zeros(self.dof());
        for (i, j) in self.joints.iter().enumerate() {
            let w = frames[i].rotation * j.axis.into_inner();
            let o = frames[i].translation.vector;
            let (lin, ang) = match j.motion {
                Motion::Revolute => (w.cross(&(point - o)), w),
                Motion::Prismatic => (w, Vector3::zeros()),
            };
            jac.fixed_view_mut::<3, 1>(0, i).copy_from(&lin);
            jac.fixed_view_mut::<3, 1>(3, i).copy_from(&ang);
        }
        jac
    }

    /// The shoulder (the second joint's origin at zero, or the first's on a one-joint arm)
    /// and how far the flange gets from it (m): the largest distance found over spread
    /// joint values, refined by a local search (the sum of the link lengths for a chain
    /// with sliding joints). Used to say how far out of reach a point is.
    pub(crate) fn reach(&self) -> (Vector3<f64>, f64) {
        let n = self.dof();
        let (frames, flange) = self.frames(&Joints::zeros(n));
        let first = usize::from(n > 1);
        let shoulder = frames[first].translation.vector;
        if self.joints.iter().any(|j| j.motion == Motion::Prismatic) {
            let mut total = 0.0;
            let mut prev = shoulder;
            for f in frames.iter().take(n).skip(first + 1).chain([&flange]) {
                total += (f.translation.vector - prev).norm();
                prev = f.translation.vector;
            }
            return (shoulder, total);
        }
        let far = |q: &Joints| (self.flange(q).translation.vector - shoulder).norm();
        let mut rng = fastrand::Rng::with_seed(0x7ea);
        let mut best = Joints::zeros(n);
        let mut best_d = far(&best);
        let mut q = best;
        for _ in 0..512 {
            for v in q.iter_mut() {
                *v = (rng.f64() * 2.0 - 1.0) * std::f64::consts::PI;
            }
            let d = far(&q);
            if d > best_d {
                (best, best_d) = (q, d);
            }
        }
        let mut scale = 0.3;
        for _ in 0..400 {
            let mut q = best;
            for v in q.iter_mut() {
                *v += (rng.f64() * 2.0 - 1.0) * scale;
            }
            let d = far(&q);
            if d > best_d {
                (best, best_d) = (q, d);
            } else {
                scale = (scale * 0.98).max(1e-4);
            }
        }
        (shoulder, best_d)
    }
}

/// A URDF `<origin xyz rpy>` as a transform (rpy: fixed-axis x, y, z).
pub(crate) fn urdf_origin(p: &urdf_rs::Pose) -> Isometry3<f64> {
    Isometry3::from_parts(
        Translation3::new(p.xyz[0], p.xyz[1], p.xyz[2]),
        UnitQuaternion::from_euler_angles(p.rpy[0], p.rpy[1], p.rpy[2]),
    )
}

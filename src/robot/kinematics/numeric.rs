//! Numeric inverse kinematics for any chain: damped least squares (Levenberg–Marquardt
//! with damping that grows with the error, after Sugihara 2011), so it stays stable
//! near a singularity and converges fast close to the answer.

use nalgebra::{Isometry3, Matrix6, Vector6};

use super::Kinematics;
use crate::robot::Joints;

/// Position and orientation both within this (m, rad) count as reached.
pub(crate) const TOLERANCE: f64 = 1e-10;

/// Iterations from one seed before giving up on it.
const MAX_ITERATIONS: usize = 200;

/// The largest step of any joint in one iteration (rad or m): big steps overshoot.
const MAX_STEP: f64 = 0.4;

/// The 6-vector from `at` to `target`: position difference and rotation vector (base frame).
pub(crate) fn pose_error(at: &Isometry3<f64>, target: &Isometry3<f64>) -> Vector6<f64> {
    let dp = target.translation.vector - at.translation.vector;
    let dr = (target.rotation * at.rotation.inverse()).scaled_axis();
    Vector6::new(dp.x, dp.y, dp.z, dr.x, dr.y, dr.z)
}

/// Joint values that put the TCP at `target`, starting from `seed`; `None` if this seed
/// does not converge. Angles are not wrapped.
pub(crate) fn solve(kin: &Kinematics, target: &Isometry3<f64>, seed: &[f64]) -> Option<Joints> {
    let n = kin.dof();
    if seed.len() != n {
        return None;
    }
    let mut q = Joints::from_slice(seed)?;
    for _ in 0..MAX_ITERATIONS {
        let (frames, flange) = kin.chain.frames(&q);
        let tcp = flange * kin.tcp;
        let e = pose_error(&tcp, target);
        let (ep, er) = (e.fixed_rows::<3>(0).norm(), e.fixed_rows::<3>(3).norm());
        if ep < TOLERANCE && er < TOLERANCE {
            return Some(q);
        }
        let jac = kin.chain.jacobian_at(&frames, &tcp.translation.vector);
        // Damping: the squared error, plus a floor that keeps J Jᵀ invertible.
        let lambda = e.norm_squared() + 1e-12;
        let jjt: Matrix6<f64> = &jac * jac.transpose() + Matrix6::identity() * lambda;
        let y = jjt.cholesky()?.solve(&e);
        let dq = jac.transpose() * y;
        let biggest = dq.amax();
        let scale = if biggest > MAX_STEP {
            MAX_STEP / biggest
        } else {
            1.0
        };
        for i in 0..n {
            q[i] += dq[i] * scale;
        }
        if q.iter().any(|v| !v.is_finite()) {
            return None;
        }
    }
    None
}

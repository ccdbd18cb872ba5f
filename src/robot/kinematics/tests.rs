use std::f64::consts::PI;

use nalgebra::Isometry3;

use super::*;
use crate::robot::{RobotDefinition, BUILTIN_UR5E};

fn ur5e() -> RobotDefinition {
    RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap()
}

/// The built-in UR5e with its kinematics from `robots/ur5e.urdf` instead of DH.
fn ur5e_urdf() -> RobotDefinition {
    let start = BUILTIN_UR5E.find("[kinematics]").unwrap();
    let end = BUILTIN_UR5E[start..].find("\n\n").unwrap() + start;
    let text = format!(
        "{}[kinematics]\nurdf = \"ur5e.urdf\"\n{}",
        &BUILTIN_UR5E[..start],
        &BUILTIN_UR5E[end..]
    );
    RobotDefinition::parse(&text, "robots/ur5e.toml").unwrap()
}

/// Largest difference in position (m) and orientation (rad) between two poses.
fn pose_gap(a: &Isometry3<f64>, b: &Isometry3<f64>) -> (f64, f64) {
    (
        (a.translation.vector - b.translation.vector).norm(),
        a.rotation.angle_to(&b.rotation),
    )
}

fn random_joints(rng: &mut fastrand::Rng) -> [f64; 6] {
    std::array::from_fn(|_| (rng.f64() * 2.0 - 1.0) * PI)
}

#[test]
fn ur5e_zero_pose_matches_the_dh_table() {
    let p = ur5e().kinematics.unwrap().forward(&[0.0; 6]);
    // All joints at zero: arm stretched along -x; z = d1 - d5; y = -(d4 + d6).
    assert!((p.x - (-0.425 - 0.3922)).abs() < 1e-9, "x {}", p.x);
    assert!((p.y - (-(0.1333 + 0.0996))).abs() < 1e-9, "y {}", p.y);
    assert!((p.z - (0.1625 - 0.0997)).abs() < 1e-9, "z {}", p.z);
}

#[test]
fn ur5e_home_is_upright() {
    let r = ur5e();
    let p = r.kinematics.as_ref().unwrap().forward(r.home());
    // Upright: the tool sits above the base at d1 + a2 + a3 + d5 high.
    assert!(
        (p.z - (0.1625 + 0.425 + 0.3922 + 0.0997)).abs() < 1e-9,
        "z {}",
        p.z
    );
}

#[test]
fn urdf_and_dh_give_the_same_forward_kinematics_for_the_ur5e() {
    let (dh, urdf) = (ur5e(), ur5e_urdf());
    let (dh, urdf) = (dh.kinematics.unwrap(), urdf.kinematics.unwrap());
    assert!(
        urdf.source().starts_with("URDF robots/ur5e.urdf"),
        "{}",
        urdf.source()
    );
    assert!(dh.has_closed_form() && !urdf.has_closed_form());
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..1000 {
        let q = random_joints(&mut rng);
        let (dp, dr) = pose_gap(&dh.tcp_transform(&q), &urdf.tcp_transform(&q));
        assert!(dp < 1e-12 && dr < 1e-12, "{q:?}: {dp} m, {dr} rad");
        let (wa, wb) = (dh.manipulability(&q), urdf.manipulability(&q));
        assert!((wa - wb).abs() < 1e-12, "{q:?}: {wa} vs {wb}");
    }
}

#[test]
fn ik_property_closed_form_and_numeric_agree_on_10000_poses() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let mut rng = fastrand::Rng::with_seed(13);
    let (mut checked, mut worst_cf, mut worst_num) = (0, 0.0_f64, 0.0_f64);
    let mut near_singular = 0;
    while checked < 10_000 {
        let q = random_joints(&mut rng);
        let target = kin.tcp_transform(&q);
        // Every closed-form solution reaches the pose, near a singularity too.
        let all = kin.solutions(&target, q[5]);
        assert!(!all.is_empty(), "{q:?} has no solution");
        for s in &all {
            let (dp, dr) = pose_gap(&kin.tcp_transform(s), &target);
            worst_cf = worst_cf.max(dp).max(dr);
            assert!(dp < 1e-6 && dr < 1e-6, "{q:?} -> {s:?}: {dp} m {dr} rad");
        }
        // Away from singularities the solution nearest a seed is unique, so both solvers
        // must return q itself.
        if kin.manipulability(&q) < 0.01 {
            near_singular += 1;
            continue;
        }
        // Seeded near q, the closed form's nearest and the numeric solver both return q.
        let seed: Vec<f64> = q.iter().map(|v| v + (rng.f64() - 0.5) * 0.1).collect();
        let cf = kin.inverse(&target, &seed, &r.joints).unwrap();
        let num = kin.inverse_numeric(&target, &seed, &r.joints).unwrap();
        let (dp, dr) = pose_gap(&kin.tcp_transform(&num), &target);
        worst_num = worst_num.max(dp).max(dr);
        assert!(dp < 1e-6 && dr < 1e-6, "numeric {q:?}: {dp} m {dr} rad");
        for i in 0..6 {
            assert!((cf[i] - q[i]).abs() < 1e-6, "closed form {q:?} -> {cf:?}");
            assert!((num[i] - cf[i]).abs() < 1e-6, "numeric {num:?} vs {cf:?}");
        }
        checked += 1;
    }
    assert!(
        worst_cf < 1e-9 && worst_num < 1e-9,
        "{worst_cf} {worst_num}"
    );
    // The closed form was also checked on every near-singular pose drawn on the way.
    assert!(near_singular > 1000, "{near_singular}");
}

#[test]
fn the_urdf_arm_is_solved_numerically() {
    let r = ur5e_urdf();
    let kin = r.kinematics.as_ref().unwrap();
    let ready = &r.positions["ready"];
    let mut target = kin.tcp_transform(ready);
    target.translation.vector.z -= 0.2;
    let q = kin.inverse(&target, ready, &r.joints).unwrap();
    let (dp, dr) = pose_gap(&kin.tcp_transform(&q), &target);
    assert!(dp < 1e-9 && dr < 1e-9);
}

#[test]
fn a_tool_offset_moves_the_tcp_along_the_flange_z() {
    let text = BUILTIN_UR5E.replacen(
        "[positions]",
        "[tool]\nname = \"gripper\"\ntcp = [0.0, 0.0, 0.15, 0.0, 0.0, 0.0]\n\n[positions]",
        1,
    );
    let r = RobotDefinition::parse(&text, "ur5e.toml").unwrap();
    let kin = r.kinematics.as_ref().unwrap();
    assert_eq!(kin.tool_name(), Some("gripper"));
    let q = &r.positions["ready"];
    let flange = kin.flange_transform(q);
    let tcp = kin.tcp_transform(q);
    let along = flange.rotation * nalgebra::Vector3::z() * 0.15;
    assert!((tcp.translation.vector - flange.translation.vector - along).norm() < 1e-12);
    // IK answers for the TCP, not the flange.
    let back = kin.inverse(&tcp, q, &r.joints).unwrap();
    assert!(back.iter().zip(q).all(|(a, b)| (a - b).abs() < 1e-9));
}

#[test]
fn out_of_reach_and_outside_limits_are_told_apart() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let far = TcpPose::from_array([1.5, 0.0, 0.3, 0.0, PI, 0.0]).to_isometry();
    let e = kin.inverse(&far, r.home(), &r.joints).unwrap_err();
    assert!(
        matches!(e, IkError::Unreachable { distance, reach } if distance > reach),
        "{e}"
    );
    // The elbow is limited to ±π: an elbow-down pose needs the elbow past π from home's side
    // only if the range forbids it; narrow its range to force that.
    let mut joints = r.joints.clone();
    joints[2].min = -0.1;
    joints[2].max = 0.1;
    let target = kin.tcp_transform(&r.positions["ready"]);
    let e = kin.inverse(&target, r.home(), &joints).unwrap_err();
    assert!(matches!(e, IkError::OutsideLimits { index: 3, .. }), "{e}");
}

#[test]
fn the_configuration_flips_only_through_a_singularity() {
    // det J = ±a2·a3 · (shoulder factor) · sin θ3 · sin θ5, with one sign for every pose:
    // the configuration flags change exactly where det J crosses zero.
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut sign = 0.0;
    for _ in 0..2000 {
        let q = random_joints(&mut rng);
        let det = kin.jacobian_determinant(&q).unwrap();
        let f = kin.ur.as_ref().unwrap().factors(&q);
        let product = 0.425 * 0.3922 * f.shoulder * f.elbow * f.wrist;
        assert!(
            (det.abs() - product.abs()).abs() < 1e-9,
            "{det} vs {product}"
        );
        if det.abs() > 1e-6 {
            let s = (det / product).signum();
            assert!(sign == 0.0 || s == sign, "{q:?}");
            sign = s;
        }
    }
}

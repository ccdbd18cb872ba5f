use nalgebra::{Isometry3, Vector3};

use super::*;
use crate::robot::{RobotDefinition, StopProfile, BUILTIN_UR5E};

fn ur5e() -> RobotDefinition {
    RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap()
}

fn ready(r: &RobotDefinition) -> Joints {
    Joints::from_slice(&r.positions["ready"]).unwrap()
}

/// Distance from `p` to the segment a–b (m).
fn off_line(p: &Vector3<f64>, a: &Vector3<f64>, b: &Vector3<f64>) -> f64 {
    let ab = b - a;
    let t = if ab.norm_squared() > 0.0 {
        ((p - a).dot(&ab) / ab.norm_squared()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * t)).norm()
}

fn plan(r: &RobotDefinition, start: &Joints, target: &Isometry3<f64>, speed: f64) -> LinearPath {
    let kin = r.kinematics.as_ref().unwrap();
    plan_linear(
        kin,
        &r.joints,
        start,
        target,
        speed,
        &LinearLimits::default(),
    )
    .unwrap()
}

#[test]
fn a_linear_path_stays_on_the_line_under_the_speed_caps() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    // Half a metre across the table, turning the tool 30 degrees on the way.
    let target = RelativeMove {
        dx: 0.3,
        dy: 0.4,
        dz: 0.0,
        rx: 0.0,
        ry: 0.0,
        rz: 30.0,
        frame: Frame::Base,
    }
    .target(&from);
    for speed in [0.2, 1.0] {
        let path = plan(&r, &start, &target, speed);
        assert!((path.length - 0.5).abs() < 1e-9);
        let cap = DEFAULT_TCP_SPEED * speed;
        let (a, b) = (from.translation.vector, target.translation.vector);
        let mut prev: Option<(f64, Vector3<f64>, Joints)> = None;
        for p in &path.samples {
            let tcp = kin.tcp_transform(&p.joints);
            let at = tcp.translation.vector;
            // Every cycle's TCP is on the line, and where the path says it is.
            assert!(
                off_line(&at, &a, &b) < 1e-3,
                "{} m off at s {}",
                off_line(&at, &a, &b),
                p.s
            );
            assert!((at - path.pose_at(p.s).translation.vector).norm() < 1e-9);
            if let Some((t0, p0, q0)) = prev {
                let h = p.t - t0;
                let v = (at - p0).norm() / h;
                assert!(
                    v <= cap * (1.0 + 1e-6),
                    "TCP {v} m/s over {cap} at s {}",
                    p.s
                );
                for (i, spec) in r.joints.iter().enumerate() {
                    let w = (p.joints[i] - q0[i]).abs() / h;
                    assert!(
                        w <= spec.max_velocity * speed * (1.0 + 1e-6),
                        "joint {i} {w} rad/s"
                    );
                }
            }
            prev = Some((p.t, at, p.joints));
        }
        assert!(path.peak_tcp_speed <= cap * (1.0 + 1e-9));
        // The cap is what limits this move: it reaches it.
        assert!(path.peak_tcp_speed > cap * 0.95, "{}", path.peak_tcp_speed);
        let last = path.samples.last().unwrap();
        assert_eq!(last.s, 1.0);
        let (dp, dr) = gap(&kin.tcp_transform(&last.joints), &target);
        assert!(dp < 1e-9 && dr < 1e-9);
    }
}

fn gap(a: &Isometry3<f64>, b: &Isometry3<f64>) -> (f64, f64) {
    (
        (a.translation.vector - b.translation.vector).norm(),
        a.rotation.angle_to(&b.rotation),
    )
}

#[test]
fn ten_centimetres_up_keeps_the_orientation() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    let up = RelativeMove::translation(0.0, 0.0, 0.1, Frame::Base);
    up.check(2.0).unwrap();
    let path = plan(&r, &start, &up.target(&from), 0.25);
    for p in &path.samples {
        let tcp = kin.tcp_transform(&p.joints);
        assert!(tcp.rotation.angle_to(&from.rotation).to_degrees() < 0.1);
    }
    let end = kin.tcp_transform(&path.samples.last().unwrap().joints);
    let rise = end.translation.vector - from.translation.vector;
    assert!((rise.z - 0.1).abs() < 0.5e-3, "{rise:?}");
    assert!(rise.xy().norm() < 0.5e-3, "{rise:?}");
}

#[test]
fn a_tool_frame_move_goes_along_the_tools_own_axis() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    let axis = from.rotation * Vector3::z();
    // At `ready` the tool points down: +5 cm along its z is 5 cm lower.
    assert!(axis.z < -0.99, "{axis:?}");
    let path = plan(
        &r,
        &start,
        &RelativeMove::translation(0.0, 0.0, 0.05, Frame::Tool).target(&from),
        0.25,
    );
    let end = kin.tcp_transform(&path.samples.last().unwrap().joints);
    let moved = end.translation.vector - from.translation.vector;
    assert!((moved - axis * 0.05).norm() < 1e-9, "{moved:?}");
}

#[test]
fn a_stop_mid_line_brakes_on_the_line() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    let target = RelativeMove::translation(0.0, 0.5, 0.0, Frame::Base).target(&from);
    let path = plan(&r, &start, &target, 1.0);
    let t = path.duration() / 2.0;
    let (s0, rate0) = path.profile.at(t);
    let stop = StopProfile::new(s0, rate0, path.stop_accel);
    let (a, b) = (from.translation.vector, target.translation.vector);
    let steps = (stop.duration() / path.dt).ceil() as usize;
    let mut last_s = s0;
    for k in 0..=steps {
        let (s, _) = stop.at(k as f64 * path.dt);
        assert!(s >= last_s);
        last_s = s;
        let at = kin.tcp_transform(&path.joints_at(s)).translation.vector;
        assert!(
            off_line(&at, &a, &b) < 1e-3,
            "{} m off",
            off_line(&at, &a, &b)
        );
    }
    assert!(last_s < 1.0, "the stop ran to the end");
}

#[test]
fn a_half_metre_move_takes_its_cap_time() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    let target = RelativeMove::translation(0.0, 0.5, 0.0, Frame::Base).target(&from);
    let path = plan(&r, &start, &target, 1.0);
    // 0.5 m at 0.25 m/s with 1.2 m/s² ramps: 2 s plus one ramp's time.
    let expected = 0.5 / 0.25 + 0.25 / 1.2;
    assert!(
        (path.duration() - expected).abs() < 1e-6,
        "{}",
        path.duration()
    );
    assert_eq!(path.samples.len(), (expected * 500.0).ceil() as usize + 1);
}

#[test]
fn bad_relative_moves_are_refused_with_the_limit() {
    let m = RelativeMove::translation(0.0, 0.0, f64::NAN, Frame::Base);
    assert_eq!(
        m.check(2.0).unwrap_err().to_string(),
        "dz = NaN is not a finite number"
    );
    let m = RelativeMove::translation(0.0, 0.0, 100.0, Frame::Base);
    assert_eq!(
        m.check(2.0).unwrap_err().to_string(),
        "a move of 100 metres is longer than the 2 metres across the arm's reach"
    );
    assert_eq!(
        Frame::parse("world").unwrap_err().to_string(),
        "there is no frame named world; the frames are base and tool"
    );
}

#[test]
fn a_line_out_of_reach_is_refused_where_it_leaves_the_reach() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    let target = RelativeMove::translation(0.0, -1.5, 0.0, Frame::Base).target(&from);
    let e = plan_linear(
        kin,
        &r.joints,
        &start,
        &target,
        0.5,
        &LinearLimits::default(),
    )
    .unwrap_err();
    match e {
        PlanError::Unreachable { fraction, .. } => {
            assert!(fraction > 0.2 && fraction < 1.0, "{fraction}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn a_line_thinned_to_waypoints_keeps_the_tcp_on_the_line_with_far_fewer_points() {
    let r = ur5e();
    let kin = r.kinematics.as_ref().unwrap();
    let start = ready(&r);
    let from = kin.tcp_transform(&start);
    let target = RelativeMove {
        dx: 0.3,
        dy: 0.2,
        dz: 0.1,
        rx: 0.0,
        ry: 0.0,
        rz: 20.0,
        frame: Frame::Base,
    }
    .target(&from);
    let path = plan(&r, &start, &target, 1.0);
    let points = path.waypoints(kin, WAYPOINT_TOLERANCE);
    assert!(points.len() > 2 && points.len() * 5 < path.samples.len());
    let last = points.last().unwrap();
    assert_eq!(last.t, path.duration());
    assert_eq!(last.positions, path.samples.last().unwrap().joints);
    assert!(last.velocities.max_abs() == 0.0);
    assert!(points.windows(2).all(|w| w[1].t > w[0].t) && points[0].t > 0.0);
    // Joint-space interpolation between waypoints, every millisecond: the TCP stays
    // within the tolerance of the line.
    let (a, b) = (from.translation.vector, target.translation.vector);
    let mut prev = (0.0, start);
    for w in &points {
        for k in 0..=20 {
            let f = f64::from(k) / 20.0;
            let mut q = prev.1;
            for i in 0..q.len() {
                q[i] += (w.positions[i] - q[i]) * f;
            }
            let p = kin.tcp_transform(&q).translation.vector;
            assert!(
                off_line(&p, &a, &b) <= WAYPOINT_TOLERANCE,
                "{}",
                off_line(&p, &a, &b)
            );
        }
        prev = (w.t, w.positions);
    }
}

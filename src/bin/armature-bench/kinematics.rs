//! Kinematics in the plugin's own process, on the built-in UR5e: an inverse kinematics
//! solve, the planning of a half-metre straight line, and the check of its sampled path
//! against a cell. All three run before a Cartesian motion is acknowledged.

use std::time::Instant;

use armature::cell::Cell;
use armature::robot::linear::{plan_linear, Frame, LinearLimits, RelativeMove};
use armature::robot::{Joints, RobotDefinition, BUILTIN_UR5E};
use serde_json::{json, Value};

use super::report::{Row, Summary};

/// A cell like a bench-top one: a table under the work, a workspace box, a fixture
/// away from the line, and a capsule tool, so the check does all its work.
const CELL: &str = r#"
[cell]
[cell.tool]
shape = "capsule"
radius = 0.04
length = 0.15
[[cell.planes]]
name = "table"
z = 0.0
[cell.workspace]
min = [-1.0, -1.0, -0.05]
max = [1.0, 1.0, 1.2]
[[cell.keep_out]]
name = "fixture"
min = [0.3, 0.3, 0.0]
max = [0.6, 0.6, 0.4]
"#;

fn us(s: &Summary) -> String {
    format!("p50 {:.1} / p99 {:.1} µs (n={})", s.p50, s.p99, s.n)
}

fn ms(s: &Summary) -> String {
    format!("p50 {:.2} / p99 {:.2} ms (n={})", s.p50, s.p99, s.n)
}

/// The three rows, and their raw figures under `raw["kinematics"]`.
pub fn rows(quick: bool, raw: &mut Value) -> Vec<Row> {
    match measure(quick) {
        Ok((rows, figures)) => {
            raw["kinematics"] = figures;
            rows
        }
        Err(e) => vec![Row::failed(
            "kinematics (IK, linear planning, path check)",
            "",
            e,
        )],
    }
}

fn measure(quick: bool) -> Result<(Vec<Row>, Value), String> {
    let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").map_err(|e| e.to_string())?;
    let kin = robot
        .kinematics
        .as_ref()
        .ok_or("the built-in UR5e has no kinematics")?;
    let cell = Cell::parse(CELL, "bench cell")
        .map_err(|e| e.to_string())?
        .ok_or("the bench cell has no [cell]")?;
    let ready = Joints::from_slice(&robot.positions["ready"]).ok_or("ready has too many joints")?;

    // IK: poses the arm reaches, seeded a little off the answer as a path sample would be.
    let n = if quick { 2_000 } else { 50_000 };
    let mut rng = fastrand::Rng::with_seed(11);
    let (mut closed, mut numeric) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while closed.len() < n {
        let q: Vec<f64> = ready.iter().map(|v| v + (rng.f64() - 0.5) * 1.5).collect();
        if kin.manipulability(&q) < 0.01 {
            continue;
        }
        let target = kin.tcp_transform(&q);
        let seed: Vec<f64> = q.iter().map(|v| v + (rng.f64() - 0.5) * 0.02).collect();
        let t = Instant::now();
        let a = kin.inverse(&target, &seed, &robot.joints);
        closed.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let b = kin.inverse_numeric(&target, &seed, &robot.joints);
        numeric.push(t.elapsed().as_secs_f64() * 1e6);
        if a.is_err() || b.is_err() {
            return Err(format!("IK failed on a reachable pose: {a:?} {b:?}"));
        }
    }
    let (closed, numeric) = (Summary::of(closed), Summary::of(numeric));

    // A half-metre line across the table at full speed (0.25 m/s), sampled at 500 Hz.
    let from = kin.tcp_transform(&ready);
    let target = RelativeMove::translation(0.3, 0.4, 0.0, Frame::Base).target(&from);
    let limits = LinearLimits::default();
    let runs = if quick { 10 } else { 100 };
    let (mut plan_ms, mut check_ms) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let path = plan_linear(kin, &robot.joints, &ready, &target, 1.0, &limits)
            .map_err(|e| format!("the 0.5 m line: {e}"))?;
        plan_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        cell.check_linear(kin, &robot.joints, &path)
            .map_err(|e| format!("the 0.5 m line's check: {e}"))?;
        check_ms.push(t.elapsed().as_secs_f64() * 1e3);
        last = Some(path);
    }
    let path = last.ok_or("no run")?;
    let (plan, check) = (Summary::of(plan_ms), Summary::of(check_ms));
    let samples = path.samples.len();

    let rows = vec![
        Row {
            figure: "IK solve, UR5e closed form (nearest of 8 solutions, within limits)".into(),
            armature: Some(us(&closed)),
            reference: format!("damped least squares on the same poses: {}", us(&numeric)),
            ratio: Some(closed.p50 / numeric.p50.max(1e-9)),
            target: "p99 ≤ 50 µs (a 500 Hz sample of a line costs < 3 % of its cycle)".into(),
            met: Some(closed.p99 <= 50.0),
            error: None,
        },
        Row {
            figure: "planning a 0.5 m linear move (IK at every 500 Hz sample)".into(),
            armature: Some(ms(&plan)),
            reference: format!(
                "the move it plans lasts {:.2} s, {samples} samples",
                path.duration()
            ),
            ratio: None,
            target: "p99 ≤ 100 ms (before the ack)".into(),
            met: Some(plan.p99 <= 100.0),
            error: None,
        },
        Row {
            figure: "path check of that move (tool capsule vs table, workspace, keep-out; limits, singularity, flip)".into(),
            armature: Some(ms(&check)),
            reference: format!(
                "{:.2} µs per sample over {samples} samples",
                check.p50 * 1e3 / samples.max(1) as f64
            ),
            ratio: None,
            target: "p99 ≤ 20 ms".into(),
            met: Some(check.p99 <= 20.0),
            error: None,
        },
    ];
    let figures = json!({
        "ik_closed_form_us": closed,
        "ik_numeric_us": numeric,
        "plan_linear_0_5m_ms": plan,
        "path_check_ms": check,
        "samples": samples,
        "move_duration_s": path.duration(),
    });
    Ok((rows, figures))
}

//! The executor thread against the simulated arm: outcomes a task would report.

use std::time::{Duration, Instant};

use armature::hal::{limits::LimitedArm, sim::SimArm, Joints, Phase};
use armature::motion::{Event, ExecutorConfig, ExecutorHandle, MotionError, Outcome, Request};
use armature::robot::{RobotDefinition, BUILTIN_UR5E};
use armsim::{FaultPlan, StallFault};

fn ur5e() -> RobotDefinition {
    RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap()
}

fn spawn(
    faults: FaultPlan,
) -> (
    ExecutorHandle,
    std::sync::mpsc::Receiver<Event>,
    RobotDefinition,
) {
    let robot = ur5e();
    let arm = LimitedArm::new(
        SimArm::new(&robot, faults, Instant::now()),
        robot.joints.clone(),
    );
    let exec = ExecutorHandle::spawn(
        Box::new(arm),
        robot.joints.clone(),
        ExecutorConfig::default(),
    )
    .unwrap();
    let events = exec.take_events().unwrap();
    (exec, events, robot)
}

fn target(robot: &RobotDefinition, offset: f64) -> Joints {
    let mut t = Joints::from_slice(robot.home()).unwrap();
    t[0] += offset;
    t[2] += offset / 2.0;
    t
}

/// Starts motion `id` to `offset` from home at `speed`.
fn start(exec: &ExecutorHandle, robot: &RobotDefinition, id: u64, offset: f64, speed: f64) {
    let target = target(robot, offset);
    exec.send(Request::Start {
        motion_id: id,
        target,
        speed,
        path: None,
    })
    .unwrap();
}

/// Runs one move under `faults` and returns how it ended.
fn outcome_under(faults: FaultPlan) -> Outcome {
    let (exec, events, robot) = spawn(faults);
    std::thread::sleep(Duration::from_millis(50));
    start(&exec, &robot, 1, 1.5, 0.5);
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(5));
    exec.shutdown();
    outcome
}

/// Waits for the motion's `Finished` event; returns it with the largest |velocity| seen.
fn finish(
    exec: &ExecutorHandle,
    events: &std::sync::mpsc::Receiver<Event>,
    within: Duration,
) -> (Outcome, f64) {
    let deadline = Instant::now() + within;
    let mut peak = 0.0_f64;
    while Instant::now() < deadline {
        if let Some(s) = exec.snapshot().state {
            peak = peak.max(s.velocities.max_abs());
        }
        if let Ok(Event::Finished { outcome, .. }) = events.recv_timeout(Duration::from_millis(5)) {
            return (outcome, peak);
        }
    }
    panic!("no Finished event within {within:?}");
}

#[test]
fn a_move_reaches_its_target_within_the_speed_limit() {
    let (exec, events, robot) = spawn(FaultPlan::default());
    std::thread::sleep(Duration::from_millis(50));
    let t = target(&robot, 0.6);
    exec.send(Request::Start {
        motion_id: 1,
        target: t,
        speed: 0.5,
        path: None,
    })
    .unwrap();
    let (outcome, peak) = finish(&exec, &events, Duration::from_secs(5));
    assert_eq!(outcome, Outcome::Succeeded);
    let state = exec.snapshot().state.unwrap();
    for i in 0..6 {
        assert!(
            (state.positions[i] - t[i]).abs() < 0.002,
            "joint {i} at {} not {}",
            state.positions[i],
            t[i]
        );
    }
    assert!(
        peak <= std::f64::consts::PI * 0.5 + 1e-6,
        "peak speed {peak}"
    );
    let stats = exec.snapshot().stats;
    assert!(stats.cycles > 0);
    exec.shutdown();
}

#[test]
fn stop_decelerates_to_standstill_part_way() {
    let (exec, events, robot) = spawn(FaultPlan::default());
    std::thread::sleep(Duration::from_millis(50));
    start(&exec, &robot, 7, 3.0, 1.0);
    std::thread::sleep(Duration::from_millis(500));
    let moving = exec.snapshot().state.unwrap().velocities.max_abs();
    assert!(moving > 1.0, "should be moving fast, at {moving}");
    exec.send(Request::Stop { fence: 7 }).unwrap();
    // Braking, not a jump: a few cycles later it is still moving, and slower.
    std::thread::sleep(Duration::from_millis(100));
    let braking = exec.snapshot();
    assert_eq!(braking.phase, Phase::Stopping);
    let v = braking.state.unwrap().velocities.max_abs();
    assert!(
        v > 0.05 && v < moving,
        "velocity {v} while braking from {moving}"
    );
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(3));
    assert_eq!(outcome, Outcome::Cancelled);
    let still = exec.snapshot().state.unwrap();
    assert!(still.velocities.max_abs() < 0.01);
    assert!(
        (still.positions[0] - target(&robot, 3.0)[0]).abs() > 1.0,
        "stopped short of the target"
    );
    exec.shutdown();
}

#[test]
fn a_protective_stop_fails_the_motion() {
    let (exec, events, robot) = spawn(FaultPlan {
        protective_stop_at_s: Some(0.4),
        ..Default::default()
    });
    std::thread::sleep(Duration::from_millis(50));
    start(&exec, &robot, 1, 1.5, 0.5);
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(5));
    assert_eq!(
        outcome,
        Outcome::Failed(MotionError::Fault(armature::hal::Fault::ProtectiveStop))
    );
    // A new motion is refused while the robot is in protective stop.
    start(&exec, &robot, 2, 0.0, 0.5);
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(1));
    assert!(
        matches!(outcome, Outcome::Failed(MotionError::Fault(_))),
        "{outcome:?}"
    );
    exec.shutdown();
}

#[test]
fn stale_state_aborts_the_motion() {
    let faults = FaultPlan {
        freeze_state_at_s: Some(0.5),
        ..Default::default()
    };
    match outcome_under(faults) {
        Outcome::Failed(e @ MotionError::StaleState { .. }) => {
            assert!(e.to_string().contains("(limit 50 ms)"), "{e}");
        }
        other => panic!("expected a stale-state failure, got {other:?}"),
    }
}

#[test]
fn a_stalled_joint_is_caught_by_the_following_error() {
    let faults = FaultPlan {
        stall: Some(StallFault {
            joint: 2,
            at_s: 0.3,
        }),
        ..Default::default()
    };
    match outcome_under(faults) {
        Outcome::Failed(MotionError::FollowingError {
            joint, limit_rad, ..
        }) => {
            assert_eq!(joint, 3);
            assert_eq!(limit_rad, 0.1);
        }
        other => panic!("expected a following error on joint 3, got {other:?}"),
    }
}

#[test]
fn a_second_start_while_moving_is_refused() {
    let (exec, events, robot) = spawn(FaultPlan::default());
    std::thread::sleep(Duration::from_millis(50));
    start(&exec, &robot, 1, 1.0, 0.5);
    start(&exec, &robot, 2, -1.0, 0.5);
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(2));
    assert_eq!(outcome, Outcome::Failed(MotionError::Busy(1)));
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(5));
    assert_eq!(outcome, Outcome::Succeeded);
    exec.shutdown();
}

#[test]
fn a_start_that_an_earlier_stop_covered_never_begins() {
    let (exec, events, robot) = spawn(FaultPlan::default());
    std::thread::sleep(Duration::from_millis(50));
    let before = exec.snapshot().state.unwrap().positions;
    // The stop overtakes the start in the channel: the fence still holds it back.
    exec.send(Request::Stop { fence: 4 }).unwrap();
    start(&exec, &robot, 4, 1.0, 1.0);
    let (outcome, peak) = finish(&exec, &events, Duration::from_secs(2));
    assert_eq!(outcome, Outcome::Fenced);
    assert_eq!(peak, 0.0);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(exec.snapshot().state.unwrap().positions, before);
    // A motion handed out after the stop moves as usual.
    start(&exec, &robot, 5, 0.2, 1.0);
    let (outcome, _) = finish(&exec, &events, Duration::from_secs(5));
    assert_eq!(outcome, Outcome::Succeeded);
    exec.shutdown();
}

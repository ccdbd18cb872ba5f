//! The speech lint: every kind of message, built with representative values, keeps the
//! contract (contract.rs). It also fails on the texts the contract was written against.

use std::f64::consts::{PI, TAU};

use super::contract::breaches;
use super::*;
use crate::hal::{Fault, LinkError, ShortText};
use crate::robot::{LimitError, PoseError};
use crate::tasks::{StepsStatus, TaskState};

const STATES: [TaskState; 7] = [
    TaskState::AwaitingConfirmation,
    TaskState::Queued,
    TaskState::Running,
    TaskState::Succeeded,
    TaskState::Failed,
    TaskState::Cancelled,
    TaskState::Interrupted,
];

fn steps(done: usize, label: &str) -> StepsStatus {
    StepsStatus {
        total: 6,
        done,
        current: Some(done + 1),
        label: label.into(),
        digest: "d1e5".into(),
        resumed: 0,
        applied: Vec::new(),
    }
}

fn reach() -> Reach {
    Reach {
        joint: 1,
        travel: 1.4,
        speed: 0.25,
        eta_s: 9.3,
        steps: 6,
        longest: (2, 3.1),
        slowest: (1, 0.1),
    }
}

/// Every message kind with representative values, as a tool or a notification says it.
fn every_message() -> Vec<String> {
    let id: u64 = 12;
    let reach = reach();
    let mut all = vec![
        about(0.3),
        about(4.2),
        about(7200.0),
        percent(0.253),
        question(&Question::Move, &reach, "shoulder lift"),
        question(
            &Question::Action {
                title: "Pick from slot 3".into(),
            },
            &reach,
            "elbow",
        ),
        question(
            &Question::Resume {
                title: "Pick from slot 3".into(),
                from: 3,
                total: 6,
            },
            &reach,
            "elbow",
        ),
        awaiting(&question(&Question::Move, &reach, "shoulder pan"), id),
        moving("Moving to fixture above", 3.4, id),
        working("Picking slot 3", 6, 9.0, id),
        resuming(id, 3, 6, "Placing on the tray", true, 5.0),
        progress("Moving to home", 42.7, 2.2, false),
        progress("Moving to home", 42.7, 2.2, true),
        step_progress(2, 6, "Moving above slot 4", 31.0, false),
        step_progress(2, 6, "Moving above slot 4", 31.0, true),
        step_done(2, 6, "Moving above slot 4", 40.0),
        resume_hint(&steps(0, "Reaching in")),
        resume_hint(&steps(1, "Reaching in")),
        resume_hint(&steps(3, "Reaching in")),
        queued("Moving to home", 2, 9.0, id),
        queued("Moving to home", 14, 90.0, id),
        next("Moving to slot 4", 6.0),
        confirmed("move_joints"),
        stays_interrupted(id, &steps(2, "Placing"), why::REJECTED),
        task_list(0, None),
        position_list(&["fixture_above".into(), "home".into(), "tray_above".into()]),
        position_list(&(0..12).map(|i| format!("slot_{i}")).collect::<Vec<_>>()),
        position_saved("over_the_box"),
        joint_out_of_range("shoulder pan", 100.0, -TAU, TAU),
        busy(id, "move_to", 42.0),
        queue_full(8),
        cannot_record("No space left on device (os error 28)", "Nothing moved"),
        cannot_record(
            "Read-only file system",
            "the position over the box was not saved",
        ),
        too_slow("The move", 0.001, 0.05),
        too_long("Step 2", 4000.0, 120.0),
        no_lines("ros"),
        expired(&task_number(id)),
        not_in_state(&task_number(id), "running", "there is nothing to confirm"),
        no_state(),
        pose(&PoseError::NotFinite {
            field: "rx",
            value: f64::NAN,
        }),
        pose(&PoseError::TooFar {
            distance: 12.3,
            limit: 10.0,
        }),
        pose(&PoseError::RotationTooLarge {
            length: 90.0,
            limit: TAU,
        }),
        pose(&PoseError::AngleOutOfRange {
            field: "pitch",
            value: 540.0,
        }),
        unknown_name(
            "position",
            "kitchen",
            &[
                "fixture_above".into(),
                "home".into(),
                "maintenance".into(),
                "ready".into(),
                "tray_above".into(),
            ],
        ),
        unknown_name("position", &"x".repeat(100_000), &["home".into()]),
        unknown_name("output", "lamp", &[]),
        did_you_mean("output", "green_lmap", &["green_lamp".into()]),
        not_a_position("parts_placed", "a number"),
        unusable_name("Home Base!", "it must start with a letter"),
        unknown_task("e2ea41c6-0d3b-4c4e-9b1a-5f1f2a3b4c5d"),
        unknown_task("e2ea"),
        unknown_task(&task_number(999)),
        not_a_task("xyz"),
        not_a_task("task-12x"),
        not_a_task(&"x_y".repeat(50)),
        ambiguous_task(),
        rounded(1e300),
        rounded(-1e300),
        rounded(0.123_456),
        rounded(f64::NAN),
        limit(
            &LimitError::WrongCount {
                given: 3,
                expected: 6,
            },
            &[],
        ),
        limit(
            &LimitError::NotFinite {
                index: 2,
                name: "shoulder_lift_joint".into(),
                value: f64::NAN,
            },
            &[],
        ),
        limit(
            &LimitError::TooFast {
                index: 3,
                name: "elbow_joint".into(),
                value: 9.0,
                limit: PI,
            },
            &[],
        ),
        limit(&LimitError::Speed { value: 1e300 }, &[]),
        limit(&LimitError::Speed { value: -0.2 }, &[]),
        joint_out_of_range("elbow", -4.0, -PI, PI),
        cancelling(id, true),
        cancelling(id, false),
        stopping(Some(id), None, true, 3),
        stopping(None, Some(id), false, 1),
        stopping(None, None, true, 0),
        stopping(None, None, false, 0),
        confirm_answer(id, true),
        confirm_answer(id, false),
        rejected(id),
        stale(900, 500),
        not_moving_mode("PowerOff"),
    ];
    for why in [
        why::REJECTED,
        why::CANCELLED,
        why::STOPPED,
        why::EXPIRED,
        why::CANCELLED_QUEUED,
        why::STOPPED_QUEUED,
        why::PREDECESSOR_FAILED,
        why::FENCED,
    ] {
        all.push(dropped(id, why));
    }
    // The executor's failures as the record keeps them, said through `figures`.
    for e in [
        "no fresh robot state for 52 ms (limit 50 ms); stopped the motion",
        "joint 1 is 0.101 rad away from where it should be (limit 0.100 rad); stopped the motion",
        "the move took 12.3 s, over its limit of 10.0 s; stopped it",
        "the move took 1 s, over its limit of 0.5 s; stopped it",
        "a wall of 1e300 m",
    ] {
        all.push(motion_ended(
            "Moving to home",
            "At home.",
            id,
            TaskState::Failed,
            61.0,
            Some(e),
        ));
        all.push(sequence_ended(
            "pick",
            "Done.",
            id,
            TaskState::Failed,
            &steps(2, "Reaching in"),
            61.0,
            Some(e),
        ));
    }
    let error = Some("the robot is in protective stop");
    for state in STATES {
        all.push(state_words(state));
        all.push(task_list(1, Some((id, "move_to", state))));
        all.push(task_list(7, Some((id, "pick_from_slot", state))));
        for e in [None, error] {
            all.push(motion_ended(
                "Moving to home",
                "At home.",
                id,
                state,
                37.0,
                e,
            ));
            let st = steps(2, "Reaching into slot 3");
            all.push(sequence_ended(
                "pick_from_slot",
                "Slot 3 picked.",
                id,
                state,
                &st,
                37.0,
                e,
            ));
        }
        let st = steps(2, "Reaching into slot 3");
        all.push(interrupted_by_restart(
            id,
            "pick",
            state.as_str(),
            37.0,
            Some(&st),
        ));
        all.push(interrupted_by_restart(
            id,
            "move_to",
            state.as_str(),
            37.0,
            None,
        ));
    }
    all.extend(cell_sentences());
    let faults = [
        Fault::ProtectiveStop,
        Fault::EmergencyStop,
        Fault::Joint { joint: 2 },
        Fault::Controller { code: 3 },
        Fault::Trajectory {
            code: -4,
            text: ShortText::new("path_tolerance (0.1 rad)"),
        },
        Fault::CompanionNotRunning {
            program: "armature.script",
            register: 130,
            unchanged_ms: 2300,
        },
        Fault::Unreachable {
            cause: LinkError::Refused,
        },
        Fault::Unreachable {
            cause: LinkError::RosMaster,
        },
        Fault::Unreachable {
            cause: LinkError::Io(28),
        },
    ];
    for f in &faults {
        all.push(not_moving_fault(&fault(f)));
        if let Fault::Unreachable { cause } = f {
            all.push(unreachable(&link(cause)));
        }
        all.push(arm(&ArmWords {
            robot: "UR5e".into(),
            phase: "idle".into(),
            mode: "running".into(),
            fault: Some(fault(f)),
            ..ArmWords::default()
        }));
    }
    all.push(arm(&ArmWords {
        robot: "UR5e".into(),
        phase: "moving".into(),
        doing: Some("Moving to fixture above".into()),
        task: Some(task_number(id)),
        mode: "running".into(),
        next: Some(("Moving to home".into(), 4.0)),
        gripper: Some(("holding".into(), Some(0.034))),
        ..ArmWords::default()
    }));
    all.push(arm(&ArmWords {
        robot: "UR5e".into(),
        link_down: Some(link(&LinkError::Exception(4))),
        cannot_record: true,
        ..ArmWords::default()
    }));
    all.push(arm(&ArmWords {
        robot: "UR5e".into(),
        phase: "stopping".into(),
        mode: "power_off".into(),
        ..ArmWords::default()
    }));
    all
}

/// The cell's request refusals (poses, offsets, lines), which the words reach through the
/// cell's own words (a lower layer).
fn cell_sentences() -> Vec<String> {
    use crate::cell::words::relative_error;
    use crate::robot::linear::{PlanError, RelativeError};
    let mut all = vec![
        pose(&PoseError::TooFar {
            distance: 1e300,
            limit: 10.0,
        }),
        pose(&PoseError::RotationTooLarge {
            length: 1e300,
            limit: TAU,
        }),
        pose(&PoseError::AngleOutOfRange {
            field: "yaw",
            value: -1e300,
        }),
    ];
    let relative = [
        RelativeError::NotFinite {
            field: "dz",
            value: f64::INFINITY,
        },
        RelativeError::NotFinite {
            field: "rx",
            value: f64::NAN,
        },
        RelativeError::TooFar {
            distance: 3.3,
            limit: 1.7,
        },
        RelativeError::TooMuchTurn { angle: 400.0 },
        RelativeError::UnknownFrame("world_frame".into()),
        RelativeError::UnknownFrame("x".repeat(500)),
    ];
    all.extend(relative.iter().map(|e| format!("{}.", relative_error(e))));
    let plan = [
        PlanError::NoKinematics,
        PlanError::WrongCount {
            given: 3,
            expected: 6,
        },
        PlanError::Speed(2.0),
        PlanError::Speed(1e300),
        PlanError::Curvature {
            fraction: 0.4,
            index: 5,
            name: "wrist_2_joint".into(),
            at: crate::robot::Joints::zeros(6),
        },
    ];
    all.extend(
        plan.iter()
            .map(|e| crate::cell::Refusal::from(e.clone()).to_string()),
    );
    all
}

#[test]
fn every_message_keeps_the_speech_contract() {
    let all = every_message();
    let broken: Vec<String> = all
        .iter()
        .filter_map(|t| {
            let b = breaches(t);
            (!b.is_empty()).then(|| format!("{t:?}: {b:?}"))
        })
        .collect();
    assert!(
        broken.is_empty(),
        "{} of {} texts break the contract:\n{}",
        broken.len(),
        all.len(),
        broken.join("\n")
    );
}

#[test]
fn the_lint_fails_on_the_texts_the_contract_was_written_against() {
    let bad = [
        "joint 1 (shoulder_pan_joint) = 100 rad is outside its range -TAU to TAU rad",
        "UR5e (sim) is standing still, mode running. Motion loop: SCHED_FIFO at 0 Hz, wake-up p99 0 µs.",
        "5 positions: fixture_above, home, maintenance, ready, tray_above.",
        "Task e2ea41c6-0d3b-4c4e-9b1a-5f1f2a3b4c5d is running.",
        "Step 2 of 6: moving above slot 4 — 30 %.",
        "The move at speed 0.001 is below the minimum speed 0.05 (motion.min_speed); nothing moved.",
    ];
    for text in bad {
        assert!(!breaches(text).is_empty(), "the lint lets through {text:?}");
    }
    assert!(breaches(&"word ".repeat(30)).contains(&contract::Breach::TooManyWords { words: 30 }));
}

#[test]
fn the_issues_examples_are_said_aloud() {
    assert_eq!(
        joint_out_of_range("shoulder pan", 100.0, -TAU, TAU),
        "The shoulder pan stops at 360 degrees, not over 5 thousand. Nothing moved."
    );
    assert_eq!(
        position_list(&["fixture_above".into(), "home".into(), "tray_above".into()]),
        "3 positions: fixture above, home, tray above."
    );
    let id: u64 = 12;
    assert_eq!(
        task_list(1, Some((id, "move_to", TaskState::Cancelled))),
        "1 task: task 12, move to, cancelled."
    );
    assert_eq!(
        arm(&ArmWords {
            robot: "UR5e".into(),
            phase: "idle".into(),
            mode: "running".into(),
            ..ArmWords::default()
        }),
        "The UR5e is standing still."
    );
    assert_eq!(percent(0.25), "25 percent");
    assert_eq!(
        motion_ended(
            "Moving to home",
            "At home.",
            12,
            TaskState::Failed,
            63.0,
            Some("joint 1 is 0.101 rad away from where it should be (limit 0.100 rad); stopped the motion"),
        ),
        "Failed at 63 percent: joint 1 is 6 degrees away from where it should be."
    );
    assert_eq!(
        motion_ended(
            "Moving to home",
            "At home.",
            12,
            TaskState::Failed,
            61.0,
            Some("no fresh robot state for 52 ms (limit 50 ms); stopped the motion"),
        ),
        "Failed at 61 percent: no fresh robot state for 52 milliseconds."
    );
    assert_eq!(
        observer("carol", "save_position"),
        "carol is an observer: it may read status and stop, not call save position."
    );
    assert_eq!(lang().rounded(1e300), "more than a billion");
    assert_eq!(lang().rounded(-6.27), "minus 6.3");
    assert_eq!(lang().rounded(1234.56), "1235");
}

//! Durability as a precondition, on the real gate, registry, executor and simulated arm:
//! while the variables cannot be written (variables.json replaced by a directory, as in
//! the campaign), a start and a confirmation are refused with the cause, a held task can
//! still be dropped, `stop` answers, and once the file can be written again motions start.

use std::sync::Arc;
use std::time::{Duration, Instant};

use armature::hal::{limits::LimitedArm, sim::SimArm};
use armature::motion::{ExecutorConfig, ExecutorHandle};
use armature::robot::{RobotDefinition, BUILTIN_UR5E};
use armature::tasks::words::Question;
use armature::tasks::{
    supervisor, Confirm, GateError, GateSettings, MotionGate, MotionTask, Registry, TaskState,
    When, Work,
};
use armature::vars::{VarStore, VarValue, VARS_FILE};
use armsim::FaultPlan;
use serde_json::json;

fn gate(dir: &std::path::Path) -> (Arc<MotionGate>, VarStore, RobotDefinition) {
    let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
    let vars = VarStore::open(dir).unwrap();
    let (registry, _) = Registry::open(dir, vars.clone(), 100).unwrap();
    let registry = Arc::new(registry);
    let arm = LimitedArm::new(
        SimArm::new(&robot, FaultPlan::default(), Instant::now()),
        robot.joints.clone(),
    );
    let executor = ExecutorHandle::spawn(
        Box::new(arm),
        robot.joints.clone(),
        ExecutorConfig::default(),
    )
    .unwrap();
    supervisor::spawn(executor.take_events().unwrap(), registry.clone()).unwrap();
    let settings = GateSettings {
        joints: robot.joints.clone(),
        stale_state_ms: 250,
        goal_tolerance_rad: 0.002,
        expire: Duration::from_secs(60),
        min_speed: 0.01,
        max_motion_s: 600.0,
        queue_limit: 8,
        space: armature::tasks::Space::open(&robot),
    };
    let gate = MotionGate::new(registry, executor, vars.clone(), settings);
    while gate.ready().is_err() {
        std::thread::sleep(Duration::from_millis(5));
    }
    (gate, vars, robot)
}

fn task(robot: &RobotDefinition, confirm: Confirm) -> MotionTask {
    let mut target = robot.home().to_vec();
    target[0] += 0.05;
    MotionTask {
        action: "move_joints".into(),
        params: json!({}),
        owner: "local".into(),
        doing: "Moving the arm".into(),
        done: "Arrived.".into(),
        work: Work::Move { target, speed: 0.5 },
        confirm,
        question: Question::Move,
        when: When::Now,
    }
}

fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "{what} never happened");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn unwritable_variables_refuse_start_and_confirm_and_stop_still_answers() {
    let dir = tempfile::tempdir().unwrap();
    let (gate, vars, robot) = gate(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _in_runtime = runtime.enter();
    let held = gate.start(task(&robot, Confirm::Always)).unwrap();
    assert!(held.held);
    let id = held.record.task_id;
    assert!(vars.flush(Duration::from_secs(5)));

    let file = dir.path().join(VARS_FILE);
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    vars.set_many([("probe", VarValue::Number(1.0))], true);
    until("the failure", || !gate.registry().durability().ok);
    let state = gate.registry().durability();
    assert!(state.failing_since.is_some());
    assert!(
        state
            .cause
            .as_deref()
            .unwrap_or("")
            .starts_with("installation variables: Is a directory"),
        "{state:?}"
    );

    let refused = gate.confirm(&id).unwrap_err();
    assert!(matches!(refused, GateError::Durability(_)));
    assert_eq!(
        refused.to_string(),
        "The state directory cannot be written (Is a directory); nothing moved."
    );
    assert_eq!(
        gate.registry().get(&id).unwrap().state,
        TaskState::AwaitingConfirmation
    );
    // Dropping a held task and stopping need no disk.
    assert_eq!(gate.reject(&id).unwrap().state, TaskState::Cancelled);
    assert!(gate.stop().unwrap().nothing());
    let refused = gate.start(task(&robot, Confirm::Never)).unwrap_err();
    assert_eq!(refused.code(), "durability");
    assert_eq!(gate.registry().list(10).len(), 1, "no task was created");

    std::fs::remove_dir(&file).unwrap();
    until("the recovery", || gate.registry().durability().ok);
    assert!(gate.registry().durability().recovered_at.is_some());
    let on_disk = VarStore::read(dir.path()).unwrap();
    assert_eq!(on_disk["task_state"], VarValue::from("cancelled"));
    let moving = gate.start(task(&robot, Confirm::Never)).unwrap();
    assert_eq!(moving.record.state, TaskState::Running);
    gate.stop().unwrap();
    gate.shutdown();
}

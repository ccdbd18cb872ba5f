//! Shared by the integration tests: a motion gate over the real registry, executor thread and
//! simulated arm.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use armature::hal::{limits::LimitedArm, sim::SimArm};
use armature::motion::{ExecutorConfig, ExecutorHandle};
use armature::robot::{RobotDefinition, BUILTIN_UR5E};
use armature::tasks::words::Question;
use armature::tasks::{
    supervisor, Confirm, GateSettings, MotionGate, MotionTask, Registry, TaskRecord, When, Work,
};
use armature::vars::VarStore;
use armsim::FaultPlan;
use serde_json::json;
use uuid::Uuid;

/// A gate over the real registry, executor thread and simulated arm, in a fresh state dir.
pub struct Cell {
    pub gate: Arc<MotionGate>,
    pub vars: VarStore,
    pub robot: RobotDefinition,
    pub dir: tempfile::TempDir,
    pub runtime: tokio::runtime::Runtime,
}

impl Cell {
    pub fn new(expire: Duration) -> Self {
        Self::in_dir(tempfile::tempdir().unwrap(), expire, FaultPlan::default())
    }

    /// A cell whose simulated arm suffers `faults`.
    pub fn with_faults(faults: FaultPlan) -> Self {
        Self::in_dir(
            tempfile::tempdir().unwrap(),
            Duration::from_secs(60),
            faults,
        )
    }

    /// A cell over the state kept in `dir` (a restart when `dir` held one before).
    pub fn in_dir(dir: tempfile::TempDir, expire: Duration, faults: FaultPlan) -> Self {
        let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
        let (registry, vars) = open(dir.path());
        let registry = Arc::new(registry);
        let arm = LimitedArm::new(
            SimArm::new(&robot, faults, Instant::now()),
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
            expire,
            queue_limit: 8,
            min_speed: 0.01,
            max_motion_s: 600.0,
            space: armature::tasks::Space::open(&robot),
        };
        let gate = MotionGate::new(registry, executor, vars.clone(), settings);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let cell = Self {
            gate,
            vars,
            robot,
            dir,
            runtime,
        };
        while cell.gate.ready().is_err() {
            std::thread::sleep(Duration::from_millis(5));
        }
        cell
    }

    pub fn joints(&self) -> Vec<f64> {
        self.gate.current_joints().unwrap()
    }

    /// A small move away from where the arm is (alternating direction by round).
    pub fn target(&self, round: usize) -> Vec<f64> {
        let mut t = self.robot.home().to_vec();
        t[0] += if round % 2 == 0 { 0.05 } else { -0.05 };
        t
    }

    pub fn task(&self, round: usize, confirm: Confirm) -> MotionTask {
        MotionTask {
            action: "move_joints".into(),
            params: json!({}),
            owner: "race".into(),
            doing: "Moving the arm".into(),
            done: "Arrived.".into(),
            work: Work::Move {
                target: self.target(round),
                speed: 1.0,
            },
            confirm,
            question: Question::Move,
            when: When::Now,
        }
    }

    /// Waits until `id` has ended and the arm stands still; its final record.
    pub fn settle(&self, id: &Uuid) -> TaskRecord {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let rec = self.gate.registry().get(id).unwrap();
            let view = self.gate.view();
            if rec.state.is_terminal() && view.phase == "idle" {
                return rec;
            }
            assert!(Instant::now() < deadline, "task never ended: {rec:?}");
            std::thread::sleep(Duration::from_micros(500));
        }
    }

    /// Follows the arm after a stop answered until `id` ends: true if a motion began
    /// after the executor had already taken the stop (moving after stopping or idle).
    pub fn moved_after_stop(&self, id: &Uuid) -> bool {
        let mut calm = false;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let view = self.gate.view();
            match view.phase {
                "moving" if calm => return true,
                "moving" => {}
                _ => calm = true,
            }
            let ended = self
                .gate
                .registry()
                .get(id)
                .is_some_and(|r| r.state.is_terminal());
            if ended && view.phase == "idle" {
                return false;
            }
            assert!(Instant::now() < deadline, "task never ended");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// The registry and variables kept in `dir`.
pub fn open(dir: &Path) -> (Registry, VarStore) {
    let vars = VarStore::open(dir).unwrap();
    let (registry, _) = Registry::open(dir, vars.clone(), 100).unwrap();
    (registry, vars)
}

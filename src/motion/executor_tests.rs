//! The executor following a sampled straight line on the simulated arm, cycle by cycle on
//! a clock the test drives: the TCP stays on the line, under the speed cap, and a stop
//! brakes along it.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nalgebra::{Isometry3, Vector3};

use super::*;
use crate::hal::sim::SimArm;
use crate::robot::linear::{plan_linear, Frame, LinearLimits, RelativeMove};
use crate::robot::{RobotDefinition, BUILTIN_UR5E};

struct Bench {
    exec: Executor,
    requests: SyncSender<Request>,
    events: Receiver<Event>,
    now: Instant,
    robot: RobotDefinition,
}

const CYCLE: Duration = Duration::from_millis(2);

impl Bench {
    fn new() -> Self {
        let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
        let now = Instant::now();
        let arm = SimArm::new(&robot, Default::default(), now);
        let (req_tx, req_rx) = mpsc::sync_channel(8);
        let (ev_tx, ev_rx) = mpsc::sync_channel(4096);
        let snapshot = Snapshot {
            state: None,
            setpoint: Joints::zeros(6),
            phase: Phase::Idle,
            motion_id: 0,
            progress: 0.0,
            stats: Default::default(),
            published_at: now,
        };
        let (snap_in, _snap_out) = triple_buffer::triple_buffer(&snapshot);
        let exec = Executor::new(
            Box::new(arm),
            robot.joints.clone(),
            ExecutorConfig::default(),
            req_rx,
            ev_tx,
            snap_in,
        );
        Self {
            exec,
            requests: req_tx,
            events: ev_rx,
            now,
            robot,
        }
    }

    /// One read → update → write cycle; the measured joints.
    fn cycle(&mut self) -> Joints {
        self.now += CYCLE;
        let state = self.exec.arm.read(self.now);
        self.exec.take_requests(self.now, &state);
        let command = self.exec.update(self.now, &state);
        self.exec.arm.write(&command).unwrap();
        state.positions
    }

    /// Cycles until a `Finished` event: its outcome and path, and every measured joints.
    fn run_to_end(&mut self, mut each: impl FnMut(usize, &Joints)) -> (Outcome, bool) {
        for k in 0..20_000 {
            let q = self.cycle();
            each(k, &q);
            while let Ok(e) = self.events.try_recv() {
                if let Event::Finished { outcome, path, .. } = e {
                    return (outcome, path.is_some());
                }
            }
        }
        panic!("no Finished event in 40 s of cycles");
    }

    fn start(&self, id: u64, target: Joints, path: Option<Arc<LinearPath>>) {
        self.requests
            .send(Request::Start {
                motion_id: id,
                target,
                speed: 1.0,
                path,
            })
            .unwrap();
    }

    fn go_ready(&mut self) -> Joints {
        let ready = Joints::from_slice(&self.robot.positions["ready"]).unwrap();
        self.start(1, ready, None);
        assert_eq!(self.run_to_end(|_, _| {}).0, Outcome::Succeeded);
        self.cycle()
    }

    fn line_up(&self, from: &Joints, dz: f64) -> Arc<LinearPath> {
        let kin = self.robot.kinematics.as_ref().unwrap();
        let target =
            RelativeMove::translation(0.0, 0.0, dz, Frame::Base).target(&kin.tcp_transform(from));
        let limits = LinearLimits::default();
        Arc::new(plan_linear(kin, &self.robot.joints, from, &target, 1.0, &limits).unwrap())
    }

    fn tcp(&self, q: &Joints) -> Vector3<f64> {
        let t: Isometry3<f64> = self.robot.kinematics.as_ref().unwrap().tcp_transform(q);
        t.translation.vector
    }
}

/// Distance of `p` from the segment `a`–`b`.
fn off_line(p: &Vector3<f64>, a: &Vector3<f64>, b: &Vector3<f64>) -> f64 {
    let ab = b - a;
    let s = ((p - a).dot(&ab) / ab.norm_squared()).clamp(0.0, 1.0);
    (p - (a + ab * s)).norm()
}

#[test]
fn a_line_is_followed_on_the_line_under_the_cap_every_cycle() {
    let mut b = Bench::new();
    let from = b.go_ready();
    let path = b.line_up(&from, 0.1);
    let (a, end) = (b.tcp(&from), b.tcp(&path.samples.last().unwrap().joints));
    assert!((end - a - Vector3::new(0.0, 0.0, 0.1)).norm() < 1e-6);
    b.start(2, path.samples.last().unwrap().joints, Some(path));
    let (mut worst, mut fastest, mut last) = (0.0_f64, 0.0_f64, a);
    let (outcome, handed_back) = b.run_to_end(|_, q| {
        let p = b_tcp(q);
        worst = worst.max(off_line(&p, &a, &end));
        fastest = fastest.max((p - last).norm() / CYCLE.as_secs_f64());
        last = p;
    });
    assert_eq!(outcome, Outcome::Succeeded);
    assert!(handed_back, "the path did not come back with Finished");
    assert!(
        worst < 0.001,
        "the TCP left the line by {:.3} mm",
        worst * 1e3
    );
    // The measured TCP, differenced per cycle, under the 0.25 m/s cap (1 % for the
    // simulated drive's servo).
    assert!(fastest <= 0.25 * 1.01, "the TCP went {fastest:.4} m/s");
    let q = b.cycle();
    assert!((b.tcp(&q) - end).norm() < 0.0005);
}

#[test]
fn a_stop_brakes_along_the_line() {
    let mut b = Bench::new();
    let from = b.go_ready();
    let path = b.line_up(&from, 0.2);
    let (a, end) = (b.tcp(&from), b.tcp(&path.samples.last().unwrap().joints));
    b.start(2, path.samples.last().unwrap().joints, Some(path));
    let requests = b.requests.clone();
    let mut worst = 0.0_f64;
    let mut at_stop = None;
    let (outcome, handed_back) = b.run_to_end(|k, q| {
        let p = b_tcp(q);
        worst = worst.max(off_line(&p, &a, &end));
        // Half a second in: at full speed, well inside the line.
        if k == 250 {
            requests.send(Request::Stop { fence: 2 }).unwrap();
            at_stop = Some(p);
        }
    });
    assert_eq!(outcome, Outcome::Cancelled);
    assert!(handed_back);
    let q = b.cycle();
    let stopped = b.tcp(&q);
    let at_stop = at_stop.unwrap();
    assert!(
        stopped.z > at_stop.z && stopped.z < end.z - 0.01,
        "did not brake mid-line"
    );
    assert!(
        worst < 0.001,
        "the TCP left the line by {:.3} mm",
        worst * 1e3
    );
    assert!(off_line(&stopped, &a, &end) < 0.001);
}

/// The TCP of the built-in UR5e at `q` (the closures above cannot borrow the bench).
fn b_tcp(q: &Joints) -> Vector3<f64> {
    use std::sync::OnceLock;
    static ROBOT: OnceLock<RobotDefinition> = OnceLock::new();
    let robot = ROBOT.get_or_init(|| RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap());
    robot
        .kinematics
        .as_ref()
        .unwrap()
        .tcp_transform(q)
        .translation
        .vector
}

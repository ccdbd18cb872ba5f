//! The gripper over ROS: a `control_msgs/GripperCommand` action client on the standard
//! action topics of the gripper controller's namespace (goal, cancel, feedback, result).
//!
//! It runs on its own thread, once the arm's link (`hal/ros.rs`) has started the node.
//! Digital I/O over ROS is not served yet: `set_output` answers so.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wire::ros_msgs::{actionlib_msgs, control_msgs, std_msgs};

use super::io::{GripperReading, IoError, IoPort, IoSnapshot};
use crate::robot::io::GripperSpec;

/// The force (N) a stroke may use; GripperCommand asks for one with every goal.
pub const MAX_EFFORT_N: f64 = 40.0;
/// How long a goal waits for the action server's subscription before it is sent anyway.
const SERVER_WAIT: Duration = Duration::from_secs(2);

enum Command {
    /// Drive the fingers to this gap (m).
    Grip(f64),
    /// Cancel the goal in progress.
    Halt,
}

#[derive(Default)]
struct Shared {
    /// The gap, from the latest feedback or result.
    width: Option<f64>,
    /// The goal in progress.
    goal: Option<String>,
    /// A goal was asked for and has not ended.
    active: bool,
    stalled: Option<bool>,
}

fn lock(s: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // Plain values: a panicking callback cannot leave them half written.
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// The gripper as a GripperCommand action client.
pub struct RosIo {
    shared: Arc<Mutex<Shared>>,
    commands: Mutex<Sender<Command>>,
    gripper: Option<GripperSpec>,
}

/// Starts the client for the action namespace `ns` (e.g. `/gripper_controller/gripper_cmd`)
/// of the robot's `gripper`.
pub fn start(ns: String, gripper: Option<GripperSpec>) -> std::io::Result<Arc<RosIo>> {
    let (tx, rx) = mpsc::channel();
    let shared = Arc::new(Mutex::new(Shared::default()));
    let io = Arc::new(RosIo {
        shared: shared.clone(),
        commands: Mutex::new(tx),
        gripper,
    });
    std::thread::Builder::new()
        .name("armature-ros-gripper".into())
        .spawn(move || run(ns, shared, rx))?;
    Ok(io)
}

fn run(ns: String, shared: Arc<Mutex<Shared>>, commands: Receiver<Command>) {
    // The arm's link thread starts the node (rosrust keeps one per process).
    while !rosrust::is_initialized() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let ns = ns.trim_end_matches('/').to_owned();
    let (goals, cancels, _subs) = loop {
        match connect(&ns, &shared) {
            Ok(v) => break v,
            Err(e) => {
                tracing::warn!(action = %ns, error = %e, "cannot connect the gripper's action topics");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    };
    tracing::info!(action = %ns, "gripper action client up");
    while let Ok(c) = commands.recv() {
        match c {
            Command::Grip(position) => {
                let waited = Instant::now();
                while goals.subscriber_count() == 0 && waited.elapsed() < SERVER_WAIT {
                    std::thread::sleep(Duration::from_millis(20));
                }
                let now = rosrust::now();
                let id = format!("armature-gripper-{}", now.nanos());
                lock(&shared).goal = Some(id.clone());
                let goal = control_msgs::GripperCommandActionGoal {
                    header: std_msgs::Header {
                        stamp: now,
                        ..Default::default()
                    },
                    goal_id: actionlib_msgs::GoalID {
                        stamp: now,
                        id: id.clone(),
                    },
                    goal: control_msgs::GripperCommandGoal {
                        command: control_msgs::GripperCommand {
                            position,
                            max_effort: MAX_EFFORT_N,
                        },
                    },
                };
                if let Err(e) = goals.send(goal) {
                    tracing::error!(goal = %id, error = %e, "cannot send the gripper goal");
                    lock(&shared).active = false;
                }
            }
            Command::Halt => {
                let goal = lock(&shared).goal.clone();
                if let Some(id) = goal {
                    let _ = cancels.send(actionlib_msgs::GoalID {
                        stamp: rosrust::Time::default(),
                        id,
                    });
                }
            }
        }
    }
}

type Goals = rosrust::Publisher<control_msgs::GripperCommandActionGoal>;
type Cancels = rosrust::Publisher<actionlib_msgs::GoalID>;

fn connect(
    ns: &str,
    shared: &Arc<Mutex<Shared>>,
) -> Result<(Goals, Cancels, Vec<rosrust::Subscriber>), rosrust::error::Error> {
    let goals = rosrust::publish(&format!("{ns}/goal"), 10)?;
    let cancels = rosrust::publish(&format!("{ns}/cancel"), 10)?;
    let s = shared.clone();
    let feedback = rosrust::subscribe(
        &format!("{ns}/feedback"),
        10,
        move |f: control_msgs::GripperCommandActionFeedback| {
            let mut s = lock(&s);
            if s.goal.as_deref() == Some(f.status.goal_id.id.as_str()) {
                s.width = Some(f.feedback.position);
            }
        },
    )?;
    let s = shared.clone();
    let result = rosrust::subscribe(
        &format!("{ns}/result"),
        10,
        move |r: control_msgs::GripperCommandActionResult| {
            let mut s = lock(&s);
            if s.goal.as_deref() == Some(r.status.goal_id.id.as_str()) {
                s.width = Some(r.result.position);
                s.stalled = Some(r.result.stalled);
                s.active = false;
            }
        },
    )?;
    Ok((goals, cancels, vec![feedback, result]))
}

impl RosIo {
    fn send(&self, c: Command) -> Result<(), IoError> {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(c)
            .map_err(|_| IoError::Link("the gripper's ROS thread has ended".into()))
    }
}

impl IoPort for RosIo {
    fn set_output(&self, _: u16, _: bool) -> Result<(), IoError> {
        Err(IoError::Link(
            "digital outputs are not served over ROS yet".into(),
        ))
    }

    fn snapshot(&self) -> IoSnapshot {
        let s = lock(&self.shared);
        let gripper = self.gripper.as_ref().map(|g| GripperReading {
            // Until the server reports, the fingers are taken to be where they start: open.
            width_m: s.width.unwrap_or(g.open_width_m),
            moving: s.active,
            stalled: s.stalled,
        });
        IoSnapshot {
            outputs: 0,
            inputs: 0,
            gripper,
            known: s.width.is_some(),
        }
    }

    fn grip(&self, close: bool) -> Result<(), IoError> {
        let g = self.gripper.as_ref().ok_or(IoError::NoGripper)?;
        {
            let mut s = lock(&self.shared);
            s.active = true;
            s.stalled = None;
        }
        let target = if close {
            g.closed_width_m
        } else {
            g.open_width_m
        };
        self.send(Command::Grip(target))
    }

    fn halt_gripper(&self) {
        lock(&self.shared).active = false;
        let _ = self.send(Command::Halt);
    }
}

//! The ROS backend (rosrust, ROS 1): joint states in, one `FollowJointTrajectory` goal per
//! motion out, over the standard action topics of the controller's namespace.
//!
//! rosrust's callbacks and the link thread exchange the latest state with the real-time
//! cycle through a triple buffer; the cycle only hands over motion edges.

use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wire::ros_msgs::{actionlib_msgs, control_msgs, sensor_msgs, std_msgs, trajectory_msgs};

use super::backoff::Backoff;
use super::edges::{LinkedArm, MotionEdge};
use super::{ArmState, Fault, Joints, LinkError, RobotMode, ShortText};
use crate::robot::linear::LinearPath;
use crate::robot::JointSpec;
use crate::robot::Plan;

/// Where the arm's ROS interfaces are.
#[derive(Debug, Clone)]
pub struct RosConfig {
    /// The master, e.g. `http://127.0.0.1:11311`; `None` takes `ROS_MASTER_URI`.
    pub master_uri: Option<String>,
    /// `sensor_msgs/JointState` topic.
    pub joint_states: String,
    /// The `FollowJointTrajectory` action namespace.
    pub action_ns: String,
}

/// Trajectory points per second of motion sent in a goal.
const POINTS_PER_SECOND: f64 = 25.0;

/// The state both rosrust's callbacks and the link thread update.
struct Shared {
    state: triple_buffer::Input<ArmState>,
    current: ArmState,
    /// The goal id of the motion in progress.
    goal: Option<String>,
    /// The master stopped answering; topics may still flow, but the link counts as down.
    master_down: bool,
    /// The action server subscribes to our goals; without it a goal would be lost.
    server_connected: bool,
}

impl Shared {
    fn publish(&mut self) {
        self.state.write(self.current);
    }
}

/// When the controller sampled a state, from its header stamp: trusted only within the last
/// second before receipt (same host or synchronized clocks), else the receipt time.
fn sampled_at(stamp: rosrust::Time) -> Instant {
    let now = Instant::now();
    let age_ns = rosrust::now().nanos() - stamp.nanos();
    if (0..1_000_000_000).contains(&age_ns) {
        now.checked_sub(Duration::from_nanos(age_ns as u64))
            .unwrap_or(now)
    } else {
        now
    }
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // The data stays consistent between statements; a panicking callback must not stop the link.
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts the link thread for the robot's `joints`; returns the arm the real-time cycle drives.
pub fn start(config: RosConfig, joints: Vec<JointSpec>) -> std::io::Result<LinkedArm> {
    let (arm, ends) = LinkedArm::new("ros", joints.len());
    let shared = Arc::new(Mutex::new(Shared {
        state: ends.state,
        current: ends.initial,
        goal: None,
        master_down: false,
        server_connected: false,
    }));
    let edges = ends.edges;
    std::thread::Builder::new()
        .name("armature-ros".into())
        .spawn(move || {
            Link {
                config,
                joints,
                shared,
                edges,
            }
            .run()
        })?;
    Ok(arm)
}

struct Link {
    config: RosConfig,
    joints: Vec<JointSpec>,
    shared: Arc<Mutex<Shared>>,
    edges: Receiver<MotionEdge>,
}

type Goals = rosrust::Publisher<control_msgs::FollowJointTrajectoryActionGoal>;
type Cancels = rosrust::Publisher<actionlib_msgs::GoalID>;

impl Link {
    fn link_down(&self, cause: LinkError) {
        let mut s = lock(&self.shared);
        s.current.mode = RobotMode::Disconnected;
        s.current.fault = Some(Fault::Unreachable { cause });
        s.current.link_down_since.get_or_insert(Instant::now());
        s.publish();
    }

    fn run(self) {
        if let Some(uri) = &self.config.master_uri {
            // rosrust reads the master from the environment. Set before any rosrust call,
            // and nothing else in the plugin reads or writes environment variables.
            std::env::set_var("ROS_MASTER_URI", uri);
        }
        let mut backoff = Backoff::new();
        // The node: rosrust keeps one per process, and the plugin keeps its own signal handling.
        while let Err(e) = rosrust::try_init_with_options("armature", false) {
            self.link_down(LinkError::RosMaster);
            let delay = backoff.next_delay();
            tracing::warn!(error = %e, retry_in_s = delay.as_secs_f64(), "ROS master unreachable");
            std::thread::sleep(delay);
        }
        let (goals, cancels, _subscriptions) = loop {
            match self.connect() {
                Ok(v) => break v,
                Err(e) => {
                    self.link_down(LinkError::RosMaster);
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, retry_in_s = delay.as_secs_f64(), "cannot register with the ROS master");
                    std::thread::sleep(delay);
                }
            }
        };
        tracing::info!(action = %self.config.action_ns, joint_states = %self.config.joint_states, "ROS node up");
        self.link_down(LinkError::NoJointStates);
        let mut last_check = Instant::now();
        loop {
            match self.edges.recv_timeout(Duration::from_millis(20)) {
                Ok(edge) => self.execute(edge, &goals, &cancels),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            self.check_action_server(&goals);
            if last_check.elapsed() >= Duration::from_secs(1) {
                last_check = Instant::now();
                // The master going away does not stop peer-to-peer topics, but new
                // connections need it: say so in the state.
                let answers = rosrust::parameters().is_ok();
                let was_down = std::mem::replace(&mut lock(&self.shared).master_down, !answers);
                if !answers {
                    self.link_down(LinkError::RosMaster);
                } else if was_down {
                    tracing::info!("the ROS master answers again");
                    let mut s = lock(&self.shared);
                    if s.current.fault
                        == Some(Fault::Unreachable {
                            cause: LinkError::RosMaster,
                        })
                    {
                        // The next joint state marks the link up.
                        s.current.fault = Some(Fault::Unreachable {
                            cause: LinkError::NoJointStates,
                        });
                        s.publish();
                    }
                }
            }
        }
    }

    /// A goal sent before the action server's subscription is connected would be lost;
    /// until it is, the link counts as down (and motions are refused).
    fn check_action_server(&self, goals: &Goals) {
        let connected = goals.subscriber_count() > 0;
        let mut s = lock(&self.shared);
        s.server_connected = connected;
        let missing = Some(Fault::Unreachable {
            cause: LinkError::NoActionServer,
        });
        if !connected && s.current.fault.is_none() {
            s.current.fault = missing;
            s.current.link_down_since.get_or_insert(Instant::now());
            s.publish();
        } else if connected && s.current.fault == missing {
            s.current.fault = None;
            s.current.link_down_since = None;
            s.publish();
        }
    }

    #[allow(clippy::type_complexity)]
    fn connect(&self) -> Result<(Goals, Cancels, Vec<rosrust::Subscriber>), rosrust::error::Error> {
        let ns = self.config.action_ns.trim_end_matches('/');
        let goals = rosrust::publish(&format!("{ns}/goal"), 10)?;
        let cancels = rosrust::publish(&format!("{ns}/cancel"), 10)?;
        let mut subs = Vec::new();

        let shared = self.shared.clone();
        let names: Vec<String> = self.joints.iter().map(|j| j.name.clone()).collect();
        subs.push(rosrust::subscribe(
            &self.config.joint_states,
            10,
            move |m: sensor_msgs::JointState| {
                // Joints are mapped by name, never by order; a message missing one is skipped.
                let mut positions = Joints::zeros(names.len());
                let mut velocities = Joints::zeros(names.len());
                for (i, name) in names.iter().enumerate() {
                    let Some(k) = m.name.iter().position(|n| n == name) else {
                        return;
                    };
                    positions[i] = m.position.get(k).copied().unwrap_or(f64::NAN);
                    velocities[i] = m.velocity.get(k).copied().unwrap_or(0.0);
                }
                let mut s = lock(&shared);
                s.current.positions = positions;
                s.current.velocities = velocities;
                s.current.sampled_at = sampled_at(m.header.stamp);
                s.current.mode = RobotMode::Running;
                // Joint states flowing bring the link up, unless the master is gone or no
                // action server listens yet: then the link stays down, naming the server, so
                // that no reader sees it up in between.
                if matches!(s.current.fault, Some(Fault::Unreachable { .. })) && !s.master_down {
                    if s.server_connected {
                        s.current.fault = None;
                        s.current.link_down_since = None;
                    } else {
                        s.current.fault = Some(Fault::Unreachable {
                            cause: LinkError::NoActionServer,
                        });
                    }
                }
                s.publish();
            },
        )?);

        let shared = self.shared.clone();
        subs.push(rosrust::subscribe(
            &format!("{ns}/result"),
            10,
            move |r: control_msgs::FollowJointTrajectoryActionResult| {
                let mut s = lock(&shared);
                if s.goal.as_deref() != Some(r.status.goal_id.id.as_str()) {
                    return;
                }
                let failed = matches!(
                    r.status.status,
                    actionlib_msgs::GoalStatus::ABORTED | actionlib_msgs::GoalStatus::REJECTED
                );
                if failed
                    || r.result.error_code != control_msgs::FollowJointTrajectoryResult::SUCCESSFUL
                {
                    let text = if r.result.error_string.is_empty() {
                        &r.status.text
                    } else {
                        &r.result.error_string
                    };
                    s.current.fault = Some(Fault::Trajectory {
                        code: r.result.error_code,
                        text: ShortText::new(text),
                    });
                    s.publish();
                }
            },
        )?);

        // The status topic names a goal's end even when its result message is lost.
        let shared = self.shared.clone();
        subs.push(rosrust::subscribe(
            &format!("{ns}/status"),
            10,
            move |a: actionlib_msgs::GoalStatusArray| {
                let mut s = lock(&shared);
                let Some(goal) = s.goal.clone() else { return };
                let ended = a.status_list.iter().find(|st| {
                    st.goal_id.id == goal
                        && matches!(
                            st.status,
                            actionlib_msgs::GoalStatus::ABORTED
                                | actionlib_msgs::GoalStatus::REJECTED
                        )
                });
                if let (Some(st), None) = (ended, s.current.fault) {
                    s.current.fault = Some(Fault::Trajectory {
                        code: 0,
                        text: ShortText::new(&st.text),
                    });
                    s.publish();
                }
            },
        )?);
        Ok((goals, cancels, subs))
    }

    fn execute(&self, edge: MotionEdge, goals: &Goals, cancels: &Cancels) {
        match edge {
            MotionEdge::Move {
                motion_id,
                target,
                speed,
                path,
            } => {
                let id = format!("armature-{motion_id}-{}", rosrust::now().nanos());
                let (points, duration) = match path.filter(|p| !p.waypoints.is_empty()) {
                    // A straight line: its waypoints, planned and checked before the ack.
                    Some(line) => (line_points(&line), line.duration()),
                    None => {
                        let start = lock(&self.shared).current.positions;
                        let plan = Plan::new(&self.joints, start, target, speed);
                        (plan_points(&plan), plan.duration())
                    }
                };
                let count = points.len();
                let goal = self.goal_message(points, &id);
                lock(&self.shared).goal = Some(id.clone());
                if let Err(e) = goals.send(goal) {
                    tracing::error!(goal = %id, error = %e, "cannot send the trajectory goal");
                } else {
                    tracing::info!(goal = %id, duration_s = duration, points = count, "trajectory goal sent");
                }
            }
            MotionEdge::Stop => {
                let goal = lock(&self.shared).goal.clone();
                if let Some(id) = goal {
                    let _ = cancels.send(actionlib_msgs::GoalID {
                        stamp: rosrust::Time::default(),
                        id,
                    });
                }
            }
            MotionEdge::Idle => {
                let mut s = lock(&self.shared);
                s.goal = None;
                if matches!(s.current.fault, Some(Fault::Trajectory { .. })) {
                    s.current.fault = None;
                    s.publish();
                }
            }
        }
    }

    /// One goal through `points`, on the robot's joints by name.
    fn goal_message(
        &self,
        points: Vec<trajectory_msgs::JointTrajectoryPoint>,
        id: &str,
    ) -> control_msgs::FollowJointTrajectoryActionGoal {
        let now = rosrust::now();
        control_msgs::FollowJointTrajectoryActionGoal {
            header: std_msgs::Header {
                stamp: now,
                ..Default::default()
            },
            goal_id: actionlib_msgs::GoalID {
                stamp: now,
                id: id.into(),
            },
            goal: control_msgs::FollowJointTrajectoryGoal {
                trajectory: trajectory_msgs::JointTrajectory {
                    header: std_msgs::Header::default(),
                    joint_names: self.joints.iter().map(|j| j.name.clone()).collect(),
                    points,
                },
                ..Default::default()
            },
        }
    }
}

/// A joint move as trajectory points, sampled at [`POINTS_PER_SECOND`].
fn plan_points(plan: &Plan) -> Vec<trajectory_msgs::JointTrajectoryPoint> {
    let steps = ((plan.duration() * POINTS_PER_SECOND).ceil() as usize).max(1);
    (1..=steps)
        .map(|k| {
            let t = plan.duration() * k as f64 / steps as f64;
            let (s, rate) = plan.path_at(t);
            let (q, qd) = plan.joints_at(s, rate);
            point(t, &q, &qd)
        })
        .collect()
}

/// A straight line's waypoints as trajectory points.
fn line_points(line: &LinearPath) -> Vec<trajectory_msgs::JointTrajectoryPoint> {
    line.waypoints
        .iter()
        .map(|w| point(w.t, &w.positions, &w.velocities))
        .collect()
}

fn point(t: f64, q: &Joints, qd: &Joints) -> trajectory_msgs::JointTrajectoryPoint {
    trajectory_msgs::JointTrajectoryPoint {
        positions: q.to_vec(),
        velocities: qd.to_vec(),
        time_from_start: rosrust::Duration::from_nanos((t * 1e9) as i64),
        ..Default::default()
    }
}

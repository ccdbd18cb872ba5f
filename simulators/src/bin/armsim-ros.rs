//! `armsim-ros`: the simulated arm as a ROS node, like a robot driver's trajectory controller:
//! it publishes `sensor_msgs/JointState` and serves `control_msgs/FollowJointTrajectory`
//! over the standard action topics (goal, cancel, status, feedback, result), and
//! `control_msgs/GripperCommand` for the robot file's gripper (`armsim::ros_gripper`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use armsim::robot_file::SimRobotFile;
use armsim::{ArmModel, FaultPlan};
use clap::Parser;
use wire::ros_msgs::{actionlib_msgs, control_msgs, sensor_msgs, std_msgs, trajectory_msgs};

use actionlib_msgs::GoalStatus;
use control_msgs::FollowJointTrajectoryResult as Outcome;

/// The simulated controller's cycle.
const CYCLE: Duration = Duration::from_millis(2);

/// Serve a simulated arm as a ROS trajectory controller.
#[derive(Debug, Parser)]
#[command(name = "armsim-ros", version)]
struct Args {
    /// Robot definition.
    #[arg(long, default_value = "robots/ur5e.toml")]
    robot: PathBuf,
    /// The FollowJointTrajectory action namespace.
    #[arg(
        long,
        default_value = "/scaled_pos_joint_traj_controller/follow_joint_trajectory"
    )]
    namespace: String,
    /// The joint states topic.
    #[arg(long, default_value = "/joint_states")]
    joint_states: String,
    /// Joint states published per second.
    #[arg(long, default_value_t = 125.0)]
    rate: f64,
    /// Reject every goal (INVALID_GOAL).
    #[arg(long)]
    reject_goals: bool,
    /// Abort each goal this many seconds into it with PATH_TOLERANCE_VIOLATED.
    #[arg(long, value_name = "S")]
    abort_after: Option<f64>,
    /// Stop publishing joint states this many seconds after start...
    #[arg(long, value_name = "S")]
    stop_joint_states_after: Option<f64>,
    /// ...for this long.
    #[arg(long, value_name = "S", default_value_t = f64::INFINITY)]
    stop_joint_states_for: f64,
    /// The GripperCommand action namespace (served when the robot file has a gripper).
    #[arg(long, default_value = "/gripper_controller/gripper_cmd")]
    gripper_namespace: String,
    /// A part this wide (m) lies between the gripper's fingers: closing stalls on it.
    #[arg(long, value_name = "M")]
    part_width: Option<f64>,
}

struct Goal {
    id: actionlib_msgs::GoalID,
    /// (time from start, positions, velocities) in the robot's joint order.
    points: Vec<(f64, Vec<f64>, Vec<f64>)>,
    started: f64,
    cancel: bool,
}

struct Controller {
    model: ArmModel,
    goal: Option<Goal>,
    /// The latest status of each goal seen, for the status topic.
    statuses: Vec<GoalStatus>,
}

fn status(id: &actionlib_msgs::GoalID, code: u8, text: &str) -> GoalStatus {
    GoalStatus {
        goal_id: id.clone(),
        status: code,
        text: text.into(),
    }
}

fn set_status(c: &mut Controller, s: GoalStatus) {
    c.statuses.retain(|o| o.goal_id.id != s.goal_id.id);
    c.statuses.push(s);
    if c.statuses.len() > 10 {
        c.statuses.remove(0);
    }
}

fn sample(points: &[(f64, Vec<f64>, Vec<f64>)], t: f64) -> (Vec<f64>, Vec<f64>) {
    let next = points.iter().position(|p| p.0 >= t);
    match next {
        None => {
            let last = &points[points.len() - 1];
            (last.1.clone(), vec![0.0; last.1.len()])
        }
        Some(0) => (points[0].1.clone(), points[0].2.clone()),
        Some(i) => {
            let (a, b) = (&points[i - 1], &points[i]);
            let f = ((t - a.0) / (b.0 - a.0).max(1e-9)).clamp(0.0, 1.0);
            let lerp =
                |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(x, y)| x + (y - x) * f).collect();
            (lerp(&a.1, &b.1), lerp(&a.2, &b.2))
        }
    }
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armsim-ros: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let file = SimRobotFile::load(&args.robot)?;
    rosrust::try_init_with_options("armsim_ros", true)
        .map_err(|e| format!("cannot reach the ROS master: {e}"))?;
    let ns = args.namespace.trim_end_matches('/').to_owned();
    let err = |e: rosrust::error::Error| e.to_string();
    let _gripper = match file.gripper {
        Some(g) => armsim::ros_gripper::serve(&args.gripper_namespace, g, args.part_width)?,
        None => Vec::new(),
    };
    let states =
        rosrust::publish::<sensor_msgs::JointState>(&args.joint_states, 10).map_err(err)?;
    let status_pub =
        rosrust::publish::<actionlib_msgs::GoalStatusArray>(&format!("{ns}/status"), 10)
            .map_err(err)?;
    let feedback_pub = rosrust::publish::<control_msgs::FollowJointTrajectoryActionFeedback>(
        &format!("{ns}/feedback"),
        10,
    )
    .map_err(err)?;
    let result_pub = Arc::new(
        rosrust::publish::<control_msgs::FollowJointTrajectoryActionResult>(
            &format!("{ns}/result"),
            10,
        )
        .map_err(err)?,
    );
    let controller = Arc::new(Mutex::new(Controller {
        model: ArmModel::new(file.limits.clone(), &file.home, FaultPlan::default()),
        goal: None,
        statuses: Vec::new(),
    }));
    let names = file.names.clone();
    let send_result = {
        let result_pub = result_pub.clone();
        move |id: &actionlib_msgs::GoalID, code: u8, error_code: i32, text: &str| {
            let msg = control_msgs::FollowJointTrajectoryActionResult {
                header: std_msgs::Header {
                    stamp: rosrust::now(),
                    ..Default::default()
                },
                status: status(id, code, text),
                result: Outcome {
                    error_code,
                    error_string: text.into(),
                },
            };
            let _ = result_pub.send(msg);
        }
    };

    let _goal_sub = {
        let controller = controller.clone();
        let names = names.clone();
        let send_result = send_result.clone();
        let reject = args.reject_goals;
        rosrust::subscribe(
            &format!("{ns}/goal"),
            10,
            move |g: control_msgs::FollowJointTrajectoryActionGoal| {
                let id = g.goal_id.clone();
                eprintln!(
                    "armsim-ros: goal {} with {} points",
                    id.id,
                    g.goal.trajectory.points.len()
                );
                let mut c = controller.lock().unwrap_or_else(|p| p.into_inner());
                if reject {
                    set_status(
                        &mut c,
                        status(&id, GoalStatus::REJECTED, "goal rejected (--reject-goals)"),
                    );
                    drop(c);
                    return send_result(
                        &id,
                        GoalStatus::REJECTED,
                        Outcome::INVALID_GOAL,
                        "goal rejected (--reject-goals)",
                    );
                }
                // Joints are mapped by name, never by order.
                let order: Option<Vec<usize>> = names
                    .iter()
                    .map(|n| g.goal.trajectory.joint_names.iter().position(|m| m == n))
                    .collect();
                let Some(order) =
                    order.filter(|_| g.goal.trajectory.joint_names.len() == names.len())
                else {
                    let text = format!(
                        "joints {:?} do not match the controller's {:?}",
                        g.goal.trajectory.joint_names, names
                    );
                    set_status(&mut c, status(&id, GoalStatus::REJECTED, &text));
                    drop(c);
                    return send_result(&id, GoalStatus::REJECTED, Outcome::INVALID_JOINTS, &text);
                };
                let points = g
                    .goal
                    .trajectory
                    .points
                    .iter()
                    .map(|p| {
                        let t = f64::from(p.time_from_start.sec)
                            + f64::from(p.time_from_start.nsec) * 1e-9;
                        let pick = |v: &[f64]| {
                            order
                                .iter()
                                .map(|&i| v.get(i).copied().unwrap_or(0.0))
                                .collect::<Vec<_>>()
                        };
                        (t, pick(&p.positions), pick(&p.velocities))
                    })
                    .collect::<Vec<_>>();
                if points.is_empty() {
                    set_status(
                        &mut c,
                        status(&id, GoalStatus::REJECTED, "empty trajectory"),
                    );
                    drop(c);
                    return send_result(
                        &id,
                        GoalStatus::REJECTED,
                        Outcome::INVALID_GOAL,
                        "empty trajectory",
                    );
                }
                if let Some(old) = c.goal.take() {
                    set_status(
                        &mut c,
                        status(&old.id, GoalStatus::PREEMPTED, "preempted by a new goal"),
                    );
                    send_result(
                        &old.id,
                        GoalStatus::PREEMPTED,
                        Outcome::SUCCESSFUL,
                        "preempted by a new goal",
                    );
                }
                let started = c.model.time_s();
                set_status(&mut c, status(&id, GoalStatus::ACTIVE, ""));
                c.goal = Some(Goal {
                    id,
                    points,
                    started,
                    cancel: false,
                });
            },
        )
        .map_err(err)?
    };

    let _cancel_sub = {
        let controller = controller.clone();
        rosrust::subscribe(
            &format!("{ns}/cancel"),
            10,
            move |id: actionlib_msgs::GoalID| {
                let mut c = controller.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(goal) = c
                    .goal
                    .as_mut()
                    .filter(|g| id.id.is_empty() || g.id.id == id.id)
                {
                    eprintln!("armsim-ros: cancel received for goal {}", goal.id.id);
                    goal.cancel = true;
                    let gid = goal.id.clone();
                    set_status(
                        &mut c,
                        status(&gid, GoalStatus::PREEMPTING, "cancel requested"),
                    );
                }
            },
        )
        .map_err(err)?
    };

    // The controller: follows the active goal's trajectory, 500 times a second.
    {
        let controller = controller.clone();
        let abort_after = args.abort_after;
        let names = names.clone();
        std::thread::spawn(move || {
            let mut next = Instant::now();
            let mut last_feedback = Instant::now();
            loop {
                next += CYCLE;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
                let mut c = controller.lock().unwrap_or_else(|p| p.into_inner());
                let now = c.model.time_s();
                let mut ended = None;
                let mut feedback = None;
                if let Some(goal) = c.goal.as_ref() {
                    let t = now - goal.started;
                    let end = goal.points.last().map(|p| p.0).unwrap_or(0.0);
                    if goal.cancel {
                        ended = Some((
                            GoalStatus::PREEMPTED,
                            Outcome::SUCCESSFUL,
                            "cancelled".to_owned(),
                        ));
                    } else if abort_after.is_some_and(|a| t >= a) {
                        let text =
                            format!("{} path tolerance violated (simulated fault)", names[0]);
                        ended = Some((GoalStatus::ABORTED, Outcome::PATH_TOLERANCE_VIOLATED, text));
                    } else {
                        let (p, v) = sample(&goal.points, t);
                        if t >= end && c.model.settled(1e-3) {
                            ended =
                                Some((GoalStatus::SUCCEEDED, Outcome::SUCCESSFUL, String::new()));
                        }
                        let id = goal.id.clone();
                        c.model.command(&p, &v);
                        if last_feedback.elapsed() >= Duration::from_millis(100) {
                            last_feedback = Instant::now();
                            feedback = Some((id, p));
                        }
                    }
                }
                if let Some((code, error_code, text)) = ended {
                    if code != GoalStatus::SUCCEEDED {
                        c.model.brake();
                    }
                    if let Some(goal) = c.goal.take() {
                        set_status(&mut c, status(&goal.id, code, &text));
                        drop(c);
                        send_result(&goal.id, code, error_code, &text);
                        continue;
                    }
                }
                let actual = c.model.state().positions.to_vec();
                c.model.step(CYCLE.as_secs_f64());
                drop(c);
                if let Some((id, desired)) = feedback {
                    let point = |positions: Vec<f64>| trajectory_msgs::JointTrajectoryPoint {
                        positions,
                        ..Default::default()
                    };
                    let error = desired.iter().zip(&actual).map(|(d, a)| d - a).collect();
                    let _ = feedback_pub.send(control_msgs::FollowJointTrajectoryActionFeedback {
                        header: std_msgs::Header {
                            stamp: rosrust::now(),
                            ..Default::default()
                        },
                        status: status(&id, GoalStatus::ACTIVE, ""),
                        feedback: control_msgs::FollowJointTrajectoryFeedback {
                            header: std_msgs::Header {
                                stamp: rosrust::now(),
                                ..Default::default()
                            },
                            joint_names: names.clone(),
                            desired: point(desired),
                            actual: point(actual),
                            error: point(error),
                        },
                    });
                }
            }
        });
    }

    // Status at 10 Hz, joint states at the configured rate.
    let started = Instant::now();
    let mut last_status = Instant::now();
    let rate = rosrust::rate(args.rate);
    eprintln!(
        "armsim-ros: serving {} on {ns}, joint states on {}",
        args.robot.display(),
        args.joint_states
    );
    while rosrust::is_ok() {
        let elapsed = started.elapsed().as_secs_f64();
        let silent = args
            .stop_joint_states_after
            .is_some_and(|a| elapsed >= a && elapsed < a + args.stop_joint_states_for);
        let (positions, velocities, statuses) = {
            let c = controller.lock().unwrap_or_else(|p| p.into_inner());
            let s = c.model.state();
            (
                s.positions.to_vec(),
                s.velocities.to_vec(),
                c.statuses.clone(),
            )
        };
        if !silent {
            let _ = states.send(sensor_msgs::JointState {
                header: std_msgs::Header {
                    stamp: rosrust::now(),
                    ..Default::default()
                },
                name: names.clone(),
                position: positions,
                velocity: velocities,
                effort: vec![],
            });
        }
        if last_status.elapsed() >= Duration::from_millis(100) {
            last_status = Instant::now();
            let _ = status_pub.send(actionlib_msgs::GoalStatusArray {
                header: std_msgs::Header {
                    stamp: rosrust::now(),
                    ..Default::default()
                },
                status_list: statuses,
            });
        }
        rate.sleep();
    }
    Ok(())
}

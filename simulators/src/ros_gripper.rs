//! A simulated gripper controller serving `control_msgs/GripperCommand` over the standard
//! action topics (goal, cancel, status, feedback, result), as a gripper driver's action
//! server does. The fingers travel at the gripper's stroke speed and stall on a part.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wire::ros_msgs::{actionlib_msgs, control_msgs, std_msgs};

use crate::robot_file::SimGripper;
use actionlib_msgs::GoalStatus;

/// The controller's cycle.
const CYCLE: Duration = Duration::from_millis(10);

struct Goal {
    id: actionlib_msgs::GoalID,
    target: f64,
    cancel: bool,
}

struct State {
    width: f64,
    goal: Option<Goal>,
    statuses: Vec<GoalStatus>,
}

fn status(id: &actionlib_msgs::GoalID, code: u8, text: &str) -> GoalStatus {
    GoalStatus {
        goal_id: id.clone(),
        status: code,
        text: text.into(),
    }
}

fn header() -> std_msgs::Header {
    std_msgs::Header {
        stamp: rosrust::now(),
        ..Default::default()
    }
}

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Serves the action under `ns` (e.g. `/gripper_controller/gripper_cmd`) with a part of
/// `part` width (m) between the fingers, if given. Logs each goal on stderr. The node must
/// be initialised; the subscriptions live as long as the returned handles.
pub fn serve(
    ns: &str,
    gripper: SimGripper,
    part: Option<f64>,
) -> Result<Vec<rosrust::Subscriber>, String> {
    let ns = ns.trim_end_matches('/').to_owned();
    let err = |e: rosrust::error::Error| e.to_string();
    let status_pub =
        rosrust::publish::<actionlib_msgs::GoalStatusArray>(&format!("{ns}/status"), 10)
            .map_err(err)?;
    let feedback_pub = rosrust::publish::<control_msgs::GripperCommandActionFeedback>(
        &format!("{ns}/feedback"),
        10,
    )
    .map_err(err)?;
    let result_pub =
        rosrust::publish::<control_msgs::GripperCommandActionResult>(&format!("{ns}/result"), 10)
            .map_err(err)?;
    let state = Arc::new(Mutex::new(State {
        width: gripper.open_width_m,
        goal: None,
        statuses: Vec::new(),
    }));
    let goals = {
        let state = state.clone();
        rosrust::subscribe(
            &format!("{ns}/goal"),
            10,
            move |g: control_msgs::GripperCommandActionGoal| {
                eprintln!(
                    "armsim-ros: gripper goal {} position {} max_effort {}",
                    g.goal_id.id, g.goal.command.position, g.goal.command.max_effort
                );
                let mut s = lock(&state);
                let target = g
                    .goal
                    .command
                    .position
                    .clamp(gripper.closed_width_m, gripper.open_width_m);
                let id = g.goal_id;
                s.statuses.retain(|o| o.goal_id.id != id.id);
                s.statuses.push(status(&id, GoalStatus::ACTIVE, ""));
                if s.statuses.len() > 10 {
                    s.statuses.remove(0);
                }
                s.goal = Some(Goal {
                    id,
                    target,
                    cancel: false,
                });
            },
        )
        .map_err(err)?
    };
    let cancels = {
        let state = state.clone();
        rosrust::subscribe(
            &format!("{ns}/cancel"),
            10,
            move |id: actionlib_msgs::GoalID| {
                let mut s = lock(&state);
                if let Some(goal) = s
                    .goal
                    .as_mut()
                    .filter(|g| id.id.is_empty() || g.id.id == id.id)
                {
                    eprintln!(
                        "armsim-ros: gripper cancel received for goal {}",
                        goal.id.id
                    );
                    goal.cancel = true;
                }
            },
        )
        .map_err(err)?
    };
    std::thread::spawn(move || {
        let mut next = Instant::now();
        let mut last_status = Instant::now();
        while rosrust::is_ok() {
            next += CYCLE;
            std::thread::sleep(next.saturating_duration_since(Instant::now()));
            let mut s = lock(&state);
            let mut ended = None;
            let mut feedback = None;
            if let Some(goal) = &s.goal {
                let closing = goal.target < s.width;
                // A part between the fingers stops them when closing below its width.
                let blocked = part.filter(|p| closing && goal.target < *p && *p <= s.width);
                let stop_at = blocked.unwrap_or(goal.target);
                let width = gripper.step(s.width, closing, blocked, CYCLE.as_secs_f64());
                let width = if closing {
                    width.max(stop_at)
                } else {
                    width.min(goal.target)
                };
                let done = (width - stop_at).abs() < 1e-9;
                let result = control_msgs::GripperCommandResult {
                    position: width,
                    effort: if blocked.is_some() && done { 40.0 } else { 0.0 },
                    stalled: blocked.is_some() && done,
                    reached_goal: done && blocked.is_none(),
                };
                if goal.cancel {
                    ended = Some((goal.id.clone(), GoalStatus::PREEMPTED, result, "cancelled"));
                } else if done {
                    ended = Some((goal.id.clone(), GoalStatus::SUCCEEDED, result, ""));
                } else {
                    feedback = Some((goal.id.clone(), result));
                }
                s.width = width;
            }
            if let Some((id, code, _, text)) = &ended {
                s.goal = None;
                s.statuses.retain(|o| o.goal_id.id != id.id);
                s.statuses.push(status(id, *code, text));
            }
            let statuses = s.statuses.clone();
            drop(s);
            if let Some((id, code, result, text)) = ended {
                let _ = result_pub.send(control_msgs::GripperCommandActionResult {
                    header: header(),
                    status: status(&id, code, text),
                    result,
                });
            }
            if let Some((id, fb)) = feedback {
                let _ = feedback_pub.send(control_msgs::GripperCommandActionFeedback {
                    header: header(),
                    status: status(&id, GoalStatus::ACTIVE, ""),
                    feedback: control_msgs::GripperCommandFeedback {
                        position: fb.position,
                        effort: fb.effort,
                        stalled: fb.stalled,
                        reached_goal: fb.reached_goal,
                    },
                });
            }
            if last_status.elapsed() >= Duration::from_millis(100) {
                last_status = Instant::now();
                let _ = status_pub.send(actionlib_msgs::GoalStatusArray {
                    header: header(),
                    status_list: statuses,
                });
            }
        }
    });
    Ok(vec![goals, cancels])
}

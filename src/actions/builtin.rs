//! The built-in actions.

use std::sync::Arc;

use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::params::Args;
use super::speech::{about, percent};
use super::{ActionOutput, Caller, Refusal};
use crate::app::App;
use crate::audit::AuditEntry;
use crate::hal::{ArmState, Fault, Joints, Phase, RobotMode};
use crate::motion::{Plan, Request, Snapshot};
use crate::operators::Role;
use crate::robot::{check_speed, check_target};
use crate::tasks::{
    rfc3339_of, short_id, Busy, Gate, NewTask, Pending, ReleaseError, TaskError, TaskRecord,
    TaskState,
};
use crate::vars::VarValue;

/// Saved positions live in installation variables under this prefix.
const POSITION_PREFIX: &str = "position.";

/// Runs the tool `name` for `caller`; audits the call either way.
pub async fn call(
    app: &Arc<App>,
    caller: &Caller,
    name: &str,
    args: Option<&Map<String, Value>>,
) -> Result<ActionOutput, Refusal> {
    let started = std::time::Instant::now();
    let empty = Map::new();
    let args = args.unwrap_or(&empty);
    let result = dispatch(app, caller, name, args);
    let (refusal, task_id) = match &result {
        Ok(out) => (None, out.task_id.clone()),
        Err(r) => (Some(r.code), None),
    };
    let params = Value::Object(args.clone());
    let entry = AuditEntry::now(
        &caller.operator,
        name,
        params,
        refusal,
        task_id,
        started.elapsed(),
    );
    app.audit.record(entry);
    result
}

fn dispatch(
    app: &Arc<App>,
    caller: &Caller,
    name: &str,
    args: &Map<String, Value>,
) -> Result<ActionOutput, Refusal> {
    match name {
        "move_joints" | "move_to" | "home" => {
            may_move(caller, name)?;
            let ask = motion_ask(app, name, args)?;
            start_motion(app, caller, name, args, ask)
        }
        "task_status" => {
            let a = Args::new(name, args, &["task_id"])?;
            let rec = match a.opt_string("task_id")? {
                Some(id) => own_task(caller, find_task(app, id)?)?,
                None => app
                    .registry
                    .list_where(1, |t| t.owner == caller.operator)
                    .pop()
                    .ok_or_else(|| Refusal::new("no_tasks", "You have no tasks yet."))?,
            };
            Ok(ActionOutput {
                text: rec.message.clone(),
                task_id: Some(rec.task_id.to_string()),
                structured: record_json(&rec),
            })
        }
        "cancel_task" => {
            let a = Args::new(name, args, &["task_id"])?;
            let rec = own_task(caller, find_task(app, a.string("task_id")?)?)?;
            cancel(app, &rec)
        }
        "confirm_task" | "reject_task" => {
            may_move(caller, name)?;
            let a = Args::new(name, args, &["task_id"])?;
            let rec = own_task(caller, find_task(app, a.string("task_id")?)?)?;
            if name == "confirm_task" {
                confirm(app, &rec)
            } else {
                reject(app, &rec)
            }
        }
        "stop" => {
            Args::new(name, args, &[])?;
            stop(app)
        }
        "list_tasks" => {
            let a = Args::new(name, args, &["limit"])?;
            let limit = a.number("limit")?.unwrap_or(10.0);
            if !(limit.fract() == 0.0 && (1.0..=100.0).contains(&limit)) {
                return Err(Refusal::new(
                    "out_of_range",
                    format!("limit {limit} must be a whole number from 1 to 100"),
                ));
            }
            let tasks = app
                .registry
                .list_where(limit as usize, |t| t.owner == caller.operator);
            let text = match tasks.first() {
                None => "There are no tasks yet.".to_owned(),
                Some(t) => format!(
                    "{} tasks; the latest is {} ({}), {}.",
                    tasks.len(),
                    short_id(&t.task_id),
                    t.action,
                    t.state.as_str()
                ),
            };
            Ok(ActionOutput {
                text,
                task_id: None,
                structured: json!({"tasks": tasks.iter().map(record_json).collect::<Vec<_>>()}),
            })
        }
        "robot_state" => {
            Args::new(name, args, &[])?;
            Ok(robot_state(app))
        }
        "save_position" => {
            may_move(caller, name)?;
            let a = Args::new(name, args, &["name"])?;
            save_position(app, a.string("name")?)
        }
        "list_positions" => {
            Args::new(name, args, &[])?;
            Ok(list_positions(app))
        }
        "resume_task" => super::custom::resume(app, caller, args),
        other => match app.config.actions.iter().find(|a| a.name == other) {
            Some(action) => super::custom::call(app, caller, action, args),
            None => Err(Refusal::new(
                "unknown_tool",
                format!("there is no tool named \"{other}\""),
            )),
        },
    }
}

/// "This moves the shoulder lift 80 degrees at 25 % speed. Confirm?"
fn question(app: &App, start: &Joints, target: &Joints, speed: f64) -> String {
    let joints = &app.config.robot.joints;
    let (i, d) = (0..target.len())
        .map(|i| (i, (target[i] - start[i]).abs()))
        .fold((0, 0.0), |best, x| if x.1 > best.1 { x } else { best });
    let name = joints
        .get(i)
        .map(|j| j.name.trim_end_matches("_joint").replace('_', " "))
        .unwrap_or_default();
    format!(
        "This moves the {name} {:.0} degrees at {}. Confirm?",
        d.to_degrees(),
        percent(speed) + " speed"
    )
}

/// Drops the gated task `task_id` if it is still unconfirmed when its time is up.
pub(super) fn expire_later(app: &App, task_id: Uuid) {
    let registry = app.registry.clone();
    let after = std::time::Duration::from_secs_f64(app.config.confirm.expire_s);
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let why = "it was not confirmed in time; the arm did not move";
        if registry.drop_gated(&task_id, "confirmation_expired", why) {
            tracing::info!(%task_id, "unconfirmed task expired");
        }
    });
}

fn confirm(app: &Arc<App>, rec: &TaskRecord) -> Result<ActionOutput, Refusal> {
    let short = short_id(&rec.task_id);
    let (motion_id, start) = app.registry.release(&rec.task_id).map_err(|e| match e {
        ReleaseError::Expired => Refusal::new(
            "confirmation_expired",
            format!(
                "Task {short} expired before it was confirmed; the arm did not move. Ask again."
            ),
        ),
        ReleaseError::NotAwaiting(state) => Refusal::new(
            "not_awaiting_confirmation",
            format!(
                "Task {short} is {}; there is nothing to confirm.",
                state.as_str()
            ),
        ),
    })?;
    let (target, speed) = match start {
        Pending::Motion { target, speed } => (target, speed),
        Pending::Steps { from, prelude } => {
            super::custom::run(app, rec.task_id, from, prelude);
            return Ok(ActionOutput {
                text: format!("Confirmed. Task {short} is running."),
                task_id: Some(rec.task_id.to_string()),
                structured: json!({"task_id": rec.task_id, "state": "running"}),
            });
        }
    };
    if let Err(e) = app.executor.send(Request::Start {
        motion_id,
        target,
        speed,
    }) {
        let message = e.to_string();
        let error = TaskError {
            code: "executor".into(),
            message: message.clone(),
        };
        app.registry
            .on_finished(motion_id, TaskState::Failed, 0.0, Some(error));
        return Err(Refusal::new("executor", message));
    }
    let text = format!("Confirmed. Task {short} is moving.");
    Ok(ActionOutput {
        text,
        task_id: Some(rec.task_id.to_string()),
        structured: json!({"task_id": rec.task_id, "state": "running"}),
    })
}

fn reject(app: &App, rec: &TaskRecord) -> Result<ActionOutput, Refusal> {
    let short = short_id(&rec.task_id);
    if !app.registry.drop_gated(
        &rec.task_id,
        "rejected",
        "the operator rejected it; the arm did not move",
    ) {
        return Err(Refusal::new(
            "not_awaiting_confirmation",
            format!(
                "Task {short} is {}; there is nothing to reject.",
                rec.state.as_str()
            ),
        ));
    }
    Ok(ActionOutput {
        text: format!("Rejected. Task {short} was dropped; the arm did not move."),
        task_id: Some(rec.task_id.to_string()),
        structured: json!({"task_id": rec.task_id, "state": "cancelled"}),
    })
}

/// Refuses an observer a tool that changes the cell.
pub(super) fn may_move(caller: &Caller, tool: &str) -> Result<(), Refusal> {
    if caller.role == Role::Observer {
        return Err(Refusal::new(
            "forbidden",
            format!(
                "{} is an observer: it may read status and stop, not call {tool}.",
                caller.operator
            ),
        ));
    }
    Ok(())
}

/// A task's status and cancel belong to its owner; `stop` is the only tool that acts on
/// anyone's motion.
pub(super) fn own_task(caller: &Caller, rec: TaskRecord) -> Result<TaskRecord, Refusal> {
    if rec.owner != caller.operator {
        return Err(Refusal::new(
            "not_your_task",
            format!(
                "Task {} is not your task (it belongs to another operator). Use stop to halt any motion.",
                short_id(&rec.task_id)
            ),
        ));
    }
    Ok(rec)
}

fn record_json(rec: &TaskRecord) -> Value {
    serde_json::to_value(rec).unwrap_or(Value::Null)
}

/// A motion tool's request, read from its arguments.
struct MotionAsk {
    joints: Vec<f64>,
    speed: Option<f64>,
    /// "Moving to home".
    doing: String,
    /// "Arrived at home.".
    done: String,
}

fn motion_ask(app: &App, name: &str, args: &Map<String, Value>) -> Result<MotionAsk, Refusal> {
    let (joints, speed, doing, done) = match name {
        "move_joints" => {
            let a = Args::new(name, args, &["joints", "speed"])?;
            let joints = a.numbers("joints")?;
            (
                joints,
                a.number("speed")?,
                "Moving the arm".into(),
                "Arrived at the joint target.".into(),
            )
        }
        "move_to" => {
            let a = Args::new(name, args, &["position", "speed"])?;
            let position = a.string("position")?;
            let joints = find_position(app, position)?;
            (
                joints,
                a.number("speed")?,
                format!("Moving to {position}"),
                format!("Arrived at {position}."),
            )
        }
        _ => {
            let a = Args::new(name, args, &["speed"])?;
            let joints = app.config.robot.home().to_vec();
            (
                joints,
                a.number("speed")?,
                "Moving to home".into(),
                "Arrived at home.".into(),
            )
        }
    };
    Ok(MotionAsk {
        joints,
        speed,
        doing,
        done,
    })
}

fn start_motion(
    app: &App,
    caller: &Caller,
    action: &str,
    args: &Map<String, Value>,
    ask: MotionAsk,
) -> Result<ActionOutput, Refusal> {
    let MotionAsk {
        joints,
        speed,
        doing,
        done,
    } = ask;
    let joints = joints.as_slice();
    let robot = &app.config.robot;
    check_target(robot, joints).map_err(|e| Refusal::new("out_of_range", e.to_string()))?;
    let asked = speed
        .map(check_speed)
        .transpose()
        .map_err(|e| Refusal::new("out_of_range", e.to_string()))?;
    let cap = app.config.motion.max_speed;
    let speed = asked.unwrap_or(cap).min(cap);
    let capped = asked.is_some_and(|s| s > cap);

    let (start, _) = ready_to_move(app)?;
    // Checked above: a joint count equal to the robot's, which is at most MAX_JOINTS.
    let target = Joints::from_slice(joints)
        .ok_or_else(|| Refusal::new("out_of_range", "too many joints"))?;
    let eta = Plan::new(&robot.joints, start, target, speed).duration();

    let distance = (0..target.len())
        .map(|i| (target[i] - start[i]).abs())
        .fold(0.0, f64::max);
    let gate = app
        .config
        .confirm
        .needed(action, distance, speed)
        .then(|| Gate {
            start: Pending::Motion { target, speed },
            question: question(app, &start, &target, speed),
            deadline: std::time::Instant::now()
                + std::time::Duration::from_secs_f64(app.config.confirm.expire_s),
        });
    let gated = gate.is_some();
    let new = NewTask {
        action: action.into(),
        params: Value::Object(args.clone()),
        owner: caller.operator.clone(),
        doing: doing.clone(),
        done,
        eta_s: eta,
        gate,
        sequence: None,
    };
    let (rec, motion_id) = app.registry.begin_foreground(new).map_err(busy)?;
    if gated {
        expire_later(app, rec.task_id);
        return Ok(ActionOutput {
            structured: json!({
                "task_id": rec.task_id, "action": action, "state": rec.state,
                "eta_s": (eta * 100.0).round() / 100.0, "speed": speed, "speed_capped": capped,
                "target": joints, "message": rec.message,
            }),
            text: rec.message.clone(),
            task_id: Some(rec.task_id.to_string()),
        });
    }
    if let Err(e) = app.executor.send(Request::Start {
        motion_id,
        target,
        speed,
    }) {
        let message = e.to_string();
        app.registry.on_finished(
            motion_id,
            TaskState::Failed,
            0.0,
            Some(TaskError {
                code: "executor".into(),
                message: message.clone(),
            }),
        );
        return Err(Refusal::new("executor", message));
    }
    let mut text = format!("{doing}, {}. Task {}.", about(eta), short_id(&rec.task_id));
    if capped {
        text.push_str(&format!(" Speed capped at {}.", percent(cap)));
    }
    Ok(ActionOutput {
        structured: json!({
            "task_id": rec.task_id,
            "action": action,
            "state": rec.state,
            "eta_s": (eta * 100.0).round() / 100.0,
            "speed": speed,
            "speed_capped": capped,
            "target": joints,
            "message": text,
        }),
        text,
        task_id: Some(rec.task_id.to_string()),
    })
}

/// A foreground action refused because the arm is busy.
pub(super) fn busy(busy: Busy) -> Refusal {
    Refusal::new(
        "busy",
        format!(
            "The arm is busy with task {} ({}, {:.0} % done). Wait for it or stop it first.",
            short_id(&busy.task_id),
            busy.action,
            busy.progress
        ),
    )
}

/// Where a new motion plans from, and the robot's state; or why the arm may not move now
/// (unreachable, stale state, a fault, not running).
pub(super) fn ready_to_move(app: &App) -> Result<(Joints, ArmState), Refusal> {
    let (snap, state) = reachable_state(app)?;
    let age = snap
        .published_at
        .saturating_duration_since(state.sampled_at);
    if age.as_millis() as u64 > app.config.motion.stale_state_ms {
        return Err(Refusal::new(
            "stale_state",
            format!(
                "The robot's state is {} ms old (limit {} ms); not moving.",
                age.as_millis(),
                app.config.motion.stale_state_ms
            ),
        ));
    }
    if let Some(fault) = state.fault {
        return Err(Refusal::new("robot_fault", format!("Not moving: {fault}.")));
    }
    if state.mode != RobotMode::Running {
        return Err(Refusal::new(
            "robot_not_ready",
            format!("Not moving: the robot is in mode {:?}.", state.mode),
        ));
    }
    let start = if snap.phase == Phase::Idle {
        snap.setpoint
    } else {
        state.positions
    };
    Ok((start, state))
}

/// The executor's snapshot and the robot's state, or a refusal if the robot is unreachable.
fn reachable_state(app: &App) -> Result<(Snapshot, ArmState), Refusal> {
    let snap = app.executor.snapshot();
    let state = snap.state.ok_or_else(|| {
        Refusal::new(
            "robot_not_ready",
            "No state has arrived from the robot yet.",
        )
    })?;
    if let (Some(since), Some(Fault::Unreachable { cause })) = (state.link_down_since, state.fault)
    {
        return Err(Refusal::new(
            "robot_unreachable",
            format!(
                "The robot is unreachable since {} ({cause}); nothing was done.",
                rfc3339_of(since)
            ),
        ));
    }
    Ok((snap, state))
}

fn find_position(app: &App, name: &str) -> Result<Vec<f64>, Refusal> {
    if let Some(j) = app.config.robot.positions.get(name) {
        return Ok(j.clone());
    }
    if let Some(VarValue::List(j)) = app.vars.get(&format!("{POSITION_PREFIX}{name}")) {
        return Ok(j);
    }
    let mut known: Vec<String> = app.config.robot.positions.keys().cloned().collect();
    known.extend(saved_positions(app).into_iter().map(|(n, _)| n));
    Err(Refusal::new(
        "unknown_position",
        format!(
            "There is no position named \"{name}\". Known positions: {}.",
            known.join(", ")
        ),
    ))
}

fn saved_positions(app: &App) -> Vec<(String, Vec<f64>)> {
    app.vars
        .all()
        .into_iter()
        .filter_map(|(k, v)| match (k.strip_prefix(POSITION_PREFIX), v) {
            (Some(name), VarValue::List(j)) => Some((name.to_owned(), j)),
            _ => None,
        })
        .collect()
}

pub(super) fn find_task(app: &App, id: &str) -> Result<TaskRecord, Refusal> {
    let id = id.trim();
    if let Ok(uuid) = Uuid::parse_str(id) {
        return app
            .registry
            .get(&uuid)
            .ok_or_else(|| Refusal::new("unknown_task", format!("There is no task {id}.")));
    }
    let prefix = id.to_ascii_lowercase();
    if prefix.len() < 4 || prefix.len() > 32 || !prefix.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Refusal::new(
            "invalid_task_id",
            format!("\"{id}\" is not a task id: give the UUID or its first 4 or more characters."),
        ));
    }
    let matches = app.registry.list_where(usize::MAX, |t| {
        t.task_id.simple().to_string().starts_with(&prefix)
    });
    match matches.len() {
        0 => Err(Refusal::new(
            "unknown_task",
            format!("There is no task {id}."),
        )),
        1 => Ok(matches.into_iter().next().unwrap_or_else(|| unreachable!())),
        n => Err(Refusal::new(
            "ambiguous_task_id",
            format!("{n} tasks start with {id}; give more characters."),
        )),
    }
}

fn cancel(app: &App, rec: &TaskRecord) -> Result<ActionOutput, Refusal> {
    let short = short_id(&rec.task_id);
    let mut sent = Ok(());
    // A multi-step task: no further step starts, a waiting step ends, a motion brakes.
    let halted = app.registry.halt(Some(&rec.task_id), |motion_id| {
        sent = app.executor.send(Request::Stop {
            motion_id: Some(motion_id),
        });
    });
    if !halted {
        match app.registry.live() {
            Some((id, motion_id)) if id == rec.task_id => {
                sent = app.executor.send(Request::Stop {
                    motion_id: Some(motion_id),
                });
            }
            _ => {
                return Err(Refusal::new(
                    "not_running",
                    format!(
                        "Task {short} is {}; there is nothing to cancel.",
                        rec.state.as_str()
                    ),
                ))
            }
        }
    }
    sent.map_err(|e| Refusal::new("executor", e.to_string()))?;
    let text = format!("Stopping task {short}; the arm is braking to a standstill.");
    Ok(ActionOutput {
        text,
        task_id: Some(rec.task_id.to_string()),
        structured: json!({"task_id": rec.task_id, "stopping": true, "state": rec.state}),
    })
}

fn stop(app: &App) -> Result<ActionOutput, Refusal> {
    // A motion waiting for confirmation is dropped too: stop means no motion.
    if let Some(id) = app.registry.gated() {
        app.registry
            .drop_gated(&id, "stopped", "stop was called; the arm did not move");
    }
    // A multi-step task starts no further step once stop is called.
    app.registry.halt(None, |_| ());
    let live = app.registry.live();
    let moving = app.executor.snapshot().phase != Phase::Idle;
    if live.is_none() && !moving {
        return Ok(ActionOutput {
            text: "Nothing is moving.".into(),
            task_id: None,
            structured: json!({"stopping": false, "task_id": null}),
        });
    }
    app.executor
        .send(Request::Stop { motion_id: None })
        .map_err(|e| Refusal::new("executor", e.to_string()))?;
    let task = live.map(|(id, _)| id);
    let text = match task {
        Some(id) => format!(
            "Stopping the arm. Task {} will end cancelled.",
            short_id(&id)
        ),
        None => "Stopping the arm.".into(),
    };
    Ok(ActionOutput {
        text,
        task_id: task.map(|t| t.to_string()),
        structured: json!({"stopping": true, "task_id": task}),
    })
}

fn robot_state(app: &App) -> ActionOutput {
    let robot = &app.config.robot;
    let snap = app.executor.snapshot();
    let sched = app.executor.scheduling();
    let stats = snap.stats;
    let (positions, velocities, mode, fault, age_ms) = match snap.state {
        Some(s) => (
            s.positions.to_vec(),
            s.velocities.to_vec(),
            s.mode,
            s.fault,
            Some(
                snap.published_at
                    .saturating_duration_since(s.sampled_at)
                    .as_secs_f64()
                    * 1e3,
            ),
        ),
        None => (vec![], vec![], RobotMode::Disconnected, None, None),
    };
    let link_down = snap.state.and_then(|s| match (s.link_down_since, s.fault) {
        (Some(since), Some(Fault::Unreachable { cause })) => {
            Some((rfc3339_of(since), cause.to_string()))
        }
        _ => None,
    });
    let connected =
        link_down.is_none() && age_ms.is_some_and(|a| a <= app.config.motion.stale_state_ms as f64);
    let tcp = robot
        .kinematics
        .as_ref()
        .filter(|_| !positions.is_empty())
        .map(|k| k.forward(&positions));
    let joints: Vec<Value> = robot
        .joints
        .iter()
        .zip(positions.iter().zip(&velocities))
        .map(|(j, (p, v))| json!({"name": j.name, "position": p, "velocity": v}))
        .collect();
    let task = app.registry.live().map(|(id, _)| id);
    let moving = snap.phase != Phase::Idle;
    let activity = match (snap.phase, task) {
        (Phase::Idle, _) => "standing still".to_owned(),
        (Phase::Moving, Some(id)) => format!("moving for task {}", short_id(&id)),
        (Phase::Stopping, _) => "braking to a stop".to_owned(),
        (Phase::Moving, None) => "moving".to_owned(),
    };
    let mode_name = serde_json::to_value(mode)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut text = format!(
        "{} ({}) is {}, mode {}{}. Motion loop: {} at {:.0} Hz, wake-up p99 {:.0} µs.",
        robot.name,
        app.executor.backend(),
        activity,
        mode_name.replace('_', " "),
        fault.map(|f| format!(", {f}")).unwrap_or_default(),
        sched.policy,
        stats.rate_hz,
        stats.latency_p99_us
    );
    if let Some((since, cause)) = &link_down {
        text = format!(
            "{} ({}) is unreachable since {since} ({cause}). Motion loop: {} at {:.0} Hz.",
            robot.name,
            app.executor.backend(),
            sched.policy,
            stats.rate_hz
        );
    }
    ActionOutput {
        text,
        task_id: None,
        structured: json!({
            "robot": robot.name,
            "backend": app.executor.backend(),
            "connected": connected,
            "mode": mode,
            "fault": fault,
            "moving": moving,
            "task_id": task,
            "joints": joints,
            "positions": positions,
            "velocities": velocities,
            "tcp_pose": tcp,
            "state_age_ms": age_ms,
            // What keeping tasks and variables durable costs: each variable write is two
            // fsyncs (file and directory), each journal append one.
            "durability": {
                "variable_writes": app.vars.write_stats().0,
                "journal_appends": app.registry.journal_appends(),
            },
            "link": {
                "up": link_down.is_none(),
                "down_since": link_down.as_ref().map(|l| &l.0),
                "cause": link_down.as_ref().map(|l| &l.1),
            },
            "realtime": {
                "policy": sched.policy,
                "priority": sched.priority,
                "realtime": sched.realtime,
                "note": sched.note,
                "target_rate_hz": stats.target_rate_hz,
                "rate_hz": stats.rate_hz,
                "cycles": stats.cycles,
                "overruns": stats.overruns,
                "latency_p50_us": stats.latency_p50_us,
                "latency_p99_us": stats.latency_p99_us,
                "latency_p999_us": stats.latency_p999_us,
                "latency_max_us": stats.latency_max_us,
                "state_age_p50_us": stats.state_age_p50_us,
                "state_age_p99_us": stats.state_age_p99_us,
                "states_seen": stats.states_seen
            }
        }),
    }
}

fn save_position(app: &App, name: &str) -> Result<ActionOutput, Refusal> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(Refusal::new(
            "invalid_name",
            format!("\"{name}\" is not a usable name: 1 to 32 lowercase letters, digits or _, starting with a letter"),
        ));
    }
    if app.config.robot.positions.contains_key(name) {
        return Err(Refusal::new(
            "reserved_name",
            format!(
                "\"{name}\" is defined by the robot file {}; choose another name",
                app.config.robot.source
            ),
        ));
    }
    let (_, state) = reachable_state(app)?;
    let joints = state.positions.to_vec();
    app.vars.set_many(
        [(
            format!("{POSITION_PREFIX}{name}"),
            VarValue::List(joints.clone()),
        )],
        true,
    );
    Ok(ActionOutput {
        text: format!("Saved the current position as {name}."),
        task_id: None,
        structured: json!({"name": name, "joints": joints}),
    })
}

fn list_positions(app: &App) -> ActionOutput {
    let mut list: Vec<Value> = app
        .config
        .robot
        .positions
        .iter()
        .map(|(n, j)| json!({"name": n, "joints": j, "source": "robot"}))
        .collect();
    list.extend(
        saved_positions(app)
            .into_iter()
            .map(|(n, j)| json!({"name": n, "joints": j, "source": "saved"})),
    );
    let names: Vec<&str> = list.iter().filter_map(|p| p["name"].as_str()).collect();
    ActionOutput {
        text: format!("{} positions: {}.", names.len(), names.join(", ")),
        task_id: None,
        structured: json!({"positions": list}),
    }
}

//! `robot_state`: the arm as the assistant hears and sees it.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::actions::params::{NoArgs, ToolArgs};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::ActionOutput;
use crate::robot::{RpyPose, TcpPose};
use crate::tasks::words::ArmWords;
use crate::tasks::{words, GripperState};

/// One joint's state.
#[derive(Serialize, JsonSchema)]
pub(super) struct JointState {
    /// Its name.
    name: String,
    /// Position (rad).
    position: f64,
    /// Velocity (rad/s).
    velocity: f64,
}

/// A task waiting in line.
#[derive(Serialize, JsonSchema)]
pub(super) struct QueuedTask {
    /// Its id.
    task_id: String,
    /// Its number ("task 12").
    task_number: u64,
    /// Its action.
    action: String,
    /// Its planned seconds.
    eta_s: f64,
}

/// The link to the robot.
#[derive(Serialize, JsonSchema)]
pub(super) struct Link {
    /// Whether it is up.
    up: bool,
    /// Since when it is down (RFC 3339).
    down_since: Option<String>,
    /// Why.
    cause: Option<String>,
}

/// Whether the state directory takes writes, and what that costs.
#[derive(Serialize, JsonSchema)]
pub(super) struct Durability {
    /// The task journal and the installation variables can be written. While not, new
    /// motions are refused; `stop` still works.
    ok: bool,
    /// Since when writes fail (RFC 3339), while they do.
    failing_since: Option<String>,
    /// What fails and why, while it does.
    cause: Option<String>,
    /// When writes last succeeded again after failing (RFC 3339); the variables were
    /// written again then.
    recovered_at: Option<String>,
    /// Failed writes since start.
    failures: u64,
    /// Variable file writes since start; each is two fsyncs (file and directory).
    variable_writes: u64,
    /// Journal appends since start; each is one fsync.
    journal_appends: u64,
}

/// One named digital channel and its value.
#[derive(Serialize, JsonSchema)]
pub(super) struct ChannelState {
    /// Its name.
    name: String,
    /// How it is said.
    label: String,
    /// The backend's channel number.
    channel: u16,
    /// Whether it is on.
    value: bool,
}

/// The gripper as read now.
#[derive(Serialize, JsonSchema)]
pub(super) struct GripperNow {
    /// The finger gap (m), once read.
    width_m: Option<f64>,
    /// open, closed (on nothing), holding, moving, partly_open or unknown.
    state: GripperState,
}

/// `robot_state`'s answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct RobotState {
    /// The robot model.
    robot: String,
    /// The backend: sim, modbus or ros.
    backend: String,
    /// Whether fresh state arrives over an up link.
    connected: bool,
    /// The robot's mode.
    mode: String,
    /// The active fault, if any.
    fault: Option<Value>,
    /// Whether the executor is moving or braking.
    moving: bool,
    /// The task holding the arm, if any.
    task_id: Option<String>,
    /// Its number ("task 12").
    task_number: Option<u64>,
    /// The tasks waiting in line for the arm, next first.
    queue: Vec<QueuedTask>,
    /// Each joint's state.
    joints: Vec<JointState>,
    /// Joint positions (rad).
    positions: Vec<f64>,
    /// Joint velocities (rad/s).
    velocities: Vec<f64>,
    /// The TCP pose in the base frame, from the robot's kinematics.
    tcp_pose: Option<TcpPose>,
    /// The same pose with roll, pitch and yaw in degrees.
    tcp_rpy: Option<RpyPose>,
    /// Age of the latest state (ms).
    state_age_ms: Option<f64>,
    /// Whether tasks and variables reach the disk, and what that costs.
    durability: Durability,
    /// The link.
    link: Link,
    /// Whether the plugin's memory is locked in RAM (`mlockall`), so a page fault cannot
    /// stall the motion cycle; `realtime.memory_note` says why not.
    memory_locked: bool,
    /// The real-time loop's scheduling and figures.
    realtime: Value,
    /// MCP sessions open now (idle ones are closed after `server.session_idle_s`).
    sessions_open: usize,
    /// The declared digital outputs.
    outputs: Vec<ChannelState>,
    /// The declared digital inputs.
    inputs: Vec<ChannelState>,
    /// The gripper, if one is declared.
    gripper: Option<GripperNow>,
}

/// `robot_state`.
pub(super) const ROBOT_STATE: ToolItem = ToolItem {
    name: "robot_state",
    title: "Robot state",
    scope: Scope::Background,
    effect: Effect::Reads,
    description: |_| {
        "Joints, TCP pose, mode, connection and the real-time loop's figures. Answers at once."
            .into()
    },
    input: |_| schema::<NoArgs>(),
    output: schema::<RobotState>,
    run: |app, _caller, args| {
        NoArgs::parse("robot_state", args)?;
        let robot = &app.config.robot;
        let view = app.gate.view();
        let task = app.registry.live().map(|(id, _)| id);
        let number = |id: &uuid::Uuid| app.registry.get(id).map_or(0, |r| r.task_number);
        let connected = view.link_down.is_none()
            && view
                .age_ms
                .is_some_and(|a| a <= app.config.motion.stale_state_ms as f64);
        let queue = app.registry.queue();
        let health = app.registry.durability();
        let io = app.gate.io_view();
        // How the task moving the arm is spoken of ("Moving to home").
        let doing = app
            .registry
            .live_doing()
            .filter(|(id, _)| Some(*id) == task)
            .map(|(_, doing)| doing);
        let text = words::arm(&ArmWords {
            robot: robot.name.clone(),
            link_down: view.link_said.clone(),
            phase: view.phase.to_owned(),
            doing,
            task: task.map(|id| words::task_number(number(&id))),
            mode: view.mode.clone(),
            fault: view
                .fault
                .as_ref()
                .filter(|_| view.link_down.is_none())
                .map(|(_, said)| said.clone()),
            next: queue
                .first()
                .map(|(_, _, doing, eta)| (doing.clone(), *eta)),
            cannot_record: health.failing_since.is_some(),
            gripper: io.gripper.as_ref().map(|g| {
                let width = matches!(g.state, GripperState::Holding | GripperState::PartlyOpen)
                    .then_some(g.width_m)
                    .flatten();
                (g.state.words().to_owned(), width)
            }),
        });
        let channels = |list: &[(crate::robot::io::Channel, bool)]| {
            list.iter()
                .map(|(c, v)| ChannelState {
                    name: c.name.clone(),
                    label: c.label.clone(),
                    channel: c.channel,
                    value: *v,
                })
                .collect::<Vec<_>>()
        };
        let tcp_pose = robot
            .kinematics
            .as_ref()
            .filter(|_| !view.positions.is_empty())
            .map(|k| k.forward(&view.positions));
        let joints = robot
            .joints
            .iter()
            .zip(view.positions.iter().zip(&view.velocities))
            .map(|(j, (p, v))| JointState {
                name: j.name.clone(),
                position: *p,
                velocity: *v,
            })
            .collect();
        let state = RobotState {
            robot: robot.name.clone(),
            backend: view.backend.into(),
            connected,
            mode: view.mode.clone(),
            fault: view.fault.map(|(f, _)| f),
            moving: view.phase != "idle",
            task_id: task.map(|t| t.to_string()),
            task_number: task.map(|t| number(&t)),
            queue: queue
                .into_iter()
                .map(|(id, action, _, eta_s)| QueuedTask {
                    task_id: id.to_string(),
                    task_number: number(&id),
                    action,
                    eta_s: (eta_s * 100.0).round() / 100.0,
                })
                .collect(),
            joints,
            positions: view.positions,
            velocities: view.velocities,
            tcp_rpy: tcp_pose.map(|p| p.to_rpy()),
            tcp_pose,
            state_age_ms: view.age_ms,
            durability: Durability {
                ok: health.ok,
                failing_since: health.failing_since.clone(),
                cause: health.cause.clone(),
                recovered_at: health.recovered_at.clone(),
                failures: health.failures,
                variable_writes: app.vars.write_stats().0,
                journal_appends: app.registry.journal_appends(),
            },
            link: Link {
                up: view.link_down.is_none(),
                down_since: view.link_down.as_ref().map(|l| l.0.clone()),
                cause: view.link_down.as_ref().map(|l| l.1.clone()),
            },
            memory_locked: view.memory_locked,
            realtime: view.realtime,
            sessions_open: app.sessions_open.load(std::sync::atomic::Ordering::Relaxed),
            outputs: channels(&io.outputs),
            inputs: channels(&io.inputs),
            gripper: io.gripper.map(|g| GripperNow {
                width_m: g.width_m.map(|w| (w * 1e5).round() / 1e5),
                state: g.state,
            }),
        };
        Ok(ActionOutput {
            text,
            task_id: None,
            structured: structured(&state),
        })
    },
};

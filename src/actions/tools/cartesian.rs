//! The Cartesian motion tools: `move_linear` and `move_relative` (a straight TCP line,
//! planned, sampled and checked against the cell before the ack) and `move_pose` (a joint
//! move to the inverse kinematics' answer nearest the current joints). Each answers at
//! once with a task.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::motion::{ack_words, speed_under_cap};
use super::spatial::{pose_of, relative_doing};
use crate::actions::guards::{confirm_rule, may_move, out_of_range};
use crate::actions::params::{Args, ToolArgs, WhenWord};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Caller, Refusal};
use crate::app::App;
use crate::config::{Config, ConfirmRule};
use crate::robot::linear::{Frame, RelativeMove};
use crate::robot::{RpyPose, TcpPose};
use crate::tasks::words::Question;
use crate::tasks::{Accepted, LineTarget, MotionTask, TaskState, Work};

/// `move_linear`'s and `move_pose`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PoseToolArgs {
    /// Metres along the base's x.
    pub(super) x: Option<f64>,
    /// Metres along the base's y.
    pub(super) y: Option<f64>,
    /// Metres along the base's z (up).
    pub(super) z: Option<f64>,
    /// Rotation vector x, in radians (UR's convention); or give roll, pitch, yaw.
    pub(super) rx: Option<f64>,
    /// Rotation vector y, in radians.
    pub(super) ry: Option<f64>,
    /// Rotation vector z, in radians.
    pub(super) rz: Option<f64>,
    /// Roll about the base's x, in degrees; or give rx, ry, rz.
    pub(super) roll: Option<f64>,
    /// Pitch about the base's y, in degrees.
    pub(super) pitch: Option<f64>,
    /// Yaw about the base's z, in degrees.
    pub(super) yaw: Option<f64>,
    /// Fraction of the robot's maximum speed (and of the TCP speed cap), in (0, 1].
    speed: Option<f64>,
    /// now (default: refused while the arm is busy) or after (queued behind the running task).
    when: Option<WhenWord>,
}

impl ToolArgs for PoseToolArgs {
    const NAMES: &'static [&'static str] = &[
        "x", "y", "z", "rx", "ry", "rz", "roll", "pitch", "yaw", "speed", "when",
    ];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            x: a.number("x")?,
            y: a.number("y")?,
            z: a.number("z")?,
            rx: a.number("rx")?,
            ry: a.number("ry")?,
            rz: a.number("rz")?,
            roll: a.number("roll")?,
            pitch: a.number("pitch")?,
            yaw: a.number("yaw")?,
            speed: a.number("speed")?,
            when: WhenWord::read(a)?,
        })
    }
}

/// `move_relative`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RelativeArgs {
    /// Metres along x (default 0).
    dx: Option<f64>,
    /// Metres along y (default 0).
    dy: Option<f64>,
    /// Metres along z (default 0); in the base frame, up.
    dz: Option<f64>,
    /// Rotation about x, in degrees (default 0).
    rx: Option<f64>,
    /// Rotation about y, in degrees (default 0).
    ry: Option<f64>,
    /// Rotation about z, in degrees (default 0).
    rz: Option<f64>,
    /// base (default: the robot's base axes, z up) or tool (the tool's own axes, z out of the tool).
    frame: Option<Frame>,
    /// Fraction of the robot's maximum speed (and of the TCP speed cap), in (0, 1].
    speed: Option<f64>,
    /// now (default: refused while the arm is busy) or after (queued behind the running task).
    when: Option<WhenWord>,
}

impl ToolArgs for RelativeArgs {
    const NAMES: &'static [&'static str] =
        &["dx", "dy", "dz", "rx", "ry", "rz", "frame", "speed", "when"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        let frame = a
            .opt_string("frame")?
            .map(|f| {
                Frame::parse(f).map_err(|e| {
                    Refusal::new(
                        "unknown_frame",
                        format!("{}.", crate::cell::words::relative_error(&e)),
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            dx: a.number("dx")?,
            dy: a.number("dy")?,
            dz: a.number("dz")?,
            rx: a.number("rx")?,
            ry: a.number("ry")?,
            rz: a.number("rz")?,
            frame,
            speed: a.number("speed")?,
            when: WhenWord::read(a)?,
        })
    }
}

/// The acknowledgement of a Cartesian motion tool, with the exact figures.
#[derive(Serialize, JsonSchema)]
pub(super) struct CartesianAck {
    /// The task's id.
    #[schemars(extend("format" = "uuid"))]
    task_id: String,
    /// Its number, to say and to ask for ("task 12").
    task_number: u64,
    /// The tool.
    action: String,
    /// `running`, `awaiting_confirmation`, or `queued`.
    state: TaskState,
    /// Planned seconds.
    eta_s: f64,
    /// Queued: its place in line (2 = next after the running task).
    #[serde(skip_serializing_if = "Option::is_none")]
    place: Option<usize>,
    /// The speed used (fraction).
    speed: f64,
    /// Whether the speed asked for was capped.
    speed_capped: bool,
    /// The TCP's target pose (m, rotation vector in rad), if known.
    target_pose: Option<TcpPose>,
    /// The same as roll, pitch and yaw (degrees).
    target_rpy: Option<RpyPose>,
    /// The joint target (rad), if known.
    target_joints: Option<Vec<f64>>,
    /// A straight line: its length (m).
    path_length_m: Option<f64>,
    /// A straight line: the highest TCP speed between samples (m/s).
    peak_tcp_speed_m_s: Option<f64>,
    /// The nearest the tool comes to a zone along the path (m), and the zone.
    min_clearance_m: Option<f64>,
    /// That zone's name.
    nearest_zone: Option<String>,
    /// A straight line: the least manipulability along it.
    min_manipulability: Option<f64>,
    /// What was said.
    message: String,
}

/// The speed schema, with the configured caps in its words.
fn input_of<T: JsonSchema>(config: &Config) -> Value {
    let mut input = schema::<T>();
    let cap = config.motion.max_speed;
    let tcp = config.motion.max_tcp_speed;
    input["properties"]["speed"] = json!({
        "type": "number", "exclusiveMinimum": 0, "maximum": 1,
        "description": format!("Fraction of the robot's maximum speed, in (0, 1]. Capped at {cap}; default {cap}. A straight line also runs under the TCP speed cap of {tcp} m/s times this fraction.")
    });
    input
}

/// `move_linear`.
pub(super) const MOVE_LINEAR: ToolItem = ToolItem {
    name: "move_linear",
    title: "Move in a straight line",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: |_| {
        "Move the tool in a straight line to a pose in the base frame: x, y, z in metres, and \
         either rx, ry, rz (a rotation vector in radians, as on a UR pendant) or roll, pitch, \
         yaw in degrees. The orientation turns evenly along the way. The whole path is checked \
         against the cell first. Returns at once with a task id."
            .into()
    },
    input: input_of::<PoseToolArgs>,
    output: schema::<CartesianAck>,
    run: |app, caller, args| {
        may_move(caller, "move_linear")?;
        let a = PoseToolArgs::parse("move_linear", args)?;
        let pose = pose_of(&a)?;
        let ask = Ask {
            doing: "Moving the tool in a straight line".into(),
            done: "The tool arrived at the pose.".into(),
            work: Line(LineTarget::Pose(pose)),
            speed: a.speed,
            when: a.when,
        };
        start(app, caller, "move_linear", args, ask)
    },
};

/// `move_relative`.
pub(super) const MOVE_RELATIVE: ToolItem = ToolItem {
    name: "move_relative",
    title: "Move by an offset",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: |_| {
        "Move the tool in a straight line by an offset from where it is: dx, dy, dz in metres \
         and rotations rx, ry, rz in degrees, in the base frame (z up) or the tool's own frame \
         (z out of the tool). \"Ten centimetres up\" is dz = 0.1. The whole path is checked \
         against the cell first. Returns at once with a task id."
            .into()
    },
    input: input_of::<RelativeArgs>,
    output: schema::<CartesianAck>,
    run: |app, caller, args| {
        may_move(caller, "move_relative")?;
        let a = RelativeArgs::parse("move_relative", args)?;
        let by = RelativeMove {
            dx: a.dx.unwrap_or(0.0),
            dy: a.dy.unwrap_or(0.0),
            dz: a.dz.unwrap_or(0.0),
            rx: a.rx.unwrap_or(0.0),
            ry: a.ry.unwrap_or(0.0),
            rz: a.rz.unwrap_or(0.0),
            frame: a.frame.unwrap_or(Frame::Base),
        };
        let across = app
            .config
            .robot
            .kinematics
            .as_ref()
            .map_or(crate::robot::MAX_POSE_DISTANCE, |k| 2.0 * k.reach().1);
        by.check(across).map_err(|e| {
            Refusal::new(
                "out_of_range",
                format!("{}. Nothing moved.", crate::cell::words::relative_error(&e)),
            )
        })?;
        let ask = Ask {
            doing: relative_doing(&by),
            done: "The tool arrived.".into(),
            work: Line(LineTarget::Relative(by)),
            speed: a.speed,
            when: a.when,
        };
        start(app, caller, "move_relative", args, ask)
    },
};

/// `move_pose`.
pub(super) const MOVE_POSE: ToolItem = ToolItem {
    name: "move_pose",
    title: "Move to a pose",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: |_| {
        "Move the tool to a pose in the base frame with a joint move (the tool's path between \
         is not a straight line): x, y, z in metres, and either rx, ry, rz (radians) or roll, \
         pitch, yaw (degrees). The joints nearest the current ones are chosen, and the whole \
         path is checked against the cell first. Returns at once with a task id."
            .into()
    },
    input: input_of::<PoseToolArgs>,
    output: schema::<CartesianAck>,
    run: |app, caller, args| {
        may_move(caller, "move_pose")?;
        let a = PoseToolArgs::parse("move_pose", args)?;
        let pose = pose_of(&a)?;
        let robot = &app.config.robot;
        let Some(kin) = &robot.kinematics else {
            return Err(Refusal::new(
                "no_kinematics",
                "The robot definition gives no kinematics, so it cannot move to a pose. Nothing moved.",
            ));
        };
        let from = app.gate.ready().map_err(Refusal::from)?;
        let joints = kin
            .inverse(&pose.to_isometry(), &from, &robot.joints)
            .map_err(|e| {
                let r = crate::cell::Refusal::of_ik(&e, kin, 1.0);
                Refusal::new(r.code(), r.to_string())
            })?;
        let ask = Ask {
            doing: "Moving the tool to the pose".into(),
            done: "The tool arrived at the pose.".into(),
            work: Joint(joints.to_vec(), pose),
            speed: a.speed,
            when: a.when,
        };
        start(app, caller, "move_pose", args, ask)
    },
};

/// What a Cartesian tool asks the gate for.
enum Goal {
    /// A straight line.
    Line(LineTarget),
    /// A joint move to these joints, which put the TCP on this pose.
    Joint(Vec<f64>, TcpPose),
}
use Goal::{Joint, Line};

struct Ask {
    doing: String,
    done: String,
    work: Goal,
    speed: Option<f64>,
    when: Option<WhenWord>,
}

fn start(
    app: &Arc<App>,
    caller: &Caller,
    action: &str,
    args: &Map<String, Value>,
    ask: Ask,
) -> Result<ActionOutput, Refusal> {
    let (speed, capped) = speed_under_cap(app, ask.speed)?;
    let (work, joint_goal) = match ask.work {
        Line(to) => (Work::Line { to, speed }, None),
        Joint(target, pose) => {
            crate::robot::check_target(&app.config.robot, &target)
                .map_err(out_of_range(&app.config.robot))?;
            let work = Work::Move {
                target: target.clone(),
                speed,
            };
            (work, Some((target, pose)))
        }
    };
    let task = MotionTask {
        action: action.into(),
        params: Value::Object(args.clone()),
        owner: caller.operator.clone(),
        doing: ask.doing,
        done: ask.done,
        work,
        confirm: confirm_rule(&app.config.confirm, action, ConfirmRule::Never),
        question: Question::Move,
        when: WhenWord::gate(ask.when),
    };
    let accepted = app.gate.start(task)?;
    let text = ack_words(app, &accepted, capped);
    let ack = ack_of(action, &accepted, speed, capped, joint_goal, &text);
    Ok(ActionOutput {
        structured: structured(&ack),
        text,
        task_id: Some(accepted.record.task_id.to_string()),
    })
}

fn ack_of(
    action: &str,
    accepted: &Accepted,
    speed: f64,
    capped: bool,
    joint_goal: Option<(Vec<f64>, TcpPose)>,
    text: &str,
) -> CartesianAck {
    let rec = &accepted.record;
    let line = accepted.line.as_ref();
    let (target_pose, target_joints) = match (line, joint_goal) {
        (_, Some((joints, pose))) => (Some(pose), Some(joints)),
        (Some(l), None) => (
            Some(TcpPose::from_isometry(&l.path.end)),
            l.path.samples.last().map(|s| s.joints.to_vec()),
        ),
        (None, None) => (None, None),
    };
    let clearance = line.and_then(|l| l.report.min_clearance.clone());
    CartesianAck {
        task_id: rec.task_id.to_string(),
        task_number: rec.task_number,
        action: action.into(),
        state: rec.state,
        eta_s: (accepted.eta_s * 100.0).round() / 100.0,
        place: accepted.queued.map(|q| q.0),
        speed,
        speed_capped: capped,
        target_rpy: target_pose.map(|p| p.to_rpy()),
        target_pose,
        target_joints,
        path_length_m: line.map(|l| l.path.length),
        peak_tcp_speed_m_s: line.map(|l| l.path.peak_tcp_speed),
        min_clearance_m: clearance.as_ref().map(|c| c.1),
        nearest_zone: clearance.map(|c| c.0),
        min_manipulability: line.and_then(|l| l.report.min_manipulability),
        message: text.to_owned(),
    }
}

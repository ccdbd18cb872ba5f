//! The motion tools: `move_joints`, `move_to` and `home`. Each answers at once with a task.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::positions::{find_position, label_of};
use crate::actions::guards::{confirm_rule, may_move, out_of_range};
use crate::actions::params::{Args, ToolArgs, WhenWord};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Caller, Refusal};
use crate::app::App;
use crate::config::{Config, ConfirmRule};
use crate::robot::{check_speed, check_target};
use crate::tasks::words::Question;
use crate::tasks::{Accepted, MotionTask, TaskState, Work};

/// `move_joints`' arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MoveJointsArgs {
    /// Target joint positions (rad), base to wrist.
    joints: Vec<f64>,
    /// Fraction of the robot's maximum speed, in (0, 1].
    speed: Option<f64>,
    /// now (default: refused while the arm is busy) or after (queued behind the running task).
    when: Option<WhenWord>,
}

impl ToolArgs for MoveJointsArgs {
    const NAMES: &'static [&'static str] = &["joints", "speed", "when"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            joints: a.numbers("joints")?,
            speed: a.number("speed")?,
            when: WhenWord::read(a)?,
        })
    }
}

/// `move_to`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MoveToArgs {
    /// A name from list_positions, e.g. home.
    position: String,
    /// Fraction of the robot's maximum speed, in (0, 1].
    speed: Option<f64>,
    /// now (default: refused while the arm is busy) or after (queued behind the running task).
    when: Option<WhenWord>,
}

impl ToolArgs for MoveToArgs {
    const NAMES: &'static [&'static str] = &["position", "speed", "when"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            position: a.string("position")?.to_owned(),
            speed: a.number("speed")?,
            when: WhenWord::read(a)?,
        })
    }
}

/// `home`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HomeArgs {
    /// Fraction of the robot's maximum speed, in (0, 1].
    speed: Option<f64>,
    /// now (default: refused while the arm is busy) or after (queued behind the running task).
    when: Option<WhenWord>,
}

impl ToolArgs for HomeArgs {
    const NAMES: &'static [&'static str] = &["speed", "when"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            speed: a.number("speed")?,
            when: WhenWord::read(a)?,
        })
    }
}

/// The acknowledgement of a motion tool.
#[derive(Serialize, JsonSchema)]
pub(super) struct MotionAck {
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
    /// Queued: seconds until it starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_in_s: Option<f64>,
    /// The speed used (fraction).
    speed: f64,
    /// Whether the speed asked for was capped.
    speed_capped: bool,
    /// The joint target (rad).
    target: Vec<f64>,
    /// What was said.
    message: String,
}

/// The speed schema, with the configured cap in its words.
fn with_speed_cap(mut input: Value, config: &Config) -> Value {
    let cap = config.motion.max_speed;
    input["properties"]["speed"] = json!({
        "type": "number", "exclusiveMinimum": 0, "maximum": 1,
        "description": format!("Fraction of the robot's maximum speed, in (0, 1]. Capped at {cap}; default {cap}.")
    });
    input
}

fn joints_input(config: &Config) -> Value {
    let n = config.robot.dof();
    let mut input = with_speed_cap(schema::<MoveJointsArgs>(), config);
    input["properties"]["joints"]["minItems"] = json!(n);
    input["properties"]["joints"]["maxItems"] = json!(n);
    input
}

fn joints_description(config: &Config) -> String {
    let robot = &config.robot;
    let names: Vec<&str> = robot.joints.iter().map(|j| j.name.as_str()).collect();
    let ranges: Vec<String> = robot
        .joints
        .iter()
        .map(|j| format!("{} [{:.3}, {:.3}]", j.name, j.min, j.max))
        .collect();
    format!(
        "Move the {} to joint positions in radians, one per joint in this order: {}. \
         Returns at once with a task id; follow it with task_status. Ranges (rad): {}.",
        robot.name,
        names.join(", "),
        ranges.join(", ")
    )
}

/// `move_joints`.
pub(super) const MOVE_JOINTS: ToolItem = ToolItem {
    name: "move_joints",
    title: "Move joints",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: joints_description,
    input: joints_input,
    output: schema::<MotionAck>,
    run: |app, caller, args| {
        may_move(caller, "move_joints")?;
        let a = MoveJointsArgs::parse("move_joints", args)?;
        let ask = Ask {
            speed: a.speed,
            when: a.when,
            doing: "Moving the arm".into(),
            done: "Arrived at the joint target.".into(),
            joints: a.joints,
        };
        start_move(app, caller, "move_joints", args, ask)
    },
};

/// `move_to`.
pub(super) const MOVE_TO: ToolItem = ToolItem {
    name: "move_to",
    title: "Move to a named position",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: |_| {
        "Move the arm to a named position (see list_positions). Returns at once with a task id."
            .into()
    },
    input: |c| with_speed_cap(schema::<MoveToArgs>(), c),
    output: schema::<MotionAck>,
    run: |app, caller, args| {
        may_move(caller, "move_to")?;
        let a = MoveToArgs::parse("move_to", args)?;
        let (name, joints) = find_position(app, &a.position)?;
        // Said by its label: "over the box", never `over_the_box`.
        let label = label_of(app, &name);
        let ask = Ask {
            joints,
            speed: a.speed,
            when: a.when,
            doing: format!("Moving to {label}"),
            done: format!("Arrived at {label}."),
        };
        start_move(app, caller, "move_to", args, ask)
    },
};

/// `home`.
pub(super) const HOME: ToolItem = ToolItem {
    name: "home",
    title: "Go home",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: |_| "Move the arm to its home position. Returns at once with a task id.".into(),
    input: |c| with_speed_cap(schema::<HomeArgs>(), c),
    output: schema::<MotionAck>,
    run: |app, caller, args| {
        may_move(caller, "home")?;
        let a = HomeArgs::parse("home", args)?;
        let ask = Ask {
            joints: app.config.robot.home().to_vec(),
            speed: a.speed,
            when: a.when,
            doing: "Moving to home".into(),
            done: "Arrived at home.".into(),
        };
        start_move(app, caller, "home", args, ask)
    },
};

/// A motion tool's request, read from its arguments.
struct Ask {
    joints: Vec<f64>,
    speed: Option<f64>,
    when: Option<WhenWord>,
    /// "Moving to home".
    doing: String,
    /// "Arrived at home.".
    done: String,
}

/// The speed a motion runs at (the one asked for, checked, else the cap; never above the
/// cap), and whether the cap lowered it.
pub(super) fn speed_under_cap(app: &App, asked: Option<f64>) -> Result<(f64, bool), Refusal> {
    let asked = asked
        .map(check_speed)
        .transpose()
        .map_err(out_of_range(&app.config.robot))?;
    let cap = app.config.motion.max_speed;
    Ok((
        asked.unwrap_or(cap).min(cap),
        asked.is_some_and(|s| s > cap),
    ))
}

/// What a motion tool's ack says: the task's message, and the cap when it lowered the speed
/// of a motion that starts now.
pub(super) fn ack_words(_app: &App, accepted: &Accepted, capped: bool) -> String {
    let mut text = accepted.record.message.clone();
    if capped && !accepted.held && accepted.queued.is_none() {
        // The speed it runs at is in the structured part.
        text.push_str(" Speed capped.");
    }
    text
}

fn start_move(
    app: &Arc<App>,
    caller: &Caller,
    action: &str,
    args: &Map<String, Value>,
    ask: Ask,
) -> Result<ActionOutput, Refusal> {
    let robot = &app.config.robot;
    check_target(robot, &ask.joints).map_err(out_of_range(robot))?;
    let (speed, capped) = speed_under_cap(app, ask.speed)?;
    let task = MotionTask {
        action: action.into(),
        params: Value::Object(args.clone()),
        owner: caller.operator.clone(),
        doing: ask.doing,
        done: ask.done,
        work: Work::Move {
            target: ask.joints.clone(),
            speed,
        },
        confirm: confirm_rule(&app.config.confirm, action, ConfirmRule::Never),
        question: Question::Move,
        when: WhenWord::gate(ask.when),
    };
    let accepted = app.gate.start(task)?;
    let text = ack_words(app, &accepted, capped);
    let rec = accepted.record;
    let ack = MotionAck {
        task_id: rec.task_id.to_string(),
        task_number: rec.task_number,
        action: action.into(),
        state: rec.state,
        eta_s: (accepted.eta_s * 100.0).round() / 100.0,
        place: accepted.queued.map(|q| q.0),
        starts_in_s: accepted.queued.map(|q| (q.1 * 100.0).round() / 100.0),
        speed,
        speed_capped: capped,
        target: ask.joints,
        message: text.clone(),
    };
    Ok(ActionOutput {
        structured: structured(&ack),
        text,
        task_id: Some(rec.task_id.to_string()),
    })
}

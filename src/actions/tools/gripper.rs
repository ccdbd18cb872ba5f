//! `gripper`: open or close the gripper, as a short foreground task. It holds the arm's
//! lease like a motion (so it never overlaps one), answers at once with a task id, and
//! `stop` or `cancel_task` end it cancelled with the fingers halted.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::actions::guards::{confirm_rule, may_move};
use crate::actions::params::{Args, ToolArgs, WhenWord};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Refusal};
use crate::config::ConfirmRule;
use crate::tasks::words::Question;
use crate::tasks::{MotionTask, Step, StepKind, TaskState, Work};

/// What the gripper does.
#[derive(JsonSchema, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub(super) enum GripAction {
    /// Open the fingers fully.
    Open,
    /// Close the fingers until they stop on a part (or meet: nothing grasped).
    Close,
}

/// `gripper`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GripperArgs {
    /// open or close.
    action: GripAction,
    /// now (default: refused while the arm is busy) or after (queued behind the running task).
    when: Option<WhenWord>,
}

impl ToolArgs for GripperArgs {
    const NAMES: &'static [&'static str] = &["action", "when"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        let action = match a.string("action")? {
            "open" => GripAction::Open,
            "close" => GripAction::Close,
            other => {
                return Err(Refusal::new(
                    "invalid_value",
                    format!(
                        "Action must be open or close, not {}.",
                        crate::actions::params::said_value(&other.into())
                    ),
                ))
            }
        };
        Ok(Self {
            action,
            when: WhenWord::read(a)?,
        })
    }
}

/// The acknowledgement of `gripper`.
#[derive(Serialize, JsonSchema)]
pub(super) struct GripperAck {
    /// The task's id.
    #[schemars(extend("format" = "uuid"))]
    task_id: String,
    /// Its number, to say and to ask for ("task 12").
    task_number: u64,
    /// `running`, `awaiting_confirmation`, or `queued`.
    state: TaskState,
    /// open or close.
    action: String,
    /// Planned seconds (the full stroke).
    eta_s: f64,
    /// What was said.
    message: String,
}

/// `gripper`.
pub(super) const GRIPPER: ToolItem = ToolItem {
    name: "gripper",
    title: "Open or close the gripper",
    scope: Scope::Foreground,
    effect: Effect::Moves,
    description: |c| match &c.robot.io.gripper {
        Some(g) => format!(
            "Open or close the {} gripper. A short task: returns at once with a task id; it \
             fails with nothing_grasped when the fingers close on nothing. Stroke about {} s.",
            g.kind,
            crate::robot::number(g.stroke_s)
        ),
        None => "Open or close the gripper. This robot has none configured: every call is \
                 refused."
            .into(),
    },
    input: |_| schema::<GripperArgs>(),
    output: schema::<GripperAck>,
    run: |app, caller, args| {
        may_move(caller, "gripper")?;
        let a = GripperArgs::parse("gripper", args)?;
        let Some(g) = &app.config.robot.io.gripper else {
            return Err(Refusal::new(
                "no_gripper",
                format!(
                    "{} has no gripper configured, so there is nothing to {}. Nothing moved.",
                    app.config.robot.name,
                    word(a.action)
                ),
            ));
        };
        let close = a.action == GripAction::Close;
        let (doing, done, label) = if close {
            (
                "Closing the gripper",
                "The gripper closed on the part.",
                "closing the gripper",
            )
        } else {
            (
                "Opening the gripper",
                "The gripper is open.",
                "opening the gripper",
            )
        };
        let task = MotionTask {
            action: "gripper".into(),
            params: Value::Object(args.clone()),
            owner: caller.operator.clone(),
            doing: doing.into(),
            done: done.into(),
            work: Work::Steps(vec![Step {
                label: label.into(),
                kind: StepKind::Gripper {
                    close,
                    stroke_s: g.stroke_s,
                },
            }]),
            confirm: confirm_rule(&app.config.confirm, "gripper", ConfirmRule::Never),
            question: Question::Action {
                title: format!("{} the gripper", word(a.action)),
            },
            when: WhenWord::gate(a.when),
        };
        let accepted = app.gate.start(task)?;
        let rec = accepted.record;
        let ack = GripperAck {
            task_id: rec.task_id.to_string(),
            task_number: rec.task_number,
            state: rec.state,
            action: word(a.action).into(),
            eta_s: (accepted.eta_s * 100.0).round() / 100.0,
            message: rec.message.clone(),
        };
        Ok(ActionOutput {
            structured: structured(&ack),
            text: rec.message,
            task_id: Some(rec.task_id.to_string()),
        })
    },
};

fn word(a: GripAction) -> &'static str {
    match a {
        GripAction::Open => "open",
        GripAction::Close => "close",
    }
}

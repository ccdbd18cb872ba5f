//! `set_output`: switch a named digital output. Background scope: it answers once the
//! backend took the write, never waits on the arm, and is audited like every call.

use schemars::JsonSchema;
use serde::Serialize;

use crate::actions::guards::may_move;
use crate::actions::params::{Args, ToolArgs};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Refusal};
use crate::robot::names::similar;
use crate::tasks::words;

/// `set_output`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetOutputArgs {
    /// The output's name (robot_state lists them).
    name: String,
    /// true switches it on, false off.
    value: bool,
}

impl ToolArgs for SetOutputArgs {
    const NAMES: &'static [&'static str] = &["name", "value"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            name: a.string("name")?.to_owned(),
            value: a.boolean("value")?,
        })
    }
}

/// `set_output`'s answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct OutputSet {
    /// The output.
    name: String,
    /// How it is said.
    label: String,
    /// The backend's channel.
    channel: u16,
    /// Its value now.
    value: bool,
    /// Its value before, as last read.
    previous: bool,
}

/// "on" or "off".
pub(super) fn on_off(v: bool) -> &'static str {
    if v {
        "on"
    } else {
        "off"
    }
}

/// `set_output`.
pub(super) const SET_OUTPUT: ToolItem = ToolItem {
    name: "set_output",
    title: "Set a digital output",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |c| {
        let names: Vec<&str> = c.robot.io.outputs.iter().map(|o| o.name.as_str()).collect();
        let names = if names.is_empty() {
            "none are configured".to_owned()
        } else {
            names.join(", ")
        };
        format!(
            "Switch a digital output on (true) or off (false). Answers at once, while the arm \
             moves too. Outputs: {names}."
        )
    },
    input: |_| schema::<SetOutputArgs>(),
    output: schema::<OutputSet>,
    run: |app, caller, args| {
        may_move(caller, "set_output")?;
        let a = SetOutputArgs::parse("set_output", args)?;
        let io = &app.config.robot.io;
        let Some(out) = io.output(&a.name) else {
            let near = similar(&a.name, io.outputs.iter().map(|o| o.name.as_str()));
            let near: Vec<String> = near.iter().map(|n| n.to_string()).collect();
            let all: Vec<String> = io.outputs.iter().map(|o| o.name.clone()).collect();
            let said = if near.is_empty() {
                words::unknown_name("output", &a.name, &all)
            } else {
                format!(
                    "{} Nothing was switched.",
                    words::did_you_mean("output", &a.name, &near)
                )
            };
            return Err(Refusal::new("unknown_output", said));
        };
        let previous = app
            .gate
            .io_view()
            .outputs
            .iter()
            .find(|(c, _)| c.name == out.name)
            .is_some_and(|(_, v)| *v);
        app.gate.set_output(out.channel, a.value).map_err(|why| {
            Refusal::new(
                "io_failed",
                format!(
                    "{} was not switched: {why}.",
                    words::capitalised(&out.label)
                ),
            )
        })?;
        let text = format!("{} {}.", words::capitalised(&out.label), on_off(a.value));
        let answer = OutputSet {
            name: out.name.clone(),
            label: out.label.clone(),
            channel: out.channel,
            value: a.value,
            previous,
        };
        Ok(ActionOutput {
            structured: structured(&answer),
            text,
            task_id: None,
        })
    },
};

//! Named positions: `save_position` and `list_positions`; the robot file's positions and
//! those saved by operators, which live in installation variables.

use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;

use crate::actions::guards::may_move;
use crate::actions::params::{Args, NoArgs, ToolArgs};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Refusal};
use crate::app::App;
use crate::audit::excerpt;
use crate::robot::names::{self, spoken};
use crate::vars::VarValue;

/// Saved positions live in installation variables under this prefix.
const POSITION_PREFIX: &str = "position.";

/// A saved position's spoken label ("over the box") lives under this prefix.
const LABEL_PREFIX: &str = "position_label.";

/// `save_position`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SaveArgs {
    /// The name as said ("over the box"): saved as over_the_box, with the words kept as
    /// its label. Up to 64 characters, starting with a letter.
    #[schemars(length(min = 1, max = 64))]
    name: String,
}

impl ToolArgs for SaveArgs {
    const NAMES: &'static [&'static str] = &["name"];
    fn read(a: &Args<'_>) -> Result<Self, Refusal> {
        Ok(Self {
            name: a.string("name")?.to_owned(),
        })
    }
}

/// A named position.
#[derive(Serialize, JsonSchema)]
pub(super) struct Position {
    /// Its name.
    name: String,
    /// How it is said ("over the box").
    label: String,
    /// Its joints (rad).
    joints: Vec<f64>,
    /// `robot` (the robot file) or `saved` (by an operator).
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
}

/// `list_positions`' answer.
#[derive(Serialize, JsonSchema)]
pub(super) struct PositionList {
    /// The robot file's positions, then the saved ones.
    positions: Vec<Position>,
}

/// `save_position`.
pub(super) const SAVE_POSITION: ToolItem = ToolItem {
    name: "save_position",
    title: "Save position",
    scope: Scope::Background,
    effect: Effect::Changes,
    description: |_| {
        "Store the arm's current joints under a name (persistent); move_to can go there later."
            .into()
    },
    input: |_| schema::<SaveArgs>(),
    output: schema::<Position>,
    run: |app, caller, args| {
        may_move(caller, "save_position")?;
        let a = SaveArgs::parse("save_position", args)?;
        save(app, &a.name)
    },
};

/// `list_positions`.
pub(super) const LIST_POSITIONS: ToolItem = ToolItem {
    name: "list_positions",
    title: "List positions",
    scope: Scope::Background,
    effect: Effect::Reads,
    description: |_| {
        "Named positions: those of the robot definition and those saved by operators.".into()
    },
    input: |_| schema::<NoArgs>(),
    output: schema::<PositionList>,
    run: |app, _caller, args| {
        NoArgs::parse("list_positions", args)?;
        let mut positions: Vec<Position> = app
            .config
            .robot
            .positions
            .iter()
            .map(|(n, j)| Position {
                name: n.clone(),
                label: spoken(n),
                joints: j.clone(),
                source: Some("robot"),
            })
            .collect();
        positions.extend(saved(app).into_iter().map(|(name, joints)| Position {
            label: label_of(app, &name),
            name,
            joints,
            source: Some("saved"),
        }));
        let names: Vec<String> = positions.iter().map(|p| p.name.clone()).collect();
        Ok(ActionOutput {
            text: crate::tasks::words::position_list(&names),
            task_id: None,
            structured: structured(&PositionList { positions }),
        })
    },
};

/// How long `save_position` waits for the variable to reach the disk.
const SAVE_TIMEOUT: Duration = Duration::from_secs(2);

fn save(app: &App, said: &str) -> Result<ActionOutput, Refusal> {
    let name = names::to_save(said).map_err(|e| {
        Refusal::new(
            "invalid_name",
            crate::tasks::words::unusable_name(said, &e.to_string()),
        )
    })?;
    if !name.starts_with(|c: char| c.is_alphabetic()) {
        return Err(Refusal::new(
            "invalid_name",
            crate::tasks::words::unusable_name(said, "it must start with a letter"),
        ));
    }
    let label = spoken(said);
    let name = name.as_str();
    if let Some(taken) = names::find(name, app.config.robot.positions.keys().map(String::as_str)) {
        let name = taken;
        return Err(Refusal::new(
            "reserved_name",
            format!(
                "{} is a position of the robot file; choose another name.",
                crate::tasks::words::spoken_name(name)
            ),
        ));
    }
    // A position named like another variable would make move_to ambiguous to a listener.
    if app.vars.get(name).is_some() {
        return Err(Refusal::new(
            "reserved_name",
            format!(
                "{} is the name of a variable; choose another name.",
                crate::tasks::words::spoken_name(name)
            ),
        ));
    }
    let joints = app.gate.current_joints()?;
    app.vars
        .set_durably(
            [
                (
                    format!("{POSITION_PREFIX}{name}"),
                    VarValue::List(joints.clone()),
                ),
                (
                    format!("{LABEL_PREFIX}{name}"),
                    VarValue::String(label.clone()),
                ),
            ],
            SAVE_TIMEOUT,
        )
        .map_err(|e| {
            Refusal::new(
                "durability",
                crate::tasks::words::cannot_record(
                    &e.cause(),
                    &format!(
                        "The position {} was not saved",
                        crate::tasks::words::spoken_name(name)
                    ),
                ),
            )
        })?;
    Ok(ActionOutput {
        text: crate::tasks::words::position_saved(&label),
        task_id: None,
        structured: structured(&Position {
            name: name.into(),
            label,
            joints,
            source: None,
        }),
    })
}

/// The position `asked` names (as said: "Over the box" finds `over_the_box`), and its
/// joints: the robot file's, else a saved one. Only positions are positions: a variable of
/// another kind, or a `position.` variable that does not hold one joint value per joint,
/// is refused, never read as a target.
pub(super) fn find_position(app: &App, asked: &str) -> Result<(String, Vec<f64>), Refusal> {
    let all = known(app);
    let name = names::find(asked, all.iter().map(String::as_str)).unwrap_or(asked);
    if let Some(j) = app.config.robot.positions.get(name) {
        return Ok((name.to_owned(), j.clone()));
    }
    let shown = excerpt(name, 40);
    let dof = app.config.robot.dof();
    match app.vars.get(&format!("{POSITION_PREFIX}{name}")) {
        Some(VarValue::List(j)) if j.len() == dof => return Ok((name.to_owned(), j)),
        Some(other) => {
            return Err(Refusal::new(
                "not_a_position",
                format!(
                    "The saved position {} holds {}, not {dof} joint values. Nothing moved.",
                    crate::tasks::words::spoken_name(&shown),
                    kind(&other)
                ),
            ))
        }
        None => {}
    }
    if let Some(v) = app.vars.get(name) {
        return Err(Refusal::new(
            "not_a_position",
            crate::tasks::words::not_a_position(name, &kind(&v)),
        ));
    }
    let near: Vec<String> = names::similar(asked, all.iter().map(String::as_str))
        .into_iter()
        .map(str::to_owned)
        .collect();
    Err(Refusal::new(
        "unknown_position",
        if near.is_empty() {
            crate::tasks::words::unknown_name("position", asked, &all)
        } else {
            crate::tasks::words::did_you_mean("position", asked, &near)
        },
    ))
}

/// A variable's kind, as said in a refusal.
fn kind(v: &VarValue) -> String {
    match v {
        VarValue::Bool(_) => "a yes or no value".into(),
        VarValue::Number(_) => "a number".into(),
        VarValue::String(_) => "text".into(),
        VarValue::List(l) => format!("a list of {} numbers", l.len()),
    }
}

/// The names `move_to` takes: the robot file's, then the saved ones.
fn known(app: &App) -> Vec<String> {
    let mut known: Vec<String> = app.config.robot.positions.keys().cloned().collect();
    known.extend(saved(app).into_iter().map(|(n, _)| n));
    known
}

/// The spoken label of the saved position `name`: as it was said when saved, else derived.
pub(super) fn label_of(app: &App, name: &str) -> String {
    match app.vars.get(&format!("{LABEL_PREFIX}{name}")) {
        Some(VarValue::String(label)) if !label.is_empty() => label,
        _ => spoken(name),
    }
}

/// The saved positions: `position.` variables holding one value per joint.
fn saved(app: &App) -> Vec<(String, Vec<f64>)> {
    let dof = app.config.robot.dof();
    app.vars
        .all()
        .into_iter()
        .filter_map(|(k, v)| match (k.strip_prefix(POSITION_PREFIX), v) {
            (Some(name), VarValue::List(j)) if j.len() == dof => Some((name.to_owned(), j)),
            _ => None,
        })
        .collect()
}

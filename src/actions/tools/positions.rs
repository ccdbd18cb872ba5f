//! Named positions: `save_position` and `list_positions`; the robot file's positions and
//! those saved by operators, which live in installation variables.

use schemars::JsonSchema;
use serde::Serialize;

use crate::actions::guards::may_move;
use crate::actions::params::{Args, NoArgs, ToolArgs};
use crate::actions::tool::{schema, structured, Effect, Scope, ToolItem};
use crate::actions::{ActionOutput, Refusal};
use crate::app::App;
use crate::vars::VarValue;

/// Saved positions live in installation variables under this prefix.
const POSITION_PREFIX: &str = "position.";

/// `save_position`'s arguments.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SaveArgs {
    /// 1 to 32 lowercase letters, digits or _, starting with a letter.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]{0,31}$"))]
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
                joints: j.clone(),
                source: Some("robot"),
            })
            .collect();
        positions.extend(saved(app).into_iter().map(|(name, joints)| Position {
            name,
            joints,
            source: Some("saved"),
        }));
        let names: Vec<&str> = positions.iter().map(|p| p.name.as_str()).collect();
        Ok(ActionOutput {
            text: format!("{} positions: {}.", names.len(), names.join(", ")),
            task_id: None,
            structured: structured(&PositionList { positions }),
        })
    },
};

fn save(app: &App, name: &str) -> Result<ActionOutput, Refusal> {
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
    let joints = app.gate.current_joints()?;
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
        structured: structured(&Position {
            name: name.into(),
            joints,
            source: None,
        }),
    })
}

/// The joints of the position `name`: the robot file's, else a saved one.
pub(super) fn find_position(app: &App, name: &str) -> Result<Vec<f64>, Refusal> {
    if let Some(j) = app.config.robot.positions.get(name) {
        return Ok(j.clone());
    }
    if let Some(VarValue::List(j)) = app.vars.get(&format!("{POSITION_PREFIX}{name}")) {
        return Ok(j);
    }
    let mut known: Vec<String> = app.config.robot.positions.keys().cloned().collect();
    known.extend(saved(app).into_iter().map(|(n, _)| n));
    Err(Refusal::new(
        "unknown_position",
        format!(
            "There is no position named \"{name}\". Known positions: {}.",
            known.join(", ")
        ),
    ))
}

fn saved(app: &App) -> Vec<(String, Vec<f64>)> {
    app.vars
        .all()
        .into_iter()
        .filter_map(|(k, v)| match (k.strip_prefix(POSITION_PREFIX), v) {
            (Some(name), VarValue::List(j)) => Some((name.to_owned(), j)),
            _ => None,
        })
        .collect()
}

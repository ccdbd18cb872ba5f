//! The action file as written: serde's view, with the places of values kept for errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::config::confirm::ConfirmRule;

/// The whole file: its `[[action]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    #[serde(default)]
    pub(super) action: Vec<Spanned<RawAction>>,
}

/// `scope`.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawScope {
    Foreground,
    Background,
}

/// One `[[action]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAction {
    pub(super) name: Spanned<String>,
    pub(super) title: Option<String>,
    pub(super) description: Spanned<String>,
    pub(super) scope: Option<RawScope>,
    pub(super) ack: Spanned<String>,
    pub(super) done: Spanned<String>,
    pub(super) confirm: Option<ConfirmRule>,
    #[serde(default)]
    pub(super) params: BTreeMap<String, Spanned<RawParam>>,
    #[serde(default)]
    pub(super) steps: Vec<Spanned<RawStep>>,
}

/// A parameter's `type`.
#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
pub(super) enum RawType {
    Integer,
    Number,
    String,
    Boolean,
}

/// One `[action.params.NAME]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    #[serde(rename = "type")]
    pub(super) kind: RawType,
    pub(super) min: Option<Spanned<f64>>,
    pub(super) max: Option<Spanned<f64>>,
    #[serde(rename = "enum")]
    pub(super) choices: Option<Vec<String>>,
    pub(super) default: Option<Spanned<toml::Value>>,
    pub(super) description: Option<String>,
}

/// A number, or an expression of the parameters.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum ExprSrc {
    Number(f64),
    Text(String),
}

/// `move_joints = { from, offset } | { joints }`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJoints {
    pub(super) from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) offset: BTreeMap<String, Spanned<ExprSrc>>,
    pub(super) joints: Option<Spanned<Vec<Spanned<ExprSrc>>>>,
}

/// `move_linear = { x, y, z, rx, ry, rz }`, `{ x, y, z, roll, pitch, yaw }` (degrees), or
/// `{ from = "<position>", dx, dy, dz }` (the position's TCP pose, moved in the base frame).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPose {
    pub(super) from: Option<Spanned<String>>,
    pub(super) x: Option<Spanned<ExprSrc>>,
    pub(super) y: Option<Spanned<ExprSrc>>,
    pub(super) z: Option<Spanned<ExprSrc>>,
    pub(super) rx: Option<Spanned<ExprSrc>>,
    pub(super) ry: Option<Spanned<ExprSrc>>,
    pub(super) rz: Option<Spanned<ExprSrc>>,
    pub(super) roll: Option<Spanned<ExprSrc>>,
    pub(super) pitch: Option<Spanned<ExprSrc>>,
    pub(super) yaw: Option<Spanned<ExprSrc>>,
    pub(super) dx: Option<Spanned<ExprSrc>>,
    pub(super) dy: Option<Spanned<ExprSrc>>,
    pub(super) dz: Option<Spanned<ExprSrc>>,
}

/// `move_relative = { dx, dy, dz, rx, ry, rz, frame }`: metres and degrees.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRelative {
    pub(super) dx: Option<Spanned<ExprSrc>>,
    pub(super) dy: Option<Spanned<ExprSrc>>,
    pub(super) dz: Option<Spanned<ExprSrc>>,
    pub(super) rx: Option<Spanned<ExprSrc>>,
    pub(super) ry: Option<Spanned<ExprSrc>>,
    pub(super) rz: Option<Spanned<ExprSrc>>,
    pub(super) frame: Option<Spanned<String>>,
}

/// One step, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) label: Option<Spanned<String>>,
    pub(super) move_to: Option<Spanned<String>>,
    pub(super) move_joints: Option<Spanned<RawJoints>>,
    pub(super) move_linear: Option<Spanned<RawPose>>,
    pub(super) move_relative: Option<Spanned<RawRelative>>,
    pub(super) speed: Option<Spanned<ExprSrc>>,
    pub(super) gripper: Option<Spanned<String>>,
    pub(super) set_output: Option<Spanned<String>>,
    pub(super) wait_input: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<ExprSrc>>,
    pub(super) wait: Option<Spanned<ExprSrc>>,
    pub(super) set_variable: Option<Spanned<String>>,
    pub(super) value: Option<Spanned<toml::Value>>,
    pub(super) add: Option<Spanned<ExprSrc>>,
    pub(super) repeat: Option<Spanned<ExprSrc>>,
    #[serde(rename = "as")]
    pub(super) index: Option<Spanned<String>>,
    pub(super) steps: Option<Vec<Spanned<RawStep>>>,
}

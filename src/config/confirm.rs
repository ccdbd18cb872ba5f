//! `[confirm]`: which motions wait for their owner's confirmation. Checked at load, because a
//! bad value here silently switches the gate off (NaN compares false) or breaks the expiry.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::raw::RawConfirm;
use super::{ConfigError, Place};
use crate::robot::names::similar;
use crate::robot::RobotDefinition;

/// `beyond_rad` when the file gives none.
const DEFAULT_BEYOND_RAD: f64 = 0.5;
/// `beyond_speed` when the file gives none.
const DEFAULT_BEYOND_SPEED: f64 = 0.25;
/// `expire_s` when the file gives none.
const DEFAULT_EXPIRE_S: f64 = 60.0;
/// The longest an unconfirmed task may hold the arm (s).
pub const MAX_EXPIRE_S: f64 = 3600.0;

/// When a motion waits for its owner's confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmRule {
    /// Never: it starts at once.
    #[default]
    Never,
    /// Always.
    Always,
    /// When a joint moves further than `beyond_rad` or the speed is above `beyond_speed`.
    Beyond,
}

impl ConfirmRule {
    fn word(self) -> &'static str {
        match self {
            Self::Never => "never",
            Self::Always => "always",
            Self::Beyond => "beyond",
        }
    }
}

/// Who may confirm a held motion (`approval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// The session that asked may confirm it (`confirm_task`): for set-ups with no human channel.
    #[default]
    Session,
    /// Only a person: the dashboard, the chat app's question (elicitation) or the MCP App
    /// view. The requesting session's `confirm_task` is refused.
    Human,
}

/// `[confirm]`, checked: every name is a tool, every number finite and within its bounds.
#[derive(Debug, Clone)]
pub struct Confirm {
    /// Per action (tool name): never, always or beyond.
    pub actions: BTreeMap<String, ConfirmRule>,
    /// With `beyond`: the largest joint distance (rad) that needs no confirmation.
    pub beyond_rad: f64,
    /// With `beyond`: the highest speed (fraction) that needs no confirmation.
    pub beyond_speed: f64,
    /// An unconfirmed task is dropped after this many seconds, in (0, [`MAX_EXPIRE_S`]].
    pub expire_s: f64,
    /// Who may confirm: the session, or only a person.
    pub approval: Approval,
}

impl Confirm {
    /// The rule for `action`: this section's, else `fallback`.
    pub fn rule(&self, action: &str, fallback: ConfirmRule) -> ConfirmRule {
        self.actions.get(action).copied().unwrap_or(fallback)
    }
}

/// Checks `[confirm]`: `tools` are every tool name (built-in and custom), `robot` bounds
/// `beyond_rad`.
pub(super) fn check(
    raw: RawConfirm,
    at: &Place,
    tools: &[&str],
    robot: &RobotDefinition,
) -> Result<Confirm, ConfigError> {
    let mut actions = BTreeMap::new();
    for (name, rule) in raw.actions {
        if !tools.contains(&name.as_str()) {
            let hint = match closest(&name, tools) {
                Some(near) => format!(" (did you mean {near}?)"),
                None => String::new(),
            };
            return Err(at.invalid(
                rule.span(),
                format!("confirm.actions.{name}"),
                format!("\"{}\"", rule.get_ref().word()),
                format!(
                    "no tool is named {name}{hint}; the tools are {}",
                    tools.join(", ")
                ),
            ));
        }
        actions.insert(name, rule.into_inner());
    }
    // The farthest any joint can go: a bigger threshold could never be reached.
    let widest = robot
        .joints
        .iter()
        .map(|j| j.max - j.min)
        .fold(0.0, f64::max);
    let beyond_rad = bounded(
        at,
        raw.beyond_rad,
        DEFAULT_BEYOND_RAD,
        "confirm.beyond_rad",
        widest,
        &format!(
            "must be above 0 and at most {widest:.4} rad, the widest joint range of {}",
            robot.name
        ),
    )?;
    let beyond_speed = bounded(
        at,
        raw.beyond_speed,
        DEFAULT_BEYOND_SPEED,
        "confirm.beyond_speed",
        1.0,
        "must be in (0, 1]",
    )?;
    let expire_s = bounded(
        at,
        raw.expire_s,
        DEFAULT_EXPIRE_S,
        "confirm.expire_s",
        MAX_EXPIRE_S,
        "must be above 0 and at most 3600 s (one hour)",
    )?;
    Ok(Confirm {
        actions,
        beyond_rad,
        beyond_speed,
        expire_s,
        approval: raw.approval.unwrap_or_default(),
    })
}

/// The value given (or `default`), refused unless it is in (0, `max`]: NaN and infinities
/// fail this comparison too.
fn bounded(
    at: &Place,
    value: Option<toml::Spanned<f64>>,
    default: f64,
    field: &str,
    max: f64,
    limit: &str,
) -> Result<f64, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let v = *value.get_ref();
    if v > 0.0 && v <= max {
        Ok(v)
    } else {
        Err(at.invalid(value.span(), field.to_owned(), super::show(v), limit))
    }
}

/// The tool name that sounds nearest `name` (`robot::names::similar`), if any.
fn closest<'a>(name: &str, tools: &[&'a str]) -> Option<&'a str> {
    similar(name, tools.iter().copied()).first().copied()
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn a_near_tool_name_is_offered() {
        let tools = ["move_joints", "move_to", "home", "stop"];
        assert_eq!(closest("move_joint", &tools), Some("move_joints"));
        assert_eq!(closest("hmoe", &tools), Some("home"));
        assert_eq!(closest("conveyor", &tools), None);
    }
}

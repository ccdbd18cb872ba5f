//! The gripper and the named digital outputs and inputs a robot file declares
//! (`[gripper]`, `[[outputs]]`, `[[inputs]]`), checked at load with file and line.

use serde::Deserialize;
use toml::Spanned;

use super::number;

/// The highest channel number a backend is asked for (UR has 8 standard, 8 configurable
/// and 2 tool digital channels; a ROS driver numbers its pins from 0).
pub const MAX_CHANNEL: u16 = 63;

/// A gripper's kind and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct GripperSpec {
    /// What it is, e.g. `parallel`.
    pub kind: String,
    /// The finger gap when open (m).
    pub open_width_m: f64,
    /// The finger gap when closed on nothing (m).
    pub closed_width_m: f64,
    /// How long a full stroke takes (s).
    pub stroke_s: f64,
    /// Closing to this gap or less means nothing was grasped (m).
    pub empty_below_m: f64,
    /// The digital output that closes the gripper on backends driven by a bit (Modbus).
    pub output: Option<u16>,
    /// The general-purpose register (128–255) where the gripper's gap is published in
    /// tenths of a millimetre (Modbus).
    pub width_register: Option<u16>,
}

/// One named digital channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    /// Its name, as tools take it: `part_present`.
    pub name: String,
    /// How it is said: `part present`.
    pub label: String,
    /// The backend's channel number.
    pub channel: u16,
}

/// The gripper and the digital channels of a robot.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IoSpec {
    /// The gripper, if the robot has one.
    pub gripper: Option<GripperSpec>,
    /// Digital outputs the plugin may set.
    pub outputs: Vec<Channel>,
    /// Digital inputs the plugin reads.
    pub inputs: Vec<Channel>,
}

impl IoSpec {
    /// The output called `name`, as said or written (`names::find`).
    pub fn output(&self, name: &str) -> Option<&Channel> {
        let found = super::names::find(name, self.outputs.iter().map(|c| c.name.as_str()))?;
        self.outputs.iter().find(|c| c.name == found)
    }
}

/// A bad declaration: the field, its line and what is wrong with the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} (line {line}): {message}")]
pub struct IoError {
    /// The field, e.g. `outputs[1].channel`.
    pub field: String,
    /// The line in the file (1-based).
    pub line: usize,
    /// What is wrong, with the value and what is allowed.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGripper {
    kind: Spanned<String>,
    open_width_m: Spanned<f64>,
    closed_width_m: Spanned<f64>,
    stroke_s: Spanned<f64>,
    empty_below_m: Spanned<f64>,
    #[serde(default)]
    output: Option<Spanned<String>>,
    #[serde(default)]
    width_register: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: Spanned<String>,
    #[serde(default)]
    label: Option<String>,
    channel: Spanned<i64>,
}

/// Only the tables this module reads; the rest of the file is read elsewhere.
#[derive(Debug, Deserialize)]
struct RawIo {
    #[serde(default)]
    gripper: Option<Spanned<RawGripper>>,
    #[serde(default)]
    outputs: Vec<Spanned<RawChannel>>,
    #[serde(default)]
    inputs: Vec<Spanned<RawChannel>>,
}

/// The 1-based line of byte `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `part_present` → `part present`.
pub fn label_of(name: &str) -> String {
    name.replace(['_', '-', '.'], " ")
}

/// Reads and checks the gripper and channels of robot file `text`. A TOML error is left
/// to the definition's own parse, which reports it with its line.
pub fn parse(text: &str) -> Result<IoSpec, IoError> {
    let raw: RawIo = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            return Err(IoError {
                field: "gripper, outputs or inputs".into(),
                line,
                message: e.message().to_owned(),
            });
        }
    };
    let bad = |field: String, at: usize, message: String| IoError {
        field,
        line: line_of(text, at),
        message,
    };
    let mut spec = IoSpec::default();
    for (table, list) in [("outputs", &raw.outputs), ("inputs", &raw.inputs)] {
        let mut out: Vec<Channel> = Vec::new();
        for (i, c) in list.iter().enumerate() {
            let c = c.get_ref();
            let name = c.name.get_ref().trim();
            let valid = !name.is_empty()
                && name.len() <= 40
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_');
            if !valid {
                return Err(bad(
                    format!("{table}[{i}].name"),
                    c.name.span().start,
                    format!(
                        "\"{name}\" must be 1 to 40 letters, digits or underscores, e.g. part_present"
                    ),
                ));
            }
            if out.iter().any(|o| o.name == name) {
                return Err(bad(
                    format!("{table}[{i}].name"),
                    c.name.span().start,
                    format!("\"{name}\" is declared twice"),
                ));
            }
            let ch = *c.channel.get_ref();
            if !(0..=i64::from(MAX_CHANNEL)).contains(&ch) {
                return Err(bad(
                    format!("{table}[{i}].channel"),
                    c.channel.span().start,
                    format!("{ch} is not a channel: give 0 to {MAX_CHANNEL}"),
                ));
            }
            if let Some(twin) = out.iter().find(|o| i64::from(o.channel) == ch) {
                return Err(bad(
                    format!("{table}[{i}].channel"),
                    c.channel.span().start,
                    format!("{ch} is already {}", twin.name),
                ));
            }
            let label = c
                .label
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .unwrap_or_else(|| label_of(name));
            out.push(Channel {
                name: name.to_owned(),
                label,
                // Checked against 0..=MAX_CHANNEL just above.
                channel: ch as u16,
            });
        }
        match table {
            "outputs" => spec.outputs = out,
            _ => spec.inputs = out,
        }
    }
    if let Some(g) = &raw.gripper {
        spec.gripper = Some(gripper(g.get_ref(), &spec.outputs, &bad)?);
    }
    Ok(spec)
}

fn gripper(
    g: &RawGripper,
    outputs: &[Channel],
    bad: &dyn Fn(String, usize, String) -> IoError,
) -> Result<GripperSpec, IoError> {
    let kind = g.kind.get_ref().trim();
    if !["parallel"].contains(&kind) {
        return Err(bad(
            "gripper.kind".into(),
            g.kind.span().start,
            format!("\"{kind}\" is not a gripper kind Armature drives; the kinds are parallel"),
        ));
    }
    for (field, v, max) in [
        ("open_width_m", &g.open_width_m, 1.0),
        ("closed_width_m", &g.closed_width_m, 1.0),
        ("empty_below_m", &g.empty_below_m, 1.0),
        ("stroke_s", &g.stroke_s, 60.0),
    ] {
        let x = *v.get_ref();
        if !(0.0..=max).contains(&x) {
            return Err(bad(
                format!("gripper.{field}"),
                v.span().start,
                format!("{} must be from 0 to {max}", number(x)),
            ));
        }
    }
    let (open, closed, empty) = (
        *g.open_width_m.get_ref(),
        *g.closed_width_m.get_ref(),
        *g.empty_below_m.get_ref(),
    );
    if closed >= open {
        return Err(bad(
            "gripper.closed_width_m".into(),
            g.closed_width_m.span().start,
            format!(
                "{} must be below open_width_m {}",
                number(closed),
                number(open)
            ),
        ));
    }
    if !(closed..open).contains(&empty) {
        return Err(bad(
            "gripper.empty_below_m".into(),
            g.empty_below_m.span().start,
            format!(
                "{} must lie from closed_width_m {} up to open_width_m {}",
                number(empty),
                number(closed),
                number(open)
            ),
        ));
    }
    if *g.stroke_s.get_ref() <= 0.0 {
        return Err(bad(
            "gripper.stroke_s".into(),
            g.stroke_s.span().start,
            format!("{} must be above 0 seconds", number(*g.stroke_s.get_ref())),
        ));
    }
    let output = match &g.output {
        None => None,
        Some(name) => match outputs.iter().find(|o| o.name == *name.get_ref()) {
            Some(o) => Some(o.channel),
            None => {
                return Err(bad(
                    "gripper.output".into(),
                    name.span().start,
                    format!(
                        "\"{}\" is not a declared output; the outputs are {}",
                        name.get_ref(),
                        names(outputs)
                    ),
                ))
            }
        },
    };
    let width_register = match &g.width_register {
        None => None,
        Some(r) => {
            let (first, last) = (wire::modbus::GP_FIRST, wire::modbus::GP_LAST);
            match u16::try_from(*r.get_ref()) {
                Ok(v) if (first..=last).contains(&v) => Some(v),
                _ => {
                    return Err(bad(
                        "gripper.width_register".into(),
                        r.span().start,
                        format!(
                            "{} is not a general-purpose register: give {first} to {last}",
                            r.get_ref()
                        ),
                    ))
                }
            }
        }
    };
    Ok(GripperSpec {
        kind: kind.to_owned(),
        open_width_m: open,
        closed_width_m: closed,
        stroke_s: *g.stroke_s.get_ref(),
        empty_below_m: empty,
        output,
        width_register,
    })
}

fn names(list: &[Channel]) -> String {
    if list.is_empty() {
        return "none".into();
    }
    list.iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[gripper]
kind = "parallel"
open_width_m = 0.085
closed_width_m = 0.0
stroke_s = 1.5
empty_below_m = 0.004
output = "gripper_close"

[[outputs]]
name = "gripper_close"
channel = 0

[[outputs]]
name = "lamp"
label = "the green lamp"
channel = 1

[[inputs]]
name = "part_present"
channel = 0
"#;

    #[test]
    fn a_declaration_reads_with_labels_from_names() {
        let io = parse(GOOD).unwrap();
        let g = io.gripper.unwrap();
        assert_eq!((g.output, g.width_register), (Some(0), None));
        assert_eq!(g.empty_below_m, 0.004);
        assert_eq!(io.outputs[0].label, "gripper close");
        assert_eq!(io.outputs[1].label, "the green lamp");
        assert_eq!(io.inputs[0].label, "part present");
        assert_eq!(parse("[robot]\nname = \"x\"\n").unwrap(), IoSpec::default());
    }

    #[test]
    fn bad_declarations_name_the_field_the_line_and_the_value() {
        let twice = GOOD.replace("channel = 1", "channel = 0");
        assert_eq!(
            parse(&twice).unwrap_err().to_string(),
            "outputs[1].channel (line 17): 0 is already gripper_close"
        );
        let wide = GOOD.replace("closed_width_m = 0.0", "closed_width_m = 0.2");
        assert_eq!(
            parse(&wide).unwrap_err().to_string(),
            "gripper.closed_width_m (line 5): 0.2 must be below open_width_m 0.085"
        );
        let missing = GOOD.replace("output = \"gripper_close\"", "output = \"grip\"");
        assert_eq!(
            parse(&missing).unwrap_err().to_string(),
            "gripper.output (line 8): \"grip\" is not a declared output; the outputs are gripper_close, lamp"
        );
        let far = GOOD.replace("channel = 0\n\n[[outputs]]", "channel = 99\n\n[[outputs]]");
        assert_eq!(
            parse(&far).unwrap_err().to_string(),
            "outputs[0].channel (line 12): 99 is not a channel: give 0 to 63"
        );
    }
}

//! The `[cell]` table: as written in TOML, and its checks.

use std::collections::BTreeMap;

use nalgebra::{Unit, Vector3};
use serde::Deserialize;
use toml::Spanned;

use super::geometry::{Aabb, KeepOut, Plane, ToolShape};
use super::{Cell, CellError, DEFAULT_MIN_MANIPULABILITY};
use crate::robot::io::line_of;

/// A file (the robot's or the cell's own) with a `[cell]` table; other tables are ignored.
#[derive(Debug, Deserialize)]
pub(super) struct Document {
    pub(super) cell: Option<RawCell>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCell {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    min_manipulability: Option<f64>,
    #[serde(default)]
    tool: Option<RawTool>,
    #[serde(default)]
    planes: Vec<RawPlane>,
    #[serde(default)]
    workspace: Option<RawBox>,
    #[serde(default)]
    keep_out: Vec<RawKeepOut>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTool {
    shape: String,
    #[serde(default)]
    radius: Option<f64>,
    #[serde(default)]
    length: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlane {
    name: String,
    #[serde(default)]
    z: Option<f64>,
    #[serde(default)]
    point: Option<[f64; 3]>,
    #[serde(default)]
    normal: Option<[f64; 3]>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBox {
    min: [f64; 3],
    max: [f64; 3],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeepOut {
    name: String,
    min: [f64; 3],
    max: [f64; 3],
}

fn finite(field: &str, values: &[f64]) -> Result<(), (String, String)> {
    match values.iter().find(|v| !v.is_finite()) {
        Some(v) => Err((field.into(), format!("{v} is not a finite number"))),
        None => Ok(()),
    }
}

fn aabb(field: &str, min: [f64; 3], max: [f64; 3]) -> Result<Aabb, (String, String)> {
    finite(&format!("{field}.min"), &min)?;
    finite(&format!("{field}.max"), &max)?;
    for (axis, (lo, hi)) in ["x", "y", "z"].iter().zip(min.iter().zip(&max)) {
        if lo >= hi {
            return Err((
                format!("{field}.min"),
                format!("{axis} min {lo} m must be below max {hi} m"),
            ));
        }
    }
    Ok(Aabb {
        min: Vector3::from(min),
        max: Vector3::from(max),
    })
}

fn length(field: &str, v: Option<f64>, what: &str) -> Result<f64, (String, String)> {
    let Some(v) = v else {
        return Err((field.into(), format!("missing: {what}")));
    };
    if !v.is_finite() || v <= 0.0 || v > 5.0 {
        return Err((field.into(), format!("{v} m is outside (0, 5] m")));
    }
    Ok(v)
}

impl RawCell {
    /// The checked cell; an error names the field (below `cell.`), its line when the
    /// file's `text` is at hand, and the value.
    pub(super) fn check(self, source: &str, text: Option<&str>) -> Result<Cell, CellError> {
        self.checked(source)
            .map_err(|(field, message)| CellError::Invalid {
                file: source.into(),
                line: text.and_then(|t| line_of_field(t, &field)),
                field: format!("cell.{field}"),
                message,
            })
    }

    fn checked(self, source: &str) -> Result<Cell, (String, String)> {
        let min_manipulability = self
            .min_manipulability
            .unwrap_or(DEFAULT_MIN_MANIPULABILITY);
        if !min_manipulability.is_finite() || !(0.0..1.0).contains(&min_manipulability) {
            return Err((
                "min_manipulability".into(),
                format!("{min_manipulability} is outside [0, 1)"),
            ));
        }
        let tool = match self.tool {
            None => ToolShape::Point,
            Some(t) => match t.shape.as_str() {
                "point" => ToolShape::Point,
                "sphere" => ToolShape::Sphere {
                    radius: length("tool.radius", t.radius, "a sphere needs its radius")?,
                },
                "capsule" => ToolShape::Capsule {
                    radius: length("tool.radius", t.radius, "a capsule needs its radius")?,
                    length: length("tool.length", t.length, "a capsule needs its length")?,
                },
                other => {
                    return Err((
                        "tool.shape".into(),
                        format!("\"{other}\" is not a shape; use point, sphere or capsule"),
                    ))
                }
            },
        };
        let mut names: Vec<String> = Vec::new();
        let mut unique = |field: String, name: &str| {
            if name.trim().is_empty() {
                return Err((field, "a zone needs a name".to_string()));
            }
            if names.iter().any(|n| n == name) {
                return Err((field, format!("\"{name}\" is used twice")));
            }
            names.push(name.into());
            Ok(())
        };
        let mut planes = Vec::new();
        for (i, p) in self.planes.into_iter().enumerate() {
            let field = |f: &str| format!("planes[{i}].{f}");
            unique(field("name"), &p.name)?;
            let point = match (p.z, p.point) {
                (Some(z), None) => [0.0, 0.0, z],
                (None, Some(point)) => point,
                _ => return Err((field("z"), "give either z (a height) or point".into())),
            };
            finite(&field("point"), &point)?;
            let normal = p.normal.unwrap_or([0.0, 0.0, 1.0]);
            finite(&field("normal"), &normal)?;
            let Some(normal) = Unit::try_new(Vector3::from(normal), 1e-9) else {
                return Err((field("normal"), "a zero vector has no direction".into()));
            };
            planes.push(Plane {
                name: p.name,
                point: Vector3::from(point),
                normal,
            });
        }
        let mut keep_out = Vec::new();
        for (i, k) in self.keep_out.into_iter().enumerate() {
            let field = format!("keep_out[{i}]");
            unique(format!("{field}.name"), &k.name)?;
            keep_out.push(KeepOut {
                zone: aabb(&field, k.min, k.max)?,
                name: k.name,
            });
        }
        let workspace = match self.workspace {
            Some(w) => Some(aabb("workspace", w.min, w.max)?),
            None => None,
        };
        Ok(Cell {
            name: self.name,
            planes,
            workspace,
            keep_out,
            tool,
            min_manipulability,
            source: source.into(),
        })
    }
}

/// A table's keys with where their values are, for placing an error at its line.
type Placed = BTreeMap<String, Spanned<toml::Value>>;

/// The `[cell]` of a file as spans only (the robot files' mechanism: `toml::Spanned`).
#[derive(Deserialize)]
struct PlacedDocument {
    cell: Option<PlacedCell>,
}

#[derive(Deserialize)]
struct PlacedCell {
    #[serde(default)]
    min_manipulability: Option<Spanned<toml::Value>>,
    #[serde(default)]
    tool: Option<Placed>,
    #[serde(default)]
    planes: Vec<Placed>,
    #[serde(default)]
    workspace: Option<Placed>,
    #[serde(default)]
    keep_out: Vec<Placed>,
}

/// The line of `field` (below `cell.`, e.g. `keep_out[1].min`) in the file's `text`; a
/// field the table lacks is placed at the table's first key.
fn line_of_field(text: &str, field: &str) -> Option<usize> {
    let cell = toml::from_str::<PlacedDocument>(text).ok()?.cell?;
    let (head, key) = field.split_once('.').unwrap_or((field, ""));
    let (name, index) = match head.split_once('[') {
        Some((name, rest)) => (name, rest.trim_end_matches(']').parse::<usize>().ok()),
        None => (head, None),
    };
    let table = match (name, index) {
        ("min_manipulability", None) => {
            return cell
                .min_manipulability
                .map(|v| line_of(text, v.span().start))
        }
        ("tool", None) => cell.tool?,
        ("workspace", None) => cell.workspace?,
        ("planes", Some(i)) => cell.planes.into_iter().nth(i)?,
        ("keep_out", Some(i)) => cell.keep_out.into_iter().nth(i)?,
        _ => return None,
    };
    let value = table
        .get(key)
        .or_else(|| table.values().min_by_key(|v| v.span().start))?;
    Some(line_of(text, value.span().start))
}

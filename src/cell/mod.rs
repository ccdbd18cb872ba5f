//! The cell around the arm: a floor or table plane, a workspace box, keep-out boxes and
//! the tool's volume, and the checker every motion's sampled path must pass before a task
//! exists. Read from a `[cell]` table, in the robot file or a file of its own.
//!
//! The base layer, beside `robot`: it imports only `robot`.

mod check;
mod geometry;
mod spec;
pub mod words;

#[cfg(test)]
mod tests;

use std::path::Path;

pub use check::{PathKind, PathReport, Refusal};
pub use geometry::{Aabb, KeepOut, Plane, ToolShape};

use crate::robot::RobotDefinition;

/// The least manipulability a straight line may pass through when the cell does not say:
/// a twentieth of the UR5e's in its usual working poses (0.08 to 0.1).
pub const DEFAULT_MIN_MANIPULABILITY: f64 = 0.005;

/// A cell definition that failed to load; names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// The file could not be read.
    #[error("cannot read cell file {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, lacks a field or has one too many.
    #[error("cell {file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A field has a value the cell cannot have.
    #[error("cell {file}: {field}{}: {message}", line.map_or(String::new(), |l| format!(" (line {l})")))]
    Invalid {
        /// The file.
        file: String,
        /// The field, e.g. `cell.keep_out[1].min`.
        field: String,
        /// Its line in a cell file (a robot file's `[cell]` table is read without lines).
        line: Option<usize>,
        /// What is wrong, with the value.
        message: String,
    },
}

/// The checked cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Its name, if given.
    pub name: Option<String>,
    /// Planes the tool must stay above (floor, table).
    pub planes: Vec<Plane>,
    /// The box the tool must stay inside, if any.
    pub workspace: Option<Aabb>,
    /// Boxes the tool must stay out of.
    pub keep_out: Vec<KeepOut>,
    /// The tool's volume around the TCP.
    pub tool: ToolShape,
    /// The least manipulability a path may pass through.
    pub min_manipulability: f64,
    /// Where the cell came from, for messages.
    pub source: String,
}

impl Cell {
    /// A cell with no zones: paths are still checked for reach, joint limits,
    /// singularities and configuration flips.
    pub fn open(source: &str) -> Self {
        Self {
            name: None,
            planes: Vec::new(),
            workspace: None,
            keep_out: Vec::new(),
            tool: ToolShape::Point,
            min_manipulability: DEFAULT_MIN_MANIPULABILITY,
            source: source.into(),
        }
    }

    /// The cell of a file with a `[cell]` table (its other tables are ignored); `file`
    /// names it in messages. `None` if it has no `[cell]`.
    pub fn parse(text: &str, file: &str) -> Result<Option<Self>, CellError> {
        let doc: spec::Document = toml::from_str(text).map_err(|e| CellError::Parse {
            file: file.into(),
            message: e.to_string(),
        })?;
        doc.cell.map(|c| c.check(file, Some(text))).transpose()
    }

    /// Loads a cell file, which must have a `[cell]` table.
    pub fn load(path: &Path) -> Result<Self, CellError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CellError::Read {
            file: file.clone(),
            source,
        })?;
        Self::parse(&text, &file)?.ok_or_else(|| CellError::Parse {
            file,
            message: "no [cell] table".into(),
        })
    }

    /// The robot file's `[cell]`, or an open cell if it has none.
    pub fn of_robot(robot: &RobotDefinition) -> Result<Self, CellError> {
        let Some(table) = &robot.cell else {
            return Ok(Self::open(&robot.source));
        };
        let raw: spec::RawCell =
            toml::Value::Table(table.clone())
                .try_into()
                .map_err(|e: toml::de::Error| CellError::Parse {
                    file: robot.source.clone(),
                    message: format!("[cell]: {}", e.message()),
                })?;
        raw.check(&robot.source, None)
    }
}

//! Relative moves ("ten centimetres up", "turn the tool 90 degrees"), in the base frame
//! or the tool's own frame.

use crate::robot::kinematics::said;

/// A length to say: metres to one decimal, as a listener can use it ("1.9").
fn metres(m: f64) -> String {
    said((m * 10.0).round() / 10.0)
}
use nalgebra::{Isometry3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// The frame a relative move's offsets are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Frame {
    /// The robot's base: z is up, whatever the tool's orientation.
    Base,
    /// The tool's own frame at the TCP: z points out of the tool.
    Tool,
}

impl Frame {
    /// The frame named `name` ("base" or "tool", as said: "Tool", "tool frame").
    pub fn parse(name: &str) -> Result<Self, RelativeError> {
        let canon = crate::robot::names::canonical(name);
        match canon.strip_suffix("_frame").unwrap_or(&canon) {
            "base" => Ok(Self::Base),
            "tool" => Ok(Self::Tool),
            _ => Err(RelativeError::UnknownFrame(name.into())),
        }
    }
}

/// An offset from where the TCP is: a translation in metres and a rotation vector in
/// degrees (its direction the axis, its length the angle), both in `frame`. The rotation
/// turns the tool about the TCP, which stays put.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RelativeMove {
    /// Along x (m).
    pub dx: f64,
    /// Along y (m).
    pub dy: f64,
    /// Along z (m).
    pub dz: f64,
    /// Rotation about x (degrees).
    pub rx: f64,
    /// Rotation about y (degrees).
    pub ry: f64,
    /// Rotation about z (degrees).
    pub rz: f64,
    /// The frame of the offsets.
    pub frame: Frame,
}

/// A relative move that cannot be made; names the value and the limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RelativeError {
    /// NaN or infinity.
    #[error("{field} = {value} is not a finite number")]
    NotFinite {
        /// The field.
        field: &'static str,
        /// The value as given.
        value: f64,
    },
    /// Longer than the arm could ever travel.
    #[error("a move of {} metres is longer than the {} metres across the arm's reach", metres(*distance), metres(*limit))]
    TooFar {
        /// The move's length (m).
        distance: f64,
        /// Twice the arm's reach (m).
        limit: f64,
    },
    /// A rotation beyond a full turn.
    #[error("a rotation of {} degrees is more than a full turn of 360 degrees", said(*angle))]
    TooMuchTurn {
        /// The rotation (degrees).
        angle: f64,
    },
    /// A frame other than base or tool.
    #[error("there is no frame named {0}; the frames are base and tool")]
    UnknownFrame(String),
}

impl RelativeMove {
    /// A pure translation in `frame`.
    pub fn translation(dx: f64, dy: f64, dz: f64, frame: Frame) -> Self {
        Self {
            dx,
            dy,
            dz,
            rx: 0.0,
            ry: 0.0,
            rz: 0.0,
            frame,
        }
    }

    /// Checks the offsets: finite, no longer than `max_distance` (m), at most a full turn.
    pub fn check(&self, max_distance: f64) -> Result<(), RelativeError> {
        for (field, value) in [
            ("dx", self.dx),
            ("dy", self.dy),
            ("dz", self.dz),
            ("rx", self.rx),
            ("ry", self.ry),
            ("rz", self.rz),
        ] {
            if !value.is_finite() {
                return Err(RelativeError::NotFinite { field, value });
            }
        }
        let distance = Vector3::new(self.dx, self.dy, self.dz).norm();
        if distance > max_distance {
            return Err(RelativeError::TooFar {
                distance,
                limit: max_distance,
            });
        }
        let angle = Vector3::new(self.rx, self.ry, self.rz).norm();
        if angle > 360.0 {
            return Err(RelativeError::TooMuchTurn { angle });
        }
        Ok(())
    }

    /// The TCP pose this move ends at, from `start`.
    pub fn target(&self, start: &Isometry3<f64>) -> Isometry3<f64> {
        let d = Vector3::new(self.dx, self.dy, self.dz);
        let turn = UnitQuaternion::from_scaled_axis(
            Vector3::new(self.rx, self.ry, self.rz).map(f64::to_radians),
        );
        let (p, r) = (start.translation.vector, start.rotation);
        let (p, r) = match self.frame {
            Frame::Base => (p + d, turn * r),
            Frame::Tool => (p + r * d, r * turn),
        };
        Isometry3::from_parts(Translation3::from(p), r)
    }
}

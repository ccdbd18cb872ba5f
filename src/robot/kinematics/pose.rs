//! Poses as people and controllers give them: UR's `p[x, y, z, rx, ry, rz]` (metres and a
//! rotation vector in radians) or roll/pitch/yaw in degrees, and their checks.

use nalgebra::{Isometry3, Rotation3, Translation3, UnitQuaternion, Vector3};
use serde::{Deserialize, Serialize};

/// The farthest a pose may be from the base before it is refused as absurd (m), whatever
/// the robot: far beyond any arm's reach, it catches millimetres given as metres.
pub const MAX_POSE_DISTANCE: f64 = 10.0;

/// Tool centre point pose in the base frame: position (m) and rotation vector (rad),
/// the same convention as a UR pendant's `p[x, y, z, rx, ry, rz]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TcpPose {
    /// x (m).
    pub x: f64,
    /// y (m).
    pub y: f64,
    /// z (m).
    pub z: f64,
    /// Rotation vector x (rad).
    pub rx: f64,
    /// Rotation vector y (rad).
    pub ry: f64,
    /// Rotation vector z (rad).
    pub rz: f64,
}

/// A pose with its orientation as roll, pitch and yaw in degrees: rotations about the
/// base's fixed x, then y, then z axes (UR's `rpy2rotvec` convention).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RpyPose {
    /// x (m).
    pub x: f64,
    /// y (m).
    pub y: f64,
    /// z (m).
    pub z: f64,
    /// Roll about the base x axis (degrees).
    pub roll: f64,
    /// Pitch about the base y axis (degrees).
    pub pitch: f64,
    /// Yaw about the base z axis (degrees).
    pub yaw: f64,
}

/// A pose that cannot be a target; the message names the value and the limit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoseError {
    /// NaN or infinity.
    #[error("{field} = {value} is not a finite number")]
    NotFinite {
        /// The field, e.g. `rx`.
        field: &'static str,
        /// The value as given.
        value: f64,
    },
    /// Farther from the base than any arm reaches.
    #[error(
        "the pose is {} m from the base, more than the {limit} m any target may be", said(*distance)
    )]
    TooFar {
        /// Its distance from the base (m).
        distance: f64,
        /// [`MAX_POSE_DISTANCE`].
        limit: f64,
    },
    /// A rotation vector longer than a full turn: most likely degrees given as radians.
    #[error(
        "the rotation vector is {} rad long, more than a full turn ({} rad); \
         rotation vectors are in radians (90 degrees is 1.571 rad)", said(*length), said(*limit)
    )]
    RotationTooLarge {
        /// Its length (rad).
        length: f64,
        /// 2π.
        limit: f64,
    },
    /// A roll, pitch or yaw outside ±360 degrees.
    #[error("{field} = {} degrees is outside -360 to 360 degrees", said(*value))]
    AngleOutOfRange {
        /// `roll`, `pitch` or `yaw`.
        field: &'static str,
        /// The value as given (degrees).
        value: f64,
    },
}

/// A number for a message that may be spoken: rounded to a millimetre or a milliradian,
/// and never hundreds of digits long.
pub(crate) fn said(x: f64) -> String {
    crate::robot::number((x * 1000.0).round() / 1000.0)
}

fn finite(fields: [(&'static str, f64); 6]) -> Result<(), PoseError> {
    match fields.iter().find(|(_, v)| !v.is_finite()) {
        Some(&(field, value)) => Err(PoseError::NotFinite { field, value }),
        None => Ok(()),
    }
}

fn near(x: f64, y: f64, z: f64) -> Result<(), PoseError> {
    let distance = (x * x + y * y + z * z).sqrt();
    if distance > MAX_POSE_DISTANCE {
        return Err(PoseError::TooFar {
            distance,
            limit: MAX_POSE_DISTANCE,
        });
    }
    Ok(())
}

impl TcpPose {
    /// Checks the pose can be a target: finite, near, a rotation vector in radians.
    pub fn check(&self) -> Result<(), PoseError> {
        finite([
            ("x", self.x),
            ("y", self.y),
            ("z", self.z),
            ("rx", self.rx),
            ("ry", self.ry),
            ("rz", self.rz),
        ])?;
        near(self.x, self.y, self.z)?;
        let length = self.rotation_vector().norm();
        let limit = std::f64::consts::TAU;
        if length > limit + 1e-9 {
            return Err(PoseError::RotationTooLarge { length, limit });
        }
        Ok(())
    }

    /// The rotation vector (rad).
    pub fn rotation_vector(&self) -> Vector3<f64> {
        Vector3::new(self.rx, self.ry, self.rz)
    }

    /// The pose as a rigid transform.
    pub fn to_isometry(&self) -> Isometry3<f64> {
        Isometry3::from_parts(
            Translation3::new(self.x, self.y, self.z),
            UnitQuaternion::from_scaled_axis(self.rotation_vector()),
        )
    }

    /// The pose of a rigid transform; the rotation vector's length is at most π.
    pub fn from_isometry(iso: &Isometry3<f64>) -> Self {
        let t = iso.translation.vector;
        let r = iso.rotation.scaled_axis();
        Self {
            x: t.x,
            y: t.y,
            z: t.z,
            rx: r.x,
            ry: r.y,
            rz: r.z,
        }
    }

    /// The same pose as roll, pitch and yaw in degrees.
    pub fn to_rpy(&self) -> RpyPose {
        RpyPose::from_isometry(&self.to_isometry())
    }

    /// The pose as UR writes it: `p[x, y, z, rx, ry, rz]`.
    pub fn to_array(&self) -> [f64; 6] {
        [self.x, self.y, self.z, self.rx, self.ry, self.rz]
    }

    /// A pose from `[x, y, z, rx, ry, rz]`.
    pub fn from_array(v: [f64; 6]) -> Self {
        Self {
            x: v[0],
            y: v[1],
            z: v[2],
            rx: v[3],
            ry: v[4],
            rz: v[5],
        }
    }
}

impl RpyPose {
    /// Checks the pose can be a target: finite, near, angles within ±360 degrees.
    pub fn check(&self) -> Result<(), PoseError> {
        finite([
            ("x", self.x),
            ("y", self.y),
            ("z", self.z),
            ("roll", self.roll),
            ("pitch", self.pitch),
            ("yaw", self.yaw),
        ])?;
        near(self.x, self.y, self.z)?;
        for (field, value) in [
            ("roll", self.roll),
            ("pitch", self.pitch),
            ("yaw", self.yaw),
        ] {
            if value.abs() > 360.0 {
                return Err(PoseError::AngleOutOfRange { field, value });
            }
        }
        Ok(())
    }

    /// The pose as a rigid transform.
    pub fn to_isometry(&self) -> Isometry3<f64> {
        let rot = Rotation3::from_euler_angles(
            self.roll.to_radians(),
            self.pitch.to_radians(),
            self.yaw.to_radians(),
        );
        Isometry3::from_parts(
            Translation3::new(self.x, self.y, self.z),
            UnitQuaternion::from_rotation_matrix(&rot),
        )
    }

    /// The pose of a rigid transform, angles in degrees.
    pub fn from_isometry(iso: &Isometry3<f64>) -> Self {
        let t = iso.translation.vector;
        let (roll, pitch, yaw) = iso.rotation.euler_angles();
        Self {
            x: t.x,
            y: t.y,
            z: t.z,
            roll: roll.to_degrees(),
            pitch: pitch.to_degrees(),
            yaw: yaw.to_degrees(),
        }
    }

    /// The same pose in UR's convention.
    pub fn to_tcp(&self) -> TcpPose {
        TcpPose::from_isometry(&self.to_isometry())
    }
}

/// The angle between two orientations (rad, 0 to π).
pub fn angle_between(a: &UnitQuaternion<f64>, b: &UnitQuaternion<f64>) -> f64 {
    a.angle_to(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_vector_and_rpy_agree() {
        // Half a turn in roll, a quarter in pitch: the rotation vector is
        // (π/√2)·(1, 0, -1) up to sign, about (2.22, 0, -2.22).
        let p = RpyPose {
            x: 0.1,
            y: 0.2,
            z: 0.3,
            roll: 180.0,
            pitch: 90.0,
            yaw: 0.0,
        };
        let t = p.to_tcp();
        assert!((t.rx.abs() - 2.22).abs() < 0.01, "{t:?}");
        assert!(
            t.ry.abs() < 0.01 && (t.rz.abs() - 2.22).abs() < 0.01,
            "{t:?}"
        );
        let back = t.to_rpy().to_isometry();
        assert!(back.rotation.angle_to(&p.to_isometry().rotation) < 1e-9);
        assert!((back.translation.vector - Vector3::new(0.1, 0.2, 0.3)).norm() < 1e-12);
    }

    #[test]
    fn bad_poses_name_the_value_and_the_limit() {
        let mut p = TcpPose::from_array([0.3, 0.0, 0.2, 0.0, 3.0, 0.0]);
        assert!(p.check().is_ok());
        p.ry = 90.0;
        assert_eq!(
            p.check().unwrap_err().to_string(),
            "the rotation vector is 90 rad long, more than a full turn (6.283 rad); \
             rotation vectors are in radians (90 degrees is 1.571 rad)"
        );
        p.ry = f64::NAN;
        assert_eq!(
            p.check().unwrap_err().to_string(),
            "ry = NaN is not a finite number"
        );
        let far = TcpPose::from_array([300.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(
            far.check().unwrap_err().to_string(),
            "the pose is 300 m from the base, more than the 10 m any target may be"
        );
        let rpy = RpyPose {
            x: 0.3,
            y: 0.0,
            z: 0.2,
            roll: 0.0,
            pitch: 540.0,
            yaw: 0.0,
        };
        assert_eq!(
            rpy.check().unwrap_err().to_string(),
            "pitch = 540 degrees is outside -360 to 360 degrees"
        );
    }
}

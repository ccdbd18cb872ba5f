//! Reading a pose from a tool's arguments, and saying a relative move in words.

use super::cartesian::PoseToolArgs;
use crate::actions::Refusal;
use crate::cell::words::{degrees, distance};
use crate::robot::linear::{Frame, RelativeMove};
use crate::robot::{RpyPose, TcpPose};

/// The pose the arguments give: x, y, z with either a rotation vector (rad) or roll,
/// pitch and yaw (degrees), checked (finite, near, rotation in the right unit).
pub(super) fn pose_of(a: &PoseToolArgs) -> Result<TcpPose, Refusal> {
    let need = |name: &str, v: Option<f64>| {
        v.ok_or_else(|| {
            Refusal::new(
                "missing_parameter",
                format!(
                    "{} is required. Nothing moved.",
                    crate::tasks::words::capitalised(&crate::cell::words::axis(name))
                ),
            )
        })
    };
    let (x, y, z) = (need("x", a.x)?, need("y", a.y)?, need("z", a.z)?);
    let vector = [a.rx, a.ry, a.rz].iter().any(Option::is_some);
    let rpy = [a.roll, a.pitch, a.yaw].iter().any(Option::is_some);
    let refuse =
        |e: crate::robot::PoseError| Refusal::new("out_of_range", crate::tasks::words::pose(&e));
    match (vector, rpy) {
        (true, true) => Err(Refusal::new(
            "invalid_value",
            "Give the orientation one way, as a rotation vector or as roll, pitch and yaw. Nothing moved.",
        )),
        (false, false) => Err(Refusal::new(
            "missing_parameter",
            "The orientation is missing: give roll, pitch and yaw in degrees. Nothing moved.",
        )),
        (true, false) => {
            let pose = TcpPose {
                x,
                y,
                z,
                rx: need("rx", a.rx)?,
                ry: need("ry", a.ry)?,
                rz: need("rz", a.rz)?,
            };
            pose.check().map_err(refuse)?;
            Ok(pose)
        }
        (false, true) => {
            let pose = RpyPose {
                x,
                y,
                z,
                roll: need("roll", a.roll)?,
                pitch: need("pitch", a.pitch)?,
                yaw: need("yaw", a.yaw)?,
            };
            pose.check().map_err(refuse)?;
            Ok(pose.to_tcp())
        }
    }
}

/// "Moving 10 centimetres up", "Moving 5 centimetres along the tool's z and turning 90
/// degrees".
pub(super) fn relative_doing(m: &RelativeMove) -> String {
    let mut parts = Vec::new();
    let axes = [("x", m.dx), ("y", m.dy), ("z", m.dz)];
    for (axis, d) in axes {
        if d.abs() < 0.0005 {
            continue;
        }
        let way = match (m.frame, axis, d > 0.0) {
            (Frame::Base, "z", true) => "up".to_owned(),
            (Frame::Base, "z", false) => "down".to_owned(),
            (Frame::Base, _, up) => format!("towards {} {axis}", sign(up)),
            (Frame::Tool, _, up) => format!("along the tool's {} {axis}", sign(up)),
        };
        parts.push(format!("{} {way}", distance(d)));
    }
    let turn = (m.rx * m.rx + m.ry * m.ry + m.rz * m.rz).sqrt();
    if turn >= 0.5 {
        parts.push(format!("turning the tool {}", degrees(turn.to_radians())));
    }
    if parts.is_empty() {
        return "Staying where it is".into();
    }
    format!("Moving {}", parts.join(" and "))
}

fn sign(plus: bool) -> &'static str {
    if plus {
        "plus"
    } else {
        "minus"
    }
}

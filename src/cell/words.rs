//! Distances, angles and fractions as a listener understands them.

/// A distance (m) in the unit a person would use: "4 millimetres", "3 centimetres",
/// "1.2 metres".
pub fn distance(m: f64) -> String {
    let m = m.abs();
    if !m.is_finite() {
        return "an unknown distance".into();
    }
    if m >= 1e6 {
        return "more than a thousand kilometres".into();
    }
    if m < 0.0005 {
        return "less than a millimetre".into();
    }
    if m < 0.0095 {
        return plural((m * 1000.0).round(), "millimetre");
    }
    if m < 0.995 {
        return plural((m * 100.0).round(), "centimetre");
    }
    let tenths = (m * 10.0).round() / 10.0;
    if tenths == tenths.trunc() {
        plural(tenths, "metre")
    } else {
        format!("{tenths:.1} metres")
    }
}

/// An angle (rad) in whole degrees: "90 degrees".
pub fn degrees(rad: f64) -> String {
    plural(rad.to_degrees().round(), "degree")
}

/// Where on a path: "40 percent along", or "at the start" and "at the end".
pub fn along(fraction: f64) -> String {
    let pct = (fraction * 100.0).round();
    if fraction <= 0.0 {
        "at the start".into()
    } else if fraction >= 1.0 {
        "at the end".into()
    } else {
        format!("{pct:.0} percent along")
    }
}

/// A name as it is said: underscores become spaces.
pub fn name(n: &str) -> String {
    n.replace('_', " ")
}

/// A joint as it is said: `shoulder_pan_joint` → "shoulder pan".
pub fn joint_label(n: &str) -> String {
    name(n.trim_end_matches("_joint"))
}

/// A number rounded for the ear: whole from 10 up, one decimal below; "minus" for a sign,
/// and words for what is too large or small to say.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        return "not a number".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "infinity"
        } else {
            "minus infinity"
        }
        .into();
    }
    let a = x.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a < 0.05 {
        return "almost 0".into();
    }
    if a >= 1e9 {
        return if x > 0.0 {
            "more than a billion"
        } else {
            "minus more than a billion"
        }
        .into();
    }
    let body = if a >= 10.0 {
        format!("{:.0}", a)
    } else {
        let s = format!("{:.1}", a);
        s.trim_end_matches(".0").to_owned()
    };
    if x < 0.0 {
        format!("minus {body}")
    } else {
        body
    }
}

/// A whole number of `unit`s, said: "1 degree", "minus 17 degrees", and words where digits
/// would not help a listener.
fn plural(n: f64, unit: &str) -> String {
    if n.is_nan() {
        return format!("an unknown number of {unit}s");
    }
    let sign = if n < 0.0 { "minus " } else { "" };
    let a = n.abs();
    if a >= 1e9 {
        format!("{sign}more than a billion {unit}s")
    } else if a == 1.0 {
        format!("{sign}1 {unit}")
    } else {
        format!("{sign}{a:.0} {unit}s")
    }
}

/// A pose that cannot be a target, said without "Nothing moved": the tasks words and the
/// cell's refusals both end it.
pub fn pose_error(e: &crate::robot::PoseError) -> String {
    use crate::robot::PoseError;
    match e {
        PoseError::NotFinite { field, .. } => format!("The {} needs a number", axis(field)),
        PoseError::TooFar { distance: d, limit } => format!(
            "That pose is {} from the base, more than the {} any target may be",
            distance(*d),
            distance(*limit)
        ),
        PoseError::RotationTooLarge { length, .. } => format!(
            "That rotation is {}; rotations are in radians",
            degrees(*length)
        ),
        PoseError::AngleOutOfRange { field, value } => format!(
            "A {field} of {} is past a full turn",
            degrees(value.to_radians())
        ),
    }
}

/// A relative move that cannot be made, said (see [`pose_error`]).
pub fn relative_error(e: &crate::robot::linear::RelativeError) -> String {
    use crate::robot::linear::RelativeError;
    match e {
        RelativeError::NotFinite { field, .. } => format!("The {} needs a number", axis(field)),
        RelativeError::TooFar { distance: d, limit } => format!(
            "A move of {} is longer than the {} across the arm's reach",
            distance(*d),
            distance(*limit)
        ),
        RelativeError::TooMuchTurn { angle } => format!(
            "A rotation of {} is more than a full turn of 360 degrees",
            degrees(angle.to_radians())
        ),
        RelativeError::UnknownFrame(given) => {
            let said = crate::robot::names::spoken(given);
            if said.is_empty() || said.len() > 24 {
                "There is no such frame; the frames are base and tool".into()
            } else {
                format!("There is no frame named {said}; the frames are base and tool")
            }
        }
    }
}

/// A straight line that cannot be planned, said (see [`pose_error`]); the cell's own checks
/// say where a reachable line breaks.
pub fn plan_error(e: &crate::robot::linear::PlanError) -> String {
    use crate::robot::linear::PlanError;
    match e {
        PlanError::NoKinematics => {
            "This robot has no kinematics in its file, so it cannot move in straight lines".into()
        }
        PlanError::WrongCount { given, expected } => {
            format!("{given} joint values were given; the robot has {expected} joints")
        }
        PlanError::Speed(v) => format!(
            "A speed of {} is outside 0 to 1: give a share of the top speed",
            number(*v)
        ),
        PlanError::Unreachable { fraction, .. } => {
            format!("The line leaves the arm's reach {}", along(*fraction))
        }
        PlanError::Curvature { fraction, name, .. } | PlanError::Jump { fraction, name, .. } => {
            format!(
                "The line passes next to a singularity {}: the {} would have to jump",
                along(*fraction),
                joint_label(name)
            )
        }
    }
}

/// A pose field as said: "x", "rotation about z".
pub fn axis(field: &str) -> String {
    match field {
        "rx" | "ry" | "rz" => format!("rotation about {}", &field[1..]),
        "dx" | "dy" | "dz" => format!("offset along {}", &field[1..]),
        f => name(f),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_in_the_unit_a_person_uses() {
        assert_eq!(distance(0.0002), "less than a millimetre");
        assert_eq!(distance(0.001), "1 millimetre");
        assert_eq!(distance(0.004), "4 millimetres");
        assert_eq!(distance(0.03), "3 centimetres");
        assert_eq!(distance(0.1), "10 centimetres");
        assert_eq!(distance(0.996), "1 metre");
        assert_eq!(distance(1.24), "1.2 metres");
        assert_eq!(distance(2.0), "2 metres");
        assert_eq!(degrees(std::f64::consts::FRAC_PI_2), "90 degrees");
        assert_eq!(along(0.4), "40 percent along");
        assert_eq!(along(1.0), "at the end");
    }
}

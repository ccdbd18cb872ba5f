//! Checks of a requested target or speed against the robot's limits.
//!
//! These run before a task exists, so a refusal never moves the arm. The same
//! errors are used by the cycle-level limiter in `hal::limits`.

use super::RobotDefinition;

/// A value that breaks one of the robot's limits; the message names both.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitError {
    /// The wrong number of joint values.
    #[error("{given} joint values given; the robot has {expected} joints")]
    WrongCount {
        /// How many were given.
        given: usize,
        /// How many joints the robot has.
        expected: usize,
    },
    /// NaN or infinity.
    #[error("joint {index} ({name}) = {} is not a finite number", number(*.value))]
    NotFinite {
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The value as given.
        value: f64,
    },
    /// Outside the joint's range.
    #[error("joint {index} ({name}) = {} rad is outside its range {} to {} rad", number(*.value), number(*.min), number(*.max))]
    OutOfRange {
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The value as given.
        value: f64,
        /// Lowest allowed.
        min: f64,
        /// Highest allowed.
        max: f64,
    },
    /// Faster than the joint can go.
    #[error("joint {index} ({name}) speed {} rad/s is over its limit {} rad/s", number(*.value), number(*.limit))]
    TooFast {
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The speed commanded.
        value: f64,
        /// The joint's limit.
        limit: f64,
    },
    /// A speed fraction outside (0, 1].
    #[error("speed {} is outside (0, 1]: give a fraction of the robot's maximum speed", number(*.value))]
    Speed {
        /// The value as given.
        value: f64,
    },
}

/// A number as it may be spoken: rounded to at most 4 decimals, in scientific notation
/// (3 significant digits) when very large or very small, and a word for NaN and infinities.
/// Rust's own `{}` would print 1e300 as 301 digits and 5e-324 as 324 zeros.
pub fn number(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            "infinity"
        } else {
            "minus infinity"
        }
        .into();
    }
    if x != 0.0 && !(1e-4..1e9).contains(&x.abs()) {
        // "1.00e-9" → "1e-9", "1.50e300" → "1.5e300".
        let s = format!("{x:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    match s {
        "-0" => "0".into(),
        s => s.into(),
    }
}

/// Checks a joint target: count, finiteness and range of every joint.
pub fn check_target(robot: &RobotDefinition, joints: &[f64]) -> Result<(), LimitError> {
    if joints.len() != robot.dof() {
        return Err(LimitError::WrongCount {
            given: joints.len(),
            expected: robot.dof(),
        });
    }
    for (i, (&value, spec)) in joints.iter().zip(&robot.joints).enumerate() {
        if !value.is_finite() {
            return Err(LimitError::NotFinite {
                index: i + 1,
                name: spec.name.clone(),
                value,
            });
        }
        if value < spec.min || value > spec.max {
            return Err(LimitError::OutOfRange {
                index: i + 1,
                name: spec.name.clone(),
                value,
                min: spec.min,
                max: spec.max,
            });
        }
    }
    Ok(())
}

/// Checks a speed fraction is in (0, 1].
pub fn check_speed(value: f64) -> Result<f64, LimitError> {
    if value.is_finite() && value > 0.0 && value <= 1.0 {
        Ok(value)
    } else {
        Err(LimitError::Speed { value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::robot::BUILTIN_UR5E;

    fn ur5e() -> RobotDefinition {
        RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap()
    }

    #[test]
    fn refusals_name_the_value_and_the_limit() {
        let r = ur5e();
        let e = check_target(&r, &[0.0, 0.0, 4.0, 0.0, 0.0, 0.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "joint 3 (elbow_joint) = 4 rad is outside its range -3.1416 to 3.1416 rad"
        );
        let e = check_target(&r, &[0.0, f64::NAN, 0.0, 0.0, 0.0, 0.0]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "joint 2 (shoulder_lift_joint) = NaN is not a finite number"
        );
        let e = check_target(&r, &[0.0; 5]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "5 joint values given; the robot has 6 joints"
        );
        assert!(check_target(&r, &[0.0; 6]).is_ok());
    }

    #[test]
    fn numbers_are_spoken_finite_and_rounded() {
        let cases = [
            (4.0, "4"),
            (-1.5712345, "-1.5712"),
            (0.25, "0.25"),
            (1e-9, "1e-9"),
            (5e-324, "4.94e-324"),
            (1e300, "1e300"),
            (-2.5e12, "-2.5e12"),
            (-0.00001, "-1e-5"),
            (0.0, "0"),
            (-0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "infinity"),
        ];
        for (x, said) in cases {
            assert_eq!(number(x), said, "{x:e}");
        }
        assert_eq!(
            check_speed(1e300).unwrap_err().to_string(),
            "speed 1e300 is outside (0, 1]: give a fraction of the robot's maximum speed"
        );
    }

    #[test]
    fn speed_must_be_a_fraction() {
        assert_eq!(check_speed(0.5), Ok(0.5));
        assert_eq!(check_speed(1.0), Ok(1.0));
        for bad in [0.0, -0.1, 1.01, f64::NAN, f64::INFINITY] {
            assert!(check_speed(bad).is_err(), "{bad} accepted");
        }
    }
}

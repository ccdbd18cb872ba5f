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
    #[error("joint {index} ({name}) = {value} is not a finite number")]
    NotFinite {
        /// 1-based joint number.
        index: usize,
        /// Joint name.
        name: String,
        /// The value as given.
        value: f64,
    },
    /// Outside the joint's range.
    #[error("joint {index} ({name}) = {value} rad is outside its range {min} to {max} rad")]
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
    #[error("joint {index} ({name}) speed {value} rad/s is over its limit {limit} rad/s")]
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
    #[error("speed {value} is outside (0, 1]: give a fraction of the robot's maximum speed")]
    Speed {
        /// The value as given.
        value: f64,
    },
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
            "joint 3 (elbow_joint) = 4 rad is outside its range -3.141592653589793 to 3.141592653589793 rad"
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
    fn speed_must_be_a_fraction() {
        assert_eq!(check_speed(0.5), Ok(0.5));
        assert_eq!(check_speed(1.0), Ok(1.0));
        for bad in [0.0, -0.1, 1.01, f64::NAN, f64::INFINITY] {
            assert!(check_speed(bad).is_err(), "{bad} accepted");
        }
    }
}

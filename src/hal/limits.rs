//! A safety layer that wraps any backend and refuses commands outside the robot's limits.
//!
//! Targets are checked before a task exists; this layer is the last line, per cycle, so
//! that a planning bug can never send an out-of-range setpoint to any backend.

use std::time::Instant;

use super::{ArmCommand, ArmState, CommandError, Phase, RobotArm};
use crate::robot::{JointSpec, LimitError};

/// Slack for floating-point rounding at the edges of a limit.
const EPSILON: f64 = 1e-9;

/// Wraps a backend with per-cycle position and velocity limits.
pub struct LimitedArm<A> {
    inner: A,
    joints: Vec<JointSpec>,
}

impl<A: RobotArm> LimitedArm<A> {
    /// Wraps `inner` with the limits of `joints`.
    pub fn new(inner: A, joints: Vec<JointSpec>) -> Self {
        Self { inner, joints }
    }

    fn check(&self, command: &ArmCommand) -> Result<(), LimitError> {
        if command.positions.len() != self.joints.len() {
            return Err(LimitError::WrongCount {
                given: command.positions.len(),
                expected: self.joints.len(),
            });
        }
        for (i, spec) in self.joints.iter().enumerate() {
            let (p, v) = (
                command.positions[i],
                command.velocities.get(i).copied().unwrap_or(0.0),
            );
            let name = || spec.name.clone();
            if !p.is_finite() {
                return Err(LimitError::NotFinite {
                    index: i + 1,
                    name: name(),
                    value: p,
                });
            }
            if p < spec.min - EPSILON || p > spec.max + EPSILON {
                return Err(LimitError::OutOfRange {
                    index: i + 1,
                    name: name(),
                    value: p,
                    min: spec.min,
                    max: spec.max,
                });
            }
            if !v.is_finite() || v.abs() > spec.max_velocity * (1.0 + 1e-6) {
                return Err(LimitError::TooFast {
                    index: i + 1,
                    name: name(),
                    value: v,
                    limit: spec.max_velocity,
                });
            }
        }
        Ok(())
    }
}

impl<A: RobotArm> RobotArm for LimitedArm<A> {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn read(&mut self, now: Instant) -> ArmState {
        self.inner.read(now)
    }

    fn tracks_setpoints(&self) -> bool {
        self.inner.tracks_setpoints()
    }

    fn follow(&mut self, motion_id: u64, path: &std::sync::Arc<crate::robot::linear::LinearPath>) {
        self.inner.follow(motion_id, path);
    }

    fn write(&mut self, command: &ArmCommand) -> Result<(), CommandError> {
        if command.phase == Phase::Idle && command.motion_id == 0 {
            return self.inner.write(command);
        }
        self.check(command)?;
        self.inner.write(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hal::{sim::SimArm, Joints};
    use crate::robot::{RobotDefinition, BUILTIN_UR5E};

    #[test]
    fn out_of_range_setpoints_never_reach_the_backend() {
        let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").unwrap();
        let sim = SimArm::new(&robot, Default::default(), Instant::now());
        let mut arm = LimitedArm::new(sim, robot.joints.clone());
        let now = Instant::now();
        let start = arm.read(now).positions;
        let mut positions = start;
        positions[2] = 3.5;
        let command = ArmCommand {
            motion_id: 1,
            phase: Phase::Moving,
            positions,
            velocities: Joints::zeros(6),
            target: positions,
            speed: 0.1,
        };
        let err = arm.write(&command).unwrap_err();
        assert!(
            err.to_string()
                .contains("joint 3 (elbow_joint) = 3.5 rad is outside"),
            "{err}"
        );
        let mut velocities = Joints::zeros(6);
        velocities[0] = 4.0;
        let err = arm
            .write(&ArmCommand {
                positions: start,
                velocities,
                ..command
            })
            .unwrap_err();
        assert!(
            err.to_string().contains("speed 4 rad/s is over its limit"),
            "{err}"
        );
        // Nothing was commanded: the arm has not moved.
        let later = arm
            .read(now + std::time::Duration::from_millis(500))
            .positions;
        assert_eq!(later, start);
    }
}

//! The in-process simulator backend: the `armsim` model, stepped on the cycle's clock.

use std::time::{Duration, Instant};

use armsim::{ArmModel, FaultPlan, JointLimit, SimMode};

use super::{ArmCommand, ArmState, CommandError, Fault, Joints, RobotArm, RobotMode};
use crate::robot::RobotDefinition;

/// A simulated arm; its model time runs with the executor's clock from `epoch`.
pub struct SimArm {
    model: ArmModel,
    epoch: Instant,
}

impl SimArm {
    /// A simulated arm at the robot's home position with the given faults scheduled
    /// (their times count from `epoch`).
    pub fn new(robot: &RobotDefinition, faults: FaultPlan, epoch: Instant) -> Self {
        let limits = robot
            .joints
            .iter()
            .map(|j| JointLimit {
                min: j.min,
                max: j.max,
                max_velocity: j.max_velocity,
                max_acceleration: j.max_acceleration,
            })
            .collect();
        Self {
            model: ArmModel::new(limits, robot.home(), faults),
            epoch,
        }
    }
}

impl RobotArm for SimArm {
    fn backend(&self) -> &'static str {
        "sim"
    }

    fn read(&mut self, now: Instant) -> ArmState {
        let target = now.saturating_duration_since(self.epoch).as_secs_f64();
        let dt = target - self.model.time_s();
        if dt > 0.0 {
            self.model.step(dt);
        }
        let s = self.model.state();
        let (mode, fault) = match s.mode {
            SimMode::Running => (RobotMode::Running, None),
            SimMode::ProtectiveStop => (RobotMode::ProtectiveStop, Some(Fault::ProtectiveStop)),
        };
        ArmState {
            // The model has as many joints as the definition, which is at most MAX_JOINTS.
            positions: Joints::from_slice(s.positions).unwrap_or(Joints::zeros(0)),
            velocities: Joints::from_slice(s.velocities).unwrap_or(Joints::zeros(0)),
            mode,
            fault,
            sampled_at: self.epoch + Duration::from_secs_f64(s.sampled_at_s),
            link_down_since: None,
        }
    }

    fn write(&mut self, command: &ArmCommand) -> Result<(), CommandError> {
        self.model.command(&command.positions, &command.velocities);
        Ok(())
    }
}

//! The cell's checks inside the gate: every joint move's whole sampled path, and the
//! planning of straight lines, before a task exists. A refusal leaves no task and moves
//! nothing.

use std::sync::Arc;

use super::lease::Pending;
use super::motion::MotionGate;
use super::requests::{GateError, LineTarget};
use super::words::Reach;
use super::{Step, StepKind};
use crate::cell::{Cell, PathReport};
use crate::hal::Joints;
use crate::robot::linear::{LinearLimits, LinearPath};
use crate::robot::{Kinematics, Plan, TcpPose};

/// What the gate checks paths with: the robot's kinematics, the cell and the caps of a
/// straight line.
#[derive(Debug, Clone)]
pub struct Space {
    /// The kinematics, if the robot file gives them (without them, no path is checked
    /// against the zones and no line can be planned).
    pub kinematics: Option<Kinematics>,
    /// The cell's zones and bounds.
    pub cell: Cell,
    /// The caps a straight line runs under.
    pub limits: LinearLimits,
    /// The backend's name when it runs its own trajectories (it cannot follow a line).
    pub no_lines: Option<&'static str>,
}

impl Space {
    /// The robot's kinematics in an open cell (no zones) under the default caps, on a
    /// backend that follows setpoints.
    pub fn open(robot: &crate::robot::RobotDefinition) -> Self {
        Self {
            kinematics: robot.kinematics.clone(),
            cell: Cell::open(&robot.source),
            limits: LinearLimits::default(),
            no_lines: None,
        }
    }
}

/// A planned straight line: the path to follow and what its check found.
#[derive(Debug, Clone)]
pub struct PlannedLine {
    /// The sampled path.
    pub path: Arc<LinearPath>,
    /// What the cell's check found along it.
    pub report: PathReport,
}

impl MotionGate {
    /// Checks a joint move's whole path from `from` to `target` against the cell.
    pub(super) fn check_joint_move(
        &self,
        from: Joints,
        target: Joints,
        speed: f64,
    ) -> Result<(), GateError> {
        let space = &self.settings.space;
        let Some(kin) = &space.kinematics else {
            return Ok(());
        };
        let plan = Plan::new(&self.settings.joints, from, target, speed);
        space
            .cell
            .check_joint_plan(kin, &self.settings.joints, &plan)
            .map(|_| ())
            .map_err(GateError::Cell)
    }

    /// Checks every joint move of `steps`, chained from `from`.
    pub(super) fn check_steps(&self, steps: &[Step], from: Joints) -> Result<(), GateError> {
        let mut at = from;
        for (k, step) in steps.iter().enumerate() {
            match &step.kind {
                StepKind::Move { target, speed } => {
                    let Some(target) = Joints::from_slice(target) else {
                        continue;
                    };
                    self.check_joint_move(at, target, *speed)?;
                    at = target;
                }
                StepKind::Line { pose, speed, .. } => {
                    let to = LineTarget::Pose(TcpPose::from_array(*pose));
                    let named = |what: String| match what.as_str() {
                        "The move" => format!("Step {} ({})", k + 1, step.label),
                        _ => what,
                    };
                    let (_, _, line) = self.plan_line(&to, at, *speed).map_err(|e| match e {
                        GateError::TooLong {
                            what,
                            seconds,
                            limit,
                        } => GateError::TooLong {
                            what: named(what),
                            seconds,
                            limit,
                        },
                        GateError::TooSlow { what, speed, min } => GateError::TooSlow {
                            what: named(what),
                            speed,
                            min,
                        },
                        other => other,
                    })?;
                    at = line.path.samples.last().map_or(at, |p| p.joints);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A line step's path, planned from where the arm is now: where it ends, and the path.
    pub(super) fn plan_step_line(
        &self,
        pose: &[f64; 6],
        speed: f64,
    ) -> Result<(Joints, Arc<LinearPath>), GateError> {
        let (from, _) = self.ready_joints()?;
        let to = LineTarget::Pose(TcpPose::from_array(*pose));
        let (_, _, line) = self.plan_line(&to, from, speed)?;
        let end = line.path.samples.last().map_or(from, |p| p.joints);
        Ok((end, line.path))
    }

    /// Plans the straight line to `to` from `from` and checks it: what starts, and how
    /// far and long it goes.
    pub(super) fn plan_line(
        &self,
        to: &LineTarget,
        from: Joints,
        speed: f64,
    ) -> Result<(Pending, Reach, PlannedLine), GateError> {
        // Planned on the caller's thread, never the motion thread's.
        let space = &self.settings.space;
        if let Some(backend) = space.no_lines {
            return Err(GateError::NoLines(backend));
        }
        let Some(kin) = &space.kinematics else {
            return Err(GateError::Cell(crate::cell::Refusal::Request {
                message: crate::robot::linear::PlanError::NoKinematics.to_string(),
            }));
        };
        let start = kin.tcp_transform(&from);
        let target = match to {
            LineTarget::Pose(p) => p.to_isometry(),
            LineTarget::Relative(m) => m.target(&start),
        };
        // The samples' count grows with the duration: refuse a crawl before sampling it.
        if speed.is_nan() || speed < self.settings.min_speed {
            return Err(GateError::TooSlow {
                what: "The move".into(),
                speed,
                min: self.settings.min_speed,
            });
        }
        let length = (target.translation.vector - start.translation.vector).norm();
        let turn = start.rotation.angle_to(&target.rotation);
        let fastest = (length / (space.limits.tcp_speed * speed))
            .max(turn / (space.limits.turn_speed * speed));
        if fastest > self.settings.max_motion_s {
            return Err(GateError::TooLong {
                what: "The move".into(),
                seconds: fastest,
                limit: self.settings.max_motion_s,
            });
        }
        let (path, report) = space
            .cell
            .plan_linear(
                kin,
                &self.settings.joints,
                &from,
                &target,
                speed,
                &space.limits,
            )
            .map_err(GateError::Cell)?;
        let end = path.samples.last().map_or(from, |p| p.joints);
        let mut reach = self.reach_of_move(from, end, speed);
        reach.eta_s = path.duration();
        reach.longest = (0, reach.eta_s);
        let line = PlannedLine {
            path: Arc::new(path),
            report,
        };
        let pending = Pending::Path {
            line: line.clone(),
            target: end,
            speed,
        };
        Ok((pending, reach, line))
    }
}

//! The cell's checks inside the gate: every joint move's whole sampled path, and the
//! planning of straight lines, before a task exists. A refusal leaves no task and moves
//! nothing.

use std::sync::Arc;

use super::lease::Pending;
use super::motion::MotionGate;
use super::requests::{GateError, LineTarget};
use super::words::Reach;
use super::{LineRecord, Step, StepKind};
use crate::cell::{Cell, PathReport};
use crate::hal::Joints;
use crate::robot::linear::{LinearLimits, LinearPath, WAYPOINT_TOLERANCE};
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
    /// The backend sends a line as one trajectory goal: its waypoints are thinned here.
    pub line_goals: bool,
    /// The backend sends a line's end pose in registers (Modbus `movel`): the end is
    /// rounded to their resolution before planning, so the plan ends where the robot does.
    pub pose_registers: bool,
}

impl Space {
    /// The robot's kinematics in an open cell (no zones) under the default caps, on a
    /// backend that follows setpoints.
    pub fn open(robot: &crate::robot::RobotDefinition) -> Self {
        Self {
            kinematics: robot.kinematics.clone(),
            cell: Cell::open(&robot.source),
            limits: LinearLimits::default(),
            line_goals: false,
            pose_registers: false,
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
                        "The move" => format!("Step {}", k + 1),
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
        let Some(kin) = &space.kinematics else {
            return Err(GateError::Cell(
                crate::robot::linear::PlanError::NoKinematics.into(),
            ));
        };
        let start = kin.tcp_transform(&from);
        let target = match to {
            LineTarget::Pose(p) => p.to_isometry(),
            LineTarget::Relative(m) => m.target(&start),
        };
        let target = if space.pose_registers {
            // movel takes six joints' worth of pose registers, each a signed 16-bit value.
            let p = TcpPose::from_isometry(&target).to_array();
            let fits = p[..3].iter().all(|v| v.abs() < 3.2)
                && p[3..].iter().all(|v| v.abs() < 32.0)
                && self.settings.joints.len() == 6;
            if !fits {
                return Err(GateError::NoLines("modbus"));
            }
            register_resolution(&target)
        } else {
            target
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
        let (mut path, report) = space
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
        if space.line_goals {
            path.waypoints = path.waypoints(kin, WAYPOINT_TOLERANCE);
        }
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

/// What the record keeps of a straight line: its planned ends and speed.
pub(super) fn line_record(pending: &Pending) -> Option<LineRecord> {
    match pending {
        Pending::Path { line, speed, .. } => Some(LineRecord {
            start: TcpPose::from_isometry(&line.path.start),
            end: TcpPose::from_isometry(&line.path.end),
            speed: *speed,
        }),
        _ => None,
    }
}

/// `pose` rounded as UR's TCP pose registers hold it: 0.1 mm, and 1 mrad per component of
/// the rotation vector.
fn register_resolution(pose: &nalgebra::Isometry3<f64>) -> nalgebra::Isometry3<f64> {
    let p = TcpPose::from_isometry(pose).to_array();
    let round = |v: f64, per: f64| (v * per).round() / per;
    let q = [
        round(p[0], 1e4),
        round(p[1], 1e4),
        round(p[2], 1e4),
        round(p[3], 1e3),
        round(p[4], 1e3),
        round(p[5], 1e3),
    ];
    TcpPose::from_array(q).to_isometry()
}

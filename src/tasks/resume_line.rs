//! Taking up an interrupted straight line again: along the same journaled line, from
//! where the tool stands on it, never re-applied from where the arm is.

use std::sync::Arc;
use std::time::Instant;

use nalgebra::Isometry3;
use uuid::Uuid;

use super::lease::{Live, Pending};
use super::motion::MotionGate;
use super::requests::{Accepted, Confirm, GateError, LineTarget};
use super::words::{self, Question};
use super::{now_rfc3339, LineRecord, TaskState};

/// How far (m) the TCP may be from the journaled line for the line to be continued.
pub(super) const LINE_TOLERANCE: f64 = 0.001;
/// How far (rad) the tool may be turned from the line's orientation there (about 0.5°).
pub(super) const TURN_TOLERANCE: f64 = 0.0087;

/// Where the TCP `at` lies along the line `a`–`b`: the fraction of the way, how far it is
/// from the line's pose there (m), and how far turned from it (rad).
pub(super) fn place_on_line(
    a: &Isometry3<f64>,
    b: &Isometry3<f64>,
    at: &Isometry3<f64>,
) -> (f64, f64, f64) {
    let ab = b.translation.vector - a.translation.vector;
    let turn = a.rotation.angle_to(&b.rotation);
    let f = if ab.norm_squared() > 1e-12 {
        (at.translation.vector - a.translation.vector).dot(&ab) / ab.norm_squared()
    } else if turn > 1e-9 {
        // A pure turn: the fraction of the turn done.
        a.rotation.angle_to(&at.rotation) / turn
    } else {
        1.0
    };
    let f = f.clamp(0.0, 1.0);
    let on = a.translation.vector.lerp(&b.translation.vector, f);
    let r = a.rotation.slerp(&b.rotation, f);
    (
        f,
        (at.translation.vector - on).norm(),
        at.rotation.angle_to(&r),
    )
}

impl MotionGate {
    /// Continues the interrupted straight-line task `task_id` along its journaled line, to
    /// the line's end, if the tool is on the line (within [`LINE_TOLERANCE`] and
    /// [`TURN_TOLERANCE`]); else refuses, nothing moves and the task stays interrupted.
    pub fn resume_line(
        self: &Arc<Self>,
        task_id: &Uuid,
        confirm: Confirm,
    ) -> Result<Accepted, GateError> {
        let mut desk = self.registry.desk();
        let number = desk.book.number_of(task_id);
        let short = words::task_number(number);
        if let Some(busy) = desk.busy() {
            return Err(GateError::Busy(busy));
        }
        self.durable()?;
        let (from, _) = self.ready_joints()?;
        let rec = desk.book.get(task_id);
        let state = rec.map_or("unknown", |r| r.state.as_str());
        let Some(line) = rec
            .filter(|r| r.state == TaskState::Interrupted)
            .and_then(|r| r.line)
        else {
            return Err(GateError::NotInterrupted(short, state));
        };
        let Some(kin) = &self.settings.space.kinematics else {
            return Err(GateError::Cell(
                crate::robot::linear::PlanError::NoKinematics.into(),
            ));
        };
        let LineRecord { start, end, speed } = line;
        let at = kin.tcp_transform(&from);
        let (_, off, turned) = place_on_line(&start.to_isometry(), &end.to_isometry(), &at);
        if off > LINE_TOLERANCE || turned > TURN_TOLERANCE {
            return Err(GateError::OffTheLine(words::off_the_line(
                number, off, turned,
            )));
        }
        // The rest of the same line: from the tool's place on it to the line's end.
        let (pending, reach, planned) = self.plan_line(&LineTarget::Pose(end), from, speed)?;
        self.sensible(&reach, None)?;
        let question = Question::Resume {
            title: desk
                .book
                .get(task_id)
                .map_or_else(String::new, |r| r.action.clone()),
            from: 1,
            total: 1,
        };
        let hold = self.hold_if(confirm, &question, &reach, pending.clone());
        let motion_id = desk.lease.next_id();
        let Some(rec) = desk.book.get_mut(task_id) else {
            return Err(GateError::NotInterrupted(short, "unknown"));
        };
        let before = rec.clone();
        rec.state = if hold.is_some() {
            TaskState::AwaitingConfirmation
        } else {
            TaskState::Running
        };
        rec.message = match &hold {
            Some(h) => words::awaiting(&h.question, number),
            None => words::continuing_line(number, planned.path.length, reach.eta_s),
        };
        rec.error = None;
        rec.finished_at = None;
        rec.eta_s = Some(reach.eta_s);
        rec.updated_at = now_rfc3339();
        if hold.is_none() {
            rec.started_at = Some(rec.updated_at.clone());
        }
        // The record keeps the whole line: a second interruption continues the same one.
        let rec = rec.clone();
        self.journal_or_restore(&mut desk, &rec, before)?;
        let held = hold.is_some();
        desk.lease.live = Some(Live {
            task_id: *task_id,
            motion_id,
            doing: "Continuing the straight line".into(),
            done: "The tool arrived at the line's end.".into(),
            hold,
            end: match &pending {
                Pending::Path { target, .. } => Some(*target),
                _ => None,
            },
            last_journaled: Instant::now(),
            seq: None,
        });
        let accepted = Accepted {
            record: rec,
            eta_s: reach.eta_s,
            steps: 1,
            held,
            line: Some(planned),
            resumed_at: Some((1, false)),
            queued: None,
        };
        self.begin(&accepted, pending, motion_id)?;
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::{Translation3, UnitQuaternion};

    use super::*;

    fn pose(x: f64, y: f64, z: f64, yaw: f64) -> Isometry3<f64> {
        Isometry3::from_parts(
            Translation3::new(x, y, z),
            UnitQuaternion::from_euler_angles(std::f64::consts::PI, 0.0, yaw),
        )
    }

    #[test]
    fn a_tool_on_the_line_is_placed_along_it_and_one_off_it_is_measured() {
        let (a, b) = (pose(0.4, 0.1, 0.3, 0.0), pose(0.4, 0.1, 0.5, 0.6));
        // 30 % of the way up, turned 30 % of the way: on the line.
        let (f, off, turned) = place_on_line(&a, &b, &pose(0.4, 0.1, 0.36, 0.18));
        assert!((f - 0.3).abs() < 1e-9 && off < 1e-9 && turned < 1e-9);
        // Two millimetres to the side: off the line by that much.
        let (f, off, _) = place_on_line(&a, &b, &pose(0.402, 0.1, 0.36, 0.18));
        assert!((f - 0.3).abs() < 1e-9 && (off - 0.002).abs() < 1e-9);
        assert!(off > LINE_TOLERANCE);
        // On the line's axis but turned as at the start: turned from the line there.
        let (_, off, turned) = place_on_line(&a, &b, &pose(0.4, 0.1, 0.36, 0.0));
        assert!(off < 1e-9 && (turned - 0.18).abs() < 1e-9 && turned > TURN_TOLERANCE);
        // A turn in place: placed by the fraction of the turn.
        let c = pose(0.4, 0.1, 0.3, 0.5);
        let (f, off, turned) = place_on_line(&a, &c, &pose(0.4, 0.1, 0.3, 0.25));
        assert!((f - 0.5).abs() < 1e-9 && off < 1e-9 && turned < 1e-9);
    }
}

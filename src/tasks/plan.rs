//! Planning before a task exists: how far a motion reaches and how long it takes, the
//! steps' planned seconds, a resume's move back, and whether it must be confirmed.

use std::time::Instant;

use std::sync::Arc;

use uuid::Uuid;

use super::lease::{Hold, Pending};
use super::motion::MotionGate;
use super::requests::{Confirm, GateError, MotionTask, Work};
use super::words::{self, Question, Reach};
use super::{now_rfc3339, Sequence, Step, StepKind, StepsStatus, TaskRecord, TaskState};
use crate::hal::Joints;
use crate::robot::Plan;

impl MotionGate {
    /// Plans `work` from `from`: what starts, its steps, and how far and long it goes.
    pub(super) fn plan_work(
        &self,
        work: &Work,
        from: Joints,
    ) -> Result<(Pending, Option<Arc<Sequence>>, Reach), GateError> {
        Ok(match work {
            Work::Move { target, speed } => {
                let target = joints(target)?;
                self.check_joint_move(from, target, *speed)?;
                let pending = Pending::Motion {
                    target,
                    speed: *speed,
                };
                (pending, None, self.reach_of_move(from, target, *speed))
            }
            Work::Line { to, speed } => {
                let (pending, reach, _) = self.plan_line(to, from, *speed)?;
                (pending, None, reach)
            }
            Work::Steps(steps) => {
                self.check_steps(steps, from)?;
                let (seq, reach) = self.sequence(steps.clone(), from);
                let pending = Pending::Steps {
                    from: 0,
                    prelude: None,
                };
                (pending, Some(Arc::new(seq)), reach)
            }
        })
    }

    /// A hold for a task reaching `reach`, if its rule asks for one.
    pub(super) fn hold_if(
        &self,
        confirm: Confirm,
        question: &Question,
        reach: &Reach,
        start: Pending,
    ) -> Option<Hold> {
        let name = self
            .settings
            .joints
            .get(reach.joint)
            .map(|j| j.spoken())
            .unwrap_or_default();
        confirm.applies(reach).then(|| Hold {
            start,
            question: words::question(question, reach, &name),
            deadline: Instant::now() + self.settings.expire,
        })
    }

    pub(super) fn reach_of_move(&self, from: Joints, target: Joints, speed: f64) -> Reach {
        let (joint, travel) = (0..target.len())
            .map(|i| (i, (target[i] - from[i]).abs()))
            .fold((0, 0.0), |best, x| if x.1 > best.1 { x } else { best });
        let eta_s = Plan::new(&self.settings.joints, from, target, speed).duration();
        Reach {
            joint,
            travel,
            speed,
            eta_s,
            steps: 1,
            longest: (0, eta_s),
            slowest: (0, speed),
        }
    }

    /// The steps with their planned seconds, chained from `start`, and how far they reach.
    pub(super) fn sequence(&self, steps: Vec<Step>, start: Joints) -> (Sequence, Reach) {
        let mut at = start;
        let mut reach = Reach {
            joint: 0,
            travel: 0.0,
            speed: 0.0,
            eta_s: 0.0,
            steps: steps.len(),
            longest: (0, 0.0),
            slowest: (0, f64::INFINITY),
        };
        let weights: Vec<f64> = steps
            .iter()
            .enumerate()
            .map(|(k, s)| match &s.kind {
                StepKind::Move { .. } | StepKind::Line { .. } => {
                    let Some((target, speed)) = s.kind.ends_at() else {
                        return 0.0;
                    };
                    let speed = &speed;
                    let Some(target) = Joints::from_slice(&target) else {
                        return 0.0;
                    };
                    let one = self.reach_of_move(at, target, *speed);
                    if one.travel > reach.travel {
                        (reach.joint, reach.travel) = (one.joint, one.travel);
                    }
                    if one.eta_s > reach.longest.1 {
                        reach.longest = (k, one.eta_s);
                    }
                    // NaN is never below anything: it counts as slowest.
                    if speed.is_nan() || *speed < reach.slowest.1 {
                        reach.slowest = (k, *speed);
                    }
                    reach.speed = reach.speed.max(*speed);
                    at = target;
                    one.eta_s
                }
                StepKind::Wait { seconds } => *seconds,
                StepKind::SetVariable { .. } | StepKind::SetOutput { .. } => 0.0,
                // How long an input takes is not known: it weighs nothing.
                StepKind::WaitInput { .. } => 0.0,
                StepKind::Gripper { stroke_s, .. } => *stroke_s,
            })
            .collect();
        reach.eta_s = weights.iter().sum();
        (Sequence::new(steps, weights), reach)
    }

    /// Refuses a motion slower than the minimum speed or longer than the longest motion
    /// allowed; `steps` names a multi-step task's step.
    pub(super) fn sensible(&self, reach: &Reach, steps: Option<&[Step]>) -> Result<(), GateError> {
        let what = |k: usize| match steps.and_then(|s| s.get(k)) {
            Some(_) => format!("Step {}", k + 1),
            None => "The move".to_owned(),
        };
        let (k, speed) = reach.slowest;
        if speed.is_nan() || speed < self.settings.min_speed {
            return Err(GateError::TooSlow {
                what: what(k),
                speed,
                min: self.settings.min_speed,
            });
        }
        let (k, seconds) = reach.longest;
        if seconds.is_nan() || seconds > self.settings.max_motion_s {
            return Err(GateError::TooLong {
                what: what(k),
                seconds,
                limit: self.settings.max_motion_s,
            });
        }
        Ok(())
    }
}

/// A new task's record, before it is journaled.
pub(super) fn fresh_record(
    task: &MotionTask,
    state: TaskState,
    message: String,
    eta_s: f64,
    steps: Option<StepsStatus>,
) -> TaskRecord {
    let now = now_rfc3339();
    TaskRecord {
        task_id: Uuid::new_v4(),
        // Given when it is journaled (`Book::number`), so refused tasks use none.
        task_number: 0,
        action: task.action.clone(),
        params: task.params.clone(),
        state,
        progress: 0.0,
        message,
        created_at: now.clone(),
        updated_at: now,
        started_at: None,
        finished_at: None,
        eta_s: Some(eta_s),
        error: None,
        owner: task.owner.clone(),
        steps,
        approval: None,
        line: None,
    }
}

/// A multi-step task's status before its first step.
pub(super) fn steps_status(seq: &Sequence) -> StepsStatus {
    StepsStatus {
        total: seq.steps.len(),
        done: 0,
        current: None,
        label: seq
            .steps
            .first()
            .map(|s| s.label.clone())
            .unwrap_or_default(),
        digest: seq.digest.clone(),
        resumed: 0,
        applied: vec![],
    }
}

/// Where `work` leaves the arm: its (last) joint target.
pub(super) fn work_end(work: &Work) -> Option<Joints> {
    match work {
        Work::Move { target, .. } => Joints::from_slice(target),
        // Known only once planned from where the arm is then.
        Work::Line { .. } => None,
        Work::Steps(steps) => steps
            .iter()
            .rev()
            .find_map(|s| s.kind.ends_at().and_then(|e| Joints::from_slice(&e.0))),
    }
}

/// `values` as joints, or a refusal naming the count.
fn joints(values: &[f64]) -> Result<Joints, GateError> {
    Joints::from_slice(values).ok_or_else(|| {
        GateError::Executor(format!(
            "{} joint values is more than the arm can have",
            values.len()
        ))
    })
}

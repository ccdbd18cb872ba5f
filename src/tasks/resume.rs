//! Taking up an interrupted multi-step task again, through the gate's critical section.

use std::sync::Arc;
use std::time::Instant;

use uuid::Uuid;

use super::lease::{Live, Pending, SeqLive};
use super::motion::MotionGate;
use super::registry::Desk;
use super::requests::{Accepted, GateError, Resume};
use super::words::{self, Question};
use super::{now_rfc3339, Sequence, Step, StepKind, TaskRecord, TaskState};
use crate::hal::Joints;

impl MotionGate {
    /// Journals `rec`, a task just taken up again; if that fails, puts `before` back in
    /// the book and refuses, so nothing moves on an unrecorded state.
    pub(super) fn journal_or_restore(
        &self,
        desk: &mut Desk,
        rec: &TaskRecord,
        before: TaskRecord,
    ) -> Result<(), GateError> {
        self.registry.journal(rec).map_err(|e| {
            if let Some(r) = desk.book.get_mut(&rec.task_id) {
                *r = before;
            }
            GateError::Durability(e.cause())
        })
    }

    /// Takes up the interrupted multi-step task `task_id` again with `steps` (the same
    /// steps it had): from its first unfinished step, after a move back to where that
    /// step starts if the arm is elsewhere.
    pub fn resume(self: &Arc<Self>, task_id: &Uuid, task: Resume) -> Result<Accepted, GateError> {
        let mut desk = self.registry.desk();
        let short = words::task_number(desk.book.number_of(task_id));
        if let Some(busy) = desk.busy() {
            return Err(GateError::Busy(busy));
        }
        self.durable()?;
        let (start, at) = self.ready_joints()?;
        let Some(status) = desk
            .book
            .get(task_id)
            .filter(|r| r.state == TaskState::Interrupted)
            .and_then(|r| r.steps.clone())
        else {
            let state = desk
                .book
                .get(task_id)
                .map_or("unknown", |r| r.state.as_str());
            return Err(GateError::NotInterrupted(short, state));
        };
        let seq = Sequence::new(task.steps, vec![]);
        let from = status.done.min(seq.steps.len());
        let prelude = self.prelude(&seq.steps, from, at);
        let mut rest: Vec<Step> = prelude.iter().cloned().collect();
        rest.extend(seq.steps[from..].iter().cloned());
        let (rest, reach) = self.sequence(rest, start);
        self.sensible(&reach, Some(&rest.steps))?;
        let (full, _) = self.sequence(seq.steps, start);
        let total = full.steps.len();
        let question = Question::Resume {
            title: task.title,
            from: from + 1,
            total,
        };
        let pending = Pending::Steps {
            from,
            prelude: prelude.clone(),
        };
        let hold = self.hold_if(task.confirm, &question, &reach, pending.clone());
        let motion_id = desk.lease.next_id();
        let Some(rec) = desk.book.get_mut(task_id) else {
            return Err(GateError::NotInterrupted(short, "unknown"));
        };
        let before = rec.clone();
        let Some(st) = rec.steps.as_mut() else {
            return Err(GateError::NotInterrupted(short, "unknown"));
        };
        st.resumed += 1;
        st.current = None;
        rec.state = if hold.is_some() {
            TaskState::AwaitingConfirmation
        } else {
            TaskState::Running
        };
        let label = full
            .steps
            .get(from)
            .map(|s| s.label.clone())
            .unwrap_or_default();
        rec.message = match &hold {
            Some(h) => words::awaiting(&h.question, rec.task_number),
            None => words::resuming(
                rec.task_number,
                from + 1,
                total,
                &label,
                prelude.is_some(),
                reach.eta_s,
            ),
        };
        rec.error = None;
        rec.finished_at = None;
        rec.updated_at = now_rfc3339();
        let rec = rec.clone();
        self.journal_or_restore(&mut desk, &rec, before)?;
        let held = hold.is_some();
        desk.lease.live = Some(Live {
            task_id: *task_id,
            motion_id,
            doing: task.doing,
            done: task.done,
            hold,
            end: None,
            last_journaled: Instant::now(),
            seq: Some(SeqLive::new(Arc::new(full))),
        });
        let accepted = Accepted {
            record: rec,
            eta_s: reach.eta_s,
            steps: total,
            held,
            line: None,
            resumed_at: Some((from + 1, prelude.is_some())),
            queued: None,
        };
        // A runner or a timer starts; nothing here is refused by the executor.
        self.begin(&accepted, pending, motion_id)?;
        Ok(accepted)
    }

    /// The move back to where step `from` starts, if the arm is not there.
    fn prelude(&self, steps: &[Step], from: usize, at: Joints) -> Option<Step> {
        let tol = self.settings.goal_tolerance_rad;
        // A line's end joints were planned at the call: the arm goes back to them.
        let back = steps[..from].iter().rev().find_map(|s| s.kind.ends_at())?;
        let away = back
            .0
            .iter()
            .zip(at.iter())
            .any(|(t, p)| (t - p).abs() > tol);
        away.then(|| Step {
            label: format!("returning to where step {} starts", from + 1),
            kind: StepKind::Move {
                target: back.0,
                speed: back.1,
            },
        })
    }
}

//! The line of tasks waiting for the arm: a task asked for `after` the running one waits
//! here, journaled as `queued`, and takes the arm when the one before it ends, in the same
//! critical section. Stop empties the line; a failed task drops the rest of its owner's.

use std::sync::Arc;

use uuid::Uuid;

use super::journal::OnDisk;
use super::lease::Queued;
use super::motion::{end_unmoved, MotionGate};
use super::plan::{fresh_record, steps_status, work_end};
use super::registry::Desk;
use super::requests::{Accepted, GateError, MotionTask};
use super::words::{self, why};
use super::{TaskRecord, TaskState};
use crate::vars::VarValue;

impl MotionGate {
    /// Puts `task` in line behind the task holding the arm (desk locked); its record is
    /// handed to the journal (on disk once the answer resolves).
    pub(super) fn enqueue(
        self: &Arc<Self>,
        desk: &mut Desk,
        task: MotionTask,
    ) -> Result<(Accepted, OnDisk), GateError> {
        let limit = self.settings.queue_limit;
        if desk.lease.queue.len() >= limit {
            return Err(GateError::QueueFull(limit));
        }
        self.durable()?;
        let (now_at, _) = self.ready_joints()?;
        // Its ETA is planned from where the task before it leaves the arm.
        let from = desk
            .lease
            .queue
            .back()
            .and_then(|q| q.end)
            .or_else(|| desk.lease.live.as_ref().and_then(|l| l.end))
            .unwrap_or(now_at);
        let (pending, seq, reach) = self.plan_work(&task.work, from)?;
        self.sensible(&reach, seq.as_ref().map(|s| s.steps.as_slice()))?;
        let starts_in = self.seconds_until_free(desk);
        let place = desk.lease.queue.len() + 2;
        let mut rec = fresh_record(
            &task,
            TaskState::Queued,
            String::new(),
            reach.eta_s,
            seq.as_deref().map(steps_status),
        );
        rec.task_number = desk.book.number();
        rec.message = words::queued(&task.doing, place, starts_in, rec.task_number);
        let on_disk = self.registry.hand(&rec);
        desk.book.upsert(rec.clone());
        desk.lease.queue.push_back(Queued {
            task_id: rec.task_id,
            end: work_end(&task.work),
            task,
            eta_s: reach.eta_s,
        });
        self.registry.mirror(&rec, true);
        self.mirror_queue(desk);
        let accepted = Accepted {
            record: rec,
            eta_s: reach.eta_s,
            steps: reach.steps,
            held: false,
            resumed_at: None,
            queued: Some((place, starts_in)),
            // Planned again, from where the arm is, when it takes the arm.
            line: match pending {
                super::lease::Pending::Path { line, .. } => Some(line),
                _ => None,
            },
        };
        Ok((accepted, on_disk))
    }

    /// Seconds until the arm is free of the live task and everything in line.
    fn seconds_until_free(&self, desk: &Desk) -> f64 {
        live_eta(desk) + desk.lease.queue.iter().map(|q| q.eta_s).sum::<f64>()
    }

    /// The arm came free because `ended` ended (desk locked): a failure drops the rest of
    /// its owner's line, then the head of the line takes the arm. What to say of it.
    pub(super) fn promote(self: &Arc<Self>, desk: &mut Desk, ended: &TaskRecord) -> Option<String> {
        if self.registry.is_shutting_down() {
            return None;
        }
        let mut gone = vec![];
        if matches!(ended.state, TaskState::Failed | TaskState::Interrupted) {
            let owner = ended.owner.clone();
            gone.extend(self.drop_queue(
                desk,
                |q| q.task.owner == owner,
                "predecessor_failed",
                why::PREDECESSOR_FAILED,
            ));
        }
        let mut next = None;
        while let Some(q) = desk.lease.queue.pop_front() {
            let Some(rec) = desk.book.get(&q.task_id).cloned() else {
                continue;
            };
            let (doing, owner) = (q.task.doing.clone(), q.task.owner.clone());
            let failure = match self.take_arm(desk, rec, q.task) {
                Ok((accepted, begin, on_disk)) => {
                    // Inside the critical section of the task that ended: its thread
                    // waits for the sync (rare: only when a task waited in line).
                    match self.go(desk, begin, on_disk.wait()) {
                        (Ok(()), _) => {
                            next = Some(words::next(&doing, accepted.eta_s));
                            break;
                        }
                        (Err(_), failed) => failed,
                    }
                }
                Err(e) => fail_queued(desk, &q.task_id, e.code(), &e.to_string()),
            };
            if let Some(rec) = failure {
                self.registry.journal(&rec).ok();
                gone.push(rec);
            }
            gone.extend(self.drop_queue(
                desk,
                |q| q.task.owner == owner,
                "predecessor_failed",
                why::PREDECESSOR_FAILED,
            ));
        }
        self.refresh_places(desk);
        self.mirror_queue(desk);
        // Announced under the lock: a broadcast and a variable write, nothing that waits.
        for rec in gone {
            self.registry.mirror(&rec, true);
            self.registry.announce_end(rec);
        }
        next
    }

    /// Drops the queued tasks that `pick` selects (desk locked): each ends `cancelled` with
    /// `code`, journaled; the arm never moved for them. Their records, for announcing.
    pub(super) fn drop_queue(
        &self,
        desk: &mut Desk,
        pick: impl Fn(&Queued) -> bool,
        code: &str,
        why: &str,
    ) -> Vec<TaskRecord> {
        let (gone, kept): (Vec<Queued>, Vec<Queued>) = std::mem::take(&mut desk.lease.queue)
            .into_iter()
            .partition(|q| pick(q));
        desk.lease.queue = kept.into();
        let ended: Vec<TaskRecord> = gone
            .iter()
            .filter_map(|q| end_unmoved(desk, &q.task_id, TaskState::Cancelled, code, why))
            .collect();
        for rec in &ended {
            self.registry.journal(rec).ok();
        }
        if !ended.is_empty() {
            self.refresh_places(desk);
            self.mirror_queue(desk);
        }
        ended
    }

    /// Takes the queued task `task_id` out of line (desk locked); its record if it was queued.
    pub(super) fn unqueue(
        &self,
        desk: &mut Desk,
        task_id: &Uuid,
        code: &str,
        why: &str,
    ) -> Option<TaskRecord> {
        self.drop_queue(desk, |q| q.task_id == *task_id, code, why)
            .pop()
    }

    /// Tells each queued task its new place in line.
    fn refresh_places(&self, desk: &mut Desk) {
        let mut starts_in = live_eta(desk);
        let Desk { book, lease } = desk;
        for (k, q) in lease.queue.iter().enumerate() {
            if let Some(rec) = book.get_mut(&q.task_id) {
                rec.message = words::queued(&q.task.doing, k + 2, starts_in, rec.task_number);
            }
            starts_in += q.eta_s;
        }
    }

    /// Mirrors the line into `queue_length` and `queue_next`.
    fn mirror_queue(&self, desk: &Desk) {
        let next = desk
            .lease
            .queue
            .front()
            .map(|q| q.task.doing.clone())
            .unwrap_or_default();
        self.vars.set_many(
            [
                (
                    "queue_length",
                    VarValue::Number(desk.lease.queue.len() as f64),
                ),
                ("queue_next", VarValue::String(next)),
            ],
            true,
        );
    }
}

/// Fails the queued task `task_id` that could not take the arm (desk locked).
fn fail_queued(desk: &mut Desk, task_id: &Uuid, code: &str, message: &str) -> Option<TaskRecord> {
    let rec = desk.book.get_mut(task_id)?;
    let said = format!(
        "Task {} could not start: {message}",
        words::task_number(rec.task_number)
    );
    rec.end(TaskState::Failed, said, code, message);
    Some(rec.clone())
}

/// Seconds left of the task holding the arm.
fn live_eta(desk: &Desk) -> f64 {
    desk.lease
        .live
        .as_ref()
        .and_then(|l| desk.book.get(&l.task_id))
        .and_then(|r| r.eta_s)
        .unwrap_or(0.0)
}

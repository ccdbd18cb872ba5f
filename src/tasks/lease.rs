//! The lease on the arm: which task holds it, what a held task waits for, a multi-step
//! task's signals, and the motion ids handed to the executor.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{oneshot, Notify};
use uuid::Uuid;

use super::requests::MotionTask;
use super::{Sequence, Step};
use crate::hal::Joints;

/// What a task starts with once it may move.
#[derive(Debug, Clone)]
pub enum Pending {
    /// One motion.
    Motion {
        /// Where it goes.
        target: Joints,
        /// At what speed.
        speed: f64,
    },
    /// A path sampled and checked before the ack (a straight line).
    Path {
        /// The path and its check.
        line: super::space::PlannedLine,
        /// Where it ends.
        target: Joints,
        /// At what speed.
        speed: f64,
    },
    /// The steps of a multi-step task, from step `from` (0-based), after `prelude`.
    Steps {
        /// The first step to run.
        from: usize,
        /// A move back to where that step starts (resume).
        prelude: Option<Step>,
    },
}

/// A motion held back until it is confirmed.
#[derive(Debug, Clone)]
pub struct Hold {
    /// What starts once confirmed.
    pub start: Pending,
    /// The speakable question.
    pub question: String,
    /// When it expires unconfirmed.
    pub deadline: Instant,
}

/// The task holding the arm.
pub(super) struct Live {
    pub(super) task_id: Uuid,
    /// The motion the executor runs (or last ran) for it.
    pub(super) motion_id: u64,
    /// "Moving to home": how the running task is spoken of.
    pub(super) doing: String,
    /// "Arrived at home.": what is said when it succeeds.
    pub(super) done: String,
    /// Set while the task awaits confirmation: what to start once confirmed.
    pub(super) hold: Option<Hold>,
    /// Where it leaves the arm, if known (the next queued task plans from there).
    pub(super) end: Option<Joints>,
    pub(super) last_journaled: Instant,
    /// A multi-step task's steps and its runner's signals.
    pub(super) seq: Option<SeqLive>,
}

/// A multi-step task's steps and the signals between its runner and the gate.
pub(super) struct SeqLive {
    pub(super) seq: Arc<Sequence>,
    /// Cancel or stop was called: no further step starts.
    pub(super) halted: bool,
    /// The runner waits on the current motion's end (true: it succeeded).
    pub(super) waiter: Option<oneshot::Sender<bool>>,
    /// Wakes a runner that waits (a `wait` step) when the task is halted.
    pub(super) wake: Arc<Notify>,
}

impl SeqLive {
    pub(super) fn new(seq: Arc<Sequence>) -> Self {
        Self {
            seq,
            halted: false,
            waiter: None,
            wake: Arc::new(Notify::new()),
        }
    }

    /// No further step starts, and a waiting step ends.
    pub(super) fn halt(&mut self) {
        self.halted = true;
        self.wake.notify_one();
    }
}

/// A task waiting in line for the arm.
pub(super) struct Queued {
    pub(super) task_id: Uuid,
    /// What it does once it starts (planned again from where the arm is then).
    pub(super) task: MotionTask,
    /// Its planned seconds, from where the task before it ends.
    pub(super) eta_s: f64,
    /// Where it leaves the arm, if it moves.
    pub(super) end: Option<Joints>,
}

/// The arm's lease, the line of tasks waiting for it, and the motion ids.
pub(super) struct Lease {
    pub(super) live: Option<Live>,
    /// FIFO: the head starts when the live task ends.
    pub(super) queue: std::collections::VecDeque<Queued>,
    next_motion: u64,
}

impl Lease {
    /// Nobody holds the arm; the first motion id is 1.
    pub(super) fn new() -> Self {
        Self {
            live: None,
            queue: Default::default(),
            next_motion: 1,
        }
    }

    /// A fresh motion id (they only grow).
    pub(super) fn next_id(&mut self) -> u64 {
        let id = self.next_motion;
        self.next_motion += 1;
        id
    }

    /// The highest motion id handed out: a stop fenced here covers every motion there is.
    pub(super) fn fence(&self) -> u64 {
        self.next_motion - 1
    }

    /// The live task, if it is `task_id`.
    pub(super) fn holding(&mut self, task_id: &Uuid) -> Option<&mut Live> {
        self.live.as_mut().filter(|l| l.task_id == *task_id)
    }
}

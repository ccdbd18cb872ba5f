//! What one asks of the motion gate and what it answers: the task to start, its
//! confirmation rule, and the gate's refusals.

use serde_json::Value;
use uuid::Uuid;

use super::arm::NotReady;
use super::registry::Busy;
use super::words::{self, Question, Reach};
use super::{Step, TaskRecord};

/// When a motion must be confirmed before it moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Confirm {
    /// Never.
    Never,
    /// Always.
    Always,
    /// When a joint travels more than `rad`, or the speed exceeds `speed`.
    Beyond {
        /// Largest joint travel allowed unconfirmed (rad).
        rad: f64,
        /// Highest speed allowed unconfirmed (fraction).
        speed: f64,
    },
}

impl Confirm {
    /// Whether a motion reaching `reach` must be confirmed.
    pub(super) fn applies(self, reach: &Reach) -> bool {
        match self {
            Confirm::Never => false,
            Confirm::Always => true,
            Confirm::Beyond { rad, speed } => reach.travel > rad || reach.speed > speed,
        }
    }
}

/// What a foreground task does.
#[derive(Debug, Clone)]
pub enum Work {
    /// One joint move (target already checked against the limits, speed capped).
    Move {
        /// Joint positions (rad).
        target: Vec<f64>,
        /// Fraction of the robot's limits.
        speed: f64,
    },
    /// Several steps (each checked and capped).
    Steps(Vec<Step>),
    /// A straight TCP line, planned and checked against the cell from where the arm is
    /// when the task takes the arm.
    Line {
        /// Where the line goes.
        to: LineTarget,
        /// Fraction of the limits (the TCP cap and the joints' own).
        speed: f64,
    },
}

/// The end of a straight line.
#[derive(Debug, Clone, Copy)]
pub enum LineTarget {
    /// A pose in the base frame.
    Pose(crate::robot::TcpPose),
    /// An offset from the TCP's pose where the line starts.
    Relative(crate::robot::linear::RelativeMove),
}

/// A foreground task to start.
#[derive(Debug, Clone)]
pub struct MotionTask {
    /// The action (tool).
    pub action: String,
    /// Its parameters, as given.
    pub params: Value,
    /// Who starts it.
    pub owner: String,
    /// "Moving to home".
    pub doing: String,
    /// "Arrived at home.".
    pub done: String,
    /// What it does.
    pub work: Work,
    /// Its confirmation rule.
    pub confirm: Confirm,
    /// What its confirmation asks.
    pub question: Question,
    /// Now (refused while the arm is busy), or after the motions already asked for.
    pub when: When,
}

/// When a foreground task starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    /// At once; refused while the arm is busy.
    #[default]
    Now,
    /// After the task holding the arm and those already queued.
    After,
}

/// An interrupted multi-step task to take up again.
#[derive(Debug, Clone)]
pub struct Resume {
    /// Its steps, expanded again (the caller checked they match the record's digest).
    pub steps: Vec<Step>,
    /// The action's title, for the question.
    pub title: String,
    /// "Picking slot 3".
    pub doing: String,
    /// "Placed the part.".
    pub done: String,
    /// The confirmation rule for resuming.
    pub confirm: Confirm,
}

/// A task the gate took on.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// Its record as journaled.
    pub record: TaskRecord,
    /// Planned seconds.
    pub eta_s: f64,
    /// Its step count (1 for a single move).
    pub steps: usize,
    /// Whether it waits for a confirmation.
    pub held: bool,
    /// A resume: the step it continues at (1-based), and whether it first moves back.
    pub resumed_at: Option<(usize, bool)>,
    /// A queued task: its place in line (2 = next after the running one) and the
    /// seconds until it starts.
    pub queued: Option<(usize, f64)>,
    /// A straight line: its sampled path and what the cell's check found.
    pub line: Option<super::space::PlannedLine>,
}

/// What `stop` did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stopped {
    /// The task that held the arm and brakes to its end (acknowledged, maybe not yet moving).
    pub braking: Option<Uuid>,
    /// The arm was moving for no task (already braking).
    pub moving: bool,
    /// A task that waited for its confirmation and was dropped; the arm did not move for it.
    pub dropped: Option<Uuid>,
    /// Queued tasks that were dropped; none of them will start.
    pub queue_dropped: Vec<Uuid>,
}

impl Stopped {
    /// Whether stop found nothing to do.
    pub fn nothing(&self) -> bool {
        self.braking.is_none()
            && !self.moving
            && self.dropped.is_none()
            && self.queue_dropped.is_empty()
    }
}

/// What `cancel` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Cancelled {
    /// The arm brakes; the task ends cancelled.
    Braking,
    /// It waited for confirmation, or in the queue, and was dropped; the arm did not move.
    Dropped,
}

/// Why the gate refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GateError {
    /// The arm may not move now.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// Another task holds the arm.
    #[error("{}", words::busy(.0.task_number, &.0.action, .0.progress))]
    Busy(Busy),
    /// The queue holds as many motions as it may.
    #[error("{}", words::queue_full(*.0))]
    QueueFull(usize),
    /// The task's record could not be written, so it was not taken on.
    #[error("{}", words::cannot_record(.0, "Nothing moved"))]
    Durability(String),
    /// A move slower than the configured minimum speed.
    #[error("{}", words::too_slow(what, *.speed, *.min))]
    TooSlow {
        /// "The move", "Step 2".
        what: String,
        /// The speed asked (fraction).
        speed: f64,
        /// The configured minimum (fraction).
        min: f64,
    },
    /// A move that would take longer than the configured longest motion.
    #[error("{}", words::too_long(what, *.seconds, *.limit))]
    TooLong {
        /// "The move", "Step 2".
        what: String,
        /// Its planned seconds.
        seconds: f64,
        /// The configured longest motion (s).
        limit: f64,
    },
    /// The motion thread did not take the request.
    #[error("{0}")]
    Executor(String),
    /// The path breaks a check of the cell (zones, reach, limits, singularity, flip).
    #[error("{0}")]
    Cell(crate::cell::Refusal),
    /// The backend runs its own trajectories, so it cannot follow a sampled line.
    #[error("{}", words::no_lines(.0))]
    NoLines(&'static str),
    /// An interrupted straight line is not continued: the tool is no longer on it.
    #[error("{0}")]
    OffTheLine(String),
    /// The confirmation came after the deadline; the task was dropped.
    #[error("{}", words::expired(.0))]
    Expired(String),
    /// The task does not wait for a confirmation.
    #[error("{}", words::not_in_state(.0, .1, &format!("there is nothing to {}", .2)))]
    NotAwaiting(String, &'static str, &'static str),
    /// The task does not hold the arm.
    #[error("{}", words::not_in_state(.0, .1, "there is nothing to cancel"))]
    NotRunning(String, &'static str),
    /// The task is not interrupted.
    #[error("{}", words::not_in_state(.0, .1, "only an interrupted task can be resumed"))]
    NotInterrupted(String, &'static str),
}

impl GateError {
    /// A stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotReady(n) => n.code(),
            Self::Busy(_) => "busy",
            Self::QueueFull(_) => "queue_full",
            Self::Durability(_) => "durability",
            Self::TooSlow { .. } => "out_of_range",
            Self::TooLong { .. } => "too_long",
            Self::Executor(_) => "executor",
            Self::Cell(r) => r.code(),
            Self::NoLines(_) => "not_supported",
            Self::OffTheLine(_) => "off_the_line",
            Self::Expired(_) => "confirmation_expired",
            Self::NotAwaiting(..) => "not_awaiting_confirmation",
            Self::NotRunning(..) => "not_running",
            Self::NotInterrupted(..) => "not_interrupted",
        }
    }
}

//! The words: every sentence a tool's `text` carries, built from typed values, so that a
//! duration or a fraction is always said the same way and every sentence keeps the speech
//! contract (docs/voice.md): one breath, no identifiers, rounded numbers with units in words,
//! no symbols. Exact figures go into `structuredContent`, never here.
//!
//! Each family of sentences is a trait whose default methods are the English words. A
//! language is one type implementing the families (`English` takes every default); a second
//! language is one file overriding them, chosen in [`lang`].

mod numbers;
mod refusals;
mod state;
mod tasks;

pub mod contract;
#[cfg(test)]
mod tests;

pub use numbers::Numbers;
pub use refusals::Refusals;
pub use state::{ArmWords, State};
pub use tasks::{Question, Reach, Tasks};

/// A sentence's first letter up; it lives in `robot::names` so that the cell, a lower
/// layer, uses the same one.
pub use crate::robot::names::capitalised;

/// Every family of sentences: what a language implements.
pub trait Language: Numbers + Tasks + State + Refusals + Sync {}

/// English: the default words of every family.
pub struct English;

impl Numbers for English {}
impl Tasks for English {}
impl State for English {}
impl Refusals for English {}
impl Language for English {}

/// The language every text is said in.
pub fn lang() -> &'static dyn Language {
    &English
}

/// A task's number as said: "12" in "Task 12" (the record's `task_number`).
pub fn task_number(n: u64) -> String {
    n.to_string()
}

/// A name as it is said: `fixture_above` → "fixture above".
pub fn spoken_name(name: &str) -> String {
    let words: Vec<&str> = name
        .split(|c: char| c == '_' || c == '-' || c == '.' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    words.join(" ")
}

/// Free functions over [`lang`], so that callers write `words::about(4.0)`.
macro_rules! said {
    ($( $(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*); )*) => {
        $( $(#[$m])* pub fn $name($($arg: $ty),*) -> String { lang().$name($($arg),*) } )*
    };
}

said! {
    /// A duration: "about 4 seconds".
    fn about(seconds: f64);
    /// A speed fraction: "25 percent".
    fn percent(fraction: f64);
    /// Any number as said: rounded, "minus" for a sign, words when absurdly large.
    fn rounded(x: f64);
    /// "1 step", "10 steps".
    fn count_steps(n: usize);
    /// "1 variable", "3 variables".
    fn count_variables(n: usize);
    /// "first", "second", … for a place in line.
    fn ordinal(place: usize);
    /// "Picking slot 3." from "Picking slot 3".
    fn sentence(s: &str);
    /// What a held motion asks before it moves.
    fn question(q: &Question, reach: &Reach, joint: &str);
    /// A held task's status: its question and its number.
    fn awaiting(question: &str, n: u64);
    /// The ack of a motion.
    fn moving(doing: &str, eta_s: f64, n: u64);
    /// The ack of a custom action.
    fn working(doing: &str, steps: usize, eta_s: f64, n: u64);
    /// The ack of a resume.
    fn resuming(n: u64, from: usize, total: usize, label: &str, back: bool, eta_s: f64);
    /// A single motion's progress.
    fn progress(doing: &str, percent_done: f64, remaining_s: f64, stopping: bool);
    /// A step's progress.
    fn step_progress(step: usize, total: usize, label: &str, percent_done: f64, stopping: bool);
    /// A step that finished.
    fn step_done(step: usize, total: usize, label: &str, percent_done: f64);
    /// How a single motion ended.
    fn motion_ended(doing: &str, done: &str, n: u64, state: super::TaskState, percent_done: f64, error: Option<&str>);
    /// How a multi-step task ended.
    fn sequence_ended(action: &str, done: &str, n: u64, state: super::TaskState, st: &super::StepsStatus, percent_done: f64, error: Option<&str>);
    /// A task dropped before it moved.
    fn dropped(n: u64, why: &str);
    /// A resume that was not confirmed.
    fn stays_interrupted(n: u64, st: &super::StepsStatus, why: &str);
    /// A task that was running when the plugin stopped, after the restart.
    fn interrupted_by_restart(n: u64, action: &str, state: &str, percent_done: f64, steps: Option<&super::StepsStatus>);
    /// Which steps are done and where a resume continues.
    fn resume_hint(st: &super::StepsStatus);
    /// The ack of a queued task.
    fn queued(doing: &str, place: usize, starts_in_s: f64, n: u64);
    /// What comes next, said when a task ends.
    fn next(doing: &str, eta_s: f64);
    /// A task's confirmation was given.
    fn confirmed(action: &str);
    /// What `cancel_task` says.
    fn cancelling(n: u64, braking: bool);
    /// What `stop` says.
    fn stopping(braking: Option<u64>, dropped: Option<u64>, moving: bool, queue_dropped: usize);
    /// The answer to a confirmation.
    fn confirm_answer(n: u64, steps: bool);
    /// The answer to a rejection.
    fn rejected(n: u64);
    /// A task's state in words: "waiting for confirmation".
    fn state_words(state: super::TaskState);
    /// The list of a caller's tasks.
    fn task_list(count: usize, latest: Option<(u64, &str, super::TaskState)>);
    /// The list of named positions.
    fn position_list(names: &[String]);
    /// Why the link to the robot is down, in words.
    fn link(e: &crate::hal::LinkError);
    /// A fault in words.
    fn fault(f: &crate::hal::Fault);
    /// A position saved.
    fn position_saved(name: &str);
    /// A `wait_input` step that ran out of time.
    fn input_timeout(input: &str, value: bool, seconds: f64);
    /// A `set_output` step the backend refused.
    fn output_not_set(output: &str, value: bool, why: &str);
    /// An interrupted straight line taken up again.
    fn continuing_line(n: u64, left_m: f64, eta_s: f64);
    /// Why an interrupted straight line is not taken up again.
    fn off_the_line(n: u64, off_m: f64, turned_rad: f64);
    /// What an interrupted straight line adds after a restart.
    fn line_resume_hint();
    /// The arm as an operator needs it: moving or not, to where, any fault, the link.
    fn arm(arm: &ArmWords);
    /// A value that breaks one of the robot's limits.
    fn limit(e: &crate::robot::LimitError, joints: &[crate::robot::JointSpec]);
    /// A pose that cannot be a target.
    fn pose(e: &crate::robot::PoseError);
    /// An unknown name of `what` (a position, an output), with some known ones.
    fn unknown_name(what: &str, given: &str, known: &[String]);
    /// An unknown name of `what`, with the names it is near.
    fn did_you_mean(what: &str, given: &str, near: &[String]);
    /// A name that is not a position.
    fn not_a_position(given: &str, holds: &str);
    /// A name that cannot be used.
    fn unusable_name(given: &str, why: &str);
    /// An observer asked for a tool that changes the cell.
    fn observer(operator: &str, tool: &str);
    /// An unknown task.
    fn unknown_task(given: &str);
    /// Something given as a task that is neither a number nor an id.
    fn not_a_task(given: &str);
    /// A start of an id that several tasks share.
    fn ambiguous_task();
    /// A joint target outside the joint's range.
    fn joint_out_of_range(joint: &str, value_rad: f64, min_rad: f64, max_rad: f64);
    /// The arm is busy with another task.
    fn busy(n: u64, action: &str, percent_done: f64);
    /// The queue is full.
    fn queue_full(limit: usize);
    /// The state directory cannot be written.
    fn cannot_record(cause: &str, outcome: &str);
    /// A move slower than the configured minimum.
    fn too_slow(what: &str, speed: f64, min: f64);
    /// A move longer than the configured longest motion.
    fn too_long(what: &str, seconds: f64, limit: f64);
    /// The backend cannot follow a straight line.
    fn no_lines(backend: &str);
    /// A held task's confirmation came too late.
    fn expired(task: &str);
    /// A task is not in the state a call needs.
    fn not_in_state(task: &str, state: &str, needs: &str);
    /// No state has arrived from the robot.
    fn no_state();
    /// The link to the robot is down.
    fn unreachable(cause: &str);
    /// The robot's state is too old.
    fn stale(age_ms: u64, limit_ms: u64);
    /// The robot reports a fault.
    fn not_moving_fault(fault: &str);
    /// The robot is in a mode that does not move.
    fn not_moving_mode(mode: &str);
}

/// Why a held or queued task was dropped, by who dropped it (English; a language that needs
/// other words says them in its `dropped`).
pub mod why {
    /// Its owner rejected it.
    pub const REJECTED: &str = "the operator rejected it; the arm did not move";
    /// Its owner cancelled it before confirming.
    pub const CANCELLED: &str = "it was cancelled before it was confirmed; the arm did not move";
    /// Stop was called while it waited.
    pub const STOPPED: &str = "stop was called; the arm did not move";
    /// Nobody confirmed it in time.
    pub const EXPIRED: &str = "it was not confirmed in time; the arm did not move";
    /// Its owner cancelled it while it waited in line.
    pub const CANCELLED_QUEUED: &str =
        "it was cancelled while waiting in line; the arm did not move";
    /// Stop was called while it waited in line.
    pub const STOPPED_QUEUED: &str = "stop was called before it started; the arm did not move";
    /// The task before it, of the same owner, failed: a sequence does not run on.
    pub const PREDECESSOR_FAILED: &str = "the task before it failed; the arm did not move for it";
    /// A stop covered its motion before the motion began.
    pub const FENCED: &str = "stop was called before it began; the arm did not move";
    /// Its record could not be written to disk, so it never began.
    pub const NOT_RECORDED: &str = "its record could not be written to disk; the arm did not move";
}

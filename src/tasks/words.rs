//! The words: every sentence a task speaks, built from typed values, so that a duration
//! or a percentage is always said the same way.

use super::StepsStatus;

/// A task's number as said: "12" in "Task 12" (the record's `task_number`).
pub fn task_number(n: u64) -> String {
    n.to_string()
}

/// A duration for speech: "about 4 seconds". Always finite and rounded, however large.
pub fn about(seconds: f64) -> String {
    if seconds.is_nan() {
        "an unknown time".into()
    } else if seconds < 1.0 {
        "under a second".into()
    } else if seconds < 1.5 {
        "about 1 second".into()
    } else if seconds < 90.0 {
        format!("about {:.0} seconds", seconds)
    } else if seconds < 90.0 * 60.0 {
        format!("about {:.0} minutes", seconds / 60.0)
    } else if seconds < 48.0 * 3600.0 {
        format!("about {:.0} hours", seconds / 3600.0)
    } else if seconds < 1000.0 * 86400.0 {
        format!("about {:.0} days", seconds / 86400.0)
    } else {
        "more than 1000 days".into()
    }
}

/// A speed fraction as a percentage: "25 %".
pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if !p.is_finite() {
        "an unknown %".into()
    } else if p > 0.0 && p < 0.5 {
        "under 1 %".into()
    } else {
        format!("{} %", crate::robot::number(p.round()))
    }
}

/// "1 step", "10 steps".
pub fn count_steps(n: usize) -> String {
    if n == 1 {
        "1 step".into()
    } else {
        format!("{n} steps")
    }
}

/// "Picking slot 3." from "Picking slot 3".
pub fn sentence(s: &str) -> String {
    let s = s.trim_end();
    if s.ends_with(['.', '!', '?']) {
        s.to_owned()
    } else {
        format!("{s}.")
    }
}

/// What a held motion asks before it moves.
#[derive(Debug, Clone)]
pub enum Question {
    /// A single move: the joint that travels furthest names it.
    Move,
    /// A custom action of several steps.
    Action {
        /// Its title.
        title: String,
    },
    /// Resuming a custom action at step `from` (1-based) of `total`.
    Resume {
        /// Its title.
        title: String,
        /// The step it resumes at (1-based).
        from: usize,
        /// Its step count.
        total: usize,
    },
}

/// How far a motion reaches, for its confirmation question.
#[derive(Debug, Clone, Copy)]
pub struct Reach {
    /// The joint that travels furthest (0-based).
    pub joint: usize,
    /// Its travel (rad).
    pub travel: f64,
    /// The highest speed asked (fraction).
    pub speed: f64,
    /// The planned seconds.
    pub eta_s: f64,
    /// The step count (1 for a single move).
    pub steps: usize,
    /// The longest single move: its step (0-based) and planned seconds.
    pub longest: (usize, f64),
    /// The slowest move: its step (0-based) and speed (infinite when nothing moves).
    pub slowest: (usize, f64),
}

/// "This moves the shoulder lift 80 degrees at 25 % speed. Confirm?"
pub fn question(q: &Question, reach: &Reach, joint_name: &str) -> String {
    let degrees = reach.travel.to_degrees();
    match q {
        Question::Move => {
            let name = joint_name.trim_end_matches("_joint").replace('_', " ");
            format!(
                "This moves the {name} {degrees:.0} degrees at {} speed. Confirm?",
                percent(reach.speed)
            )
        }
        Question::Action { title } => format!(
            "{title} runs {}, {}, moving a joint up to {degrees:.0} degrees. Confirm?",
            count_steps(reach.steps),
            about(reach.eta_s)
        ),
        Question::Resume { title, from, total } => format!(
            "Resuming {title} at step {from} of {total} moves a joint up to {degrees:.0} degrees. Confirm?"
        ),
    }
}

/// A held task's status: its question and its number.
pub fn awaiting(question: &str, n: u64) -> String {
    format!("{question} Task {}.", task_number(n))
}

/// The ack of a motion: "Moving to home, about 4 seconds. Task 12."
pub fn moving(doing: &str, eta_s: f64, n: u64) -> String {
    format!("{doing}, {}. Task {}.", about(eta_s), task_number(n))
}

/// The ack of a custom action: "Picking slot 3. 6 steps, about 9 seconds. Task 12."
pub fn working(doing: &str, steps: usize, eta_s: f64, n: u64) -> String {
    format!(
        "{} {}, {}. Task {}.",
        sentence(doing),
        count_steps(steps),
        about(eta_s),
        task_number(n)
    )
}

/// "Resuming task 12 at step 3 of 6 (placing), first back to where it starts, about 5 seconds."
pub fn resuming(n: u64, from: usize, total: usize, label: &str, back: bool, eta_s: f64) -> String {
    let back = if back {
        "; first back to where it starts"
    } else {
        ""
    };
    format!(
        "Resuming task {} at step {from} of {total} ({label}){back}, {}.",
        task_number(n),
        about(eta_s)
    )
}

/// A single motion's progress.
pub fn progress(doing: &str, percent_done: f64, remaining_s: f64, stopping: bool) -> String {
    if stopping {
        format!(
            "Stopping: {}, {percent_done:.0} % done.",
            doing.to_lowercase()
        )
    } else {
        format!(
            "{doing}: {percent_done:.0} % done, {} left.",
            about(remaining_s)
        )
    }
}

/// A step's progress: "Step 2 of 6: moving above slot 4 — 30 %."
pub fn step_progress(
    step: usize,
    total: usize,
    label: &str,
    percent_done: f64,
    stopping: bool,
) -> String {
    format!(
        "{}Step {step} of {total}: {label} — {percent_done:.0} %.",
        if stopping { "Stopping at " } else { "" }
    )
}

/// "Step 2 of 6 done: moving above slot 4 — 40 %."
pub fn step_done(step: usize, total: usize, label: &str, percent_done: f64) -> String {
    format!("Step {step} of {total} done: {label} — {percent_done:.0} %.")
}

/// How a single motion ended.
pub fn motion_ended(
    doing: &str,
    done: &str,
    n: u64,
    state: super::TaskState,
    percent_done: f64,
    error: Option<&str>,
) -> String {
    use super::TaskState::*;
    match (state, error) {
        (Succeeded, _) => format!("{done} Task {} succeeded.", task_number(n)),
        (Cancelled, Some(e)) => dropped(n, e),
        (Cancelled, None) => format!(
            "Stopped: {} was cancelled at {percent_done:.0} %. The arm is standing still.",
            doing.to_lowercase()
        ),
        (_, Some(e)) => format!("{doing} failed at {percent_done:.0} %: {e}."),
        (_, None) => format!("{doing} ended: {}.", state.as_str()),
    }
}

/// How a multi-step task ended, at step `at` (1-based).
pub fn sequence_ended(
    action: &str,
    done: &str,
    n: u64,
    state: super::TaskState,
    st: &StepsStatus,
    percent_done: f64,
    error: Option<&str>,
) -> String {
    use super::TaskState::*;
    let at = (st.done + 1).min(st.total);
    match (state, error) {
        (Succeeded, _) => format!("{done} Task {} succeeded.", task_number(n)),
        (Cancelled, _) => format!(
            "Stopped at step {at} of {} ({}): {action} was cancelled at {percent_done:.0} %. The arm is standing still.",
            st.total, st.label
        ),
        (_, Some(e)) => format!(
            "{} at step {at} of {} ({}): {e}. {}",
            if state == Interrupted {
                "Interrupted"
            } else {
                "Failed"
            },
            st.total,
            st.label,
            resume_hint(st)
        ),
        (_, None) => format!("Task {} ended: {}.", task_number(n), state.as_str()),
    }
}

/// A `wait_input` step that ran out of time: "part present did not turn on within about 5
/// seconds".
pub fn input_timeout(input: &str, value: bool, seconds: f64) -> String {
    let turn = if value { "on" } else { "off" };
    format!("{input} did not turn {turn} within {}", about(seconds))
}

/// A `set_output` step the backend refused: "the conveyor could not be turned on: …".
pub fn output_not_set(output: &str, value: bool, why: &str) -> String {
    let turn = if value { "on" } else { "off" };
    format!("{output} could not be turned {turn}: {why}")
}

/// A task dropped before it moved: "Task 12 was dropped: it was rejected; the arm did not move."
pub fn dropped(n: u64, why: &str) -> String {
    format!("Task {} was dropped: {why}.", task_number(n))
}

/// A resume that was not confirmed leaves the task interrupted.
pub fn stays_interrupted(n: u64, st: &StepsStatus, why: &str) -> String {
    format!(
        "Task {} stays interrupted at step {} of {}: {why}. resume_task again when ready.",
        task_number(n),
        (st.done + 1).min(st.total),
        st.total
    )
}

/// What a task that was running when the plugin stopped says after the restart.
pub fn interrupted_by_restart(
    n: u64,
    action: &str,
    state: &str,
    percent_done: f64,
    steps: Option<&StepsStatus>,
) -> String {
    match steps {
        Some(st) => format!(
            "Armature stopped while task {} ({action}) was at step {} of {} ({}), {percent_done:.0} %. {} The arm will not move again by itself.",
            task_number(n),
            (st.done + 1).min(st.total),
            st.total,
            st.label,
            resume_hint(st)
        ),
        None => format!(
            "Armature stopped while task {} ({action}) was {state} at {percent_done:.0} %. The arm will not move again by itself.",
            task_number(n)
        ),
    }
}

/// "Steps 1–3 are done; resume_task continues from step 4."
pub fn resume_hint(st: &StepsStatus) -> String {
    let next = (st.done + 1).min(st.total);
    match st.done {
        0 => format!("No step was finished; resume_task starts it again from step {next}."),
        1 => format!("Step 1 is done; resume_task continues from step {next}."),
        d => format!("Steps 1–{d} are done; resume_task continues from step {next}."),
    }
}

/// "second", "third", … for a place in line (2 = next after the running task).
pub fn ordinal(place: usize) -> String {
    const WORDS: [&str; 11] = [
        "first", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
        "ninth", "tenth",
    ];
    WORDS
        .get(place)
        .map_or_else(|| format!("number {place}"), |w| (*w).to_owned())
}

/// The ack of a queued task: "Moving to home, second in line, starts in about 9 seconds. Task 12."
pub fn queued(doing: &str, place: usize, starts_in_s: f64, n: u64) -> String {
    format!(
        "{doing}, {} in line, starts in {}. Task {}.",
        ordinal(place),
        about(starts_in_s),
        task_number(n)
    )
}

/// What comes next, said when a task ends: "Next: moving to slot 4, about 6 seconds."
pub fn next(doing: &str, eta_s: f64) -> String {
    let mut doing = doing.to_owned();
    if let Some(first) = doing.get(..1) {
        doing.replace_range(..1, &first.to_lowercase());
    }
    format!("Next: {doing}, {}.", about(eta_s))
}

/// A task's confirmation was given: "Confirmed: move_joints."
pub fn confirmed(action: &str) -> String {
    format!("Confirmed: {action}.")
}

/// Why a held task was dropped, by who dropped it.
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
        "it was cancelled while waiting in line; the arm did not move for it";
    /// Stop was called while it waited in line.
    pub const STOPPED_QUEUED: &str =
        "stop was called before it started; the arm did not move for it";
    /// The task before it, of the same owner, failed: a sequence does not run on.
    pub const PREDECESSOR_FAILED: &str =
        "the task before it failed, so it did not start; the arm did not move for it";
    /// A stop covered its motion before the motion began.
    pub const FENCED: &str = "stop was called before it began; the arm did not move";
}

/// An interrupted straight line taken up again from where the tool stands on it.
pub fn continuing_line(n: u64, left_m: f64, eta_s: f64) -> String {
    format!(
        "Continuing task {} along its straight line from where the tool stopped, {} to go, {}.",
        task_number(n),
        crate::cell::words::distance(left_m),
        about(eta_s)
    )
}

/// Why an interrupted straight line is not taken up again: the tool is off it.
pub fn off_the_line(n: u64, off_m: f64, turned_rad: f64) -> String {
    let turned = if turned_rad > super::resume_line::TURN_TOLERANCE {
        format!(
            " and turned {} from it",
            crate::cell::words::degrees(turned_rad)
        )
    } else {
        String::new()
    };
    format!(
        "Task {} stays interrupted: the tool is {} off its straight line{turned}, and a line is only continued from on it. Nothing moved. Bring the tool back onto the line, or start a new move.",
        task_number(n),
        crate::cell::words::distance(off_m),
    )
}

/// What an interrupted straight line adds after a restart.
pub fn line_resume_hint() -> &'static str {
    "Resuming it continues along the same straight line while the tool is still on it; a relative move started again would go its whole distance from where the arm is now."
}

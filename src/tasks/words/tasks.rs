//! What a task says: its ack, its question, its progress and how it ended.

use super::{spoken_name, task_number, Numbers};
use crate::tasks::{StepsStatus, TaskState};

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

/// Why a motion failed, for the ear: its first clause, without the figures in parentheses
/// (the whole message stays in the record's `error`).
fn cause(e: &str) -> String {
    // "the trajectory controller failed the goal: NAME (code): text" says its cause first.
    let first = e.split([';', ':']).next().unwrap_or(e);
    let mut out = String::new();
    let mut depth = 0usize;
    for c in first.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end_matches(['.', ':'])
        .to_owned()
}

/// "moving to home" from "Moving to home".
fn lower_first(s: &str) -> String {
    let mut s = s.to_owned();
    if let Some(first) = s.get(..1) {
        s.replace_range(..1, &first.to_lowercase());
    }
    s
}

/// What tasks say.
pub trait Tasks: Numbers {
    /// "This moves the shoulder lift 80 degrees at 25 percent speed. Confirm?" `joint` is
    /// the joint's spoken label.
    fn question(&self, q: &Question, reach: &Reach, joint: &str) -> String {
        let degrees = self.degrees(reach.travel);
        match q {
            // The speed, the steps and the time are in the structured part: a question with
            // its task number is one breath only when it says just how far.
            Question::Move => format!("This turns the {joint} {degrees}. Confirm?"),
            // The caller just named the action: the question says what it does to the arm.
            Question::Action { title } => {
                let _ = title;
                format!("This moves a joint up to {degrees}. Confirm?")
            }
            Question::Resume { title, from, total } => {
                let _ = (title, total);
                format!("Resuming at step {from} moves a joint up to {degrees}. Confirm?")
            }
        }
    }

    /// A held task's status: its question and its number.
    fn awaiting(&self, question: &str, n: u64) -> String {
        format!("{question} Task {}.", task_number(n))
    }

    /// The ack of a motion: "Moving to home, about 4 seconds. Task 3f2a."
    fn moving(&self, doing: &str, eta_s: f64, n: u64) -> String {
        format!("{doing}, {}. Task {}.", self.about(eta_s), task_number(n))
    }

    /// The ack of a custom action: "Picking slot 3. 6 steps, about 9 seconds. Task 3f2a."
    fn working(&self, doing: &str, steps: usize, eta_s: f64, n: u64) -> String {
        // An action's own words can be long: its steps and time are in the structured part.
        let _ = (steps, eta_s);
        format!("{} Task {}.", self.sentence(doing), task_number(n))
    }

    /// "Resuming task 3f2a at step 3 of 6, placing, back to its start first, about 5 seconds."
    fn resuming(
        &self,
        n: u64,
        from: usize,
        total: usize,
        label: &str,
        back: bool,
        eta_s: f64,
    ) -> String {
        let back = if back {
            ", back to its start first"
        } else {
            ""
        };
        let _ = (label, total);
        format!(
            "Resuming task {} at step {from}{back}, {}.",
            task_number(n),
            self.about(eta_s)
        )
    }

    /// A single motion's progress: "Moving to home, 40 percent done, about 2 seconds left."
    fn progress(&self, doing: &str, percent_done: f64, remaining_s: f64, stopping: bool) -> String {
        let done = self.percent(percent_done / 100.0);
        if stopping {
            format!("Stopping {}, {done} done.", lower_first(doing))
        } else {
            format!("{doing}, {done} done, {} left.", self.about(remaining_s))
        }
    }

    /// A step's progress: "Step 2 of 6, moving above slot 4, 30 percent done."
    fn step_progress(
        &self,
        step: usize,
        total: usize,
        label: &str,
        percent_done: f64,
        stopping: bool,
    ) -> String {
        format!(
            "{}tep {step} of {total}, {}, {} done.",
            if stopping { "Stopping at s" } else { "S" },
            lower_first(label),
            self.percent(percent_done / 100.0)
        )
    }

    /// "Step 2 of 6 done, moving above slot 4, 40 percent in all."
    fn step_done(&self, step: usize, total: usize, label: &str, percent_done: f64) -> String {
        format!(
            "Step {step} of {total} done, {}, {} in all.",
            lower_first(label),
            self.percent(percent_done / 100.0)
        )
    }

    /// How a single motion ended.
    fn motion_ended(
        &self,
        doing: &str,
        done: &str,
        n: u64,
        state: TaskState,
        percent_done: f64,
        error: Option<&str>,
    ) -> String {
        use TaskState::*;
        // Whole percent: how far a stopped motion got needs no decimal.
        let at = self.percent(percent_done.round() / 100.0);
        match (state, error) {
            (Succeeded, _) => format!("{done} Task {} succeeded.", task_number(n)),
            (Cancelled, Some(e)) => self.dropped(n, e),
            (Cancelled, None) => format!(
                "Stopped {} at {at}. The arm is standing still.",
                lower_first(doing)
            ),
            (_, Some(e)) => {
                let _ = doing;
                format!("Failed at {at}: {}.", self.figures(&cause(e)))
            }
            (_, None) => format!("{doing} ended, {}.", self.state_words(state)),
        }
    }

    /// How a multi-step task ended, at step `at` (1-based).
    #[allow(clippy::too_many_arguments)]
    fn sequence_ended(
        &self,
        action: &str,
        done: &str,
        n: u64,
        state: TaskState,
        st: &StepsStatus,
        percent_done: f64,
        error: Option<&str>,
    ) -> String {
        use TaskState::*;
        let at = (st.done + 1).min(st.total);
        match (state, error) {
            (Succeeded, _) => format!("{done} Task {} succeeded.", task_number(n)),
            (Cancelled, _) => format!(
                "Stopped {} at step {at} of {}, {} done. The arm is standing still.",
                spoken_name(action),
                st.total,
                self.percent(percent_done / 100.0)
            ),
            (_, Some(e)) => format!(
                "{} at step {at} of {}: {}. {}",
                if state == Interrupted {
                    "Interrupted"
                } else {
                    "Failed"
                },
                st.total,
                self.figures(&cause(e)),
                self.resume_hint(st)
            ),
            (_, None) => format!("Task {} {}.", task_number(n), self.state_words(state)),
        }
    }

    /// A task dropped before it moved: "Task 3f2a was dropped: stop was called; the arm did not move."
    fn dropped(&self, n: u64, why: &str) -> String {
        format!("Task {} was dropped: {why}.", task_number(n))
    }

    /// A resume that was not confirmed leaves the task interrupted.
    fn stays_interrupted(&self, n: u64, st: &StepsStatus, why: &str) -> String {
        format!(
            "Task {} stays interrupted at step {}: {why}.",
            task_number(n),
            (st.done + 1).min(st.total),
        )
    }

    /// What a task that was running when the plugin stopped says after the restart.
    fn interrupted_by_restart(
        &self,
        n: u64,
        action: &str,
        state: &str,
        percent_done: f64,
        steps: Option<&StepsStatus>,
    ) -> String {
        let _ = (action, percent_done);
        match steps {
            Some(st) => format!(
                "Armature restarted during task {}, at step {} of {}. {}",
                task_number(n),
                (st.done + 1).min(st.total),
                st.total,
                self.resume_hint(st)
            ),
            None if state == "queued" => format!(
                "Armature restarted while task {} waited in line. It will not start by itself.",
                task_number(n)
            ),
            None => format!(
                "Armature restarted during task {}. The arm will not move again by itself.",
                task_number(n)
            ),
        }
    }

    /// "Resume it to continue." The step was just said; the hint says what to do.
    fn resume_hint(&self, st: &StepsStatus) -> String {
        if st.done == 0 {
            "Resume it to start again.".into()
        } else {
            "Resume it to continue.".into()
        }
    }

    /// The ack of a queued task: "Moving to home, second in line, starts in about 9 seconds. Task 3f2a."
    fn queued(&self, doing: &str, place: usize, starts_in_s: f64, n: u64) -> String {
        format!(
            "{doing}, {} in line, starts in {}. Task {}.",
            self.ordinal(place),
            self.about(starts_in_s),
            task_number(n)
        )
    }

    /// What comes next, said when a task ends: "Next: moving to slot 4." Its time is in the
    /// structured part; the sentence it follows already took most of the breath.
    fn next(&self, doing: &str, eta_s: f64) -> String {
        let _ = eta_s;
        format!("Next: {}.", lower_first(doing))
    }

    /// A task's confirmation was given: "Confirmed, move joints."
    fn confirmed(&self, action: &str) -> String {
        format!("Confirmed, {}.", spoken_name(action))
    }

    /// What `cancel_task` says: the arm brakes, or the task waited and was dropped.
    fn cancelling(&self, n: u64, braking: bool) -> String {
        if braking {
            format!(
                "Stopping task {}; the arm is braking to a standstill.",
                task_number(n)
            )
        } else {
            format!(
                "Cancelled. Task {} was dropped; the arm did not move.",
                task_number(n)
            )
        }
    }

    /// What `stop` says: what brakes or was dropped, and how many queued tasks went.
    fn stopping(
        &self,
        braking: Option<u64>,
        dropped: Option<u64>,
        moving: bool,
        queue_dropped: usize,
    ) -> String {
        let mut text = match (braking, dropped) {
            (Some(n), _) => format!(
                "Stopping the arm. Task {} will end cancelled.",
                task_number(n)
            ),
            (None, Some(n)) => format!(
                "Stopped. Task {} waited for confirmation and was dropped; the arm did not move.",
                task_number(n)
            ),
            (None, None) if moving => "Stopping the arm.".to_owned(),
            (None, None) => "Nothing is moving.".to_owned(),
        };
        match queue_dropped {
            0 => {}
            1 => text.push_str(" The queued task was dropped."),
            many => text.push_str(&format!(" The {many} queued tasks were dropped.")),
        }
        text
    }

    /// The answer to a confirmation: "Confirmed. Task 3f2a is moving."
    fn confirm_answer(&self, n: u64, steps: bool) -> String {
        let doing = if steps { "running" } else { "moving" };
        format!("Confirmed. Task {} is {doing}.", task_number(n))
    }

    /// The answer to a rejection.
    fn rejected(&self, n: u64) -> String {
        format!(
            "Rejected. Task {} was dropped; the arm did not move.",
            task_number(n)
        )
    }

    /// A task's state in words.
    fn state_words(&self, state: TaskState) -> String {
        match state {
            TaskState::AwaitingConfirmation => "waiting for confirmation",
            TaskState::Queued => "waiting in line",
            TaskState::Running => "running",
            TaskState::Succeeded => "succeeded",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
            TaskState::Interrupted => "interrupted",
        }
        .into()
    }

    /// "3 tasks; the latest, task 3f2a, move to, succeeded." or "1 task, …".
    fn task_list(&self, count: usize, latest: Option<(u64, &str, TaskState)>) -> String {
        match latest {
            None => "There are no tasks yet.".into(),
            Some((n, action, state)) => {
                let what = format!(
                    "task {}, {}, {}",
                    task_number(n),
                    spoken_name(action),
                    self.state_words(state)
                );
                if count == 1 {
                    format!("1 task: {what}.")
                } else {
                    format!("{count} tasks; the latest is {what}.")
                }
            }
        }
    }

    /// A `wait_input` step that ran out of time: "part present did not turn on within about
    /// 5 seconds".
    fn input_timeout(&self, input: &str, value: bool, seconds: f64) -> String {
        let turn = if value { "on" } else { "off" };
        format!("{input} did not turn {turn} within {}", self.about(seconds))
    }

    /// A `set_output` step the backend refused: "the conveyor could not be turned on: …".
    fn output_not_set(&self, output: &str, value: bool, why: &str) -> String {
        let turn = if value { "on" } else { "off" };
        format!("{output} could not be turned {turn}: {why}")
    }

    /// An interrupted straight line taken up again from where the tool stands on it.
    fn continuing_line(&self, n: u64, left_m: f64, eta_s: f64) -> String {
        format!(
            "Continuing task {} along its straight line, {} to go, {}.",
            task_number(n),
            crate::cell::words::distance(left_m),
            self.about(eta_s)
        )
    }

    /// Why an interrupted straight line is not taken up again: the tool is off it, or
    /// turned from it.
    fn off_the_line(&self, n: u64, off_m: f64, turned_rad: f64) -> String {
        let how = if off_m > crate::tasks::resume_line::LINE_TOLERANCE {
            format!("{} off", crate::cell::words::distance(off_m))
        } else {
            format!("turned {} from", crate::cell::words::degrees(turned_rad))
        };
        format!(
            "Task {} stays interrupted: the tool is {how} its straight line. Nothing moved.",
            task_number(n)
        )
    }

    /// What an interrupted straight line adds after a restart.
    fn line_resume_hint(&self) -> String {
        "Resume it to go on along the same line.".into()
    }
}

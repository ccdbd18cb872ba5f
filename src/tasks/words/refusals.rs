//! Refusals: why nothing moved, naming the bad value and the limit in words.

use super::Numbers;
use crate::robot::{JointSpec, LimitError, PoseError};

/// A name or id a caller gave, as it can be said: its words when it is short and plain,
/// else nothing (a UUID, a pasted paragraph).
fn spoken_given(given: &str) -> Option<String> {
    let plain = given
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | ' ' | '-' | '.'));
    let said = super::spoken_name(given);
    let digits = given.chars().filter(char::is_ascii_digit).count();
    let id_like = given.len() > 8 && digits > 2;
    let short = said.split_whitespace().count() <= 4 && said.len() <= 32;
    (plain && !said.is_empty() && short && !id_like).then_some(said)
}

/// What refusals say.
pub trait Refusals: Numbers {
    /// "The elbow stops at 180 degrees, not 229. Nothing moved." Numbers are long to say, so
    /// only the bound that was passed is named, and thousands are said as such.
    fn joint_out_of_range(
        &self,
        joint: &str,
        value_rad: f64,
        min_rad: f64,
        max_rad: f64,
    ) -> String {
        let bound = if value_rad > max_rad {
            max_rad
        } else {
            min_rad
        };
        let value = value_rad.to_degrees().round();
        let value = if value.abs() >= 1000.0 && value.abs() < 1e9 {
            let sign = if value < 0.0 { "minus " } else { "" };
            format!("{sign}over {} thousand", (value.abs() / 1000.0).floor())
        } else {
            self.rounded(value)
        };
        format!(
            "The {joint} stops at {}, not {value}. Nothing moved.",
            self.degrees(bound)
        )
    }

    /// A value that breaks one of the robot's limits; `joints` give the joints' labels.
    fn limit(&self, e: &LimitError, joints: &[JointSpec]) -> String {
        let label = |index: usize, name: &str| {
            joints
                .get(index.wrapping_sub(1))
                .map(JointSpec::spoken)
                .unwrap_or_else(|| crate::cell::words::joint_label(name))
        };
        match e {
            LimitError::WrongCount { given, expected } => format!(
                "That gives {given} joint values; the robot has {expected} joints. Nothing moved."
            ),
            LimitError::NotFinite { index, name, .. } => format!(
                "The {} needs a number, and that value is not one. Nothing moved.",
                label(*index, name)
            ),
            LimitError::OutOfRange {
                index,
                name,
                value,
                min,
                max,
            } => self.joint_out_of_range(&label(*index, name), *value, *min, *max),
            LimitError::TooFast {
                index,
                name,
                value,
                limit,
            } => format!(
                "The {} would turn {} a second, over its limit of {}. Nothing moved.",
                label(*index, name),
                self.degrees(*value),
                self.degrees(*limit)
            ),
            LimitError::Speed { value } => format!(
                "Speed must be above 0 and at most 1; {} is not. Nothing moved.",
                self.rounded(*value)
            ),
        }
    }

    /// "The arm is busy with task 3f2a, move to. Wait for it or stop it first." How far
    /// it is stays in the structured part.
    fn busy(&self, n: u64, action: &str, percent_done: f64) -> String {
        let _ = percent_done;
        format!(
            "The arm is busy with task {}, {}. Wait for it or stop it first.",
            super::task_number(n),
            super::spoken_name(action),
        )
    }

    /// A pose that cannot be a target, in words.
    fn pose(&self, e: &PoseError) -> String {
        // The cell says it too (a lower layer), so the sentence lives there.
        format!("{}. Nothing moved.", crate::cell::words::pose_error(e))
    }

    /// "There is no position named kitchen. Some are fixture above, home and ready."
    fn unknown_name(&self, what: &str, given: &str, known: &[String]) -> String {
        let said: Vec<String> = known
            .iter()
            .take(3)
            .map(|k| super::spoken_name(k))
            .collect();
        let list = match said.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., last] => format!("{} and {last}", init.join(", ")),
        };
        let known = match (said.is_empty(), known.len() > said.len()) {
            (true, _) => format!(" There are no {what}s."),
            (false, false) => format!(" Known ones are {list}."),
            (false, true) => format!(" Some are {list}."),
        };
        match spoken_given(given) {
            Some(name) => format!("There is no {what} named {name}.{known}"),
            None => format!("There is no {what} by that name.{known}"),
        }
    }

    /// "There is no output named green lmap. Did you mean green lamp?"
    fn did_you_mean(&self, what: &str, given: &str, near: &[String]) -> String {
        let near: Vec<String> = near.iter().map(|n| super::spoken_name(n)).collect();
        let name =
            spoken_given(given).map_or_else(|| "by that name".into(), |n| format!("named {n}"));
        format!(
            "There is no {what} {name}. Did you mean {}?",
            near.join(" or ")
        )
    }

    /// "Parts placed holds a number, not a position. Nothing moved."
    fn not_a_position(&self, given: &str, holds: &str) -> String {
        match spoken_given(given) {
            Some(name) => {
                format!("The variable {name} holds {holds}, not a position. Nothing moved.")
            }
            None => format!("That variable holds {holds}, not a position. Nothing moved."),
        }
    }

    /// "That is not a usable name: it must start with a letter."
    fn unusable_name(&self, given: &str, why: &str) -> String {
        let name = spoken_given(given).unwrap_or_else(|| "That".into());
        format!("{name} is not a usable name: {why}.")
    }

    /// "There is no task 3f2a."
    fn unknown_task(&self, given: &str) -> String {
        match spoken_given(given) {
            Some(task) => format!("There is no task {task}."),
            None => "There is no such task.".into(),
        }
    }

    /// "carol is an observer: it may read status and stop, not call save position."
    fn observer(&self, operator: &str, tool: &str) -> String {
        let who = spoken_given(operator).unwrap_or_else(|| "This operator".into());
        format!(
            "{who} is an observer: it may read status and stop, not call {}.",
            super::spoken_name(tool)
        )
    }

    /// "The text xyz is not a task: give its number, as in task 12."
    fn not_a_task(&self, given: &str) -> String {
        match spoken_given(given) {
            Some(said) => format!("The text {said} is not a task: give its number, as in task 12."),
            None => "That text is not a task: give its number, as in task 12.".into(),
        }
    }

    /// Several of the caller's tasks start with the characters given.
    fn ambiguous_task(&self) -> String {
        "Several of your tasks start with those characters: give the task's number.".into()
    }

    /// "The queue is full with 8 motions waiting. Wait for one to start, or stop."
    fn queue_full(&self, limit: usize) -> String {
        format!("The queue is full with {limit} motions waiting. Wait for one to start, or stop.")
    }

    /// "The state directory cannot be written: no space left on device. Nothing moved."
    fn cannot_record(&self, cause: &str, outcome: &str) -> String {
        let cause = cause.split(" (os error").next().unwrap_or(cause).trim();
        let mut cause = cause.to_owned();
        if let Some(first) = cause.get(..1) {
            cause.replace_range(..1, &first.to_lowercase());
        }
        format!(
            "The state directory cannot be written: {}. {}",
            cause.trim_end_matches('.'),
            self.sentence(outcome)
        )
    }

    /// "The move at 1 percent speed is slower than the least allowed, 5 percent. Nothing moved."
    fn too_slow(&self, what: &str, speed: f64, min: f64) -> String {
        format!(
            "{what} at {} speed is slower than the least allowed, {}. Nothing moved.",
            self.percent(speed),
            self.percent(min)
        )
    }

    /// "The move would take about 20 minutes; the longest allowed is about 2 minutes. Nothing moved."
    fn too_long(&self, what: &str, seconds: f64, limit: f64) -> String {
        format!(
            "{what} would take {}; the longest allowed is {}. Nothing moved.",
            self.about(seconds),
            self.about(limit)
        )
    }

    /// The backend runs its own trajectories.
    fn no_lines(&self, backend: &str) -> String {
        format!(
            "Straight lines on the {} backend need six joints and a pose within 3.2 metres. Nothing moved.",
            super::spoken_name(backend)
        )
    }

    /// "Task 3f2a expired before it was confirmed; the arm did not move. Ask again."
    fn expired(&self, task: &str) -> String {
        format!("Task {task} expired before it was confirmed; the arm did not move. Ask again.")
    }

    /// "Task 3f2a is running; there is nothing to confirm."
    fn not_in_state(&self, task: &str, state: &str, needs: &str) -> String {
        format!("Task {task} is {}; {needs}.", super::spoken_name(state))
    }

    /// No state has arrived from the robot.
    fn no_state(&self) -> String {
        "No state has arrived from the robot yet; nothing moved.".into()
    }

    /// "The robot is unreachable: connection refused. Nothing was done."
    fn unreachable(&self, cause: &str) -> String {
        format!("The robot is unreachable: {cause}. Nothing was done.")
    }

    /// "The robot's state is 900 milliseconds old, more than the 500 allowed; not moving."
    fn stale(&self, age_ms: u64, limit_ms: u64) -> String {
        format!(
            "The robot's state is {age_ms} milliseconds old, more than the {limit_ms} allowed; not moving."
        )
    }

    /// "Not moving: the robot reports a protective stop."
    fn not_moving_fault(&self, fault: &str) -> String {
        format!("Not moving: {}.", fault.trim_end_matches('.'))
    }

    /// "Not moving: the robot is in power off mode."
    fn not_moving_mode(&self, mode: &str) -> String {
        // The mode may come as `PowerOff` or `power_off`: both are said "power off".
        let mut said = String::new();
        for c in mode.chars() {
            if c.is_uppercase() && !said.is_empty() {
                said.push(' ');
            }
            said.extend(c.to_lowercase());
        }
        format!(
            "Not moving: the robot is in {} mode.",
            super::spoken_name(&said)
        )
    }
}

//! Refusals: why nothing moved, naming the bad value and the limit in words.

use super::Numbers;
use crate::robot::{JointSpec, LimitError};

/// What refusals say.
pub trait Refusals: Numbers {
    /// "The shoulder pan can turn from minus 360 to 360 degrees; 5730 degrees is outside that. Nothing moved."
    fn joint_out_of_range(
        &self,
        joint: &str,
        value_rad: f64,
        min_rad: f64,
        max_rad: f64,
    ) -> String {
        format!(
            "The {joint} can turn from {} to {}; {} is outside that. Nothing moved.",
            self.rounded(min_rad.to_degrees().round()),
            self.degrees(max_rad),
            self.degrees(value_rad)
        )
    }

    /// A value that breaks one of the robot's limits; `joints` give the joints' labels.
    fn limit(&self, e: &LimitError, joints: &[JointSpec]) -> String {
        let label = |index: usize, name: &str| {
            joints
                .get(index.wrapping_sub(1))
                .map(JointSpec::spoken)
                .unwrap_or_else(|| format!("joint {}", super::spoken_name(name)))
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
                "Speed is a share of the robot's top speed, above 0 and at most 1; {} is not. Nothing moved.",
                self.rounded(*value)
            ),
        }
    }

    /// "The arm is busy with task 3f2a, move to, 40 percent done. Wait for it or stop it first."
    fn busy(&self, id: &uuid::Uuid, action: &str, percent_done: f64) -> String {
        format!(
            "The arm is busy with task {}, {}, {} done. Wait for it or stop it first.",
            super::short_id(id),
            super::spoken_name(action),
            self.percent(percent_done / 100.0)
        )
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
            "The {} backend cannot move in straight lines; a joint move can get there. Nothing moved.",
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

//! What the status tools say about the arm and the cell's names.

use super::{spoken_name, Numbers};
use crate::hal::{Fault, LinkError};

/// The arm as `robot_state` says it: only what an operator needs.
#[derive(Debug, Clone, Default)]
pub struct ArmWords {
    /// The robot's name ("UR5e").
    pub robot: String,
    /// Why the link to the robot is down, said aloud, when it is.
    pub link_down: Option<String>,
    /// "idle", "moving" or "stopping".
    pub phase: String,
    /// Where it moves to, in words ("moving to home"), when a task moves it.
    pub doing: Option<String>,
    /// The task moving it, as said ("3f2a").
    pub task: Option<String>,
    /// The robot's mode, as on the wire ("running").
    pub mode: String,
    /// The active fault, said in words.
    pub fault: Option<String>,
    /// The first task in line: what it does and its planned seconds.
    pub next: Option<(String, f64)>,
    /// Whether the state directory cannot be written.
    pub cannot_record: bool,
    /// The gripper's state in words and its width (m) when it holds or is partly open.
    pub gripper: Option<(String, Option<f64>)>,
}

/// The most names a list says in one breath.
const LISTED: usize = 6;

/// A distance (m) in the unit a person would use, as the cell says it.
fn distance(m: f64) -> String {
    crate::cell::words::distance(m)
}

/// What status tools say.
pub trait State: Numbers {
    /// "The UR5e is standing still." "The UR5e is moving to home for task 3f2a." A fault,
    /// a lost link, the next task and the gripper follow when there are any; the I/O, the
    /// loop's figures and the joints are in the structured part only.
    fn arm(&self, a: &ArmWords) -> String {
        let mut out = if let Some(cause) = &a.link_down {
            format!("The {} is unreachable: {cause}.", a.robot)
        } else {
            let activity = match (a.phase.as_str(), &a.doing, &a.task) {
                ("moving", Some(doing), _) => format!("is {}", doing.to_lowercase()),
                ("moving", None, Some(task)) => format!("is moving for task {task}"),
                ("moving", ..) => "is moving".into(),
                ("stopping", ..) => "is braking to a stop".into(),
                _ => "is standing still".into(),
            };
            // A fault says more than the mode it puts the robot in.
            let mode = if a.mode == "running" || a.mode.is_empty() || a.fault.is_some() {
                String::new()
            } else {
                format!(", in {} mode", spoken_name(&a.mode))
            };
            format!("The {} {activity}{mode}.", a.robot)
        };
        if let Some(f) = &a.fault {
            out.push_str(&format!(" Fault: {}.", f.trim_end_matches('.')));
        }
        if let Some((doing, eta)) = &a.next {
            out.push_str(&format!(
                " Next: {}, {}.",
                doing.to_lowercase(),
                self.about(*eta)
            ));
        }
        if a.cannot_record {
            out.push_str(" The state directory is not writable; motions are refused.");
        }
        if let Some((state, width)) = &a.gripper {
            match width {
                Some(w) => {
                    out.push_str(&format!(" The gripper is {state}, {} wide.", distance(*w)))
                }
                None => out.push_str(&format!(" The gripper is {state}.")),
            }
        }
        out
    }

    /// Why the link is down: "connection refused".
    fn link(&self, e: &LinkError) -> String {
        match e {
            LinkError::Exception(code) => format!("the robot answered with exception {code}"),
            LinkError::Io(errno) => {
                let said = std::io::Error::from_raw_os_error(*errno).to_string();
                let said = said.split(" (os error").next().unwrap_or("").trim();
                said.to_lowercase()
            }
            other => other.to_string(),
        }
    }

    /// A fault as an operator hears it: "the emergency stop is pressed".
    fn fault(&self, f: &Fault) -> String {
        match f {
            Fault::ProtectiveStop => "the robot is in protective stop".into(),
            Fault::EmergencyStop => "the emergency stop is pressed".into(),
            Fault::Joint { joint } => format!("joint {} reports a drive fault", joint + 1),
            Fault::Controller { code } => format!("the robot answered with error {code}"),
            Fault::Trajectory { code, .. } => {
                let what = match code {
                    -1 => "the goal is invalid",
                    -2 => "the joints are invalid",
                    -3 => "the goal's time stamp is old",
                    -4 => "the path tolerance was broken",
                    -5 => "the goal tolerance was broken",
                    _ => "the controller failed",
                };
                format!("the trajectory controller stopped: {what}")
            }
            // The register and how long it stood still are in the structured part.
            Fault::CompanionNotRunning { .. } => "the robot program is not running".into(),
            Fault::Unreachable { cause } => {
                format!("the robot is unreachable: {}", self.link(cause))
            }
        }
    }

    /// "5 positions: fixture above, home, maintenance, ready, tray above."
    fn position_list(&self, names: &[String]) -> String {
        let said: Vec<String> = names.iter().map(|n| spoken_name(n)).collect();
        match said.len() {
            0 => "There are no named positions.".into(),
            1 => format!("1 position: {}.", said[0]),
            n if n <= LISTED => format!("{n} positions: {}.", said.join(", ")),
            n => format!(
                "{n} positions, among them {}, and {} more.",
                said[..LISTED].join(", "),
                n - LISTED
            ),
        }
    }

    /// "Saved the current position as over the box."
    fn position_saved(&self, name: &str) -> String {
        format!("Saved the current position as {}.", spoken_name(name))
    }
}

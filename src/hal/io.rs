//! Digital I/O and the gripper: a small port beside the arm. It is never touched by the
//! real-time cycle; tools and the gripper's task use it from their own threads.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::robot::io::GripperSpec;

/// Why the port refused or failed a command.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IoError {
    /// The robot declares no gripper.
    #[error("this robot has no gripper configured")]
    NoGripper,
    /// The backend could not reach the controller.
    #[error("the controller did not take the command: {0}")]
    Link(String),
}

/// The gripper as last read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GripperReading {
    /// The finger gap (m).
    pub width_m: f64,
    /// Whether the fingers are travelling.
    pub moving: bool,
    /// Whether the fingers stopped on something (the backend's own word, if it has one).
    pub stalled: Option<bool>,
}

/// The digital channels and the gripper, as last read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IoSnapshot {
    /// Output bits, bit `n` = channel `n`.
    pub outputs: u64,
    /// Input bits, bit `n` = channel `n`.
    pub inputs: u64,
    /// The gripper, if there is one and it has been read.
    pub gripper: Option<GripperReading>,
    /// Whether the bits have been read from the controller at least once.
    pub known: bool,
}

impl IoSnapshot {
    /// Output `channel`.
    pub fn output(&self, channel: u16) -> bool {
        channel < 64 && self.outputs >> channel & 1 == 1
    }

    /// Input `channel`.
    pub fn input(&self, channel: u16) -> bool {
        channel < 64 && self.inputs >> channel & 1 == 1
    }
}

/// Digital outputs, inputs and the gripper of one arm.
pub trait IoPort: Send + Sync {
    /// Sets output `channel`; answers once the backend took the write.
    fn set_output(&self, channel: u16, value: bool) -> Result<(), IoError>;
    /// The latest bits and gripper reading; never blocks on the link.
    fn snapshot(&self) -> IoSnapshot;
    /// Starts a stroke: close (true) or open (false).
    fn grip(&self, close: bool) -> Result<(), IoError>;
    /// Stops the fingers where they are.
    fn halt_gripper(&self);
}

/// A port with nothing behind it, for backends that have no I/O yet.
pub struct NoIo;

impl IoPort for NoIo {
    fn set_output(&self, _: u16, _: bool) -> Result<(), IoError> {
        Err(IoError::Link("this backend has no digital I/O".into()))
    }
    fn snapshot(&self) -> IoSnapshot {
        IoSnapshot::default()
    }
    fn grip(&self, _: bool) -> Result<(), IoError> {
        Err(IoError::NoGripper)
    }
    fn halt_gripper(&self) {}
}

/// A stroke of the simulated fingers: from a gap to a gap, at the gripper's speed.
#[derive(Debug, Clone, Copy)]
struct Stroke {
    from: f64,
    to: f64,
    started: Instant,
    duration_s: f64,
    /// It ends on the part.
    on_part: bool,
}

impl Stroke {
    fn width(&self, now: Instant) -> (f64, bool) {
        let t = now.saturating_duration_since(self.started).as_secs_f64();
        if self.duration_s <= 0.0 || t >= self.duration_s {
            return (self.to, false);
        }
        (
            self.from + (self.to - self.from) * t / self.duration_s,
            true,
        )
    }
}

struct SimState {
    outputs: u64,
    stroke: Stroke,
}

/// The simulator's I/O: outputs that hold what is written, and a gripper whose gap moves
/// over its stroke time and stops on a part of `part_width_m` when one is between the
/// fingers.
pub struct SimIo {
    gripper: Option<GripperSpec>,
    part_width_m: Option<f64>,
    state: Mutex<SimState>,
}

impl SimIo {
    /// A simulated port; the gripper starts open.
    pub fn new(gripper: Option<GripperSpec>, part_width_m: Option<f64>) -> Arc<Self> {
        let open = gripper.as_ref().map(|g| g.open_width_m).unwrap_or(0.0);
        Arc::new(Self {
            gripper,
            part_width_m,
            state: Mutex::new(SimState {
                outputs: 0,
                stroke: Stroke {
                    from: open,
                    to: open,
                    started: Instant::now(),
                    duration_s: 0.0,
                    on_part: false,
                },
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SimState> {
        // The state holds plain numbers: a panic elsewhere cannot leave it half written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl IoPort for SimIo {
    fn set_output(&self, channel: u16, value: bool) -> Result<(), IoError> {
        if channel >= 64 {
            return Err(IoError::Link(format!("channel {channel} is above 63")));
        }
        let mut s = self.state();
        s.outputs = (s.outputs & !(1 << channel)) | (u64::from(value) << channel);
        Ok(())
    }

    fn snapshot(&self) -> IoSnapshot {
        let s = self.state();
        let gripper = self.gripper.as_ref().map(|_| {
            let (width_m, moving) = s.stroke.width(Instant::now());
            GripperReading {
                width_m,
                moving,
                stalled: Some(!moving && s.stroke.on_part),
            }
        });
        IoSnapshot {
            outputs: s.outputs,
            // A part between the fingers is what the simulated sensor on input 0 sees.
            inputs: u64::from(self.part_width_m.is_some()),
            gripper,
            known: true,
        }
    }

    fn grip(&self, close: bool) -> Result<(), IoError> {
        let g = self.gripper.as_ref().ok_or(IoError::NoGripper)?;
        let mut s = self.state();
        let now = Instant::now();
        let (from, _) = s.stroke.width(now);
        let part = self
            .part_width_m
            .filter(|p| close && *p < from && *p > g.closed_width_m);
        let to = match (close, part) {
            (true, Some(p)) => p,
            (true, None) => g.closed_width_m,
            (false, _) => g.open_width_m,
        };
        let range = (g.open_width_m - g.closed_width_m).max(f64::EPSILON);
        s.stroke = Stroke {
            from,
            to,
            started: now,
            duration_s: g.stroke_s * (to - from).abs() / range,
            on_part: part.is_some(),
        };
        Ok(())
    }

    fn halt_gripper(&self) {
        let mut s = self.state();
        let now = Instant::now();
        let (here, _) = s.stroke.width(now);
        s.stroke = Stroke {
            from: here,
            to: here,
            started: now,
            duration_s: 0.0,
            on_part: false,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GripperSpec {
        GripperSpec {
            kind: "parallel".into(),
            open_width_m: 0.08,
            closed_width_m: 0.0,
            stroke_s: 0.0,
            empty_below_m: 0.004,
            output: None,
            width_register: None,
        }
    }

    #[test]
    fn closing_stops_on_the_part_or_meets_in_the_middle() {
        let empty = SimIo::new(Some(spec()), None);
        empty.grip(true).unwrap();
        let g = empty.snapshot().gripper.unwrap();
        assert_eq!((g.width_m, g.moving, g.stalled), (0.0, false, Some(false)));
        let holding = SimIo::new(Some(spec()), Some(0.03));
        holding.grip(true).unwrap();
        let g = holding.snapshot().gripper.unwrap();
        assert_eq!((g.width_m, g.stalled), (0.03, Some(true)));
        assert_eq!(holding.snapshot().inputs, 1);
        holding.grip(false).unwrap();
        assert_eq!(holding.snapshot().gripper.unwrap().width_m, 0.08);
    }

    #[test]
    fn outputs_hold_what_was_written() {
        let io = SimIo::new(None, None);
        io.set_output(2, true).unwrap();
        io.set_output(5, true).unwrap();
        io.set_output(2, false).unwrap();
        assert!(io.snapshot().output(5) && !io.snapshot().output(2));
        assert_eq!(io.grip(true), Err(IoError::NoGripper));
    }
}

//! The gripper's stroke as a step of a task, and the digital I/O as tools see it.
//!
//! A gripper command is a one-step task: it holds the arm's lease like a motion, so it
//! cannot overlap one, and `stop` or `cancel_task` halt it through the lease's wake-up.
//! Outputs are set at once (background): they answer once the backend took the write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::motion::MotionGate;
use super::TaskError;
use crate::hal::io::{IoPort, IoSnapshot};
use crate::robot::io::{Channel, GripperSpec, IoSpec};

/// The port and what the robot file declares, attached to the gate once at start.
pub struct IoLink {
    port: Arc<dyn IoPort>,
    spec: IoSpec,
}

/// Where the gripper stands, in words a listener understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GripperState {
    /// Fully open.
    Open,
    /// Closed on nothing.
    Closed,
    /// Closed on a part.
    Holding,
    /// Travelling.
    Moving,
    /// Stopped part way.
    PartlyOpen,
    /// Not read yet.
    Unknown,
}

impl GripperState {
    /// "open", "holding a part", …
    pub fn words(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed on nothing",
            Self::Holding => "holding a part",
            Self::Moving => "moving",
            Self::PartlyOpen => "partly open",
            Self::Unknown => "not read yet",
        }
    }
}

/// The gripper as read now.
#[derive(Debug, Clone, Copy)]
pub struct GripperView {
    /// The finger gap (m).
    pub width_m: Option<f64>,
    /// Where it stands.
    pub state: GripperState,
}

/// The declared channels with their values, and the gripper.
#[derive(Debug, Clone)]
pub struct IoView {
    /// Each output and whether it is on.
    pub outputs: Vec<(Channel, bool)>,
    /// Each input and whether it is on.
    pub inputs: Vec<(Channel, bool)>,
    /// The gripper, if one is declared.
    pub gripper: Option<GripperView>,
    /// Whether the backend has read the bits at least once.
    pub known: bool,
}

/// How a gripper stroke ended.
pub(super) enum StrokeEnd {
    /// It reached its end (a part, or fully open).
    Done,
    /// Stopped or cancelled: the fingers halted where they were.
    Halted,
    /// It failed: the code and the spoken reason.
    Failed(TaskError),
}

fn classify(g: &GripperSpec, snap: &IoSnapshot) -> GripperView {
    let Some(r) = snap.gripper else {
        return GripperView {
            width_m: None,
            state: GripperState::Unknown,
        };
    };
    // Within a millimetre of fully open counts as open.
    let state = if r.moving {
        GripperState::Moving
    } else if r.width_m >= g.open_width_m - 0.001 {
        GripperState::Open
    } else if r.width_m <= g.empty_below_m {
        GripperState::Closed
    } else if r.stalled == Some(true) {
        GripperState::Holding
    } else {
        GripperState::PartlyOpen
    };
    GripperView {
        width_m: Some(r.width_m),
        state,
    }
}

fn failed(code: &str, message: &str) -> StrokeEnd {
    StrokeEnd::Failed(TaskError {
        code: code.into(),
        message: message.into(),
    })
}

impl MotionGate {
    /// Attaches the arm's digital I/O and gripper; later calls are ignored.
    pub fn attach_io(&self, port: Arc<dyn IoPort>, spec: IoSpec) {
        if self.io.set(IoLink { port, spec }).is_err() {
            tracing::warn!("the I/O port was attached twice; the first is kept");
        }
    }

    /// The declared outputs, inputs and gripper with their values now.
    pub fn io_view(&self) -> IoView {
        let Some(link) = self.io.get() else {
            return IoView {
                outputs: vec![],
                inputs: vec![],
                gripper: None,
                known: false,
            };
        };
        let snap = link.port.snapshot();
        let pair = |list: &[Channel], bit: &dyn Fn(u16) -> bool| {
            list.iter()
                .map(|c| (c.clone(), bit(c.channel)))
                .collect::<Vec<_>>()
        };
        IoView {
            outputs: pair(&link.spec.outputs, &|c| snap.output(c)),
            inputs: pair(&link.spec.inputs, &|c| snap.input(c)),
            gripper: link.spec.gripper.as_ref().map(|g| classify(g, &snap)),
            known: snap.known,
        }
    }

    /// Sets output `channel`; the backend's refusal in words if it did not take it.
    pub fn set_output(&self, channel: u16, value: bool) -> Result<(), String> {
        let link = self.io.get().ok_or("no I/O is attached")?;
        link.port
            .set_output(channel, value)
            .map_err(|e| e.to_string())
    }

    /// Input `channel` as last read, or None before the backend read it (or with no I/O).
    pub(super) fn input(&self, channel: u16) -> Option<bool> {
        let snap = self.io.get()?.port.snapshot();
        snap.known.then(|| snap.input(channel))
    }

    /// Runs one stroke: starts it, then watches the fingers until they stop, the stroke
    /// takes too long, or `wake` says the task was halted.
    pub(super) async fn stroke(&self, close: bool, wake: &Notify) -> StrokeEnd {
        let Some((link, g)) = self
            .io
            .get()
            .and_then(|l| l.spec.gripper.as_ref().map(|g| (l, g)))
        else {
            return failed("no_gripper", "This robot has no gripper configured");
        };
        if let Err(e) = link.port.grip(close) {
            return failed("gripper", &format!("The gripper did not start: {e}"));
        }
        // A stroke that takes half as long again as it should, plus a second, is stuck.
        let limit = Duration::from_secs_f64(g.stroke_s * 1.5 + 1.0);
        let started = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                _ = wake.notified() => {
                    link.port.halt_gripper();
                    return StrokeEnd::Halted;
                }
            }
            let state = classify(g, &link.port.snapshot()).state;
            match (close, state) {
                (true, GripperState::Closed) => {
                    return failed("nothing_grasped", "The gripper closed on nothing");
                }
                (true, GripperState::Holding | GripperState::PartlyOpen)
                | (false, GripperState::Open) => return StrokeEnd::Done,
                // Travelling, or not yet seen to start.
                _ if started.elapsed() > limit => {
                    link.port.halt_gripper();
                    return failed(
                        "gripper_timeout",
                        "The gripper did not finish its stroke in time",
                    );
                }
                _ => {}
            }
        }
    }
}

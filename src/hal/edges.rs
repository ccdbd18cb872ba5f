//! Backends whose controller runs each motion itself (Modbus `movej`, a ROS trajectory goal):
//! the cycle reads the latest state their link thread published, and hands over one message
//! per motion edge instead of a setpoint per cycle.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use crate::robot::linear::LinearPath;

use super::{
    ArmCommand, ArmState, CommandError, Fault, Joints, LinkError, Phase, RobotArm, RobotMode,
};

/// A change in what the executor wants.
#[derive(Debug, Clone)]
pub enum MotionEdge {
    /// A new motion to `target` at `speed`.
    Move {
        /// The motion.
        motion_id: u64,
        /// Where to.
        target: Joints,
        /// Fraction of the robot's limits.
        speed: f64,
        /// The straight line to follow on the way, when the motion is one.
        path: Option<Arc<LinearPath>>,
    },
    /// Stop the running motion.
    Stop,
    /// No motion any more.
    Idle,
}

/// Sends edges to a backend's I/O thread without blocking; an edge that finds the queue
/// full is kept and sent on the next cycle, never dropped.
pub struct EdgeSender {
    tx: SyncSender<MotionEdge>,
    pending: Option<MotionEdge>,
    last: (u64, Phase),
    /// The line the next motion follows, handed over when it starts.
    path: Option<(u64, Arc<LinearPath>)>,
}

impl EdgeSender {
    /// Sends over `tx`.
    pub fn new(tx: SyncSender<MotionEdge>) -> Self {
        Self {
            tx,
            pending: None,
            last: (0, Phase::Idle),
            path: None,
        }
    }

    /// Motion `motion_id` follows `path`: its `Move` edge carries it.
    pub fn follow(&mut self, motion_id: u64, path: &Arc<LinearPath>) {
        // Cloning an Arc only counts a reference: nothing is allocated in the cycle.
        self.path = Some((motion_id, path.clone()));
    }

    fn send(&mut self, edge: MotionEdge) {
        if let Err(TrySendError::Full(e)) = self.tx.try_send(edge) {
            self.pending = Some(e);
        }
    }

    /// Looks at this cycle's command and sends an edge if the motion or phase changed.
    pub fn on_command(&mut self, c: &ArmCommand) {
        if let Some(p) = self.pending.take() {
            self.send(p);
        }
        let key = (c.motion_id, c.phase);
        if key == self.last {
            return;
        }
        let edge = match c.phase {
            Phase::Moving if c.motion_id != self.last.0 => Some(MotionEdge::Move {
                motion_id: c.motion_id,
                target: c.target,
                speed: c.speed,
                path: self
                    .path
                    .take()
                    .filter(|(id, _)| *id == c.motion_id)
                    .map(|(_, p)| p),
            }),
            Phase::Stopping => Some(MotionEdge::Stop),
            Phase::Idle if self.last.1 != Phase::Idle => Some(MotionEdge::Idle),
            _ => None,
        };
        if let Some(e) = edge {
            self.send(e);
        }
        self.last = key;
    }
}

/// The arm as the real-time cycle sees it: a lock-free state cell and an edge sender.
pub struct LinkedArm {
    backend: &'static str,
    state: triple_buffer::Output<ArmState>,
    edges: EdgeSender,
}

/// What the link thread keeps: where to publish the state, and where edges arrive.
pub struct LinkEnds {
    /// Publishes the latest state to the cycle.
    pub state: triple_buffer::Input<ArmState>,
    /// The state before anything is known: disconnected, not connected yet.
    pub initial: ArmState,
    /// Motion edges from the cycle.
    pub edges: Receiver<MotionEdge>,
}

impl LinkedArm {
    /// A linked arm named `backend` with `joints` joints, and the ends for its link thread.
    pub fn new(backend: &'static str, joints: usize) -> (Self, LinkEnds) {
        let now = Instant::now();
        let initial = ArmState {
            positions: Joints::zeros(joints),
            velocities: Joints::zeros(joints),
            mode: RobotMode::Disconnected,
            fault: Some(Fault::Unreachable {
                cause: LinkError::Connecting,
            }),
            sampled_at: now,
            link_down_since: Some(now),
        };
        let (input, output) = triple_buffer::triple_buffer(&initial);
        let (tx, rx) = mpsc::sync_channel(16);
        let arm = Self {
            backend,
            state: output,
            edges: EdgeSender::new(tx),
        };
        (
            arm,
            LinkEnds {
                state: input,
                initial,
                edges: rx,
            },
        )
    }
}

impl RobotArm for LinkedArm {
    fn backend(&self) -> &'static str {
        self.backend
    }

    fn read(&mut self, _now: Instant) -> ArmState {
        *self.state.read()
    }

    fn write(&mut self, c: &ArmCommand) -> Result<(), CommandError> {
        self.edges.on_command(c);
        Ok(())
    }

    fn tracks_setpoints(&self) -> bool {
        false
    }

    fn follow(&mut self, motion_id: u64, path: &Arc<LinearPath>) {
        self.edges.follow(motion_id, path);
    }
}

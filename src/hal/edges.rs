//! Turns the cycle's per-cycle commands into one message per motion edge, for backends
//! whose controller runs each motion itself (Modbus `movej`, a ROS trajectory goal).

use std::sync::mpsc::{SyncSender, TrySendError};

use super::{ArmCommand, Joints, Phase};

/// A change in what the executor wants.
#[derive(Debug, Clone, Copy)]
pub enum MotionEdge {
    /// A new motion to `target` at `speed`.
    Move {
        /// The motion.
        motion_id: u64,
        /// Where to.
        target: Joints,
        /// Fraction of the robot's limits.
        speed: f64,
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
}

impl EdgeSender {
    /// Sends over `tx`.
    pub fn new(tx: SyncSender<MotionEdge>) -> Self {
        Self {
            tx,
            pending: None,
            last: (0, Phase::Idle),
        }
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

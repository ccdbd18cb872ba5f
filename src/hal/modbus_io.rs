//! Digital I/O and the gripper over Modbus/TCP, on the arm's own link (one connection):
//! UR's input and output bit registers (`wire::ur_io`), and a gripper closed by an output
//! bit whose finger gap is read from a general-purpose register.
//!
//! The link thread (`hal/modbus.rs`) calls [`IoEnds::exchange`] on every poll: it writes
//! the outputs asked for, then reads the bits and the gap about every 50 ms.

use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_modbus::client::{Context, Reader, Writer};
use wire::ur_io::{decode_width, CLEAR_OUTPUTS, INPUT_BITS, SET_OUTPUTS};

use super::io::{GripperReading, IoError, IoPort, IoSnapshot};
use super::modbus::bounded;
use super::LinkError;
use crate::robot::io::{GripperSpec, IoSpec};

/// How often the bits and the gap are read.
const READ_EVERY: Duration = Duration::from_millis(50);
/// A gap that changed less than this (m) between two reads stands still.
const STILL_M: f64 = 0.0002;
/// After a stroke's command, the fingers count as moving this long even before the gap
/// changes: the gripper takes a moment to start.
const START_S: f64 = 0.3;

/// An output to write, and where to say how it went.
struct Write {
    channel: u16,
    value: bool,
    /// A command not written by then is dropped: its caller has been told it failed.
    deadline: Instant,
    reply: SyncSender<Result<(), IoError>>,
}

struct Shared {
    snap: IoSnapshot,
    /// The gap at the read before the last one (to see motion), and when a stroke was sent.
    last_width: Option<f64>,
    stroke_sent: Option<Instant>,
}

/// The I/O side of a Modbus link.
pub struct ModbusIo {
    shared: Mutex<Shared>,
    writes: Mutex<Sender<Write>>,
    gripper: Option<GripperSpec>,
    timeout: Duration,
}

/// The link thread's end: the writes asked for and the register of the gap.
pub struct IoEnds {
    port: Arc<ModbusIo>,
    writes: Receiver<Write>,
    width_register: Option<u16>,
    last_read: Option<Instant>,
}

/// A port over the link with `timeout` per request, for the declared `io`, and the link
/// thread's end of it.
pub fn port(io: &IoSpec, timeout: Duration) -> (Arc<ModbusIo>, IoEnds) {
    let (tx, rx) = std::sync::mpsc::channel();
    let port = Arc::new(ModbusIo {
        shared: Mutex::new(Shared {
            snap: IoSnapshot::default(),
            last_width: None,
            stroke_sent: None,
        }),
        writes: Mutex::new(tx),
        gripper: io.gripper.clone(),
        timeout,
    });
    let ends = IoEnds {
        port: port.clone(),
        writes: rx,
        width_register: io.gripper.as_ref().and_then(|g| g.width_register),
        last_read: None,
    };
    (port, ends)
}

impl ModbusIo {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        // Plain values: a panic elsewhere cannot leave them half written.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl IoPort for ModbusIo {
    fn set_output(&self, channel: u16, value: bool) -> Result<(), IoError> {
        if channel >= wire::ur_io::CHANNELS {
            return Err(IoError::Link(format!(
                "channel {channel} is not one of UR's digital outputs 0 to {}",
                wire::ur_io::CHANNELS - 1
            )));
        }
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        // Two requests' worth: the write may wait for a poll in flight.
        let wait = self.timeout * 2 + READ_EVERY;
        let write = Write {
            channel,
            value,
            deadline: Instant::now() + wait,
            reply,
        };
        self.writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(write)
            .map_err(|_| IoError::Link("the Modbus link thread has ended".into()))?;
        answer
            .recv_timeout(wait + Duration::from_millis(100))
            .unwrap_or_else(|_| Err(IoError::Link("no answer from the robot in time".into())))
    }

    fn snapshot(&self) -> IoSnapshot {
        self.shared().snap
    }

    fn grip(&self, close: bool) -> Result<(), IoError> {
        let g = self.gripper.as_ref().ok_or(IoError::NoGripper)?;
        let Some(channel) = g.output else {
            return Err(IoError::Link(
                "the gripper has no output to drive it by: give gripper.output".into(),
            ));
        };
        self.set_output(channel, close)?;
        self.shared().stroke_sent = Some(Instant::now());
        Ok(())
    }

    /// A gripper driven by one bit cannot be halted mid-stroke; the bit stays as it is, so
    /// a part already held is not dropped.
    fn halt_gripper(&self) {}
}

impl IoEnds {
    /// The link went down: the bits are no longer known.
    pub fn forget(&self) {
        self.port.shared().snap.known = false;
    }

    /// Drops the writes asked for while the link was down (their callers were told).
    pub fn drain(&self) {
        while let Ok(w) = self.writes.try_recv() {
            let _ = w
                .reply
                .send(Err(IoError::Link("the robot is unreachable".into())));
        }
    }

    /// Writes the outputs asked for, and reads the bits and the gap when due.
    pub async fn exchange(
        &mut self,
        ctx: &mut Context,
        timeout: Duration,
    ) -> Result<(), LinkError> {
        while let Ok(w) = self.writes.try_recv() {
            if Instant::now() > w.deadline {
                let _ = w.reply.send(Err(IoError::Link(
                    "no answer from the robot in time".into(),
                )));
                continue;
            }
            let register = if w.value { SET_OUTPUTS } else { CLEAR_OUTPUTS };
            let done = bounded(timeout, ctx.write_single_register(register, 1 << w.channel)).await;
            let _ = w.reply.send(done.map_err(|e| IoError::Link(e.to_string())));
            done?;
            // Read back at once, so the next snapshot shows the write.
            self.last_read = None;
        }
        if self.last_read.is_some_and(|t| t.elapsed() < READ_EVERY) {
            return Ok(());
        }
        self.last_read = Some(Instant::now());
        let bits = bounded(timeout, ctx.read_holding_registers(INPUT_BITS, 2)).await?;
        let width = match self.width_register {
            Some(r) => bounded(timeout, ctx.read_holding_registers(r, 1))
                .await?
                .first()
                .map(|w| decode_width(*w)),
            None => None,
        };
        let (Some(&inputs), Some(&outputs)) = (bits.first(), bits.get(1)) else {
            return Err(LinkError::Io(libc::EPROTO));
        };
        let port = &self.port;
        let closing = port
            .gripper
            .as_ref()
            .and_then(|g| g.output)
            .is_some_and(|c| outputs >> c & 1 == 1);
        let mut s = port.shared();
        let gripper = width.map(|w| {
            let changed = s.last_width.is_some_and(|l| (l - w).abs() > STILL_M);
            let starting = s
                .stroke_sent
                .is_some_and(|t| t.elapsed().as_secs_f64() < START_S);
            let moving = changed || starting;
            GripperReading {
                width_m: w,
                moving,
                stalled: Some(closing && !moving),
            }
        });
        s.last_width = width;
        s.snap = IoSnapshot {
            outputs: u64::from(outputs),
            inputs: u64::from(inputs),
            gripper,
            known: true,
        };
        Ok(())
    }
}

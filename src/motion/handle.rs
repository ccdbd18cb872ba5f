//! The async side's handle on the executor thread: start it, hand it requests without
//! waiting, read its latest snapshot.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use super::executor::{Executor, ExecutorConfig};
use super::messages::{Event, Request, Snapshot};
use super::rt::{lock_memory, make_current_thread_realtime, SchedulingReport};
use super::stats::CycleStats;
use crate::hal::{Joints, Phase, RobotArm};
use crate::robot::JointSpec;

/// The async side's handle on an executor thread.
pub struct ExecutorHandle {
    requests: SyncSender<Request>,
    snapshot: Mutex<triple_buffer::Output<Snapshot>>,
    events: Mutex<Option<Receiver<Event>>>,
    scheduling: SchedulingReport,
    backend: &'static str,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// Why a request could not be handed to the executor.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request queue is full (the cycle is not draining it).
    #[error("the motion thread is not taking requests (queue full)")]
    Full,
    /// The executor thread has ended.
    #[error("the motion thread has stopped")]
    Stopped,
}

impl ExecutorHandle {
    /// Starts the executor thread for `arm`.
    pub fn spawn(
        arm: Box<dyn RobotArm>,
        joints: Vec<JointSpec>,
        config: ExecutorConfig,
    ) -> std::io::Result<Self> {
        let backend = arm.backend();
        let (req_tx, req_rx) = mpsc::sync_channel(32);
        let (ev_tx, ev_rx) = mpsc::sync_channel(1024);
        let initial = Snapshot {
            state: None,
            setpoint: Joints::zeros(joints.len()),
            phase: Phase::Idle,
            motion_id: 0,
            progress: 0.0,
            stats: CycleStats {
                target_rate_hz: f64::from(config.rate_hz),
                ..Default::default()
            },
            published_at: Instant::now(),
        };
        let (snap_in, snap_out) = triple_buffer::triple_buffer(&initial);
        let (sched_tx, sched_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("armature-motion".into())
            .spawn(move || {
                let mut report = make_current_thread_realtime(config.priority);
                let executor = Executor::new(arm, joints, config, req_rx, ev_tx, snap_in);
                // Locked once the cycle's memory exists: under a finite RLIMIT_MEMLOCK only
                // the pages mapped by now are locked.
                let memory = lock_memory();
                report.memory_locked = memory.locked;
                report.memory_note = memory.note;
                let _ = sched_tx.send(report);
                executor.run();
            })?;
        let scheduling = sched_rx.recv().map_err(|_| {
            std::io::Error::other("the motion thread ended before reporting its scheduling")
        })?;
        if let Some(note) = &scheduling.note {
            tracing::warn!(policy = scheduling.policy, "{note}");
        } else {
            tracing::info!(
                policy = scheduling.policy,
                priority = scheduling.priority,
                "motion thread is real-time"
            );
        }
        match (&scheduling.memory_note, scheduling.memory_locked) {
            (Some(note), _) => tracing::warn!(locked = scheduling.memory_locked, "{note}"),
            (None, true) => tracing::info!("memory locked (mlockall, current and future pages)"),
            (None, false) => {}
        }
        Ok(Self {
            requests: req_tx,
            snapshot: Mutex::new(snap_out),
            events: Mutex::new(Some(ev_rx)),
            scheduling,
            backend,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Hands a request to the cycle without waiting.
    pub fn send(&self, request: Request) -> Result<(), SendError> {
        self.requests.try_send(request).map_err(|e| match e {
            TrySendError::Full(_) => SendError::Full,
            TrySendError::Disconnected(_) => SendError::Stopped,
        })
    }

    /// The latest published snapshot.
    pub fn snapshot(&self) -> Snapshot {
        let mut out = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        *out.read()
    }

    /// Takes the event receiver (once; the task supervisor owns it).
    pub fn take_events(&self) -> Option<Receiver<Event>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// The scheduling in force on the motion thread.
    pub fn scheduling(&self) -> &SchedulingReport {
        &self.scheduling
    }

    /// The backend's name.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Stops the thread (after a controlled stop) and waits for it.
    pub fn shutdown(&self) {
        let _ = self.requests.send(Request::Shutdown);
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

//! The supervisor thread: turns the motion thread's events into task records,
//! journal entries, installation variables and log lines.
//! (How each task ended reaches the audit log through the registry's end signal.)
//!
//! It is the "async side" for the executor: everything that may block or allocate
//! (disk, logging) happens here, never in the cycle.

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use super::{Registry, TaskError, TaskState};
use crate::motion::{Event, Outcome};

/// Starts the supervisor; it ends when the executor drops its event sender.
pub fn spawn(
    events: Receiver<Event>,
    registry: Arc<Registry>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("armature-supervisor".into())
        .spawn(move || {
            for event in events {
                handle(&registry, event);
            }
        })
}

fn handle(registry: &Registry, event: Event) {
    match event {
        Event::Started {
            motion_id,
            duration_s,
        } => {
            tracing::info!(motion_id, duration_s, "motion started");
            registry.on_started(motion_id, duration_s);
        }
        Event::Progress {
            motion_id,
            progress,
            remaining_s,
            stopping,
        } => {
            registry.on_progress(motion_id, progress, remaining_s, stopping);
        }
        Event::Finished {
            motion_id,
            outcome,
            progress,
            // The sampled path, if any, is freed here, off the motion thread.
            path: _,
        } => {
            let task_id = registry.live().filter(|l| l.1 == motion_id).map(|l| l.0);
            let (state, error) = match &outcome {
                Outcome::Succeeded => (TaskState::Succeeded, None),
                Outcome::Cancelled => (TaskState::Cancelled, None),
                Outcome::Fenced => (
                    TaskState::Cancelled,
                    Some(TaskError {
                        code: "stopped".into(),
                        message: super::words::why::FENCED.into(),
                    }),
                ),
                Outcome::Failed(e) => (
                    TaskState::Failed,
                    Some(TaskError {
                        code: e.code().into(),
                        message: e.to_string(),
                    }),
                ),
            };
            match &error {
                Some(e) => {
                    tracing::warn!(motion_id, task_id = ?task_id, code = %e.code, error = %e.message, "motion failed")
                }
                None => {
                    tracing::info!(motion_id, task_id = ?task_id, state = state.as_str(), progress, "motion ended")
                }
            }
            registry.on_finished(motion_id, state, progress, error);
        }
    }
}

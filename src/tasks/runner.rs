//! Runs a multi-step task: one step after another, each checkpointed when it ends.
//!
//! Moves go through the motion gate like any motion; the registry tells when each ends.
//! Cancel and stop reach the runner through the lease: no further step starts, a `wait`
//! ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use uuid::Uuid;

use super::gripper::StrokeEnd;
use super::motion::MotionGate;
use super::requests::GateError;
use super::{words, Applied, Step, StepKind, TaskError, TaskState};
use crate::hal::Joints;

/// What the runner of a multi-step task finds when it enters a step.
pub(super) enum Entered {
    /// Cancelled or stopped, or no longer the live task: go no further.
    Halted,
    /// Go on (a step without motion).
    Ready,
    /// The step's motion was handed to the executor; this tells how it ended.
    Moving(oneshot::Receiver<bool>),
    /// The motion could not be handed over (the executor's message).
    SendFailed(String),
}

/// Starts the steps of `task_id` from `from` (0-based), after `prelude` if given.
pub(super) fn run(gate: &Arc<MotionGate>, task_id: Uuid, from: usize, prelude: Option<Step>) {
    let gate = gate.clone();
    match gate.runtime() {
        Some(rt) => {
            rt.spawn(async move { drive(&gate, task_id, from, prelude).await });
        }
        None => {
            // Outside a runtime (tools, tests): a thread with a runtime of its own. Never
            // fails the task here: the caller may hold the desk lock.
            let spawned = std::thread::Builder::new()
                .name("armature-steps".into())
                .spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    match rt {
                        Ok(rt) => rt.block_on(drive(&gate, task_id, from, prelude)),
                        Err(e) => tracing::error!(%task_id, error = %e, "cannot run the steps"),
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(%task_id, error = %e, "cannot start the steps' thread");
            }
        }
    }
}

fn failed(code: &str, message: String) -> Option<TaskError> {
    Some(TaskError {
        code: code.into(),
        message,
    })
}

async fn drive(gate: &MotionGate, task_id: Uuid, from: usize, prelude: Option<Step>) {
    let registry = &gate.registry;
    let Some((seq, wake)) = registry.sequence(&task_id) else {
        return;
    };
    let steps = prelude.map(|p| (from, p, false)).into_iter().chain(
        seq.steps
            .iter()
            .cloned()
            .enumerate()
            .skip(from)
            .map(|(k, s)| (k, s, true)),
    );
    for (k, step, checkpoint) in steps {
        let applied = match &step.kind {
            StepKind::Move { .. } | StepKind::Line { .. } => {
                // A line is planned now, from where the arm is, to its absolute target.
                let planned = match &step.kind {
                    StepKind::Line { pose, speed, .. } => gate
                        .plan_step_line(pose, *speed)
                        .map(|(end, path)| (end, *speed, Some(path)))
                        .map_err(|e| {
                            let state = match e {
                                GateError::NotReady(_) => TaskState::Interrupted,
                                _ => TaskState::Failed,
                            };
                            (state, e.code().to_owned(), e.to_string())
                        }),
                    _ => step
                        .kind
                        .ends_at()
                        .and_then(|(t, speed)| Joints::from_slice(&t).map(|t| (t, speed, None)))
                        .ok_or_else(|| {
                            let why = format!("step {} has too many joints", k + 1);
                            (TaskState::Failed, "invalid_step".to_owned(), why)
                        }),
                };
                let motion = match planned {
                    Ok(m) => m,
                    Err((state, code, why)) => {
                        let why = why.trim_end_matches(['.', ' ']).to_owned();
                        registry.finish_sequence(&task_id, state, failed(&code, why));
                        return;
                    }
                };
                match gate.enter_step(&task_id, k, &step.label, Some(motion)) {
                    Entered::Moving(ended) => {
                        // A motion that did not succeed has already ended the task.
                        if ended.await != Ok(true) {
                            return;
                        }
                    }
                    Entered::SendFailed(why) => {
                        registry.finish_sequence(
                            &task_id,
                            TaskState::Failed,
                            failed("executor", why),
                        );
                        return;
                    }
                    Entered::Halted | Entered::Ready => {
                        registry.finish_sequence(&task_id, TaskState::Cancelled, None);
                        return;
                    }
                }
                None
            }
            StepKind::SetOutput {
                name,
                channel,
                value,
            } => {
                if !enter(gate, &task_id, k, &step) {
                    return;
                }
                if let Err(e) = gate.set_output(*channel, *value) {
                    let said = crate::robot::io::label_of(name);
                    let why = words::output_not_set(&said, *value, &e);
                    registry.finish_sequence(&task_id, TaskState::Failed, failed("io", why));
                    return;
                }
                None
            }
            StepKind::WaitInput {
                said,
                channel,
                value,
                timeout_s,
                ..
            } => {
                if !enter(gate, &task_id, k, &step) {
                    return;
                }
                let deadline = Instant::now() + Duration::from_secs_f64(*timeout_s);
                while gate.input(*channel) != Some(*value) {
                    if Instant::now() >= deadline {
                        let why = words::input_timeout(said, *value, *timeout_s);
                        let e = failed("input_timeout", why);
                        registry.finish_sequence(&task_id, TaskState::Failed, e);
                        return;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                        _ = wake.notified() => {
                            registry.finish_sequence(&task_id, TaskState::Cancelled, None);
                            return;
                        }
                    }
                }
                None
            }
            StepKind::Wait { seconds } => {
                if !enter(gate, &task_id, k, &step) {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs_f64(*seconds)) => {}
                    _ = wake.notified() => {
                        registry.finish_sequence(&task_id, TaskState::Cancelled, None);
                        return;
                    }
                }
                None
            }
            StepKind::Gripper { close, .. } => {
                if !enter(gate, &task_id, k, &step) {
                    return;
                }
                match gate.stroke(*close, &wake).await {
                    StrokeEnd::Done => None,
                    StrokeEnd::Halted => {
                        registry.finish_sequence(&task_id, TaskState::Cancelled, None);
                        return;
                    }
                    StrokeEnd::Failed(e) => {
                        registry.finish_sequence(&task_id, TaskState::Failed, Some(e));
                        return;
                    }
                }
            }
            StepKind::SetVariable { name, op } => {
                if !enter(gate, &task_id, k, &step) {
                    return;
                }
                let before = gate.vars.get(name);
                let after = op.apply(before.as_ref());
                Some(Applied {
                    step: k + 1,
                    name: name.clone(),
                    before,
                    after,
                })
            }
        };
        if !checkpoint {
            continue;
        }
        // The checkpoint is on disk before the variable is written: a crash in between
        // leaves the variable at `before`, and resume then writes `after` once.
        let write = applied.clone();
        registry.step_done(&task_id, k, applied);
        if let Some(a) = write {
            gate.vars
                .set_many([(a.name.clone(), a.after.clone())], true);
            let vars = gate.vars.clone();
            let flushed = tokio::task::spawn_blocking(move || vars.flush(Duration::from_secs(2)))
                .await
                .unwrap_or(false);
            if !flushed {
                // The checkpoint holds the value: resume_task writes it once the disk takes it.
                let cause = gate
                    .vars
                    .health()
                    .failing
                    .map(|f| f.cause)
                    .unwrap_or_default();
                let why = format!(
                    "the state directory cannot be written ({cause}); {} is not on disk",
                    a.name
                );
                registry.finish_sequence(
                    &task_id,
                    TaskState::Interrupted,
                    failed("durability", why),
                );
                return;
            }
            tracing::info!(%task_id, step = k + 1, variable = %a.name, value = %a.after, "step set a variable");
        }
    }
    registry.finish_sequence(&task_id, TaskState::Succeeded, None);
}

/// Enters a step without motion; a halted task ends `cancelled`.
fn enter(gate: &MotionGate, task_id: &Uuid, k: usize, step: &Step) -> bool {
    match gate.enter_step(task_id, k, &step.label, None) {
        Entered::Ready => true,
        _ => {
            gate.registry
                .finish_sequence(task_id, TaskState::Cancelled, None);
            false
        }
    }
}

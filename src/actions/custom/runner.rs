//! Runs a multi-step task: one step after another, each checkpointed when it ends.
//!
//! Moves go to the executor like any motion; the registry tells when each ends. Cancel
//! and stop reach the runner through the registry: no further step starts, a `wait` ends.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::app::App;
use crate::hal::Joints;
use crate::motion::Request;
use crate::tasks::{Applied, Entered, Step, StepKind, TaskError, TaskState};

/// Starts the steps of `task_id` from `from` (0-based), after `prelude` if given.
pub fn run(app: &Arc<App>, task_id: Uuid, from: usize, prelude: Option<Step>) {
    let app = app.clone();
    tokio::spawn(async move { drive(&app, task_id, from, prelude).await });
}

fn failed(code: &str, message: String) -> Option<TaskError> {
    Some(TaskError {
        code: code.into(),
        message,
    })
}

async fn drive(app: &App, task_id: Uuid, from: usize, prelude: Option<Step>) {
    let registry = &app.registry;
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
            StepKind::Move { target, speed } => {
                let Some(target) = Joints::from_slice(target) else {
                    let why = format!("step {} has {} joints", k + 1, target.len());
                    registry.finish_sequence(
                        &task_id,
                        TaskState::Failed,
                        failed("invalid_step", why),
                    );
                    return;
                };
                let speed = *speed;
                let start = |motion_id| {
                    app.executor.send(Request::Start {
                        motion_id,
                        target,
                        speed,
                    })
                };
                match registry.enter_step(&task_id, k, &step.label, Some(start)) {
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
            StepKind::Wait { seconds } => {
                if !enter(app, &task_id, k, &step) {
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
            StepKind::SetVariable { name, op } => {
                if !enter(app, &task_id, k, &step) {
                    return;
                }
                let before = app.vars.get(name);
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
            app.vars.set_many([(a.name.clone(), a.after.clone())], true);
            let vars = app.vars.clone();
            let _ = tokio::task::spawn_blocking(move || vars.flush(Duration::from_secs(2))).await;
            tracing::info!(%task_id, step = k + 1, variable = %a.name, value = %a.after, "step set a variable");
        }
    }
    registry.finish_sequence(&task_id, TaskState::Succeeded, None);
}

/// Enters a step without motion; a halted task ends `cancelled`.
fn enter(app: &App, task_id: &Uuid, k: usize, step: &Step) -> bool {
    type NoStart = fn(u64) -> Result<(), std::convert::Infallible>;
    match app
        .registry
        .enter_step(task_id, k, &step.label, None::<NoStart>)
    {
        Entered::Ready => true,
        _ => {
            app.registry
                .finish_sequence(task_id, TaskState::Cancelled, None);
            false
        }
    }
}

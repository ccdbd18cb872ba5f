//! The dashboard's pushed feed (server-sent events): the arm at 25 Hz, the lists twice a
//! second. Read through `App` only (the gate's view, the registry, the variables, the audit
//! file), never from the motion loop.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;

use crate::app::App;
use crate::robot::Kinematics;
use crate::tasks::{TaskRecord, TaskState};

/// How often the arm is sent: 25 Hz, above the 20 Hz a smooth view needs.
const ARM_EVERY: Duration = Duration::from_millis(40);
/// The lists (tasks, variables, audit) change slowly: every 12th arm frame, about 2 Hz.
const LISTS_EVERY: u32 = 12;
/// Recent tasks and audit lines shown.
const RECENT: usize = 8;
/// Frames that may wait for a slow reader; past that a frame is skipped, not queued.
const BACKLOG: usize = 4;

/// The stream one page reads, for `operator`, until it goes away or the server stops.
pub(super) fn stream(
    app: Arc<App>,
    operator: String,
    shutdown: CancellationToken,
) -> impl axum::response::IntoResponse {
    let (tx, rx) = mpsc::channel(BACKLOG);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ARM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut n: u32 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            let arm = Event::default().event("arm").data(arm(&app).to_string());
            if send(&tx, arm).is_err() {
                return;
            }
            if n % LISTS_EVERY == 0 {
                let app = app.clone();
                let who = operator.clone();
                // The audit tail reads a file: off the async workers.
                let lists = tokio::task::spawn_blocking(move || lists(&app, &who)).await;
                if let Ok(lists) = lists {
                    let ev = Event::default().event("lists").data(lists.to_string());
                    if send(&tx, ev).is_err() {
                        return;
                    }
                }
            }
            n = n.wrapping_add(1);
        }
    });
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

/// Queues a frame; a full backlog drops it (the next one supersedes it). Err: the page left.
fn send(tx: &mpsc::Sender<Result<Event, Infallible>>, ev: Event) -> Result<(), ()> {
    match tx.try_send(Ok(ev)) {
        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
        Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
    }
}

/// Milliseconds since the Unix epoch, as the page's `Date.now()` counts them.
fn wall_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64() * 1e3)
        .unwrap_or(0.0)
}

/// The arm now: joints, the polyline of its links, the TCP, mode, link and fault.
pub(super) fn arm(app: &App) -> Value {
    let view = app.gate.view();
    // When the state was sampled, on the wall clock the page shares.
    let state_ms = wall_ms() - view.age_ms.unwrap_or(0.0);
    let kin: Option<&Kinematics> = app.config.robot.kinematics.as_ref();
    let (points, tcp) = match (kin, view.positions.is_empty()) {
        (Some(k), false) => (
            json!(k.link_points(&view.positions)),
            json!(k.forward(&view.positions)),
        ),
        _ => (Value::Null, Value::Null),
    };
    json!({
        "t": state_ms,
        "positions": view.positions,
        "velocities": view.velocities,
        "points": points,
        "tcp": tcp,
        "mode": view.mode,
        "phase": view.phase,
        "fault": view.fault.map(|(_, words)| words),
        "link": view.link_down.map(|(since, why)| format!("down since {since}: {why}")),
        "age_ms": view.age_ms,
    })
}

/// A task as the page shows it; the id is for the Approve and Reject buttons only.
fn task(r: &TaskRecord) -> Value {
    json!({
        "task_id": r.task_id,
        "task_number": r.task_number,
        "action": r.action,
        "state": r.state.as_str(),
        "progress": r.progress,
        "message": r.message,
        "eta_s": r.eta_s,
        "steps": r.steps,
        "created_at": r.created_at,
    })
}

/// The slow part: the current task, recent ones, pending confirmations (the operator's
/// own: only they can confirm them), variables, the audit tail and the loop's figures.
pub(super) fn lists(app: &App, operator: &str) -> Value {
    let reg = &app.registry;
    let current = reg
        .list_where(1, |r| r.state == TaskState::Running)
        .first()
        .map(|r| {
            if r.owner == operator {
                task(r)
            } else {
                // Another operator's task: what the arm does, not whose or which.
                json!({"action": r.action, "state": r.state.as_str(), "progress": r.progress,
                       "message": "The arm is moving for another operator.", "eta_s": r.eta_s})
            }
        });
    let mine = |r: &TaskRecord| r.owner == operator;
    let recent: Vec<Value> = reg.list_where(RECENT, mine).iter().map(task).collect();
    let pending: Vec<Value> = reg
        .list_where(RECENT, |r| {
            r.owner == operator && r.state == TaskState::AwaitingConfirmation
        })
        .iter()
        .map(task)
        .collect();
    // Calls that only read (status polls) would bury the ones that act.
    let reads: Vec<String> = crate::actions::catalog(&app.config)
        .into_iter()
        .filter(|t| t.effect == crate::actions::Effect::Reads)
        .map(|t| t.name)
        .collect();
    let audit: Vec<Value> = crate::audit::read(&app.state_dir, None)
        .map(|all| {
            let acts: Vec<Value> = all
                .into_iter()
                .filter(|e| !reads.iter().any(|r| e["tool"] == r.as_str()))
                .collect();
            let skip = acts.len().saturating_sub(RECENT);
            acts.into_iter()
                .skip(skip)
                .map(|e| {
                    json!({"time": e["time"], "operator": e["operator"], "tool": e["tool"],
                           "outcome": e["outcome"], "code": e["code"]})
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "operator": operator,
        "current": current,
        "recent": recent,
        "pending": pending,
        "vars": app.vars.all(),
        "audit": audit,
        "loop": app.gate.view().realtime,
    })
}

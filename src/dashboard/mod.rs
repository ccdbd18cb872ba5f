//! The operator's dashboard, served at `/` on the MCP HTTP listener (docs/dashboard.md):
//! the page and its embedded assets, the pushed feed, and the buttons (stop, approve,
//! reject), which go through `actions::call` like any tool call, so they are audited.

mod feed;

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

use crate::actions::{self, Caller};
use crate::app::App;
use crate::cell::Cell;
use crate::operators::{Operator, Role};

/// The page; its STOP button has an inline script and a plain form behind it.
const INDEX: &str = include_str!("../../assets/dashboard/index.html");
/// The page's script (an ES module).
const APP_JS: &str = include_str!("../../assets/dashboard/app.js");
/// The page's style.
const STYLE: &str = include_str!("../../assets/dashboard/style.css");
/// three.js 0.170.0, the npm package's `build/three.module.min.js`, unedited.
const THREE: &str = include_str!("../../assets/dashboard/three.module.min.js");
/// three.js's licence (MIT), served beside it.
const THREE_LICENSE: &str = include_str!("../../assets/dashboard/three.LICENSE");

/// What the dashboard's handlers share.
#[derive(Clone)]
struct Dash {
    app: Arc<App>,
    shutdown: CancellationToken,
}

/// The dashboard's routes: `page` (the page and its assets, no data: open to any
/// browser) and `data` (the feed and the buttons), which the caller puts behind the same
/// gate as MCP (Origin, bearer token), so that each handler gets the `Operator`.
pub fn routes(app: Arc<App>, shutdown: CancellationToken) -> (Router, Router) {
    let page = Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/dashboard/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            "/dashboard/three.module.min.js",
            get(|| async { asset("text/javascript; charset=utf-8", THREE) }),
        )
        .route(
            "/dashboard/three.LICENSE",
            get(|| async { asset("text/plain; charset=utf-8", THREE_LICENSE) }),
        );
    let data = Router::new()
        .route("/dashboard/session", get(session))
        .route("/dashboard/model", get(model))
        .route("/dashboard/events", get(events))
        .route("/dashboard/stop", post(stop))
        .route("/dashboard/confirm", post(confirm))
        .route("/dashboard/reject", post(reject))
        .with_state(Dash { app, shutdown });
    (page, data)
}

/// An embedded file; never cached across a plugin upgrade.
fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Who the token names: the page's log-in check.
async fn session(Extension(op): Extension<Operator>) -> Json<Value> {
    let role = match op.role {
        Role::Operator => "operator",
        Role::Observer => "observer",
    };
    Json(json!({"operator": op.name, "role": role}))
}

/// What the 3D view draws besides the arm: the kinematics' source and the cell's zones.
async fn model(State(d): State<Dash>) -> Json<Value> {
    let robot = &d.app.config.robot;
    let kinematics = robot.kinematics.as_ref().map(|k| k.source().to_owned());
    let v = |x: &nalgebra::Vector3<f64>| [x.x, x.y, x.z];
    let cell = match Cell::of_robot(robot) {
        Ok(c) => json!({
            "planes": c.planes.iter().map(|p| json!({"name": p.name, "point": v(&p.point),
                "normal": v(&p.normal)})).collect::<Vec<_>>(),
            "workspace": c.workspace.as_ref().map(|w| json!({"min": v(&w.min), "max": v(&w.max)})),
            "keep_out": c.keep_out.iter().map(|k| json!({"name": k.name, "min": v(&k.zone.min),
                "max": v(&k.zone.max)})).collect::<Vec<_>>(),
        }),
        // The plugin checked the cell at start; a view without zones is still a view.
        Err(_) => Value::Null,
    };
    Json(json!({"kinematics": kinematics, "cell": cell}))
}

/// The pushed feed for this operator.
async fn events(State(d): State<Dash>, Extension(op): Extension<Operator>) -> impl IntoResponse {
    feed::stream(d.app, op.name, d.shutdown)
}

/// A button's answer: the tool's speakable text, or its refusal with the code.
fn answer(result: Result<actions::ActionOutput, actions::Refusal>) -> Response {
    match result {
        Ok(out) => {
            Json(json!({"ok": true, "text": out.text, "result": out.structured})).into_response()
        }
        Err(r) => (
            StatusCode::CONFLICT,
            Json(json!({"ok": false, "code": r.code, "text": r.message})),
        )
            .into_response(),
    }
}

/// STOP: the same `stop` as the tool. A plain form post (the page's script failed) is
/// sent back to the page; the script's fetch gets the answer as JSON.
async fn stop(
    State(d): State<Dash>,
    Extension(op): Extension<Operator>,
    headers: HeaderMap,
) -> Response {
    let caller = Caller::from(op).at_dashboard();
    let result = actions::call(&d.app, &caller, "stop", None).await;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if !wants_json {
        if let Err(r) = &result {
            tracing::warn!(code = r.code, message = %r.message, "the dashboard's stop form was refused");
        }
        return Redirect::to("/#stopped").into_response();
    }
    answer(result)
}

/// Approve or Reject's body: the task the button stands for.
#[derive(Deserialize)]
struct TaskRef {
    task_id: String,
}

/// Calls `tool` with `task_id` for the operator, as an MCP call would.
async fn on_task(d: &Dash, op: Operator, tool: &str, body: TaskRef) -> Response {
    let mut args = Map::new();
    args.insert("task_id".into(), Value::String(body.task_id));
    let caller = Caller::from(op).at_dashboard();
    answer(actions::call(&d.app, &caller, tool, Some(&args)).await)
}

/// Approve: `confirm_task` as the logged-in operator.
async fn confirm(
    State(d): State<Dash>,
    Extension(op): Extension<Operator>,
    Json(body): Json<TaskRef>,
) -> Response {
    on_task(&d, op, "confirm_task", body).await
}

/// Reject: `reject_task` as the logged-in operator.
async fn reject(
    State(d): State<Dash>,
    Extension(op): Extension<Operator>,
    Json(body): Json<TaskRef>,
) -> Response {
    on_task(&d, op, "reject_task", body).await
}

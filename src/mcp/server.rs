//! The MCP handler: lists the action catalog as tools and routes calls to actions.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
    CreateTaskResult, DetailedTask, GetTaskParams, GetTaskResult, Implementation, InitializeResult,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, Task, TaskPayload,
    TaskStatus, Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Value};

use super::Sessions;
use crate::actions::{self, ActionSpec, Caller, Effect, Scope};
use crate::app::App;
use crate::operators::Operator;
use crate::tasks::{TaskRecord, TaskState};
use uuid::Uuid;

/// One MCP session's handler; all sessions share the app.
#[derive(Clone)]
pub struct ArmatureServer {
    app: Arc<App>,
    sessions: Arc<Sessions>,
    session: u64,
    caller: Caller,
    tools: Arc<Vec<Tool>>,
    /// Names of the foreground (motion) tools, from the same catalog as `tools`.
    motions: Arc<Vec<String>>,
}

fn as_object(v: Value) -> Arc<JsonObject> {
    Arc::new(match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    })
}

fn tool(spec: ActionSpec) -> Tool {
    let foreground = spec.scope == Scope::Foreground;
    let mut meta = JsonObject::new();
    meta.insert("armature/scope".into(), json!(spec.scope));
    let mut annotations = ToolAnnotations::with_title(spec.title.clone())
        .read_only(spec.effect == Effect::Reads)
        .destructive(false)
        .open_world(false);
    if foreground {
        annotations = annotations.idempotent(false);
    }
    Tool::new(spec.name, spec.description, as_object(spec.input))
        .with_title(spec.title)
        .with_raw_output_schema(as_object(spec.output))
        .with_annotations(annotations)
        .with_meta(rmcp::model::MetaObject(meta))
}

impl ArmatureServer {
    /// A handler for one session; `operator` is who calls unless the HTTP request names
    /// an authenticated operator.
    pub fn new(app: Arc<App>, sessions: Arc<Sessions>, operator: Operator) -> Self {
        let catalog = actions::catalog(&app.config);
        // resume_task answers at once like a background tool, but starts a motion task.
        let motions = catalog
            .iter()
            .filter(|a| a.effect == Effect::Moves)
            .map(|a| a.name.clone())
            .collect();
        let tools = catalog.into_iter().map(tool).collect();
        Self {
            motions: Arc::new(motions),
            app,
            sessions,
            session: super::sessions::next_session(),
            caller: operator.into(),
            tools: Arc::new(tools),
        }
    }

    /// The record of MCP task `id`, if it is the caller's.
    fn owned_task(
        &self,
        id: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<TaskRecord, McpError> {
        let caller = self.caller(context);
        let rec = Uuid::parse_str(id)
            .ok()
            .and_then(|u| self.app.registry.get(&u))
            .ok_or_else(|| McpError::invalid_params(format!("there is no task {id}"), None))?;
        if rec.owner != caller.operator {
            return Err(McpError::invalid_params(
                format!("task {id} is not your task"),
                None,
            ));
        }
        Ok(rec)
    }

    /// The caller of one request: the operator the HTTP layer authenticated, if any.
    fn caller(&self, context: &RequestContext<RoleServer>) -> Caller {
        context
            .extensions
            .get::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Operator>())
            .map(|o| Caller::from(o.clone()))
            .unwrap_or_else(|| self.caller.clone())
    }
}

/// A task record as an MCP task (tasks extension).
fn mcp_task(rec: &TaskRecord) -> Task {
    let status = match rec.state {
        TaskState::Succeeded | TaskState::Failed => TaskStatus::Completed,
        TaskState::Cancelled | TaskState::Interrupted => TaskStatus::Cancelled,
        _ => TaskStatus::Working,
    };
    let mut task = Task::new(
        rec.task_id.to_string(),
        status,
        rec.created_at.clone(),
        rec.updated_at.clone(),
    )
    .with_status_message(rec.message.clone());
    task.poll_interval_ms = Some(200);
    task
}

impl ServerHandler for ArmatureServer {
    // Logging is how a task's end reaches its owner's sessions; rmcp marks it deprecated
    // (SEP-2577) but every current client still reads it.
    #[allow(deprecated)]
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().enable_tasks().enable_logging().build())
            .with_server_info(Implementation::new("armature", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Armature drives a {} robot arm. Motion tools (move_joints, move_to, home) answer at once with a \
                 task id; poll task_status for progress and say its message. Call stop at any sign of danger.",
                self.app.config.robot.name
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.as_ref();
        let caller = self.caller(&context);
        let result = match actions::call(&self.app, &caller, name, request.arguments.as_ref()).await
        {
            Ok(out) => {
                let mut r = CallToolResult::success(vec![ContentBlock::text(out.text)]);
                r.structured_content = Some(out.structured);
                r
            }
            Err(refusal) => {
                tracing::info!(tool = name, operator = %caller.operator, code = refusal.code, reason = %refusal.message, "refused");
                let mut r =
                    CallToolResult::error(vec![ContentBlock::text(refusal.message.clone())]);
                r.structured_content =
                    Some(json!({"error": {"code": refusal.code, "message": refusal.message}}));
                r
            }
        };
        self.sessions
            .register(self.session, &caller.operator, &context.peer);
        // A client that speaks MCP's tasks extension follows a motion as an MCP task.
        let wants_task = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        let motion = self.motions.iter().any(|m| m == name);
        if wants_task && motion && result.is_error != Some(true) {
            let id = result
                .structured_content
                .as_ref()
                .and_then(|v| v["task_id"].as_str())
                .unwrap_or("");
            if let Some(rec) = Uuid::parse_str(id)
                .ok()
                .and_then(|u| self.app.registry.get(&u))
            {
                return Ok(CallToolResponse::Task(CreateTaskResult::new(mcp_task(
                    &rec,
                ))));
            }
        }
        Ok(CallToolResponse::Complete(result))
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let rec = self.owned_task(&request.task_id, &context)?;
        let payload = match rec.state {
            TaskState::Succeeded | TaskState::Failed => {
                let mut r = if rec.state == TaskState::Succeeded {
                    CallToolResult::success(vec![ContentBlock::text(rec.message.clone())])
                } else {
                    CallToolResult::error(vec![ContentBlock::text(rec.message.clone())])
                };
                r.structured_content = serde_json::to_value(&rec).ok();
                let result = match serde_json::to_value(r) {
                    Ok(Value::Object(m)) => m,
                    _ => JsonObject::new(),
                };
                TaskPayload::Completed { result }
            }
            TaskState::Cancelled | TaskState::Interrupted => TaskPayload::Cancelled,
            _ => TaskPayload::Working,
        };
        Ok(GetTaskResult::new(DetailedTask::new(
            mcp_task(&rec),
            payload,
        )))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let rec = self.owned_task(&request.task_id, &context)?;
        let caller = self.caller(&context);
        let args = serde_json::json!({"task_id": rec.task_id.to_string()});
        // The same path as the cancel_task tool: a controlled stop, audited.
        let _ = actions::call(&self.app, &caller, "cancel_task", args.as_object()).await;
        Ok(())
    }
}

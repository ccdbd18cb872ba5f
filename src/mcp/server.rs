//! The MCP handler: lists the action catalog as tools and routes calls to actions.

use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams, ContentBlock,
    CreateTaskResult, CustomRequest, CustomResult, DetailedTask, ErrorCode, GetTaskParams,
    GetTaskResult, Implementation, InitializeRequestParams, InitializeResult, JsonObject,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, Task, TaskPayload, TaskStatus, Tool,
};
// Logging is deprecated by SEP-2577, yet it is how a task's end reaches its owner.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::schema::refusal_content;
use super::tools::Catalog;
use super::Sessions;
use crate::actions::{self, Caller};
use crate::app::App;
use crate::audit::AuditEntry;
use crate::operators::Operator;
use crate::tasks::{TaskRecord, TaskState};
use uuid::Uuid;

/// One MCP session's handler; all sessions share the app and the catalog.
#[derive(Clone)]
pub struct ArmatureServer {
    app: Arc<App>,
    sessions: Arc<Sessions>,
    catalog: Arc<Catalog>,
    session: u64,
    caller: Caller,
}

impl ArmatureServer {
    /// A handler for one session; `operator` is who calls unless the HTTP request names
    /// an authenticated operator.
    pub fn new(
        app: Arc<App>,
        sessions: Arc<Sessions>,
        catalog: Arc<Catalog>,
        operator: Operator,
    ) -> Self {
        Self {
            app,
            sessions,
            catalog,
            session: super::sessions::next_session(),
            caller: operator.into(),
        }
    }

    /// The record of MCP task `id`, if it is the caller's; another operator's task is
    /// answered like one that does not exist.
    fn owned_task(
        &self,
        id: &str,
        context: &RequestContext<RoleServer>,
    ) -> Result<TaskRecord, McpError> {
        let caller = self.caller(context);
        Uuid::parse_str(id)
            .ok()
            .and_then(|u| self.app.registry.get(&u))
            .filter(|rec| rec.owner == caller.operator)
            .ok_or_else(|| McpError::invalid_params(format!("there is no task {id}"), None))
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

    /// Whether the request belongs to a session (the `initialize` lifecycle), which log
    /// notifications can reach later. A 2026-07-28 request stands alone: over HTTP its
    /// handler lives for that request only, and that revision has no unsolicited messages.
    fn in_session(&self, context: &RequestContext<RoleServer>) -> bool {
        context
            .protocol_version()
            .is_none_or(|v| v.has_initialize())
    }

    /// A call of a tool that does not exist: audited like a refusal, answered as the spec
    /// says (JSON-RPC -32602).
    fn unknown_tool(&self, caller: &Caller, request: &CallToolRequestParams) -> McpError {
        let name = request.name.as_ref();
        let params = Value::Object(request.arguments.clone().unwrap_or_default());
        let entry = AuditEntry::now(
            &caller.operator,
            name,
            params,
            Some("unknown_tool"),
            None,
            Duration::ZERO,
        );
        self.app.audit.record(entry);
        // A caller chose the name: logs and answers carry an excerpt of it.
        let name = crate::audit::excerpt(name, 64);
        tracing::info!(tool = %name, operator = %caller.operator, "refused: no such tool");
        McpError::invalid_params(
            format!(
                "there is no tool named \"{name}\"; tools/list names the {} tools",
                self.catalog.tools.len()
            ),
            Some(json!({"code": "unknown_tool"})),
        )
    }
}

/// Why `params` do not fit method `method` (whose parameters are a `T`).
fn bad_params<T: DeserializeOwned>(method: &str, params: Option<Value>) -> McpError {
    let why = match serde_json::from_value::<T>(params.unwrap_or(Value::Null)) {
        Err(e) => e.to_string(),
        Ok(_) => "they do not fit the method".to_owned(),
    };
    McpError::invalid_params(format!("invalid params for {method}: {why}"), None)
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
        let mut caps = ServerCapabilities::builder()
            .enable_tools()
            .enable_tasks()
            .enable_logging()
            .enable_resources()
            .build();
        super::app::declare(&mut caps);
        InitializeResult::new(caps)
            .with_server_info(Implementation::new("armature", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Armature drives a {} robot arm. Motion tools (move_joints, move_to, home) answer at once with a \
                 task id; poll task_status for progress and say its message. Call stop at any sign of danger.",
                self.app.config.robot.name
            ))
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        // One page holds every tool, so no cursor was ever given out.
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            return Err(McpError::invalid_params(
                format!(
                    "cursor \"{cursor}\" was not given out by this server: tools/list answers all {} tools in one page",
                    self.catalog.tools.len()
                ),
                None,
            ));
        }
        Ok(ListToolsResult::with_all_items(self.catalog.tools.clone()))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(super::app::list())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        super::app::read(&request.uri).map(ReadResourceResponse::from)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.catalog.get(name).cloned()
    }

    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let caller = self.caller(&context);
        if self.in_session(&context) {
            self.sessions
                .set_level(self.session, &caller.operator, &context.peer, request.level);
        }
        tracing::debug!(session = self.session, level = ?request.level, "log level set");
        Ok(())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.as_ref();
        let caller = self.caller(&context);
        if self.catalog.get(name).is_none() {
            return Err(self.unknown_tool(&caller, &request));
        }
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
                // Every output schema admits this shape (see schema.rs).
                r.structured_content = Some(refusal_content(refusal.code, &refusal.message));
                r
            }
        };
        if self.in_session(&context) {
            self.sessions
                .register(self.session, &caller.operator, &context.peer);
        }
        // A held motion under a human gate is put to the client's user, when it can ask.
        let sc = result.structured_content.as_ref();
        if self.in_session(&context)
            && super::elicit::wanted(
                &self.app,
                &context.peer,
                sc.and_then(|v| v["state"].as_str()),
            )
        {
            if let Some(id) = sc
                .and_then(|v| v["task_id"].as_str())
                .and_then(|t| Uuid::parse_str(t).ok())
            {
                let question = result
                    .content
                    .first()
                    .and_then(|c| c.as_text())
                    .map(|t| t.text.clone())
                    .unwrap_or_default();
                super::elicit::ask(
                    self.app.clone(),
                    context.peer.clone(),
                    caller.clone(),
                    id,
                    question,
                );
            }
        }
        // A client that speaks MCP's tasks extension follows a motion as an MCP task.
        let wants_task = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        if wants_task && self.catalog.is_motion(name) && result.is_error != Some(true) {
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

    /// A request rmcp could not read as the method it names lands here: bad params of a
    /// method this server serves are -32602, any other method is not found (-32601).
    #[allow(deprecated)]
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        let CustomRequest { method, params, .. } = request;
        Err(match method.as_str() {
            "tools/call" => bad_params::<CallToolRequestParams>(&method, params),
            "tools/list" => bad_params::<PaginatedRequestParams>(&method, params),
            "logging/setLevel" => bad_params::<SetLevelRequestParams>(&method, params),
            "tasks/get" => bad_params::<GetTaskParams>(&method, params),
            "tasks/cancel" => bad_params::<CancelTaskParams>(&method, params),
            "initialize" => bad_params::<InitializeRequestParams>(&method, params),
            _ => McpError::new(
                ErrorCode::METHOD_NOT_FOUND,
                format!("method {method} is not served here"),
                None,
            ),
        })
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

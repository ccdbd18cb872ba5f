//! The MCP handler: lists the action catalog as tools and routes calls to actions.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    Tool, ToolAnnotations,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{json, Value};

use crate::actions::{self, ActionSpec, Caller, Scope};
use crate::app::App;
use crate::operators::Operator;

/// One MCP session's handler; all sessions share the app.
#[derive(Clone)]
pub struct ArmatureServer {
    app: Arc<App>,
    caller: Caller,
    tools: Arc<Vec<Tool>>,
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
    let mut annotations = ToolAnnotations::with_title(spec.title)
        .read_only(!foreground && !matches!(spec.name, "stop" | "cancel_task" | "save_position"))
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
    pub fn new(app: Arc<App>, operator: Operator) -> Self {
        let tools = actions::catalog(&app.config)
            .into_iter()
            .map(tool)
            .collect();
        Self {
            app,
            caller: operator.into(),
            tools: Arc::new(tools),
        }
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

impl ServerHandler for ArmatureServer {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
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
        Ok(CallToolResponse::Complete(result))
    }
}

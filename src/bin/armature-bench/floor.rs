//! The transport's own floor: a minimal rmcp server with one no-op tool, served the way the
//! plugin serves (streamable HTTP, sessions, SSE answers, TCP_NODELAY), and a bare axum
//! handler that answers the same JSON without rmcp. Each runs in a process of its own (this
//! binary, started again with `--floor-server`) and is called with the same rmcp client as
//! the plugin, so a plugin row divided by its floor is what the plugin itself adds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::{LocalSessionManager, SessionConfig};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::{json, Value};

use super::mcp;
use super::procs::{spawn_until, Proc};
use super::report::Summary;

/// The no-op tool's name.
pub const TOOL: &str = "noop";

/// Which reference server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// rmcp's streamable HTTP service with one no-op tool.
    Rmcp,
    /// The same, stateless and answering plain JSON (`json_response`).
    RmcpJson,
    /// A bare axum handler answering the same JSON-RPC messages.
    Axum,
}

/// What a floor server prints once it listens.
const LISTENING: &str = "floor server is listening on ";

/// The no-op tool's answer: a short text and a small structured value, like a status call.
fn answer() -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text("Done.")]);
    r.structured_content = Some(json!({"ok": true}));
    r
}

/// The minimal MCP server.
#[derive(Clone)]
struct Noop;

impl ServerHandler for Noop {
    fn get_info(&self) -> InitializeResult {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "armature-floor",
                env!("CARGO_PKG_VERSION"),
            ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let schema: JsonObject = serde_json::from_value(json!({"type": "object"}))
            .map_err(|e| McpError::internal_error(e.to_string(), None))?;
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            TOOL,
            "does nothing",
            Arc::new(schema),
        )]))
    }

    async fn call_tool(
        &self,
        _request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        Ok(answer().into())
    }
}

/// The bare handler: answers `initialize`, `tools/list` and `tools/call` as the minimal
/// server does, notifications with 202, all as plain JSON and without sessions.
async fn bare(body: axum::body::Bytes) -> Response {
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Some(id) = msg.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match msg["method"].as_str().unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": msg["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "armature-floor-axum", "version": env!("CARGO_PKG_VERSION")}
        }),
        "tools/list" => json!({"tools": [{"name": TOOL, "inputSchema": {"type": "object"}}]}),
        "tools/call" => serde_json::to_value(answer()).unwrap_or(Value::Null),
        _ => json!({}),
    };
    axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

/// Serves `kind` on a loopback port until killed (the `--floor-server` mode).
pub async fn serve(kind: Kind) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = match kind {
        Kind::Rmcp | Kind::RmcpJson => {
            // As the plugin: default configuration, sessions that never idle out by themselves.
            let mut manager = LocalSessionManager::default();
            let mut sessions = SessionConfig::default();
            sessions.keep_alive = None;
            manager.session_config = sessions;
            let config = match kind {
                Kind::RmcpJson => StreamableHttpServerConfig::default()
                    .with_legacy_session_mode(false)
                    .with_json_response(true),
                _ => StreamableHttpServerConfig::default(),
            };
            let service = StreamableHttpService::new(|| Ok(Noop), Arc::new(manager), config);
            axum::Router::new().nest_service("/mcp", service)
        }
        Kind::Axum => axum::Router::new().route("/mcp", axum::routing::post(bare)),
    };
    // The plugin sets TCP_NODELAY too; without it a kept-alive client waits for delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    eprintln!("{LISTENING}http://{addr}/mcp");
    axum::serve(listener, router).await
}

/// A floor server in its own process.
pub struct Server {
    _proc: Proc,
    /// Its MCP endpoint.
    pub url: String,
}

/// Starts this binary again as a `kind` floor server.
pub fn start(kind: Kind) -> Result<Server, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(me);
    cmd.arg("--floor-server").arg(match kind {
        Kind::Rmcp => "rmcp",
        Kind::RmcpJson => "rmcp-json",
        Kind::Axum => "axum",
    });
    let (proc, line) = spawn_until(cmd, LISTENING, Duration::from_secs(10))?;
    let url = line
        .split(LISTENING)
        .nth(1)
        .map(str::trim)
        .ok_or_else(|| format!("no address in \"{line}\""))?
        .to_owned();
    Ok(Server { _proc: proc, url })
}

/// `n` no-op calls one after another on one session (ms), and the failures.
pub async fn sequential(url: &str, n: usize) -> Result<Summary, String> {
    let c = mcp::connect(url).await?;
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        mcp::ok(&c, TOOL, json!({})).await?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let _ = c.cancel().await;
    Ok(Summary::of(samples))
}

/// The floors of one run (ms).
#[derive(Debug, Serialize)]
pub struct Floors {
    /// The minimal rmcp server, calls one after another.
    pub rmcp_ms: Summary,
    /// The bare axum handler, the same calls.
    pub axum_ms: Summary,
    /// The minimal rmcp server, stateless and answering plain JSON, the same calls.
    pub rmcp_json_ms: Summary,
}

/// Measures the three servers: `n` sequential calls each.
pub async fn measure(n: usize) -> Result<Floors, String> {
    let rmcp = start(Kind::Rmcp)?;
    let axum = start(Kind::Axum)?;
    let json = start(Kind::RmcpJson)?;
    // A few calls first, so that none pays for its first connection in the figures.
    for url in [&rmcp.url, &axum.url, &json.url] {
        sequential(url, 10).await?;
    }
    let rmcp_ms = sequential(&rmcp.url, n).await?;
    let axum_ms = sequential(&axum.url, n).await?;
    let rmcp_json_ms = sequential(&json.url, n).await?;
    Ok(Floors {
        rmcp_ms,
        axum_ms,
        rmcp_json_ms,
    })
}

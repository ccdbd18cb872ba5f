//! Serving the handler over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use serde_json::json;

use super::{ArmatureServer, Catalog, Sessions};
use crate::app::App;
use crate::audit::{Audit, AuditEntry};
use crate::operators::{Operator, Operators, Rejected};

/// Requests larger than this are refused (HTTP 413; on stdio the line is dropped).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Serves one MCP session on stdin/stdout until the client closes it or `shutdown` fires.
pub async fn serve_stdio(app: Arc<App>, shutdown: CancellationToken) -> std::io::Result<()> {
    let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
        .with_max_line_length(MAX_REQUEST_BYTES);
    let sessions = Arc::new(Sessions::default());
    sessions.follow(&app.registry);
    let catalog = Arc::new(Catalog::new(&app.config));
    let running = ArmatureServer::new(app, sessions, catalog, Operator::local())
        .serve(transport)
        .await
        .map_err(|e| std::io::Error::other(format!("MCP handshake on stdio failed: {e}")))?;
    let cancel = running.cancellation_token();
    tokio::select! {
        r = running.waiting() => { r.map_err(|e| std::io::Error::other(e.to_string()))?; }
        () = shutdown.cancelled() => cancel.cancel(),
    }
    Ok(())
}

/// Binds `addr` and serves MCP at `/mcp`; calls `ready` with the bound address.
///
/// Every request passes the [`gate`]: a foreign `Origin` is refused (DNS-rebinding
/// protection), and with operators configured a valid bearer token is required.
pub async fn serve_http(
    app: Arc<App>,
    addr: SocketAddr,
    shutdown: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let operators = app.config.operators.clone();
    if operators.is_empty() && !addr.ip().is_loopback() {
        return Err(std::io::Error::other(format!(
            "refusing to serve on {addr}: it is not a loopback address and no [[operators]] are configured. \
             Add operators (armature token new NAME) or listen on 127.0.0.1"
        )));
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    if !bound.ip().is_loopback() {
        hosts.push(bound.ip().to_string());
    }
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts.clone())
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_cancellation_token(shutdown.child_token());
    let audit = app.audit.clone();
    let sessions = Arc::new(Sessions::default());
    sessions.follow(&app.registry);
    // Built once: a stateless request gets a handler of its own.
    let catalog = Arc::new(Catalog::new(&app.config));
    let service = StreamableHttpService::new(
        move || {
            Ok(ArmatureServer::new(
                app.clone(),
                sessions.clone(),
                catalog.clone(),
                Operator::local(),
            ))
        },
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let gate_state = Arc::new(Gate {
        operators,
        hosts,
        audit,
    });
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(axum::middleware::from_fn(super::body::check))
        .layer(axum::middleware::from_fn_with_state(gate_state, gate));
    // A response leaves in several small writes (headers, SSE events); with Nagle's
    // algorithm each waits for the client's delayed ACK of the last, 40 ms on a kept-alive
    // connection.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "TCP_NODELAY could not be set on an accepted connection");
        }
    });
    ready(bound);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// What the HTTP gate checks against.
struct Gate {
    operators: Operators,
    hosts: Vec<String>,
    audit: Audit,
}

fn refuse(gate: &Gate, status: StatusCode, code: &str, message: String) -> Response {
    let entry = AuditEntry::now(
        "unauthenticated",
        "http",
        json!({}),
        Some(code),
        None,
        Default::default(),
    );
    gate.audit.record(entry);
    let body = json!({"error": code, "message": message});
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// The host part of an `Origin` header value (`http://host:port`).
fn origin_host(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let host_port = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = host_port.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    host_port.rsplit_once(':').map_or(host_port, |(h, _)| h)
}

/// Refuses foreign origins and, with operators configured, requests without a valid token;
/// hands the authenticated operator to the MCP handler in the request's extensions.
async fn gate(State(gate): State<Arc<Gate>>, mut request: Request, next: Next) -> Response {
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("<not text>").to_owned();
        if !gate.hosts.iter().any(|h| h == origin_host(&origin)) {
            let message = format!("requests from origin {origin} are refused: only local origins may call this server");
            return refuse(&gate, StatusCode::FORBIDDEN, "foreign_origin", message);
        }
    }
    let operator = if gate.operators.is_empty() {
        Operator::local()
    } else {
        let header = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match token.map(|t| gate.operators.authenticate(t)) {
            Some(Ok(op)) => op,
            Some(Err(Rejected::Unknown)) => {
                let message = "the bearer token is not an operator's token".to_owned();
                return refuse(&gate, StatusCode::UNAUTHORIZED, "unauthorized", message);
            }
            Some(Err(Rejected::Expired(name, at))) => {
                let message = format!(
                    "{name}'s token expired at {at}; ask for a new one (armature token new {name})"
                );
                return refuse(&gate, StatusCode::UNAUTHORIZED, "token_expired", message);
            }
            None => {
                let message =
                    "this server needs an operator's token: send Authorization: Bearer <token>"
                        .to_owned();
                return refuse(&gate, StatusCode::UNAUTHORIZED, "unauthorized", message);
            }
        }
    };
    request.extensions_mut().insert(operator);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::origin_host;

    #[test]
    fn origin_hosts_are_parsed_without_port_or_path() {
        assert_eq!(origin_host("http://localhost:7400"), "localhost");
        assert_eq!(origin_host("https://evil.example.com"), "evil.example.com");
        assert_eq!(origin_host("http://[::1]:7400"), "::1");
        assert_eq!(origin_host("http://127.0.0.1"), "127.0.0.1");
    }
}

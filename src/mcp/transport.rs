//! Serving the handler over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use axum::serve::ListenerExt;

use super::gate::{Gate, LocalOrigins};
use super::owners::{sweep, Book, Tracked};
use super::{ArmatureServer, Catalog, Sessions};
use crate::app::App;
use crate::operators::Operator;

/// Requests larger than this are refused (HTTP 413; on stdio the line is dropped).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Serves one MCP session on stdin/stdout until the client closes it or `shutdown` fires.
pub async fn serve_stdio(app: Arc<App>, shutdown: CancellationToken) -> std::io::Result<()> {
    let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
        .with_max_line_length(MAX_REQUEST_BYTES);
    let sessions = Arc::new(Sessions::default());
    sessions.follow(&app.registry);
    let catalog = Arc::new(Catalog::new(&app.config));
    let running = ArmatureServer::new(app.clone(), sessions, catalog, Operator::local())
        .serve(transport)
        .await
        .map_err(|e| std::io::Error::other(format!("MCP handshake on stdio failed: {e}")))?;
    // The one session stdio carries, for robot_state; it ends with the client.
    app.sessions_open.store(1, Ordering::Relaxed);
    let cancel = running.cancellation_token();
    let ended = tokio::select! {
        r = running.waiting() => r.map(|_| ()).map_err(|e| std::io::Error::other(e.to_string())),
        () = shutdown.cancelled() => { cancel.cancel(); Ok(()) }
    };
    app.sessions_open.store(0, Ordering::Relaxed);
    ended
}

/// Binds `addr` and serves MCP at `/mcp` and the dashboard at `/`; calls `ready` with the bound address.
///
/// Every request passes the gate (`gate.rs`): a foreign `Origin` is refused (DNS-rebinding
/// protection), with operators configured a valid bearer token is required, and a session
/// answers its owner only. Sessions idle for `server.session_idle_s` are closed.
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
    let origins = LocalOrigins::new(bound.ip());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(origins.host_names())
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_cancellation_token(shutdown.child_token());
    let audit = app.audit.clone();
    let sessions = Arc::new(Sessions::default());
    sessions.follow(&app.registry);
    let book = Arc::new(Book::new(app.clone()));
    let manager = Arc::new(Tracked::new(book.clone()));
    sweep(
        manager.clone(),
        sessions.clone(),
        app.config.server.session_idle,
        shutdown.clone(),
    );
    // The dashboard (at `/`): its data behind the same gate as MCP, its page open.
    let (page, data) = crate::dashboard::routes(app.clone(), shutdown.clone());
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
        manager,
        config,
    );
    let gate_state = Arc::new(Gate {
        operators,
        origins,
        audit,
        book,
    });
    let router = axum::Router::new()
        .nest_service("/mcp", service)
        .merge(data)
        .layer(axum::middleware::from_fn(super::body::check))
        .layer(axum::middleware::from_fn_with_state(
            gate_state,
            super::gate::check,
        ))
        .merge(page);
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

//! Serving the handler over stdio or streamable HTTP.

use std::net::SocketAddr;
use std::sync::Arc;

use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;

use super::ArmatureServer;
use crate::app::App;

/// Requests larger than this are refused (HTTP 413; on stdio the line is dropped).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Serves one MCP session on stdin/stdout until the client closes it or `shutdown` fires.
pub async fn serve_stdio(app: Arc<App>, shutdown: CancellationToken) -> std::io::Result<()> {
    let transport = AsyncRwTransport::new_server(tokio::io::stdin(), tokio::io::stdout())
        .with_max_line_length(MAX_REQUEST_BYTES);
    let running = ArmatureServer::new(app, "local")
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
pub async fn serve_http(
    app: Arc<App>,
    addr: SocketAddr,
    shutdown: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
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
        .with_allowed_hosts(hosts)
        .with_max_request_body_bytes(MAX_REQUEST_BYTES)
        .with_cancellation_token(shutdown.child_token());
    let service = StreamableHttpService::new(
        move || Ok(ArmatureServer::new(app.clone(), "http")),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let router = axum::Router::new().nest_service("/mcp", service);
    ready(bound);
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

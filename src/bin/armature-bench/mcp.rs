//! The plugin as an assistant meets it: `armature serve` over streamable HTTP, called with
//! rmcp's client.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

use super::procs::{spawn_until, workspace_bin, Proc};

/// An MCP client session.
pub type Client = RunningService<RoleClient, ()>;

/// A running plugin.
pub struct Plugin {
    /// The process.
    pub proc: Proc,
    /// Its MCP endpoint.
    pub url: String,
    /// From spawn to the first answered `tools/list`.
    pub startup: Duration,
    state: tempfile::TempDir,
}

impl Plugin {
    /// The plugin's own handling time (`elapsed_us` in its audit log) of calls to `tool`, ms.
    pub fn handling_ms(&self, tool: &str) -> Vec<f64> {
        let text = std::fs::read_to_string(self.state.path().join("audit.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["tool"] == tool && e["outcome"] == "ok")
            .filter_map(|e| e["elapsed_us"].as_f64())
            .map(|us| us / 1e3)
            .collect()
    }
}

/// Starts `armature serve` with `config` (None: the built-in simulator) on a fresh state dir.
pub async fn start(config: Option<&Path>) -> Result<Plugin, String> {
    let state = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(workspace_bin("armature")?);
    cmd.args(["serve", "--http", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .env("ARMATURE_LOG", "warn");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    let t0 = Instant::now();
    let (proc, line) = spawn_until(cmd, "is listening on", Duration::from_secs(15))?;
    let url = line
        .split("is listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .ok_or_else(|| format!("no address in \"{line}\""))?
        .to_owned();
    // Start-up ends when an assistant can use it: a session opened and the tools listed.
    let client = connect(&url).await?;
    client
        .list_all_tools()
        .await
        .map_err(|e| format!("tools/list failed: {e}"))?;
    let startup = t0.elapsed();
    let _ = client.cancel().await;
    Ok(Plugin {
        proc,
        url,
        startup,
        state,
    })
}

/// Opens a session.
pub async fn connect(url: &str) -> Result<Client, String> {
    ().serve(StreamableHttpClientTransport::from_uri(url.to_owned()))
        .await
        .map_err(|e| format!("MCP session to {url} failed: {e}"))
}

/// Calls `name`; returns whether it was refused and its structured content.
pub async fn call(c: &Client, name: &str, args: Value) -> Result<(bool, Value), String> {
    let mut params = CallToolRequestParams::new(name.to_owned());
    if let Value::Object(m) = args {
        params = params.with_arguments(m);
    }
    let r = c
        .call_tool(params)
        .await
        .map_err(|e| format!("{name}: {e}"))?;
    Ok((
        r.is_error == Some(true),
        r.structured_content.unwrap_or(Value::Null),
    ))
}

/// Calls `name` and insists it was accepted.
pub async fn ok(c: &Client, name: &str, args: Value) -> Result<Value, String> {
    match call(c, name, args).await? {
        (false, v) => Ok(v),
        (true, v) => Err(format!("{name} was refused: {v}")),
    }
}

/// Polls `task_status` until the task ends; returns its final record.
pub async fn wait_done(c: &Client, task_id: &str, poll: Duration) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let rec = ok(c, "task_status", serde_json::json!({"task_id": task_id})).await?;
        if !matches!(rec["state"].as_str(), Some("running" | "queued")) {
            return Ok(rec);
        }
        tokio::time::sleep(poll).await;
    }
    Err(format!("task {task_id} did not end within 60 s"))
}

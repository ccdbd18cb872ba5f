//! rmcp's client against the real binary over HTTP, through both lifecycles: `initialize`
//! (which settles on 2025-11-25) and the stateless 2026-07-28 revision (`server/discover`).
//! Either way a refusal arrives as a result with its text and code, and an unknown tool is
//! JSON-RPC error -32602.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use rmcp::model::{CallToolRequestParams, ErrorCode, ProtocolVersion};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::json;

struct Server {
    child: Child,
    url: String,
    _state: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_armature"))
        .args(["serve", "--http", "127.0.0.1:0", "--state-dir"])
        .arg(state.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("armature printed where it listens")
            .unwrap();
        if let Some(rest) = line.split("is listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        url,
        _state: state,
    }
}

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name.to_owned()).with_arguments(args.as_object().unwrap().clone())
}

/// What every client must see, whatever its lifecycle.
async fn refusals_and_unknown_tools(client: &RunningService<RoleClient, ()>) {
    let state = client
        .call_tool(call("robot_state", json!({})))
        .await
        .unwrap();
    assert_ne!(state.is_error, Some(true));
    assert_eq!(state.structured_content.unwrap()["moving"], false);

    let refused = client
        .call_tool(call(
            "move_joints",
            json!({"joints": [0.0, -1.5, 4.0, -1.5, 0.0, 0.0]}),
        ))
        .await
        .unwrap();
    assert_eq!(refused.is_error, Some(true));
    let text = refused.content[0].as_text().unwrap().text.clone();
    assert!(
        text.starts_with("The elbow stops at 180 degrees, not 229."),
        "{text}"
    );
    assert_eq!(
        refused.structured_content.unwrap(),
        json!({"error": {"code": "out_of_range", "message": text}})
    );

    match client.call_tool(call("no_such_tool", json!({}))).await {
        Err(ServiceError::McpError(e)) => {
            assert_eq!(e.code, ErrorCode::INVALID_PARAMS);
            assert!(e
                .message
                .contains("there is no tool named \"no_such_tool\""));
        }
        other => panic!("an unknown tool was answered {other:?}"),
    }
}

#[tokio::test]
async fn rmcp_through_initialize_settles_on_2025_11_25() {
    let server = start();
    let client =
        ().serve(StreamableHttpClientTransport::from_uri(server.url.clone()))
            .await
            .unwrap();
    let version = client.peer_info().unwrap().protocol_version.clone();
    assert_eq!(version, ProtocolVersion::V_2025_11_25);
    refusals_and_unknown_tools(&client).await;
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn rmcp_through_server_discover_speaks_stateless_2026_07_28() {
    let server = start();
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    let client = ()
        .serve_with_lifecycle(
            StreamableHttpClientTransport::from_uri(server.url.clone()),
            lifecycle,
        )
        .await
        .unwrap();
    let version = client.peer_info().unwrap().protocol_version.clone();
    assert_eq!(version, ProtocolVersion::V_2026_07_28);
    refusals_and_unknown_tools(&client).await;
    client.cancel().await.unwrap();
}

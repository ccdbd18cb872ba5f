//! MCP's tasks extension through rmcp's client against the real binary over HTTP: a client
//! that declares the extension follows a motion as an MCP task, and cancels another.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    GetTaskParams, Implementation, TaskPayload, TaskStatus,
};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
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

fn call(name: &'static str, args: serde_json::Value) -> CallToolRequestParams {
    CallToolRequestParams::new(name).with_arguments(args.as_object().unwrap().clone())
}

#[tokio::test]
async fn a_tasks_client_follows_a_motion_and_cancels_another() {
    let server = start();
    let info = ClientConfig::new(
        ClientCapabilities::builder().enable_tasks().build(),
        Implementation::new("t", "1"),
    );
    let client = info
        .serve(StreamableHttpClientTransport::from_uri(server.url.clone()))
        .await
        .unwrap();

    let response = client
        .call_tool_once(call(
            "move_joints",
            json!({"joints": [0.6, -1.2, 0.5, -1.8, 0.3, 0.2]}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = response else {
        panic!("expected an MCP task, got {response:?}")
    };
    assert_eq!(created.task.status, TaskStatus::Working);
    let id = created.task.task_id.clone();

    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let t = client
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .unwrap()
            .task;
        if t.task.status != TaskStatus::Working {
            break t;
        }
        assert!(Instant::now() < deadline, "task still working");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done.task.status, TaskStatus::Completed);
    let TaskPayload::Completed { result } = &done.payload else {
        panic!("no result: {:?}", done.payload)
    };
    assert_eq!(result["structuredContent"]["state"], "succeeded");
    assert_eq!(result["isError"], false);

    let response = client
        .call_tool_once(call(
            "move_joints",
            json!({"joints": [2.0, -1.0, 1.0, -1.2, 0.5, 0.5]}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = response else {
        panic!("expected an MCP task")
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    client
        .cancel_task(CancelTaskParams::new(created.task.task_id.clone()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = client
            .get_task(GetTaskParams::new(created.task.task_id.clone()))
            .await
            .unwrap()
            .task;
        if t.task.status == TaskStatus::Cancelled {
            // Said as a listener hears it: stopped, and the arm still.
            let said = t.task.status_message.unwrap_or_default();
            assert!(said.starts_with("Stopped "), "{said}");
            assert!(said.contains("The arm is standing still."), "{said}");
            break;
        }
        assert!(Instant::now() < deadline, "not cancelled: {:?}", t.task);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An unknown task id is an error, not a panic or a hang.
    assert!(client
        .get_task(GetTaskParams::new("not-a-task"))
        .await
        .is_err());
    client.cancel().await.unwrap();

    // A client without the extension keeps the plain acknowledgement.
    let plain = ClientConfig::new(ClientCapabilities::default(), Implementation::new("p", "1"));
    let plain = plain
        .serve(StreamableHttpClientTransport::from_uri(server.url.clone()))
        .await
        .unwrap();
    let response = plain.call_tool_once(call("home", json!({}))).await.unwrap();
    let CallToolResponse::Complete(result) = response else {
        panic!("expected a plain result")
    };
    assert_eq!(result.structured_content.unwrap()["state"], "running");
    plain.cancel().await.unwrap();
}

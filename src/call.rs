//! `armature call`: an MCP client in the CLI (rmcp's), so an integrator or a CI script can
//! drive the arm without an assistant. With `--wait` a progress bar follows the task to its
//! end, and the exit status says how it ended.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value};

/// The default endpoint: `armature serve`'s default address.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7400/mcp";

/// How often `--wait` asks for the task's status.
const POLL: Duration = Duration::from_millis(200);

/// What `armature call` was asked.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// The tool (absent with `--list`).
    pub tool: Option<String>,
    /// `key=value` pairs, or one JSON object.
    pub params: Vec<String>,
    /// The MCP endpoint.
    pub url: String,
    /// The environment variable holding the bearer token.
    pub token_env: Option<String>,
    /// Follow the task to its end.
    pub wait: bool,
    /// List the tools instead of calling one.
    pub list: bool,
    /// Print structured content as JSON instead of the text.
    pub json: bool,
}

/// How a call ended; the process exits with its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Answered; with `--wait`, the task succeeded.
    Done = 0,
    /// The tool refused the call (nothing moved).
    Refused = 2,
    /// The task failed.
    Failed = 3,
    /// The task was cancelled or stopped.
    Cancelled = 4,
    /// The task was interrupted (the plugin stopped while it ran).
    Interrupted = 5,
}

/// Why a call could not be made (exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// A bad command line.
    #[error("{0}")]
    Usage(String),
    /// `--token-env` names an unset variable.
    #[error("--token-env {0}: the variable is not set")]
    TokenMissing(String),
    /// No MCP session.
    #[error("cannot open an MCP session at {url}: {reason}")]
    Connect {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
    /// A request failed at the protocol level.
    #[error("{tool}: {reason}")]
    Request {
        /// The tool called.
        tool: String,
        /// Why.
        reason: String,
    },
    /// The local runtime could not start.
    #[error("cannot start the client runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

type Client = RunningService<RoleClient, ()>;

/// Reads `key=value` pairs (each value JSON if it parses, else a string), or one JSON object.
pub fn parse_arguments(params: &[String]) -> Result<Map<String, Value>, CallError> {
    if let [only] = params {
        if only.trim_start().starts_with('{') {
            return match serde_json::from_str(only) {
                Ok(Value::Object(m)) => Ok(m),
                Ok(_) => Err(CallError::Usage(format!("{only} is not a JSON object"))),
                Err(e) => Err(CallError::Usage(format!("{only} is not valid JSON: {e}"))),
            };
        }
    }
    let mut args = Map::new();
    for p in params {
        let (key, raw) = p.split_once('=').ok_or_else(|| {
            CallError::Usage(format!(
                "\"{p}\" is not key=value (or give one JSON object, e.g. '{{\"slot\": 3}}')"
            ))
        })?;
        if key.is_empty() {
            return Err(CallError::Usage(format!("\"{p}\" has no key before '='")));
        }
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
        args.insert(key.to_owned(), value);
    }
    Ok(args)
}

/// Runs `armature call`; the ending says the exit status.
pub fn run(options: &CallOptions) -> Result<Ending, CallError> {
    let args = parse_arguments(&options.params)?;
    let token = match &options.token_env {
        Some(var) => Some(std::env::var(var).map_err(|_| CallError::TokenMissing(var.clone()))?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = connect(&options.url, token).await?;
        let ending = if options.list {
            list(&client, options.json).await
        } else {
            let tool = options
                .tool
                .clone()
                .ok_or_else(|| CallError::Usage("name a tool, or give --list".to_owned()))?;
            call(&client, &tool, args, options).await
        };
        let _ = client.cancel().await;
        ending
    })
}

async fn connect(url: &str, token: Option<String>) -> Result<Client, CallError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    config.auth_header = token;
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .map_err(|e| {
            let reason = e.to_string();
            CallError::Connect {
                url: url.to_owned(),
                // rmcp says "Auth required" for an HTTP 401; say what to do about it.
                reason: if reason.contains("Auth required") {
                    "HTTP 401: the server needs an operator's token (give --token-env VAR)"
                        .to_owned()
                } else {
                    reason
                },
            }
        })
}

async fn list(client: &Client, json: bool) -> Result<Ending, CallError> {
    let tools = client
        .list_all_tools()
        .await
        .map_err(|e| CallError::Request {
            tool: "tools/list".into(),
            reason: e.to_string(),
        })?;
    for t in tools {
        if json {
            println!("{}", serde_json::to_string(&t).unwrap_or_default());
        } else {
            let about = t
                .description
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or("");
            println!("{:<22} {about}", t.name);
        }
    }
    Ok(Ending::Done)
}

/// The first text of a result.
fn text_of(r: &CallToolResult) -> String {
    r.content
        .iter()
        .find_map(|c| c.as_text().map(|t| t.text.clone()))
        .unwrap_or_default()
}

async fn call_tool(
    client: &Client,
    tool: &str,
    args: Map<String, Value>,
) -> Result<CallToolResult, CallError> {
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await
        .map_err(|e| CallError::Request {
            tool: tool.to_owned(),
            reason: e.to_string(),
        })
}

async fn call(
    client: &Client,
    tool: &str,
    args: Map<String, Value>,
    options: &CallOptions,
) -> Result<Ending, CallError> {
    let answer = call_tool(client, tool, args).await?;
    let structured = answer.structured_content.clone().unwrap_or(Value::Null);
    if answer.is_error == Some(true) {
        if options.json {
            println!("{structured}");
        }
        eprintln!("{}", text_of(&answer));
        return Ok(Ending::Refused);
    }
    if options.json {
        println!("{structured}");
    } else {
        println!("{}", text_of(&answer));
    }
    let task = structured["task_id"].as_str().map(str::to_owned);
    match (options.wait, task) {
        (true, Some(task)) => {
            let record = follow(client, &task).await?;
            if options.json {
                println!("{record}");
            } else {
                println!("{}", record["message"].as_str().unwrap_or(""));
            }
            Ok(ending_of(record["state"].as_str().unwrap_or("")))
        }
        _ => Ok(Ending::Done),
    }
}

/// The exit status of a task that ended in `state`.
pub fn ending_of(state: &str) -> Ending {
    match state {
        "succeeded" => Ending::Done,
        "cancelled" => Ending::Cancelled,
        "interrupted" => Ending::Interrupted,
        _ => Ending::Failed,
    }
}

/// Follows a task to its end with a progress bar; Ctrl-C cancels the task (a controlled
/// stop) and goes on following it until it has ended.
async fn follow(client: &Client, task: &str) -> Result<Value, CallError> {
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos:>3}%  {wide_msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut cancelling = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let status = call_tool(client, "task_status", status_args(task)).await?;
        let record = status.structured_content.unwrap_or(Value::Null);
        if status.is_error == Some(true) {
            bar.abandon();
            return Err(CallError::Request {
                tool: "task_status".into(),
                reason: text_of_value(&record),
            });
        }
        let state = record["state"].as_str().unwrap_or("");
        bar.set_position(record["progress"].as_f64().unwrap_or(0.0).clamp(0.0, 100.0) as u64);
        bar.set_message(record["message"].as_str().unwrap_or("").to_owned());
        if !matches!(state, "running" | "queued" | "awaiting_confirmation") {
            bar.finish_and_clear();
            return Ok(record);
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = &mut ctrl_c, if !cancelling => {
                cancelling = true;
                bar.println("Ctrl-C: cancelling the task (a controlled stop)...");
                call_tool(client, "cancel_task", status_args(task)).await?;
            }
        }
    }
}

fn status_args(task: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("task_id".into(), Value::String(task.to_owned()));
    m
}

fn text_of_value(v: &Value) -> String {
    v["error"]["message"]
        .as_str()
        .map_or_else(|| v.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn key_value_pairs_take_json_values_else_strings() {
        let args = parse_arguments(&strings(&[
            "position=ready",
            "speed=0.1",
            "joints=[0,-1.57,0,-1.57,0,0]",
            "name=\"3\"",
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(args),
            serde_json::json!({"position": "ready", "speed": 0.1,
                "joints": [0, -1.57, 0, -1.57, 0, 0], "name": "3"})
        );
    }

    #[test]
    fn one_json_object_is_taken_whole() {
        let args = parse_arguments(&strings(&[r#"{"slot": 3}"#])).unwrap();
        assert_eq!(Value::Object(args), serde_json::json!({"slot": 3}));
    }

    #[test]
    fn a_word_without_equals_is_refused_by_name() {
        let err = parse_arguments(&strings(&["ready"])).unwrap_err();
        assert!(
            err.to_string().starts_with("\"ready\" is not key=value"),
            "{err}"
        );
    }

    #[test]
    fn each_end_state_has_its_exit_status() {
        assert_eq!(ending_of("succeeded") as u8, 0);
        assert_eq!(ending_of("failed") as u8, 3);
        assert_eq!(ending_of("cancelled") as u8, 4);
        assert_eq!(ending_of("interrupted") as u8, 5);
    }
}

//! A background call as a plain HTTP/1.1 client makes it (Python's `http.client`, curl):
//! once on a fresh connection per call, once on one kept-alive connection. A server that
//! writes a response in several small segments without TCP_NODELAY stalls the kept-alive
//! client for the peer's delayed ACK (about 40 ms); the fresh connection hides it.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::mcp;
use super::report::Summary;

/// The tool timed: the one that must never wait.
pub const TOOL: &str = "stop";

/// Latency of `TOOL` on both kinds of connection (ms).
#[derive(Debug, Serialize)]
pub struct KeepAlive {
    /// A new TCP connection for each call (connect included).
    pub fresh_ms: Summary,
    /// One connection for every call.
    pub kept_ms: Summary,
    /// Calls that failed, and the first few of them.
    pub errors: usize,
    /// As they were said.
    pub error_samples: Vec<String>,
}

/// One HTTP/1.1 connection to the plugin's MCP endpoint.
struct Conn {
    stream: BufReader<TcpStream>,
    authority: String,
    path: String,
}

/// `http://host:port/path` as (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url} is not an http:// URL"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Ok((authority.to_owned(), path.to_owned()))
}

impl Conn {
    async fn open(url: &str) -> Result<Self, String> {
        let (authority, path) = split_url(url)?;
        let stream = TcpStream::connect(&authority)
            .await
            .map_err(|e| format!("connect to {authority}: {e}"))?;
        Ok(Self {
            stream: BufReader::new(stream),
            authority,
            path,
        })
    }

    /// POSTs `body`; returns the status, the session id header if any, and the body.
    async fn post(
        &mut self,
        body: &Value,
        session: Option<&str>,
    ) -> Result<(u16, Option<String>, String), String> {
        let body = body.to_string();
        let mut head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n",
            self.path,
            self.authority,
            body.len()
        );
        if let Some(id) = session {
            head.push_str(&format!(
                "Mcp-Session-Id: {id}\r\nMcp-Protocol-Version: 2025-11-25\r\n"
            ));
        }
        // Head and body in one write, as http.client does: the client side adds no stall.
        let request = format!("{head}\r\n{body}");
        let io = |e: std::io::Error| e.to_string();
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .map_err(io)?;
        let mut line = String::new();
        self.stream.read_line(&mut line).await.map_err(io)?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not an HTTP status line: {line:?}"))?;
        let (mut length, mut chunked, mut session_id) = (None, false, None);
        loop {
            line.clear();
            self.stream.read_line(&mut line).await.map_err(io)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((name, value)) = l.split_once(':') else {
                continue;
            };
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.trim().eq_ignore_ascii_case("chunked"),
                "mcp-session-id" => session_id = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).await.map_err(io)?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("bad chunk size {line:?}"))?;
                let mut chunk = vec![0; size + 2]; // the data and its CRLF
                self.stream.read_exact(&mut chunk).await.map_err(io)?;
                if size == 0 {
                    break;
                }
                out.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(n) = length {
            out.resize(n, 0);
            self.stream.read_exact(&mut out).await.map_err(io)?;
        }
        Ok((
            status,
            session_id,
            String::from_utf8_lossy(&out).into_owned(),
        ))
    }
}

/// A session id, from an `initialize` and its `initialized` notification.
async fn open_session(url: &str) -> Result<String, String> {
    let mut c = Conn::open(url).await?;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "armature-bench-http1", "version": "1"}}});
    let (status, session, body) = c.post(&init, None).await?;
    let session =
        session.ok_or_else(|| format!("initialize answered {status} without a session: {body}"))?;
    let done = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    c.post(&done, Some(&session)).await?;
    Ok(session)
}

/// Times `n` calls of [`TOOL`] on each kind of connection, against a fresh plugin.
pub async fn measure(n: usize) -> Result<KeepAlive, String> {
    let plugin = mcp::start(None).await?;
    let session = open_session(&plugin.url).await?;
    let (mut errors, mut error_samples) = (0, vec![]);
    let mut call = |i: usize, r: Result<(u16, Option<String>, String), String>| match r {
        Ok((200, _, body)) if body.contains("\"result\"") && !body.contains("\"isError\":true") => {
            true
        }
        other => {
            errors += 1;
            if error_samples.len() < 3 {
                error_samples.push(format!("call {i}: {other:?}"));
            }
            false
        }
    };
    let request = |i: usize| json!({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": TOOL, "arguments": {}}});
    let mut fresh = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let r = match Conn::open(&plugin.url).await {
            Ok(mut c) => c.post(&request(i), Some(&session)).await,
            Err(e) => Err(e),
        };
        let took = t.elapsed().as_secs_f64() * 1e3;
        if call(i, r) {
            fresh.push(took);
        }
    }
    let mut kept = Vec::with_capacity(n);
    let mut c = Conn::open(&plugin.url).await?;
    for i in n..2 * n {
        let t = Instant::now();
        let r = c.post(&request(i), Some(&session)).await;
        let took = t.elapsed().as_secs_f64() * 1e3;
        if call(i, r) {
            kept.push(took);
        }
    }
    Ok(KeepAlive {
        fresh_ms: Summary::of(fresh),
        kept_ms: Summary::of(kept),
        errors,
        error_samples,
    })
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:7400/mcp"),
            Ok(("127.0.0.1:7400".into(), "/mcp".into()))
        );
        assert!(split_url("https://x/mcp").is_err());
    }
}

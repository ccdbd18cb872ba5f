//! The dashboard as an operator's browser sees it: headless Chromium (Debian's `chromium`,
//! driven through `chromedriver` over the W3C WebDriver protocol) on the plugin's page.
//! Two figures: from an arm state to the DOM showing it (the page keeps these, comparing
//! each state's time with its own clock), and from a STOP click to the stop handed to the
//! executor (the stop's answer is sent once the executor has it; the page times both).

use std::f64::consts::FRAC_PI_2;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::mcp;
use super::procs::{free_port, spawn_until, tool, wait_port, Proc};
use super::report::Summary;

/// A move long enough to stop in its middle.
const FAR: [f64; 6] = [2.0, -1.0, 1.0, -1.2, 0.5, 0.5];
const HOME: [f64; 6] = [0.0, -FRAC_PI_2, 0.0, -FRAC_PI_2, 0.0, 0.0];
/// The longest a WebDriver request may take (starting the browser included).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The dashboard's figures (ms).
#[derive(Debug, Serialize)]
pub struct Dashboard {
    /// Arm state → the page's DOM showing it.
    pub state_to_page_ms: Summary,
    /// STOP click → the stop's answer back in the page (the executor has the stop by then).
    pub stop_click_ms: Summary,
    /// The STOP request alone, from the browser's resource timing: sent → answer received.
    /// What the click adds beyond it is the page's own main thread (drawing the 3D view).
    pub stop_request_ms: Summary,
}

/// One WebDriver request on a fresh connection, bounded by [`REQUEST_TIMEOUT`].
async fn webdriver(port: u16, method: &str, path: &str, body: &Value) -> Result<Value, String> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(port, method, path, body))
        .await
        .map_err(|_| {
            format!("chromedriver did not answer {method} {path} within {REQUEST_TIMEOUT:?}")
        })?
}

/// Sends the request and reads the answer's head, then exactly its `Content-Length`.
async fn exchange(port: u16, method: &str, path: &str, body: &Value) -> Result<Value, String> {
    let body = body.to_string();
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("chromedriver: {e}"))?;
    let mut tcp = BufReader::new(tcp);
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let io = |e: std::io::Error| format!("chromedriver: {e}");
    tcp.get_mut()
        .write_all(request.as_bytes())
        .await
        .map_err(io)?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if tcp.read_line(&mut line).await.map_err(io)? == 0 {
            return Err("chromedriver closed the connection before its answer".into());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad length: {line}"))?;
            }
        }
    }
    let mut buf = vec![0u8; length];
    tcp.read_exact(&mut buf).await.map_err(io)?;
    let v: Value = serde_json::from_slice(&buf).map_err(|e| format!("chromedriver: {e}"))?;
    if v["value"]["error"].is_string() {
        return Err(format!("chromedriver {path}: {}", v["value"]["message"]));
    }
    Ok(v["value"].clone())
}

/// A browser session on one chromedriver.
struct Browser {
    port: u16,
    session: String,
    _driver: Proc,
}

impl Browser {
    async fn start() -> Result<Self, String> {
        let driver = tool("chromedriver", "chromium-driver")?;
        let chromium = tool("chromium", "chromium")?;
        let port = free_port()?;
        let mut cmd = Command::new(driver);
        cmd.arg(format!("--port={port}"));
        let (proc, _) = spawn_until(cmd, "", Duration::ZERO)?;
        wait_port(port, "chromedriver", Duration::from_secs(10))?;
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": ["--headless=new", "--no-sandbox",
                "--disable-dev-shm-usage", "--window-size=1400,1000", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader"]}}}});
        let v = webdriver(port, "POST", "/session", &caps).await?;
        let session = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session from chromedriver: {v}"))?
            .to_owned();
        Ok(Self {
            port,
            session,
            _driver: proc,
        })
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let path = format!("/session/{}{path}", self.session);
        webdriver(self.port, "POST", &path, &body).await
    }

    async fn run(&self, script: &str) -> Result<Value, String> {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Waits for `script` to return true.
    async fn until(&self, what: &str, script: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.run(script).await? == Value::Bool(true) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("the page never showed {what}"))
    }

    async fn quit(&self) {
        let path = format!("/session/{}", self.session);
        let _ = webdriver(self.port, "DELETE", &path, &json!({})).await;
    }
}

/// Runs `stops` moves on the simulator, each stopped by a click, watched by the page.
pub async fn measure(stops: usize) -> Result<Dashboard, String> {
    let plugin = mcp::start(None).await?;
    let page = plugin.url.trim_end_matches("/mcp").to_owned() + "/";
    let client = mcp::connect(&plugin.url).await?;
    let browser = Browser::start().await?;
    let result = watch(&browser, &client, &page, stops).await;
    browser.quit().await;
    let _ = client.cancel().await;
    result
}

async fn watch(
    b: &Browser,
    c: &mcp::Client,
    page: &str,
    stops: usize,
) -> Result<Dashboard, String> {
    b.post("/url", json!({"url": page})).await?;
    b.until(
        "the joints",
        "return document.querySelectorAll('#joints td.joint').length === 6",
    )
    .await?;
    // The figures start once the page is up: three.js loaded, the first frames drawn.
    b.until(
        "the 3D view",
        "return document.querySelector('#view canvas') !== null",
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    b.run("window.armatureLatencies = []").await?;
    let stop = b
        .post(
            "/element",
            json!({"using": "css selector", "value": "#stop"}),
        )
        .await?;
    let stop = stop[ELEMENT]
        .as_str()
        .ok_or("no STOP button on the page")?
        .to_owned();
    let mut clicks = vec![];
    let mut requests = vec![];
    for i in 0..stops {
        let target = if i % 2 == 0 { FAR } else { HOME };
        let ack = mcp::ok(c, "move_joints", json!({"joints": target})).await?;
        b.until(
            "the task moving",
            "return Number(document.getElementById('task-progress').getAttribute('aria-valuenow')) > 5",
        )
        .await?;
        b.run("window.armatureStopTimes = null").await?;
        b.post(&format!("/element/{stop}/click"), json!({})).await?;
        b.until("the stop's answer", "return !!window.armatureStopTimes")
            .await?;
        let t = b.run("return window.armatureStopTimes").await?;
        if let (Some(a), Some(z)) = (t["clicked"].as_f64(), t["answered"].as_f64()) {
            clicks.push(z - a);
        }
        if let Some(r) = t["request_ms"].as_f64() {
            requests.push(r);
        }
        let task = ack["task_id"].as_str().unwrap_or_default();
        let end = mcp::wait_done(c, task, Duration::from_millis(50)).await?;
        if end["state"] != "cancelled" {
            return Err(format!("a stopped task ended {}", end["state"]));
        }
    }
    let lat = b.run("return window.armatureLatencies").await?;
    let lat: Vec<f64> = lat
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    Ok(Dashboard {
        state_to_page_ms: Summary::of(lat),
        stop_click_ms: Summary::of(clicks),
        stop_request_ms: Summary::of(requests),
    })
}

//! The plugin on its simulator: start-up, footprint, acknowledgement latency, status under
//! load, the executor's own wake-up latency beside cyclictest, motion timing, and what
//! durability costs.

use std::f64::consts::FRAC_PI_2;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::cyclictest::{Cyclictest, Wakeups};
use super::floor::TOOL as FLOOR_TOOL;
use super::mcp::{self, Client};
use super::procs::{rss_mib, CpuWindow};
use super::report::Summary;

/// How long and how much: the full run, or `--quick`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Scale {
    /// Seconds of the idle window.
    pub idle_s: u64,
    /// Motion calls timed.
    pub acks: usize,
    /// Seconds of the status load.
    pub load_s: u64,
    /// Concurrent status clients.
    pub clients: usize,
    /// Status requests per second, all clients together.
    pub rate: f64,
}

/// Two poses a 3 s move goes between (UR5e home, and one away from it).
const A: [f64; 6] = [0.0, -FRAC_PI_2, 0.0, -FRAC_PI_2, 0.0, 0.0];
const B: [f64; 6] = [1.8, -FRAC_PI_2 + 0.5, 0.5, -FRAC_PI_2 + 0.3, 0.3, 0.3];

/// Figures of the idle plugin, its acknowledgements and one motion.
#[derive(Debug, Serialize)]
pub struct Quiet {
    /// Spawn to first answered tools/list (ms).
    pub startup_ms: f64,
    /// Resident memory idle, and at the end of a motion (MiB).
    pub rss_idle_mib: f64,
    /// The same during a motion.
    pub rss_moving_mib: f64,
    /// CPU idle and during a motion (% of one core).
    pub cpu_idle_pct: f64,
    /// CPU of the whole process during a motion.
    pub cpu_moving_pct: f64,
    /// The executor's figures over the idle window (`robot_state.realtime`).
    pub executor_idle: Value,
    /// cyclictest over the same window, and when its wake-ups came a period or more late.
    pub cyclictest_idle: Result<Wakeups, String>,
    /// Motion-call acknowledgements (ms).
    pub ack_ms: Summary,
    /// The minimal rmcp server's no-op call, one before each ack (ms).
    pub ack_floor_rmcp_ms: Summary,
    /// The same calls inside the plugin: arguments in to result out (ms, from its audit log).
    pub ack_inside_ms: Summary,
    /// Refused or failed calls among them.
    pub ack_errors: usize,
    /// The first few of those, as they were said.
    pub ack_error_samples: Vec<String>,
    /// A motion's planned seconds.
    pub move_s: f64,
    /// CPU of the durability threads (supervisor, variables writer) during a motion.
    pub durability_cpu_pct: f64,
    /// fsyncs per second during the motion (2 per variables write, 1 per journal append).
    pub fsyncs_per_s: f64,
    /// Variables writes per second during the motion.
    pub var_writes_per_s: f64,
}

/// Figures under the status load.
#[derive(Debug, Serialize)]
pub struct Loaded {
    /// `task_status` latency (ms).
    pub status_ms: Summary,
    /// The same calls inside the plugin (ms, from its audit log).
    pub status_inside_ms: Summary,
    /// Requests refused or failed.
    pub errors: usize,
    /// The first few of those.
    pub error_samples: Vec<String>,
    /// Calls per second achieved, to whichever server the second's turn was.
    pub achieved_rate: f64,
    /// The minimal rmcp server's no-op call under the same load, in the odd seconds (ms).
    pub floor_ms: Summary,
    /// Its failed calls.
    pub floor_errors: usize,
    /// The executor's figures over the load.
    pub executor_load: Value,
    /// cyclictest over the same window, and when its wake-ups came a period or more late.
    pub cyclictest_load: Result<Wakeups, String>,
    /// When the executor's overrun count rose during the load (s since its start; polled
    /// every 100 ms, one entry per overrun).
    pub overruns_at_s: Vec<f64>,
    /// Planned vs actual seconds of each move that ran under the load.
    pub moves: Vec<(f64, f64)>,
}

/// cyclictest beside the executor, when the executor is real-time (cyclictest needs the
/// same permission, and a comparison with a normal-priority loop would mean nothing).
fn cyclictest(rate_hz: u32, priority: Option<u8>, window: Duration) -> Result<Cyclictest, String> {
    match priority {
        Some(p) => Cyclictest::start(rate_hz, p, window),
        None => Err(NOT_REALTIME.into()),
    }
}

/// Why there is no cyclictest reference on a machine without real-time permission.
pub const NOT_REALTIME: &str = "not run: no SCHED_FIFO permission here, for the executor either (run as root, or grant CAP_SYS_NICE or an RLIMIT_RTPRIO of 80)";

/// `priority` if the plugin's executor got SCHED_FIFO, else `None` (no permission here).
async fn realtime_priority(c: &Client, priority: u8) -> Result<Option<u8>, String> {
    let st = mcp::ok(c, "robot_state", json!({})).await?;
    Ok((st["realtime"]["realtime"] == true).then_some(priority))
}

/// Polls the executor's overrun count every 100 ms for `window`: when it rose, in seconds
/// since `since`, once per overrun.
async fn watch_overruns(c: Client, since: Instant, window: Duration) -> Result<Vec<f64>, String> {
    let count = |st: &Value| st["realtime"]["overruns"].as_u64().unwrap_or(0);
    let mut last = count(&mcp::ok(&c, "robot_state", json!({})).await?);
    let mut at = vec![];
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    while since.elapsed() < window {
        tick.tick().await;
        let now = count(&mcp::ok(&c, "robot_state", json!({})).await?);
        let t = since.elapsed().as_secs_f64();
        at.extend((last..now).map(|_| t));
        last = last.max(now);
    }
    let _ = c.cancel().await;
    Ok(at)
}

fn realtime(state: &Value) -> Value {
    state["realtime"].clone()
}

async fn position(c: &Client) -> Result<Vec<f64>, String> {
    let st = mcp::ok(c, "robot_state", json!({})).await?;
    serde_json::from_value(st["positions"].clone()).map_err(|e| e.to_string())
}

fn seconds_between(a: &Value, b: &Value) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let t = |v: &Value| time::OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok();
    Some((t(b)? - t(a)?).as_seconds_f64())
}

/// One move to `target`: its planned and actual seconds.
async fn timed_move(c: &Client, target: &[f64]) -> Result<(f64, f64), String> {
    let ack = mcp::ok(c, "move_joints", json!({"joints": target})).await?;
    finish_move(c, ack).await
}

/// Waits for the move acknowledged by `ack`: its planned and actual seconds.
async fn finish_move(c: &Client, ack: Value) -> Result<(f64, f64), String> {
    let planned = ack["eta_s"].as_f64().unwrap_or(0.0);
    let id = ack["task_id"].as_str().unwrap_or_default().to_owned();
    let rec = mcp::wait_done(c, &id, Duration::from_millis(20)).await?;
    if rec["state"] != "succeeded" {
        return Err(format!(
            "a benchmark move ended {}: {}",
            rec["state"], rec["message"]
        ));
    }
    let actual = seconds_between(&rec["created_at"], &rec["finished_at"]).unwrap_or(f64::NAN);
    Ok((planned, actual))
}

/// The idle plugin, acknowledgements, and one motion's costs. Each ack is preceded by a
/// call to the minimal rmcp server at `floor_url`, so the ack and its floor see the same
/// moments of the machine.
pub async fn quiet(
    scale: Scale,
    rate_hz: u32,
    priority: u8,
    floor_url: &str,
) -> Result<Quiet, String> {
    let floor = mcp::connect(floor_url).await?;
    let plugin = mcp::start(None).await?;
    let pid = plugin.proc.pid();
    let c = mcp::connect(&plugin.url).await?;
    let priority = realtime_priority(&c, priority).await?;

    // Idle: nothing asked of it; cyclictest beside it.
    let idle_start = Instant::now();
    let cyc = cyclictest(rate_hz, priority, Duration::from_secs(scale.idle_s));
    let cpu = CpuWindow::start(pid, None);
    tokio::time::sleep(Duration::from_secs(scale.idle_s) + Duration::from_millis(200)).await;
    let cpu_idle_pct = cpu.percent();
    let rss_idle_mib = rss_mib(pid);
    let executor_idle = realtime(&mcp::ok(&c, "robot_state", json!({})).await?);
    let cyclictest_idle = cyc.and_then(|c| c.finish(idle_start));

    // Acknowledgements: a move to where the arm stands ends within a few cycles; only the
    // call is timed.
    let here = position(&c).await?;
    for _ in 0..10 {
        mcp::ok(&floor, FLOOR_TOOL, json!({})).await?;
    }
    let mut acks = Vec::with_capacity(scale.acks);
    let mut floor_ms = Vec::with_capacity(scale.acks);
    let (mut ack_errors, mut ack_error_samples) = (0, vec![]);
    for _ in 0..scale.acks {
        let t = Instant::now();
        mcp::ok(&floor, FLOOR_TOOL, json!({})).await?;
        floor_ms.push(t.elapsed().as_secs_f64() * 1e3);
        let t = Instant::now();
        let r = mcp::call(&c, "move_joints", json!({"joints": here})).await;
        let took = t.elapsed().as_secs_f64() * 1e3;
        match r {
            Ok((false, ack)) => {
                acks.push(took);
                let id = ack["task_id"].as_str().unwrap_or_default().to_owned();
                mcp::wait_done(&c, &id, Duration::from_millis(1)).await?;
            }
            other => {
                ack_errors += 1;
                if ack_error_samples.len() < 5 {
                    ack_error_samples.push(format!("{other:?}"));
                }
            }
        }
    }

    // One motion: what the process and its durability threads spend, and how often it syncs.
    let before = mcp::ok(&c, "robot_state", json!({})).await?;
    let all = CpuWindow::start(pid, None);
    let durable = CpuWindow::start(pid, Some(vec!["armature-superv", "armature-vars"]));
    let t = Instant::now();
    let (move_s, _) = timed_move(&c, &B).await?;
    let rss_moving_mib = rss_mib(pid);
    let (cpu_moving_pct, durability_cpu_pct) = (all.percent(), durable.percent());
    let took = t.elapsed().as_secs_f64();
    let after = mcp::ok(&c, "robot_state", json!({})).await?;
    let delta = |k: &str| {
        after["durability"][k].as_f64().unwrap_or(0.0)
            - before["durability"][k].as_f64().unwrap_or(0.0)
    };
    let (writes, appends) = (delta("variable_writes"), delta("journal_appends"));
    let _ = c.cancel().await;
    let _ = floor.cancel().await;
    let mut inside = plugin.handling_ms("move_joints");
    inside.truncate(scale.acks);
    Ok(Quiet {
        ack_inside_ms: Summary::of(inside),
        startup_ms: plugin.startup.as_secs_f64() * 1e3,
        rss_idle_mib,
        rss_moving_mib,
        cpu_idle_pct,
        cpu_moving_pct,
        executor_idle,
        cyclictest_idle,
        ack_ms: Summary::of(acks),
        ack_floor_rmcp_ms: Summary::of(floor_ms),
        ack_errors,
        ack_error_samples,
        move_s,
        durability_cpu_pct,
        fsyncs_per_s: (2.0 * writes + appends) / took,
        var_writes_per_s: writes / took,
    })
}

/// Whether a status-load call made now goes to the plugin: in the even seconds of the
/// window it does, in the odd ones the same clients call the minimal rmcp server, so both
/// take the same load while the arm moves.
fn plugins_turn(started: Instant) -> bool {
    started.elapsed().as_secs() % 2 == 0
}

/// Latencies of one client's calls to one server (ms), its failures and the first few.
#[derive(Default)]
struct Calls {
    ms: Vec<f64>,
    errors: usize,
    samples: Vec<String>,
}

impl Calls {
    /// Times `call`'s answer; a refusal or failure is counted.
    async fn time<F>(&mut self, call: F)
    where
        F: std::future::Future<Output = Result<(bool, Value), String>>,
    {
        let t = Instant::now();
        match call.await {
            Ok((false, _)) => self.ms.push(t.elapsed().as_secs_f64() * 1e3),
            other => {
                self.errors += 1;
                if self.samples.len() < 3 {
                    self.samples.push(format!("{other:?}"));
                }
            }
        }
    }

    fn join(&mut self, other: Calls) {
        self.ms.extend(other.ms);
        self.errors += other.errors;
        self.samples.extend(other.samples);
    }
}

/// `task_status` from many clients at a fixed total rate while the arm moves back and forth,
/// taking turns by the second with the minimal rmcp server at `floor_url`.
pub async fn loaded(
    scale: Scale,
    rate_hz: u32,
    priority: u8,
    floor_url: &str,
) -> Result<Loaded, String> {
    let plugin = mcp::start(None).await?;
    let url = Arc::new(plugin.url.clone());
    let driver = mcp::connect(&url).await?;
    let priority = realtime_priority(&driver, priority).await?;
    let window = Duration::from_secs(scale.load_s);
    // The first move is under way before the load starts, so every status call has a task.
    let first = mcp::ok(&driver, "move_joints", json!({"joints": B})).await?;
    let cyc = cyclictest(rate_hz, priority, window);
    let started = Instant::now();
    let overruns = tokio::spawn(watch_overruns(mcp::connect(&url).await?, started, window));

    let mut clients = vec![];
    for _ in 0..scale.clients {
        let (c, f) = (mcp::connect(&url).await?, mcp::connect(floor_url).await?);
        let period = Duration::from_secs_f64(scale.clients as f64 / scale.rate);
        clients.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let (mut status, mut floor) = (Calls::default(), Calls::default());
            while started.elapsed() < window {
                tick.tick().await;
                if plugins_turn(started) {
                    status.time(mcp::call(&c, "task_status", json!({}))).await;
                } else {
                    floor.time(mcp::call(&f, FLOOR_TOOL, json!({}))).await;
                }
            }
            let _ = c.cancel().await;
            let _ = f.cancel().await;
            (status, floor)
        }));
    }
    // The arm keeps moving for the whole window.
    let mut moves = vec![finish_move(&driver, first).await?];
    let mut to_b = false;
    while started.elapsed() < window {
        moves.push(timed_move(&driver, if to_b { &B } else { &A }).await?);
        to_b = !to_b;
    }
    let (mut status, mut floor) = (Calls::default(), Calls::default());
    for h in clients {
        let (s, f) = h.await.map_err(|e| e.to_string())?;
        status.join(s);
        floor.join(f);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let executor_load = realtime(&mcp::ok(&driver, "robot_state", json!({})).await?);
    let overruns_at_s = overruns.await.map_err(|e| e.to_string())??;
    let _ = driver.cancel().await;
    // Entries reach the file at once; give the writer a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(Loaded {
        status_inside_ms: Summary::of(plugin.handling_ms("task_status")),
        achieved_rate: (status.ms.len() + status.errors + floor.ms.len() + floor.errors) as f64
            / elapsed,
        status_ms: Summary::of(status.ms),
        errors: status.errors,
        error_samples: status.samples,
        floor_ms: Summary::of(floor.ms),
        floor_errors: floor.errors,
        executor_load,
        cyclictest_load: cyc.and_then(|c| c.finish(started)),
        overruns_at_s,
        moves,
    })
}

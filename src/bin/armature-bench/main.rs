//! `armature-bench`: measures Armature against its machine and against the tools a user
//! would pick instead, side by side in one run. Prints a Markdown table; writes the raw
//! figures as JSON.
//!
//!     cargo build --release --workspace --bins
//!     cargo run --release --bin armature-bench [-- --quick] [--json FILE]

mod cyclictest;
mod dashboard;
mod disk;
mod floor;
mod keepalive;
mod kinematics;
mod mcp;
mod modbus;
mod plugin;
mod procs;
mod ratios;
mod report;
mod ros;
mod sparkplug;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde_json::{json, Value};

use cyclictest::Wakeups;
use plugin::Scale;
use report::{Row, Summary};

/// Measures Armature and references, side by side.
#[derive(Debug, Parser)]
#[command(name = "armature-bench", version, about)]
struct Args {
    /// A few seconds per figure instead of the full run (CI uses it so that every row
    /// keeps producing a number).
    #[arg(long)]
    quick: bool,
    /// Where the raw results go.
    #[arg(long, default_value = "target/armature-bench.json")]
    json: PathBuf,
    /// Exit non-zero when a row has no figure (not when a target is missed).
    #[arg(long)]
    check: bool,
    /// Serve a reference server for the floor rows instead (the bench starts itself so).
    #[arg(long, hide = true, value_enum)]
    floor_server: Option<floor::Kind>,
}

/// The executor's rate and priority in the built-in configuration.
const RATE_HZ: u32 = 500;
const PRIORITY: u8 = 80;

fn ms(s: &Summary) -> String {
    format!("p50 {:.2} / p99 {:.2} ms (n={})", s.p50, s.p99, s.n)
}

fn us3(v: &Value) -> (f64, f64, f64) {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    (
        f("latency_p50_us"),
        f("latency_p99_us"),
        f("latency_p999_us"),
    )
}

/// The executor's wake-up latency beside cyclictest's. With `overruns_at_s` (when the
/// executor overran), overruns with no deadline missed by cyclictest within a second are counted
/// as the executor's own.
fn executor_row(
    when: &str,
    ex: &Value,
    cyc: &Result<Wakeups, String>,
    overruns_at_s: Option<&[f64]>,
) -> Row {
    let (p50, p99, p999) = us3(ex);
    let overruns = ex["overruns"].as_u64().unwrap_or(u64::MAX);
    let armature = Some(format!(
        "p50 {p50:.0} / p99 {p99:.0} / p99.9 {p999:.0} / max {:.0} µs, {overruns} overruns in {} cycles",
        ex["latency_max_us"].as_f64().unwrap_or(f64::NAN),
        ex["cycles"].as_u64().unwrap_or(0)
    ));
    let figure = format!("executor wake-up latency at {RATE_HZ} Hz, {when}");
    let target = "p99 ≤ 1.2 × cyclictest p99; overruns ≤ cyclictest's missed deadlines";
    match cyc {
        Ok(w) => {
            let (c, missed) = (&w.latency, w.missed_at_s.len() as u64);
            let ours = overruns_at_s
                .map(|at| {
                    format!(
                        "; {} of the executor's overruns had no deadline missed by cyclictest within 1 s",
                        cyclictest::unexplained(at, &w.missed_at_s, 1.0)
                    )
                })
                .unwrap_or_default();
            let reference = format!(
                "cyclictest, a thread on each CPU: p50 {:.0} / p99 {:.0} / p99.9 {:.0} / max {:.0} µs, {missed} deadlines missed{ours}",
                c.p50, c.p99, c.p999, c.max
            );
            let met = p99 <= 1.2 * c.p99.max(1.0) && overruns <= missed;
            Row::beside(
                figure,
                armature,
                reference,
                p99 / c.p99.max(1.0),
                target,
                met,
            )
        }
        // Without real-time permission the figure stands alone; that is the machine, not a
        // missing component.
        Err(e) if e == plugin::NOT_REALTIME => Row {
            figure,
            armature,
            reference: format!("cyclictest {e}"),
            ratio: None,
            target: target.into(),
            met: None,
            error: None,
        },
        Err(e) => Row {
            figure,
            armature,
            reference: format!("cyclictest: {e}"),
            ratio: None,
            target: target.into(),
            met: None,
            error: Some(format!("no reference: {e}")),
        },
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(kind) = args.floor_server {
        return match floor::serve(kind).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("armature-bench: the floor server failed: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let scale = if args.quick {
        Scale {
            idle_s: 1,
            acks: 50,
            load_s: 3,
            clients: 8,
            rate: 1000.0,
        }
    } else {
        Scale {
            idle_s: 10,
            acks: 1000,
            load_s: 30,
            clients: 8,
            rate: 1000.0,
        }
    };
    let mut rows = vec![];
    let mut raw = json!({"scale": scale, "quick": args.quick});

    eprintln!("armature-bench: IK, linear planning and path checks in process…");
    rows.extend(kinematics::rows(args.quick, &mut raw));

    eprintln!(
        "armature-bench: the floors: a minimal rmcp server and a bare axum handler ({} calls each), fdatasync on this disk…",
        scale.acks
    );
    let floors = floor::measure(scale.acks).await;
    let syncs = disk::measure(scale.acks);
    rows.extend(ratios::floors(&floors, &syncs));
    raw["floors"] = json!({
        "transport": floors.as_ref().ok(),
        "fdatasync": syncs.as_ref().ok(),
    });

    eprintln!(
        "armature-bench: the idle plugin, {} motion calls, one motion…",
        scale.acks
    );
    // The minimal rmcp server again, called between the acks and in turns with the status
    // load: the plugin's rows and their floor see the same moments of the machine.
    let beside = floor::start(floor::Kind::Rmcp)
        .map_err(|e| format!("the minimal rmcp server beside the plugin: {e}"));
    let quiet = match &beside {
        Ok(server) => plugin::quiet(scale, RATE_HZ, PRIORITY, &server.url).await,
        Err(e) => Err(e.clone()),
    };
    match quiet {
        Ok(q) => {
            rows.push(ratios::ack(&q, &floors, &syncs));
            rows.push(executor_row(
                "idle",
                &q.executor_idle,
                &q.cyclictest_idle,
                None,
            ));
            rows.push(Row {
                figure: "start-up: spawn to first answered tools/list".into(),
                armature: Some(format!("{:.0} ms", q.startup_ms)),
                reference: String::new(),
                ratio: None,
                target: "≤ 200 ms".into(),
                met: Some(q.startup_ms <= 200.0),
                error: None,
            });
            rows.push(Row {
                figure: "resident memory (RSS), idle / during a motion".into(),
                armature: Some(format!(
                    "{:.1} / {:.1} MiB",
                    q.rss_idle_mib, q.rss_moving_mib
                )),
                reference: String::new(),
                ratio: None,
                target: "≤ 25 MB".into(),
                met: Some(q.rss_idle_mib.max(q.rss_moving_mib) * 1.048_576 <= 25.0),
                error: None,
            });
            rows.push(Row {
                figure: "CPU, idle / during a motion (% of one core)".into(),
                armature: Some(format!(
                    "{:.2} % / {:.2} %",
                    q.cpu_idle_pct, q.cpu_moving_pct
                )),
                reference: String::new(),
                ratio: None,
                target: "idle ≤ 1 %".into(),
                met: Some(q.cpu_idle_pct <= 1.0),
                error: None,
            });
            rows.push(Row {
                figure: "durability: progress mirroring and journal during a motion".into(),
                armature: Some(format!(
                    "{:.2} % of a core; {:.1} fsyncs/s ({:.1} variable writes/s)",
                    q.durability_cpu_pct, q.fsyncs_per_s, q.var_writes_per_s
                )),
                reference: String::new(),
                ratio: None,
                target: "≤ 2 % of a core".into(),
                met: Some(q.durability_cpu_pct <= 2.0),
                error: None,
            });
            raw["quiet"] = serde_json::to_value(&q).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed("the idle plugin, acks, footprint", "", e)),
    }

    eprintln!(
        "armature-bench: {} over plain HTTP/1.1, {} calls on fresh and on kept-alive connections…",
        keepalive::TOOL,
        scale.acks
    );
    match keepalive::measure(scale.acks).await {
        Ok(k) => {
            let tool = keepalive::TOOL;
            let errors = if k.errors == 0 {
                String::new()
            } else {
                format!(", {} failed: {}", k.errors, k.error_samples.join("; "))
            };
            rows.push(Row {
                figure: format!("`{tool}` over plain HTTP/1.1, a fresh connection per call"),
                armature: Some(format!("{} (connect included){errors}", ms(&k.fresh_ms))),
                reference: String::new(),
                ratio: None,
                target: "—".into(),
                met: None,
                error: None,
            });
            rows.push(Row {
                figure: format!(
                    "`{tool}` over plain HTTP/1.1, one kept-alive connection (as Python's http.client)"
                ),
                armature: Some(format!("{}{errors}", ms(&k.kept_ms))),
                reference: format!("fresh connection per call p50 {:.2} ms", k.fresh_ms.p50),
                ratio: Some(k.kept_ms.p50 / k.fresh_ms.p50.max(1e-6)),
                target: "p50 ≤ the fresh connection's (no Nagle stall)".into(),
                met: Some(k.kept_ms.p50 <= k.fresh_ms.p50 && k.errors == 0),
                error: None,
            });
            raw["keepalive"] = serde_json::to_value(&k).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed(
            "`stop` over plain HTTP/1.1, kept-alive vs fresh connection",
            "p50 ≤ the fresh connection's",
            e,
        )),
    }

    eprintln!(
        "armature-bench: task_status load, {} clients at {:.0}/s for {} s…",
        scale.clients, scale.rate, scale.load_s
    );
    let loaded = match &beside {
        Ok(server) => plugin::loaded(scale, RATE_HZ, PRIORITY, &server.url).await,
        Err(e) => Err(e.clone()),
    };
    match loaded {
        Ok(l) => {
            rows.push(ratios::status(&l, scale.clients, scale.rate));
            rows.push(executor_row(
                "under that load",
                &l.executor_load,
                &l.cyclictest_load,
                Some(&l.overruns_at_s),
            ));
            let worst = l
                .moves
                .iter()
                .map(|(p, a)| 100.0 * (a - p) / p)
                .fold(0.0f64, |w, e| if e.abs() > w.abs() { e } else { w });
            rows.push(Row {
                figure: format!("motion timing under that load ({} moves)", l.moves.len()),
                armature: l
                    .moves
                    .first()
                    .map(|(p, a)| format!("planned {p:.2} s, took {a:.3} s; worst {worst:+.2} %")),
                reference: String::new(),
                ratio: None,
                target: "within 2 %".into(),
                met: (!l.moves.is_empty()).then_some(worst.abs() <= 2.0),
                error: l
                    .moves
                    .is_empty()
                    .then(|| "no move finished in the window".into()),
            });
            raw["loaded"] = serde_json::to_value(&l).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed("task_status load", "p99 ≤ 2 ms", e)),
    }

    let reads = if args.quick { 300 } else { 10_000 };
    eprintln!("armature-bench: Modbus, {reads} reads each, in each placement…");
    match modbus::measure(reads).await {
        Ok(placed) => {
            rows.extend(modbus::rows(&placed));
            raw["modbus"] = serde_json::to_value(&placed).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed("Modbus state poll", "p50 ≤ 1.5 × plain TCP", e)),
    }

    let window = Duration::from_secs(if args.quick { 2 } else { 15 });
    eprintln!(
        "armature-bench: ROS joint states for {} s…",
        window.as_secs()
    );
    match ros::measure(window).await {
        Ok(r) => {
            rows.push(Row {
                figure: "ROS joint-state latency: armsim-ros publish → the cycle sees it".into(),
                armature: Some(format!(
                    "p50 {:.2} / p99 {:.2} ms ({} states)",
                    r.state_age_p50_us / 1e3,
                    r.state_age_p99_us / 1e3,
                    r.states_seen
                )),
                reference: match &r.rospy_delay_ms {
                    Ok(d) => format!(
                        "rospy subscriber (rostopic delay's method): p50 {:.2} / p99 {:.2} ms",
                        d.p50, d.p99
                    ),
                    Err(e) => format!("rospy subscriber: {e}"),
                },
                ratio: r
                    .rospy_delay_ms
                    .as_ref()
                    .ok()
                    .map(|d| r.state_age_p50_us / 1e3 / d.p50.max(1e-6)),
                target: "—".into(),
                met: None,
                error: r
                    .rospy_delay_ms
                    .as_ref()
                    .err()
                    .map(|e| format!("no reference: {e}")),
            });
            raw["ros"] = serde_json::to_value(&r).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed("ROS joint-state latency", "—", e)),
    }

    let moves = if args.quick { 2 } else { 10 };
    eprintln!("armature-bench: Sparkplug B through Mosquitto, {moves} moves…");
    match sparkplug::measure(moves, if args.quick { 100 } else { 1000 }).await {
        Ok(f) => {
            let s = &f.state_to_subscriber_ms;
            rows.push(Row {
                figure: "state-to-subscriber latency through Mosquitto (Sparkplug DDATA)".into(),
                armature: Some(format!(
                    "{} over {} moves, {} DDATA (ms-resolution timestamps)",
                    ms(s),
                    f.moves,
                    f.ddata
                )),
                reference: format!(
                    "plain MQTT publish → subscribe through the same broker: {}",
                    ms(&f.mqtt_round_ms)
                ),
                ratio: Some(s.p50 / f.mqtt_round_ms.p50.max(1e-6)),
                target: "p99 ≤ 100 ms (one 10 Hz report period)".into(),
                met: Some(s.n > 0 && s.p99 <= 100.0),
                error: (s.n == 0).then(|| "no DDATA reached the subscriber".into()),
            });
            raw["sparkplug"] = serde_json::to_value(&f).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed(
            "state-to-subscriber latency through Mosquitto",
            "p99 ≤ 100 ms",
            e,
        )),
    }

    let stops = if args.quick { 3 } else { 10 };
    eprintln!(
        "armature-bench: the dashboard in headless Chromium, {stops} moves stopped by a click…"
    );
    match dashboard::measure(stops).await {
        Ok(d) => {
            let s = &d.state_to_page_ms;
            rows.push(Row {
                figure: "state-to-page latency: arm state → the dashboard's DOM (Chromium)".into(),
                armature: Some(ms(s)),
                reference: "one 25 Hz frame: 40 ms".into(),
                ratio: Some(s.p50 / 40.0),
                target: "—".into(),
                met: None,
                error: (s.n == 0).then(|| "the page showed no arm state".into()),
            });
            let (k, r) = (&d.stop_click_ms, &d.stop_request_ms);
            rows.push(Row {
                figure: "STOP click → stop handed to the executor (its answer in the page)".into(),
                armature: Some(ms(k)),
                // The rest of the click is the page's main thread, busy drawing the 3D view.
                reference: format!("the request alone: {}", ms(r)),
                ratio: (r.n > 0 && r.p50 > 0.0).then(|| k.p50 / r.p50),
                target: "—".into(),
                met: None,
                error: (k.n == 0).then(|| "no stop was answered".into()),
            });
            raw["dashboard"] = serde_json::to_value(&d).unwrap_or(Value::Null);
        }
        Err(e) => rows.push(Row::failed(
            "dashboard: state-to-page and STOP-click latency",
            "—",
            e,
        )),
    }

    let table = report::table(&rows);
    println!("{table}");
    raw["rows"] = serde_json::to_value(&rows).unwrap_or(Value::Null);
    if let Some(dir) = args.json.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(
        &args.json,
        serde_json::to_vec_pretty(&raw).unwrap_or_default(),
    ) {
        Ok(()) => eprintln!("armature-bench: raw results in {}", args.json.display()),
        Err(e) => eprintln!("armature-bench: cannot write {}: {e}", args.json.display()),
    }
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.figure.as_str())
        .collect();
    if args.check && !missing.is_empty() {
        eprintln!(
            "armature-bench: rows without a figure or reference: {}",
            missing.join("; ")
        );
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}

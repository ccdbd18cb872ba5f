//! Sparkplug B through a real broker: the time from a task's state change in the plugin to a
//! subscriber holding the DDATA that reports it, beside a plain MQTT publish → subscribe
//! through the same Mosquitto.

use std::f64::consts::FRAC_PI_2;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use serde::Serialize;
use serde_json::json;
use tokio::sync::mpsc;

use super::mcp;
use super::procs::{free_port, spawn_until, tool, wait_port, Proc};
use super::report::Summary;

/// What the row shows.
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Task state and progress changes → subscriber (ms; the metric's timestamp has ms
    /// resolution).
    pub state_to_subscriber_ms: Summary,
    /// A plain MQTT message's publish → subscribe through the same broker (ms).
    pub mqtt_round_ms: Summary,
    /// Moves made.
    pub moves: usize,
    /// DDATA messages received during them.
    pub ddata: usize,
}

fn now_ms_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// Mosquitto on a free loopback port, for as long as the returned process lives.
fn mosquitto(dir: &std::path::Path) -> Result<(Proc, u16), String> {
    let exe = tool("mosquitto", "mosquitto").or_else(|e| {
        let sbin = std::path::PathBuf::from("/usr/sbin/mosquitto");
        if sbin.is_file() {
            Ok(sbin)
        } else {
            Err(e)
        }
    })?;
    let port = free_port()?;
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .map_err(|e| format!("cannot write {}: {e}", conf.display()))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-c").arg(&conf);
    let (proc, _) = spawn_until(cmd, "", Duration::ZERO)?;
    wait_port(port, "mosquitto", Duration::from_secs(10))?;
    Ok((proc, port))
}

/// A subscriber to `filter`: every message's topic, payload and arrival time (ms).
async fn subscribe(
    port: u16,
    filter: &str,
    name: &str,
) -> Result<(AsyncClient, mpsc::Receiver<(String, Vec<u8>, f64)>), String> {
    let id = format!("bench-{name}-{}", std::process::id());
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(o, 64);
    client
        .subscribe(filter, QoS::AtMostOnce)
        .await
        .map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::channel(10_000);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Incoming::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Incoming::Publish(p))) => {
                    let at = now_ms_f64();
                    if tx.try_send((p.topic, p.payload.to_vec(), at)).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .map_err(|_| "no SUBACK from mosquitto within 10 s".to_owned())?
        .map_err(|_| "the subscriber's connection failed".to_owned())?;
    Ok((client, rx))
}

/// `moves` moves of a plugin publishing to Mosquitto, and `rounds` plain MQTT messages.
pub async fn measure(moves: usize, rounds: usize) -> Result<Figures, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_broker, port) = mosquitto(dir.path())?;
    let config = dir.path().join("armature.toml");
    std::fs::write(
        &config,
        format!(
            "robot = \"builtin:ur5e\"\n[backend]\nkind = \"sim\"\n[sparkplug]\n\
             broker = \"mqtt://127.0.0.1:{port}\"\ngroup_id = \"bench\"\nedge_node_id = \"arm\"\n"
        ),
    )
    .map_err(|e| e.to_string())?;
    let (_sub, mut rx) = subscribe(port, "spBv1.0/bench/#", "sparkplug").await?;
    let plugin = mcp::start(Some(&config)).await?;
    let c = mcp::connect(&plugin.url).await?;
    // The births first: the plugin is on the broker.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let got = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .map_err(|_| "no DBIRTH from the plugin within 15 s".to_owned())?;
        match got {
            Some((topic, _, _)) if topic.contains("/DBIRTH/") => break,
            Some(_) => {}
            None => return Err("the subscriber's connection closed".into()),
        }
    }
    let targets = [
        json!([0.5, -1.3, 0.5, -1.6, -0.5, 0.3]),
        json!([0.0, -FRAC_PI_2, 0.0, -FRAC_PI_2, 0.0, 0.0]),
    ];
    for i in 0..moves {
        let ack = mcp::ok(
            &c,
            "move_joints",
            json!({"joints": targets[i % 2], "speed": 0.25}),
        )
        .await?;
        let id = ack["task_id"].as_str().unwrap_or_default().to_owned();
        mcp::wait_done(&c, &id, Duration::from_millis(50)).await?;
    }
    // The last DDATA (the end) leaves within a sampling period.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = c.cancel().await;
    let (mut latencies, mut ddata) = (vec![], 0);
    while let Ok((topic, bytes, at)) = rx.try_recv() {
        if !topic.contains("/DDATA/") {
            continue;
        }
        ddata += 1;
        let metrics = armature::fleet::metric_times(&bytes).map_err(|e| e.to_string())?;
        for (name, ts) in metrics {
            if name == "Task/State" || name == "Task/Progress" {
                latencies.push(at - ts as f64);
            }
        }
    }
    drop(plugin);
    let mqtt_round_ms = plain_round_trips(port, rounds).await?;
    Ok(Figures {
        state_to_subscriber_ms: Summary::of(latencies),
        mqtt_round_ms,
        moves,
        ddata,
    })
}

/// Publish → subscribe of `rounds` small messages, one at a time, through the broker.
async fn plain_round_trips(port: u16, rounds: usize) -> Result<Summary, String> {
    let (client, mut rx) = subscribe(port, "bench/echo", "echo").await?;
    let mut out = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let sent = now_ms_f64();
        client
            .publish(
                "bench/echo",
                QoS::AtMostOnce,
                false,
                sent.to_le_bytes().to_vec(),
            )
            .await
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Some((_, _, at))) => out.push(at - sent),
            _ => return Err("a plain MQTT message did not come back within 5 s".into()),
        }
    }
    Ok(Summary::of(out))
}

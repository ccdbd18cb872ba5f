//! The backends' links, each beside its reference: Modbus against a plain TCP round trip and
//! pymodbus; ROS joint states against a rospy subscriber (the method of `rostopic delay`).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};
use tokio_modbus::client::Reader;
use tokio_modbus::Slave;

use super::mcp;
use super::procs::{
    free_port, repo_root, spawn_group_until, spawn_until, tool, wait_port, workspace_bin,
};
use super::report::Summary;

/// Round trips on loopback (µs).
#[derive(Debug, Serialize)]
pub struct ModbusFigures {
    /// One state-block read (registers 258–285) with tokio-modbus, as the backend polls.
    pub read_us: Summary,
    /// The backend's whole poll: the state block and the status block (140–144).
    pub poll_us: Summary,
    /// A plain TCP request/response of the same sizes (12 bytes out, 65 back).
    pub tcp_us: Summary,
    /// The same read with the pymodbus client.
    pub pymodbus_us: Result<Summary, String>,
}

/// Modbus: tokio-modbus (what the backend uses) against `armsim-modbus`, beside references.
pub async fn modbus(reads: usize) -> Result<ModbusFigures, String> {
    let port = free_port()?;
    let mut cmd = Command::new(workspace_bin("armsim-modbus")?);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--robot"])
        .arg(repo_root().join("robots/ur5e.toml"));
    let (_sim, _) = spawn_until(cmd, "serving", Duration::from_secs(10))?;
    let echo = echo_server()?;
    // The backend polls from its own thread on a current-thread runtime: measured the same
    // way, each poll interleaved with a plain round trip so both see the same machine.
    let (read, poll, tcp) = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(poll_rounds(port, echo, reads))
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(ModbusFigures {
        read_us: Summary::of(read),
        poll_us: Summary::of(poll),
        tcp_us: Summary::of(tcp),
        pymodbus_us: pymodbus(port, reads),
    })
}

/// `reads` state reads, whole polls (state and status blocks), and plain round trips to
/// `echo`, in µs.
async fn poll_rounds(
    port: u16,
    echo: std::net::SocketAddr,
    reads: usize,
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut plain = tokio::net::TcpStream::connect(echo)
        .await
        .map_err(|e| e.to_string())?;
    plain.set_nodelay(true).map_err(|e| e.to_string())?;
    let (req, mut reply) = ([1u8; 12], [0u8; 65]);
    let addr = format!("127.0.0.1:{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut ctx = None;
    for _ in 0..200 {
        if let Ok(c) = tokio_modbus::client::tcp::connect_slave(addr, Slave(1)).await {
            ctx = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut ctx = ctx.ok_or("armsim-modbus accepted no connection")?;
    let (mut read, mut poll, mut tcp) = (vec![], vec![], vec![]);
    for _ in 0..reads {
        let t = Instant::now();
        plain.write_all(&req).await.map_err(|e| e.to_string())?;
        plain
            .read_exact(&mut reply)
            .await
            .map_err(|e| e.to_string())?;
        tcp.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        ctx.read_holding_registers(258, 28)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("exception {e:?}"))?;
        read.push(t.elapsed().as_secs_f64() * 1e6);
        ctx.read_holding_registers(140, 5)
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("exception {e:?}"))?;
        poll.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok((read, poll, tcp))
}

/// A request/response server on loopback with nothing behind it (12 bytes in, 65 out, the
/// sizes of a state read): the floor for one read.
fn echo_server() -> Result<std::net::SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_nodelay(true);
            let (mut req, reply) = ([0u8; 12], [0u8; 65]);
            while s.read_exact(&mut req).is_ok() && s.write_all(&reply).is_ok() {}
        }
    });
    Ok(addr)
}

const PYMODBUS: &str = r#"
import json, sys, time
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]))
assert c.connect()
out = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    r = c.read_holding_registers(258, count=28)
    assert not r.isError()
    out.append((time.perf_counter() - t) * 1e6)
print(json.dumps(out))
"#;

/// The pymodbus client (from the test venv) reading the same block.
fn pymodbus(port: u16, reads: usize) -> Result<Summary, String> {
    let python = std::env::var_os("ARMATURE_BENCH_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if !python.exists() {
        return Err(format!(
            "{} is missing: ./scripts/test makes the venv with pymodbus",
            python.display()
        ));
    }
    let mut cmd = Command::new(python);
    cmd.args(["-c", PYMODBUS, &port.to_string(), &reads.to_string()]);
    Ok(Summary::of(samples_from(cmd, "pymodbus")?))
}

/// Runs a Python probe that prints its samples as a JSON list.
fn samples_from(mut cmd: Command, what: &str) -> Result<Vec<f64>, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{what} output: {e}"))
}

/// Joint-state latency through a real ROS master.
#[derive(Debug, Serialize)]
pub struct RosFigures {
    /// Age of each new joint state when the cycle first sees it (µs), from `robot_state`.
    pub state_age_p50_us: f64,
    /// Its 99th percentile.
    pub state_age_p99_us: f64,
    /// States the cycle saw.
    pub states_seen: u64,
    /// A rospy subscriber on the same topic: message ages (ms).
    pub rospy_delay_ms: Result<Summary, String>,
}

/// roscore, `armsim-ros`, and the plugin's ROS backend; a rospy subscriber alongside.
pub async fn ros(window: Duration) -> Result<RosFigures, String> {
    let roscore = tool("roscore", "ros-core")?;
    let port = free_port()?;
    let master = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(roscore);
    cmd.args(["-p", &port.to_string()])
        .env("ROS_MASTER_URI", &master)
        .env("ROS_HOSTNAME", "127.0.0.1");
    let (_core, _) = spawn_group_until(cmd, "", Duration::ZERO)?;
    wait_port(port, "roscore", Duration::from_secs(30))?;
    let mut cmd = Command::new(workspace_bin("armsim-ros")?);
    cmd.arg("--robot")
        .arg(repo_root().join("robots/ur5e.toml"))
        .env("ROS_MASTER_URI", &master)
        .env("ROS_HOSTNAME", "127.0.0.1");
    let (_sim, _) = spawn_until(cmd, "serving", Duration::from_secs(20))?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let config = std::fs::read_to_string(repo_root().join("config/ros-ur5e.toml"))
        .map_err(|e| e.to_string())?
        .replace(
            "\"../robots/ur5e.toml\"",
            &format!("\"{}\"", repo_root().join("robots/ur5e.toml").display()),
        )
        .replace("actions = \"actions.toml\"", "")
        .replace("http://127.0.0.1:11311", &master);
    let path = dir.path().join("ros.toml");
    std::fs::write(&path, config).map_err(|e| e.to_string())?;
    let plugin = mcp::start(Some(&path)).await?;
    let c = mcp::connect(&plugin.url).await?;

    let delay = std::thread::spawn({
        let master = master.clone();
        move || rospy_delay(&master, window)
    });
    tokio::time::sleep(window + Duration::from_millis(300)).await;
    let st = mcp::ok(&c, "robot_state", json!({})).await?;
    let rt: &Value = &st["realtime"];
    let _ = c.cancel().await;
    Ok(RosFigures {
        state_age_p50_us: rt["state_age_p50_us"].as_f64().unwrap_or(f64::NAN),
        state_age_p99_us: rt["state_age_p99_us"].as_f64().unwrap_or(f64::NAN),
        states_seen: rt["states_seen"].as_u64().unwrap_or(0),
        rospy_delay_ms: delay
            .join()
            .unwrap_or_else(|_| Err("rostopic delay panicked".into())),
    })
}

/// rospy, subscribed to the same topic: each message's age on arrival (receive time minus
/// header stamp), which is how `rostopic delay` measures it, but every sample and in full
/// precision (`rostopic delay` prints milliseconds with no decimals).
const ROSPY_DELAY: &str = r#"
import json, sys, rospy
from sensor_msgs.msg import JointState
ages = []
def seen(m):
    ages.append((rospy.get_rostime() - m.header.stamp).to_sec() * 1e3)
rospy.init_node("armature_bench_delay", anonymous=True, disable_signals=True)
rospy.Subscriber("/joint_states", JointState, seen, tcp_nodelay=True)
rospy.sleep(float(sys.argv[1]))
print(json.dumps(ages))
"#;

/// Joint-state ages (ms) as a rospy subscriber sees them over `window`.
fn rospy_delay(master: &str, window: Duration) -> Result<Summary, String> {
    // The Python that ROS's own tools run with (rospy lives there, not in a venv).
    let rostopic = tool("rostopic", "ros-core")?;
    let shebang = std::fs::read_to_string(&rostopic).unwrap_or_default();
    let python = shebang
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("#!"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .unwrap_or_default();
    let (program, pre) = match python.as_slice() {
        [env, name] if env.ends_with("/env") => (name.to_string(), vec![]),
        [program, rest @ ..] => (
            program.to_string(),
            rest.iter().map(|s| s.to_string()).collect(),
        ),
        [] => ("/usr/bin/python3".to_owned(), vec![]),
    };
    let mut cmd = Command::new(program);
    cmd.args(pre)
        .args(["-c", ROSPY_DELAY, &window.as_secs_f64().to_string()])
        .env("ROS_MASTER_URI", master)
        .env("ROS_HOSTNAME", "127.0.0.1");
    let ages = samples_from(
        cmd,
        "the rospy subscriber (apt-get install ros-core python3-sensor-msgs)",
    )?;
    if ages.is_empty() {
        return Err("the rospy subscriber received no joint states".into());
    }
    Ok(Summary::of(ages))
}

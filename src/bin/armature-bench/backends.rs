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
    /// The backend's whole poll with the shipped map: one read of the status block and the
    /// state registers together (250–285).
    pub poll_us: Summary,
    /// The same registers in two requests, the state span then the status block: the poll
    /// before the status block moved next to the state registers.
    pub two_reads_us: Summary,
    /// A plain TCP request/response of the same sizes as the one read.
    pub tcp_us: Summary,
    /// The same read with the pymodbus client.
    pub pymodbus_us: Result<Summary, String>,
}

/// A register span: first register and count.
type Span = (u16, u16);

/// The shipped UR5e map's poll: the one read's span, and the state span and the status
/// block when read apart.
fn shipped_poll() -> Result<(Span, Span, Span), String> {
    use armature::robot::{RobotDefinition, BUILTIN_UR5E};
    use wire::modbus::{status_layout, PollReads};
    let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").map_err(|e| e.to_string())?;
    let map = robot.modbus.ok_or("the built-in UR5e has no Modbus map")?;
    let joints = robot.joints.len();
    let state = map.state_span(joints).map_err(|e| e.to_string())?;
    match map.poll_reads(joints).map_err(|e| e.to_string())? {
        PollReads::One { first, count } => Ok((
            (first, count),
            state,
            (map.status_block, status_layout::LEN),
        )),
        PollReads::Two { .. } => Err("the shipped map polls in two requests".into()),
    }
}

/// Modbus: tokio-modbus (what the backend uses) against `armsim-modbus`, beside references.
pub async fn modbus(reads: usize) -> Result<ModbusFigures, String> {
    let (one, state, status) = shipped_poll()?;
    let port = free_port()?;
    let mut cmd = Command::new(workspace_bin("armsim-modbus")?);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--robot"])
        .arg(repo_root().join("robots/ur5e.toml"));
    let (_sim, _) = spawn_until(cmd, "serving", Duration::from_secs(10))?;
    // Modbus/TCP: a 12-byte read request; the answer is a 9-byte header and 2 bytes a register.
    let echo = echo_server(9 + 2 * usize::from(one.1))?;
    // The backend polls from its own thread on a current-thread runtime: measured the same
    // way, each poll interleaved with a plain round trip so both see the same machine.
    let (poll, two, tcp) = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(poll_rounds(port, echo, reads, [one, state, status]))
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(ModbusFigures {
        poll_us: Summary::of(poll),
        two_reads_us: Summary::of(two),
        tcp_us: Summary::of(tcp),
        pymodbus_us: pymodbus(port, reads, one),
    })
}

/// One read of `count` registers from `first`.
async fn read(
    ctx: &mut tokio_modbus::client::Context,
    (first, count): Span,
) -> Result<Vec<u16>, String> {
    ctx.read_holding_registers(first, count)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("exception {e:?}"))
}

/// `reads` whole polls (one read), the same registers in two reads, and plain round trips to
/// `echo`, in µs. `spans` are the one read's, the state span's and the status block's.
async fn poll_rounds(
    port: u16,
    echo: (std::net::SocketAddr, usize),
    reads: usize,
    spans: [Span; 3],
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (echo, reply_len) = echo;
    let mut plain = tokio::net::TcpStream::connect(echo)
        .await
        .map_err(|e| e.to_string())?;
    plain.set_nodelay(true).map_err(|e| e.to_string())?;
    let (req, mut reply) = ([1u8; 12], vec![0u8; reply_len]);
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
    let (mut poll, mut two, mut tcp) = (vec![], vec![], vec![]);
    for _ in 0..reads {
        let t = Instant::now();
        plain.write_all(&req).await.map_err(|e| e.to_string())?;
        plain
            .read_exact(&mut reply)
            .await
            .map_err(|e| e.to_string())?;
        tcp.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        read(&mut ctx, spans[0]).await?;
        poll.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        read(&mut ctx, spans[1]).await?;
        read(&mut ctx, spans[2]).await?;
        two.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok((poll, two, tcp))
}

/// A request/response server on loopback with nothing behind it (12 bytes in, `reply`
/// bytes out, the sizes of the poll's read): the floor for one read.
fn echo_server(reply: usize) -> Result<(std::net::SocketAddr, usize), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_nodelay(true);
            let (mut req, reply) = ([0u8; 12], vec![0u8; reply]);
            while s.read_exact(&mut req).is_ok() && s.write_all(&reply).is_ok() {}
        }
    });
    Ok((addr, reply))
}

const PYMODBUS: &str = r#"
import json, sys, time
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]))
assert c.connect()
out = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    r = c.read_holding_registers(int(sys.argv[3]), count=int(sys.argv[4]))
    assert not r.isError()
    out.append((time.perf_counter() - t) * 1e6)
print(json.dumps(out))
"#;

/// The pymodbus client (from the test venv) making the same read.
fn pymodbus(port: u16, reads: usize, (first, count): Span) -> Result<Summary, String> {
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
    cmd.args(["-c", PYMODBUS, &port.to_string(), &reads.to_string()])
        .args([first.to_string(), count.to_string()]);
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

//! The ROS backend's link beside its reference: joint states against a rospy subscriber (the
//! method of `rostopic delay`).

use std::process::Command;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};

use super::mcp;
use super::procs::{
    free_port, repo_root, samples_from, spawn_group_until, spawn_until, tool, wait_port,
    workspace_bin,
};
use super::report::Summary;

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
pub async fn measure(window: Duration) -> Result<RosFigures, String> {
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

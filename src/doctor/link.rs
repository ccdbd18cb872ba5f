//! The link to the robot: the Modbus server and the companion's heartbeat, or the ROS master,
//! the joint states and the trajectory action server.

use std::time::Duration;

use tokio_modbus::client::Reader;
use tokio_modbus::Slave;
use wire::modbus::{status_layout, RegisterMap, COMPANION_PROGRAM};

use super::Check;
use crate::config::{Backend, Config};
use crate::hal::modbus::ModbusConfig;
use crate::hal::ros::RosConfig;

/// How long the companion's heartbeat is watched: longer than the 0.5 s after which the
/// plugin reports the companion as not running.
const HEARTBEAT_WATCH: Duration = Duration::from_millis(600);

/// The link's checks for the configured backend.
pub(super) fn checks(c: &Config) -> Vec<Check> {
    match &c.backend {
        Backend::Sim(_) => vec![Check::pass(
            "robot link",
            "the built-in simulator: nothing to reach",
        )],
        Backend::Modbus { link, map } => modbus(link, map),
        Backend::Ros(ros) => vec![ros_checks(ros)],
    }
}

fn modbus(link: &ModbusConfig, map: &RegisterMap) -> Vec<Check> {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return vec![Check::fail(
                "modbus",
                format!("cannot start the Modbus client: {e}"),
                "free memory or file descriptors, then run again",
            )]
        }
    };
    runtime.block_on(modbus_async(link, map))
}

async fn modbus_async(link: &ModbusConfig, map: &RegisterMap) -> Vec<Check> {
    let addr = link.address;
    // The plugin's own bound on a connect, but at least a second: this is a one-off look.
    let bound = link.timeout.max(Duration::from_secs(1));
    let connect = tokio_modbus::client::tcp::connect_slave(addr, Slave(link.unit_id));
    let mut ctx = match tokio::time::timeout(bound, connect).await {
        Ok(Ok(ctx)) => ctx,
        Ok(Err(e)) => {
            return vec![Check::fail(
                "modbus",
                format!("cannot connect to {addr}: {e}"),
                "check [modbus] address, that the controller is on and reachable, and that its Modbus server runs (UR: port 502)",
            )]
        }
        Err(_) => {
            return vec![Check::fail(
                "modbus",
                format!("no answer from {addr} within {} ms", bound.as_millis()),
                "check [modbus] address and the network path (a firewall drops the packets)",
            )]
        }
    };
    let register = map.status_block + status_layout::HEARTBEAT;
    let first = read_register(&mut ctx, register, bound).await;
    tokio::time::sleep(HEARTBEAT_WATCH).await;
    let second = read_register(&mut ctx, register, bound).await;
    let connected = Check::pass("modbus", format!("connected to {addr}"));
    let heartbeat = match (first, second) {
        (Ok(a), Ok(b)) if a != b => Check::pass(
            "companion",
            format!("{COMPANION_PROGRAM} runs: heartbeat register {register} went from {a} to {b} in {:.1} s", HEARTBEAT_WATCH.as_secs_f64()),
        ),
        (Ok(a), Ok(_)) => Check::fail(
            "companion",
            format!(
                "the robot program {COMPANION_PROGRAM} is not running: heartbeat register {register} stood at {a} for {:.1} s",
                HEARTBEAT_WATCH.as_secs_f64()
            ),
            format!("load {COMPANION_PROGRAM} on the pendant and press Play (docs/modbus.md)"),
        ),
        (Err(e), _) | (_, Err(e)) => Check::fail(
            "companion",
            format!("cannot read heartbeat register {register}: {e}"),
            "check the robot file's [modbus] status_block against the companion's constants",
        ),
    };
    vec![connected, heartbeat]
}

/// One holding register, within `bound`.
async fn read_register(
    ctx: &mut tokio_modbus::client::Context,
    register: u16,
    bound: Duration,
) -> Result<u16, String> {
    match tokio::time::timeout(bound, ctx.read_holding_registers(register, 1)).await {
        Ok(Ok(Ok(v))) => v
            .first()
            .copied()
            .ok_or_else(|| "an empty answer".to_owned()),
        Ok(Ok(Err(exception))) => Err(format!("exception {exception:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", bound.as_millis())),
    }
}

/// The ROS master, then the joint states and the action server it lists.
fn ros_checks(ros: &RosConfig) -> Check {
    let uri = ros
        .master_uri
        .clone()
        .or_else(|| std::env::var("ROS_MASTER_URI").ok())
        .unwrap_or_else(|| "http://localhost:11311".to_owned());
    let asked = uri.clone();
    // rosrust's XML-RPC client has no timeout of its own: an unreachable host could hang.
    let (tx, rx) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("armature-doctor-ros".into())
        .spawn(move || {
            let state = rosrust::api::Master::new(&asked, "/armature_doctor", "")
                .map_err(|e| e.to_string())
                .and_then(|m| m.get_system_state().map_err(|e| e.to_string()));
            let _ = tx.send(state.map(|s| {
                let s: rosrust::api::SystemState = s.into();
                let publishers = s.publishers.into_iter().map(|d| d.name).collect::<Vec<_>>();
                let subscribers = s
                    .subscribers
                    .into_iter()
                    .map(|d| d.name)
                    .collect::<Vec<_>>();
                (publishers, subscribers)
            }));
        });
    if let Err(e) = spawned {
        return Check::fail(
            "ros",
            format!("cannot start the ROS client: {e}"),
            "free memory, then run again",
        );
    }
    let (published, subscribed) = match rx.recv_timeout(Duration::from_secs(3)) {
        Ok(Ok(lists)) => lists,
        Ok(Err(e)) => {
            return Check::fail(
                "ros",
                format!("the ROS master at {uri} does not answer: {e}"),
                "start roscore (or the robot's launch file), or set [ros] master_uri",
            )
        }
        Err(_) => {
            return Check::fail(
                "ros",
                format!("the ROS master at {uri} did not answer within 3 s"),
                "check [ros] master_uri and the network path",
            )
        }
    };
    let ns = ros.action_ns.trim_end_matches('/');
    let has = |list: &[String], name: &str| list.iter().any(|t| t == name);
    if !has(&published, &ros.joint_states) {
        return Check::fail(
            "ros",
            format!(
                "master {uri} answers, but nobody publishes {}",
                ros.joint_states
            ),
            "start the robot driver (or armsim-ros), or set [ros] joint_states",
        );
    }
    if !has(&subscribed, &format!("{ns}/goal")) || !has(&published, &format!("{ns}/status")) {
        return Check::fail(
            "ros",
            format!("master {uri} answers, but no FollowJointTrajectory action server serves {ns} (no {ns}/goal subscriber or {ns}/status publisher)"),
            "start the trajectory controller, or set [ros] controller to its action namespace",
        );
    }
    Check::pass(
        "ros",
        format!(
            "master {uri}, {} published, action server at {ns}",
            ros.joint_states
        ),
    )
}

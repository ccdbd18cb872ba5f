//! The checked plan's sections: server, motion, tasks, the backend with its own settings, and
//! the Sparkplug B edge node.
//! Each default is written once, here.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use std::time::Duration;

use armsim::{FaultPlan, StallFault};
use serde::Deserialize;
use toml::Spanned;
use wire::modbus::RegisterMap;

use super::raw::{RawAudit, RawConfig, RawMotion, RawServer, RawSim};
use super::{show, ConfigError, Place};
use crate::hal::modbus::ModbusConfig;
use crate::hal::ros::RosConfig;
use crate::robot::RobotDefinition;

const DEFAULT_HTTP: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 7400));
const DEFAULT_SESSION_IDLE_S: f64 = 600.0;
/// Bounds on `server.session_idle_s`: a second at least, a day at most.
const SESSION_IDLE_S: (f64, f64) = (1.0, 86_400.0);
const DEFAULT_RATE_HZ: u32 = 500;
const DEFAULT_RT_PRIORITY: u8 = 80;
const DEFAULT_STALE_STATE_MS: u64 = 50;
const DEFAULT_FOLLOWING_ERROR_RAD: f64 = 0.1;
const DEFAULT_GOAL_TOLERANCE_RAD: f64 = 0.002;
const DEFAULT_MAX_SPEED: f64 = 0.25;
const DEFAULT_MIN_SPEED: f64 = 0.01;
const DEFAULT_MAX_MOTION_S: f64 = 600.0;
const DEFAULT_AUDIT_MAX_MB: f64 = 64.0;
const DEFAULT_AUDIT_KEEP_DAYS: f64 = 7.0;
const DEFAULT_RETENTION: usize = 1000;
const DEFAULT_QUEUE_LIMIT: usize = 8;
/// The longest line of motions a config may allow.
pub(super) const MAX_QUEUE_LIMIT: usize = 100;
const DEFAULT_UNIT_ID: u8 = 1;
const DEFAULT_POLL_HZ: u32 = 125;
const DEFAULT_TIMEOUT_MS: u64 = 200;

/// `[server]`.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HTTP listen address.
    pub http: SocketAddr,
    /// An HTTP session whose client sends no request for this long is closed.
    pub session_idle: Duration,
}

impl ServerConfig {
    pub(super) fn from_raw(raw: RawServer, at: &Place<'_>) -> Result<Self, ConfigError> {
        let idle_s = match raw.session_idle_s {
            None => DEFAULT_SESSION_IDLE_S,
            Some(v) => {
                let s = *v.get_ref();
                // The negated range also refuses NaN.
                if !(SESSION_IDLE_S.0..=SESSION_IDLE_S.1).contains(&s) {
                    return Err(at.invalid(
                        v.span(),
                        "server.session_idle_s",
                        show(s),
                        "must be 1 to 86400 (seconds)",
                    ));
                }
                s
            }
        };
        Ok(Self {
            http: raw.http.unwrap_or(DEFAULT_HTTP),
            session_idle: Duration::from_secs_f64(idle_s),
        })
    }
}

/// `[motion]`.
#[derive(Debug, Clone)]
pub struct MotionConfig {
    /// Cycle rate (Hz).
    pub rate_hz: u32,
    /// SCHED_FIFO priority.
    pub rt_priority: u8,
    /// Stale-state bound (ms).
    pub stale_state_ms: u64,
    /// Following-error limit (rad).
    pub following_error_rad: f64,
    /// Goal tolerance (rad).
    pub goal_tolerance_rad: f64,
    /// Speed cap for assistants (fraction of the robot's limits).
    pub max_speed: f64,
    /// The slowest speed a move may have (fraction of the robot's limits).
    pub min_speed: f64,
    /// The longest a single move may take (s).
    pub max_motion_s: f64,
    /// The TCP speed cap of straight-line moves (m/s).
    pub max_tcp_speed: f64,
}

/// `[audit]`: the audit log's disk budget and the history it keeps.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The most the log and its rotations may take on disk (bytes).
    pub max_bytes: u64,
    /// The history kept however many calls arrive (s).
    pub keep_s: f64,
}

/// Checks `[audit]` and fills in its defaults.
pub(super) fn audit(raw: &RawAudit, at: &Place<'_>) -> Result<AuditConfig, ConfigError> {
    let check =
        |v: &Option<Spanned<f64>>, field: &'static str, default: f64, range: (f64, f64)| match v {
            None => Ok(default),
            Some(v) if *v.get_ref() >= range.0 && *v.get_ref() <= range.1 => Ok(*v.get_ref()),
            Some(v) => Err(at.invalid(
                v.span(),
                field,
                show(*v.get_ref()),
                format!("must be from {} to {}", range.0, range.1),
            )),
        };
    let mb = check(
        &raw.max_mb,
        "audit.max_mb",
        DEFAULT_AUDIT_MAX_MB,
        (0.25, 1e6),
    )?;
    let days = check(
        &raw.keep_days,
        "audit.keep_days",
        DEFAULT_AUDIT_KEEP_DAYS,
        (0.0, 3650.0),
    )?;
    Ok(AuditConfig {
        max_bytes: (mb * 1024.0 * 1024.0) as u64,
        keep_s: days * 86400.0,
    })
}

/// `[tasks]`.
#[derive(Debug, Clone)]
pub struct TasksConfig {
    /// Finished tasks kept.
    pub retention: usize,
    /// How many motions may wait in line for the arm (`when = "after"`).
    pub queue_limit: usize,
}

impl TasksConfig {
    pub(super) fn from_raw(raw: &super::raw::RawTasks, at: &Place) -> Result<Self, ConfigError> {
        let queue_limit = match &raw.queue_limit {
            None => DEFAULT_QUEUE_LIMIT,
            Some(v) => {
                let n = *v.get_ref();
                if !(0..=MAX_QUEUE_LIMIT as i64).contains(&n) {
                    return Err(at.invalid(
                        v.span(),
                        "tasks.queue_limit",
                        n.to_string(),
                        format!("must be a whole number from 0 to {MAX_QUEUE_LIMIT}"),
                    ));
                }
                n as usize
            }
        };
        Ok(Self {
            retention: raw.retention.unwrap_or(DEFAULT_RETENTION),
            queue_limit,
        })
    }
}

/// `backend.kind`: which backend drives the arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    /// The in-process simulator.
    Sim,
    /// A controller's Modbus/TCP server (Universal Robots with the companion program).
    Modbus,
    /// A ROS 1 trajectory controller (`FollowJointTrajectory`) and joint states.
    Ros,
}

impl BackendKind {
    fn word(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::Modbus => "modbus",
            Self::Ros => "ros",
        }
    }
}

/// The backend, with everything it needs to start.
#[derive(Debug, Clone)]
pub enum Backend {
    /// The in-process simulator, with the faults `[sim]` injects.
    Sim(FaultPlan),
    /// A Modbus/TCP controller: how to reach it (`[modbus]`) and the robot file's registers.
    Modbus {
        /// Address, unit, poll rate and timeout.
        link: ModbusConfig,
        /// The robot file's register map.
        map: RegisterMap,
    },
    /// A ROS 1 trajectory controller: `[ros]` over the robot file's topics.
    Ros(RosConfig),
}

impl Backend {
    /// Which backend this is.
    pub fn kind(&self) -> BackendKind {
        match self {
            Self::Sim(_) => BackendKind::Sim,
            Self::Modbus { .. } => BackendKind::Modbus,
            Self::Ros(_) => BackendKind::Ros,
        }
    }
}

/// Checks `[motion]` and fills in its defaults.
pub(super) fn motion(raw: RawMotion, at: &Place<'_>) -> Result<MotionConfig, ConfigError> {
    if let Some(v) = &raw.rate_hz {
        if !(10..=2000).contains(v.get_ref()) {
            return Err(at.invalid(
                v.span(),
                "motion.rate_hz",
                v.get_ref().to_string(),
                "must be 10 to 2000",
            ));
        }
    }
    if let Some(v) = &raw.rt_priority {
        if !(1..=99).contains(v.get_ref()) {
            return Err(at.invalid(
                v.span(),
                "motion.rt_priority",
                v.get_ref().to_string(),
                "must be 1 to 99",
            ));
        }
    }
    if let Some(v) = &raw.stale_state_ms {
        if *v.get_ref() == 0 {
            return Err(at.invalid(v.span(), "motion.stale_state_ms", "0", "must be above 0"));
        }
    }
    if let Some(v) = &raw.max_speed {
        let s = *v.get_ref();
        if !(s > 0.0 && s <= 1.0) {
            return Err(at.invalid(v.span(), "motion.max_speed", show(s), "must be in (0, 1]"));
        }
    }
    let max_speed = raw
        .max_speed
        .as_ref()
        .map_or(DEFAULT_MAX_SPEED, |v| *v.get_ref());
    let min_speed = match &raw.min_speed {
        None => DEFAULT_MIN_SPEED.min(max_speed),
        Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= max_speed => *v.get_ref(),
        Some(v) => {
            return Err(at.invalid(
                v.span(),
                "motion.min_speed",
                show(*v.get_ref()),
                format!(
                    "must be above 0 and at most motion.max_speed ({})",
                    show(max_speed)
                ),
            ))
        }
    };
    let max_motion_s = match &raw.max_motion_s {
        None => DEFAULT_MAX_MOTION_S,
        Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 86400.0 => *v.get_ref(),
        Some(v) => {
            return Err(at.invalid(
                v.span(),
                "motion.max_motion_s",
                show(*v.get_ref()),
                "must be above 0 and at most 86400 (a day)",
            ))
        }
    };
    let max_tcp_speed = match &raw.max_tcp_speed {
        None => crate::robot::linear::DEFAULT_TCP_SPEED,
        Some(v) if *v.get_ref() > 0.0 && *v.get_ref() <= 2.0 => *v.get_ref(),
        Some(v) => {
            return Err(at.invalid(
                v.span(),
                "motion.max_tcp_speed",
                show(*v.get_ref()),
                "must be above 0 and at most 2 (m/s)",
            ))
        }
    };
    let tolerance = |v: &Option<Spanned<f64>>, field: &'static str, default: f64| match v {
        None => Ok(default),
        // An infinite tolerance would switch the check off.
        Some(v) if *v.get_ref() > 0.0 && v.get_ref().is_finite() => Ok(*v.get_ref()),
        Some(v) => Err(at.invalid(
            v.span(),
            field,
            show(*v.get_ref()),
            "must be a finite number above 0",
        )),
    };
    Ok(MotionConfig {
        following_error_rad: tolerance(
            &raw.following_error_rad,
            "motion.following_error_rad",
            DEFAULT_FOLLOWING_ERROR_RAD,
        )?,
        goal_tolerance_rad: tolerance(
            &raw.goal_tolerance_rad,
            "motion.goal_tolerance_rad",
            DEFAULT_GOAL_TOLERANCE_RAD,
        )?,
        rate_hz: raw.rate_hz.map_or(DEFAULT_RATE_HZ, Spanned::into_inner),
        rt_priority: raw
            .rt_priority
            .map_or(DEFAULT_RT_PRIORITY, Spanned::into_inner),
        stale_state_ms: raw
            .stale_state_ms
            .map_or(DEFAULT_STALE_STATE_MS, Spanned::into_inner),
        max_speed,
        min_speed,
        max_motion_s,
        max_tcp_speed,
    })
}

/// Checks `backend.kind` and the one section that goes with it; the others must be absent.
pub(super) fn backend(
    raw: &RawConfig,
    robot: &RobotDefinition,
    at: &Place<'_>,
) -> Result<Backend, ConfigError> {
    let kind = *raw.backend.kind.get_ref();
    let sections = [
        (BackendKind::Sim, raw.sim.as_ref().map(Spanned::span)),
        (BackendKind::Modbus, raw.modbus.as_ref().map(Spanned::span)),
        (BackendKind::Ros, raw.ros.as_ref().map(Spanned::span)),
    ];
    for (owner, span) in sections {
        if let Some(span) = span.filter(|_| owner != kind) {
            return Err(at.section(
                span,
                owner.word(),
                format!(
                    "applies to backend.kind = \"{}\" only; this config has backend.kind = \"{}\"",
                    owner.word(),
                    kind.word()
                ),
            ));
        }
    }
    match kind {
        BackendKind::Sim => {
            let sim = raw.sim.as_ref().map(Spanned::get_ref);
            Ok(Backend::Sim(faults(sim, robot, at)?))
        }
        BackendKind::Modbus => {
            let Some(section) = &raw.modbus else {
                return Err(at.section(
                    raw.backend.kind.span(),
                    "modbus",
                    "is missing: backend.kind = \"modbus\" needs it, with the controller's address"
                        .into(),
                ));
            };
            let Some(map) = robot.modbus.clone() else {
                return Err(at.invalid(
                    raw.robot.span(),
                    "robot",
                    robot.source.clone(),
                    "has no [modbus] register map, which backend.kind = \"modbus\" needs",
                ));
            };
            let section = section.get_ref();
            if let Some(v) = section
                .poll_hz
                .as_ref()
                .filter(|v| !(1..=1000).contains(v.get_ref()))
            {
                return Err(at.invalid(
                    v.span(),
                    "modbus.poll_hz",
                    v.get_ref().to_string(),
                    "must be 1 to 1000",
                ));
            }
            if let Some(v) = section
                .timeout_ms
                .as_ref()
                .filter(|v| !(10..=10_000).contains(v.get_ref()))
            {
                return Err(at.invalid(
                    v.span(),
                    "modbus.timeout_ms",
                    v.get_ref().to_string(),
                    "must be 10 to 10000",
                ));
            }
            let timeout_ms = section
                .timeout_ms
                .as_ref()
                .map_or(DEFAULT_TIMEOUT_MS, |v| *v.get_ref());
            modbus_io(&robot.io).map_err(|m| at.section(raw.robot.span(), "modbus", m))?;
            Ok(Backend::Modbus {
                link: ModbusConfig {
                    address: section.address,
                    unit_id: section.unit_id.unwrap_or(DEFAULT_UNIT_ID),
                    poll_hz: section
                        .poll_hz
                        .as_ref()
                        .map_or(DEFAULT_POLL_HZ, |v| *v.get_ref()),
                    timeout: Duration::from_millis(timeout_ms),
                },
                map,
            })
        }
        BackendKind::Ros => {
            let section = raw.ros.as_ref().map(Spanned::get_ref);
            // The config's names override the robot file's.
            let names = robot.ros.as_ref();
            let joint_states = section
                .and_then(|s| s.joint_states.clone())
                .or_else(|| names.map(|n| n.joint_states.clone()));
            let action_ns = section
                .and_then(|s| s.controller.clone())
                .or_else(|| names.map(|n| n.controller.clone()));
            let (Some(joint_states), Some(action_ns)) = (joint_states, action_ns) else {
                let span = raw
                    .ros
                    .as_ref()
                    .map_or(raw.backend.kind.span(), Spanned::span);
                return Err(at.section(
                    span,
                    "ros",
                    format!(
                        "needs joint_states and controller: the robot file {} has no [ros] table to give them",
                        robot.source
                    ),
                ));
            };
            Ok(Backend::Ros(RosConfig {
                master_uri: section.and_then(|s| s.master_uri.clone()),
                joint_states,
                action_ns,
            }))
        }
    }
}

/// Over Modbus, every channel must be one of UR's bits, and a gripper needs the output
/// that drives it and the register its gap is read from.
fn modbus_io(io: &crate::robot::io::IoSpec) -> Result<(), String> {
    let max = wire::ur_io::CHANNELS - 1;
    for (what, list) in [("output", &io.outputs), ("input", &io.inputs)] {
        if let Some(c) = list.iter().find(|c| c.channel > max) {
            return Err(format!(
                "the robot's {what} {} is channel {}; UR's Modbus server has digital channels 0 to {max}",
                c.name, c.channel
            ));
        }
    }
    match &io.gripper {
        Some(g) if g.output.is_none() || g.width_register.is_none() => Err(
            "the robot's gripper needs gripper.output (the output that closes it) and \
             gripper.width_register (where its gap is read) to be driven over Modbus"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// `[sim] part_width_m`: the width of a part between the simulated fingers, if any.
pub(super) fn sim_part(raw: &RawConfig, at: &Place<'_>) -> Result<Option<f64>, ConfigError> {
    let Some(w) = raw
        .sim
        .as_ref()
        .and_then(|s| s.get_ref().part_width_m.as_ref())
    else {
        return Ok(None);
    };
    let x = *w.get_ref();
    if x > 0.0 && x < 1.0 {
        Ok(Some(x))
    } else {
        Err(at.invalid(
            w.span(),
            "sim.part_width_m",
            show(x),
            "must be a width in metres above 0 and below 1",
        ))
    }
}

/// The simulator's fault plan from `[sim]`.
fn faults(
    sim: Option<&RawSim>,
    robot: &RobotDefinition,
    at: &Place<'_>,
) -> Result<FaultPlan, ConfigError> {
    let Some(sim) = sim else {
        return Ok(FaultPlan::default());
    };
    let seconds = |v: &Option<Spanned<f64>>, field: &'static str| match v {
        None => Ok(None),
        Some(v) if *v.get_ref() >= 0.0 && v.get_ref().is_finite() => Ok(Some(*v.get_ref())),
        Some(v) => Err(at.invalid(
            v.span(),
            field,
            show(*v.get_ref()),
            "must be a number of seconds, 0 or more",
        )),
    };
    let stall = match &sim.stall_joint {
        None => None,
        Some(j) if *j.get_ref() == 0 || *j.get_ref() > robot.dof() => {
            return Err(at.invalid(
                j.span(),
                "sim.stall_joint",
                j.get_ref().to_string(),
                "must be a joint number from 1 to the robot's count",
            ));
        }
        Some(j) => Some(StallFault {
            joint: j.get_ref() - 1,
            at_s: seconds(&sim.stall_after_s, "sim.stall_after_s")?.unwrap_or(0.0),
        }),
    };
    Ok(FaultPlan {
        protective_stop_at_s: seconds(&sim.protective_stop_after_s, "sim.protective_stop_after_s")?,
        freeze_state_at_s: seconds(&sim.freeze_state_after_s, "sim.freeze_state_after_s")?,
        stall,
    })
}

//! The config file as written: serde's view. Values keep their place in the file, so that a
//! refusal can say `file:line`; defaults are applied in `plan.rs`, not here.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Deserialize;
use toml::Spanned;

use super::confirm::{Approval, ConfirmRule};
use super::plan::BackendKind;
use crate::operators::OperatorSpec;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// A robot definition file (relative to this file), or "builtin:ur5e".
    pub(super) robot: Spanned<String>,
    /// An action file (relative to this file), or "builtin:example-cell".
    pub(super) actions: Option<Spanned<String>>,
    /// A cell file (relative to this file), or "builtin:pedestal"; else the robot file's.
    pub(super) cell: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) server: RawServer,
    pub(super) backend: RawBackend,
    #[serde(default)]
    pub(super) motion: RawMotion,
    #[serde(default)]
    pub(super) tasks: RawTasks,
    pub(super) sim: Option<Spanned<RawSim>>,
    #[serde(default)]
    pub(super) operators: Vec<OperatorSpec>,
    #[serde(default)]
    pub(super) confirm: RawConfirm,
    #[serde(default)]
    pub(super) audit: RawAudit,
    pub(super) modbus: Option<Spanned<RawModbus>>,
    pub(super) ros: Option<Spanned<RawRos>>,
    pub(super) sparkplug: Option<RawSparkplug>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub(super) http: Option<SocketAddr>,
    pub(super) session_idle_s: Option<Spanned<f64>>,
}

/// `[backend]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBackend {
    pub(super) kind: Spanned<BackendKind>,
}

/// `[motion]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMotion {
    pub(super) rate_hz: Option<Spanned<u32>>,
    pub(super) rt_priority: Option<Spanned<u8>>,
    pub(super) stale_state_ms: Option<Spanned<u64>>,
    pub(super) following_error_rad: Option<Spanned<f64>>,
    pub(super) goal_tolerance_rad: Option<Spanned<f64>>,
    pub(super) max_speed: Option<Spanned<f64>>,
    pub(super) min_speed: Option<Spanned<f64>>,
    pub(super) max_motion_s: Option<Spanned<f64>>,
    pub(super) max_tcp_speed: Option<Spanned<f64>>,
}

/// `[tasks]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTasks {
    pub(super) retention: Option<usize>,
    pub(super) queue_limit: Option<Spanned<i64>>,
}

/// `[audit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    pub(super) max_mb: Option<Spanned<f64>>,
    pub(super) keep_days: Option<Spanned<f64>>,
}

/// `[sim]`: faults to inject, in seconds after start.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSim {
    pub(super) protective_stop_after_s: Option<Spanned<f64>>,
    pub(super) freeze_state_after_s: Option<Spanned<f64>>,
    pub(super) stall_joint: Option<Spanned<usize>>,
    pub(super) stall_after_s: Option<Spanned<f64>>,
    /// A part of this width (m) lies between the simulated gripper's fingers.
    pub(super) part_width_m: Option<Spanned<f64>>,
}

/// `[modbus]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModbus {
    pub(super) address: SocketAddr,
    pub(super) unit_id: Option<u8>,
    pub(super) poll_hz: Option<Spanned<u32>>,
    pub(super) timeout_ms: Option<Spanned<u64>>,
}

/// `[ros]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRos {
    pub(super) master_uri: Option<String>,
    pub(super) joint_states: Option<String>,
    pub(super) controller: Option<String>,
}

/// `[confirm]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfirm {
    #[serde(default)]
    pub(super) actions: BTreeMap<String, Spanned<ConfirmRule>>,
    pub(super) beyond_rad: Option<Spanned<f64>>,
    pub(super) beyond_speed: Option<Spanned<f64>>,
    pub(super) expire_s: Option<Spanned<f64>>,
    pub(super) approval: Option<Approval>,
}

/// `[sparkplug]`: the Sparkplug B edge node (docs/fleet.md).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSparkplug {
    pub(super) broker: Spanned<String>,
    pub(super) group_id: Spanned<String>,
    pub(super) edge_node_id: Spanned<String>,
    pub(super) device_id: Option<Spanned<String>>,
    pub(super) client_id: Option<Spanned<String>>,
    pub(super) keep_alive_s: Option<Spanned<u64>>,
    pub(super) username: Option<Spanned<String>>,
    pub(super) password_env: Option<Spanned<String>>,
    pub(super) ca_file: Option<Spanned<String>>,
    pub(super) client_cert: Option<Spanned<String>>,
    pub(super) client_key: Option<Spanned<String>>,
    pub(super) accept_stop: Option<bool>,
}

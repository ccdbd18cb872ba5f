//! The running plugin: config, robot, executor, registry, variables and audit, wired.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::broadcast::error::RecvError;

use crate::audit::{Audit, AuditEntry, AuditLimits};
use crate::config::{Backend, Config};
use crate::hal::io::{IoPort, NoIo, SimIo};
use crate::hal::{limits::LimitedArm, sim::SimArm, RobotArm};
use crate::motion::ExecutorHandle;
use crate::robot::linear::LinearLimits;
use crate::tasks::{supervisor, GateSettings, JournalError, MotionGate, Registry, Space};
use crate::vars::{VarStore, VarsError};

/// Why the plugin could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory could not be created.
    #[error("cannot create state directory {dir}: {source}")]
    StateDir {
        /// The directory.
        dir: String,
        /// The error.
        source: std::io::Error,
    },
    /// Installation variables could not be opened.
    #[error(transparent)]
    Vars(#[from] VarsError),
    /// The task journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A thread could not be started.
    #[error("cannot start the {what} thread: {source}")]
    Thread {
        /// Which.
        what: &'static str,
        /// The error.
        source: std::io::Error,
    },
}

/// Everything a tool call needs.
pub struct App {
    /// The configuration.
    pub config: Config,
    /// The only way to move or stop the (one) arm.
    pub gate: Arc<MotionGate>,
    /// Its tasks.
    pub registry: Arc<Registry>,
    /// Installation variables.
    pub vars: VarStore,
    /// The audit log.
    pub audit: Audit,
    /// The state directory.
    pub state_dir: PathBuf,
    /// When the plugin started.
    pub started_at: Instant,
    /// MCP sessions open now; the transport keeps the count, `robot_state` reports it.
    pub sessions_open: std::sync::atomic::AtomicUsize,
    supervisor: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl App {
    /// Opens the state, starts the executor and the supervisor.
    pub fn start(config: Config, state_dir: &Path) -> Result<Arc<Self>, StartError> {
        std::fs::create_dir_all(state_dir).map_err(|source| StartError::StateDir {
            dir: state_dir.display().to_string(),
            source,
        })?;
        let vars = VarStore::open(state_dir)?;
        let (registry, report) = Registry::open(state_dir, vars.clone(), config.tasks.retention)?;
        if !report.damaged_lines.is_empty() {
            tracing::warn!(
                lines = ?report.damaged_lines,
                kept = ?report.kept_copy,
                intact = report.records.len(),
                "the task journal had damaged lines; they were skipped and the intact records kept"
            );
        }
        let registry = Arc::new(registry);
        let limits = AuditLimits {
            max_bytes: config.audit.max_bytes,
            keep: std::time::Duration::try_from_secs_f64(config.audit.keep_s).unwrap_or_default(),
        };
        let audit = Audit::open(state_dir, limits).map_err(|source| StartError::Thread {
            what: "audit",
            source,
        })?;
        let joints = config.robot.joints.clone();
        // The gripper and digital I/O beside the arm (src/hal/io.rs), from the backend.
        let mut io: Option<Arc<dyn IoPort>> = None;
        let arm: Box<dyn RobotArm> = match &config.backend {
            Backend::Modbus { link, map } => {
                let (port, ends) = crate::hal::modbus_io::port(&config.robot.io, link.timeout);
                io = Some(port);
                let arm = crate::hal::modbus::start_with_io(
                    link.clone(),
                    map.clone(),
                    config.robot.dof(),
                    Some(ends),
                )
                .map_err(|source| StartError::Thread {
                    what: "modbus",
                    source,
                })?;
                Box::new(LimitedArm::new(arm, joints))
            }
            Backend::Ros(ros) => {
                let gripper_ns = config.robot.ros.as_ref().and_then(|r| r.gripper.clone());
                if let Some(ns) = gripper_ns {
                    let port = crate::hal::ros_io::start(ns, config.robot.io.gripper.clone())
                        .map_err(|source| StartError::Thread {
                            what: "ros gripper",
                            source,
                        })?;
                    io = Some(port);
                }
                let arm =
                    crate::hal::ros::start(ros.clone(), joints.clone()).map_err(|source| {
                        StartError::Thread {
                            what: "ros",
                            source,
                        }
                    })?;
                Box::new(LimitedArm::new(arm, joints))
            }
            Backend::Sim(faults) => Box::new(LimitedArm::new(
                SimArm::new(&config.robot, *faults, Instant::now()),
                joints,
            )),
        };
        let executor = ExecutorHandle::spawn(arm, config.robot.joints.clone(), config.executor())
            .map_err(|source| StartError::Thread {
            what: "motion",
            source,
        })?;
        let supervisor_thread = executor
            .take_events()
            .map(|events| supervisor::spawn(events, registry.clone()))
            .transpose()
            .map_err(|source| StartError::Thread {
                what: "supervisor",
                source,
            })?;
        audit_task_ends(&registry, &audit).map_err(|source| StartError::Thread {
            what: "audit",
            source,
        })?;
        let settings = GateSettings {
            joints: config.robot.joints.clone(),
            stale_state_ms: config.motion.stale_state_ms,
            goal_tolerance_rad: config.motion.goal_tolerance_rad,
            // The config check refuses a bad expiry; this only keeps a panic out of start-up.
            expire: std::time::Duration::try_from_secs_f64(config.confirm.expire_s)
                .unwrap_or(std::time::Duration::from_secs(60)),
            queue_limit: config.tasks.queue_limit,
            min_speed: config.motion.min_speed,
            max_motion_s: config.motion.max_motion_s,
            space: Space {
                kinematics: config.robot.kinematics.clone(),
                cell: config.cell.clone(),
                limits: LinearLimits {
                    tcp_speed: config.motion.max_tcp_speed,
                    sample_hz: f64::from(config.motion.rate_hz),
                    ..LinearLimits::default()
                },
                // Every backend runs lines: the simulator follows the samples, ROS gets
                // them as one FollowJointTrajectory goal, Modbus as the companion's movel
                // to the end pose in its registers.
                line_goals: matches!(config.backend, Backend::Ros(_)),
                pose_registers: matches!(config.backend, Backend::Modbus { .. }),
            },
        };
        let gate = MotionGate::new(registry.clone(), executor, vars.clone(), settings);
        let io = io.unwrap_or_else(|| match &config.backend {
            Backend::Sim(_) => SimIo::new(config.robot.io.gripper.clone(), config.sim_part_width_m),
            Backend::Modbus { .. } | Backend::Ros(_) => Arc::new(NoIo),
        });
        gate.attach_io(io, config.robot.io.clone());
        Ok(Arc::new(Self {
            config,
            gate,
            registry,
            vars,
            audit,
            state_dir: state_dir.to_path_buf(),
            started_at: Instant::now(),
            sessions_open: Default::default(),
            supervisor: std::sync::Mutex::new(supervisor_thread),
        }))
    }

    /// Stops any motion under control, then the threads; flushes the variables and the
    /// audit. If the variables cannot be written, says so and names what was lost.
    pub fn shutdown(&self) -> Result<(), VarsError> {
        // A multi-step task braked now stays resumable.
        self.gate.shutdown();
        // The executor's end closes the event channel; the supervisor then records the
        // last events and ends, before the variables are closed.
        if let Some(s) = self
            .supervisor
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = s.join();
        }
        self.audit.flush(std::time::Duration::from_secs(2));
        self.vars.close().inspect_err(|e| {
            tracing::error!(error = %e, "stopping with installation variables not on disk");
        })
    }
}

/// Records every task's end in the audit log, from the registry's end signal.
fn audit_task_ends(registry: &Registry, audit: &Audit) -> std::io::Result<()> {
    let mut ended = registry.subscribe_ended();
    let audit = audit.clone();
    std::thread::Builder::new()
        .name("armature-task-ends".into())
        .spawn(move || loop {
            match ended.blocking_recv() {
                Ok(rec) => audit.record(AuditEntry::task_ended(&rec)),
                Err(RecvError::Lagged(n)) => {
                    tracing::error!(missed = n, "the audit log fell behind task ends")
                }
                Err(RecvError::Closed) => return,
            }
        })?;
    Ok(())
}

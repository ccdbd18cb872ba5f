//! The Modbus/TCP backend: a `tokio-modbus` client on its own thread, exchanging the latest
//! state and each motion's command with the real-time cycle without blocking it.
//!
//! The wire contract (UR's registers and Armature's handshake) is `wire::modbus`; this
//! file is the client side of it. The robot runs each move itself (`movej` in the URScript
//! companion), so this backend sends one command per motion, never per cycle, and never
//! resends a command after a connection loss: the motion is failed instead.

use std::net::SocketAddr;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::Slave;
use wire::modbus::{
    command, decode_one_read, decode_state, encode_mrad, encode_permille, encode_pose, status,
    status_layout, CommandLayout, DecodeError, PollReads, RegisterMap, RobotRegisters,
    COMPANION_PROGRAM, UR_MODE_RUNNING,
};

use super::backoff::Backoff;
use super::edges::{LinkedArm, MotionEdge};
use super::modbus_io::IoEnds;
use super::{ArmState, Fault, Joints, LinkError, RobotMode};
use crate::robot::linear::LinearPath;
use crate::robot::TcpPose;

/// How long the robot's heartbeat may stand still, while its registers answer, before the
/// companion is reported as not running. It ticks every control cycle (2–8 ms on a UR), so
/// this is far beyond scheduling jitter, and twice the shipped stale-state limit.
const COMPANION_TIMEOUT: Duration = Duration::from_millis(500);

/// Modbus exception 0x02, illegal data address.
const ILLEGAL_DATA_ADDRESS: u8 = 0x02;

/// How the backend reaches the controller.
#[derive(Debug, Clone)]
pub struct ModbusConfig {
    /// The controller's Modbus/TCP server.
    pub address: SocketAddr,
    /// Unit id sent with each request (UR answers any).
    pub unit_id: u8,
    /// State polls per second.
    pub poll_hz: u32,
    /// Bound on every connect, read and write.
    pub timeout: Duration,
}

/// Starts the link thread for a robot with `joints` joints and register `map`; returns the
/// arm the real-time cycle drives.
pub fn start(config: ModbusConfig, map: RegisterMap, joints: usize) -> std::io::Result<LinkedArm> {
    start_with_io(config, map, joints, None)
}

/// As [`start`], with the digital I/O and the gripper served on the same link
/// (`hal/modbus_io.rs`).
pub fn start_with_io(
    config: ModbusConfig,
    map: RegisterMap,
    joints: usize,
    io: Option<IoEnds>,
) -> std::io::Result<LinkedArm> {
    let (arm, ends) = LinkedArm::new("modbus", joints);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let link = Link {
        layout: RegisterMap::command_layout(joints),
        joints,
        config,
        map,
        state: ends.state,
        current: ends.initial,
        commands: ends.edges,
        sequence: 0,
        heartbeat: 0,
        active: None,
        robot_heartbeat: None,
        companion_down: false,
        first_poll: true,
        split_poll: false,
        told_split: false,
        io,
    };
    std::thread::Builder::new()
        .name("armature-modbus".into())
        .spawn(move || runtime.block_on(link.run()))?;
    Ok(arm)
}

/// Runs one Modbus call under `timeout`, flattening its two error layers.
pub(super) async fn bounded<T>(
    timeout: Duration,
    request: impl std::future::Future<Output = tokio_modbus::Result<T>>,
) -> Result<T, LinkError> {
    match tokio::time::timeout(timeout, request).await {
        Err(_) => Err(LinkError::Timeout),
        Ok(Err(tokio_modbus::Error::Transport(e))) => Err(match LinkError::from_io(&e) {
            // tokio-modbus reports the end of the stream as the thread's last OS
            // error, whatever it was: on an open connection, that is the robot closing it.
            LinkError::Io(_) | LinkError::Timeout => LinkError::Closed,
            other => other,
        }),
        Ok(Err(tokio_modbus::Error::Protocol(_))) => Err(LinkError::Io(libc::EPROTO)),
        Ok(Ok(Err(exception))) => Err(LinkError::Exception(u8::from(exception))),
        Ok(Ok(Ok(v))) => Ok(v),
    }
}

/// The link thread's state.
struct Link {
    config: ModbusConfig,
    map: RegisterMap,
    layout: CommandLayout,
    joints: usize,
    state: triple_buffer::Input<ArmState>,
    current: ArmState,
    commands: Receiver<MotionEdge>,
    sequence: u16,
    heartbeat: u16,
    /// The motion in progress and the sequence number its move was sent with.
    active: Option<(u64, u16)>,
    /// The robot's heartbeat and since when it has had that value; kept across reconnects,
    /// so a heartbeat that stood still through a link loss is measured from its last change.
    robot_heartbeat: Option<(u16, Instant)>,
    /// Whether the companion is reported as not running (to log the change once).
    companion_down: bool,
    /// The next poll is the first on a connection: nothing on it to compare the heartbeat with.
    first_poll: bool,
    /// This connection reads the state registers and the status block apart: the robot
    /// refused the one read that spans both.
    split_poll: bool,
    /// Whether that refusal was logged (once a run: a robot that refuses always does).
    told_split: bool,
    /// The digital I/O and gripper on this link, if any.
    io: Option<IoEnds>,
}

impl Link {
    async fn run(mut self) {
        let mut backoff = Backoff::new();
        loop {
            let cause = match self.connect().await {
                Ok(mut ctx) => {
                    backoff.reset();
                    self.first_poll = true;
                    self.split_poll = false;
                    tracing::info!(address = %self.config.address, "connected to the robot over Modbus/TCP");
                    let cause = self.serve(&mut ctx).await;
                    // A fresh connection after any failure: a late answer on this one must
                    // never be read as the answer to the next request.
                    drop(ctx);
                    cause
                }
                Err(cause) => cause,
            };
            self.link_down(cause);
            let delay = backoff.next_delay();
            tracing::warn!(address = %self.config.address, %cause, retry_in_s = delay.as_secs_f64(), "robot unreachable over Modbus/TCP");
            self.wait(delay).await;
        }
    }

    async fn connect(&self) -> Result<Context, LinkError> {
        let connect = tokio_modbus::client::tcp::connect_slave(
            self.config.address,
            Slave(self.config.unit_id),
        );
        match tokio::time::timeout(self.config.timeout, connect).await {
            Ok(Ok(ctx)) => Ok(ctx),
            Ok(Err(e)) => Err(LinkError::from_io(&e)),
            Err(_) => Err(LinkError::Timeout),
        }
    }

    /// Waits out a reconnect delay; motions cannot start meanwhile (the state says
    /// unreachable), so commands are only drained.
    async fn wait(&mut self, delay: Duration) {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            while let Ok(c) = self.commands.try_recv() {
                if matches!(c, MotionEdge::Idle | MotionEdge::Stop) {
                    self.active = None;
                }
            }
            if let Some(io) = &self.io {
                io.drain();
            }
            tokio::time::sleep(
                Duration::from_millis(20).min(until.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }

    fn link_down(&mut self, cause: LinkError) {
        self.current.mode = RobotMode::Disconnected;
        self.current.fault = Some(Fault::Unreachable { cause });
        self.current.link_down_since.get_or_insert(Instant::now());
        self.state.write(self.current);
        if let Some(io) = &self.io {
            io.forget();
        }
    }

    /// Polls and commands on one connection until it fails; returns why.
    async fn serve(&mut self, ctx: &mut Context) -> LinkError {
        let period = Duration::from_secs_f64(1.0 / f64::from(self.config.poll_hz.max(1)));
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heartbeat = Instant::now() - Duration::from_secs(1);
        loop {
            tick.tick().await;
            while let Ok(c) = self.commands.try_recv() {
                if let Err(e) = self.execute(ctx, c).await {
                    return e;
                }
            }
            if last_heartbeat.elapsed() >= Duration::from_millis(100) {
                self.heartbeat = self.heartbeat.wrapping_add(1);
                let at = self.map.command_block + self.layout.heartbeat;
                if let Err(e) = self
                    .call(ctx.write_single_register(at, self.heartbeat))
                    .await
                {
                    return e;
                }
                last_heartbeat = Instant::now();
            }
            if let Err(e) = self.poll(ctx).await {
                return e;
            }
            if let Some(io) = self.io.as_mut() {
                if let Err(e) = io.exchange(ctx, self.config.timeout).await {
                    return e;
                }
            }
        }
    }

    /// Runs one Modbus call under the timeout, flattening its two error layers.
    async fn call<T>(
        &self,
        request: impl std::future::Future<Output = tokio_modbus::Result<T>>,
    ) -> Result<T, LinkError> {
        bounded(self.config.timeout, request).await
    }

    async fn execute(&mut self, ctx: &mut Context, c: MotionEdge) -> Result<(), LinkError> {
        match c {
            MotionEdge::Move {
                motion_id,
                target,
                speed,
                path,
            } => {
                self.sequence = self.sequence.checked_add(1).unwrap_or(1);
                let mut block = Vec::with_capacity(self.layout.len as usize);
                // The gate plans lines on Modbus only for six joints and poses that fit the
                // registers (tasks/space.rs): a line that does not is a definition error,
                // refused as such, never run as a joint move.
                let line = match path.as_deref() {
                    Some(line) => {
                        Some(movel_block(line, target.len()).ok_or(LinkError::Exception(0x03))?)
                    }
                    None => None,
                };
                match line {
                    Some((pose, rates)) => {
                        block.extend(pose);
                        block.resize(target.len(), 0);
                        block.extend([rates.0, rates.1, command::MOVEL]);
                    }
                    None => {
                        for &q in target.iter() {
                            // Targets were checked against the joint ranges (±2π), which a
                            // mrad register holds; a failure here is a definition error.
                            block.push(encode_mrad(q).map_err(|_| LinkError::Exception(0x03))?);
                        }
                        let permille = encode_permille(speed);
                        block.extend([permille, permille, command::MOVE]);
                    }
                }
                block.extend([self.sequence, self.heartbeat]);
                self.active = Some((motion_id, self.sequence));
                self.call(ctx.write_multiple_registers(self.map.command_block, &block))
                    .await
            }
            MotionEdge::Stop => self.send_stop(ctx).await,
            MotionEdge::Idle => {
                self.active = None;
                Ok(())
            }
        }
    }

    async fn send_stop(&mut self, ctx: &mut Context) -> Result<(), LinkError> {
        self.sequence = self.sequence.checked_add(1).unwrap_or(1);
        let at = self.map.command_block + self.layout.command;
        self.call(ctx.write_multiple_registers(at, &[command::STOP, self.sequence]))
            .await
    }

    /// Reads the state registers and the status block: in one request when the map allows
    /// it and the robot accepts it, else in two.
    async fn read_registers(
        &mut self,
        ctx: &mut Context,
    ) -> Result<Result<RobotRegisters, DecodeError>, LinkError> {
        // The robot file's map was checked at load; a span error here is a protocol error.
        let reads = self
            .map
            .poll_reads(self.joints)
            .map_err(|_| LinkError::Io(libc::EPROTO))?;
        if let (PollReads::One { first, count }, false) = (reads, self.split_poll) {
            match self.call(ctx.read_holding_registers(first, count)).await {
                Ok(regs) => return Ok(decode_one_read(&self.map, self.joints, first, &regs)),
                // A server that keeps its register blocks apart refuses a read across them;
                // its answer is whole, so the connection stays and the poll goes on in two.
                Err(LinkError::Exception(ILLEGAL_DATA_ADDRESS)) => {
                    self.split_poll = true;
                    if !std::mem::replace(&mut self.told_split, true) {
                        tracing::info!(
                            first,
                            last = first + count - 1,
                            "the robot refuses one read across its register blocks (exception 2): polling with two requests"
                        );
                    }
                }
                Err(e) => return Err(e),
            }
        }
        let (first, count) = self
            .map
            .state_span(self.joints)
            .map_err(|_| LinkError::Io(libc::EPROTO))?;
        let block = self.call(ctx.read_holding_registers(first, count)).await?;
        let st = self
            .call(ctx.read_holding_registers(self.map.status_block, status_layout::LEN))
            .await?;
        Ok(decode_state(&self.map, self.joints, &block, &st))
    }

    async fn poll(&mut self, ctx: &mut Context) -> Result<(), LinkError> {
        let decoded = self.read_registers(ctx).await?;
        let m = &self.map;
        let now = Instant::now();
        // A short answer is a broken exchange: the connection is dropped and made again.
        let regs = decoded.map_err(|e| {
            tracing::warn!(error = %e, "cannot decode the robot's registers");
            LinkError::Io(libc::EPROTO)
        })?;
        let mut positions = Joints::zeros(self.joints);
        let mut velocities = Joints::zeros(self.joints);
        for i in 0..self.joints {
            positions[i] = regs.positions[i];
            velocities[i] = regs.velocities[i];
        }
        let (estop, pstop) = (regs.emergency_stop, regs.protective_stop);
        let mode = match regs.mode {
            _ if estop => RobotMode::EmergencyStop,
            _ if pstop => RobotMode::ProtectiveStop,
            UR_MODE_RUNNING => RobotMode::Running,
            _ => RobotMode::NotReady,
        };
        let robot_status = regs.status;
        let acked = regs.ack_sequence;
        let heartbeat = regs.heartbeat;
        let (changed, changed_at) = match self.robot_heartbeat {
            Some((last, since)) if last == heartbeat => (false, since),
            _ => (true, now),
        };
        // Moving means changed between two reads on this connection; a change across a link
        // loss says the companion ran at some point, not that it runs now.
        let moved = changed && !std::mem::take(&mut self.first_poll);
        self.robot_heartbeat = Some((heartbeat, changed_at));
        let unchanged = now.saturating_duration_since(changed_at);
        let companion_down = unchanged >= COMPANION_TIMEOUT;
        let fault = if estop {
            Some(Fault::EmergencyStop)
        } else if pstop {
            Some(Fault::ProtectiveStop)
        } else if companion_down {
            Some(Fault::CompanionNotRunning {
                program: COMPANION_PROGRAM,
                register: m.status_block + status_layout::HEARTBEAT,
                unchanged_ms: u32::try_from(unchanged.as_millis()).unwrap_or(u32::MAX),
            })
        } else {
            match self.active {
                Some((_, seq)) if robot_status == status::ERROR && acked == seq => {
                    Some(Fault::Controller { code: regs.error })
                }
                _ => None,
            }
        };
        // A state is fresh only if the robot's heartbeat moved since the last poll (so not on
        // a connection's first). Once the companion is known not to run, the controller's own
        // registers, just read, are the state: fresh, and carrying the fault naming the cause.
        if moved || companion_down {
            self.current.sampled_at = now;
        }
        self.current = ArmState {
            positions,
            velocities,
            mode,
            fault,
            link_down_since: None,
            ..self.current
        };
        self.state.write(self.current);
        self.report_companion(companion_down, unchanged);
        // Without the companion, its status block is a leftover that nobody acts on.
        if robot_status == status::BUSY && self.active.is_none() && !companion_down {
            // The robot moves for a command no motion of ours stands behind any more.
            self.send_stop(ctx).await?;
        }
        Ok(())
    }

    /// Logs the companion stopping or resuming, once per change.
    fn report_companion(&mut self, down: bool, unchanged: Duration) {
        if down == self.companion_down {
            return;
        }
        self.companion_down = down;
        let register = self.map.status_block + status_layout::HEARTBEAT;
        if down {
            tracing::warn!(
                program = COMPANION_PROGRAM,
                register,
                unchanged_s = unchanged.as_secs_f64(),
                "the robot program is not running: its heartbeat register stands still"
            );
        } else {
            tracing::info!(
                program = COMPANION_PROGRAM,
                register,
                "the robot program runs again: its heartbeat moves"
            );
        }
    }
}

/// A straight line as `movel`'s registers: the end pose, and the tool speed and
/// acceleration of the planned profile (mm/s and mm/s²; mrad/s and mrad/s² for a turn in
/// place). `None` when the pose does not fit the registers or the arm has fewer than six
/// joints.
fn movel_block(line: &LinearPath, joints: usize) -> Option<([u16; 6], (u16, u16))> {
    if joints < 6 {
        return None;
    }
    let pose = TcpPose::from_isometry(&line.end).to_array();
    let pose = encode_pose(&pose).ok()?;
    let span = if line.length > 1e-4 {
        line.length
    } else {
        line.turn
    };
    let milli = |v: f64| (v * span * 1000.0).round().clamp(1.0, f64::from(u16::MAX)) as u16;
    Some((
        pose,
        (milli(line.profile.peak_rate), milli(line.profile.accel)),
    ))
}

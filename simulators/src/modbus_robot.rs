//! A simulated UR behind its Modbus registers: UR's state registers, and the robot's side
//! of Armature's handshake, as the URScript companion in `robots/ur/` runs it.

use armature_kinematics::ur::UrGeometry;

use crate::movel::{pose_from_array, pose_to_array, LinearMove};
use crate::robot_file::SimGripper;
use crate::{ArmModel, FaultPlan, JointLimit};
use wire::modbus::{
    command, decode_mrad, decode_pose, encode_mrad, encode_pose, error, safety, status,
    status_layout, CommandLayout, RegisterMap, UR_MODE_RUNNING,
};

/// Readable blocks: UR's digital I/O, the general-purpose registers, UR's state block, the
/// TCP pose. The general-purpose and state blocks adjoin: one read may run from one into
/// the other unless [`RobotFaults::refuse_cross_block_reads`] is set.
const READABLE: [(u16, u16); 4] = [(0, 3), (128, 255), (256, 299), (400, 405)];
/// Without Armature's heartbeat for this long while moving, the robot stops itself.
pub const HEARTBEAT_TIMEOUT_S: f64 = 1.0;
/// Modbus exception code: illegal data address.
pub const ILLEGAL_DATA_ADDRESS: u8 = 0x02;
/// Modbus exception code: server device failure.
pub const SERVER_DEVICE_FAILURE: u8 = 0x04;

/// Faults the simulator can be told to show, in seconds after start.
#[derive(Debug, Clone, Copy, Default)]
pub struct RobotFaults {
    /// The registers stop updating (joints and heartbeat) from this time...
    pub freeze_after_s: Option<f64>,
    /// ...for this long.
    pub freeze_for_s: f64,
    /// The robot goes into protective stop at this time...
    pub protective_stop_after_s: Option<f64>,
    /// ...and the operator clears it this long after.
    pub protective_stop_for_s: f64,
    /// The first `error_moves` move commands are answered with this error code.
    pub error_code: u16,
    /// How many move commands to fail.
    pub error_moves: u32,
    /// Every read is answered with exception 0x04 from this time...
    pub exceptions_after_s: Option<f64>,
    /// ...for this long.
    pub exceptions_for_s: f64,
    /// The companion does not run at start: the registers answer, its heartbeat stands
    /// still and commands are not served, until [`ModbusRobot::set_companion`] starts it.
    pub companion_stopped: bool,
    /// Answer a read that runs from one register block into the next (say from the
    /// general-purpose registers into UR's state registers) with exception 0x02, as a
    /// server that keeps its blocks apart would.
    pub refuse_cross_block_reads: bool,
}

/// Whether a fault that starts at `after` and lasts `length` is active at `now`.
fn active(after: Option<f64>, length: f64, now: f64) -> bool {
    after.is_some_and(|t| now >= t && now < t + length)
}

/// The simulated robot and its register bank.
pub struct ModbusRobot {
    model: ArmModel,
    limits: Vec<JointLimit>,
    map: RegisterMap,
    layout: CommandLayout,
    regs: Vec<u16>,
    faults: RobotFaults,
    errors_left: u32,
    last_sequence: u16,
    moving: bool,
    move_start: Vec<f64>,
    move_target: Vec<f64>,
    plugin_heartbeat: u16,
    plugin_heartbeat_at: f64,
    robot_heartbeat: u16,
    companion: bool,
    /// The gripper, its gap (m), and the width of a part between its fingers, if any.
    gripper: Option<(SimGripper, f64)>,
    part_width_m: Option<f64>,
    /// The arm's UR geometry, for `movel` and the TCP pose registers.
    geometry: Option<UrGeometry>,
    /// The `movel` in progress.
    line: Option<LinearMove>,
}

impl ModbusRobot {
    /// A robot at `home`, at rest, with `faults` scheduled.
    pub fn new(
        limits: Vec<JointLimit>,
        home: &[f64],
        map: RegisterMap,
        faults: RobotFaults,
    ) -> Self {
        let n = limits.len();
        let mut robot = Self {
            model: ArmModel::new(limits.clone(), home, FaultPlan::default()),
            layout: RegisterMap::command_layout(n),
            limits,
            map,
            regs: vec![0; 65536],
            faults,
            errors_left: faults.error_moves,
            last_sequence: 0,
            moving: false,
            move_start: vec![0.0; n],
            move_target: vec![0.0; n],
            plugin_heartbeat: 0,
            plugin_heartbeat_at: 0.0,
            robot_heartbeat: 0,
            companion: !faults.companion_stopped,
            gripper: None,
            part_width_m: None,
            geometry: None,
            line: None,
        };
        robot.publish_state();
        robot
    }

    /// Gives the robot a gripper, open, with a part of `part_width_m` between its fingers
    /// if given: closing stops on it, and the part sensor (input 0) sees it.
    pub fn with_gripper(mut self, gripper: Option<SimGripper>, part_width_m: Option<f64>) -> Self {
        self.gripper = gripper.map(|g| (g, g.open_width_m));
        self.part_width_m = part_width_m;
        self.regs[wire::ur_io::INPUT_BITS as usize] = u16::from(part_width_m.is_some());
        self.publish_gripper();
        self
    }

    /// Gives the robot its UR geometry: it runs `movel` and publishes its TCP pose.
    pub fn with_geometry(mut self, geometry: Option<UrGeometry>) -> Self {
        self.geometry = geometry;
        self.publish_state();
        self
    }

    /// The output bits (register 1).
    pub fn outputs(&self) -> u16 {
        self.regs[wire::ur_io::OUTPUT_BITS as usize]
    }

    /// Moves the fingers for one cycle, closed while their output is on.
    fn step_gripper(&mut self, dt: f64) {
        let outputs = self.outputs();
        if let Some((g, width)) = &mut self.gripper {
            let close = g.output.is_some_and(|c| outputs >> c & 1 == 1);
            *width = g.step(*width, close, self.part_width_m, dt);
        }
        self.publish_gripper();
    }

    fn publish_gripper(&mut self) {
        if let Some((g, width)) = &self.gripper {
            if let Some(r) = g.width_register {
                self.regs[r as usize] = wire::ur_io::encode_width(*width);
            }
        }
    }

    /// Seconds since start.
    pub fn time_s(&self) -> f64 {
        self.model.time_s()
    }

    /// Starts or stops the companion program, as Play and Stop on the pendant do.
    pub fn set_companion(&mut self, running: bool) {
        if running == self.companion {
            return;
        }
        self.companion = running;
        if running {
            // As the companion does at start: a command already in the registers never runs.
            let base = self.map.command_block as usize;
            self.last_sequence = self.regs[base + self.layout.sequence as usize];
            self.plugin_heartbeat = self.regs[base + self.layout.heartbeat as usize];
            self.plugin_heartbeat_at = self.time_s();
            self.answer(status::IDLE, error::NONE);
        } else if self.moving {
            // A UR stops the arm when its program stops; the status block stays as it was.
            self.model.brake();
            self.moving = false;
            self.line = None;
        }
    }

    /// Whether the companion program runs.
    pub fn companion_running(&self) -> bool {
        self.companion
    }

    /// One control cycle: the companion's handshake, the arm's motion, the registers.
    pub fn step(&mut self, dt: f64) {
        let now = self.model.time_s() + dt;
        self.apply_scheduled_faults(now);
        if self.companion {
            self.handshake(now);
        }
        self.step_line(dt);
        self.model.step(dt);
        self.step_gripper(dt);
        let frozen = active(self.faults.freeze_after_s, self.faults.freeze_for_s, now);
        if !frozen {
            self.publish_state();
        }
    }

    fn apply_scheduled_faults(&mut self, now: f64) {
        if let Some(at) = self.faults.protective_stop_after_s {
            let until = at + self.faults.protective_stop_for_s;
            if now >= at && now < until && !self.model.protective_stopped() {
                self.model.protective_stop();
            } else if now >= until && self.model.protective_stopped() {
                self.model.reset_protective_stop();
                self.faults.protective_stop_after_s = None;
            }
        }
    }

    fn answer(&mut self, state: u16, code: u16) {
        let base = self.map.status_block as usize;
        self.regs[base + status_layout::STATUS as usize] = state;
        self.regs[base + status_layout::ACK_SEQUENCE as usize] = self.last_sequence;
        self.regs[base + status_layout::ERROR as usize] = code;
    }

    fn handshake(&mut self, now: f64) {
        let base = self.map.command_block as usize;
        let reg = |off: u16| self.regs[base + off as usize];
        let heartbeat = reg(self.layout.heartbeat);
        if heartbeat != self.plugin_heartbeat {
            self.plugin_heartbeat = heartbeat;
            self.plugin_heartbeat_at = now;
        }
        let sequence = reg(self.layout.sequence);
        if sequence != 0 && sequence != self.last_sequence {
            // A new sequence number is a new command; a repeated one is never run twice.
            self.last_sequence = sequence;
            self.plugin_heartbeat_at = now;
            match reg(self.layout.command) {
                command::MOVE => self.start_move(),
                command::MOVEL => self.start_movel(),
                command::STOP => {
                    // A movel stops on its line (stopl); a movej brakes each joint (stopj).
                    match self.line.as_mut() {
                        Some(line) => line.stop(),
                        None => self.model.brake(),
                    }
                    self.moving = false;
                    self.answer(status::DONE, error::NONE);
                }
                _ => self.answer(status::ERROR, error::UNKNOWN_COMMAND),
            }
        }
        if self.moving {
            if self.model.protective_stopped() {
                self.moving = false;
                self.answer(status::ERROR, error::PROTECTIVE_STOP);
            } else if now - self.plugin_heartbeat_at > HEARTBEAT_TIMEOUT_S {
                self.model.brake();
                self.moving = false;
                self.line = None;
                self.answer(status::ERROR, error::HEARTBEAT_LOST);
            } else if self.line.as_ref().is_none_or(|l| l.at_rest()) && self.model.settled(0.0005) {
                self.moving = false;
                self.answer(status::DONE, error::NONE);
                self.regs[self.map.status_block as usize + status_layout::PROGRESS as usize] = 1000;
            } else {
                let progress = self.progress();
                self.regs[self.map.status_block as usize + status_layout::PROGRESS as usize] =
                    progress;
            }
        }
    }

    fn start_move(&mut self) {
        if self.model.protective_stopped() {
            return self.answer(status::ERROR, error::PROTECTIVE_STOP);
        }
        if self.errors_left > 0 {
            self.errors_left -= 1;
            return self.answer(status::ERROR, self.faults.error_code);
        }
        let base = self.map.command_block as usize;
        let targets: Vec<f64> = (0..self.limits.len())
            .map(|i| decode_mrad(self.regs[base + self.layout.targets as usize + i]))
            .collect();
        if targets
            .iter()
            .zip(&self.limits)
            .any(|(t, l)| *t < l.min || *t > l.max)
        {
            return self.answer(status::ERROR, error::TARGET_OUT_OF_RANGE);
        }
        let speed = f64::from(self.regs[base + self.layout.speed as usize].clamp(1, 1000)) / 1000.0;
        self.move_start.copy_from_slice(self.model.true_positions());
        self.move_target.copy_from_slice(&targets);
        self.model.move_to(&targets, speed);
        self.line = None;
        // What the controller's log would show: which kind of move ran.
        eprintln!("armsim-modbus: movej sequence {}", self.last_sequence);
        self.moving = true;
        self.answer(status::BUSY, error::NONE);
        self.regs[self.map.status_block as usize + status_layout::PROGRESS as usize] = 0;
    }

    /// `movel`: the TCP in a straight line to the pose in the target registers, at the tool
    /// speed (mm/s) and acceleration (mm/s²) in the speed and acceleration registers (mrad/s
    /// and mrad/s² for a turn in place).
    fn start_movel(&mut self) {
        if self.model.protective_stopped() {
            return self.answer(status::ERROR, error::PROTECTIVE_STOP);
        }
        let base = self.map.command_block as usize;
        let at = base + self.layout.targets as usize;
        let (Some(geometry), Ok(joints), Ok(pose)) = (
            self.geometry,
            <[f64; 6]>::try_from(self.model.true_positions()),
            <[u16; 6]>::try_from(&self.regs[at..at + 6]).map(|r| pose_from_array(decode_pose(&r))),
        ) else {
            // No UR geometry: this robot has no movel.
            return self.answer(status::ERROR, error::UNKNOWN_COMMAND);
        };
        let speed = f64::from(self.regs[base + self.layout.speed as usize].max(1)) / 1000.0;
        let accel = f64::from(self.regs[base + self.layout.acceleration as usize].max(1)) / 1000.0;
        match LinearMove::new(&geometry, joints, pose, speed, accel) {
            Ok(line) => {
                eprintln!(
                    "armsim-modbus: movel sequence {} to x {:.4} y {:.4} z {:.4} at {:.3} m/s",
                    self.last_sequence,
                    pose.translation.x,
                    pose.translation.y,
                    pose.translation.z,
                    speed
                );
                self.line = Some(line);
                self.moving = true;
                self.answer(status::BUSY, error::NONE);
                self.regs[self.map.status_block as usize + status_layout::PROGRESS as usize] = 0;
            }
            Err(_) => self.answer(status::ERROR, error::TARGET_OUT_OF_RANGE),
        }
    }

    /// One cycle of the `movel` in progress: the joints on the line, to the servos.
    fn step_line(&mut self, dt: f64) {
        let (Some(line), Some(geometry)) = (self.line.as_mut(), self.geometry.as_ref()) else {
            return;
        };
        if self.model.protective_stopped() {
            self.line = None;
            return;
        }
        match line.step(geometry, dt) {
            Ok((q, v)) => self.model.command(&q, &v),
            Err(_) => {
                // The line left the arm's reach on the way: brake, and say so.
                self.model.brake();
                self.line = None;
                if self.moving {
                    self.moving = false;
                    self.answer(status::ERROR, error::TARGET_OUT_OF_RANGE);
                }
            }
        }
    }

    fn progress(&self) -> u16 {
        if let Some(line) = &self.line {
            return (line.progress() * 1000.0) as u16;
        }
        let (mut dot, mut norm) = (0.0, 0.0);
        for (i, q) in self.model.true_positions().iter().enumerate() {
            let d = self.move_target[i] - self.move_start[i];
            dot += (q - self.move_start[i]) * d;
            norm += d * d;
        }
        if norm <= 0.0 {
            1000
        } else {
            ((dot / norm).clamp(0.0, 1.0) * 1000.0) as u16
        }
    }

    fn publish_state(&mut self) {
        let s = self.model.state();
        let m = &self.map;
        self.regs[m.robot_mode as usize] = UR_MODE_RUNNING;
        let flags = m.safety_flags as usize;
        self.regs[flags + safety::POWER_ON as usize] = 1;
        self.regs[flags + safety::PROTECTIVE_STOP as usize] =
            u16::from(self.model.protective_stopped());
        self.regs[flags + safety::EMERGENCY_STOP as usize] = 0;
        self.regs[flags + safety::TEACH_BUTTON as usize] = 0;
        for (i, (p, v)) in s.positions.iter().zip(s.velocities).enumerate() {
            // The model keeps joints within ±2π, which always fits a mrad register.
            self.regs[m.joint_angles as usize + i] = encode_mrad(*p).unwrap_or(0);
            self.regs[m.joint_speeds as usize + i] = encode_mrad(*v).unwrap_or(0);
        }
        if let (Some(g), Ok(q)) = (
            &self.geometry,
            <[f64; 6]>::try_from(self.model.true_positions()),
        ) {
            // A reachable pose always fits: metres within ±3.2 m, rotation vectors within π.
            if let Ok(pose) = encode_pose(&pose_to_array(&g.forward(&q))) {
                self.regs[m.tcp_pose as usize..m.tcp_pose as usize + 6].copy_from_slice(&pose);
            }
        }
        // The heartbeat is the companion's: it stands still while the program does not run.
        if self.companion {
            self.robot_heartbeat = self.robot_heartbeat.wrapping_add(1);
            self.regs[m.status_block as usize + status_layout::HEARTBEAT as usize] =
                self.robot_heartbeat;
        }
    }

    /// Answers a read, or the Modbus exception code for it.
    pub fn read(&self, address: u16, count: u16) -> Result<Vec<u16>, u8> {
        if active(
            self.faults.exceptions_after_s,
            self.faults.exceptions_for_s,
            self.time_s(),
        ) {
            return Err(SERVER_DEVICE_FAILURE);
        }
        let last = u32::from(address) + u32::from(count.max(1)) - 1;
        let within =
            |&(a, b): &(u16, u16)| u32::from(a) <= u32::from(address) && last <= u32::from(b);
        let inside = if self.faults.refuse_cross_block_reads {
            READABLE.iter().any(within)
        } else {
            // Every register read lies in some block: adjoining blocks read as one.
            (u32::from(address)..=last).all(|r| {
                READABLE
                    .iter()
                    .any(|&(a, b)| (u32::from(a)..=u32::from(b)).contains(&r))
            })
        };
        if count == 0 || !inside {
            return Err(ILLEGAL_DATA_ADDRESS);
        }
        Ok(self.regs[address as usize..=last as usize].to_vec())
    }

    /// Applies a write to the general-purpose registers or UR's output registers (1: all
    /// outputs, 2: set the bits of a mask, 3: clear them), or the exception code for it.
    pub fn write(&mut self, address: u16, values: &[u16]) -> Result<(), u8> {
        use wire::ur_io::{CHANNELS, CLEAR_OUTPUTS, OUTPUT_BITS, SET_OUTPUTS};
        if let ([v], OUTPUT_BITS..=CLEAR_OUTPUTS) = (values, address) {
            let bits = *v & ((1 << CHANNELS) - 1);
            let out = &mut self.regs[OUTPUT_BITS as usize];
            *out = match address {
                SET_OUTPUTS => *out | bits,
                CLEAR_OUTPUTS => *out & !bits,
                _ => bits,
            };
            return Ok(());
        }
        let last = u32::from(address) + values.len().max(1) as u32 - 1;
        if values.is_empty() || u32::from(address) < 128 || last > 255 {
            return Err(ILLEGAL_DATA_ADDRESS);
        }
        self.regs[address as usize..=last as usize].copy_from_slice(values);
        Ok(())
    }
}

#[cfg(test)]
mod tests;

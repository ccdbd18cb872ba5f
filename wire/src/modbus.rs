//! The Modbus/TCP wire contract between Armature and a robot: UR's state registers and
//! Armature's handshake in the general-purpose registers (see `docs/modbus.md`).
//!
//! Both sides use it: the plugin's Modbus backend (`src/hal/modbus.rs`), and the simulator
//! that plays the robot (`armsim-modbus`), as the URScript companion does on a real UR.

use serde::Deserialize;

/// The companion program that plays the robot's side of the handshake on a UR
/// (`robots/ur/armature.script`); named when its heartbeat stands still.
pub const COMPANION_PROGRAM: &str = "armature.script";

/// First general-purpose register (UR: 128–255 are free for the user, read/write).
pub const GP_FIRST: u16 = 128;
/// Last general-purpose register.
pub const GP_LAST: u16 = 255;

/// UR robot mode "RUNNING" in register 258.
pub const UR_MODE_RUNNING: u16 = 7;
/// UR robot mode "POWER_OFF".
pub const UR_MODE_POWER_OFF: u16 = 3;

/// Offsets inside the safety-flags block (UR: 260 power on, 261 protective stop,
/// 262 emergency stop, 263 teach button).
pub mod safety {
    /// Robot powered on.
    pub const POWER_ON: u16 = 0;
    /// Protective ("security") stopped.
    pub const PROTECTIVE_STOP: u16 = 1;
    /// Emergency stopped.
    pub const EMERGENCY_STOP: u16 = 2;
    /// Teach (freedrive) button pressed.
    pub const TEACH_BUTTON: u16 = 3;
    /// Registers in the block.
    pub const LEN: u16 = 4;
}

/// Commands Armature writes to the command register.
pub mod command {
    /// Nothing to do.
    pub const NONE: u16 = 0;
    /// Joint move to the target at the given speed and acceleration.
    pub const MOVE: u16 = 1;
    /// Controlled stop.
    pub const STOP: u16 = 2;
    /// Straight TCP move (`movel`) to the pose in the first six target registers
    /// ([`super::encode_pose`]), at the tool speed (mm/s) and acceleration (mm/s²) in the
    /// speed and acceleration registers (mrad/s and mrad/s² for a turn in place).
    pub const MOVEL: u16 = 3;
}

/// States the robot writes to the status register.
pub mod status {
    /// Waiting for a command.
    pub const IDLE: u16 = 0;
    /// Executing the acknowledged command.
    pub const BUSY: u16 = 1;
    /// The acknowledged command finished.
    pub const DONE: u16 = 2;
    /// The acknowledged command failed; see the error register.
    pub const ERROR: u16 = 3;
}

/// Error codes the robot writes to the error register.
pub mod error {
    /// No error.
    pub const NONE: u16 = 0;
    /// A target joint is outside the robot's range.
    pub const TARGET_OUT_OF_RANGE: u16 = 1;
    /// The robot is in protective stop.
    pub const PROTECTIVE_STOP: u16 = 2;
    /// The command register held an unknown command.
    pub const UNKNOWN_COMMAND: u16 = 3;
    /// Armature's heartbeat stopped while moving; the robot stopped itself.
    pub const HEARTBEAT_LOST: u16 = 4;
    /// The robot is not running (powered off, e-stop).
    pub const NOT_RUNNING: u16 = 5;

    /// A speakable description of a code.
    pub fn describe(code: u16) -> &'static str {
        match code {
            TARGET_OUT_OF_RANGE => "target out of range",
            PROTECTIVE_STOP => "protective stop",
            UNKNOWN_COMMAND => "unknown command",
            HEARTBEAT_LOST => "Armature's heartbeat was lost",
            NOT_RUNNING => "robot not running",
            _ => "robot-specific error",
        }
    }
}

/// Where the registers are, for one robot (the `[modbus]` table of its definition).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMap {
    /// Robot mode (UR: 258).
    pub robot_mode: u16,
    /// First of the safety flags (UR: 260).
    pub safety_flags: u16,
    /// First joint angle, mrad (UR: 270).
    pub joint_angles: u16,
    /// First joint speed, mrad/s (UR: 280).
    pub joint_speeds: u16,
    /// First TCP pose register (UR: 400; x, y, z in 0.1 mm, rx, ry, rz in mrad).
    pub tcp_pose: u16,
    /// First register of Armature's command block (general purpose).
    pub command_block: u16,
    /// First register of the robot's status block (general purpose).
    pub status_block: u16,
}

impl RegisterMap {
    /// Offsets in the command block for a robot with `joints` joints: targets first.
    pub fn command_layout(joints: usize) -> CommandLayout {
        let n = joints as u16;
        CommandLayout {
            targets: 0,
            speed: n,
            acceleration: n + 1,
            command: n + 2,
            sequence: n + 3,
            heartbeat: n + 4,
            len: n + 5,
        }
    }

    /// Checks that both handshake blocks fit in the general-purpose registers without
    /// overlapping; names the block and the registers when not.
    pub fn validate(&self, joints: usize) -> Result<(), String> {
        self.state_span(joints).map_err(|e| e.to_string())?;
        let cmd = (
            self.command_block,
            self.command_block as u32 + Self::command_layout(joints).len as u32 - 1,
        );
        let st = (
            self.status_block,
            self.status_block as u32 + status_layout::LEN as u32 - 1,
        );
        for (name, (first, last)) in [("command_block", cmd), ("status_block", st)] {
            if first < GP_FIRST || last > GP_LAST as u32 {
                return Err(format!(
                    "{name} spans registers {first}..{last}, outside the general-purpose registers {GP_FIRST}..{GP_LAST}"
                ));
            }
        }
        if (cmd.0 as u32) <= st.1 && (st.0 as u32) <= cmd.1 {
            return Err(format!(
                "command_block {}..{} and status_block {}..{} overlap",
                cmd.0, cmd.1, st.0, st.1
            ));
        }
        Ok(())
    }
}

/// What one poll read, decoded: the robot's state registers and the status block.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotRegisters {
    /// Joint angles (rad).
    pub positions: Vec<f64>,
    /// Joint speeds (rad/s).
    pub velocities: Vec<f64>,
    /// The robot mode register (UR: 7 is running).
    pub mode: u16,
    /// The protective stop flag.
    pub protective_stop: bool,
    /// The emergency stop flag.
    pub emergency_stop: bool,
    /// One of [`status`].
    pub status: u16,
    /// The sequence number the status refers to.
    pub ack_sequence: u16,
    /// One of [`error`].
    pub error: u16,
    /// The robot's heartbeat.
    pub heartbeat: u16,
}

/// A poll's answer that cannot be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The registers to read run past 65535.
    #[error("the state registers of {joints} joints run past register 65535")]
    Span {
        /// The joint count.
        joints: usize,
    },
    /// The read started after a block it should hold.
    #[error("the read from register {first} does not hold the {block}, which starts at {at}")]
    Before {
        /// Which block.
        block: &'static str,
        /// Its first register.
        at: u16,
        /// The read's first register.
        first: u16,
    },
    /// Fewer registers came back than were asked for.
    #[error("the robot answered {got} registers of the {block} where {want} were asked")]
    Short {
        /// Which read.
        block: &'static str,
        /// How many came.
        got: usize,
        /// How many were asked.
        want: usize,
    },
}

impl RegisterMap {
    /// The first register and the count of the one read that covers the robot mode, the
    /// safety flags and every joint's angle and speed.
    pub fn state_span(&self, joints: usize) -> Result<(u16, u16), DecodeError> {
        let n = u32::try_from(joints).map_err(|_| DecodeError::Span { joints })?;
        let ends = [
            (u32::from(self.robot_mode), 1),
            (u32::from(self.safety_flags), u32::from(safety::LEN)),
            (u32::from(self.joint_angles), n),
            (u32::from(self.joint_speeds), n),
        ];
        let first = ends.iter().map(|e| e.0).min().unwrap_or(0);
        let last = ends.iter().map(|e| e.0 + e.1.max(1) - 1).max().unwrap_or(0);
        let count = last - first + 1;
        // Modbus reads at most 125 holding registers at once.
        if last > u32::from(u16::MAX) || count > 125 {
            return Err(DecodeError::Span { joints });
        }
        Ok((first as u16, count as u16))
    }
}

/// How one poll reads the robot: the state registers and the status block in one request
/// when both lie within its reach, else one request each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollReads {
    /// One read of `count` registers from `first`, holding both.
    One {
        /// First register.
        first: u16,
        /// Registers read.
        count: u16,
    },
    /// The state span, then the status block.
    Two {
        /// The state registers' first register and count.
        state: (u16, u16),
    },
}

/// The most holding registers one Modbus request may read.
pub const MAX_READ: u32 = 125;

impl RegisterMap {
    /// How a poll reads this map for `joints` joints.
    pub fn poll_reads(&self, joints: usize) -> Result<PollReads, DecodeError> {
        let (first, count) = self.state_span(joints)?;
        let lo = u32::from(first.min(self.status_block));
        let hi = (u32::from(first) + u32::from(count))
            .max(u32::from(self.status_block) + u32::from(status_layout::LEN));
        Ok(if hi - lo <= MAX_READ {
            PollReads::One {
                first: lo as u16,
                count: (hi - lo) as u16,
            }
        } else {
            PollReads::Two {
                state: (first, count),
            }
        })
    }
}

/// Decodes a poll made of one read of `regs` from register `first` (see
/// [`RegisterMap::poll_reads`]). A short answer is refused, never read past.
pub fn decode_one_read(
    map: &RegisterMap,
    joints: usize,
    first: u16,
    regs: &[u16],
) -> Result<RobotRegisters, DecodeError> {
    let (state, count) = map.state_span(joints)?;
    let slice = |at: u16, len: u16, block: &'static str| {
        let from =
            usize::from(
                at.checked_sub(first)
                    .ok_or(DecodeError::Before { block, at, first })?,
            );
        regs.get(from..from + usize::from(len))
            .ok_or(DecodeError::Short {
                block,
                got: regs.len().saturating_sub(from),
                want: usize::from(len),
            })
    };
    let block = slice(state, count, "state registers")?;
    let status = slice(map.status_block, status_layout::LEN, "status block")?;
    decode_state(map, joints, block, status)
}

/// Decodes one poll: `block` read from [`RegisterMap::state_span`], `status` from the
/// status block. A short answer is refused, never read past.
pub fn decode_state(
    map: &RegisterMap,
    joints: usize,
    block: &[u16],
    status: &[u16],
) -> Result<RobotRegisters, DecodeError> {
    let (first, count) = map.state_span(joints)?;
    if block.len() < count as usize {
        return Err(DecodeError::Short {
            block: "state registers",
            got: block.len(),
            want: count as usize,
        });
    }
    if status.len() < status_layout::LEN as usize {
        return Err(DecodeError::Short {
            block: "status block",
            got: status.len(),
            want: status_layout::LEN as usize,
        });
    }
    // Every address below lies in the span just checked.
    let reg = |addr: u32| block[(addr - u32::from(first)) as usize];
    let joint = |base: u16, i: usize| decode_mrad(reg(u32::from(base) + i as u32));
    let flag = |offset: u16| reg(u32::from(map.safety_flags) + u32::from(offset)) != 0;
    Ok(RobotRegisters {
        positions: (0..joints).map(|i| joint(map.joint_angles, i)).collect(),
        velocities: (0..joints).map(|i| joint(map.joint_speeds, i)).collect(),
        mode: reg(u32::from(map.robot_mode)),
        protective_stop: flag(safety::PROTECTIVE_STOP),
        emergency_stop: flag(safety::EMERGENCY_STOP),
        status: status[status_layout::STATUS as usize],
        ack_sequence: status[status_layout::ACK_SEQUENCE as usize],
        error: status[status_layout::ERROR as usize],
        heartbeat: status[status_layout::HEARTBEAT as usize],
    })
}

/// Offsets inside the command block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandLayout {
    /// Target joint angles (mrad), one per joint.
    pub targets: u16,
    /// Speed, ‰ of the robot's joint speed limit.
    pub speed: u16,
    /// Acceleration, ‰ of the robot's joint acceleration limit.
    pub acceleration: u16,
    /// One of [`command`].
    pub command: u16,
    /// Sequence number of the command (1–65535; 0 is never used).
    pub sequence: u16,
    /// Armature's heartbeat, incremented at least 10 times a second.
    pub heartbeat: u16,
    /// Registers in the block.
    pub len: u16,
}

/// Offsets inside the status block.
pub mod status_layout {
    /// One of [`super::status`].
    pub const STATUS: u16 = 0;
    /// The sequence number the status refers to.
    pub const ACK_SEQUENCE: u16 = 1;
    /// One of [`super::error`].
    pub const ERROR: u16 = 2;
    /// Progress of the acknowledged move, ‰.
    pub const PROGRESS: u16 = 3;
    /// The robot's heartbeat, incremented every control cycle while the companion runs.
    pub const HEARTBEAT: u16 = 4;
    /// Registers in the block.
    pub const LEN: u16 = 5;
}

/// A value that does not fit its register.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    /// Not a finite number.
    #[error("{0} is not a finite number")]
    NotFinite(f64),
    /// Outside what a signed 16-bit register holds at this scale.
    #[error("{value} is outside the register's range {min} to {max}")]
    OutOfRange {
        /// The value.
        value: f64,
        /// Smallest encodable.
        min: f64,
        /// Largest encodable.
        max: f64,
    },
}

/// Encodes radians as milliradians in a 16-bit register, two's complement for negatives.
pub fn encode_mrad(rad: f64) -> Result<u16, EncodeError> {
    encode_scaled(rad, 1000.0)
}

/// Decodes a milliradian register (two's complement) to radians.
pub fn decode_mrad(register: u16) -> f64 {
    f64::from(register as i16) / 1000.0
}

/// Encodes `value × scale` rounded into a signed 16-bit register.
pub fn encode_scaled(value: f64, scale: f64) -> Result<u16, EncodeError> {
    if !value.is_finite() {
        return Err(EncodeError::NotFinite(value));
    }
    let scaled = (value * scale).round();
    if scaled < f64::from(i16::MIN) || scaled > f64::from(i16::MAX) {
        return Err(EncodeError::OutOfRange {
            value,
            min: f64::from(i16::MIN) / scale,
            max: f64::from(i16::MAX) / scale,
        });
    }
    Ok(scaled as i16 as u16)
}

/// Encodes a pose `[x, y, z, rx, ry, rz]` (metres, rotation vector in radians) as UR's
/// TCP pose registers do: x, y, z in 0.1 mm, rx, ry, rz in mrad, each signed 16 bits.
pub fn encode_pose(pose: &[f64; 6]) -> Result<[u16; 6], EncodeError> {
    let mut out = [0; 6];
    for (i, v) in pose.iter().enumerate() {
        out[i] = encode_scaled(*v, if i < 3 { 10_000.0 } else { 1000.0 })?;
    }
    Ok(out)
}

/// Decodes six TCP pose registers (see [`encode_pose`]).
pub fn decode_pose(registers: &[u16; 6]) -> [f64; 6] {
    let mut out = [0.0; 6];
    for (i, r) in registers.iter().enumerate() {
        out[i] = f64::from(*r as i16) / if i < 3 { 10_000.0 } else { 1000.0 };
    }
    out
}

/// Encodes a fraction in (0, 1] as per mille (1–1000).
pub fn encode_permille(fraction: f64) -> u16 {
    (fraction * 1000.0).round().clamp(1.0, 1000.0) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ur_map() -> RegisterMap {
        RegisterMap {
            robot_mode: 258,
            safety_flags: 260,
            joint_angles: 270,
            joint_speeds: 280,
            tcp_pose: 400,
            command_block: 128,
            status_block: 140,
        }
    }

    #[test]
    fn a_status_block_near_the_state_registers_is_read_with_them() {
        let mut map = ur_map();
        assert_eq!(
            map.poll_reads(6).unwrap(),
            PollReads::Two { state: (258, 28) }
        );
        map.status_block = 250;
        assert_eq!(
            map.poll_reads(6).unwrap(),
            PollReads::One {
                first: 250,
                count: 36
            }
        );
        let mut regs = vec![0u16; 36];
        regs[0] = status::DONE; // 250: status
        regs[4] = 9; // 254: the robot's heartbeat
        regs[8] = UR_MODE_RUNNING; // 258: robot mode
        regs[20] = 1000; // 270: first joint, 1 rad
        let r = decode_one_read(&map, 6, 250, &regs).unwrap();
        assert_eq!(
            (r.status, r.heartbeat, r.mode),
            (status::DONE, 9, UR_MODE_RUNNING)
        );
        assert!((r.positions[0] - 1.0).abs() < 1e-9);
        assert_eq!(
            decode_one_read(&map, 6, 250, &regs[..30])
                .unwrap_err()
                .to_string(),
            "the robot answered 22 registers of the state registers where 28 were asked"
        );
        assert_eq!(
            decode_one_read(&map, 6, 251, &regs)
                .unwrap_err()
                .to_string(),
            "the read from register 251 does not hold the status block, which starts at 250"
        );
    }

    #[test]
    fn negative_angles_are_twos_complement_millirad() {
        assert_eq!(encode_mrad(-1.5712).unwrap(), 63965);
        assert_eq!(decode_mrad(63965), -1.571);
        assert_eq!(encode_mrad(std::f64::consts::TAU).unwrap(), 6283);
        assert_eq!(
            decode_mrad(encode_mrad(-std::f64::consts::TAU).unwrap()),
            -6283.0 / 1000.0
        );
        assert_eq!(encode_mrad(0.0004).unwrap(), 0);
    }

    #[test]
    fn a_pose_is_tenths_of_millimetres_and_milliradians() {
        let pose = [-0.49226, 0.13333, 0.48766, 2.9016, -0.0006, -1.2];
        let regs = encode_pose(&pose).unwrap();
        assert_eq!(regs[0], (-4923i16) as u16);
        assert_eq!(regs[3], 2902);
        assert_eq!(
            decode_pose(&regs),
            [-0.4923, 0.1333, 0.4877, 2.902, -0.001, -1.2]
        );
        assert!(encode_pose(&[3.3, 0.0, 0.0, 0.0, 0.0, 0.0]).is_err());
    }

    #[test]
    fn values_the_register_cannot_hold_are_refused() {
        assert_eq!(
            encode_mrad(33.0).unwrap_err().to_string(),
            "33 is outside the register's range -32.768 to 32.767"
        );
        assert!(matches!(
            encode_mrad(f64::NAN),
            Err(EncodeError::NotFinite(_))
        ));
        assert_eq!(encode_mrad(32.767).unwrap(), 32767);
        assert_eq!(encode_permille(0.25), 250);
        assert_eq!(encode_permille(0.0), 1);
    }

    #[test]
    fn the_map_must_keep_writes_in_the_general_purpose_registers() {
        assert_eq!(ur_map().validate(6), Ok(()));
        let low = RegisterMap {
            command_block: 120,
            ..ur_map()
        };
        assert_eq!(
            low.validate(6).unwrap_err(),
            "command_block spans registers 120..130, outside the general-purpose registers 128..255"
        );
        let overlap = RegisterMap {
            status_block: 135,
            ..ur_map()
        };
        assert_eq!(
            overlap.validate(6).unwrap_err(),
            "command_block 128..138 and status_block 135..139 overlap"
        );
        let high = RegisterMap {
            status_block: 252,
            ..ur_map()
        };
        assert!(high
            .validate(6)
            .unwrap_err()
            .contains("status_block spans registers 252..256"));
    }
}

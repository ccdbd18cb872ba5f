//! The simulated robot's registers and handshake, as the companion runs them.

use super::*;
use wire::modbus::encode_permille;

fn robot(faults: RobotFaults) -> ModbusRobot {
    let limits = vec![
        JointLimit {
            min: -6.0,
            max: 6.0,
            max_velocity: 3.0,
            max_acceleration: 4.0
        };
        6
    ];
    let map = RegisterMap {
        robot_mode: 258,
        safety_flags: 260,
        joint_angles: 270,
        joint_speeds: 280,
        tcp_pose: 400,
        command_block: 128,
        status_block: 140,
    };
    ModbusRobot::new(limits, &[0.0; 6], map, faults)
}

fn send(r: &mut ModbusRobot, cmd: u16, seq: u16, target: f64) {
    let mut block: Vec<u16> = (0..6).map(|_| encode_mrad(target).unwrap()).collect();
    block.extend([encode_permille(0.5), encode_permille(0.5), cmd, seq, seq]);
    r.write(128, &block).unwrap();
}

/// Runs `s` seconds with Armature's heartbeat ticking (or not).
fn run_with(r: &mut ModbusRobot, s: f64, heartbeat: bool) {
    for k in 0..(s / 0.002) as usize {
        if heartbeat && k % 50 == 0 {
            let hb = r.read(138, 1).unwrap()[0].wrapping_add(1);
            r.write(138, &[hb]).unwrap();
        }
        r.step(0.002);
    }
}

fn run(r: &mut ModbusRobot, s: f64) {
    run_with(r, s, true);
}

#[test]
fn a_move_runs_once_per_sequence_number() {
    let mut r = robot(RobotFaults::default());
    send(&mut r, command::MOVE, 1, 0.5);
    run(&mut r, 0.1);
    assert_eq!(r.read(140, 2).unwrap(), vec![status::BUSY, 1]);
    run(&mut r, 3.0);
    assert_eq!(r.read(140, 4).unwrap(), vec![status::DONE, 1, 0, 1000]);
    assert_eq!(r.read(270, 1).unwrap(), vec![500]);
    // The same sequence number written again (a resend after a reconnect) does nothing.
    send(&mut r, command::MOVE, 1, -0.5);
    run(&mut r, 1.0);
    assert_eq!(r.read(270, 1).unwrap(), vec![500]);
}

#[test]
fn out_of_map_reads_and_read_only_writes_are_exceptions() {
    let mut r = robot(RobotFaults::default());
    assert_eq!(r.read(300, 1), Err(ILLEGAL_DATA_ADDRESS));
    assert_eq!(r.read(295, 10), Err(ILLEGAL_DATA_ADDRESS));
    assert_eq!(r.write(270, &[1]), Err(ILLEGAL_DATA_ADDRESS));
    assert_eq!(r.read(258, 1).unwrap(), vec![UR_MODE_RUNNING]);
}

#[test]
fn a_read_may_run_from_the_general_purpose_into_the_state_registers_unless_refused() {
    let r = robot(RobotFaults::default());
    let regs = r.read(250, 36).unwrap();
    assert_eq!((regs.len(), regs[8]), (36, UR_MODE_RUNNING));
    let apart = robot(RobotFaults {
        refuse_cross_block_reads: true,
        ..RobotFaults::default()
    });
    assert_eq!(apart.read(250, 36), Err(ILLEGAL_DATA_ADDRESS));
    // Each block alone still answers.
    assert_eq!(apart.read(258, 1).unwrap(), vec![UR_MODE_RUNNING]);
    assert_eq!(apart.read(250, 6).unwrap().len(), 6);
}

#[test]
fn output_bits_drive_the_gripper_and_its_gap_is_published() {
    let g = SimGripper {
        open_width_m: 0.08,
        closed_width_m: 0.0,
        stroke_s: 1.0,
        output: Some(0),
        width_register: Some(150),
    };
    let mut r = robot(RobotFaults::default()).with_gripper(Some(g), Some(0.03));
    assert_eq!(r.read(0, 4).unwrap(), vec![1, 0, 0, 0]);
    assert_eq!(r.read(150, 1).unwrap(), vec![800]);
    r.write(2, &[0b101]).unwrap();
    r.write(3, &[0b100]).unwrap();
    assert_eq!(r.outputs(), 0b1);
    run(&mut r, 1.5);
    // Closed on the part, not on nothing.
    assert_eq!(r.read(150, 1).unwrap(), vec![300]);
    r.write(1, &[0]).unwrap();
    run(&mut r, 1.5);
    assert_eq!(r.read(150, 1).unwrap(), vec![800]);
    assert_eq!(r.write(0, &[1]), Err(ILLEGAL_DATA_ADDRESS));
}

#[test]
fn the_robot_stops_itself_when_armatures_heartbeat_stops() {
    let mut r = robot(RobotFaults::default());
    send(&mut r, command::MOVE, 1, 3.0);
    run_with(&mut r, 1.5, false);
    assert_eq!(
        r.read(140, 3).unwrap(),
        vec![status::ERROR, 1, error::HEARTBEAT_LOST]
    );
    run_with(&mut r, 1.5, false);
    assert_eq!(r.read(280, 6).unwrap(), vec![0; 6]);
}

#[test]
fn without_the_companion_the_registers_answer_but_nothing_is_served() {
    let mut r = robot(RobotFaults {
        companion_stopped: true,
        ..RobotFaults::default()
    });
    let heartbeat = r.read(144, 1).unwrap();
    send(&mut r, command::MOVE, 1, 0.5);
    run(&mut r, 0.5);
    // The controller's registers answer; the companion's heartbeat and status stand still.
    assert_eq!(r.read(258, 1).unwrap(), vec![UR_MODE_RUNNING]);
    assert_eq!(r.read(270, 1).unwrap(), vec![0]);
    assert_eq!(r.read(144, 1).unwrap(), heartbeat);
    assert_eq!(r.read(140, 2).unwrap(), vec![status::IDLE, 0]);
    // Play: the command left in the registers is not run, a new one is.
    r.set_companion(true);
    run(&mut r, 0.5);
    assert_ne!(r.read(144, 1).unwrap(), heartbeat);
    assert_eq!(r.read(140, 2).unwrap(), vec![status::IDLE, 1]);
    assert_eq!(r.read(270, 1).unwrap(), vec![0]);
    send(&mut r, command::MOVE, 2, 0.5);
    run(&mut r, 3.0);
    assert_eq!(r.read(140, 2).unwrap(), vec![status::DONE, 2]);
    assert_eq!(r.read(270, 1).unwrap(), vec![500]);
}

#[test]
fn stopping_the_companion_mid_move_stops_the_arm() {
    let mut r = robot(RobotFaults::default());
    send(&mut r, command::MOVE, 1, 3.0);
    run(&mut r, 0.5);
    r.set_companion(false);
    let heartbeat = r.read(144, 1).unwrap();
    run(&mut r, 1.5);
    assert_eq!(r.read(280, 6).unwrap(), vec![0; 6]);
    assert_eq!(r.read(144, 1).unwrap(), heartbeat);
    assert!(!r.companion_running());
}

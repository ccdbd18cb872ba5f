//! A fuzz target over the Modbus decoding, run for a bounded time (proptest on stable):
//! whatever registers a robot (or anything on its port) answers, decoding never panics,
//! never reads past what came, and yields finite joint values a register can hold.
//! `ARMATURE_FUZZ_SECS` sets the time (default 5 s).

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wire::modbus::{
    decode_mrad, decode_one_read, decode_state, encode_mrad, status_layout, RegisterMap,
};

fn budget(default_s: u64) -> Duration {
    let s = std::env::var("ARMATURE_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_s);
    Duration::from_secs(s)
}

/// Runs `test` over values of `strategy` until `time` has passed; returns the case count.
fn for_a_while<S: Strategy>(
    time: Duration,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64 {
    let deadline = Instant::now() + time;
    let mut cases = 0;
    while Instant::now() < deadline {
        // A runner counts its cases and stops at the configured number: one per round.
        let mut runner = TestRunner::new(Config {
            cases: 512,
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{e}");
        }
        cases += 512;
    }
    cases
}

/// Register addresses: near UR's layout half the time, anywhere the rest.
fn address() -> impl Strategy<Value = u16> {
    prop_oneof![250u16..300, any::<u16>(), 65500u16..=65535]
}

fn map() -> impl Strategy<Value = RegisterMap> {
    (
        address(),
        address(),
        address(),
        address(),
        any::<u16>(),
        128u16..256,
        128u16..256,
    )
        .prop_map(
            |(
                robot_mode,
                safety_flags,
                joint_angles,
                joint_speeds,
                tcp_pose,
                command_block,
                status_block,
            )| {
                RegisterMap {
                    robot_mode,
                    safety_flags,
                    joint_angles,
                    joint_speeds,
                    tcp_pose,
                    command_block,
                    status_block,
                }
            },
        )
}

#[test]
fn decoding_any_answer_never_panics_and_never_reads_past_it() {
    let strategy = (
        map(),
        0usize..10,
        prop::collection::vec(any::<u16>(), 0..140),
        prop::collection::vec(any::<u16>(), 0..8),
    );
    let cases = for_a_while(budget(5), strategy, |(map, joints, block, status)| {
        let span = map.state_span(joints);
        match decode_state(&map, joints, &block, &status) {
            Ok(r) => {
                let (_, count) = span.expect("decoded without a span");
                prop_assert!(block.len() >= count as usize);
                prop_assert!(status.len() >= status_layout::LEN as usize);
                prop_assert_eq!(r.positions.len(), joints);
                prop_assert_eq!(r.velocities.len(), joints);
                for v in r.positions.iter().chain(&r.velocities) {
                    prop_assert!(v.is_finite() && v.abs() <= 32.768, "{}", v);
                }
                prop_assert_eq!(r.heartbeat, status[status_layout::HEARTBEAT as usize]);
            }
            Err(e) => {
                // Refused for a reason that holds: a span past 65535 or a short answer.
                let short = span.clone().is_ok_and(|(_, c)| {
                    block.len() < c as usize || status.len() < status_layout::LEN as usize
                });
                prop_assert!(span.is_err() || short, "{e}");
                prop_assert!(!e.to_string().is_empty());
            }
        }
        Ok(())
    });
    eprintln!("{cases} Modbus answers decoded");
}

#[test]
fn decoding_any_one_read_never_panics_and_never_reads_outside_it() {
    let strategy = (
        map(),
        0usize..10,
        address(),
        prop::collection::vec(any::<u16>(), 0..140),
    );
    let cases = for_a_while(budget(5) / 2, strategy, |(map, joints, first, regs)| {
        if let Ok(r) = decode_one_read(&map, joints, first, &regs) {
            // Both blocks lay inside what came back, from `first` on.
            let (state, count) = map.state_span(joints).expect("decoded without a span");
            let end = |at: u16, len: u16| usize::from(at) + usize::from(len);
            prop_assert!(state >= first && map.status_block >= first);
            prop_assert!(end(state, count) <= usize::from(first) + regs.len());
            prop_assert!(
                end(map.status_block, status_layout::LEN) <= usize::from(first) + regs.len()
            );
            let hb = usize::from(map.status_block - first + status_layout::HEARTBEAT);
            prop_assert_eq!(r.heartbeat, regs[hb]);
        }
        Ok(())
    });
    eprintln!("{cases} one-read answers decoded");
}

#[test]
fn every_angle_a_register_holds_decodes_back_within_half_a_milliradian() {
    let cases = for_a_while(budget(5) / 5, -32.768f64..32.767, |rad| {
        let reg = encode_mrad(rad).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!((decode_mrad(reg) - rad).abs() <= 0.0005 + 1e-12);
        Ok(())
    });
    eprintln!("{cases} angles round-tripped");
}

#[test]
fn the_ur_map_decodes_a_full_answer() {
    let map = RegisterMap {
        robot_mode: 258,
        safety_flags: 260,
        joint_angles: 270,
        joint_speeds: 280,
        tcp_pose: 400,
        command_block: 128,
        status_block: 140,
    };
    assert_eq!(map.state_span(6), Ok((258, 28)));
    let mut block = vec![0u16; 28];
    block[0] = 7;
    block[270 - 258] = encode_mrad(-1.25).unwrap();
    block[261 - 258] = 1;
    let r = decode_state(&map, 6, &block, &[2, 9, 0, 1000, 77]).unwrap();
    assert_eq!(
        (r.mode, r.protective_stop, r.emergency_stop),
        (7, true, false)
    );
    assert_eq!(r.positions[0], -1.25);
    assert_eq!((r.status, r.ack_sequence, r.heartbeat), (2, 9, 77));
    let short = decode_state(&map, 6, &block[..27], &[0; 5]).unwrap_err();
    assert_eq!(
        short.to_string(),
        "the robot answered 27 registers of the state registers where 28 were asked"
    );
}

//! Round trip of Armature's Modbus state poll against `armsim-modbus` on loopback.
//!
//!     cargo bench -p armsim --bench modbus_poll [-- READS]
//!
//! One poll is what the backend sends each cycle with the shipped map: one read of
//! registers 250–285 (the status block 250–254, then mode, safety flags, joint angles and
//! speeds). The same registers in two requests (the poll's fallback when a robot refuses a
//! read across register blocks) and a single-register read, the floor of one Modbus request
//! on this machine, are shown beside it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tokio_modbus::client::Reader;
use tokio_modbus::Slave;

fn percentile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let reads: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("its address").port()
    };
    let robot = concat!(env!("CARGO_MANIFEST_DIR"), "/../robots/ur5e.toml");
    let mut sim = Command::new(env!("CARGO_BIN_EXE_armsim-modbus"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--robot", robot])
        .stderr(Stdio::null())
        .spawn()
        .expect("armsim-modbus starts");
    let addr = format!("127.0.0.1:{port}").parse().expect("an address");
    let mut ctx = None;
    for _ in 0..100 {
        if let Ok(c) = tokio_modbus::client::tcp::connect_slave(addr, Slave(1)).await {
            ctx = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut ctx = ctx.expect("armsim-modbus accepts a connection");

    let mut poll = Vec::with_capacity(reads);
    let mut two = Vec::with_capacity(reads);
    let mut single = Vec::with_capacity(reads);
    for _ in 0..reads {
        let t = Instant::now();
        let regs = ctx
            .read_holding_registers(250, 36)
            .await
            .expect("transport")
            .expect("no exception");
        poll.push(t.elapsed().as_secs_f64() * 1e6);
        assert_eq!(regs.len(), 36);
        let t = Instant::now();
        for (first, count) in [(258, 28), (250, 5)] {
            ctx.read_holding_registers(first, count)
                .await
                .expect("transport")
                .expect("no exception");
        }
        two.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        ctx.read_holding_registers(258, 1)
            .await
            .expect("transport")
            .expect("no exception");
        single.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let _ = sim.kill();
    let _ = sim.wait();
    println!("| figure ({reads} reads, loopback) | p50 (µs) | p99 (µs) | max (µs) |");
    println!("| --- | --- | --- | --- |");
    for (name, xs) in [
        ("state poll: 250–285, one request", &mut poll),
        ("the same: 258–285 + 250–254, two requests", &mut two),
        ("one register (258), one request", &mut single),
    ] {
        xs.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} |",
            percentile(xs, 0.5),
            percentile(xs, 0.99),
            xs[xs.len() - 1]
        );
    }
}

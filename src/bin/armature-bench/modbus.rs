//! The Modbus poll (tokio-modbus, as the backend polls, against `armsim-modbus`) beside a plain
//! TCP round trip of the same sizes and the pymodbus client, in three placements: as the kernel
//! places them, both ends on one CPU, and client and server on two. On a VM a wake-up across
//! vCPUs costs tens of microseconds, so only a placement held fixed gives a ratio that holds.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_modbus::client::Reader;
use tokio_modbus::Slave;

use super::procs::{free_port, repo_root, samples_from, spawn_until, workspace_bin};
use super::report::{Row, Summary};

/// The target every placement is held to.
const TARGET: &str = "p50 ≤ 1.5 × plain TCP; faster than pymodbus";

/// Where the two ends of each round trip run.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Wherever the kernel puts them.
    Unpinned,
    /// Client and server on the same CPU.
    OneCpu { cpu: usize },
    /// The client on one CPU, the server on another.
    TwoCpus { client: usize, server: usize },
}

impl Placement {
    /// The placements this machine allows: the two pinned ones need two CPUs for the second.
    fn all() -> Vec<Self> {
        let cpus = allowed_cpus();
        let mut out = vec![Self::Unpinned];
        if let Some(&cpu) = cpus.first() {
            out.push(Self::OneCpu { cpu });
        }
        if let [client, server, ..] = cpus[..] {
            out.push(Self::TwoCpus { client, server });
        }
        out
    }

    fn client(self) -> Option<usize> {
        match self {
            Self::Unpinned => None,
            Self::OneCpu { cpu } => Some(cpu),
            Self::TwoCpus { client, .. } => Some(client),
        }
    }

    fn server(self) -> Option<usize> {
        match self {
            Self::Unpinned => None,
            Self::OneCpu { cpu } => Some(cpu),
            Self::TwoCpus { server, .. } => Some(server),
        }
    }

    fn words(self) -> String {
        match self {
            Self::Unpinned => "placed by the kernel".into(),
            Self::OneCpu { cpu } => format!("client and servers on CPU {cpu}"),
            Self::TwoCpus { client, server } => {
                format!("client on CPU {client}, servers on CPU {server}")
            }
        }
    }
}

/// Round trips on loopback (µs), in one placement.
#[derive(Debug, Serialize)]
pub struct Placed {
    /// Where the ends ran.
    pub placement: Placement,
    /// The backend's whole poll with the shipped map: one read of the status block and the
    /// state registers together (250–285).
    pub poll_us: Summary,
    /// The same registers in two requests, the state span then the status block: the poll
    /// before the status block moved next to the state registers.
    pub two_reads_us: Summary,
    /// A plain TCP request/response of the same sizes as the one read.
    pub tcp_us: Summary,
    /// The same read with the pymodbus client.
    pub pymodbus_us: Result<Summary, String>,
}

/// A register span: first register and count.
type Span = (u16, u16);

/// The shipped UR5e map's poll: the one read's span, and the state span and the status
/// block when read apart.
fn shipped_poll() -> Result<(Span, Span, Span), String> {
    use armature::robot::{RobotDefinition, BUILTIN_UR5E};
    use wire::modbus::{status_layout, PollReads};
    let robot = RobotDefinition::parse(BUILTIN_UR5E, "ur5e.toml").map_err(|e| e.to_string())?;
    let map = robot.modbus.ok_or("the built-in UR5e has no Modbus map")?;
    let joints = robot.joints.len();
    let state = map.state_span(joints).map_err(|e| e.to_string())?;
    match map.poll_reads(joints).map_err(|e| e.to_string())? {
        PollReads::One { first, count } => Ok((
            (first, count),
            state,
            (map.status_block, status_layout::LEN),
        )),
        PollReads::Two { .. } => Err("the shipped map polls in two requests".into()),
    }
}

/// `reads` polls in each placement this machine allows, each beside its references.
pub async fn measure(reads: usize) -> Result<Vec<Placed>, String> {
    let mut out = vec![];
    for placement in Placement::all() {
        out.push(in_placement(placement, reads).await?);
    }
    Ok(out)
}

/// One placement: a fresh simulator and echo server on the server's CPU, the client's polls
/// and pymodbus on the client's.
async fn in_placement(placement: Placement, reads: usize) -> Result<Placed, String> {
    let (one, state, status) = shipped_poll()?;
    let port = free_port()?;
    let mut cmd = Command::new(workspace_bin("armsim-modbus")?);
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--robot"])
        .arg(repo_root().join("robots/ur5e.toml"));
    pin_command(&mut cmd, placement.server());
    let (_sim, _) = spawn_until(cmd, "serving", Duration::from_secs(10))?;
    // Modbus/TCP: a 12-byte read request; the answer is a 9-byte header and 2 bytes a register.
    let echo = echo_server(9 + 2 * usize::from(one.1), placement.server())?;
    // The backend polls from its own thread on a current-thread runtime: measured the same
    // way, each poll interleaved with a plain round trip so both see the same machine.
    let client = placement.client();
    let (poll, two, tcp) = tokio::task::spawn_blocking(move || {
        if let Some(cpu) = client {
            pin_current_thread(cpu).map_err(|e| format!("cannot pin the client: {e}"))?;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(poll_rounds(port, echo, reads, [one, state, status]))
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(Placed {
        placement,
        poll_us: Summary::of(poll),
        two_reads_us: Summary::of(two),
        tcp_us: Summary::of(tcp),
        pymodbus_us: pymodbus(port, reads, one, client),
    })
}

/// The table's rows: one a placement.
pub fn rows(placed: &[Placed]) -> Vec<Row> {
    placed.iter().map(row).collect()
}

fn row(m: &Placed) -> Row {
    let ratio = m.poll_us.p50 / m.tcp_us.p50;
    let vs_py = m.pymodbus_us.as_ref().map(|p| m.poll_us.p50 < p.p50);
    let py = match &m.pymodbus_us {
        Ok(p) => format!("pymodbus p50 {:.0} / p99 {:.0} µs", p.p50, p.p99),
        Err(e) => format!("pymodbus: {e}"),
    };
    Row {
        figure: format!(
            "Modbus state poll, one read (tokio-modbus → armsim-modbus), {}",
            m.placement.words()
        ),
        armature: Some(format!(
            "p50 {:.0} / p99 {:.0} µs (the same registers in two reads: p50 {:.0} / p99 {:.0} µs)",
            m.poll_us.p50, m.poll_us.p99, m.two_reads_us.p50, m.two_reads_us.p99
        )),
        reference: format!(
            "plain TCP p50 {:.0} / p99 {:.0} µs; {py}",
            m.tcp_us.p50, m.tcp_us.p99
        ),
        ratio: Some(ratio),
        target: TARGET.into(),
        met: vs_py.as_ref().ok().map(|faster| *faster && ratio <= 1.5),
        error: m
            .pymodbus_us
            .as_ref()
            .err()
            .map(|e| format!("no pymodbus reference: {e}")),
    }
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        return vec![];
    }
    // SAFETY: CPU_ISSET reads the set only, within its size.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes within the set; `cpu` comes from sched_getaffinity's range.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Starts `cmd` pinned to `cpu` (every thread it makes inherits it).
fn pin_command(cmd: &mut Command, cpu: Option<usize>) {
    if let Some(cpu) = cpu {
        // SAFETY: between fork and exec the closure makes one system call (sched_setaffinity)
        // and touches no lock or allocation.
        unsafe {
            cmd.pre_exec(move || pin_current_thread(cpu));
        }
    }
}

/// `reads` whole polls (one read), the same registers in two reads, and plain round trips to
/// `echo`, in µs. `spans` are the one read's, the state span's and the status block's.
async fn poll_rounds(
    port: u16,
    echo: (std::net::SocketAddr, usize),
    reads: usize,
    spans: [Span; 3],
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (echo, reply_len) = echo;
    let mut plain = tokio::net::TcpStream::connect(echo)
        .await
        .map_err(|e| e.to_string())?;
    plain.set_nodelay(true).map_err(|e| e.to_string())?;
    let (req, mut reply) = ([1u8; 12], vec![0u8; reply_len]);
    let addr = format!("127.0.0.1:{port}")
        .parse()
        .map_err(|e| format!("{e}"))?;
    let mut ctx = None;
    for _ in 0..200 {
        if let Ok(c) = tokio_modbus::client::tcp::connect_slave(addr, Slave(1)).await {
            ctx = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut ctx = ctx.ok_or("armsim-modbus accepted no connection")?;
    let (mut poll, mut two, mut tcp) = (vec![], vec![], vec![]);
    for _ in 0..reads {
        let t = Instant::now();
        plain.write_all(&req).await.map_err(|e| e.to_string())?;
        plain
            .read_exact(&mut reply)
            .await
            .map_err(|e| e.to_string())?;
        tcp.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        read(&mut ctx, spans[0]).await?;
        poll.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        read(&mut ctx, spans[1]).await?;
        read(&mut ctx, spans[2]).await?;
        two.push(t.elapsed().as_secs_f64() * 1e6);
    }
    Ok((poll, two, tcp))
}

/// A request/response server on loopback with nothing behind it (12 bytes in, `reply`
/// bytes out, the sizes of the poll's read): the floor for one read.
fn echo_server(reply: usize, cpu: Option<usize>) -> Result<(std::net::SocketAddr, usize), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        if let Some(cpu) = cpu {
            // Unpinned, it measures the kernel's placement: still a figure, said in the row.
            let _ = pin_current_thread(cpu);
        }
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_nodelay(true);
            let (mut req, reply) = ([0u8; 12], vec![0u8; reply]);
            while s.read_exact(&mut req).is_ok() && s.write_all(&reply).is_ok() {}
        }
    });
    Ok((addr, reply))
}

const PYMODBUS: &str = r#"
import json, sys, time
from pymodbus.client import ModbusTcpClient
c = ModbusTcpClient("127.0.0.1", port=int(sys.argv[1]))
assert c.connect()
out = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    r = c.read_holding_registers(int(sys.argv[3]), count=int(sys.argv[4]))
    assert not r.isError()
    out.append((time.perf_counter() - t) * 1e6)
print(json.dumps(out))
"#;

/// The pymodbus client (from the test venv) making the same read, on `cpu` if given.
fn pymodbus(
    port: u16,
    reads: usize,
    (first, count): Span,
    cpu: Option<usize>,
) -> Result<Summary, String> {
    let python = std::env::var_os("ARMATURE_BENCH_PYTHON")
        .map(Into::into)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    if !python.exists() {
        return Err(format!(
            "{} is missing: ./scripts/test makes the venv with pymodbus",
            python.display()
        ));
    }
    let mut cmd = Command::new(python);
    cmd.args(["-c", PYMODBUS, &port.to_string(), &reads.to_string()])
        .args([first.to_string(), count.to_string()]);
    pin_command(&mut cmd, cpu);
    Ok(Summary::of(samples_from(cmd, "pymodbus")?))
}

/// One read of `count` registers from `first`.
async fn read(
    ctx: &mut tokio_modbus::client::Context,
    (first, count): Span,
) -> Result<Vec<u16>, String> {
    ctx.read_holding_registers(first, count)
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("exception {e:?}"))
}

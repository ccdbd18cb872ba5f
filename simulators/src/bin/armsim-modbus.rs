//! `armsim-modbus`: the simulated arm behind a Modbus/TCP server with UR's registers and
//! Armature's handshake, for CI and for trying Armature without a robot.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use armsim::modbus_robot::{ModbusRobot, RobotFaults};
use armsim::robot_file::SimRobotFile;
use clap::Parser;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_modbus::server::tcp::Server;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// The control cycle of the simulated robot (UR e-Series: 500 Hz).
const CYCLE: Duration = Duration::from_millis(2);

/// Serve a simulated robot arm over Modbus/TCP (UR register map plus Armature's handshake).
#[derive(Debug, Parser)]
#[command(name = "armsim-modbus", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5020")]
    listen: SocketAddr,
    /// Robot definition with a [modbus] table.
    #[arg(long, default_value = "robots/ur5e.toml")]
    robot: PathBuf,
    /// Close every connection this many seconds after it was opened...
    #[arg(long, value_name = "S")]
    drop_connections_after: Option<f64>,
    /// ...but only the first N connections.
    #[arg(long, value_name = "N")]
    drop_connections_count: Option<usize>,
    /// Stop updating the state registers and heartbeat this many seconds after start...
    #[arg(long, value_name = "S")]
    freeze_after: Option<f64>,
    /// ...for this long.
    #[arg(long, value_name = "S", default_value_t = f64::INFINITY)]
    freeze_for: f64,
    /// Go into protective stop this many seconds after start...
    #[arg(long, value_name = "S")]
    protective_stop_after: Option<f64>,
    /// ...and clear it this many seconds later.
    #[arg(long, value_name = "S", default_value_t = 1.0)]
    protective_stop_for: f64,
    /// Answer move commands with this error code...
    #[arg(long, value_name = "CODE", default_value_t = 0)]
    error_code: u16,
    /// ...for this many move commands.
    #[arg(long, value_name = "N", default_value_t = 1)]
    error_moves: u32,
    /// Answer every read with exception 0x04 from this many seconds after start...
    #[arg(long, value_name = "S")]
    exceptions_after: Option<f64>,
    /// ...for this long.
    #[arg(long, value_name = "S", default_value_t = f64::INFINITY)]
    exceptions_for: f64,
    /// Delay every answer by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    latency_ms: u64,
    /// Serve the registers without running the companion program (its heartbeat stands
    /// still, commands are not answered). SIGUSR1 starts it, as Play on the pendant does;
    /// SIGUSR2 stops it again.
    #[arg(long)]
    companion_stopped: bool,
    /// Answer a read that runs from one register block into the next (as 250–285 does, from
    /// the general-purpose into the state registers) with exception 0x02.
    #[arg(long)]
    refuse_cross_block_reads: bool,
    /// A part this wide (m) lies between the gripper's fingers: closing stops on it, and the
    /// part sensor (input 0) is on.
    #[arg(long, value_name = "M")]
    part_width: Option<f64>,
}

#[derive(Clone)]
struct RegisterService {
    robot: Arc<Mutex<ModbusRobot>>,
    latency: Duration,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response, ExceptionCode>> + Send>>;

impl tokio_modbus::server::Service for RegisterService {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = Answer;

    fn call(&self, req: Self::Request) -> Self::Future {
        // Any unit id is answered, as UR's own server does.
        let result = {
            let mut robot = self.robot.lock().unwrap_or_else(|p| p.into_inner());
            match req.request {
                Request::ReadHoldingRegisters(a, n) => {
                    robot.read(a, n).map(Response::ReadHoldingRegisters)
                }
                Request::ReadInputRegisters(a, n) => {
                    robot.read(a, n).map(Response::ReadInputRegisters)
                }
                Request::WriteSingleRegister(a, v) => {
                    let before = robot.outputs();
                    let done = robot.write(a, &[v]);
                    if robot.outputs() != before {
                        // What a peer watching the controller's outputs would see.
                        eprintln!("armsim-modbus: digital outputs {:#012b}", robot.outputs());
                    }
                    done.map(|()| Response::WriteSingleRegister(a, v))
                }
                Request::WriteMultipleRegisters(a, values) => robot
                    .write(a, &values)
                    .map(|()| Response::WriteMultipleRegisters(a, values.len() as u16)),
                _ => Err(0x01),
            }
            .map_err(ExceptionCode::new)
        };
        let latency = self.latency;
        Box::pin(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            result
        })
    }
}

/// A connection that ends (EOF) at a deadline, to simulate a dropped link.
struct DroppingStream {
    inner: TcpStream,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for DroppingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(d) = self.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for DroppingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Play (SIGUSR1) and Stop (SIGUSR2) for the companion program, as on the teach pendant.
fn pendant(robot: Arc<Mutex<ModbusRobot>>) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let err = |e: std::io::Error| format!("cannot handle SIGUSR1/SIGUSR2: {e}");
    let mut play = signal(SignalKind::user_defined1()).map_err(err)?;
    let mut halt = signal(SignalKind::user_defined2()).map_err(err)?;
    tokio::spawn(async move {
        loop {
            let running = tokio::select! {
                Some(()) = play.recv() => true,
                Some(()) = halt.recv() => false,
                else => return,
            };
            robot
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .set_companion(running);
            let what = if running { "started" } else { "stopped" };
            eprintln!("armsim-modbus: companion program {what}");
        }
    });
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armsim-modbus: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let file = SimRobotFile::load(&args.robot)?;
    let map = file.modbus.clone().ok_or_else(|| {
        format!(
            "{}: no [modbus] table with the register map",
            args.robot.display()
        )
    })?;
    let faults = RobotFaults {
        freeze_after_s: args.freeze_after,
        freeze_for_s: args.freeze_for,
        protective_stop_after_s: args.protective_stop_after,
        protective_stop_for_s: args.protective_stop_for,
        error_code: args.error_code,
        error_moves: if args.error_code == 0 {
            0
        } else {
            args.error_moves
        },
        exceptions_after_s: args.exceptions_after,
        exceptions_for_s: args.exceptions_for,
        companion_stopped: args.companion_stopped,
        refuse_cross_block_reads: args.refuse_cross_block_reads,
    };
    let robot = Arc::new(Mutex::new(
        ModbusRobot::new(file.limits, &file.home, map, faults)
            .with_gripper(file.gripper, args.part_width)
            .with_geometry(file.geometry),
    ));
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    // Registered before "serving" is printed, so a signal sent after it never kills us.
    pendant(robot.clone())?;
    eprintln!("armsim-modbus: serving {} on {bound}", args.robot.display());

    let physics = robot.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CYCLE);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tick.tick().await;
            physics
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .step(CYCLE.as_secs_f64());
        }
    });

    let service = RegisterService {
        robot,
        latency: Duration::from_millis(args.latency_ms),
    };
    let drop_after = args.drop_connections_after.map(Duration::from_secs_f64);
    let drop_count = args.drop_connections_count.unwrap_or(usize::MAX);
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let on_connected = move |stream: TcpStream, peer: SocketAddr| {
        let service = service.clone();
        let number = connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            stream.set_nodelay(true)?;
            eprintln!("armsim-modbus: connection {} from {peer}", number + 1);
            let deadline = drop_after
                .filter(|_| number < drop_count)
                .map(|d| Box::pin(tokio::time::sleep(d)));
            Ok(Some((
                service,
                DroppingStream {
                    inner: stream,
                    deadline,
                },
            )))
        }
    };
    let server = Server::new(listener);
    tokio::select! {
        r = server.serve(&on_connected, |e| eprintln!("armsim-modbus: connection error: {e}")) => r.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

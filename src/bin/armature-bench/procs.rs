//! The processes a measurement needs (the plugin, simulators, reference tools), and what
//! the kernel says they cost.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// A started process, killed when dropped; its stderr is kept.
pub struct Proc {
    child: Child,
    /// Its stderr lines so far.
    pub log: Arc<Mutex<Vec<String>>>,
    /// Its descendants are killed with it (a tool that starts processes of its own).
    group: bool,
}

impl Proc {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // roslaunch starts rosmaster and rosout in sessions of their own: a kill of roscore or
        // of its group does not reach them, so they are found from /proc and killed too.
        let children = if self.group {
            descendants(self.child.id())
        } else {
            Vec::new()
        };
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in children {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: kill only sends a signal, to a process this Proc's tool started.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// The processes below `pid` (children, their children, ...), read from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command's closing parenthesis: state, then the parent's pid.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if let Some(parent) = parent {
            parent_of.push((child, parent));
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let here = found[i];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, p)| *p == here)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.split_off(1)
}

/// As [`spawn_until`], for a tool that starts children of its own (roscore): they are
/// killed with it when the `Proc` is dropped.
pub fn spawn_group_until(
    cmd: Command,
    marker: &str,
    timeout: Duration,
) -> Result<(Proc, String), String> {
    let (mut proc, line) = spawn_until(cmd, marker, timeout)?;
    proc.group = true;
    Ok((proc, line))
}

/// Starts `cmd` and waits for a stderr line containing `marker` (an empty marker: for
/// nothing); returns it and the line.
pub fn spawn_until(
    mut cmd: Command,
    marker: &str,
    timeout: Duration,
) -> Result<(Proc, String), String> {
    let what = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {what}: {e}"))?;
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    if let Some(err) = child.stderr.take() {
        let log = log.clone();
        let marker = marker.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if line.contains(&marker) {
                    let _ = tx.send(line.clone());
                }
                log.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
    }
    let proc = Proc {
        child,
        log,
        group: false,
    };
    if marker.is_empty() {
        return Ok((proc, String::new()));
    }
    match rx.recv_timeout(timeout) {
        Ok(line) => Ok((proc, line)),
        Err(_) => {
            let log = proc
                .log
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .join("\n");
            Err(format!(
                "{what} did not print \"{marker}\" within {timeout:?}:\n{log}"
            ))
        }
    }
}

/// Waits until something accepts TCP connections on loopback `port` (for tools that
/// announce readiness nowhere we read, such as roscore).
pub fn wait_port(port: u16, what: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on port {port} within {timeout:?}"
    ))
}

/// A free TCP port on loopback.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

/// A binary of this workspace's release build, or a clear message to build it.
pub fn workspace_bin(name: &str) -> Result<PathBuf, String> {
    let here = std::env::current_exe().map_err(|e| e.to_string())?;
    let path = here.with_file_name(name);
    if path.exists() {
        Ok(path)
    } else {
        Err(format!(
            "{} is missing: run `cargo build --release --workspace --bins` first",
            path.display()
        ))
    }
}

/// A command on PATH, or a message naming the Debian package that has it.
pub fn tool(name: &str, package: &str) -> Result<PathBuf, String> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("{name} is missing: install it with `apt-get install {package}`"))
}

fn clock_ticks_per_s() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// utime + stime (clock ticks) from a `stat` file's text.
fn ticks_of(stat: &str) -> u64 {
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|r| r.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    n(11) + n(12)
}

/// Time on a CPU (ns) from a `schedstat` file's text: its first field.
fn runtime_ns(schedstat: &str) -> u64 {
    schedstat
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time (s) of process `pid` (its `stat`, which keeps the time of threads that ended),
/// or of those of its threads whose name starts with one of `threads`, in nanoseconds from
/// their `schedstat`: clock ticks (10 ms) read 0 % for a thread that works a few
/// milliseconds in a window.
pub fn cpu_seconds(pid: u32, threads: Option<&[&str]>) -> f64 {
    let Some(names) = threads else {
        return std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| ticks_of(&s))
            .unwrap_or(0) as f64
            / clock_ticks_per_s();
    };
    let ns: u64 = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|t| {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            names.iter().any(|n| comm.trim().starts_with(n))
        })
        .map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .map(|s| runtime_ns(&s))
                .unwrap_or(0)
        })
        .sum();
    ns as f64 / 1e9
}

/// Resident memory of `pid` (MiB).
pub fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// CPU use of `pid` (or some of its threads) over a window, as a percentage of one core.
pub struct CpuWindow {
    pid: u32,
    threads: Option<Vec<&'static str>>,
    start: Instant,
    cpu: f64,
}

impl CpuWindow {
    /// Starts a window now.
    pub fn start(pid: u32, threads: Option<Vec<&'static str>>) -> Self {
        let cpu = cpu_seconds(pid, threads.as_deref());
        Self {
            pid,
            threads,
            start: Instant::now(),
            cpu,
        }
    }

    /// Percent of one core since the start.
    pub fn percent(&self) -> f64 {
        let used = cpu_seconds(self.pid, self.threads.as_deref()) - self.cpu;
        100.0 * used / self.start.elapsed().as_secs_f64().max(1e-6)
    }
}

/// Where the repository is (for robots/ and config/).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Runs a Python probe that prints its samples as a JSON list.
pub fn samples_from(mut cmd: Command, what: &str) -> Result<Vec<f64>, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{what} output: {e}"))
}

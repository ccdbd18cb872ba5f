//! The installation: the state directory, the config files, the HTTP address, the operators.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use super::Check;
use crate::config::Config;

/// Below this much free space the state directory fails: the audit log alone keeps up to
/// 48 MiB (8 MiB and 5 rotated files).
const FREE_FAIL_BYTES: u64 = 100 << 20;
/// Below this it warns.
const FREE_WARN_BYTES: u64 = 1 << 30;

/// `statfs` magic numbers of file systems that live in RAM.
const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// The state directory: writable, fsync honoured, on a disk, with room.
pub(super) fn state_dir(dir: &Path) -> Check {
    let shown = dir.display();
    let own_fix = format!(
        "sudo install -d -o armature -g armature -m 0750 {shown} (armature.service's StateDirectory= keeps it writable)"
    );
    if !dir.is_dir() {
        let parent_ok = dir.parent().is_some_and(|p| probe_write(p).is_ok());
        return if parent_ok {
            Check::warn(
                "state dir",
                format!("{shown} does not exist yet; `armature serve` will create it"),
                own_fix,
            )
        } else {
            Check::fail(
                "state dir",
                format!("{shown} does not exist and cannot be created"),
                own_fix,
            )
        };
    }
    let fsync = match probe_write(dir) {
        Ok(t) => t,
        Err(e) => {
            return Check::fail(
                "state dir",
                format!("{shown} is not writable: {e}; tasks and variables cannot be kept"),
                own_fix,
            )
        }
    };
    let Some((fs_type, free)) = statfs(dir) else {
        return Check::warn(
            "state dir",
            format!("{shown}: writable, but its file system cannot be read (statfs)"),
            "run again; if it persists, check the mount",
        );
    };
    if fs_type == TMPFS_MAGIC || fs_type == RAMFS_MAGIC {
        return Check::fail(
            "state dir",
            format!("{shown} is in RAM (tmpfs): tasks and variables are lost at power off"),
            "put the state directory on a disk (the package's is /var/lib/armature)",
        );
    }
    if std::env::var("LD_PRELOAD").is_ok_and(|p| p.contains("eatmydata")) {
        return Check::fail(
            "state dir",
            "libeatmydata is preloaded: fsync is a no-op, a power loss can lose acknowledged tasks",
            "run without eatmydata (unset LD_PRELOAD)",
        );
    }
    let free_mib = free >> 20;
    let detail = format!(
        "{shown}: writable, fsync took {:.1} ms, {free_mib} MiB free",
        fsync.as_secs_f64() * 1e3
    );
    if free < FREE_FAIL_BYTES {
        Check::fail(
            "state dir",
            detail,
            format!(
                "free at least {} MiB on its file system",
                FREE_FAIL_BYTES >> 20
            ),
        )
    } else if free < FREE_WARN_BYTES {
        Check::warn(
            "state dir",
            detail,
            "free some space: the journal and audit log grow",
        )
    } else {
        Check::pass("state dir", detail)
    }
}

/// Writes, fsyncs and removes a file in `dir`; how long its fsync took.
fn probe_write(dir: &Path) -> std::io::Result<Duration> {
    let path = dir.join(format!(".armature-doctor-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&path)?;
        f.write_all(&[0u8; 4096])?;
        let t0 = Instant::now();
        f.sync_all()?;
        let took = t0.elapsed();
        crate::durable::sync_dir(dir)?;
        Ok(took)
    })();
    let _ = std::fs::remove_file(&path);
    result
}

/// The file system type and the bytes free to an unprivileged user.
fn statfs(dir: &Path) -> Option<(i64, u64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: a zeroed statfs is a valid value to be overwritten.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a writable statfs.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((
        st.f_type as i64,
        (st.f_bavail as u64).saturating_mul(st.f_bsize as u64),
    ))
}

/// The config, robot and action files, as loaded.
pub(super) fn files(c: &Config) -> Vec<Check> {
    let mut out = vec![
        Check::pass(
            "config",
            format!(
                "{}: backend {}, HTTP {}, {} Hz at SCHED_FIFO {}",
                c.source,
                format!("{:?}", c.backend.kind()).to_lowercase(),
                c.server.http,
                c.motion.rate_hz,
                c.motion.rt_priority
            ),
        ),
        Check::pass(
            "robot file",
            format!(
                "{}: {}, {} joints, {} named positions",
                c.robot.source,
                c.robot.name,
                c.robot.dof(),
                c.robot.positions.len()
            ),
        ),
    ];
    out.push(match &c.actions_source {
        Some(source) => Check::pass(
            "action file",
            format!(
                "{source}: {} custom actions ({})",
                c.actions.len(),
                c.actions
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        None => Check::pass("action file", "none configured: built-in tools only"),
    });
    out
}

/// The HTTP address: free, or already served by an Armature.
pub(super) fn http(c: &Config) -> Check {
    let addr = c.server.http;
    match TcpListener::bind(addr) {
        Ok(_) => Check::pass("http address", format!("{addr} is free")),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            if armature_answers(addr) {
                Check::pass(
                    "http address",
                    format!("{addr} is served by a running Armature (the service, if started)"),
                )
            } else {
                Check::fail(
                    "http address",
                    format!("{addr} is in use by another program"),
                    format!("stop it (ss -ltnp 'sport = :{}' names it), or set [server] http to a free address", addr.port()),
                )
            }
        }
        Err(e) => Check::fail(
            "http address",
            format!("cannot listen on {addr}: {e}"),
            "set [server] http to an address of this machine",
        ),
    }
}

/// Whether an MCP `initialize` at `addr` is answered by Armature (or refused by its token
/// check, which names itself the same way).
fn armature_answers(addr: SocketAddr) -> bool {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"armature-doctor","version":"1"}}}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.take(64 * 1024).read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    text.contains("\"name\":\"armature\"") || text.contains("needs an operator's token")
}

/// Operators: required off loopback; their tokens resolved (the config loaded, so they are).
pub(super) fn operators(c: &Config) -> Check {
    let addr = c.server.http;
    match (c.operators.is_empty(), addr.ip().is_loopback()) {
        (true, true) => Check::pass(
            "operators",
            format!("none, and HTTP on loopback ({addr}): every caller is the local operator"),
        ),
        (true, false) => Check::fail(
            "operators",
            format!("{addr} is not loopback and no [[operators]] are configured: serve refuses to start"),
            "armature token new NAME and add the lines it prints, or set [server] http to 127.0.0.1",
        ),
        (false, _) => Check::pass(
            "operators",
            "configured, every token resolved (token_env variables are set)",
        ),
    }
}

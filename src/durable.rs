//! Crash-safe file writes: write a temporary file, fsync it, rename it over the old one,
//! fsync the directory. After a crash the file is either the old or the new version.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // A partial temp file on a full disk would hold the space the next try needs.
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    sync_dir(dir)
}

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable memory of
    // the right type; statvfs fills it whole when it returns 0.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it initialised the struct.
    let st = unsafe { st.assume_init() };
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Makes a rename or a file creation in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Moves a damaged file aside (`NAME.corrupt-UNIXTIME`) so nothing is lost; returns the new path.
pub fn quarantine(path: &Path) -> std::io::Result<std::path::PathBuf> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dest = path.with_file_name(format!("{name}.corrupt-{stamp}"));
    std::fs::copy(path, &dest)?;
    Ok(dest)
}

/// How often a failure that goes on is logged again (the first one is logged at once).
const REMIND_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A write that has been failing: since when (RFC 3339) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// When the first failed write of this run of failures happened.
    pub since: String,
    /// The last error, e.g. "No space left on device (os error 28)".
    pub cause: String,
}

/// The state of one durable file: failing or not, and when it last recovered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthStatus {
    /// Set while writes fail.
    pub failing: Option<Failure>,
    /// When writes last succeeded again after failing (RFC 3339).
    pub recovered_at: Option<String>,
    /// Failed writes since start.
    pub failures: u64,
}

#[derive(Default)]
struct HealthState {
    status: HealthStatus,
    last_logged: Option<std::time::Instant>,
}

/// Whether writes to one durable file succeed, shared by its writer and its readers.
#[derive(Clone, Default)]
pub struct Health {
    state: std::sync::Arc<std::sync::Mutex<HealthState>>,
}

/// What a writer should say after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Said {
    /// Nothing new: log nothing.
    Nothing,
    /// The first failure, or a reminder that it goes on: log it.
    Failing,
    /// Writes succeed again: log it once.
    Recovered,
}

impl Health {
    fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // Plain data: a panic elsewhere leaves it usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A write failed with `cause`; tells whether to log it (once, then once a minute).
    pub fn failed(&self, cause: impl Into<String>) -> Said {
        let mut s = self.lock();
        s.status.failures += 1;
        let cause = cause.into();
        match &mut s.status.failing {
            Some(f) => f.cause = cause,
            None => {
                s.status.failing = Some(Failure {
                    since: now_utc(),
                    cause,
                });
                s.last_logged = None;
            }
        }
        let due = s.last_logged.is_none_or(|t| t.elapsed() >= REMIND_EVERY);
        if due {
            s.last_logged = Some(std::time::Instant::now());
            Said::Failing
        } else {
            Said::Nothing
        }
    }

    /// A write succeeded; tells whether that ends a run of failures.
    pub fn succeeded(&self) -> Said {
        let mut s = self.lock();
        if s.status.failing.take().is_some() {
            s.status.recovered_at = Some(now_utc());
            Said::Recovered
        } else {
            Said::Nothing
        }
    }

    /// The current state.
    pub fn status(&self) -> HealthStatus {
        self.lock().status.clone()
    }

    /// The failure, while writes fail.
    pub fn failing(&self) -> Option<Failure> {
        self.lock().status.failing.clone()
    }
}

/// The OS's words for an I/O error, without Rust's "(os error N)" suffix.
pub fn cause(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// Now, as RFC 3339 UTC with milliseconds (as task records say it).
fn now_utc() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now
        .replace_nanosecond(now.millisecond() as u32 * 1_000_000)
        .unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

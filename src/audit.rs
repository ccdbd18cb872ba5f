//! The audit log: every invocation (who, what, params, outcome), appended as JSON lines.
//!
//! Appends go through a writer thread, so a tool call never waits on the disk.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::tasks::now_rfc3339;

/// The audit log's file name in the state directory.
pub const AUDIT_FILE: &str = "audit.log";
/// The log is rotated to `audit.log.1` … `audit.log.5` past this size.
pub const ROTATE_BYTES: u64 = 8 * 1024 * 1024;
/// Rotated files kept.
pub const ROTATED_KEPT: usize = 5;
/// Entries reach the disk (fdatasync) at most this long after they are written.
pub const SYNC_EVERY: Duration = Duration::from_millis(100);

/// One audited invocation.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// When (RFC 3339).
    pub time: String,
    /// Who.
    pub operator: String,
    /// Which tool.
    pub tool: String,
    /// With what.
    pub params: serde_json::Value,
    /// `ok` or `refused` for a call; for a task's end (`task_ended`): `ok`, `failed`,
    /// `cancelled`, `expired` or `interrupted`.
    pub outcome: &'static str,
    /// The refusal's code, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The task it created or touched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// How long the plugin took to answer (µs), from arguments in to result out.
    pub elapsed_us: u64,
}

impl AuditEntry {
    /// An entry stamped now; `refusal` is the refusal's code when the call was refused.
    pub fn now(
        operator: &str,
        tool: &str,
        params: serde_json::Value,
        refusal: Option<&str>,
        task_id: Option<String>,
        elapsed: std::time::Duration,
    ) -> Self {
        Self {
            time: now_rfc3339(),
            operator: operator.into(),
            tool: tool.into(),
            params,
            outcome: if refusal.is_some() { "refused" } else { "ok" },
            code: refusal.map(str::to_owned),
            task_id,
            elapsed_us: elapsed.as_micros() as u64,
        }
    }
}

impl AuditEntry {
    /// How a task ended, recorded under its owner next to the call that started it.
    pub fn task_ended(rec: &crate::tasks::TaskRecord) -> Self {
        use crate::tasks::TaskState;
        let params = serde_json::json!({
            "state": rec.state, "progress": rec.progress, "message": rec.message, "error": rec.error,
        });
        let mut entry = Self::now(
            &rec.owner,
            "task_ended",
            params,
            None,
            Some(rec.task_id.to_string()),
            std::time::Duration::ZERO,
        );
        let code = rec.error.as_ref().map(|e| e.code.clone());
        entry.outcome = match (rec.state, code.as_deref()) {
            (TaskState::Succeeded, _) => "ok",
            (TaskState::Cancelled, Some("confirmation_expired")) => "expired",
            (TaskState::Cancelled, _) => "cancelled",
            (TaskState::Interrupted, _) => "interrupted",
            _ => "failed",
        };
        entry.code = code.filter(|_| entry.outcome != "ok");
        entry
    }
}

/// A handle to the audit writer.
#[derive(Clone)]
pub struct Audit {
    tx: Sender<AuditEntry>,
}

impl Audit {
    /// Starts the writer for `state_dir/audit.log`.
    pub fn open(state_dir: &Path) -> std::io::Result<Self> {
        let path: PathBuf = state_dir.join(AUDIT_FILE);
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let (tx, rx) = mpsc::channel::<AuditEntry>();
        std::thread::Builder::new().name("armature-audit".into()).spawn(move || {
            // Entries are written at once (a crash of the plugin loses none) and synced at
            // most every SYNC_EVERY (a power loss loses at most that much): at hundreds of
            // status calls a second, one fdatasync per call cost more than the calls.
            let mut unsynced: Option<Instant> = None;
            loop {
                let wait = unsynced.map(|since| SYNC_EVERY.saturating_sub(since.elapsed()));
                let first = match wait {
                    None => match rx.recv() {
                        Ok(e) => Some(e),
                        Err(_) => return,
                    },
                    Some(left) => match rx.recv_timeout(left) {
                        Ok(e) => Some(e),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            let _ = file.sync_data();
                            return;
                        }
                    },
                };
                if let Some(first) = first {
                    let mut batch = vec![first];
                    batch.extend(rx.try_iter());
                    let mut text = String::new();
                    for e in &batch {
                        if let Ok(line) = serde_json::to_string(e) {
                            text.push_str(&line);
                            text.push('\n');
                        }
                    }
                    if file.metadata().map(|m| m.len()).unwrap_or(0) + text.len() as u64 > ROTATE_BYTES {
                        match rotate(&path) {
                            Ok(f) => file = f,
                            Err(e) => tracing::error!(file = %path.display(), error = %e, "cannot rotate the audit log"),
                        }
                    }
                    if let Err(e) = file.write_all(text.as_bytes()) {
                        tracing::error!(file = %path.display(), error = %e, "cannot append to the audit log");
                    }
                    unsynced.get_or_insert_with(Instant::now);
                }
                if unsynced.is_some_and(|since| since.elapsed() >= SYNC_EVERY) {
                    if let Err(e) = file.sync_data() {
                        tracing::error!(file = %path.display(), error = %e, "cannot sync the audit log");
                    }
                    unsynced = None;
                }
            }
        })?;
        Ok(Self { tx })
    }

    /// Appends an entry.
    pub fn record(&self, entry: AuditEntry) {
        let tool = entry.tool.clone();
        if self.tx.send(entry).is_err() {
            tracing::error!(tool, "the audit writer has stopped; entry lost");
        }
    }
}

fn rotated(path: &Path, k: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{k}"));
    PathBuf::from(name)
}

/// Shifts `audit.log.k` to `.k+1` (dropping the oldest) and starts a new `audit.log`.
fn rotate(path: &Path) -> std::io::Result<std::fs::File> {
    for k in (1..ROTATED_KEPT).rev() {
        let from = rotated(path, k);
        if from.exists() {
            std::fs::rename(&from, rotated(path, k + 1))?;
        }
    }
    std::fs::rename(path, rotated(path, 1))?;
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    if let Some(dir) = path.parent() {
        crate::durable::sync_dir(dir)?;
    }
    Ok(file)
}

/// Every entry in `state_dir`'s audit log and its rotations, oldest first, at or after
/// `since` (RFC 3339, compared as UTC text). Lines that do not parse are returned as errors.
pub fn read(state_dir: &Path, since: Option<&str>) -> std::io::Result<Vec<serde_json::Value>> {
    let path = state_dir.join(AUDIT_FILE);
    let mut files: Vec<PathBuf> = (1..=ROTATED_KEPT)
        .rev()
        .map(|k| rotated(&path, k))
        .collect();
    files.push(path);
    let mut out = Vec::new();
    for f in files {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| {
                serde_json::json!({"time": "", "tool": "?", "outcome": "unreadable", "code": e.to_string()})
            });
            let keep = since.is_none_or(|s| v["time"].as_str().is_some_and(|t| t >= s));
            if keep {
                out.push(v);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: usize) -> String {
        format!("{{\"time\":\"2026-11-21T00:00:{n:02}Z\",\"tool\":\"t{n}\"}}\n")
    }

    #[test]
    fn rotation_shifts_the_files_and_reading_goes_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        // Six generations: the current file and five rotated ones, oldest in .5.
        for k in (1..=ROTATED_KEPT).rev() {
            std::fs::write(rotated(&path, k), line(ROTATED_KEPT + 1 - k)).unwrap();
        }
        std::fs::write(&path, line(ROTATED_KEPT + 1)).unwrap();
        let tools = |d: &Path| -> Vec<String> {
            read(d, None)
                .unwrap()
                .iter()
                .map(|e| e["tool"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(tools(dir.path()), ["t1", "t2", "t3", "t4", "t5", "t6"]);

        let mut file = rotate(&path).unwrap();
        file.write_all(line(7).as_bytes()).unwrap();
        // The oldest generation (t1) was dropped; nothing else was lost.
        assert_eq!(tools(dir.path()), ["t2", "t3", "t4", "t5", "t6", "t7"]);
        let since = read(dir.path(), Some("2026-11-21T00:00:05Z")).unwrap();
        assert_eq!(since.len(), 3);
    }
}

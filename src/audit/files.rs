//! The audit log's files: `audit.log` and its rotations `audit.log.1` (newest) … `.N`,
//! kept within a disk budget. Old files go first; history younger than the minimum age is
//! dropped only when the budget cannot hold it even with reads counted, and then loudly.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{AuditEntry, AuditLimits};
use crate::durable::{self, Health, Said};

/// The smallest file rotated (bytes), whatever the budget.
const MIN_SEGMENT: u64 = 16 * 1024;

/// The current file and what the rotations hold.
pub(super) struct Files {
    path: PathBuf,
    file: File,
    /// The current file's length after the last good write.
    len: u64,
    limits: AuditLimits,
    /// The current file is rotated past this size: an eighth of the budget.
    segment: u64,
    /// The rotations' total size.
    rotated: u64,
    /// When the oldest rotation was last written, if there is one.
    oldest: Option<SystemTime>,
    health: Health,
}

/// The rotations of `path`, newest (`.1`) first.
pub(super) fn rotations(path: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let prefix = format!(
        "{}.",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut found = vec![];
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(k) = name
            .strip_prefix(&prefix)
            .and_then(|k| k.parse::<u64>().ok())
        {
            found.push((k, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

impl Files {
    /// Opens `path` for appending under `limits`.
    pub(super) fn open(path: &Path, limits: AuditLimits) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        let mut files = Self {
            path: path.to_path_buf(),
            file,
            len,
            segment: (limits.max_bytes / 8).max(MIN_SEGMENT),
            limits,
            rotated: 0,
            oldest: None,
            health: Health::default(),
        };
        files.prune()?;
        Ok(files)
    }

    /// Whether the budget is tight: more than half of it holds history younger than the
    /// minimum age. Reads are then counted rather than written one by one.
    pub(super) fn pressure(&self) -> bool {
        let young = self.oldest.is_none_or(|t| age(t) < self.limits.keep);
        young && self.rotated + self.len > self.limits.max_bytes / 2
    }

    /// Appends `batch`; a failed write is cut back so no partial line is left.
    pub(super) fn write(&mut self, batch: &[AuditEntry]) {
        let mut text = String::new();
        for e in batch {
            if let Ok(line) = serde_json::to_string(e) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        if text.is_empty() {
            return;
        }
        if self.len > 0 && self.len + text.len() as u64 > self.segment {
            if let Err(e) = self.rotate() {
                self.failed("cannot rotate the audit log", &e);
            }
        }
        match self.file.write_all(text.as_bytes()) {
            Ok(()) => {
                self.len += text.len() as u64;
                if self.health.succeeded() == Said::Recovered {
                    tracing::info!(file = %self.path.display(), "the audit log is written again");
                }
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                self.failed("cannot append to the audit log", &e);
            }
        }
    }

    /// Makes what was written durable.
    pub(super) fn sync(&mut self) {
        if let Err(e) = self.file.sync_data() {
            self.failed("cannot sync the audit log", &e);
        }
    }

    fn failed(&self, what: &str, e: &std::io::Error) {
        if self.health.failed(durable::cause(e)) == Said::Failing {
            tracing::error!(file = %self.path.display(), error = %e, "{what}");
        }
    }

    /// Shifts `audit.log.k` to `.k+1`, starts a new `audit.log`, then keeps the budget.
    fn rotate(&mut self) -> std::io::Result<()> {
        for (k, from) in rotations(&self.path)?.into_iter().rev() {
            std::fs::rename(&from, numbered(&self.path, k + 1))?;
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.len = 0;
        if let Some(dir) = self.path.parent() {
            durable::sync_dir(dir)?;
        }
        self.prune()
    }

    /// Drops the oldest rotations while the files and one more segment would not fit the
    /// budget: those older than the minimum age first; younger ones only if the budget
    /// cannot hold them (said in the log).
    fn prune(&mut self) -> std::io::Result<()> {
        let mut files: Vec<(PathBuf, u64, SystemTime)> = vec![];
        for (_, p) in rotations(&self.path)? {
            let meta = std::fs::metadata(&p)?;
            files.push((p, meta.len(), meta.modified().unwrap_or(SystemTime::now())));
        }
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        while total + self.len + self.segment > self.limits.max_bytes {
            let Some((p, size, modified)) = files.pop() else {
                break;
            };
            if age(modified) < self.limits.keep {
                tracing::error!(
                    file = %p.display(),
                    keep_days = self.limits.keep.as_secs_f64() / 86400.0,
                    max_mb = self.limits.max_bytes as f64 / 1048576.0,
                    "audit history younger than audit.keep_days is dropped: audit.max_mb cannot hold it; raise it"
                );
            }
            std::fs::remove_file(&p)?;
            total -= size;
        }
        self.rotated = total;
        self.oldest = files.last().map(|f| f.2);
        Ok(())
    }
}

fn numbered(path: &Path, k: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{k}"));
    PathBuf::from(name)
}

fn age(t: SystemTime) -> Duration {
    SystemTime::now()
        .duration_since(t)
        .unwrap_or(Duration::ZERO)
}

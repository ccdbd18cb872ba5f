//! The durable task journal: one checksummed JSON record per line, fsynced on append. The
//! file is allocated a segment ahead of its records (`file.rs`), zero-filled, so the
//! records end at the first zero byte.
//!
//! A line is `CRC32HEX JSON`. At load, a line that is truncated or fails its checksum is
//! reported and skipped; every intact record is kept, and the damaged file is copied
//! aside before the journal is compacted. Appends go through one writer thread
//! (`writer.rs`) that syncs the records handed over meanwhile together.

mod file;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use uuid::Uuid;

use super::TaskRecord;
use crate::durable;

/// The journal's file name inside the state directory.
pub const JOURNAL_FILE: &str = "tasks.journal";

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error on the journal file.
    #[error("task journal {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
}

impl JournalError {
    /// Why, in the OS's words (for a refusal).
    pub fn cause(&self) -> String {
        match self {
            Self::Io { source, .. } => durable::cause(source),
        }
    }
}

/// What loading found.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Intact records, latest version of each task, in first-seen order.
    pub records: Vec<TaskRecord>,
    /// Damaged lines (1-based numbers) that were skipped.
    pub damaged_lines: Vec<usize>,
    /// Where the damaged journal was copied, if it was.
    pub kept_copy: Option<PathBuf>,
}

/// A record handed to the journal's writer thread: it is on disk once this resolves.
#[must_use = "a record is durable only once its sync has been waited for"]
pub struct OnDisk {
    outcome: writer::Outcome,
    file: Arc<str>,
}

impl OnDisk {
    /// Awaits the sync that covers the record, without holding up an async worker.
    pub async fn synced(self) -> Result<(), JournalError> {
        let result = self
            .outcome
            .await
            .unwrap_or_else(|_| Err(writer::stopped()));
        result.map_err(|source| JournalError::Io {
            file: self.file.to_string(),
            source,
        })
    }

    /// Waits for the sync on this thread (for threads that may block).
    pub fn wait(self) -> Result<(), JournalError> {
        writer::wait(self.outcome).map_err(|source| JournalError::Io {
            file: self.file.to_string(),
            source,
        })
    }
}

/// The open journal: a handle to its writer thread.
pub struct Journal {
    /// The path as said in errors.
    file: Arc<str>,
    writer: writer::Writer,
    /// Lines in the file (records, including superseded versions), kept by the writer.
    lines: Arc<AtomicUsize>,
}

fn encode(record: &TaskRecord) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(record)?;
    Ok(format!("{:08x} {json}\n", crc32fast::hash(json.as_bytes())))
}

fn decode(line: &str) -> Option<TaskRecord> {
    let (crc, json) = line.split_once(' ')?;
    let crc = u32::from_str_radix(crc, 16).ok()?;
    (crc32fast::hash(json.as_bytes()) == crc)
        .then(|| serde_json::from_str(json).ok())
        .flatten()
}

impl Journal {
    /// Opens (or creates) the journal in `state_dir` and loads its intact records.
    pub fn open(state_dir: &Path) -> Result<(Self, LoadReport), JournalError> {
        let path = state_dir.join(JOURNAL_FILE);
        let io = |source| JournalError::Io {
            file: path.display().to_string(),
            source,
        };
        let mut report = LoadReport::default();
        let mut order: Vec<Uuid> = Vec::new();
        let mut latest: HashMap<Uuid, TaskRecord> = HashMap::new();
        let mut lines = 0;
        let mut good_len = 0;
        match std::fs::read(&path) {
            Ok(bytes) => {
                // The records end at the first zero: the rest is the allocated segment.
                let (end, damaged_tail) = file::records_end(&bytes);
                good_len = end as u64;
                let text = &bytes[..end];
                let text = text.strip_suffix(b"\n").unwrap_or(text);
                for (i, line) in text.split(|&b| b == b'\n').enumerate() {
                    if text.is_empty() {
                        break;
                    }
                    lines += 1;
                    match std::str::from_utf8(line).ok().and_then(decode) {
                        Some(rec) => {
                            if !latest.contains_key(&rec.task_id) {
                                order.push(rec.task_id);
                            }
                            latest.insert(rec.task_id, rec);
                        }
                        None => report.damaged_lines.push(i + 1),
                    }
                }
                if damaged_tail {
                    // Bytes past the zeros: written by something else, or torn there.
                    report.damaged_lines.push(lines + 1);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        report.records = order
            .into_iter()
            .filter_map(|id| latest.remove(&id))
            .collect();
        if !report.damaged_lines.is_empty() {
            report.kept_copy = Some(durable::quarantine(&path).map_err(io)?);
        }
        let log = file::Log::open(path.clone(), good_len, lines).map_err(io)?;
        let journal = Self {
            file: path.display().to_string().into(),
            lines: log.lines(),
            writer: writer::Writer::spawn(log, None).map_err(io)?,
        };
        if !report.damaged_lines.is_empty() {
            // Rewrite without the damaged lines so later appends follow intact ones.
            journal.compact(&report.records)?;
        }
        Ok((journal, report))
    }

    /// Appends one record and returns once it is durable (synced together with the
    /// records handed over meanwhile). A failed append leaves no partial line behind: the
    /// file is cut back to its last good length, so the next start finds only whole records.
    pub fn append(&self, record: &TaskRecord) -> Result<(), JournalError> {
        self.hand(record, |_| {}).wait()
    }

    /// Hands one record to the writer thread and returns at once: records handed over in
    /// some order reach the file in that order. `note` hears the outcome on the writer
    /// thread; the record is durable once the returned [`OnDisk`] resolves.
    pub fn hand(
        &self,
        record: &TaskRecord,
        note: impl FnOnce(&std::io::Result<()>) + Send + 'static,
    ) -> OnDisk {
        let (done, outcome) = writer::ticket();
        let noted: writer::Done = Box::new(move |r| {
            note(&r);
            done(r);
        });
        match encode(record) {
            Ok(line) => self.writer.append(line.into_bytes(), noted),
            Err(e) => noted(Err(std::io::Error::other(e))),
        }
        OnDisk {
            outcome,
            file: self.file.clone(),
        }
    }

    /// Lines in the file (records, including superseded versions).
    pub fn lines(&self) -> usize {
        self.lines.load(Ordering::Relaxed)
    }

    /// Replaces the file with just `records`, atomically, after every append handed over
    /// before it.
    pub fn compact(&self, records: &[TaskRecord]) -> Result<(), JournalError> {
        let mut text = String::new();
        for r in records {
            text.push_str(&encode(r).map_err(|e| self.io(std::io::Error::other(e)))?);
        }
        let (done, outcome) = writer::ticket();
        self.writer.compact(text.into_bytes(), records.len(), done);
        writer::wait(outcome).map_err(|e| self.io(e))
    }

    fn io(&self, source: std::io::Error) -> JournalError {
        JournalError::Io {
            file: self.file.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::{now_rfc3339, TaskState};

    fn record(state: TaskState) -> TaskRecord {
        TaskRecord {
            task_id: Uuid::new_v4(),
            task_number: 1,
            action: "home".into(),
            params: serde_json::json!({}),
            state,
            progress: 0.0,
            message: "m".into(),
            created_at: now_rfc3339(),
            updated_at: now_rfc3339(),
            started_at: None,
            finished_at: None,
            eta_s: None,
            error: None,
            owner: "local".into(),
            steps: None,
            approval: None,
            line: None,
        }
    }

    #[test]
    fn the_latest_version_of_each_task_is_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        let mut a = record(TaskState::Running);
        j.append(&a).unwrap();
        let b = record(TaskState::Running);
        j.append(&b).unwrap();
        a.state = TaskState::Succeeded;
        j.append(&a).unwrap();
        drop(j);
        let (_, report) = Journal::open(dir.path()).unwrap();
        assert_eq!(report.records, vec![a, b]);
        assert!(report.damaged_lines.is_empty());
    }

    #[test]
    fn a_torn_or_corrupt_line_is_skipped_and_intact_records_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        let a = record(TaskState::Running);
        let b = record(TaskState::Succeeded);
        j.append(&a).unwrap();
        j.append(&b).unwrap();
        drop(j);
        let path = dir.path().join(JOURNAL_FILE);
        let mut text = std::fs::read_to_string(&path).unwrap();
        // Flip a byte in the first record and tear the end of a third.
        text = text.replacen("\"home\"", "\"hame\"", 1);
        text.push_str("0badc0de {\"task_id\": \"trunc");
        std::fs::write(&path, text).unwrap();
        let (j, report) = Journal::open(dir.path()).unwrap();
        assert_eq!(report.records, vec![b.clone()]);
        assert_eq!(report.damaged_lines, vec![1, 3]);
        assert!(report.kept_copy.unwrap().exists());
        // Appending after the repair gives a clean journal.
        j.append(&a).unwrap();
        drop(j);
        let (_, report) = Journal::open(dir.path()).unwrap();
        assert_eq!(report.records, vec![b, a]);
        assert!(report.damaged_lines.is_empty());
    }

    #[test]
    fn records_appended_at_once_from_many_threads_are_all_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(dir.path()).unwrap();
        let records: Vec<TaskRecord> = (0..16).map(|_| record(TaskState::Running)).collect();
        std::thread::scope(|s| {
            for r in &records {
                let j = &j;
                s.spawn(move || j.append(r).unwrap());
            }
        });
        assert_eq!(j.lines(), 16);
        drop(j);
        let (_, report) = Journal::open(dir.path()).unwrap();
        let mut ids: Vec<Uuid> = report.records.iter().map(|r| r.task_id).collect();
        let mut want: Vec<Uuid> = records.iter().map(|r| r.task_id).collect();
        ids.sort();
        want.sort();
        assert_eq!(ids, want);
        assert!(report.damaged_lines.is_empty());
    }
}

//! The audit log: every invocation (who, what, params, outcome), appended as JSON lines.
//!
//! Appends go through a writer thread, so a tool call never waits on the disk. Nobody can
//! flush the history away: each parameter is stored as a bounded excerpt, repeated refusals
//! from one caller are counted rather than each written (`limit.rs`), and rotation keeps a
//! minimum age of history within the configured disk budget (`files.rs`).

mod files;
mod limit;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::tasks::now_rfc3339;

/// The audit log's file name in the state directory.
pub const AUDIT_FILE: &str = "audit.log";
/// Entries reach the disk (fdatasync) at most this long after they are written.
pub const SYNC_EVERY: Duration = Duration::from_millis(100);
/// A parameter's value is stored whole up to this many bytes of JSON, else as an excerpt.
pub const PARAM_BYTES: usize = 256;
/// At most this many parameters of one call are stored; the rest are counted.
pub const MAX_PARAMS: usize = 16;
/// Names (tool, operator) are stored up to this many characters.
const NAME_CHARS: usize = 64;
/// The most entries the writer holds before writing them, so a flood sees its own pressure.
const WRITE_EVERY: usize = 64;

/// The audit log's disk budget and the history it keeps whatever the volume.
#[derive(Debug, Clone, Copy)]
pub struct AuditLimits {
    /// The most the log and its rotations take on disk (bytes).
    pub max_bytes: u64,
    /// History younger than this is dropped only if the budget cannot hold it otherwise.
    pub keep: Duration,
}

impl Default for AuditLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            keep: Duration::from_secs(7 * 86400),
        }
    }
}

/// One audited invocation.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    /// When (RFC 3339).
    pub time: String,
    /// Who.
    pub operator: String,
    /// Which tool.
    pub tool: String,
    /// With what (each value bounded: see [`PARAM_BYTES`]).
    pub params: Value,
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
    /// A count standing for this many like calls that were not written one by one
    /// (repeated refusals, or reads while the budget is tight), since `first`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeated: Option<u64>,
    /// The first of the counted calls (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    /// The call only read: such calls are counted, not written, while the budget is tight.
    #[serde(skip)]
    pub reads: bool,
}

impl AuditEntry {
    /// An entry stamped now; `refusal` is the refusal's code when the call was refused.
    /// Names and parameters are cut to bounded excerpts.
    pub fn now(
        operator: &str,
        tool: &str,
        params: Value,
        refusal: Option<&str>,
        task_id: Option<String>,
        elapsed: std::time::Duration,
    ) -> Self {
        Self {
            time: now_rfc3339(),
            operator: excerpt(operator, NAME_CHARS).into_owned(),
            tool: excerpt(tool, NAME_CHARS).into_owned(),
            params: bounded(params),
            outcome: if refusal.is_some() { "refused" } else { "ok" },
            code: refusal.map(|c| excerpt(c, NAME_CHARS).into_owned()),
            task_id,
            elapsed_us: elapsed.as_micros() as u64,
            repeated: None,
            first: None,
            reads: false,
        }
    }

    /// Marks a call that only read.
    pub fn reading(mut self, reads: bool) -> Self {
        self.reads = reads;
        self
    }

    /// How a task ended, recorded under its owner next to the call that started it.
    pub fn task_ended(rec: &crate::tasks::TaskRecord) -> Self {
        use crate::tasks::TaskState;
        let mut params = serde_json::json!({
            "state": rec.state, "progress": rec.progress, "message": rec.message, "error": rec.error,
        });
        // Who approved a held task, and through which channel (dashboard, elicitation, app, session).
        if let Some(a) = &rec.approval {
            params["approved_by"] = serde_json::json!(a.by);
            params["approval_channel"] = serde_json::json!(a.channel);
        }
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

/// `s` if it has at most `max` characters, else its first `max` and how long it was:
/// what logs and the audit carry of a value a caller chose.
pub fn excerpt(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some((cut, _)) => Cow::Owned(format!("{}… ({} bytes)", &s[..cut], s.len())),
    }
}

/// Each parameter's value whole if small, else an excerpt of its JSON; at most
/// [`MAX_PARAMS`] of them, and a count of the rest.
fn bounded(params: Value) -> Value {
    let Value::Object(map) = params else {
        return one(params);
    };
    let total = map.len();
    let mut out: Map<String, Value> = map
        .into_iter()
        .take(MAX_PARAMS)
        .map(|(k, v)| (excerpt(&k, NAME_CHARS).into_owned(), one(v)))
        .collect();
    if total > MAX_PARAMS {
        out.insert(
            "…".into(),
            Value::from(format!("{} more parameters", total - MAX_PARAMS)),
        );
    }
    Value::Object(out)
}

fn one(v: Value) -> Value {
    match v {
        Value::String(s) if s.len() > PARAM_BYTES => {
            Value::String(excerpt(&s, PARAM_BYTES / 2).into_owned())
        }
        Value::String(s) => Value::String(s),
        v => {
            let text = v.to_string();
            if text.len() > PARAM_BYTES {
                Value::String(excerpt(&text, PARAM_BYTES / 2).into_owned())
            } else {
                v
            }
        }
    }
}

/// What the writer thread is sent.
enum Msg {
    // Boxed: entries are the common message, a flush the rare one.
    Entry(Box<AuditEntry>),
    /// Write what is held back (counts included) and sync, then answer.
    Flush(Sender<()>),
}

/// A handle to the audit writer.
#[derive(Clone)]
pub struct Audit {
    tx: Sender<Msg>,
}

impl Audit {
    /// Starts the writer for `state_dir/audit.log` within `limits`.
    pub fn open(state_dir: &Path, limits: AuditLimits) -> std::io::Result<Self> {
        let mut files = files::Files::open(&state_dir.join(AUDIT_FILE), limits)?;
        let (tx, rx) = mpsc::channel::<Msg>();
        std::thread::Builder::new()
            .name("armature-audit".into())
            .spawn(move || {
                let mut limiter = limit::Limiter::default();
                // Entries are written at once (a crash of the plugin loses none) and synced
                // at most every SYNC_EVERY (a power loss loses at most that much): at
                // hundreds of status calls a second, one fdatasync per call cost more.
                let mut unsynced: Option<Instant> = None;
                loop {
                    let wait = unsynced
                        .map(|since| SYNC_EVERY.saturating_sub(since.elapsed()))
                        .unwrap_or(limit::TICK);
                    let first = match rx.recv_timeout(wait) {
                        Ok(m) => Some(m),
                        Err(mpsc::RecvTimeoutError::Timeout) => None,
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            files.write(&limiter.drain(Instant::now(), true));
                            files.sync();
                            return;
                        }
                    };
                    let mut batch = vec![];
                    let mut acks = vec![];
                    for m in first.into_iter().chain(rx.try_iter()) {
                        match m {
                            Msg::Entry(e) => batch.extend(limiter.admit(*e, files.pressure())),
                            Msg::Flush(ack) => acks.push(ack),
                        }
                        // A flood arrives as one long drain: write as it goes, so the budget's
                        // pressure (judged from what is on disk) is seen before it is too late.
                        if batch.len() >= WRITE_EVERY {
                            files.write(&batch);
                            batch.clear();
                            unsynced.get_or_insert_with(Instant::now);
                        }
                    }
                    batch.extend(limiter.drain(Instant::now(), !acks.is_empty()));
                    if !batch.is_empty() {
                        files.write(&batch);
                        unsynced.get_or_insert_with(Instant::now);
                    }
                    let due = unsynced.is_some_and(|since| since.elapsed() >= SYNC_EVERY);
                    if due || !acks.is_empty() {
                        files.sync();
                        unsynced = None;
                    }
                    for ack in acks {
                        let _ = ack.send(());
                    }
                }
            })?;
        Ok(Self { tx })
    }

    /// Appends an entry.
    pub fn record(&self, entry: AuditEntry) {
        let tool = entry.tool.clone();
        if self.tx.send(Msg::Entry(Box::new(entry))).is_err() {
            tracing::error!(tool, "the audit writer has stopped; entry lost");
        }
    }

    /// Writes everything held back, counts included, and syncs; waits up to `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let (ack, done) = mpsc::channel();
        self.tx.send(Msg::Flush(ack)).is_ok() && done.recv_timeout(timeout).is_ok()
    }
}

/// Every entry in `state_dir`'s audit log and its rotations, oldest first, at or after
/// `since` (RFC 3339, compared as UTC text). Lines that do not parse are returned as errors.
pub fn read(state_dir: &Path, since: Option<&str>) -> std::io::Result<Vec<Value>> {
    let path = state_dir.join(AUDIT_FILE);
    let mut paths: Vec<PathBuf> = files::rotations(&path)?
        .into_iter()
        .rev()
        .map(|(_, p)| p)
        .collect();
    paths.push(path);
    let mut out = Vec::new();
    for f in paths {
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| {
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
mod tests;

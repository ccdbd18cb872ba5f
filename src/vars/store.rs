//! The store and its writer thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::VarValue;
use crate::durable;

/// The variables' file name inside the state directory.
pub const VARS_FILE: &str = "variables.json";

/// Progress-only changes are coalesced to at most one write per this interval.
const MIN_WRITE_INTERVAL: Duration = Duration::from_millis(100);
/// While writes fail, they are tried again this often (or at once for an urgent change).
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Why the store could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum VarsError {
    /// The file exists but is not a valid variables file.
    #[error(
        "installation variables file {file} is damaged: {message}. A copy was kept at {kept}; \
         fix the file, or move it aside to start with no variables"
    )]
    Corrupt {
        /// The file.
        file: String,
        /// The parser's message (with line and column).
        message: String,
        /// Where the copy was kept.
        kept: String,
    },
    /// An I/O error on the file.
    #[error("installation variables file {file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// A change could not be written; it was taken back.
    #[error("installation variables file {file} cannot be written: {cause}")]
    Unwritten {
        /// The file.
        file: String,
        /// Why, in the OS's words.
        cause: String,
    },
    /// Changes were still not on disk when the store closed.
    #[error(
        "installation variables file {file} cannot be written ({cause}); lost on exit: {}",
        show_names(.names)
    )]
    Lost {
        /// The file.
        file: String,
        /// Why, in the OS's words.
        cause: String,
        /// The variables whose last change is not on disk.
        names: Vec<String>,
    },
}

impl VarsError {
    /// Why a write failed, in the OS's words (for a refusal).
    pub fn cause(&self) -> String {
        match self {
            Self::Unwritten { cause, .. } | Self::Lost { cause, .. } => cause.clone(),
            Self::Io { source, .. } => durable::cause(source),
            Self::Corrupt { message, .. } => message.clone(),
        }
    }
}

/// At most ten names, then how many more.
fn show_names(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(10).map(String::as_str).collect();
    match names.len().saturating_sub(10) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

#[derive(Default)]
struct State {
    values: BTreeMap<String, VarValue>,
    /// Generation of the latest change (counts up from 0).
    changed: u64,
    /// Each variable changed since it was last written, with that change's generation.
    unsaved: BTreeMap<String, u64>,
    /// The latest generation on disk.
    written: u64,
    /// The latest generation whose write failed.
    failed: u64,
    urgent: bool,
    shutdown: bool,
    writes: u64,
    last_error: Option<String>,
}

impl State {
    fn dirty(&self) -> bool {
        self.changed > self.written
    }

    fn change(&mut self, key: String, value: VarValue) {
        self.changed += 1;
        self.unsaved.insert(key.clone(), self.changed);
        self.values.insert(key, value);
    }
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    path: PathBuf,
    health: durable::Health,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait_timeout<'a>(
        &self,
        state: MutexGuard<'a, State>,
        left: Duration,
    ) -> MutexGuard<'a, State> {
        self.wake
            .wait_timeout(state, left)
            .map(|r| r.0)
            .unwrap_or_else(|p| p.into_inner().0)
    }

    /// Waits until generation `g` is on disk, or its write failed, or `timeout` passed.
    fn await_generation(&self, g: u64, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        state.urgent = true;
        self.wake.notify_all();
        loop {
            if state.written >= g {
                return Ok(());
            }
            if state.failed >= g {
                return Err(state.last_error.clone().unwrap_or_default());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(state
                    .last_error
                    .clone()
                    .unwrap_or_else(|| format!("not written within {} s", timeout.as_secs())));
            }
            state = self.wait_timeout(state, left);
        }
    }
}

/// The persistent variables, shared by every part of the plugin.
#[derive(Clone)]
pub struct VarStore {
    shared: Arc<Shared>,
}

impl VarStore {
    /// Reads the variables file in `state_dir` without starting a writer (for the CLI).
    pub fn read(state_dir: &Path) -> Result<BTreeMap<String, VarValue>, VarsError> {
        let path = state_dir.join(VARS_FILE);
        let file = path.display().to_string();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                let kept = durable::quarantine(&path)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|err| format!("nowhere ({err})"));
                VarsError::Corrupt {
                    file,
                    message: e.to_string(),
                    kept,
                }
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(VarsError::Io { file, source }),
        }
    }

    /// Opens the store in `state_dir` and starts its writer thread.
    pub fn open(state_dir: &Path) -> Result<Self, VarsError> {
        let values = Self::read(state_dir)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                values,
                ..Default::default()
            }),
            wake: Condvar::new(),
            path: state_dir.join(VARS_FILE),
            health: durable::Health::default(),
        });
        let writer = shared.clone();
        std::thread::Builder::new()
            .name("armature-vars".into())
            .spawn(move || write_loop(&writer))
            .map_err(|source| VarsError::Io {
                file: shared.path.display().to_string(),
                source,
            })?;
        Ok(Self { shared })
    }

    /// One variable.
    pub fn get(&self, name: &str) -> Option<VarValue> {
        self.shared.lock().values.get(name).cloned()
    }

    /// Every variable.
    pub fn all(&self) -> BTreeMap<String, VarValue> {
        self.shared.lock().values.clone()
    }

    /// Sets several variables at once. `urgent` writes them now (state changes);
    /// otherwise writes are coalesced to at most ten a second (progress).
    pub fn set_many<I, K>(&self, values: I, urgent: bool)
    where
        I: IntoIterator<Item = (K, VarValue)>,
        K: Into<String>,
    {
        let mut state = self.shared.lock();
        for (k, v) in values {
            state.change(k.into(), v);
        }
        state.urgent |= urgent;
        self.shared.wake.notify_all();
    }

    /// Sets several variables and returns once they are on disk. If they cannot be written
    /// within `timeout`, they are taken back (unless changed again meanwhile) and the cause
    /// is returned: a caller never says "saved" for a value that is not.
    pub fn set_durably<I, K>(&self, values: I, timeout: Duration) -> Result<(), VarsError>
    where
        I: IntoIterator<Item = (K, VarValue)>,
        K: Into<String>,
    {
        let mut before = vec![];
        let g = {
            let mut state = self.shared.lock();
            for (k, v) in values {
                let k = k.into();
                let old = state.values.get(&k).cloned();
                let old_gen = state.unsaved.get(&k).copied();
                state.change(k.clone(), v.clone());
                before.push((k, v, old, old_gen));
            }
            state.changed
        };
        let Err(cause) = self.shared.await_generation(g, timeout) else {
            return Ok(());
        };
        let mut state = self.shared.lock();
        for (k, set, old, old_gen) in before {
            if state.values.get(&k) != Some(&set) {
                continue;
            }
            match old {
                Some(v) => state.values.insert(k.clone(), v),
                None => state.values.remove(&k),
            };
            match old_gen {
                Some(g) => state.unsaved.insert(k, g),
                None => state.unsaved.remove(&k),
            };
        }
        Err(VarsError::Unwritten {
            file: self.shared.path.display().to_string(),
            cause,
        })
    }

    /// Waits until every change so far is on disk (or `timeout` passes, or its write fails).
    pub fn flush(&self, timeout: Duration) -> bool {
        let g = self.shared.lock().changed;
        self.shared.await_generation(g, timeout).is_ok()
    }

    /// How many times the file has been written, and the last write error.
    pub fn write_stats(&self) -> (u64, Option<String>) {
        let s = self.shared.lock();
        (s.writes, s.last_error.clone())
    }

    /// Whether writes succeed: failing since when and why, or when they last recovered.
    pub fn health(&self) -> durable::HealthStatus {
        self.shared.health.status()
    }

    /// Stops the writer after a last write; names what could not be written, if anything.
    pub fn close(&self) -> Result<(), VarsError> {
        let flushed = self.flush(Duration::from_secs(2));
        let mut state = self.shared.lock();
        state.shutdown = true;
        self.shared.wake.notify_all();
        if flushed {
            return Ok(());
        }
        Err(VarsError::Lost {
            file: self.shared.path.display().to_string(),
            cause: state
                .last_error
                .clone()
                .unwrap_or_else(|| "not written within 2 s".into()),
            names: state.unsaved.keys().cloned().collect(),
        })
    }
}

fn write_loop(shared: &Shared) {
    let mut last_try = Instant::now() - RETRY_EVERY;
    loop {
        let (generation, bytes) = {
            let mut state = shared.lock();
            loop {
                if state.shutdown {
                    return;
                }
                if !state.dirty() {
                    state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
                    continue;
                }
                let every = if state.failed > state.written {
                    RETRY_EVERY
                } else {
                    MIN_WRITE_INTERVAL
                };
                let since = last_try.elapsed();
                if state.urgent || since >= every {
                    break;
                }
                state = shared.wait_timeout(state, every - since);
            }
            state.urgent = false;
            (state.changed, serde_json::to_vec_pretty(&state.values))
        };
        last_try = Instant::now();
        let result = bytes
            .map_err(std::io::Error::other)
            .and_then(|b| durable::write_atomic(&shared.path, &b));
        let mut state = shared.lock();
        match result {
            Ok(()) => {
                state.writes += 1;
                state.written = state.written.max(generation);
                state.unsaved.retain(|_, g| *g > generation);
                state.last_error = None;
                if shared.health.succeeded() == durable::Said::Recovered {
                    tracing::info!(file = %shared.path.display(), "installation variables are written again");
                }
            }
            Err(e) => {
                let cause = durable::cause(&e);
                state.failed = state.failed.max(generation);
                if shared.health.failed(cause.clone()) == durable::Said::Failing {
                    tracing::error!(
                        file = %shared.path.display(),
                        error = %cause,
                        unsaved = state.unsaved.len(),
                        "cannot write installation variables; trying again every second"
                    );
                }
                state.last_error = Some(cause);
            }
        }
        shared.wake.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_survive_a_reopen_with_their_types() {
        let dir = tempfile::tempdir().unwrap();
        let store = VarStore::open(dir.path()).unwrap();
        store.set_many(
            [
                ("count", VarValue::Number(3.0)),
                ("name", VarValue::from("tray")),
                ("ok", VarValue::Bool(true)),
                ("pos", VarValue::List(vec![0.5, -1.0])),
            ],
            true,
        );
        assert!(store.flush(Duration::from_secs(2)));
        store.close().unwrap();
        let again = VarStore::read(dir.path()).unwrap();
        assert_eq!(again["count"], VarValue::Number(3.0));
        assert_eq!(again["name"], VarValue::String("tray".into()));
        assert_eq!(again["ok"], VarValue::Bool(true));
        assert_eq!(again["pos"], VarValue::List(vec![0.5, -1.0]));
    }

    #[test]
    fn a_damaged_file_is_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(VARS_FILE), b"{\"a\": 1,").unwrap();
        let err = VarStore::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("variables.json is damaged"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let kept = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("variables.json.corrupt-")
            });
        assert!(kept);
    }

    #[test]
    fn a_durable_set_that_cannot_be_written_is_refused_taken_back_and_retried() {
        let dir = tempfile::tempdir().unwrap();
        let store = VarStore::open(dir.path()).unwrap();
        store
            .set_durably(
                [("position.a", VarValue::List(vec![1.0]))],
                Duration::from_secs(2),
            )
            .unwrap();
        // The file replaced by a directory: nothing can be written over it.
        let file = dir.path().join(VARS_FILE);
        std::fs::remove_file(&file).unwrap();
        std::fs::create_dir(&file).unwrap();
        let err = store
            .set_durably(
                [("position.b", VarValue::List(vec![2.0]))],
                Duration::from_secs(2),
            )
            .unwrap_err();
        assert!(err.cause().contains("directory"), "{err}");
        assert_eq!(store.get("position.b"), None, "taken back");
        let failing = store.health().failing.expect("failing");
        assert!(failing.cause.contains("directory"), "{failing:?}");
        store.set_many([("task_state", VarValue::from("running"))], true);
        // Back to a file: the writer's retry writes what waited, and the health says so.
        std::fs::remove_dir(&file).unwrap();
        assert!(store.flush(Duration::from_secs(5)));
        let health = store.health();
        assert!(
            health.failing.is_none() && health.recovered_at.is_some(),
            "{health:?}"
        );
        let on_disk = VarStore::read(dir.path()).unwrap();
        assert_eq!(on_disk["task_state"], VarValue::from("running"));
        assert!(!on_disk.contains_key("position.b"));
        store.close().unwrap();
    }

    #[test]
    fn closing_with_changes_not_on_disk_names_them() {
        let dir = tempfile::tempdir().unwrap();
        let store = VarStore::open(dir.path()).unwrap();
        let file = dir.path().join(VARS_FILE);
        std::fs::create_dir(&file).unwrap();
        store.set_many([("position.lost", VarValue::List(vec![0.5]))], true);
        let err = store.close().unwrap_err().to_string();
        assert!(err.contains("lost on exit: position.lost"), "{err}");
    }
}

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
}

#[derive(Default)]
struct State {
    values: BTreeMap<String, VarValue>,
    dirty: bool,
    urgent: bool,
    shutdown: bool,
    writes: u64,
    last_error: Option<String>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    path: PathBuf,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
            state.values.insert(k.into(), v);
        }
        state.dirty = true;
        state.urgent |= urgent;
        self.shared.wake.notify_one();
    }

    /// Waits until every change so far is on disk (or `timeout` passes).
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        state.urgent = true;
        self.shared.wake.notify_one();
        while state.dirty {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .wake
                .wait_timeout(state, left)
                .map(|r| r.0)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }

    /// How many times the file has been written, and the last write error.
    pub fn write_stats(&self) -> (u64, Option<String>) {
        let s = self.shared.lock();
        (s.writes, s.last_error.clone())
    }

    /// Stops the writer after a last write.
    pub fn close(&self) {
        self.flush(Duration::from_secs(2));
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_all();
    }
}

fn write_loop(shared: &Shared) {
    let mut last_write = Instant::now() - MIN_WRITE_INTERVAL;
    loop {
        let bytes = {
            let mut state = shared.lock();
            while !state.dirty && !state.shutdown {
                state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if state.shutdown && !state.dirty {
                return;
            }
            let since = last_write.elapsed();
            if !state.urgent && since < MIN_WRITE_INTERVAL {
                drop(state);
                std::thread::sleep(MIN_WRITE_INTERVAL - since);
                continue;
            }
            state.dirty = false;
            state.urgent = false;
            serde_json::to_vec_pretty(&state.values)
        };
        last_write = Instant::now();
        let result = bytes
            .map_err(std::io::Error::other)
            .and_then(|b| durable::write_atomic(&shared.path, &b));
        let mut state = shared.lock();
        match result {
            Ok(()) => {
                state.writes += 1;
                state.last_error = None;
            }
            Err(e) => {
                tracing::error!(file = %shared.path.display(), error = %e, "cannot write installation variables");
                state.last_error = Some(e.to_string());
                state.dirty = true;
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
        store.close();
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
}

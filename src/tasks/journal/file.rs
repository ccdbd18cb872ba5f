//! The journal's file, as the writer thread holds it: appends that are cut back when they
//! fail, and compaction by an atomic rewrite.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::durable;

/// The open journal file.
pub(super) struct Log {
    path: PathBuf,
    file: File,
    /// Lines in the file, shared with the journal's handle (which reports them).
    lines: Arc<AtomicUsize>,
    /// The file's length after the last good append: a failed append is cut back to it.
    good_len: u64,
    /// A failed append could not be cut back: the next append first tries again.
    torn: bool,
}

impl Log {
    /// Opens `path` for appending; `lines` is how many it already holds.
    pub(super) fn open(path: PathBuf, lines: usize) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let good_len = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            lines: Arc::new(AtomicUsize::new(lines)),
            good_len,
            torn: false,
        })
    }

    /// The count of lines, as the handle reads it.
    pub(super) fn lines(&self) -> Arc<AtomicUsize> {
        self.lines.clone()
    }

    /// Appends `bytes` (`records` whole lines) and syncs them. A failed append leaves no
    /// partial line behind: the file is cut back to its last good length, so the next
    /// start finds only whole records.
    pub(super) fn append(&mut self, bytes: &[u8], records: usize) -> std::io::Result<()> {
        if self.torn {
            self.cut_back()?;
        }
        let written = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            if let Err(cut) = self.cut_back() {
                self.torn = true;
                tracing::error!(file = %self.path.display(), error = %cut, "cannot cut a failed journal append back; the next append tries again");
            }
            return Err(e);
        }
        self.good_len += bytes.len() as u64;
        self.lines.fetch_add(records, Ordering::Relaxed);
        Ok(())
    }

    /// Cuts the file back to its last good length, durably.
    fn cut_back(&mut self) -> std::io::Result<()> {
        self.file.set_len(self.good_len)?;
        self.file.sync_data()?;
        self.torn = false;
        Ok(())
    }

    /// Replaces the file with `text` (`records` lines), atomically.
    pub(super) fn compact(&mut self, text: &[u8], records: usize) -> std::io::Result<()> {
        durable::write_atomic(&self.path, text)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.lines.store(records, Ordering::Relaxed);
        self.good_len = text.len() as u64;
        self.torn = false;
        Ok(())
    }
}

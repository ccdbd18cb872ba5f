//! The journal's file, as the writer thread holds it. The file is allocated ahead of its
//! records a segment at a time, written with zeros and synced once, so that an append
//! overwrites zeros in place and its fdatasync carries data only (no size or extent change
//! to commit). A failed append is zeroed back; compaction is an atomic rewrite.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::durable;

/// How much the file grows at a time: about six hundred records. One metadata sync per
/// segment, instead of one per append.
pub(super) const SEGMENT: u64 = 256 * 1024;

/// The zeros written into a new segment, a chunk at a time.
const ZEROS: [u8; 8192] = [0; 8192];

/// Where the records end in `bytes`: at the first zero byte (JSON lines hold none), or at
/// the end. Whether anything but zeros follows (a damaged tail).
pub(super) fn records_end(bytes: &[u8]) -> (usize, bool) {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => (end, bytes[end..].iter().any(|&b| b != 0)),
        None => (bytes.len(), false),
    }
}

/// The open journal file.
pub(super) struct Log {
    path: PathBuf,
    file: File,
    /// Lines in the file, shared with the journal's handle (which reports them).
    lines: Arc<AtomicUsize>,
    /// Where the records end: the next append goes here.
    good_len: u64,
    /// The file's allocated (zero-filled) length.
    allocated: u64,
    /// A failed append could not be zeroed back: the next append first tries again.
    torn: Option<u64>,
}

impl Log {
    /// Opens `path`, whose records end at `good_len` and count `lines`, and makes sure
    /// zeros follow them to the next segment boundary.
    pub(super) fn open(path: PathBuf, good_len: u64, lines: usize) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)?;
        let allocated = file.metadata()?.len();
        let mut log = Self {
            path,
            file,
            lines: Arc::new(AtomicUsize::new(lines)),
            good_len,
            allocated,
            torn: None,
        };
        // A file from before segments, or one grown by hand, gets its room now; a disk
        // too full for it is no reason not to start: the first append will say so.
        if log.allocated <= log.good_len {
            if let Err(e) = log.grow(log.good_len + 1) {
                tracing::warn!(file = %log.path.display(), error = %e, "cannot allocate the task journal's next segment");
            }
        }
        Ok(log)
    }

    /// The count of lines, as the handle reads it.
    pub(super) fn lines(&self) -> Arc<AtomicUsize> {
        self.lines.clone()
    }

    /// Allocates the file to the segment boundary at or past `len`: zeros written and
    /// synced with the metadata. On failure it is cut back to what it was.
    fn grow(&mut self, len: u64) -> std::io::Result<()> {
        let target = len.div_ceil(SEGMENT).max(1) * SEGMENT;
        let old = self.allocated;
        // The records may end past the allocation (a file from before segments).
        let mut at = old.max(self.good_len);
        let written = (|| {
            while at < target {
                let n = (target - at).min(ZEROS.len() as u64) as usize;
                self.file.write_all_at(&ZEROS[..n], at)?;
                at += n as u64;
            }
            self.file.sync_all()
        })();
        if let Err(e) = written {
            // Give back what the failed growth took: a full disk needs every block.
            let _ = self.file.set_len(old.max(self.good_len));
            let _ = self.file.sync_all();
            return Err(e);
        }
        self.allocated = target;
        Ok(())
    }

    /// Appends `bytes` (`records` whole lines) and syncs them. A failed append leaves no
    /// partial line behind: its bytes are zeroed again, so the next start finds only whole
    /// records.
    pub(super) fn append(&mut self, bytes: &[u8], records: usize) -> std::io::Result<()> {
        if let Some(end) = self.torn {
            self.zero(end)?;
        }
        let end = self.good_len + bytes.len() as u64;
        if end > self.allocated {
            self.grow(end)?;
        }
        let written = self
            .file
            .write_all_at(bytes, self.good_len)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            if let Err(cut) = self.zero(end) {
                self.torn = Some(end);
                tracing::error!(file = %self.path.display(), error = %cut, "cannot zero a failed journal append; the next append tries again");
            }
            return Err(e);
        }
        self.good_len = end;
        self.lines.fetch_add(records, Ordering::Relaxed);
        Ok(())
    }

    /// Zeros the file from the records' end to `end`, durably.
    fn zero(&mut self, end: u64) -> std::io::Result<()> {
        let mut at = self.good_len;
        while at < end {
            let n = (end - at).min(ZEROS.len() as u64) as usize;
            self.file.write_all_at(&ZEROS[..n], at)?;
            at += n as u64;
        }
        self.file.sync_data()?;
        self.torn = None;
        Ok(())
    }

    /// Replaces the file with `text` (`records` lines), atomically, then allocates its
    /// next segment.
    pub(super) fn compact(&mut self, text: &[u8], records: usize) -> std::io::Result<()> {
        durable::write_atomic(&self.path, text)?;
        self.file = OpenOptions::new().read(true).write(true).open(&self.path)?;
        self.lines.store(records, Ordering::Relaxed);
        self.good_len = text.len() as u64;
        self.allocated = self.good_len;
        self.torn = None;
        if let Err(e) = self.grow(self.good_len + 1) {
            tracing::warn!(file = %self.path.display(), error = %e, "cannot allocate the task journal's next segment");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_at_the_first_zero_and_a_tail_after_it_is_damage() {
        assert_eq!(records_end(b"a\nb\n\0\0\0"), (4, false));
        assert_eq!(records_end(b"a\nb\n"), (4, false));
        assert_eq!(records_end(b"a\n\0\0x\0"), (2, true));
    }

    #[test]
    fn appends_overwrite_the_segment_and_grow_it_a_segment_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut log = Log::open(path.clone(), 0, 0).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), SEGMENT);
        log.append(b"one\n", 1).unwrap();
        let line = vec![b'x'; SEGMENT as usize];
        log.append(&line, 1).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, 2 * SEGMENT);
        assert_eq!(records_end(&bytes), (4 + SEGMENT as usize, false));
        assert_eq!(log.lines().load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_journal_from_before_segments_gets_its_room_after_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        std::fs::write(&path, b"old\n").unwrap();
        let mut log = Log::open(path.clone(), 4, 1).unwrap();
        log.append(b"new\n", 1).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, SEGMENT);
        assert_eq!(&bytes[..8], b"old\nnew\n");
        assert_eq!(records_end(&bytes), (8, false));
    }
}

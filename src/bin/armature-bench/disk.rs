//! The disk's own floor under a durable ack: one fdatasync after a task-record-sized write,
//! on the disk that holds the plugin's state directory (a temporary directory, as the
//! plugin's in this bench). Three files: one that grows with each write (the size changes,
//! so every sync also commits metadata), one preallocated by writing zeros once (a sync
//! commits the data only, as the journal's segments do), and one reserved with
//! `posix_fallocate` (unwritten extents: the first write to each block still changes
//! metadata on ext4).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::time::Instant;

use serde::Serialize;

use super::report::Summary;

/// A task record's size in the journal, roughly.
const RECORD: usize = 400;

/// fdatasync figures of one run (ms).
#[derive(Debug, Serialize)]
pub struct Syncs {
    /// Appending to a growing file.
    pub growing_ms: Summary,
    /// Writing into a file whose blocks were written with zeros once.
    pub zeroed_ms: Summary,
    /// Writing into a file reserved with posix_fallocate.
    pub fallocated_ms: Summary,
}

fn timed(f: &mut File, n: usize) -> Result<Summary, String> {
    let line = [b'x'; RECORD];
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&line).map_err(|e| e.to_string())?;
        f.sync_data().map_err(|e| e.to_string())?;
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    Ok(Summary::of(samples))
}

/// `n` write + fdatasync rounds on each kind of file.
pub fn measure(n: usize) -> Result<Syncs, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let open = |name: &str| File::create(dir.path().join(name)).map_err(|e| e.to_string());
    let len = (n * RECORD) as u64;

    let mut growing = open("growing")?;
    let growing_ms = timed(&mut growing, n)?;

    let mut zeroed = open("zeroed")?;
    zeroed
        .write_all(&vec![0u8; n * RECORD])
        .and_then(|()| zeroed.sync_all())
        .and_then(|()| zeroed.seek(SeekFrom::Start(0)).map(|_| ()))
        .map_err(|e| e.to_string())?;
    let zeroed_ms = timed(&mut zeroed, n)?;

    let mut reserved = open("fallocated")?;
    // SAFETY: a valid open descriptor and a non-negative range.
    let rc = unsafe { libc::posix_fallocate(reserved.as_raw_fd(), 0, len as libc::off_t) };
    if rc != 0 {
        return Err(format!(
            "posix_fallocate: {}",
            std::io::Error::from_raw_os_error(rc)
        ));
    }
    reserved.sync_all().map_err(|e| e.to_string())?;
    let fallocated_ms = timed(&mut reserved, n)?;

    Ok(Syncs {
        growing_ms,
        zeroed_ms,
        fallocated_ms,
    })
}

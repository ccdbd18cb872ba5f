//! The journal's one writer thread, with group commit: every append and compaction goes
//! through it in the order it was handed over. Records that arrive while a sync is in
//! flight are written together and covered by the next single fdatasync; each caller hears
//! of its record only once the sync that covers it has returned.

use std::sync::mpsc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::file::Log;

/// The writer thread's stack.
const STACK_BYTES: usize = 256 * 1024;

/// Told the outcome of one job, on the writer thread.
pub(super) type Done = Box<dyn FnOnce(std::io::Result<()>) + Send>;

/// Called on the writer thread just before each sync (tests use it to hold a sync in
/// flight while more records arrive).
pub(super) type BeforeSync = Box<dyn FnMut() + Send>;

/// One thing for the writer to do.
enum Job {
    /// One encoded record line.
    Append { line: Vec<u8>, done: Done },
    /// Replace the file with `text` (`records` lines).
    Compact {
        text: Vec<u8>,
        records: usize,
        done: Done,
    },
}

/// The handle to the writer thread; dropping it lets the thread finish what it was handed
/// and waits for it.
pub(super) struct Writer {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

/// The writer thread has stopped (it cannot, short of a panic in it).
pub(super) fn stopped() -> std::io::Error {
    std::io::Error::other("the journal's writer thread has stopped")
}

/// The same error for another caller of the same group (io::Error is not Clone).
fn again(e: &std::io::Error) -> std::io::Error {
    match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code),
        None => std::io::Error::new(e.kind(), e.to_string()),
    }
}

/// The appends gathered since the last sync.
#[derive(Default)]
struct Group {
    bytes: Vec<u8>,
    dones: Vec<Done>,
}

impl Group {
    /// Writes and syncs what was gathered, then tells each caller.
    fn commit(&mut self, log: &mut Log, before_sync: &mut Option<BeforeSync>) {
        if self.dones.is_empty() {
            return;
        }
        if let Some(hook) = before_sync.as_mut() {
            hook();
        }
        let result = log.append(&self.bytes, self.dones.len());
        self.bytes.clear();
        for done in self.dones.drain(..) {
            done(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(again(e)),
            });
        }
    }
}

impl Writer {
    /// Starts the thread that owns `log`.
    pub(super) fn spawn(
        mut log: Log,
        mut before_sync: Option<BeforeSync>,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("armature-journal".into())
            // The motion thread's mlockall faults in every mapped stack whole: the default
            // 2 MiB would be resident; writes, syncs and a compaction need far less.
            .stack_size(STACK_BYTES)
            .spawn(move || {
                let mut group = Group::default();
                while let Ok(first) = rx.recv() {
                    // Everything handed over meanwhile joins this group, in order.
                    for job in std::iter::once(first).chain(rx.try_iter()) {
                        match job {
                            Job::Append { line, done } => {
                                group.bytes.extend_from_slice(&line);
                                group.dones.push(done);
                            }
                            Job::Compact {
                                text,
                                records,
                                done,
                            } => {
                                // What came before the compaction is on disk first.
                                group.commit(&mut log, &mut before_sync);
                                done(log.compact(&text, records));
                            }
                        }
                    }
                    group.commit(&mut log, &mut before_sync);
                }
            })?;
        Ok(Self {
            jobs: Some(tx),
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) -> Result<(), Job> {
        match &self.jobs {
            Some(tx) => tx.send(job).map_err(|e| e.0),
            None => Err(job),
        }
    }

    /// Hands `line` over; `done` hears once it is on disk (or why not).
    pub(super) fn append(&self, line: Vec<u8>, done: Done) {
        if let Err(Job::Append { done, .. } | Job::Compact { done, .. }) =
            self.send(Job::Append { line, done })
        {
            done(Err(stopped()));
        }
    }

    /// Hands a compaction over; `done` hears once the new file is in place.
    pub(super) fn compact(&self, text: Vec<u8>, records: usize, done: Done) {
        if let Err(Job::Append { done, .. } | Job::Compact { done, .. }) = self.send(Job::Compact {
            text,
            records,
            done,
        }) {
            done(Err(stopped()));
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the waiter of one job hears.
pub(super) type Outcome = oneshot::Receiver<std::io::Result<()>>;

/// Waits for `outcome` on this thread. Async callers await it instead (`OnDisk::synced`);
/// this is for threads that may block: on a multi-threaded runtime the worker hands its
/// other tasks to another thread while it waits.
pub(super) fn wait(outcome: Outcome) -> std::io::Result<()> {
    let recv = move || outcome.blocking_recv().unwrap_or_else(|_| Err(stopped()));
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(recv),
        // A single-threaded runtime's thread may not block on a channel: a scoped thread
        // waits instead (tests only; the plugin's runtime is multi-threaded).
        Ok(_) => std::thread::scope(|s| s.spawn(recv).join().unwrap_or_else(|_| Err(stopped()))),
        Err(_) => recv(),
    }
}

/// A completion to hand over with a job, and what its waiter hears.
pub(super) fn ticket() -> (Done, Outcome) {
    let (tx, rx) = oneshot::channel();
    (
        Box::new(move |r| {
            // The waiter may have gone (a cancelled request); nothing to tell then.
            let _ = tx.send(r);
        }),
        rx,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// The file's records, without the zeros of its allocated segment.
    fn records(path: &std::path::Path) -> String {
        let bytes = std::fs::read(path).unwrap();
        let (end, _) = super::super::file::records_end(&bytes);
        String::from_utf8(bytes[..end].to_vec()).unwrap()
    }

    fn line(n: usize) -> Vec<u8> {
        format!("record {n}\n").into_bytes()
    }

    /// A `Done` that notes "acked N" in `events`, and a receiver to wait on.
    fn noted(events: &Arc<Mutex<Vec<String>>>, n: usize) -> (Done, Outcome) {
        let (done, outcome) = ticket();
        let events = events.clone();
        (
            Box::new(move |r| {
                events.lock().unwrap().push(format!("acked {n}"));
                done(r)
            }),
            outcome,
        )
    }

    #[test]
    fn records_that_arrive_during_a_sync_share_the_next_one_and_each_waits_for_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let events = Arc::new(Mutex::new(Vec::<String>::new()));
        let (in_sync_tx, in_sync) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let mut first = true;
        let noted_events = events.clone();
        // The first sync is held until eight more records have been handed over.
        let hook: BeforeSync = Box::new(move || {
            noted_events.lock().unwrap().push("sync".into());
            if std::mem::take(&mut first) {
                in_sync_tx.send(()).unwrap();
                released.recv().unwrap();
            }
        });
        let writer = Writer::spawn(Log::open(path.clone(), 0, 0).unwrap(), Some(hook)).unwrap();
        let (done, first_outcome) = noted(&events, 0);
        writer.append(line(0), done);
        in_sync.recv().unwrap();
        let (handed_tx, handed) = mpsc::channel();
        std::thread::scope(|s| {
            for n in 1..=8 {
                let (writer, events, handed_tx) = (&writer, events.clone(), handed_tx.clone());
                s.spawn(move || {
                    let (done, outcome) = noted(&events, n);
                    writer.append(line(n), done);
                    handed_tx.send(()).unwrap();
                    wait(outcome).unwrap();
                    events.lock().unwrap().push(format!("returned {n}"));
                });
            }
            for _ in 1..=8 {
                handed.recv().unwrap();
            }
            release.send(()).unwrap();
        });
        wait(first_outcome).unwrap();
        let events = events.lock().unwrap().clone();
        let at = |e: &str| events.iter().position(|x| x == e).unwrap();
        // Two syncs for nine records: the first for record 0, one for all the others.
        assert_eq!(
            events.iter().filter(|e| *e == "sync").count(),
            2,
            "{events:?}"
        );
        let second_sync = events.iter().rposition(|e| e == "sync").unwrap();
        assert!(
            at("sync") < at("acked 0") && at("acked 0") < second_sync,
            "{events:?}"
        );
        for n in 1..=8 {
            assert!(second_sync < at(&format!("acked {n}")), "{events:?}");
            assert!(
                at(&format!("acked {n}")) < at(&format!("returned {n}")),
                "{events:?}"
            );
        }
        drop(writer);
        let text = records(&path);
        assert_eq!(text.lines().count(), 9);
        assert_eq!(text.lines().next(), Some("record 0"));
    }

    #[test]
    fn a_compaction_follows_the_appends_handed_over_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let log = Log::open(path.clone(), 0, 0).unwrap();
        let lines = log.lines();
        let writer = Writer::spawn(log, None).unwrap();
        let (a, _) = ticket();
        writer.append(line(1), a);
        let (b, _) = ticket();
        writer.append(line(2), b);
        let (c, compacted) = ticket();
        writer.compact(line(7), 1, c);
        wait(compacted).unwrap();
        let (d, appended) = ticket();
        writer.append(line(8), d);
        wait(appended).unwrap();
        assert_eq!(records(&path), "record 7\nrecord 8\n");
        assert_eq!(lines.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn a_failed_write_refuses_every_record_with_the_cause() {
        // /dev/full takes the open and refuses every write: a disk that is full.
        let log = Log::open("/dev/full".into(), 0, 0).unwrap();
        let writer = Writer::spawn(log, None).unwrap();
        let outcomes: Vec<_> = (0..3)
            .map(|n| {
                let (done, outcome) = ticket();
                writer.append(line(n), done);
                outcome
            })
            .collect();
        let causes: Vec<String> = outcomes
            .into_iter()
            .map(|o| crate::durable::cause(&wait(o).unwrap_err()))
            .collect();
        // Records in a later group may hear of the failed cut-back instead (a character
        // device cannot be truncated); every one is refused.
        assert_eq!(causes[0], "No space left on device", "{causes:?}");
        assert_eq!(causes.len(), 3);
    }
}

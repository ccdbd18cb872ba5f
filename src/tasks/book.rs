//! The book of records: every task's latest record, newest last, and the journal that
//! keeps them across restarts.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::journal::{Journal, JournalError, LoadReport, OnDisk};
use super::{now_rfc3339, words, TaskError, TaskRecord, TaskState};
use crate::durable;

/// A failing journal is tried again at most this often.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Every task's record, in creation order.
pub(super) struct Book {
    tasks: HashMap<Uuid, TaskRecord>,
    order: VecDeque<Uuid>,
    retention: usize,
    /// The number the next task gets: one above the highest ever journaled.
    next_number: u64,
}

impl Book {
    /// An empty book keeping `retention` finished tasks.
    pub(super) fn new(retention: usize) -> Self {
        Self {
            tasks: HashMap::new(),
            order: VecDeque::new(),
            retention: retention.max(1),
            next_number: 1,
        }
    }

    /// A number for a new task, as it is journaled (desk locked, so numbers follow the
    /// journal's order). The newest task is never evicted, so the highest number survives
    /// a restart in the journal and numbers never repeat.
    pub(super) fn number(&mut self) -> u64 {
        let n = self.next_number;
        self.next_number += 1;
        n
    }

    /// The task numbered `n`.
    pub(super) fn by_number(&self, n: u64) -> Option<&TaskRecord> {
        // Numbers grow with the order, so the newest tasks are found first.
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.tasks.get(id))
            .find(|t| t.task_number == n)
    }

    /// The number of the task `id` (0 if the book does not hold it).
    pub(super) fn number_of(&self, id: &Uuid) -> u64 {
        self.tasks.get(id).map_or(0, |t| t.task_number)
    }

    /// Adds a new task as the newest.
    pub(super) fn insert(&mut self, rec: TaskRecord) {
        self.next_number = self.next_number.max(rec.task_number + 1);
        self.order.push_back(rec.task_id);
        self.tasks.insert(rec.task_id, rec);
    }

    /// Adds `rec` as the newest, or replaces its earlier version in place.
    pub(super) fn upsert(&mut self, rec: TaskRecord) {
        match self.tasks.get_mut(&rec.task_id) {
            Some(old) => *old = rec,
            None => self.insert(rec),
        }
    }

    /// One task.
    pub(super) fn get(&self, id: &Uuid) -> Option<&TaskRecord> {
        self.tasks.get(id)
    }

    /// One task, to change.
    pub(super) fn get_mut(&mut self, id: &Uuid) -> Option<&mut TaskRecord> {
        self.tasks.get_mut(id)
    }

    /// Up to `limit` tasks that pass `keep`, newest first; only those are copied.
    pub(super) fn list_where(
        &self,
        limit: usize,
        keep: impl Fn(&TaskRecord) -> bool,
    ) -> Vec<TaskRecord> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| self.tasks.get(id))
            .filter(|t| keep(t))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Drops the oldest finished tasks beyond the retention.
    pub(super) fn evict(&mut self) {
        let finished = self
            .tasks
            .values()
            .filter(|t| t.state.is_terminal())
            .count();
        let mut excess = finished.saturating_sub(self.retention);
        let tasks = &mut self.tasks;
        self.order.retain(|id| {
            let drop_it = excess > 0 && tasks.get(id).is_some_and(|t| t.state.is_terminal());
            if drop_it {
                tasks.remove(id);
                excess -= 1;
            }
            !drop_it
        });
    }

    /// How many tasks it holds.
    pub(super) fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Every record, oldest first.
    pub(super) fn in_order(&self) -> Vec<TaskRecord> {
        self.order
            .iter()
            .filter_map(|id| self.tasks.get(id))
            .cloned()
            .collect()
    }
}

/// The journal behind the book, with a count of its appends (each one fsync) and whether
/// they succeed.
pub(super) struct Scribe {
    /// Appends are not serialised here: the journal's writer thread syncs those that
    /// arrive together with one fdatasync.
    journal: Journal,
    appends: AtomicU64,
    /// How appends fare, noted on the writer thread as each sync returns.
    accounts: Arc<Accounts>,
    /// When a failing journal was last tried again.
    last_retry: Mutex<Option<Instant>>,
}

/// Whether appends succeed, and whether one was missed.
#[derive(Default)]
struct Accounts {
    health: durable::Health,
    /// A record could not be journaled: the book is written whole once appends work again.
    missed: AtomicBool,
}

impl Accounts {
    /// Notes how the append of task `id`'s record fared (logged once, then once a minute).
    fn note(&self, id: Uuid, outcome: &std::io::Result<()>) {
        match outcome {
            Ok(()) => {
                if self.health.succeeded() == durable::Said::Recovered {
                    tracing::info!("the task journal is written again");
                }
            }
            Err(e) => {
                self.missed.store(true, Ordering::Relaxed);
                if self.health.failed(durable::cause(e)) == durable::Said::Failing {
                    tracing::error!(task_id = %id, error = %e, "cannot journal task");
                }
            }
        }
    }
}

impl Scribe {
    /// Wraps the open journal.
    pub(super) fn new(journal: Journal) -> Self {
        Self {
            journal,
            appends: AtomicU64::new(0),
            accounts: Arc::default(),
            last_retry: Mutex::new(None),
        }
    }

    /// Hands `rec` to the journal at once (in the order of the calls); it is on disk once
    /// the answer resolves.
    pub(super) fn hand(&self, rec: &TaskRecord) -> OnDisk {
        self.appends.fetch_add(1, Ordering::Relaxed);
        let accounts = self.accounts.clone();
        let id = rec.task_id;
        self.journal
            .hand(rec, move |outcome| accounts.note(id, outcome))
    }

    /// Appends `rec` and waits for its sync.
    pub(super) fn write(&self, rec: &TaskRecord) -> Result<(), JournalError> {
        self.hand(rec).wait()
    }

    /// Appends `rec`; a failure is logged (once, then once a minute) and remembered: the
    /// caller has nobody to refuse.
    pub(super) fn write_or_log(&self, rec: &TaskRecord) {
        let _ = self.write(rec);
    }

    /// Appends since start.
    pub(super) fn appends(&self) -> u64 {
        self.appends.load(Ordering::Relaxed)
    }

    /// Whether appends succeed.
    pub(super) fn health(&self) -> durable::HealthStatus {
        self.accounts.health.status()
    }

    /// While appends fail, rewrites the journal whole from `book` (at most once a
    /// second): that tests the disk, and once it works again puts back what was missed.
    pub(super) fn retry(&self, book: &Book) {
        if self.accounts.health.failing().is_none() {
            return;
        }
        {
            let mut last = self.last_retry.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < RETRY_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        match self.journal.compact(&book.in_order()) {
            Ok(()) => {
                self.accounts.missed.store(false, Ordering::Relaxed);
                if self.accounts.health.succeeded() == durable::Said::Recovered {
                    tracing::info!("the task journal is written again, whole");
                }
            }
            Err(e) => {
                if self.accounts.health.failed(e.cause()) == durable::Said::Failing {
                    tracing::error!(error = %e, "cannot write the task journal");
                }
            }
        }
    }

    /// Rewrites the journal as `book` once it holds far more lines than tasks, or when
    /// records were missed while it could not be written.
    pub(super) fn compact_if_due(&self, book: &Book) {
        let journal = &self.journal;
        let missed = self.accounts.missed.load(Ordering::Relaxed)
            && self.accounts.health.failing().is_none();
        if missed || journal.lines() > 2 * book.len() + 64 {
            match journal.compact(&book.in_order()) {
                Ok(()) => self.accounts.missed.store(false, Ordering::Relaxed),
                Err(e) => tracing::error!(error = %e, "cannot compact the task journal"),
            }
        }
    }
}

/// Gives a number to each record journaled before tasks had numbers (0): in journal
/// order, above every number already given, so the same journal always numbers alike.
/// Returns whether any was given.
fn number_old(records: &mut [TaskRecord]) -> bool {
    let first = records.iter().map(|r| r.task_number).max().unwrap_or(0) + 1;
    let mut given = false;
    for (n, rec) in (first..).zip(records.iter_mut().filter(|r| r.task_number == 0)) {
        rec.task_number = n;
        given = true;
    }
    given
}

/// Loads the book from `report`: a task that had not ended when the plugin stopped is
/// marked `interrupted`, journaled, and handed to `changed` (never resumed by itself).
/// Records without a number get one, and the journal is rewritten with them.
pub(super) fn load(
    report: &LoadReport,
    retention: usize,
    journal: &mut Journal,
    mut changed: impl FnMut(&TaskRecord),
) -> Result<Book, JournalError> {
    let mut book = Book::new(retention);
    let mut records = report.records.clone();
    if number_old(&mut records) {
        // Kept on disk at once, so eviction later cannot renumber the rest.
        journal.compact(&records)?;
    }
    for rec in records {
        let mut rec = rec;
        if !rec.state.is_terminal() {
            if let Some(st) = rec.steps.as_mut() {
                st.current = None;
            }
            rec.message = words::interrupted_by_restart(
                rec.task_number,
                &rec.action,
                rec.state.as_str(),
                rec.progress,
                rec.steps.as_ref(),
            );
            if rec.line.is_some() && rec.state == TaskState::Running {
                rec.message = format!("{} {}", rec.message, words::line_resume_hint());
            }
            let now = now_rfc3339();
            rec.error = Some(match rec.state {
                TaskState::Queued => TaskError {
                    code: "restarted_while_queued".into(),
                    message: "the plugin stopped while the task waited in line; it never started"
                        .into(),
                },
                _ => TaskError {
                    code: "interrupted".into(),
                    message: "the plugin stopped (crash, power loss or restart) while the task ran"
                        .into(),
                },
            });
            rec.state = TaskState::Interrupted;
            rec.eta_s = None;
            rec.updated_at = now.clone();
            rec.finished_at = Some(now);
            journal.append(&rec)?;
            changed(&rec);
        }
        book.insert(rec);
    }
    Ok(book)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(n: u8) -> TaskRecord {
        let mut rec: TaskRecord = serde_json::from_value(serde_json::json!({
            "task_id": uuid::Uuid::from_bytes([n; 16]), "action": "home", "params": {},
            "state": "succeeded", "progress": 100.0, "message": "Done.",
            "created_at": "", "updated_at": "", "finished_at": null, "eta_s": null,
            "error": null, "owner": "local"
        }))
        .unwrap();
        rec.message = format!("task {n}");
        rec
    }

    #[test]
    fn finished_tasks_beyond_retention_are_dropped_oldest_first() {
        let mut book = Book::new(3);
        for n in 1..=5 {
            book.insert(finished(n));
        }
        book.evict();
        let kept: Vec<String> = book
            .list_where(10, |_| true)
            .into_iter()
            .map(|r| r.message)
            .collect();
        assert_eq!(kept, ["task 5", "task 4", "task 3"]);
    }

    #[test]
    fn records_without_numbers_are_numbered_after_the_highest_in_order() {
        let mut records: Vec<TaskRecord> = (1..=4).map(finished).collect();
        records[1].task_number = 7;
        assert!(number_old(&mut records));
        let numbers: Vec<u64> = records.iter().map(|r| r.task_number).collect();
        assert_eq!(numbers, [8, 7, 9, 10]);
        assert!(!number_old(&mut records));
        let mut book = Book::new(10);
        records.into_iter().for_each(|r| book.insert(r));
        assert_eq!(book.number(), 11);
        assert_eq!(
            book.by_number(9).map(|r| r.message.as_str()),
            Some("task 3")
        );
    }
}

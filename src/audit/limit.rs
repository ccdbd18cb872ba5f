//! Which entries are written one by one and which are counted: repeated refusals from one
//! caller past a burst, and reads while the budget is tight, become one entry per minute
//! that says how many calls it stands for.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde_json::json;

use super::AuditEntry;
use crate::tasks::now_rfc3339;

/// How often counts are looked at.
pub(super) const TICK: Duration = Duration::from_secs(1);
/// A count is written once its first call is this old.
const COUNT_FOR: Duration = Duration::from_secs(60);
/// Refusals of one caller written one by one before they are counted.
const BURST: f64 = 10.0;
/// Then one more is written per this interval.
const REFILL: Duration = Duration::from_secs(6);
/// Distinct counts held at once; beyond, calls are counted under one "(other)" tool.
const MAX_COUNTS: usize = 1000;

/// One caller's allowance of refusals written whole.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Calls counted rather than written.
struct Count {
    n: u64,
    first: String,
    since: Instant,
}

/// (operator, tool, outcome, code).
type Key = (String, String, &'static str, Option<String>);

/// The rate limit and the counts.
#[derive(Default)]
pub(super) struct Limiter {
    buckets: HashMap<String, Bucket>,
    counts: BTreeMap<Key, Count>,
}

impl Limiter {
    /// `entry` if it is written whole; otherwise it is counted.
    pub(super) fn admit(&mut self, entry: AuditEntry, pressure: bool) -> Option<AuditEntry> {
        let now = Instant::now();
        let counted = match entry.outcome {
            "refused" => {
                let b = self
                    .buckets
                    .entry(entry.operator.clone())
                    .or_insert(Bucket {
                        tokens: BURST,
                        at: now,
                    });
                let refill = now.duration_since(b.at).as_secs_f64() / REFILL.as_secs_f64();
                b.tokens = (b.tokens + refill).min(BURST);
                b.at = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    false
                } else {
                    true
                }
            }
            "ok" => entry.reads && pressure,
            _ => false,
        };
        if !counted {
            return Some(entry);
        }
        let mut key: Key = (entry.operator, entry.tool, entry.outcome, entry.code);
        if self.counts.len() >= MAX_COUNTS && !self.counts.contains_key(&key) {
            key.1 = "(other)".into();
        }
        let c = self.counts.entry(key).or_insert_with(|| Count {
            n: 0,
            first: entry.time,
            since: now,
        });
        c.n += 1;
        None
    }

    /// The counts whose first call is a minute old (or all of them, with `all`), as entries.
    pub(super) fn drain(&mut self, now: Instant, all: bool) -> Vec<AuditEntry> {
        let due: Vec<Key> = self
            .counts
            .iter()
            .filter(|(_, c)| all || now.duration_since(c.since) >= COUNT_FOR)
            .map(|(k, _)| k.clone())
            .collect();
        due.into_iter()
            .filter_map(|k| {
                let c = self.counts.remove(&k)?;
                let (operator, tool, outcome, code) = k;
                Some(AuditEntry {
                    time: now_rfc3339(),
                    operator,
                    tool,
                    params: json!({}),
                    outcome,
                    code,
                    task_id: None,
                    elapsed_us: 0,
                    repeated: Some(c.n),
                    first: Some(c.first),
                    reads: false,
                })
            })
            .collect()
    }
}

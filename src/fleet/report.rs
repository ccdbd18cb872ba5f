//! Report by exception: what the subscribers last got, and which metrics of a new sample
//! are worth a DDATA under their deadband and rate.

use std::collections::BTreeMap;
use std::time::Instant;

use super::metrics::{moved, Kind, Sample, Scalar};

/// What the subscribers hold since the last birth.
#[derive(Debug, Default)]
pub(crate) struct Reporter {
    sent: BTreeMap<String, Sent>,
}

#[derive(Debug)]
struct Sent {
    kind: Kind,
    value: Option<Scalar>,
    at: Instant,
}

/// The set of metrics is no longer the one the last DBIRTH announced (a variable appeared,
/// went or changed type): Sparkplug asks for a new birth before its values.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NeedsBirth;

impl Reporter {
    /// A DBIRTH of `sample` went out at `now`.
    pub(crate) fn born(&mut self, sample: &Sample, now: Instant) {
        self.sent = sample
            .iter()
            .map(|(name, p)| {
                let sent = Sent {
                    kind: p.kind,
                    value: p.value.clone(),
                    at: now,
                };
                (name.clone(), sent)
            })
            .collect();
    }

    /// The metrics of `sample` to report at `now`, by name; nothing is marked sent yet.
    pub(crate) fn changes<'a>(
        &self,
        sample: &'a Sample,
        now: Instant,
    ) -> Result<Vec<&'a str>, NeedsBirth> {
        if sample.len() != self.sent.len() {
            return Err(NeedsBirth);
        }
        let mut out = vec![];
        for (name, p) in sample {
            let sent = self.sent.get(name).ok_or(NeedsBirth)?;
            if sent.kind != p.kind {
                return Err(NeedsBirth);
            }
            if moved(&sent.value, &p.value, p.rule.deadband)
                && now.saturating_duration_since(sent.at) >= p.rule.every
            {
                out.push(name.as_str());
            }
        }
        Ok(out)
    }

    /// The metrics `names` of `sample` went out at `now`.
    pub(crate) fn sent(&mut self, sample: &Sample, names: &[&str], now: Instant) {
        for name in names {
            if let (Some(s), Some(p)) = (self.sent.get_mut(*name), sample.get(*name)) {
                s.value = p.value.clone();
                s.at = now;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::fleet::metrics::{Point, AT_ONCE, JOINT};

    fn sample(joint: f64, state: &str) -> Sample {
        let mut s = Sample::new();
        let p = |kind, value, rule| Point {
            kind,
            value: Some(value),
            at_ms: 0,
            rule,
        };
        s.insert(
            "Joints/j1/Position".into(),
            p(Kind::Double, Scalar::F64(joint), JOINT),
        );
        s.insert(
            "Task/State".into(),
            p(Kind::String, Scalar::Str(state.into()), AT_ONCE),
        );
        s
    }

    #[test]
    fn joints_wait_for_their_rate_and_states_go_at_once() {
        let t0 = Instant::now();
        let mut r = Reporter::default();
        r.born(&sample(0.0, "running"), t0);
        let t1 = t0 + Duration::from_millis(20);
        let s = sample(0.5, "succeeded");
        assert_eq!(r.changes(&s, t1), Ok(vec!["Task/State"]));
        r.sent(&s, &["Task/State"], t1);
        let t2 = t0 + Duration::from_millis(100);
        assert_eq!(r.changes(&s, t2), Ok(vec!["Joints/j1/Position"]));
        r.sent(&s, &["Joints/j1/Position"], t2);
        assert_eq!(r.changes(&s, t2 + Duration::from_secs(1)), Ok(vec![]));
    }

    #[test]
    fn a_new_metric_asks_for_a_birth() {
        let mut r = Reporter::default();
        let now = Instant::now();
        r.born(&sample(0.0, "running"), now);
        let mut s = sample(0.0, "running");
        s.insert(
            "Variables/parts".into(),
            Point {
                kind: Kind::Double,
                value: Some(Scalar::F64(1.0)),
                at_ms: 0,
                rule: AT_ONCE,
            },
        );
        assert_eq!(r.changes(&s, now), Err(NeedsBirth));
        let mut retyped = sample(0.0, "running");
        if let Some(p) = retyped.get_mut("Task/State") {
            p.kind = Kind::Boolean;
        }
        assert_eq!(r.changes(&retyped, now), Err(NeedsBirth));
    }
}

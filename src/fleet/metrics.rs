//! The arm's metrics as Sparkplug sees them: names, types, and how much each must change
//! before it is reported (report by exception). Read from the wired plugin only through
//! `App`: the arm's view, the registry and the variables; never from the motion loop.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use crate::app::App;
use crate::tasks::TaskRecord;
use crate::vars::VarValue;

/// A metric's Sparkplug type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Double.
    Double,
    /// UInt64.
    UInt64,
    /// Int32.
    Int32,
    /// Boolean.
    Boolean,
    /// String.
    String,
    /// DoubleArray (little-endian doubles in bytes).
    DoubleArray,
}

/// A metric's value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar {
    /// A Double.
    F64(f64),
    /// A UInt64.
    U64(u64),
    /// An Int32.
    I32(i32),
    /// A Boolean.
    Bool(bool),
    /// A String.
    Str(String),
    /// A DoubleArray.
    F64s(Vec<f64>),
}

/// When a changed value is worth a DDATA.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rule {
    /// A number must move by more than this (a list: any of its elements).
    pub(crate) deadband: f64,
    /// And at most once per this.
    pub(crate) every: Duration,
}

/// Reported as soon as it changes at all.
pub(crate) const AT_ONCE: Rule = Rule {
    deadband: 0.0,
    every: Duration::ZERO,
};
/// Joint positions: 0.1 mrad, at most 10 Hz.
pub(crate) const JOINT: Rule = Rule {
    deadband: 1e-4,
    every: Duration::from_millis(100),
};
/// Joint velocities: 1 mrad/s, at most 10 Hz.
pub(crate) const VELOCITY: Rule = Rule {
    deadband: 1e-3,
    every: Duration::from_millis(100),
};
/// TCP pose: 0.1 mm and 0.1 mrad, at most 10 Hz.
pub(crate) const POSE: Rule = Rule {
    deadband: 1e-4,
    every: Duration::from_millis(100),
};
/// The real-time loop's figures change every cycle: once a second.
pub(crate) const FIGURES: Rule = Rule {
    deadband: 0.0,
    every: Duration::from_secs(1),
};
/// Installation variables: any change, at most 10 Hz (the task mirror writes at 10 Hz).
pub(crate) const VARIABLE: Rule = Rule {
    deadband: 0.0,
    every: Duration::from_millis(100),
};

/// One metric's latest value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Point {
    /// Its type.
    pub(crate) kind: Kind,
    /// Its value; none is sent as `is_null`.
    pub(crate) value: Option<Scalar>,
    /// When the value was taken (ms since the Unix epoch).
    pub(crate) at_ms: u64,
    /// When a change is reported.
    pub(crate) rule: Rule,
}

/// Every device metric by name, as sampled at one moment.
pub(crate) type Sample = BTreeMap<String, Point>;

/// Now, in ms since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}

/// An RFC 3339 time (a record's `updated_at`) in ms since the Unix epoch.
fn ms_of(rfc3339: &str) -> Option<u64> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as u64)
}

/// One coordinate of the TCP pose.
type PosePart = fn(&crate::robot::TcpPose) -> f64;
/// One text field of a task record.
type TaskField = fn(&TaskRecord) -> String;

struct Builder {
    sample: Sample,
}

impl Builder {
    fn put(&mut self, name: String, kind: Kind, value: Option<Scalar>, at_ms: u64, rule: Rule) {
        self.sample.insert(
            name,
            Point {
                kind,
                value,
                at_ms,
                rule,
            },
        );
    }

    fn text(&mut self, name: &str, value: impl Into<String>, at_ms: u64) {
        let value = Some(Scalar::Str(value.into()));
        self.put(name.into(), Kind::String, value, at_ms, AT_ONCE);
    }

    fn flag(&mut self, name: &str, value: bool, at_ms: u64) {
        self.put(
            name.into(),
            Kind::Boolean,
            Some(Scalar::Bool(value)),
            at_ms,
            AT_ONCE,
        );
    }
}

/// What the sampler adds that is not the arm's: the node's own last refusal.
#[derive(Debug, Clone, Default)]
pub(crate) struct Extra {
    /// The latest command refused over MQTT, said in words, and when.
    pub(crate) last_refused: (String, u64),
    /// Whether `Device Control/Stop` is offered.
    pub(crate) accept_stop: bool,
}

/// Reads every device metric now.
pub(crate) fn sample(app: &App, extra: &Extra) -> Sample {
    let now = now_ms();
    let mut b = Builder {
        sample: Sample::new(),
    };
    arm(app, &mut b, now);
    task(&mut b, current_task(app), now);
    let (refused, refused_at) = &extra.last_refused;
    let refused_at = if *refused_at == 0 { now } else { *refused_at };
    b.text("Commands/Last Refused", refused.clone(), refused_at);
    if extra.accept_stop {
        b.flag("Device Control/Stop", false, now);
    }
    for (name, v) in app.vars.all() {
        let (kind, value) = match v {
            VarValue::Bool(x) => (Kind::Boolean, Scalar::Bool(x)),
            VarValue::Number(x) => (Kind::Double, Scalar::F64(x)),
            VarValue::String(x) => (Kind::String, Scalar::Str(x)),
            VarValue::List(x) => (Kind::DoubleArray, Scalar::F64s(x)),
        };
        b.put(
            format!("Variables/{name}"),
            kind,
            Some(value),
            now,
            VARIABLE,
        );
    }
    b.sample
}

/// The task holding the arm, else the latest one (so that its end stays visible).
fn current_task(app: &App) -> Option<TaskRecord> {
    app.registry
        .live()
        .and_then(|(id, _)| app.registry.get(&id))
        .or_else(|| app.registry.list(1).into_iter().next())
}

fn arm(app: &App, b: &mut Builder, now: u64) {
    let robot = &app.config.robot;
    let view = app.gate.view();
    // Values of the arm carry the time the robot state was taken.
    let at = view
        .age_ms
        .map_or(now, |age| now.saturating_sub(age.max(0.0) as u64));
    let connected = view.link_down.is_none()
        && view
            .age_ms
            .is_some_and(|a| a <= app.config.motion.stale_state_ms as f64);
    b.text("Robot/Model", robot.name.clone(), now);
    b.text("Robot/Backend", view.backend, now);
    b.text("Robot/Mode", view.mode.clone(), at);
    b.text("Robot/Phase", view.phase, at);
    b.flag("Robot/Connected", connected, at);
    b.flag("Robot/Link Up", view.link_down.is_none(), at);
    let cause = view.link_down.as_ref().map_or("", |l| l.1.as_str());
    b.text("Robot/Link Down Cause", cause, at);
    b.flag("Robot/Faulted", view.fault.is_some(), at);
    let fault = view.fault.as_ref().map_or("", |f| f.1.as_str());
    b.text("Robot/Fault", fault, at);
    for (i, joint) in robot.joints.iter().enumerate() {
        let p = view.positions.get(i).map(|v| Scalar::F64(*v));
        let v = view.velocities.get(i).map(|v| Scalar::F64(*v));
        let name = &joint.name;
        b.put(
            format!("Joints/{name}/Position"),
            Kind::Double,
            p,
            at,
            JOINT,
        );
        b.put(
            format!("Joints/{name}/Velocity"),
            Kind::Double,
            v,
            at,
            VELOCITY,
        );
    }
    if let Some(k) = &robot.kinematics {
        let pose = (!view.positions.is_empty()).then(|| k.forward(&view.positions));
        let parts: [(&str, PosePart); 6] = [
            ("TCP/X", |p| p.x),
            ("TCP/Y", |p| p.y),
            ("TCP/Z", |p| p.z),
            ("TCP/Rx", |p| p.rx),
            ("TCP/Ry", |p| p.ry),
            ("TCP/Rz", |p| p.rz),
        ];
        for (name, part) in parts {
            let v = pose.as_ref().map(|p| Scalar::F64(part(p)));
            b.put(name.into(), Kind::Double, v, at, POSE);
        }
    }
    realtime(&view.realtime, b, now);
}

fn realtime(rt: &Json, b: &mut Builder, now: u64) {
    let str_of = |k: &str| rt[k].as_str().map(|s| Scalar::Str(s.to_owned()));
    b.put(
        "Realtime/Policy".into(),
        Kind::String,
        str_of("policy"),
        now,
        FIGURES,
    );
    let priority = rt["priority"]
        .as_i64()
        .and_then(|p| i32::try_from(p).ok())
        .map(Scalar::I32);
    b.put(
        "Realtime/Priority".into(),
        Kind::Int32,
        priority,
        now,
        FIGURES,
    );
    let rt_on = rt["realtime"].as_bool().map(Scalar::Bool);
    b.put(
        "Realtime/Realtime".into(),
        Kind::Boolean,
        rt_on,
        now,
        FIGURES,
    );
    for (name, key) in [
        ("Realtime/Cycles", "cycles"),
        ("Realtime/Overruns", "overruns"),
    ] {
        let v = rt[key].as_u64().map(Scalar::U64);
        b.put(name.into(), Kind::UInt64, v, now, FIGURES);
    }
    for (name, key) in [
        ("Realtime/Target Rate Hz", "target_rate_hz"),
        ("Realtime/Rate Hz", "rate_hz"),
        ("Realtime/Latency p50 us", "latency_p50_us"),
        ("Realtime/Latency p99 us", "latency_p99_us"),
        ("Realtime/Latency p99.9 us", "latency_p999_us"),
        ("Realtime/Latency Max us", "latency_max_us"),
        ("Realtime/State Age p99 us", "state_age_p99_us"),
    ] {
        let v = rt[key].as_f64().map(Scalar::F64);
        b.put(name.into(), Kind::Double, v, now, FIGURES);
    }
}

fn task(b: &mut Builder, rec: Option<TaskRecord>, now: u64) {
    // Task values carry the time the registry changed the record: the state change itself.
    let at = rec
        .as_ref()
        .and_then(|r| ms_of(&r.updated_at))
        .unwrap_or(now);
    let text = |f: fn(&TaskRecord) -> String| rec.as_ref().map(|r| Scalar::Str(f(r)));
    let fields: [(&str, TaskField); 6] = [
        ("Task/Id", |r| r.task_id.to_string()),
        ("Task/Action", |r| r.action.clone()),
        ("Task/State", |r| r.state.as_str().to_owned()),
        ("Task/Message", |r| r.message.clone()),
        ("Task/Owner", |r| r.owner.clone()),
        ("Task/Error", |r| {
            r.error.as_ref().map(|e| e.code.clone()).unwrap_or_default()
        }),
    ];
    for (name, f) in fields {
        b.put(name.into(), Kind::String, text(f), at, AT_ONCE);
    }
    let progress = rec.as_ref().map(|r| Scalar::F64(r.progress));
    b.put("Task/Progress".into(), Kind::Double, progress, at, AT_ONCE);
}

/// Whether `new` differs from `old` by more than `deadband`.
pub(crate) fn moved(old: &Option<Scalar>, new: &Option<Scalar>, deadband: f64) -> bool {
    let far = |a: f64, b: f64| (a - b).abs() > deadband || a.is_nan() != b.is_nan();
    match (old, new) {
        (Some(Scalar::F64(a)), Some(Scalar::F64(b))) => far(*a, *b),
        (Some(Scalar::F64s(a)), Some(Scalar::F64s(b))) => {
            a.len() != b.len() || a.iter().zip(b).any(|(x, y)| far(*x, *y))
        }
        _ => old != new,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joint_inside_its_deadband_is_not_a_change() {
        let a = Some(Scalar::F64(1.0));
        assert!(!moved(&a, &Some(Scalar::F64(1.00005)), JOINT.deadband));
        assert!(moved(&a, &Some(Scalar::F64(1.0002)), JOINT.deadband));
        assert!(moved(&a, &None, JOINT.deadband));
        assert!(moved(&a, &Some(Scalar::F64(f64::NAN)), JOINT.deadband));
    }

    #[test]
    fn text_and_lists_change_on_any_difference() {
        let s = |v: &str| Some(Scalar::Str(v.into()));
        assert!(moved(&s("running"), &s("succeeded"), 0.0));
        assert!(!moved(&s("running"), &s("running"), 0.0));
        let l = |v: Vec<f64>| Some(Scalar::F64s(v));
        assert!(moved(&l(vec![1.0]), &l(vec![1.0, 2.0]), 0.0));
        assert!(!moved(&l(vec![1.0, 2.0]), &l(vec![1.0, 2.0]), 0.0));
    }

    #[test]
    fn record_times_become_epoch_milliseconds() {
        assert_eq!(ms_of("1970-01-01T00:00:01.250Z"), Some(1250));
        assert_eq!(ms_of("not a time"), None);
    }
}

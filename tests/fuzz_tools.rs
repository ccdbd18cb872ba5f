//! A fuzz target over the tool arguments, run for a bounded time (proptest on stable):
//! every tool of the built-in configuration, and names that are none, called with
//! arbitrary JSON arguments against the real plugin (gate, executor thread, simulated arm,
//! variables, audit). Whatever comes in: no panic, a bounded answer, every number in it
//! finite and rounded, and an audit whose lines stay small. `ARMATURE_FUZZ_SECS` sets the
//! time (default 20 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use armature::actions::{self, Caller};
use armature::app::App;
use armature::config::Config;
use armature::operators::Operator;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};
use serde_json::{Map, Number, Value};

fn budget() -> Duration {
    let s = std::env::var("ARMATURE_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    Duration::from_secs(s)
}

/// Numbers that broke things before, or sit on an edge, and any finite one.
fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        prop::sample::select(vec![
            0.0,
            -0.0,
            1e-9,
            1e-300,
            5e-324,
            1e300,
            -1e300,
            0.001,
            0.009,
            0.01,
            0.25,
            0.5,
            1.0,
            1.0000001,
            3.0,
            6.3,
            -6.3,
            100.0,
            f64::MAX,
            f64::MIN_POSITIVE,
        ]),
        any::<f64>().prop_filter("JSON holds finite numbers", |x| x.is_finite()),
        -7.0f64..7.0,
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(|x| Number::from_f64(x).map_or(Value::Null, Value::Number)),
        any::<i64>().prop_map(|i| Value::Number(i.into())),
        "[a-z_ .]{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "home",
            "ready",
            "task_state",
            "task_progress",
            "position.home",
            "parts_placed",
            "NaN",
            "Infinity",
            "0000",
            "ffff",
        ])
        .prop_map(|s| Value::String(s.into())),
        (1usize..200_000).prop_map(|n| Value::String("x".repeat(n))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Six joints near home: moves the gate plans, at any speed.
fn joints() -> impl Strategy<Value = Value> {
    prop::collection::vec(-0.2f64..0.2, 6).prop_map(|d| {
        use std::f64::consts::FRAC_PI_2;
        let home = [0.0, -FRAC_PI_2, 0.0, -FRAC_PI_2, 0.0, 0.0];
        Value::Array(
            home.iter()
                .zip(d)
                .map(|(h, d)| Value::from(h + d))
                .collect(),
        )
    })
}

fn args() -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "joints", "speed", "position", "task_id", "name", "limit", "slot", "hold_s", "count",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,10}",
    ];
    (
        prop::collection::btree_map(key, value(), 0..4),
        prop::option::of(joints()),
        prop::option::of(number()),
    )
        .prop_map(|(m, j, speed)| {
            let mut m: Map<String, Value> = m.into_iter().collect();
            if let Some(j) = j {
                m.insert("joints".into(), j);
            }
            if let Some(s) = speed.and_then(Number::from_f64) {
                m.insert("speed".into(), Value::Number(s));
            }
            m
        })
}

/// The longest run of digits in `text`: a number said whole, like 1e300's 301 digits.
fn longest_digits(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn any_arguments_to_any_tool_get_a_bounded_answer_and_never_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::builtin(&actions::builtin_names()).unwrap();
    let mut names: Vec<String> = actions::catalog(&config)
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.extend(["no_such_tool".to_owned(), "x".repeat(100_000)]);
    let app = App::start(config, dir.path()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let caller = Caller::from(Operator::local());
    let strategy = (prop::sample::select(names), args());
    let deadline = Instant::now() + budget();
    let calls = std::cell::Cell::new(0u64);
    let refused = std::cell::Cell::new(0u64);
    while Instant::now() < deadline {
        // A runner counts its cases and stops at the configured number: one per round.
        let mut runner = TestRunner::new(RunnerConfig {
            cases: 64,
            failure_persistence: None,
            ..RunnerConfig::default()
        });
        let result = runner.run(&strategy, |(tool, args)| {
            calls.set(calls.get() + 1);
            let out = runtime.block_on(actions::call(&app, &caller, &tool, Some(&args)));
            let text = match &out {
                Ok(o) => {
                    prop_assert!(o.structured.is_object(), "{tool}: {}", o.structured);
                    o.text.clone()
                }
                Err(r) => {
                    refused.set(refused.get() + 1);
                    prop_assert!(!r.code.is_empty());
                    r.message.clone()
                }
            };
            prop_assert!(
                text.chars().count() <= 700,
                "{tool}: {} characters",
                text.len()
            );
            prop_assert!(longest_digits(&text) <= 12, "{tool}: {text}");
            prop_assert!(
                !text.contains("inf ") && !text.contains("NaN %"),
                "{tool}: {text}"
            );
            if out.as_ref().is_ok_and(|o| o.task_id.is_some()) {
                settle(&app);
            }
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
    settle(&app);
    eprintln!("{} calls, {} refused", calls.get(), refused.get());
    assert!(app.audit.flush(Duration::from_secs(5)));
    let audit = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    let longest = audit.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 8192, "an audit line of {longest} bytes");
    app.shutdown().unwrap();
}

/// Stops whatever a call started and waits until the arm is free again.
fn settle(app: &Arc<App>) {
    let _ = app.gate.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.registry.live().is_some() || app.gate.view().phase != "idle" {
        assert!(Instant::now() < deadline, "the arm never came free");
        std::thread::sleep(Duration::from_millis(5));
    }
}

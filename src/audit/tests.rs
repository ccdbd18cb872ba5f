use super::*;
use std::time::SystemTime;

fn entry(tool: &str, params: Value, refusal: Option<&str>) -> AuditEntry {
    AuditEntry::now("alice", tool, params, refusal, None, Duration::ZERO)
}

fn tools(dir: &Path) -> Vec<String> {
    read(dir, None)
        .unwrap()
        .iter()
        .map(|e| e["tool"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn disk_use(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(AUDIT_FILE))
        .map(|e| e.metadata().unwrap().len())
        .sum()
}

#[test]
fn a_megabyte_parameter_is_stored_as_an_excerpt() {
    let name = "x".repeat(1 << 20);
    let mut many = Map::new();
    for i in 0..40 {
        many.insert(format!("p{i}"), Value::from(i));
    }
    many.insert("name".into(), Value::from(name.clone()));
    let e = entry(&name, Value::Object(many), Some("invalid_name"));
    let line = serde_json::to_string(&e).unwrap();
    assert!(line.len() < 2048, "{} bytes", line.len());
    assert!(e.tool.ends_with("… (1048576 bytes)"), "{}", e.tool);
    assert_eq!(e.params["…"], "25 more parameters");
    let list = entry(
        "move_joints",
        serde_json::json!({"joints": vec![0.5; 10_000]}),
        None,
    );
    let joints = list.params["joints"].as_str().unwrap();
    assert!(
        joints.starts_with("[0.5,0.5") && joints.len() < 200,
        "{joints}"
    );
    // Small values are kept as they were.
    let small = entry(
        "move_to",
        serde_json::json!({"position": "ready", "speed": 0.1}),
        None,
    );
    assert_eq!(
        small.params,
        serde_json::json!({"position": "ready", "speed": 0.1})
    );
}

#[test]
fn repeated_refusals_are_counted_and_older_history_survives() {
    let dir = tempfile::tempdir().unwrap();
    let audit = Audit::open(dir.path(), AuditLimits::default()).unwrap();
    audit.record(entry(
        "move_to",
        serde_json::json!({"position": "ready"}),
        None,
    ));
    let big = "y".repeat(1 << 20);
    for _ in 0..60 {
        audit.record(entry(
            "save_position",
            serde_json::json!({"name": big}),
            Some("invalid_name"),
        ));
    }
    assert!(audit.flush(Duration::from_secs(5)));
    let all = read(dir.path(), None).unwrap();
    assert_eq!(all[0]["tool"], "move_to");
    let whole = all
        .iter()
        .filter(|e| e["tool"] == "save_position" && e.get("repeated").is_none())
        .count();
    let counted: Vec<&Value> = all.iter().filter(|e| e.get("repeated").is_some()).collect();
    assert_eq!(whole, 10, "a burst of 10 is written whole");
    assert_eq!(counted.len(), 1);
    assert_eq!(counted[0]["repeated"], 50);
    assert_eq!(counted[0]["code"], "invalid_name");
    assert!(
        disk_use(dir.path()) < 64 * 1024,
        "{} bytes",
        disk_use(dir.path())
    );
}

#[test]
fn a_flood_of_reads_keeps_the_budget_and_the_oldest_young_history() {
    let dir = tempfile::tempdir().unwrap();
    let limits = AuditLimits {
        max_bytes: 256 * 1024,
        keep: Duration::from_secs(7 * 86400),
    };
    let audit = Audit::open(dir.path(), limits).unwrap();
    audit.record(entry(
        "move_to",
        serde_json::json!({"position": "ready"}),
        None,
    ));
    for i in 0..20_000 {
        let status = entry(
            "task_status",
            serde_json::json!({"task_id": format!("{i:08}")}),
            None,
        );
        audit.record(status.reading(true));
    }
    assert!(audit.flush(Duration::from_secs(10)));
    assert!(
        disk_use(dir.path()) <= limits.max_bytes,
        "{} bytes",
        disk_use(dir.path())
    );
    let names = tools(dir.path());
    assert_eq!(names[0], "move_to", "the first entry was rotated away");
    let all = read(dir.path(), None).unwrap();
    let whole = all
        .iter()
        .filter(|e| e["tool"] == "task_status" && e.get("repeated").is_none())
        .count() as u64;
    let counted: u64 = all.iter().filter_map(|e| e["repeated"].as_u64()).sum();
    assert_eq!(whole + counted, 20_000, "every read is written or counted");
    assert!(counted > 0);
}

#[test]
fn old_files_go_first_and_rotations_are_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(AUDIT_FILE);
    let line = |n: usize| format!("{{\"time\":\"2026-11-21T00:00:{n:02}Z\",\"tool\":\"t{n}\"}}\n");
    // Three rotations (t1 oldest, in .3) of 40 KiB each, and the current file.
    let pad = " ".repeat(40 * 1024);
    for (k, n) in [(3, 1), (2, 2), (1, 3)] {
        std::fs::write(
            numbered_path(&path, k),
            format!("{}{pad}\n", line(n).trim_end()),
        )
        .unwrap();
    }
    std::fs::write(&path, line(4)).unwrap();
    assert_eq!(tools(dir.path()), ["t1", "t2", "t3", "t4"]);
    let since = read(dir.path(), Some("2026-11-21T00:00:03Z")).unwrap();
    assert_eq!(since.len(), 2);
    // .3 was last written 8 days ago; the budget (128 KiB, segment 16 KiB) cannot hold all.
    let old = SystemTime::now() - Duration::from_secs(8 * 86400);
    std::fs::File::options()
        .write(true)
        .open(numbered_path(&path, 3))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let limits = AuditLimits {
        max_bytes: 128 * 1024,
        keep: Duration::from_secs(7 * 86400),
    };
    let files = files::Files::open(&path, limits).unwrap();
    assert_eq!(tools(dir.path()), ["t2", "t3", "t4"]);
    // What is left is young and more than half the budget: reads are now counted.
    assert!(files.pressure());
}

fn numbered_path(path: &Path, k: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{k}"));
    PathBuf::from(name)
}

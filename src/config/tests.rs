use super::*;

/// Some built-in tool names, as `crate::actions` passes them (this layer does not import it).
const TOOLS: &[&str] = &["move_joints", "move_to", "home", "task_status", "stop"];

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "c.toml", Path::new("."), TOOLS)
}

fn refusal(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const SIM: &str = "robot = \"builtin:ur5e\"\n[backend]\nkind = \"sim\"\n";

/// The simulator config with a `[confirm]` table whose first key is on line 5.
fn with_confirm(body: &str) -> String {
    format!("{SIM}[confirm]\n{body}\n")
}

#[test]
fn the_builtin_config_loads() {
    let c = Config::builtin(TOOLS).unwrap();
    assert_eq!(c.robot.name, "UR5e");
    assert_eq!(c.motion.rate_hz, 500);
    assert_eq!(c.motion.max_speed, 0.25);
    assert_eq!(c.server.http.to_string(), "127.0.0.1:7400");
    assert_eq!(c.backend.kind(), BackendKind::Sim);
    assert_eq!(c.actions.len(), 5);
    assert_eq!(c.confirm.expire_s, 60.0);
}

#[test]
fn bad_values_name_the_field_and_line() {
    let text = DEFAULT_CONFIG.replace("max_speed = 0.25", "max_speed = 1.5");
    let line = text.lines().position(|l| l.contains("1.5")).unwrap() + 1;
    assert_eq!(
        refusal(&text),
        format!("c.toml:{line}: motion.max_speed = 1.5: must be in (0, 1]")
    );
    let text = DEFAULT_CONFIG.replace("rate_hz = 500", "rate_hz = 500\nrate = 1");
    let err = refusal(&text);
    let line = text.lines().position(|l| l == "rate = 1").unwrap() + 1;
    assert!(
        err.starts_with(&format!("c.toml:{line}:1: unknown field `rate`")),
        "{err}"
    );
    let err = refusal(&format!("{SIM}[motion]\nfollowing_error_rad = inf\n"));
    assert_eq!(
        err,
        "c.toml:5: motion.following_error_rad = inf: must be a finite number above 0"
    );
}

#[test]
fn a_typo_in_confirm_actions_is_refused_with_the_nearest_tool() {
    let err = refusal(&with_confirm("[confirm.actions]\nmove_joint = \"always\""));
    assert!(
        err.starts_with(
            "c.toml:6: confirm.actions.move_joint = \"always\": no tool is named move_joint \
             (did you mean move_joints?); the tools are move_joints, move_to, home, task_status, stop"
        ),
        "{err}"
    );
    let err = refusal(&with_confirm("[confirm.actions]\nfly = \"beyond\""));
    assert_eq!(
        err,
        "c.toml:6: confirm.actions.fly = \"beyond\": no tool is named fly; the tools are \
         move_joints, move_to, home, task_status, stop"
    );
}

#[test]
fn confirm_actions_may_name_custom_actions() {
    let text = format!(
        "{}[confirm.actions]\ngo_to_maintenance = \"never\"\npick_and_place = \"beyond\"\n",
        DEFAULT_CONFIG
    );
    let c = parse(&text).unwrap();
    assert_eq!(
        c.confirm.rule("pick_and_place", ConfirmRule::Never),
        ConfirmRule::Beyond
    );
    // Without the action file, the same name is a typo.
    let err = refusal(&with_confirm(
        "[confirm.actions]\npick_and_place = \"always\"",
    ));
    assert!(err.contains("no tool is named pick_and_place"), "{err}");
}

#[test]
fn each_bad_confirm_number_is_refused_naming_value_limit_and_line() {
    let rad = "must be above 0 and at most 12.5664 rad, the widest joint range of UR5e";
    let speed = "must be in (0, 1]";
    let expire = "must be above 0 and at most 3600 s (one hour)";
    let cases = [
        ("beyond_rad = nan", "confirm.beyond_rad = NaN", rad),
        ("beyond_rad = -0.5", "confirm.beyond_rad = -0.5", rad),
        ("beyond_rad = 0", "confirm.beyond_rad = 0", rad),
        ("beyond_rad = inf", "confirm.beyond_rad = inf", rad),
        ("beyond_rad = 1e300", "confirm.beyond_rad = 1e300", rad),
        ("beyond_speed = nan", "confirm.beyond_speed = NaN", speed),
        ("beyond_speed = 0.0", "confirm.beyond_speed = 0", speed),
        ("beyond_speed = -0.1", "confirm.beyond_speed = -0.1", speed),
        ("beyond_speed = 1.5", "confirm.beyond_speed = 1.5", speed),
        ("beyond_speed = -inf", "confirm.beyond_speed = -inf", speed),
        ("expire_s = -1", "confirm.expire_s = -1", expire),
        ("expire_s = 0", "confirm.expire_s = 0", expire),
        ("expire_s = nan", "confirm.expire_s = NaN", expire),
        ("expire_s = inf", "confirm.expire_s = inf", expire),
        ("expire_s = 1e300", "confirm.expire_s = 1e300", expire),
        ("expire_s = 3600.5", "confirm.expire_s = 3600.5", expire),
    ];
    for (line, says, limit) in cases {
        // The bad key sits on line 6, after a good one.
        let first = if line.starts_with("beyond_rad") {
            "expire_s = 30"
        } else {
            "beyond_rad = 0.4"
        };
        let text = with_confirm(&format!("{first}\n{line}"));
        assert_eq!(
            refusal(&text),
            format!("c.toml:6: {says}: {limit}"),
            "{line}"
        );
    }
}

#[test]
fn good_confirm_values_are_kept() {
    let c = parse(&with_confirm(
        "beyond_rad = 12.5\nbeyond_speed = 1\nexpire_s = 3600\n[confirm.actions]\nhome = \"always\"",
    ))
    .unwrap();
    assert_eq!(
        (
            c.confirm.beyond_rad,
            c.confirm.beyond_speed,
            c.confirm.expire_s
        ),
        (12.5, 1.0, 3600.0)
    );
    assert_eq!(
        c.confirm.rule("home", ConfirmRule::Never),
        ConfirmRule::Always
    );
    assert_eq!(
        c.confirm.rule("move_joints", ConfirmRule::Never),
        ConfirmRule::Never
    );
    let d = parse(SIM).unwrap().confirm;
    assert_eq!(
        (d.beyond_rad, d.beyond_speed, d.expire_s),
        (0.5, 0.25, 60.0)
    );
}

#[test]
fn an_unknown_rule_word_is_placed_by_the_parser() {
    let err = refusal(&with_confirm("[confirm.actions]\nhome = \"sometimes\""));
    assert!(
        err.starts_with("c.toml:6:8: unknown variant `sometimes`"),
        "{err}"
    );
}

#[test]
fn the_backend_carries_its_own_section() {
    let robot = concat!(env!("CARGO_MANIFEST_DIR"), "/robots/ur5e.toml");
    let text = format!(
        "robot = \"{robot}\"\n[backend]\nkind = \"modbus\"\n[modbus]\naddress = \"127.0.0.1:5020\"\npoll_hz = 50\n"
    );
    match parse(&text).unwrap().backend {
        Backend::Modbus { link, map: _ } => {
            assert_eq!(link.address.to_string(), "127.0.0.1:5020");
            assert_eq!((link.unit_id, link.poll_hz), (1, 50));
            assert_eq!(link.timeout, Duration::from_millis(200));
        }
        other => panic!("{other:?}"),
    }
    let text =
        format!("robot = \"{robot}\"\n[backend]\nkind = \"ros\"\n[ros]\ncontroller = \"/arm\"\n");
    match parse(&text).unwrap().backend {
        Backend::Ros(ros) => {
            assert_eq!(ros.action_ns, "/arm");
            assert_eq!(ros.master_uri, None);
            assert!(!ros.joint_states.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{SIM}[sim]\nstall_joint = 3\nstall_after_s = 2.0\n");
    match parse(&text).unwrap().backend {
        Backend::Sim(faults) => assert_eq!(faults.stall.map(|s| s.joint), Some(2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_or_stray_backend_section_is_refused() {
    assert_eq!(
        refusal("robot = \"builtin:ur5e\"\n[backend]\nkind = \"modbus\"\n"),
        "c.toml:3: [modbus] is missing: backend.kind = \"modbus\" needs it, with the controller's address"
    );
    assert_eq!(
        refusal(&format!("{SIM}[modbus]\naddress = \"127.0.0.1:5020\"\n")),
        "c.toml:4: [modbus] applies to backend.kind = \"modbus\" only; this config has backend.kind = \"sim\""
    );
    // A robot file without [modbus] and [ros] tables.
    let dir = tempfile::tempdir().unwrap();
    let bare = &BUILTIN_UR5E[..BUILTIN_UR5E.find("[modbus]").unwrap()];
    std::fs::write(dir.path().join("r.toml"), bare).unwrap();
    let robot = dir.path().join("r.toml").display().to_string();
    let err = refusal(&format!(
        "robot = \"{robot}\"\n[backend]\nkind = \"modbus\"\n[modbus]\naddress = \"127.0.0.1:5020\"\n"
    ));
    assert_eq!(
        err,
        format!("c.toml:1: robot = {robot}: has no [modbus] register map, which backend.kind = \"modbus\" needs")
    );
    let err = refusal(&format!(
        "robot = \"{robot}\"\n[backend]\nkind = \"ros\"\n[ros]\ncontroller = \"/arm\"\n"
    ));
    assert_eq!(
        err,
        format!("c.toml:4: [ros] needs joint_states and controller: the robot file {robot} has no [ros] table to give them")
    );
    assert_eq!(
        refusal(&format!("{SIM}[sim]\nstall_joint = 7\n")),
        "c.toml:5: sim.stall_joint = 7: must be a joint number from 1 to the robot's count"
    );
}

fn with_sparkplug(body: &str) -> String {
    format!("{SIM}[sparkplug]\ngroup_id = \"plant\"\nedge_node_id = \"cell-7\"\n{body}\n")
}

#[test]
fn sparkplug_takes_defaults_and_names_its_topics_parts() {
    let c = parse(&with_sparkplug("broker = \"mqtt://127.0.0.1\"")).unwrap();
    let s = c.sparkplug.unwrap();
    assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 1883));
    assert_eq!(s.device_id, "arm");
    assert_eq!(s.client_id, "armature-plant-cell-7");
    assert_eq!(s.keep_alive.as_secs(), 10);
    assert!(!s.accept_stop && s.tls.is_none());
    let c = parse(&with_sparkplug(
        "broker = \"mqtts://[::1]:8884\"\nca_file = \"/etc/ca.pem\"",
    ))
    .unwrap();
    let s = c.sparkplug.unwrap();
    assert_eq!((s.host.as_str(), s.port), ("::1", 8884));
    assert!(s.tls.unwrap().ca_file.is_some());
    assert!(parse(SIM).unwrap().sparkplug.is_none());
}

#[test]
fn sparkplug_mistakes_are_refused_with_the_line() {
    assert_eq!(
        refusal(&with_sparkplug("broker = \"tcp://broker:1883\"")),
        "c.toml:7: sparkplug.broker = \"tcp://broker:1883\": must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT] (TLS)"
    );
    assert_eq!(
        refusal(&with_sparkplug("broker = \"mqtt://b\"\ndevice_id = \"arm/1\"")),
        "c.toml:8: sparkplug.device_id = \"arm/1\": must be non-empty and hold none of / + # (Sparkplug topic rules)"
    );
    assert_eq!(
        refusal(&with_sparkplug("broker = \"mqtt://b\"\nca_file = \"ca.pem\"")),
        "c.toml:8: sparkplug.ca_file = \"ca.pem\": applies to an mqtts:// broker only; this broker is plain mqtt://"
    );
    assert_eq!(
        refusal(&with_sparkplug("broker = \"mqtt://b\"\nkeep_alive_s = 0")),
        "c.toml:8: sparkplug.keep_alive_s = 0: must be 1 to 3600"
    );
    let err = refusal(&with_sparkplug(
        "broker = \"mqtt://b\"\nusername = \"u\"\npassword_env = \"ARMATURE_TEST_UNSET_PASSWORD\"",
    ));
    assert!(
        err.contains("names an environment variable that is not set"),
        "{err}"
    );
    let err = refusal(&with_sparkplug("broker = \"mqtt://b\"\nqos = 1"));
    assert!(err.contains("unknown field `qos`"), "{err}");
}

#[test]
fn the_session_idle_time_defaults_to_ten_minutes_and_is_checked() {
    assert_eq!(
        parse(SIM).unwrap().server.session_idle,
        Duration::from_secs(600)
    );
    let c = parse(&format!("{SIM}[server]\nsession_idle_s = 20\n")).unwrap();
    assert_eq!(c.server.session_idle, Duration::from_secs(20));
    for (value, shown) in [("0", "0"), ("nan", "NaN"), ("1e9", "1e9"), ("-5", "-5")] {
        assert_eq!(
            refusal(&format!("{SIM}[server]\nsession_idle_s = {value}\n")),
            format!("c.toml:5: server.session_idle_s = {shown}: must be 1 to 86400 (seconds)")
        );
    }
}

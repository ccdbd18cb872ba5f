//! `armature doctor`: what on this machine keeps Armature from running well, each with the
//! fix in one line. Checks the real-time permissions, the kernel and clock, a short 500 Hz
//! loop measurement, the state directory, the config files, the link to the robot, the HTTP
//! address and the operators. Exit status 1 when any check fails.

mod link;
mod machine;
mod setup;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, ConfigError};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing to do.
    Pass,
    /// Works, but worth fixing on a production controller.
    Warn,
    /// Armature will not run, or not run safely, until fixed.
    Fail,
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked, one word or two.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was found, with the figures.
    pub detail: String,
    /// How to fix it, in one line (absent on a pass).
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What `armature doctor` was asked.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The config file (`None`: the built-in simulator config).
    pub config: Option<PathBuf>,
    /// The state directory to check.
    pub state_dir: PathBuf,
    /// How long to measure the loop.
    pub measure: Duration,
}

/// Every check's outcome, in order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The config checked.
    pub config: String,
    /// The checks.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report as lines for a terminal.
    pub fn text(&self) -> String {
        let mut out = format!("armature doctor: {}\n", self.config);
        for c in &self.checks {
            let tag = match c.status {
                Status::Pass => "PASS",
                Status::Warn => "WARN",
                Status::Fail => "FAIL",
            };
            out += &format!("{tag}  {:<16} {}\n", c.name, c.detail);
            if let Some(fix) = &c.fix {
                out += &format!("      {:<16} fix: {fix}\n", "");
            }
        }
        // Not "N passed, N failed": CI logs read that shape as a test runner's summary.
        out += &format!(
            "doctor: {} pass, {} warn, {} fail\n",
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail)
        );
        out
    }

    /// The report as one JSON object, with the counts.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "config": self.config,
            "checks": self.checks,
            "pass": self.count(Status::Pass),
            "warn": self.count(Status::Warn),
            "fail": self.count(Status::Fail),
        })
    }
}

/// Runs every check.
pub fn run(options: &DoctorOptions) -> Report {
    let names = crate::actions::builtin_names();
    let loaded = match &options.config {
        Some(p) => Config::load(p, &names),
        None => Config::builtin(&names),
    };
    let source = options.config.as_ref().map_or_else(
        || "the built-in simulator config".to_owned(),
        |p| p.display().to_string(),
    );
    let mut checks = Vec::new();
    // The machine's checks need only the loop's rate and priority: the defaults stand in
    // for a config that did not load.
    let (rate_hz, priority) = match &loaded {
        Ok(c) => (c.motion.rate_hz, c.motion.rt_priority),
        Err(_) => (500, 80),
    };
    checks.extend(machine::checks(rate_hz, priority, options.measure));
    checks.push(setup::state_dir(&options.state_dir));
    match &loaded {
        Ok(config) => {
            checks.extend(setup::files(config));
            checks.extend(link::checks(config));
            checks.push(setup::http(config));
            checks.push(setup::operators(config));
        }
        Err(e) => checks.push(config_failure(e, options.config.as_ref())),
    }
    Report {
        config: source,
        checks,
    }
}

/// The one line a config that did not load gets, under the part that broke.
fn config_failure(e: &ConfigError, path: Option<&PathBuf>) -> Check {
    let check_cmd = path.map_or_else(
        || "armature check-config".to_owned(),
        |p| format!("armature check-config --config {}", p.display()),
    );
    let (name, fix) = match e {
        ConfigError::Robot(_) => ("robot file", "correct the robot definition it names"),
        ConfigError::Actions(_) => ("action file", "correct the action file at the line named"),
        ConfigError::Operators { .. } => (
            "operators",
            "set the token variable in /etc/armature/armature.env (the service reads it) and in this shell",
        ),
        _ => ("config", "correct the config at the line named"),
    };
    Check::fail(
        name,
        e.to_string(),
        format!("{fix}; `{check_cmd}` repeats the check. The link, HTTP and operator checks need a config that loads"),
    )
}

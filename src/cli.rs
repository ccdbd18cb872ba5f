//! The command line: `armature serve`, `vars`, `token`, `audit`, `check-config`, `doctor`, `call`,
//! and the hidden `speech-check` the speech test runs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::{App, StartError};
use crate::call::{CallError, CallOptions};
use crate::config::{default_state_dir, Config, ConfigError};
use crate::doctor::DoctorOptions;
use crate::vars::{VarStore, VarsError};

/// Armature: lets an AI assistant command a robot arm, safely.
#[derive(Debug, Parser)]
#[command(name = "armature", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the plugin: MCP over streamable HTTP (default) or stdio.
    Serve(ServeArgs),
    /// Read installation variables.
    Vars {
        /// list or get.
        #[command(subcommand)]
        command: VarsCommand,
    },
    /// Make a fresh operator token and print the config lines for it.
    Token {
        /// new.
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Read the audit log (every call, refusal and task outcome).
    Audit {
        /// Only entries at or after this time (RFC 3339, UTC, e.g. 2026-11-21T06:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Load and check a configuration and its robot definition, then exit.
    CheckConfig {
        /// Config file (default: the built-in simulator config).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check this machine and installation for Armature; each finding with its fix. Exit 1 on any fail.
    Doctor(DoctorArgs),
    /// Call a tool of a running Armature over MCP (e.g. `armature call move_to position=ready --wait`).
    Call(CallArgs),
    /// For the tests: check every text of a captured texts file (JSON lines with a `text`)
    /// against the speech contract; print each breaching text with its breaches, exit 1 on any.
    #[command(hide = true)]
    SpeechCheck {
        /// The texts file (tests/interop/spoken.py writes one).
        file: PathBuf,
    },
}

/// `armature doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Config file (default: the built-in simulator config).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// State directory to check (the package's service uses /var/lib/armature).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Seconds to measure the motion loop.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub measure_s: f64,
}

/// `armature call`.
#[derive(Debug, Args)]
pub struct CallArgs {
    /// The tool to call.
    #[arg(required_unless_present = "list")]
    pub tool: Option<String>,
    /// Its arguments: key=value pairs (a value is read as JSON if it parses, else as a
    /// string), or one JSON object.
    pub params: Vec<String>,
    /// The MCP endpoint.
    #[arg(long, default_value = crate::call::DEFAULT_URL)]
    pub url: String,
    /// The environment variable holding your operator token (sent as a bearer token).
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,
    /// Follow the task to its end with a progress bar; the exit status says how it ended
    /// (0 succeeded, 3 failed, 4 cancelled, 5 interrupted). Ctrl-C cancels the task.
    #[arg(long)]
    pub wait: bool,
    /// List the tools.
    #[arg(long)]
    pub list: bool,
    /// Print structured content as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `armature serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve one MCP session on stdin/stdout instead of HTTP.
    #[arg(long, conflicts_with = "http")]
    pub stdio: bool,
    /// Serve streamable HTTP at this address (path /mcp); default from the config.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<SocketAddr>,
    /// Config file (default: the built-in simulator config).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// State directory (tasks journal, installation variables, audit log).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `armature vars …`.
#[derive(Debug, Subcommand)]
pub enum VarsCommand {
    /// Every variable.
    List {
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// One variable's value.
    Get {
        /// The variable.
        name: String,
        /// State directory.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `armature token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// A fresh token for operator NAME.
    New {
        /// The operator's name.
        name: String,
        /// operator (may move) or observer (status and stop only).
        #[arg(long, default_value = "operator")]
        role: String,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The plugin could not start.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Variables could not be read.
    #[error(transparent)]
    Vars(#[from] VarsError),
    /// No such variable.
    #[error("no installation variable named \"{0}\"")]
    NoSuchVariable(String),
    /// The Sparkplug B edge node could not start.
    #[error(transparent)]
    Fleet(#[from] crate::fleet::FleetError),
    /// Serving failed.
    #[error("{0}")]
    Serve(#[from] std::io::Error),
    /// A bad argument.
    #[error("{0}")]
    Usage(String),
    /// `armature call` could not call.
    #[error(transparent)]
    Call(#[from] CallError),
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::load(p, &crate::actions::builtin_names()),
        None => Config::builtin(&crate::actions::builtin_names()),
    }
}

/// Runs a parsed command line; the exit status on success (`doctor` and `call` have their own).
pub fn run(cli: Cli) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Doctor(args) => doctor(args),
        Command::Call(args) => {
            let ending = crate::call::run(&CallOptions {
                tool: args.tool,
                params: args.params,
                url: args.url,
                token_env: args.token_env,
                wait: args.wait,
                list: args.list,
                json: args.json,
            })?;
            Ok(ExitCode::from(ending as u8))
        }
        Command::SpeechCheck { file } => speech_check(&file),
        other => run_plain(other).map(|()| ExitCode::SUCCESS),
    }
}

fn doctor(args: DoctorArgs) -> Result<ExitCode, CliError> {
    let measure = Duration::try_from_secs_f64(args.measure_s)
        .ok()
        .filter(|d| (0.1..=60.0).contains(&d.as_secs_f64()))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--measure-s {}: must be from 0.1 to 60 seconds",
                args.measure_s
            ))
        })?;
    let report = crate::doctor::run(&DoctorOptions {
        config: args.config,
        state_dir: args.state_dir.unwrap_or_else(default_state_dir),
        measure,
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        );
    } else {
        print!("{}", report.text());
    }
    Ok(if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `armature speech-check FILE`: the contract of `tasks/words/contract.rs` over every distinct
/// text of the file, so the Rust lint and the interop run share one definition.
fn speech_check(file: &std::path::Path) -> Result<ExitCode, CliError> {
    let body = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let mut texts = std::collections::BTreeSet::new();
    for (i, line) in body
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let text = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_owned))
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "{} line {}: not a JSON object with a text",
                    file.display(),
                    i + 1
                ))
            })?;
        texts.insert(text);
    }
    let mut broken = 0usize;
    for text in &texts {
        let breaches = crate::tasks::words::contract::breaches(text);
        if breaches.is_empty() {
            continue;
        }
        broken += 1;
        println!("{text}");
        for b in breaches {
            println!("    {b}");
        }
    }
    println!(
        "{broken} of {} distinct texts break the speech contract",
        texts.len()
    );
    Ok(if broken == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn run_plain(command: Command) -> Result<(), CliError> {
    match command {
        Command::Doctor(_) | Command::Call(_) | Command::SpeechCheck { .. } => Ok(()),
        Command::Serve(args) => serve(args),
        Command::Token {
            command: TokenCommand::New { name, role },
        } => {
            if !matches!(role.as_str(), "operator" | "observer") {
                return Err(CliError::Usage(format!(
                    "role \"{role}\" is not operator or observer"
                )));
            }
            let token = crate::operators::new_token();
            println!("Token for {name} (shown once; give it to the operator, keep it out of the config):");
            println!("  {token}");
            println!();
            println!("Add to the config:");
            println!("[[operators]]");
            println!("name = \"{name}\"");
            println!("role = \"{role}\"");
            println!(
                "token_sha256 = \"{}\"",
                crate::operators::hash_token(&token)
            );
            Ok(())
        }
        Command::Audit {
            since,
            json,
            state_dir,
        } => {
            let dir = state_dir.unwrap_or_else(default_state_dir);
            for e in crate::audit::read(&dir, since.as_deref())? {
                if json {
                    println!("{e}");
                } else {
                    let s = |k: &str| e[k].as_str().unwrap_or("").to_owned();
                    println!(
                        "{}  {:<12} {:<14} {:<8} {:<18} {}",
                        s("time"),
                        s("operator"),
                        s("tool"),
                        s("outcome"),
                        s("code"),
                        s("task_id")
                    );
                }
            }
            Ok(())
        }
        Command::CheckConfig { config } => {
            let c = load_config(config.as_ref())?;
            println!(
                "{}: ok ({} with {} joints, backend {:?}, {} named positions)",
                c.source,
                c.robot.name,
                c.robot.dof(),
                c.backend.kind(),
                c.robot.positions.len()
            );
            if let Some(source) = &c.actions_source {
                let names: Vec<&str> = c.actions.iter().map(|a| a.name.as_str()).collect();
                println!(
                    "{source}: ok ({} custom actions: {})",
                    names.len(),
                    names.join(", ")
                );
            }
            Ok(())
        }
        Command::Vars {
            command: VarsCommand::List { state_dir, json },
        } => {
            let vars = VarStore::read(&state_dir.unwrap_or_else(default_state_dir))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&vars).unwrap_or_default()
                );
            } else {
                for (k, v) in vars {
                    println!("{k} = {v}");
                }
            }
            Ok(())
        }
        Command::Vars {
            command:
                VarsCommand::Get {
                    name,
                    state_dir,
                    json,
                },
        } => {
            let vars = VarStore::read(&state_dir.unwrap_or_else(default_state_dir))?;
            let v = vars.get(&name).ok_or(CliError::NoSuchVariable(name))?;
            if json {
                println!("{}", serde_json::to_string(v).unwrap_or_default());
            } else {
                println!("{v}");
            }
            Ok(())
        }
    }
}

fn serve(args: ServeArgs) -> Result<(), CliError> {
    let config = load_config(args.config.as_ref())?;
    let state_dir = args.state_dir.unwrap_or_else(default_state_dir);
    let http = args.http.unwrap_or(config.server.http);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let app = App::start(config, &state_dir)?;
    tracing::info!(state_dir = %state_dir.display(), robot = %app.config.robot.name, "armature started");
    let shutdown = CancellationToken::new();
    let fleet = {
        let _runtime = runtime.enter();
        crate::fleet::start(&app, &shutdown)?
    };
    let result = runtime.block_on(async {
        let signals = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            signals.cancel();
        });
        let served = if args.stdio {
            crate::mcp::serve_stdio(app.clone(), shutdown.clone()).await
        } else {
            crate::service::spawn_watchdog(app.clone(), shutdown.clone());
            crate::mcp::serve_http(app.clone(), http, shutdown.clone(), |bound| {
                eprintln!(
                    "Armature is listening on http://{bound}/mcp (state in {})",
                    state_dir.display()
                );
                crate::service::ready(&format!("http://{bound}/mcp"));
            })
            .await
        };
        // The Sparkplug node says NDEATH before the process goes.
        shutdown.cancel();
        if let Some(fleet) = fleet {
            fleet.finished().await;
        }
        served
    });
    crate::service::stopping();
    tracing::info!("shutting down: controlled stop of any motion");
    let saved = app.shutdown();
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result?;
    Ok(saved?)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

//! The command line: `armature serve`, `armature vars`, `armature check-config`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::app::{App, StartError};
use crate::config::{default_state_dir, Config, ConfigError};
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
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::load(p, &crate::actions::builtin_names()),
        None => Config::builtin(&crate::actions::builtin_names()),
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
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
            crate::mcp::serve_http(app.clone(), http, shutdown.clone(), |bound| {
                eprintln!(
                    "Armature is listening on http://{bound}/mcp (state in {})",
                    state_dir.display()
                );
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

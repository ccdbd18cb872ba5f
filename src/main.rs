//! The `armature` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = armature::cli::Cli::parse();
    // `call`'s stderr carries a refusal's text for scripts: keep the MCP client's chatter out.
    let default_filter = match cli.command {
        armature::cli::Command::Call(_) => "warn,rmcp=off",
        _ => "info",
    };
    // Logs go to stderr: on stdio, stdout belongs to MCP.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARMATURE_LOG")
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    match armature::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("armature: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

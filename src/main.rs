//! The `armature` binary.

use clap::Parser;

fn main() -> std::process::ExitCode {
    // Logs go to stderr: on stdio, stdout belongs to MCP.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARMATURE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let cli = armature::cli::Cli::parse();
    match armature::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("armature: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

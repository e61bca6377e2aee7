//! The `ryll` binary: parses the command line and opens the window, or runs headless with `--headless`.

use clap::Parser;
use ryll::cli::Cli;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("RYLL_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("ryll={level},dav_server=warn,hyper=warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = match cli.session_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ryll: {e}");
            return ExitCode::from(2);
        }
    };
    if !cli.runs_headless() {
        #[cfg(feature = "gui")]
        return ryll::app::run(config);
        #[cfg(not(feature = "gui"))]
        {
            eprintln!("ryll: this ryll was built without the window (cargo feature \"gui\"); add --headless");
            return ExitCode::from(2);
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ryll: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(ryll::headless::run(config, cli.headless_options()))
}

//! The `ryll` binary: parses the command line and opens the window, or runs headless with `--headless`.

use ryll::bug_report::{RecentLog, RecentLogWriter};
use ryll::cli::Cli;
use std::process::ExitCode;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse_ordered();
    let level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("RYLL_LOG")
        .unwrap_or_else(|_| EnvFilter::new(format!("ryll={level},dav_server=warn,hyper=warn")));
    // The terminal's output, and the same lines without colours into the ring bug reports take them from.
    let terminal = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let recent = tracing_subscriber::fmt::layer()
        .with_writer(RecentLogWriter(RecentLog::global()))
        .with_target(false)
        .with_ansi(false);
    tracing_subscriber::registry().with(filter).with(terminal).with(recent).init();

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

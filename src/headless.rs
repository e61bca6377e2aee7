//! The headless front end: runs a session, logs what happens (through [`crate::event_log`]), and stops on
//! SIGINT/SIGTERM, or, with `--screenshot`, once the guest's screen is written (see [`crate::screenshot`]).

use crate::event_log::{log_end, log_event};
use crate::screenshot::{ScreenWait, WaitOutcome};
use crate::session::{self, SessionConfig, SessionEnd, SessionEvent};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// What the headless front end does besides running the session.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    /// Write the guest's settled screen and exit.
    pub screenshot: Option<Screenshot>,
}

/// `--screenshot`: where to write, how long to wait, and how long the screen must stay still.
#[derive(Debug, Clone)]
pub struct Screenshot {
    /// The PNG file.
    pub path: PathBuf,
    /// Give up after this long.
    pub timeout: Duration,
    /// The quiet period after the first full frame.
    pub settle: Duration,
}

/// How often a screenshot run looks at the screen.
const SCREEN_POLL: Duration = Duration::from_millis(50);

/// Runs a session until a signal, the server ends it, or a screenshot is written. Exit code 0 after a signal or a
/// written screenshot, 1 otherwise.
pub async fn run(config: SessionConfig, options: HeadlessOptions) -> ExitCode {
    if let Some(title) = &config.title {
        tracing::info!("session: {title}");
    }
    let mut handle = session::start(config);
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!("cannot watch SIGTERM: {e}");
            None
        }
    };
    let mut screen = options.screenshot.map(ScreenWait::new);
    let mut poll = tokio::time::interval(SCREEN_POLL);
    // Set once the screenshot is decided: the exit code after the session has ended.
    let mut verdict: Option<ExitCode> = None;
    let mut stopping = false;
    loop {
        let term = async {
            match sigterm.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            ev = handle.events.recv() => {
                let Some(ev) = ev else { return ExitCode::FAILURE };
                if let SessionEvent::Ended(end) = &ev {
                    if let (Some(wait), None) = (&screen, &verdict) {
                        tracing::error!("screenshot: {}", wait.failure_on_end(end));
                        log_end(end);
                        return ExitCode::FAILURE;
                    }
                    return verdict.unwrap_or_else(|| finish(end));
                }
                if let Some(wait) = screen.as_mut() {
                    wait.observe(&ev);
                }
                log_event(&ev);
            }
            // Checked at every change of the screen (MARK, draws) and at least every SCREEN_POLL for the quiet
            // period and the timeout.
            _ = async { tokio::select! { _ = poll.tick() => {}, _ = handle.shared.display.changed() => {} } },
                if screen.is_some() && verdict.is_none() => {
                let Some(wait) = screen.as_mut() else { continue };
                let outcome = wait.check(&handle.shared.display);
                let code = match outcome {
                    WaitOutcome::Waiting => continue,
                    WaitOutcome::Written(summary) => {
                        tracing::info!("screenshot: {summary}");
                        ExitCode::SUCCESS
                    }
                    WaitOutcome::Failed(reason) => {
                        tracing::error!("screenshot: {reason}");
                        ExitCode::FAILURE
                    }
                };
                verdict = Some(code);
                stopping = true;
                handle.disconnect().await;
            }
            _ = tokio::signal::ctrl_c(), if !stopping => {
                tracing::info!("interrupted; disconnecting");
                stopping = true;
                handle.disconnect().await;
            }
            _ = term, if !stopping => {
                tracing::info!("terminated; disconnecting");
                stopping = true;
                handle.disconnect().await;
            }
        }
    }
}

fn finish(end: &SessionEnd) -> ExitCode {
    log_end(end);
    if end.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

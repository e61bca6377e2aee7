//! The headless front end: runs a session, logs what happens (through [`crate::event_log`]), and stops on
//! SIGINT/SIGTERM, or, with `--screenshot`, once the guest's screen is written (see [`crate::screenshot`]).
//! SIGUSR1 stops sharing, and the next SIGUSR1 shares the `--share-dir` folder again (to stop and start a share in
//! a running session, as the window's Folders panel does).

use crate::event_log::{log_end, log_event};
use crate::screenshot::{ScreenWait, WaitOutcome};
use crate::session::{self, SessionCommand, SessionConfig, SessionEnd, SessionEvent};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

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

/// How often a screenshot run looks at the screen when nothing changes.
const SCREEN_POLL: Duration = Duration::from_millis(50);

fn watch(kind: SignalKind, name: &str) -> Option<Signal> {
    signal(kind).map_err(|e| tracing::warn!("cannot watch {name}: {e}")).ok()
}

async fn recv(sig: &mut Option<Signal>) {
    match sig.as_mut() {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// Runs a session until a signal, the server ends it, or a screenshot is written. Exit code 0 after a signal or a
/// written screenshot, 1 otherwise.
pub async fn run(config: SessionConfig, options: HeadlessOptions) -> ExitCode {
    if let Some(title) = &config.title {
        tracing::info!("session: {title}");
    }
    let share = config.share.clone();
    let mut handle = session::start(config);
    let mut sigterm = watch(SignalKind::terminate(), "SIGTERM");
    let mut sigusr1 = watch(SignalKind::user_defined1(), "SIGUSR1");
    let mut screen = options.screenshot.map(ScreenWait::new);
    let mut poll = tokio::time::interval(SCREEN_POLL);
    // Set once the screenshot is decided: the exit code after the session has ended.
    let mut verdict: Option<ExitCode> = None;
    let mut stopping = false;
    let mut sharing = false;
    loop {
        tokio::select! {
            ev = handle.events.recv() => {
                let Some(ev) = ev else { return ExitCode::FAILURE };
                match &ev {
                    SessionEvent::Ended(end) => return ended(end, screen.as_ref(), verdict),
                    SessionEvent::SharingStarted { .. } => sharing = true,
                    SessionEvent::SharingStopped => sharing = false,
                    _ => {}
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
                let code = match wait.check(&handle.shared.display) {
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
            _ = recv(&mut sigusr1), if !stopping => {
                let cmd = match (&share, sharing) {
                    (_, true) => Some(SessionCommand::StopSharing),
                    (Some(cfg), false) => Some(SessionCommand::StartSharing(cfg.clone())),
                    (None, false) => None,
                };
                match cmd {
                    Some(cmd) => {
                        tracing::info!("SIGUSR1: {}", if sharing { "stopping the share" } else { "sharing again" });
                        let _ = handle.commands.send(cmd).await;
                    }
                    None => tracing::warn!("SIGUSR1: nothing to share (no --share-dir given)"),
                }
            }
            _ = tokio::signal::ctrl_c(), if !stopping => {
                tracing::info!("interrupted; disconnecting");
                stopping = true;
                handle.disconnect().await;
            }
            _ = recv(&mut sigterm), if !stopping => {
                tracing::info!("terminated; disconnecting");
                stopping = true;
                handle.disconnect().await;
            }
        }
    }
}

/// The exit code once the session has ended: the screenshot's verdict, a failure if a screenshot was still awaited,
/// or the session's own end.
fn ended(end: &SessionEnd, screen: Option<&ScreenWait>, verdict: Option<ExitCode>) -> ExitCode {
    match (screen, verdict) {
        (_, Some(code)) => code,
        (Some(wait), None) => {
            tracing::error!("screenshot: {}", wait.failure_on_end(end));
            log_end(end);
            ExitCode::FAILURE
        }
        (None, None) => finish(end),
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

//! The headless front end: runs a session, logs what happens (through [`crate::event_log`]), and stops on
//! SIGINT/SIGTERM. SIGUSR1 stops sharing, and the next SIGUSR1 shares the `--share-dir` folder again (to stop and
//! start a share in a running session, as the window's Folders panel does).

use crate::event_log::{log_end, log_event};
use crate::session::{self, SessionCommand, SessionConfig, SessionEnd, SessionEvent};
use std::process::ExitCode;
use tokio::signal::unix::{signal, Signal, SignalKind};

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

/// Runs a session until a signal or the server ends it. Exit code 0 after a signal, 1 otherwise.
pub async fn run(config: SessionConfig) -> ExitCode {
    if let Some(title) = &config.title {
        tracing::info!("session: {title}");
    }
    let share = config.share.clone();
    let mut handle = session::start(config);
    let mut sigterm = watch(SignalKind::terminate(), "SIGTERM");
    let mut sigusr1 = watch(SignalKind::user_defined1(), "SIGUSR1");
    let mut stopping = false;
    let mut sharing = false;
    loop {
        tokio::select! {
            ev = handle.events.recv() => {
                let Some(ev) = ev else { return ExitCode::FAILURE };
                match &ev {
                    SessionEvent::Ended(end) => return finish(end),
                    SessionEvent::SharingStarted { .. } => sharing = true,
                    SessionEvent::SharingStopped => sharing = false,
                    _ => {}
                }
                log_event(&ev);
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

fn finish(end: &SessionEnd) -> ExitCode {
    log_end(end);
    if end.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

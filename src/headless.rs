//! The headless front end: runs a session, logs what happens (through [`crate::event_log`]), and stops on
//! SIGINT/SIGTERM.

use crate::event_log::{log_end, log_event};
use crate::session::{self, SessionConfig, SessionEnd, SessionEvent};
use std::process::ExitCode;

/// Runs a session until a signal or the server ends it. Exit code 0 after a signal, 1 otherwise.
pub async fn run(config: SessionConfig) -> ExitCode {
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
                    return finish(end);
                }
                log_event(&ev);
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

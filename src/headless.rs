//! The headless front end: runs a session, logs what happens (through [`crate::event_log`]), and stops on
//! SIGINT/SIGTERM, or, with `--screenshot`, once the guest's screen is written (see [`crate::screenshot`]), or,
//! with an input script (`--type`, `--send-keys`, `--click`), once it is sent (see [`crate::scripted_input`]).
//! SIGUSR1 stops sharing, and the next SIGUSR1 shares the `--share-dir` folder (or the `--share` shares, or the
//! remembered folder) again (to stop and start a share in a running session, as the window's Folders panel does).
//! With `--commands`, commands on standard input attach and detach USB disks (see [`crate::headless_commands`]).

use crate::event_log::{log_end, log_event};
use crate::headless_commands::{parse, read_stdin, run as run_command, Command};
use crate::input::script::InputAction;
use crate::screenshot::{ScreenWait, WaitOutcome};
use crate::scripted_input::run_script;
use crate::session::{self, SessionCommand, SessionConfig, SessionEnd, SessionEvent};
use crate::webdav::server::ShareConfig;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// What the headless front end does besides running the session.
#[derive(Debug, Clone, Default)]
pub struct HeadlessOptions {
    /// Write the guest's settled screen and exit.
    pub screenshot: Option<Screenshot>,
    /// Send these inputs (`--type`, `--send-keys`, `--click`), then exit (after the screenshot, if any).
    pub input: Vec<InputAction>,
    /// The pause between scripted input events.
    pub input_delay: Duration,
    /// `--commands`: read commands from standard input (see [`crate::headless_commands`]).
    pub commands: bool,
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
    // What SIGUSR1 shares again: the command line's share or shares, or the first one started (a remembered share).
    let mut share = config.share.clone();
    let shares = config.shares.clone();
    let protection = config.webdav.protection.clone();
    let mut handle = session::start(config);
    let mut sigterm = watch(SignalKind::terminate(), "SIGTERM");
    let mut sigusr1 = watch(SignalKind::user_defined1(), "SIGUSR1");
    let mut screen = options.screenshot.map(ScreenWait::new);
    let mut poll = tokio::time::interval(SCREEN_POLL);
    // Set once the screenshot is decided: the exit code after the session has ended.
    let mut verdict: Option<ExitCode> = None;
    let mut stopping = false;
    let mut sharing = false;
    let scripted = !options.input.is_empty();
    let mut script_done = !scripted;
    let script = run_script(handle.shared.clone(), options.input, options.input_delay);
    tokio::pin!(script);
    let mut stdin = options.commands.then(read_stdin);
    loop {
        tokio::select! {
            line = async { stdin.as_mut().expect("guarded").recv().await }, if stdin.is_some() => {
                let command = match line {
                    Some(Ok(line)) => parse(&line),
                    Some(Err(e)) => Err(e),
                    None => {
                        tracing::debug!("--commands: standard input closed");
                        stdin = None;
                        continue;
                    }
                };
                match command {
                    Ok(None) => {}
                    Ok(Some(c)) => {
                        println!("{}", run_command(&c, &handle.shared));
                        if c == Command::Quit && !stopping {
                            stopping = true;
                            handle.disconnect().await;
                        }
                    }
                    Err(e) => println!("error: {e}"),
                }
            }
            ev = handle.events.recv() => {
                let Some(ev) = ev else { return ExitCode::FAILURE };
                match &ev {
                    SessionEvent::Ended(end) => return ended(end, screen.as_ref(), verdict),
                    SessionEvent::SharingStarted { root, read_only } => {
                        sharing = true;
                        if share.is_none() {
                            let (root, read_only, protection) = (root.clone(), *read_only, protection.clone());
                            share = Some(ShareConfig { root, read_only, private: false, protection });
                        }
                    }
                    SessionEvent::SharingStopped => sharing = false,
                    SessionEvent::SharesChanged(list) => sharing = !list.is_empty(),
                    _ => {}
                }
                if let Some(wait) = screen.as_mut() {
                    wait.observe(&ev);
                }
                log_event(&ev);
            }
            // Checked at every change of the screen (MARK, draws) and at least every SCREEN_POLL for the quiet
            // period and the timeout.
            result = &mut script, if !script_done => {
                script_done = true;
                match result {
                    Err(e) => {
                        tracing::error!("{e}");
                        verdict = Some(ExitCode::FAILURE);
                    }
                    Ok(()) if screen.is_none() => {
                        tracing::info!("input: script sent");
                        verdict = Some(ExitCode::SUCCESS);
                    }
                    Ok(()) => continue,
                }
                stopping = true;
                handle.disconnect().await;
            }
            // A screenshot with an input script is taken once the script has run.
            _ = async { tokio::select! { _ = poll.tick() => {}, _ = handle.shared.display.changed() => {} } },
                if screen.is_some() && verdict.is_none() && script_done => {
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
                let cmds: Vec<SessionCommand> = match (&share, sharing) {
                    (_, true) => vec![SessionCommand::StopSharing],
                    (Some(cfg), false) => vec![SessionCommand::StartSharing(cfg.clone())],
                    // The --share shares, one by one (the first starts named sharing).
                    (None, false) => shares.iter().cloned().map(SessionCommand::AddShare).collect(),
                };
                if cmds.is_empty() {
                    tracing::warn!("SIGUSR1: nothing to share (no --share-dir or --share given)");
                } else {
                    tracing::info!("SIGUSR1: {}", if sharing { "stopping the share" } else { "sharing again" });
                }
                for cmd in cmds {
                    let _ = handle.commands.send(cmd).await;
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

//! Drives ryll's session core: a task drains the event queue into a log (so ryll never blocks on a slow test),
//! and tests wait on that log.

use super::within;
use ryll::session::{self, SessionCommand, SessionConfig, SessionEnd, SessionEvent, SessionHandle, SessionShared};
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, Notify};

#[derive(Default)]
struct EventLog {
    events: Mutex<Vec<SessionEvent>>,
    changed: Notify,
}

/// A running ryll session.
pub struct RunningSession {
    /// Commands to the session.
    pub commands: mpsc::Sender<SessionCommand>,
    /// The session's live counters.
    pub shared: Arc<SessionShared>,
    log: Arc<EventLog>,
    cursor: usize,
}

impl RunningSession {
    /// Starts a session with `config`.
    pub fn start(config: SessionConfig) -> RunningSession {
        Self::start_with(config, Vec::new())
    }

    /// Starts a session that also handles the channel kinds in `extra`.
    pub fn start_with(config: SessionConfig, extra: Vec<Arc<dyn session::ChannelKind>>) -> RunningSession {
        let SessionHandle { mut events, commands, shared, .. } = session::start_with(config, extra);
        let log = Arc::new(EventLog::default());
        let sink = log.clone();
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                sink.events.lock().unwrap_or_else(|e| e.into_inner()).push(ev);
                sink.changed.notify_waiters();
            }
        });
        RunningSession { commands, shared, log, cursor: 0 }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<SessionEvent> {
        self.log.events.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether any event so far matches.
    pub fn saw(&self, pred: impl Fn(&SessionEvent) -> bool) -> bool {
        self.events().iter().any(pred)
    }

    /// Waits for the next event (after the previous match) that satisfies `pred`, and returns it.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&SessionEvent) -> bool) -> SessionEvent {
        let log = self.log.clone();
        let start = self.cursor;
        let waiting = async {
            loop {
                let notified = log.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                {
                    let events = log.events.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(i) = events.iter().skip(start).position(&pred) {
                        return (start + i, events[start + i].clone());
                    }
                    if let Some(SessionEvent::Ended(end)) = events.last() {
                        panic!("the session ended ({end:?}) before {what}; events: {events:#?}");
                    }
                }
                notified.await;
            }
        };
        let found = tokio::time::timeout(super::TIMEOUT, waiting).await;
        let (index, ev) =
            found.unwrap_or_else(|_| panic!("timed out waiting for {what}; events: {:#?}", self.events()));
        self.cursor = index + 1;
        ev
    }

    /// Waits for the session to end and returns how.
    pub async fn wait_end(&mut self) -> SessionEnd {
        let log = self.log.clone();
        within("the session to end", async {
            loop {
                let notified = log.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(SessionEvent::Ended(end)) = log.events.lock().unwrap_or_else(|e| e.into_inner()).last() {
                    return end.clone();
                }
                notified.await;
            }
        })
        .await
    }

    /// Whether the session has ended.
    pub fn ended(&self) -> bool {
        self.saw(|e| matches!(e, SessionEvent::Ended(_)))
    }

    /// Sends a command.
    pub async fn command(&self, cmd: SessionCommand) {
        within("the session to take a command", self.commands.send(cmd)).await.expect("the session is gone");
    }

    /// Asks the session to disconnect and returns how it ended.
    pub async fn disconnect(mut self) -> SessionEnd {
        let _ = self.commands.send(SessionCommand::Disconnect).await;
        self.wait_end().await
    }
}

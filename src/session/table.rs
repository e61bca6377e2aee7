//! The channel table: every channel of the session other than main, keyed by [`ChannelId`], run the same way.
//!
//! A channel type ryll handles is a [`ChannelKind`]: its capabilities, its limits and how to run a linked channel.
//! The table links each offered channel whose type has a kind (at most one per type for a [`ChannelKind::single`]
//! kind), keeps its task and counters, relinks it on request, and reports when it ends. Adding a channel type
//! needs a kind and one registration line in [`super::channel_kinds`]; nothing here changes.

use super::{SessionEvent, SessionShared};
use crate::capture::CaptureSet;
use crate::channels::driver::{AbortOnDrop, ChannelEnd};
use crate::channels::io::{spawn_writer, ByteCounters, MessageReader, SharedCapture, WriterHandle};
use crate::channels::link::{link, LinkFailure, LinkInfo, LinkRequest};
use crate::connect::addr::{format_addr, split_addr};
use crate::connect::dial::{dial, BoxStream, Dialed, Transport};
use crate::connect::error::ConnectError;
use crate::connect::password::Password;
use crate::protocol::caps::Caps;
use crate::protocol::constants::ChannelType;
use crate::protocol::main_channel::ChannelId;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A linked channel's halves, ready to run.
pub struct LinkedChannel {
    /// Reads the channel's messages.
    pub reader: MessageReader<tokio::io::ReadHalf<BoxStream>>,
    /// Queues messages to the channel's writer task.
    pub writer: WriterHandle,
    /// What the link agreed (the server's capabilities, the header mode).
    pub info: LinkInfo,
}

/// What a running channel gets besides its socket.
#[derive(Clone)]
pub struct ChannelContext {
    /// The channel.
    pub id: ChannelId,
    /// The session's event queue to the front end.
    pub events: mpsc::Sender<SessionEvent>,
}

/// A boxed channel future, as [`ChannelKind::run`] returns it.
pub type ChannelFuture = Pin<Box<dyn Future<Output = ChannelEnd> + Send>>;

/// A channel type ryll handles.
pub trait ChannelKind: Send + Sync {
    /// The type it handles.
    fn channel_type(&self) -> ChannelType;
    /// The channel capabilities to advertise when linking.
    fn caps(&self) -> Caps;
    /// The largest message accepted on the channel.
    fn max_message(&self) -> u32;
    /// Capacity of the writer's data lane.
    fn data_queue(&self) -> usize {
        16
    }
    /// Whether the session links at most one channel of this type (the first offered).
    fn single(&self) -> bool {
        false
    }
    /// The event to report when the server's first channel list has no channel of this type.
    fn missing_event(&self) -> Option<SessionEvent> {
        None
    }
    /// Runs a linked channel until it ends. Dropping the future closes the channel.
    fn run(&self, linked: LinkedChannel, ctx: ChannelContext) -> ChannelFuture;
}

/// Where and how channels link: the same for every channel of the session.
#[derive(Clone)]
pub(crate) struct LinkEnv {
    pub(crate) endpoint: Endpoint,
    pub(crate) capture: Option<CaptureSet>,
    pub(crate) password: Password,
    pub(crate) events: mpsc::Sender<SessionEvent>,
    pub(crate) shared: Arc<SessionShared>,
}

impl LinkEnv {
    /// The link request for `channel`.
    pub(crate) fn request(&self, connection_id: u32, channel: ChannelId, channel_caps: Caps) -> LinkRequest {
        LinkRequest {
            connection_id,
            channel,
            channel_caps,
            password: self.password.clone(),
            addr: self.endpoint.addr.clone(),
        }
    }

    /// New byte counters for `id`, replacing any from an earlier link, listed where front ends read them.
    pub(crate) fn register_counters(&self, id: ChannelId) -> Arc<ByteCounters> {
        let counters = Arc::new(ByteCounters::default());
        if let Ok(mut list) = self.shared.channels.lock() {
            list.retain(|(c, _)| *c != id);
            list.push((id, counters.clone()));
        }
        counters
    }
}

/// A channel task's end: the link failed, or the channel ran and ended.
pub(crate) type TaskEnd = Result<ChannelEnd, LinkFailure>;

struct Running {
    generation: u64,
    kind: Arc<dyn ChannelKind>,
    started: Instant,
    _task: AbortOnDrop<()>,
}

/// A channel's task ended: which, its kind, how, and how long it ran (its link delay included).
pub(crate) struct Ended {
    pub(crate) id: ChannelId,
    pub(crate) kind: Arc<dyn ChannelKind>,
    pub(crate) end: TaskEnd,
    pub(crate) ran: Duration,
}

/// The first relink delay after a channel failed; it doubles per failure in a row, up to [`RELINK_MAX`].
pub(crate) const RELINK_FIRST: Duration = Duration::from_millis(200);
/// The longest relink delay.
pub(crate) const RELINK_MAX: Duration = Duration::from_secs(30);
/// A channel that ran this long before failing starts its backoff again from [`RELINK_FIRST`].
pub(crate) const RAN_WELL: Duration = Duration::from_secs(60);

/// The delay before relink number `attempt` (1-based) of a run of failures.
pub(crate) fn relink_delay(attempt: u32) -> Duration {
    RELINK_FIRST.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(RELINK_MAX)
}

/// The running channels of a session (main excluded).
pub(crate) struct ChannelTable {
    kinds: Vec<Arc<dyn ChannelKind>>,
    running: BTreeMap<ChannelId, Running>,
    next_generation: u64,
    ended_tx: mpsc::Sender<(ChannelId, u64, TaskEnd)>,
    ended_rx: mpsc::Receiver<(ChannelId, u64, TaskEnd)>,
}

impl ChannelTable {
    pub(crate) fn new(kinds: Vec<Arc<dyn ChannelKind>>) -> Self {
        let (ended_tx, ended_rx) = mpsc::channel(64);
        ChannelTable { kinds, running: BTreeMap::new(), next_generation: 0, ended_tx, ended_rx }
    }

    /// The kinds the session handles.
    pub(crate) fn kinds(&self) -> &[Arc<dyn ChannelKind>] {
        &self.kinds
    }

    /// The kind that would run `id` now: none when the type is not handled, or when a single kind already runs a
    /// channel of its type.
    pub(crate) fn kind_for(&self, id: ChannelId) -> Option<Arc<dyn ChannelKind>> {
        let kind = self.kinds.iter().find(|k| k.channel_type() == id.channel_type)?;
        let taken = kind.single() && self.running.keys().any(|c| c.channel_type == id.channel_type && *c != id);
        (!taken).then(|| kind.clone())
    }

    /// Whether `id` is in the table.
    pub(crate) fn contains(&self, id: ChannelId) -> bool {
        self.running.contains_key(&id)
    }

    /// Links `id` with `kind` after `delay` and runs it, replacing any earlier task of `id`.
    pub(crate) fn start(
        &mut self,
        id: ChannelId,
        kind: Arc<dyn ChannelKind>,
        env: &LinkEnv,
        session_id: u32,
        delay: Duration,
    ) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let req = env.request(session_id, id, kind.caps());
        let counters = env.register_counters(id);
        let env = env.clone();
        let ended = self.ended_tx.clone();
        let run_kind = kind.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let result = async {
                let capture = env.capture.as_ref();
                let linked =
                    open_channel(&env.endpoint, capture, req, run_kind.max_message(), run_kind.data_queue(), counters)
                        .await?;
                let _ = env.events.send(SessionEvent::ChannelLinked(id)).await;
                Ok(run_kind.run(linked, ChannelContext { id, events: env.events.clone() }).await)
            }
            .await;
            let _ = ended.send((id, generation, result)).await;
        });
        self.running.insert(id, Running { generation, kind, started: Instant::now(), _task: AbortOnDrop(task) });
    }

    /// Waits until a channel's task ends and removes it from the table. Ends of replaced tasks are skipped.
    pub(crate) async fn next_end(&mut self) -> Ended {
        loop {
            let Some((id, generation, end)) = self.ended_rx.recv().await else {
                return std::future::pending().await;
            };
            if self.running.get(&id).is_some_and(|r| r.generation == generation) {
                if let Some(r) = self.running.remove(&id) {
                    return Ended { id, kind: r.kind, end, ran: r.started.elapsed() };
                }
            }
        }
    }

    /// Closes every channel.
    pub(crate) fn stop_all(&mut self) {
        self.running.clear();
    }
}

/// Where a channel connects: the plain address and the transport (TLS port, policy, proxy).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) addr: String,
    pub(crate) transport: Transport,
}

/// Connects and links one channel: over TLS when the policy requires it or no plain port is known, otherwise over
/// plain TCP, retrying over TLS when the server answers NEED_SECURED (or refuses the plain port) and a TLS port is
/// known, as spice-gtk does.
pub(crate) async fn open_channel(
    endpoint: &Endpoint,
    capture: Option<&CaptureSet>,
    mut req: LinkRequest,
    max_message: u32,
    data_queue: usize,
    counters: Arc<ByteCounters>,
) -> Result<LinkedChannel, LinkFailure> {
    let channel = req.channel.channel_type;
    let proxy = endpoint.transport.proxy.as_ref();
    let tls = endpoint.transport.tls.as_ref();
    match split_addr(&endpoint.addr) {
        Some((host, port)) if !endpoint.transport.secure_channels.requires(channel) => {
            req.addr = endpoint.addr.clone();
            let attempt = dial(&host, port, None, proxy).await;
            let result = match attempt {
                Ok(dialed) => link_dialed(dialed, capture, &req, max_message, data_queue, counters.clone()).await,
                Err(e) => Err(e.into()),
            };
            match result {
                Err(LinkFailure::NeedSecured { channel }) if tls.is_some() => {
                    tracing::info!(
                        "the server requires TLS for the {channel} channel (NEED_SECURED); retrying over TLS"
                    )
                }
                Err(e @ LinkFailure::Connect(ConnectError::Refused { .. })) if tls.is_some() => {
                    tracing::info!("{e}; trying the TLS port")
                }
                other => return other,
            }
        }
        _ => {}
    }
    let Some(tls) = tls else {
        return Err(LinkFailure::NeedSecured { channel: channel.name() });
    };
    req.addr = format_addr(&tls.host, tls.port);
    let dialed = dial(&tls.host, tls.port, Some(&tls.config), proxy).await?;
    let linked = link_dialed(dialed, capture, &req, max_message, data_queue, counters).await?;
    tracing::debug!("{} channel linked over TLS to {}", channel.name(), req.addr);
    Ok(linked)
}

/// Links a connected stream and splits it into a reader and a writer task.
async fn link_dialed(
    dialed: Dialed,
    capture: Option<&CaptureSet>,
    req: &LinkRequest,
    max_message: u32,
    data_queue: usize,
    counters: Arc<ByteCounters>,
) -> Result<LinkedChannel, LinkFailure> {
    let mut stream = dialed.stream;
    let cap: Option<SharedCapture> = match (capture, dialed.local, dialed.peer) {
        (Some(set), Some(local), Some(peer)) => {
            let name = format!("{}-{}", req.channel.channel_type.name(), req.channel.id);
            match set.open_channel(&name, local, peer) {
                Ok(c) => Some(Arc::new(Mutex::new(c))),
                Err(e) => {
                    tracing::warn!("cannot open capture file for {name}: {e}");
                    None
                }
            }
        }
        _ => None,
    };
    let info = link(&mut stream, req, &cap).await?;
    let (r, w) = tokio::io::split(stream);
    let reader = MessageReader::new(r, info.mode, max_message, cap.clone(), counters.clone());
    let (writer, _task) = spawn_writer(w, info.mode, data_queue, cap, counters);
    Ok(LinkedChannel { reader, writer, info })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relink_delays_double_from_200_ms_up_to_30_s() {
        let ms: Vec<u128> = (1..=10).map(|a| relink_delay(a).as_millis()).collect();
        assert_eq!(ms, vec![200, 400, 800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000]);
        assert_eq!(relink_delay(u32::MAX), RELINK_MAX);
        assert_eq!(relink_delay(0), RELINK_FIRST);
    }
}

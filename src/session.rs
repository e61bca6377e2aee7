//! The session core: one SPICE session (main channel plus the channels ryll handles), driven by a front end.
//!
//! The front end (the headless runner now, the GUI later) calls [`start`], then reads [`SessionEvent`]s and sends
//! [`SessionCommand`]s through the returned [`SessionHandle`]. Live counters are in [`SessionShared`], which the
//! front end may read at any time without going through the event queue. No front end contains protocol logic.

use crate::capture::CaptureSet;
use crate::channels::io::{spawn_writer, ByteCounters, MessageReader, SharedCapture};
use crate::channels::link::{link, LinkFailure, LinkInfo, LinkRequest};
use crate::channels::main_channel::{main_caps, run_main, MainEvent, MAX_MAIN_MESSAGE};
use crate::channels::vmc::vmc_caps;
use crate::channels::webdav::{
    run_webdav, ShareSlot, WebdavConfig, WebdavContext, WebdavEnd, WebdavEvent, WebdavStats, DATA_QUEUE,
    MAX_WEBDAV_MESSAGE,
};
use crate::connect::addr::{format_addr, split_addr};
use crate::connect::dial::{dial, BoxStream, Transport};
use crate::connect::error::ConnectError;
use crate::connect::password::Password;
use crate::protocol::base::Severity;
use crate::protocol::constants::{ChannelType, LinkError, SPICEVMC_CAP_DATA_COMPRESS_LZ4};
use crate::protocol::main_channel::ChannelId;
use crate::webdav::server::{ShareConfig, ShareServer};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Everything needed to run a session.
#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// HOST:PORT of the SPICE server's plain port (IPv6 in brackets); empty when only a TLS port is known.
    pub addr: String,
    /// Password (empty when the server has ticketing off).
    pub password: Password,
    /// The TLS port, which channels must use it, and the HTTP proxy (default: plain TCP to `addr`).
    pub transport: Transport,
    /// A title for the session from the connection source (a `.vv` file's `title`), for front ends.
    pub title: Option<String>,
    /// Where to write pcap captures, if anywhere.
    pub capture_dir: Option<PathBuf>,
    /// The folder to share as soon as the WebDAV channel is up.
    pub share: Option<ShareConfig>,
    /// WebDAV channel settings.
    pub webdav: WebdavConfig,
}

/// Something the front end should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEvent {
    /// Connecting to the server.
    Connecting(String),
    /// The main channel is linked and INIT arrived.
    Connected {
        /// The server's session id.
        session_id: u32,
    },
    /// The VM's name.
    ServerName(String),
    /// The VM's UUID, formatted.
    ServerUuid(String),
    /// The server offers a channel (initial list or hot-plug).
    ChannelOffered(ChannelId),
    /// An offered channel that ryll does not handle (listed, not linked).
    ChannelNotHandled(ChannelId),
    /// A channel is linked.
    ChannelLinked(ChannelId),
    /// A channel could not be linked.
    ChannelFailed {
        /// The channel.
        channel: ChannelId,
        /// Why, as one line.
        error: String,
    },
    /// A linked channel closed.
    ChannelClosed {
        /// The channel.
        channel: ChannelId,
        /// Why, as one line.
        reason: String,
    },
    /// The initial channel list has no WebDAV channel.
    NoWebdavChannel,
    /// A server notice.
    Notice {
        /// Severity.
        severity: Severity,
        /// Text.
        message: String,
    },
    /// Sharing started (the folder is served to the guest once the port is open).
    SharingStarted {
        /// Canonical absolute path.
        root: PathBuf,
        /// Read-only share.
        read_only: bool,
    },
    /// Sharing stopped.
    SharingStopped,
    /// The share could not be started.
    ShareError(String),
    /// A WebDAV channel event.
    Webdav(WebdavEvent),
    /// Sharing activity changed (sent at most once per [`ACTIVITY_INTERVAL`], only when something changed).
    ShareActivity(ShareActivity),
    /// The session is over. Always the last event.
    Ended(SessionEnd),
}

/// A snapshot of folder-sharing activity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShareActivity {
    /// Payload bytes sent to the guest since the channel was linked.
    pub bytes_to_guest: u64,
    /// Payload bytes received from the guest since the channel was linked.
    pub bytes_from_guest: u64,
    /// Guest connections open now.
    pub open_connections: usize,
    /// Requests answered by the current share.
    pub requests_served: u64,
    /// Requests being served now.
    pub requests_in_flight: usize,
    /// When the current share last saw a request (ms since the Unix epoch; 0 if never).
    pub last_request_unix_ms: u64,
}

/// How often [`SessionEvent::ShareActivity`] may be sent.
pub const ACTIVITY_INTERVAL: Duration = Duration::from_secs(1);

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The front end asked to disconnect.
    UserRequested,
    /// The server sent DISCONNECTING with this reason, then closed.
    ServerDisconnected(LinkError),
    /// The server closed the main channel without saying why.
    ServerClosed,
    /// Connecting, linking or the main channel failed; one line naming the cause and the next step.
    Failed(String),
}

impl SessionEnd {
    /// Whether this end is a success for a process exit code.
    pub fn is_clean(&self) -> bool {
        matches!(self, SessionEnd::UserRequested)
    }
}

impl std::fmt::Display for SessionEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionEnd::UserRequested => f.write_str("disconnected"),
            SessionEnd::ServerDisconnected(r) => write!(f, "the server ended the session ({r})"),
            SessionEnd::ServerClosed => f.write_str(
                "the server closed the connection (the VM may have shut down, or another client took over the session)",
            ),
            SessionEnd::Failed(e) => f.write_str(e),
        }
    }
}

/// What the front end can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCommand {
    /// Share a folder (replacing any current share).
    StartSharing(ShareConfig),
    /// Stop sharing: guest connections are reset and new requests get 503.
    StopSharing,
    /// End the session.
    Disconnect,
}

/// Live state the front end may read at any time.
#[derive(Debug, Default)]
pub struct SessionShared {
    /// Byte counters of each linked channel.
    pub channels: Mutex<Vec<(ChannelId, Arc<ByteCounters>)>>,
    /// WebDAV channel counters.
    pub webdav: Arc<WebdavStats>,
    /// The active share, if any.
    pub share: ShareSlot,
}

impl SessionShared {
    /// Total bytes (in, out) over all channels.
    pub fn total_bytes(&self) -> (u64, u64) {
        let list = self.channels.lock().map(|l| l.clone()).unwrap_or_default();
        list.iter().map(|(_, c)| c.get()).fold((0, 0), |(a, b), (i, o)| (a + i, b + o))
    }

    /// The active share, if any.
    pub fn current_share(&self) -> Option<ShareServer> {
        self.share.read().ok().and_then(|s| s.clone())
    }

    /// Current sharing activity.
    pub fn share_activity(&self) -> ShareActivity {
        use std::sync::atomic::Ordering::Relaxed;
        let share = self.current_share().map(|s| s.stats().snapshot()).unwrap_or_default();
        ShareActivity {
            bytes_to_guest: self.webdav.bytes_to_guest.load(Relaxed),
            bytes_from_guest: self.webdav.bytes_from_guest.load(Relaxed),
            open_connections: self.webdav.open_clients.load(Relaxed),
            requests_served: share.requests_served,
            requests_in_flight: share.in_flight,
            last_request_unix_ms: share.last_request_unix_ms,
        }
    }
}

/// The front end's end of a running session.
pub struct SessionHandle {
    /// Events, ending with [`SessionEvent::Ended`].
    pub events: mpsc::Receiver<SessionEvent>,
    /// Commands to the session.
    pub commands: mpsc::Sender<SessionCommand>,
    /// Live counters.
    pub shared: Arc<SessionShared>,
    task: JoinHandle<()>,
}

impl SessionHandle {
    /// Asks the session to end; events continue until [`SessionEvent::Ended`].
    pub async fn disconnect(&self) {
        let _ = self.commands.send(SessionCommand::Disconnect).await;
    }

    /// Waits for the session task to finish.
    pub async fn join(self) {
        let _ = self.task.await;
    }
}

/// Capacity of the event queue to the front end.
const EVENT_QUEUE: usize = 1024;
/// Delay before relinking the WebDAV channel after stopping a share (spice-webdavd restarts after ~1 s).
const RELINK_DELAY: Duration = Duration::from_millis(200);

/// Starts a session on the current tokio runtime.
pub fn start(config: SessionConfig) -> SessionHandle {
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let (commands, commands_rx) = mpsc::channel(64);
    let shared = Arc::new(SessionShared::default());
    let task = tokio::spawn(run(config, events_tx, commands_rx, shared.clone()));
    SessionHandle { events, commands, shared, task }
}

async fn run(
    config: SessionConfig,
    events: mpsc::Sender<SessionEvent>,
    commands: mpsc::Receiver<SessionCommand>,
    shared: Arc<SessionShared>,
) {
    let mut core = Core::new(config, events.clone(), shared);
    let end = core.run(commands).await;
    core.stop_webdav();
    let _ = events.send(SessionEvent::Ended(end)).await;
}

/// A linked channel's halves, ready to run.
struct LinkedChannel {
    reader: MessageReader<tokio::io::ReadHalf<BoxStream>>,
    writer: crate::channels::io::WriterHandle,
    info: LinkInfo,
}

/// Where a channel connects: the plain address and the transport (TLS port, policy, proxy).
#[derive(Debug, Clone)]
struct Route {
    addr: String,
    transport: Transport,
}

/// Connects and links one channel: over TLS when the policy requires it or no plain port is known, otherwise over
/// plain TCP, retrying over TLS when the server answers NEED_SECURED (or refuses the plain port) and a TLS port is
/// known, as spice-gtk does.
async fn open_channel(
    route: &Route,
    capture: Option<&CaptureSet>,
    mut req: LinkRequest,
    max_message: u32,
    data_queue: usize,
    counters: Arc<ByteCounters>,
) -> Result<LinkedChannel, LinkFailure> {
    let channel = req.channel.channel_type;
    let proxy = route.transport.proxy.as_ref();
    let tls = route.transport.tls.as_ref();
    match split_addr(&route.addr) {
        Some((host, port)) if !route.transport.secure_channels.requires(channel) => {
            req.addr = route.addr.clone();
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
    dialed: crate::connect::dial::Dialed,
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

struct Core {
    config: SessionConfig,
    events: mpsc::Sender<SessionEvent>,
    shared: Arc<SessionShared>,
    capture: Option<CaptureSet>,
    session_id: Option<u32>,
    offered: BTreeSet<ChannelId>,
    seen_first_list: bool,
    webdav_channel: Option<ChannelId>,
    webdav_task: Option<JoinHandle<Result<WebdavEnd, LinkFailure>>>,
    webdav_events: (mpsc::Sender<WebdavEvent>, mpsc::Receiver<WebdavEvent>),
}

impl Core {
    fn new(config: SessionConfig, events: mpsc::Sender<SessionEvent>, shared: Arc<SessionShared>) -> Self {
        Core {
            config,
            events,
            shared,
            capture: None,
            session_id: None,
            offered: BTreeSet::new(),
            seen_first_list: false,
            webdav_channel: None,
            webdav_task: None,
            webdav_events: mpsc::channel(EVENT_QUEUE),
        }
    }

    async fn emit(&self, ev: SessionEvent) {
        let _ = self.events.send(ev).await;
    }

    async fn run(&mut self, mut commands: mpsc::Receiver<SessionCommand>) -> SessionEnd {
        if let Some(dir) = &self.config.capture_dir {
            match CaptureSet::new(dir.clone()) {
                Ok(set) => self.capture = Some(set),
                Err(e) => return SessionEnd::Failed(format!("cannot create capture directory {}: {e}", dir.display())),
            }
        }
        if let Some(share) = self.config.share.clone() {
            if let Err(e) = self.set_share(Some(share)).await {
                return SessionEnd::Failed(e);
            }
        }
        let route = self.route();
        self.emit(SessionEvent::Connecting(route.transport.describe(&route.addr))).await;
        let main_id = ChannelId { channel_type: ChannelType::Main, id: 0 };
        let counters = self.register_counters(main_id);
        let req = self.link_request(0, main_id, main_caps());
        let main = match open_channel(&route, self.capture.as_ref(), req, MAX_MAIN_MESSAGE, 16, counters).await {
            Ok(m) => m,
            Err(e) => return SessionEnd::Failed(e.to_string()),
        };
        let (main_tx, mut main_rx) = mpsc::channel(256);
        let _main_task = AbortGuard(tokio::spawn(run_main(main.reader, main.writer, main_tx)));
        let mut ticker = tokio::time::interval(ACTIVITY_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_activity = ShareActivity::default();

        loop {
            let webdav_done = async {
                match self.webdav_task.as_mut() {
                    Some(t) => t.await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = main_rx.recv() => match ev {
                    None => return SessionEnd::ServerClosed,
                    Some(MainEvent::Closed { reason, error }) => {
                        return match (reason, error) {
                            (Some(r), _) => SessionEnd::ServerDisconnected(r),
                            (None, Some(e)) => SessionEnd::Failed(format!("main channel failed: {e}")),
                            (None, None) => SessionEnd::ServerClosed,
                        };
                    }
                    Some(ev) => self.on_main(ev).await,
                },
                cmd = commands.recv() => match cmd {
                    None | Some(SessionCommand::Disconnect) => return SessionEnd::UserRequested,
                    Some(SessionCommand::StartSharing(cfg)) => {
                        if let Err(e) = self.set_share(Some(cfg)).await {
                            self.emit(SessionEvent::ShareError(e)).await;
                        }
                    }
                    Some(SessionCommand::StopSharing) => {
                        let _ = self.set_share(None).await;
                    }
                },
                Some(ev) = self.webdav_events.1.recv() => self.emit(SessionEvent::Webdav(ev)).await,
                _ = ticker.tick() => {
                    let now = self.shared.share_activity();
                    if now != last_activity {
                        last_activity = now;
                        self.emit(SessionEvent::ShareActivity(now)).await;
                    }
                }
                done = webdav_done => {
                    self.webdav_task = None;
                    self.on_webdav_end(done).await;
                }
            }
        }
    }

    fn register_counters(&self, id: ChannelId) -> Arc<ByteCounters> {
        let counters = Arc::new(ByteCounters::default());
        if let Ok(mut list) = self.shared.channels.lock() {
            list.retain(|(c, _)| *c != id);
            list.push((id, counters.clone()));
        }
        counters
    }

    fn route(&self) -> Route {
        Route { addr: self.config.addr.clone(), transport: self.config.transport.clone() }
    }

    fn link_request(&self, connection_id: u32, channel: ChannelId, caps: crate::protocol::caps::Caps) -> LinkRequest {
        LinkRequest {
            connection_id,
            channel,
            channel_caps: caps,
            password: self.config.password.clone(),
            addr: self.config.addr.clone(),
        }
    }

    async fn on_main(&mut self, ev: MainEvent) {
        match ev {
            MainEvent::Init(init) => {
                self.session_id = Some(init.session_id);
                self.emit(SessionEvent::Connected { session_id: init.session_id }).await;
            }
            MainEvent::Name(name) => self.emit(SessionEvent::ServerName(name)).await,
            MainEvent::Uuid(u) => self.emit(SessionEvent::ServerUuid(format_uuid(&u))).await,
            MainEvent::Notice(n) => {
                self.emit(SessionEvent::Notice { severity: n.severity, message: n.message }).await;
            }
            MainEvent::ChannelsList(list) => {
                for ch in list {
                    if !self.offered.insert(ch) {
                        continue;
                    }
                    self.emit(SessionEvent::ChannelOffered(ch)).await;
                    if ch.channel_type == ChannelType::Webdav && self.webdav_channel.is_none() {
                        self.webdav_channel = Some(ch);
                        self.start_webdav(Duration::ZERO);
                    } else {
                        self.emit(SessionEvent::ChannelNotHandled(ch)).await;
                    }
                }
                if !self.seen_first_list {
                    self.seen_first_list = true;
                    if self.webdav_channel.is_none() {
                        self.emit(SessionEvent::NoWebdavChannel).await;
                    }
                }
            }
            MainEvent::Closed { .. } => {}
        }
    }

    fn start_webdav(&mut self, delay: Duration) {
        let (Some(channel), Some(session_id)) = (self.webdav_channel, self.session_id) else { return };
        let lz4 = self.config.webdav.lz4;
        let req = self.link_request(session_id, channel, vmc_caps(lz4));
        let counters = self.register_counters(channel);
        let route = self.route();
        let capture = self.capture.clone();
        let share = self.shared.share.clone();
        let config = self.config.webdav.clone();
        let stats = self.shared.webdav.clone();
        let wd_events = self.webdav_events.0.clone();
        let events = self.events.clone();
        self.webdav_task = Some(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let linked = open_channel(&route, capture.as_ref(), req, MAX_WEBDAV_MESSAGE, DATA_QUEUE, counters).await?;
            let compress = lz4 && linked.info.server_channel.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4);
            let _ = events.send(SessionEvent::ChannelLinked(channel)).await;
            let ctx = WebdavContext { compress, share, config, stats, events: wd_events };
            Ok(run_webdav(linked.reader, linked.writer, ctx).await)
        }));
    }

    fn stop_webdav(&mut self) {
        if let Some(t) = self.webdav_task.take() {
            t.abort();
        }
    }

    async fn on_webdav_end(&mut self, done: Result<Result<WebdavEnd, LinkFailure>, tokio::task::JoinError>) {
        let Some(channel) = self.webdav_channel else { return };
        match done {
            Ok(Ok(WebdavEnd::Closed(reason))) => {
                let reason = reason.map_or("closed by the server".to_string(), |r| format!("server said {r}"));
                self.emit(SessionEvent::ChannelClosed { channel, reason }).await;
            }
            Ok(Ok(WebdavEnd::Failed(e))) => self.emit(SessionEvent::ChannelClosed { channel, reason: e }).await,
            Ok(Err(e)) => self.emit(SessionEvent::ChannelFailed { channel, error: e.to_string() }).await,
            Err(e) if e.is_cancelled() => {}
            Err(e) => self.emit(SessionEvent::ChannelFailed { channel, error: e.to_string() }).await,
        }
    }

    /// Installs or removes the share. Changing or stopping an active share relinks the WebDAV channel, which is
    /// the only way to make the guest's spice-webdavd drop its connections (it ignores our close frames).
    async fn set_share(&mut self, cfg: Option<ShareConfig>) -> Result<(), String> {
        let server = match cfg {
            Some(cfg) => Some(ShareServer::new(cfg).map_err(|e| e.to_string())?),
            None => None,
        };
        let had_share = self.shared.current_share().is_some();
        let event = match &server {
            Some(s) => SessionEvent::SharingStarted { root: s.root().to_path_buf(), read_only: s.read_only() },
            None => SessionEvent::SharingStopped,
        };
        if server.is_none() && !had_share {
            return Ok(());
        }
        if let Ok(mut slot) = self.shared.share.write() {
            *slot = server;
        }
        self.emit(event).await;
        if had_share && self.webdav_task.is_some() {
            self.stop_webdav();
            self.start_webdav(RELINK_DELAY);
        }
        Ok(())
    }
}

struct AbortGuard<T>(JoinHandle<T>);

impl<T> Drop for AbortGuard<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn format_uuid(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

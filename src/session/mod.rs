//! The session core: one SPICE session (main channel plus the channels ryll handles), driven by a front end.
//!
//! The front end (the headless runner now, the GUI later) calls [`start`], then reads [`SessionEvent`]s and sends
//! [`SessionCommand`]s through the returned [`SessionHandle`]. Live counters are in [`SessionShared`], which the
//! front end may read at any time without going through the event queue. No front end contains protocol logic.

pub mod by_channel;
pub mod cursor;
pub mod display;
pub mod inputs;
pub mod remember;
mod sharing;
mod table;
pub mod traffic;
pub mod usb;

pub use table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};

use crate::capture::CaptureSet;
use crate::channels::driver::AbortOnDrop;
use crate::channels::driver::ChannelEnd;
use crate::channels::io::ByteCounters;
use crate::channels::link::LinkFailure;
use crate::channels::main_channel::{main_caps, run_main, MainEvent, MAX_MAIN_MESSAGE};
use crate::channels::webdav::{ShareSlot, WebdavConfig, WebdavEvent, WebdavStats};
use crate::connect::dial::Transport;
use crate::connect::password::Password;
use crate::protocol::base::Severity;
use crate::protocol::constants::{ChannelType, LinkError};
use crate::protocol::main_channel::ChannelId;
use crate::remember::{format_uuid, VmKey};
use crate::webdav::named::{NamedShare, ShareInfo};
use crate::webdav::server::{ShareConfig, ShareServer};
use crate::webdav::windows::{NamesUpdate, SizeLimitHit, WindowsHints};
use remember::{RememberConfig, RememberEvent, Remembering};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use table::{open_channel, relink_delay, ChannelTable, Ended, Endpoint, LinkEnv, RAN_WELL};
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
    /// Named shares to serve as soon as the WebDAV channel is up (`--share NAME=PATH`; not with `share`).
    pub shares: Vec<NamedShare>,
    /// WebDAV channel settings.
    pub webdav: WebdavConfig,
    /// Display channel settings (off by default: only the window and `--screenshot` link display channels).
    pub display: display::DisplayConfig,
    /// Link the inputs and cursor channels (the window and the `--type`/`--send-keys`/`--click` hooks do).
    pub inputs: bool,
    /// Remembered shares: the file and what to do with this VM's entry (`None`: neither read nor written).
    pub remember: Option<RememberConfig>,
    /// Disk images to attach as USB sticks, one per usbredir channel (`--usb-disk`).
    pub usb: Vec<crate::channels::usbredir::UsbDisk>,
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
    /// A channel failed and is linked again after `delay` (attempt `attempt` since it last ran well).
    ChannelRelinking {
        /// The channel.
        channel: ChannelId,
        /// When the next link starts.
        delay: Duration,
        /// 1 for the first relink after the channel ran well.
        attempt: u32,
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
    /// `--usb-disk` gave disks, and the server's channel list has no usbredir channel.
    NoUsbredirChannel,
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
    /// The named shares changed (one was added, removed or made read-only or writable): the list now served, in
    /// order; empty when named sharing stopped.
    SharesChanged(Vec<ShareInfo>),
    /// The share could not be started.
    ShareError(String),
    /// A WebDAV channel event.
    Webdav(WebdavEvent),
    /// Remembered shares: the VM's identity, a share started again or skipped, saved or forgotten.
    Remember(RememberEvent),
    /// The server's mouse mode changed (MAIN_INIT or MOUSE_MODE; ryll asks for client mode whenever it is offered).
    MouseMode {
        /// The modes the server supports (a mask: 1 server, 2 client).
        supported: u16,
        /// The mode in force.
        current: u16,
    },
    /// A display channel event (state changes only: frames go through [`SessionShared::display`]).
    Display(DisplayEvent),
    /// A Windows guest's transfer stopped at its WebDAV client's file size limit: show the registry fix
    /// ([`SIZE_LIMIT_FIX`](crate::webdav::windows::SIZE_LIMIT_FIX)). Sent at most once per session.
    WindowsSizeLimit(SizeLimitHit),
    /// A Windows guest listed folders holding names Windows cannot represent: the new ones (at most
    /// [`MAX_NAMES`](crate::webdav::windows::MAX_NAMES) in a session) and a count of the rest.
    WindowsNames(NamesUpdate),
    /// Sharing activity changed (sent at most once per [`ACTIVITY_INTERVAL`], only when something changed).
    ShareActivity(ShareActivity),
    /// The session is over. Always the last event.
    Ended(SessionEnd),
}

/// What a display channel reports through the event queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisplayEvent {
    /// The channel has a new primary surface (the guest's resolution).
    Surface {
        /// The display channel.
        channel: ChannelId,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The server's first complete image of the surface has arrived (MARK).
    FirstFrame {
        /// The display channel.
        channel: ChannelId,
    },
    /// The server's first channel list has no display channel (display channels were asked for).
    NoChannel,
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
    /// LZ4 was offered to the server at the last link (it compresses what the guest sends).
    pub lz4_offered: bool,
    /// ryll may compress what it sends (the server can decompress and the mode allows it).
    pub lz4_sending: bool,
    /// Bytes LZ4 saved on the wire, both directions.
    pub compression_saved: u64,
}

impl ShareActivity {
    /// One line for the user: whether compression is on and the bytes it saved.
    pub fn compression(&self) -> String {
        crate::channels::compression::label(self.lz4_offered, self.lz4_sending, self.compression_saved)
    }
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
    /// Add a named share (`/NAME/` of the guest's root), keeping the other named shares and their connections.
    /// Refused (a [`SessionEvent::ShareError`]) while a folder is shared at the root.
    AddShare(NamedShare),
    /// Remove the named share of that name; the others stay.
    RemoveShare(String),
    /// Make the named share `name` read-only or writable; the others stay.
    SetShareReadOnly {
        /// The share's name.
        name: String,
        /// Refuse every change from now on.
        read_only: bool,
    },
    /// "Remember for this VM": save what is shared now for this VM (true) or forget it (false).
    Remember(bool),
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
    /// The primary surface of display channel 0 and the front end's repaint hook.
    pub display: Arc<display::DisplayShared>,
    /// Every display channel's surface (one per monitor), channel 0's included.
    pub displays: Arc<display::Displays>,
    /// The inputs channel's queue and the input state (mouse mode, lock LEDs).
    pub inputs: Arc<inputs::InputsShared>,
    /// The guest pointer of display channel 0 (cursor channel 0).
    pub cursor: Arc<cursor::CursorShared>,
    /// Every cursor channel's pointer (one per monitor), channel 0's included.
    pub cursors: Arc<cursor::Cursors>,
    /// The multimedia clock video frames are stamped against (set by the main channel).
    pub mm_clock: Arc<display::MmClock>,
    /// What Windows guests tripped over, for every share of the session.
    pub windows: Arc<WindowsHints>,
    /// The USB disks of the usbredir channels.
    pub usb: Arc<usb::UsbShared>,
}

impl SessionShared {
    /// The guest pointer of monitor `display` (its cursor channel's), or none while that channel is not linked.
    pub fn cursor_view(&self, display: u8) -> cursor::CursorView {
        match display {
            0 => self.cursor.view(),
            id => self.cursors.get(id).map(|c| c.view()).unwrap_or_default(),
        }
    }

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
            lz4_offered: self.webdav.compression.offered.load(Relaxed),
            lz4_sending: self.webdav.compression.can_send.load(Relaxed),
            compression_saved: self.webdav.compression.saved(),
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

/// The channel types ryll handles, besides main: one line per type.
fn channel_kinds(config: &SessionConfig, shared: &SessionShared) -> Vec<Arc<dyn ChannelKind>> {
    let mut kinds: Vec<Arc<dyn ChannelKind>> = vec![Arc::new(sharing::WebdavKind::new(config.webdav.clone(), shared))];
    if config.display.enabled {
        kinds.push(Arc::new(display::DisplayKind::new(
            config.display,
            shared.display.clone(),
            shared.displays.clone(),
            shared.mm_clock.clone(),
        )));
    }
    if config.inputs {
        kinds.push(Arc::new(inputs::InputsKind::new(shared.inputs.clone())));
        kinds.push(Arc::new(cursor::CursorChannelKind::new(shared.cursor.clone(), shared.cursors.clone())));
    }
    let mode = config.webdav.compression;
    kinds.push(Arc::new(usb::UsbKind::new(config.usb.clone(), shared.usb.clone(), shared.webdav.clone(), mode)));
    kinds
}

/// Starts a session on the current tokio runtime.
pub fn start(config: SessionConfig) -> SessionHandle {
    start_with(config, Vec::new())
}

/// Starts a session that also handles the channel types in `extra` (a kind for a type ryll handles itself takes
/// precedence). For tests and tools that bring a channel of their own.
pub fn start_with(config: SessionConfig, extra: Vec<Arc<dyn ChannelKind>>) -> SessionHandle {
    let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
    let (commands, commands_rx) = mpsc::channel(64);
    let shared = Arc::new(SessionShared::default());
    let mut kinds = channel_kinds(&config, &shared);
    kinds.extend(extra);
    let task = tokio::spawn(run(config, kinds, events_tx, commands_rx, shared.clone()));
    SessionHandle { events, commands, shared, task }
}

async fn run(
    config: SessionConfig,
    kinds: Vec<Arc<dyn ChannelKind>>,
    events: mpsc::Sender<SessionEvent>,
    commands: mpsc::Receiver<SessionCommand>,
    shared: Arc<SessionShared>,
) {
    let mut core = Core::new(config, kinds, events.clone(), shared);
    let end = core.run(commands).await;
    core.table.stop_all();
    let _ = events.send(SessionEvent::Ended(end)).await;
}

struct Core {
    config: SessionConfig,
    events: mpsc::Sender<SessionEvent>,
    shared: Arc<SessionShared>,
    table: ChannelTable,
    env: Option<LinkEnv>,
    session_id: Option<u32>,
    offered: BTreeSet<ChannelId>,
    seen_first_list: bool,
    /// The VM's name and UUID from MAIN_NAME and MAIN_UUID, for the remembered shares' key.
    vm: (Option<String>, Option<[u8; 16]>),
    remembering: Remembering,
    /// Failures in a row of each channel, for the relink backoff.
    failures: BTreeMap<ChannelId, u32>,
}

impl Core {
    fn new(
        config: SessionConfig,
        kinds: Vec<Arc<dyn ChannelKind>>,
        events: mpsc::Sender<SessionEvent>,
        shared: Arc<SessionShared>,
    ) -> Self {
        let remembering = Remembering::new(config.remember.clone());
        Core {
            config,
            events,
            shared,
            table: ChannelTable::new(kinds),
            env: None,
            session_id: None,
            offered: BTreeSet::new(),
            seen_first_list: false,
            vm: (None, None),
            remembering,
            failures: BTreeMap::new(),
        }
    }

    async fn emit(&self, ev: SessionEvent) {
        let _ = self.events.send(ev).await;
    }

    async fn run(&mut self, mut commands: mpsc::Receiver<SessionCommand>) -> SessionEnd {
        let mut capture = None;
        if let Some(dir) = &self.config.capture_dir {
            match CaptureSet::new(dir.clone()) {
                Ok(set) => capture = Some(set),
                Err(e) => return SessionEnd::Failed(format!("cannot create capture directory {}: {e}", dir.display())),
            }
        }
        if let Some(share) = self.config.share.clone() {
            if let Err(e) = sharing::set_share(&self.shared, &self.events, Some(share)).await {
                return SessionEnd::Failed(e);
            }
        }
        if !self.config.shares.is_empty() {
            let shares = self.config.shares.clone();
            if let Err(e) = sharing::start_named(&self.shared, &self.events, shares).await {
                return SessionEnd::Failed(e);
            }
        }
        let endpoint = Endpoint { addr: self.config.addr.clone(), transport: self.config.transport.clone() };
        let env = LinkEnv {
            endpoint: endpoint.clone(),
            capture,
            password: self.config.password.clone(),
            events: self.events.clone(),
            shared: self.shared.clone(),
        };
        self.env = Some(env.clone());
        self.emit(SessionEvent::Connecting(endpoint.transport.describe(&endpoint.addr))).await;
        let main_id = ChannelId { channel_type: ChannelType::Main, id: 0 };
        let counters = env.register_counters(main_id);
        let req = env.request(0, main_id, main_caps());
        let main = match open_channel(&endpoint, env.capture.as_ref(), req, MAX_MAIN_MESSAGE, 16, counters).await {
            Ok(m) => m,
            Err(e) => return SessionEnd::Failed(e.to_string()),
        };
        let (main_tx, mut main_rx) = mpsc::channel(256);
        let _main_task = AbortOnDrop(tokio::spawn(run_main(main.reader, main.writer, main_tx)));
        let mut ticker = tokio::time::interval(ACTIVITY_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_activity = ShareActivity::default();

        loop {
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
                    Some(SessionCommand::StartSharing(cfg)) => self.share(Some(cfg)).await,
                    Some(SessionCommand::StopSharing) => self.share(None).await,
                    Some(SessionCommand::AddShare(share)) => self.change(sharing::Change::Add(share)).await,
                    Some(SessionCommand::RemoveShare(name)) => self.change(sharing::Change::Remove(name)).await,
                    Some(SessionCommand::SetShareReadOnly { name, read_only }) => {
                        self.change(sharing::Change::ReadOnly(name, read_only)).await;
                    }
                    Some(SessionCommand::Remember(on)) => {
                        let current = remember::remembered_from(self.shared.current_share().as_ref());
                        self.remembering.set(on, current, &self.events).await;
                    }
                },
                ended = self.table.next_end() => self.on_channel_end(ended).await,
                _ = ticker.tick() => {
                    if let Some(ev) = sharing::activity_update(&self.shared, &mut last_activity) {
                        self.emit(ev).await;
                    }
                    for ev in sharing::windows_updates(&self.shared) {
                        self.emit(ev).await;
                    }
                }
            }
        }
    }

    async fn on_main(&mut self, ev: MainEvent) {
        match ev {
            MainEvent::Init(init) => {
                self.session_id = Some(init.session_id);
                self.shared.mm_clock.set(init.multi_media_time, std::time::Instant::now());
                self.emit(SessionEvent::Connected { session_id: init.session_id }).await;
                let (supported, current) = (init.supported_mouse_modes as u16, init.current_mouse_mode as u16);
                self.on_mouse_mode(supported, current).await;
            }
            MainEvent::MouseMode { supported, current } => self.on_mouse_mode(supported, current).await,
            MainEvent::MmTime(mm) => self.shared.mm_clock.set(mm, std::time::Instant::now()),
            MainEvent::Name(name) => {
                self.vm.0 = Some(name.clone());
                self.emit(SessionEvent::ServerName(name)).await
            }
            MainEvent::Uuid(u) => {
                self.vm.1 = Some(u);
                self.emit(SessionEvent::ServerUuid(format_uuid(&u))).await
            }
            MainEvent::Notice(n) => {
                self.emit(SessionEvent::Notice { severity: n.severity, message: n.message }).await;
            }
            MainEvent::ChannelsList(list) => self.on_channels_list(list).await,
            MainEvent::LinkEstimate(rate) => {
                tracing::info!("link rate from the server's net test: {:.1} Mbit/s", rate * 8.0 / 1e6);
                self.shared.webdav.compression.link_estimate.store(rate as u64, std::sync::atomic::Ordering::Relaxed);
            }
            MainEvent::Closed { .. } => {}
        }
    }

    async fn on_mouse_mode(&mut self, supported: u16, current: u16) {
        self.shared.inputs.update(|s| {
            s.supported_mouse_modes = supported;
            s.mouse_mode = current;
        });
        self.emit(SessionEvent::MouseMode { supported, current }).await;
    }

    /// The initial channel list or a hot-plugged one: every new channel whose type has a kind is linked.
    async fn on_channels_list(&mut self, list: Vec<ChannelId>) {
        if !self.seen_first_list {
            self.identified().await;
        }
        for ch in list {
            if !self.offered.insert(ch) {
                continue;
            }
            self.emit(SessionEvent::ChannelOffered(ch)).await;
            match (self.table.kind_for(ch), &self.env, self.session_id) {
                (Some(kind), Some(env), Some(session_id)) if !self.table.contains(ch) => {
                    self.table.start(ch, kind, env, session_id, Duration::ZERO)
                }
                _ => self.emit(SessionEvent::ChannelNotHandled(ch)).await,
            }
        }
        if !self.seen_first_list {
            self.seen_first_list = true;
            let missing: Vec<SessionEvent> = self
                .table
                .kinds()
                .iter()
                .filter(|k| !self.offered.iter().any(|c| c.channel_type == k.channel_type()))
                .filter_map(|k| k.missing_event())
                .collect();
            for ev in missing {
                self.emit(ev).await;
            }
        }
    }

    /// Reports a channel's end. A channel that failed after linking (a read or protocol error: an oversized or
    /// malformed message, bad compressed data) is linked again with a backoff, so one bad message cannot end what
    /// the channel does (folder sharing) for the rest of the session.
    async fn on_channel_end(&mut self, ended: Ended) {
        let Ended { id: channel, kind, end, ran } = ended;
        let failed = matches!(end, Ok(ChannelEnd::Failed(_)));
        match end {
            Ok(end) => self.emit(SessionEvent::ChannelClosed { channel, reason: end.describe() }).await,
            Err(e) => self.emit(SessionEvent::ChannelFailed { channel, error: later_link_failure(&e) }).await,
        }
        let (Some(env), Some(session_id)) = (&self.env, self.session_id) else { return };
        if !failed || !self.offered.contains(&channel) {
            return;
        }
        let failures = self.failures.entry(channel).or_insert(0);
        if ran >= RAN_WELL {
            *failures = 0;
        }
        *failures = failures.saturating_add(1);
        let (attempt, delay) = (*failures, relink_delay(*failures));
        self.table.start(channel, kind, env, session_id, delay);
        self.emit(SessionEvent::ChannelRelinking { channel, delay, attempt }).await;
    }

    /// Starts, replaces or stops the share. The WebDAV channel stays linked: the old share's connections end at
    /// their next request boundary (see [`sharing::set_share`]). A new share is remembered when the box is on.
    async fn share(&mut self, cfg: Option<ShareConfig>) {
        let starting = cfg.is_some();
        match sharing::set_share(&self.shared, &self.events, cfg).await {
            Err(e) if starting => self.emit(SessionEvent::ShareError(e)).await,
            Err(_) => {}
            Ok(_) => self.remembered_changed().await,
        }
    }

    /// The VM is known (its name and UUID came before the first channel list): starts its remembered share, if
    /// any, before the WebDAV channel links.
    async fn identified(&mut self) {
        let tls = self.config.transport.tls.as_ref();
        let host = match (self.config.addr.as_str(), tls) {
            ("", Some(t)) => crate::connect::addr::format_addr(&t.host, t.port),
            (addr, _) => addr.to_string(),
        };
        let key = VmKey::new(self.vm.1.as_ref(), self.vm.0.as_deref(), &host);
        let label = format!("{} @ {host}", self.vm.0.as_deref().unwrap_or("(no name)"));
        let given = remember::given(self.config.share.as_ref(), &self.config.shares);
        let protection = self.config.webdav.protection.clone();
        let start = self.remembering.identified(key, label, given, &protection, &self.events).await;
        if let Some(cfg) = start.root {
            if let Err(e) = sharing::set_share(&self.shared, &self.events, Some(cfg)).await {
                self.emit(SessionEvent::ShareError(e)).await;
            }
        }
        if !start.named.is_empty() {
            if let Err(e) = sharing::start_named(&self.shared, &self.events, start.named).await {
                self.emit(SessionEvent::ShareError(e)).await;
            }
        }
    }

    /// What is shared changed: saved for this VM when the "Remember" box is on.
    async fn remembered_changed(&mut self) {
        let current = remember::remembered_from(self.shared.current_share().as_ref());
        self.remembering.share_changed(current, &self.events).await
    }
}

impl Core {
    /// Adds, removes or changes one named share; the others and their connections stay (see
    /// [`sharing::change_named`]).
    async fn change(&mut self, change: sharing::Change) {
        match sharing::change_named(&self.shared, &self.events, change).await {
            Err(e) => self.emit(SessionEvent::ShareError(e)).await,
            Ok(()) => self.remembered_changed().await,
        }
    }
}

/// A channel link that failed after the main channel linked. PERMISSION_DENIED then does not mean a wrong password
/// (main linked with the same one): a proxy's one-time console token has most likely expired.
fn later_link_failure(e: &LinkFailure) -> String {
    match e {
        LinkFailure::PermissionDenied { channel } => format!(
            "the server refused the {channel} channel's link (PERMISSION_DENIED) although the main channel linked with \
             the same password: a SPICE proxy's console token has probably expired (kerbside's live one minute by \
             default and are checked on every link; see docs/kerbside.md); reconnect with a fresh .vv file"
        ),
        other => other.to_string(),
    }
}

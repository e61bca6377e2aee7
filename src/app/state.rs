//! The window's model of the session, updated from [`SessionEvent`]s.
//!
//! Pure code: no egui, no I/O, no clock of its own (every time is passed in), so the rules that decide what the
//! panels show are unit-tested here. The panels read this model; they never interpret events themselves.

use super::remembered::RememberView;
use crate::channels::webdav::WebdavEvent;
use crate::protocol::constants::ChannelType;
use crate::protocol::main_channel::ChannelId;
use crate::session::traffic::CounterRates;
use crate::session::{DisplayEvent, SessionEnd, SessionEvent, ShareActivity};
use crate::webdav::methods::is_write_method;
use crate::webdav::named::ShareInfo;
use crate::webdav::server::InFlightProgress;
use crate::webdav::windows::{NamesUpdate, SizeLimitHit, MAX_NAMES};
use crate::webdav::winnames::NameProblem;
use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Most errors kept for the user to read and dismiss; older ones are dropped.
pub const MAX_ERRORS: usize = 8;

/// Where the connection to the server stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// The session has not reported anything yet.
    Starting,
    /// Connecting to this address.
    Connecting(String),
    /// The main channel is linked.
    Connected {
        /// The server's session id.
        session_id: u32,
    },
    /// The session is over.
    Ended(SessionEnd),
}

/// What happened to one channel the server offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelStatus {
    /// Offered by the server; ryll is linking it.
    Offered,
    /// Offered, but ryll does not handle this channel type yet.
    NotHandled,
    /// Linked and running.
    Linked,
    /// Linking failed (one line).
    Failed(String),
    /// It was linked and then closed (one line).
    Closed(String),
    /// It failed and ryll links it again (why, and when).
    Relinking(String),
}

impl ChannelStatus {
    /// A short word for tables.
    pub fn label(&self) -> &'static str {
        match self {
            ChannelStatus::Offered => "linking",
            ChannelStatus::NotHandled => "not handled yet",
            ChannelStatus::Linked => "linked",
            ChannelStatus::Failed(_) => "failed",
            ChannelStatus::Closed(_) => "closed",
            ChannelStatus::Relinking(_) => "relinking",
        }
    }
}

/// Whether the guest's spice-webdavd has the WebDAV port open, as far as we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestPort {
    /// No PORT_INIT yet on the current link.
    Unknown,
    /// The guest has the port open: spice-webdavd runs.
    Open,
    /// The guest has the port closed: spice-webdavd is not running (or restarting).
    Closed,
}

/// The share being served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveShare {
    /// Canonical absolute path.
    pub root: PathBuf,
    /// Read-only share.
    pub read_only: bool,
    /// When sharing started.
    pub since: Instant,
}

/// The Folders panel's status, in layers: each one names what is missing and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShareLayer {
    /// Not connected yet (or no channel list yet).
    Connecting,
    /// The session is over.
    Disconnected,
    /// The server offers no WebDAV channel: the VM needs the port.
    NoWebdavPort,
    /// The WebDAV channel is offered and being linked.
    Linking,
    /// The WebDAV channel failed or closed (the reason).
    ChannelDown(String),
    /// The channel is linked but the guest's spice-webdavd has not opened the port.
    WaitingForGuest,
    /// The guest is ready and no folder is shared.
    Ready,
    /// A folder is shared and the guest can use it.
    Sharing,
}

/// One error for the user, with an id so the UI can dismiss exactly this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiError {
    /// Unique within the session.
    pub id: u64,
    /// One line naming the cause and the next step.
    pub text: String,
}

/// The session as the window sees it.
#[derive(Debug, Clone)]
pub struct SessionState {
    /// Connection state.
    pub connection: Connection,
    /// The address connected to (from `Connecting`).
    pub server: Option<String>,
    /// A title from the connection source (a `.vv` file), if any.
    pub title: Option<String>,
    /// The VM's name.
    pub vm_name: Option<String>,
    /// The VM's UUID.
    pub vm_uuid: Option<String>,
    /// Every channel the server offered, in type/id order.
    pub channels: BTreeMap<ChannelId, ChannelStatus>,
    /// Whether the server's first channel list arrived.
    pub channel_list_seen: bool,
    /// The WebDAV channel, once offered.
    pub webdav_channel: Option<ChannelId>,
    /// The guest side of the WebDAV port.
    pub guest_port: GuestPort,
    /// The share at the root, while one is active.
    pub share: Option<ActiveShare>,
    /// The named shares served now, in order (empty when none).
    pub shares: Vec<ShareInfo>,
    /// The last activity snapshot from the session.
    pub activity: ShareActivity,
    /// The guest's screen size (display channel 0's primary surface), once known.
    pub guest_resolution: Option<(u32, u32)>,
    /// The server's mouse mode (1 server, 2 client; 0 before the server said).
    pub mouse_mode: u16,
    /// Errors not dismissed yet, oldest first.
    pub errors: Vec<UiError>,
    /// Server notices (newest last, at most [`MAX_ERRORS`]).
    pub notices: VecDeque<String>,
    /// Why the WebDAV channel keeps closing at once, when ryll knows (until a PORT_INIT arrives).
    pub webdav_diagnosis: Option<String>,
    /// Remembered shares: the "Remember for this VM" box and the notices at connect.
    pub remember: RememberView,
    /// What a Windows guest tripped over.
    pub windows: WindowsNotices,
    next_error_id: u64,
}

/// The Windows hints of the session, for the Folders panel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowsNotices {
    /// The transfer that stopped at the guest's file size limit (the hint with the registry fix).
    pub size_limit: Option<SizeLimitHit>,
    /// Paths the guest cannot show, in the order found (at most [`MAX_NAMES`]).
    pub names: Vec<(String, NameProblem)>,
    /// Further such paths, counted.
    pub more: u64,
    /// `more` is a lower bound.
    pub more_at_least: bool,
}

impl WindowsNotices {
    fn add_names(&mut self, update: NamesUpdate) {
        let room = MAX_NAMES.saturating_sub(self.names.len());
        self.names.extend(update.new.into_iter().take(room));
        self.more = update.more;
        self.more_at_least = update.more_at_least;
    }
}

impl Default for SessionState {
    fn default() -> Self {
        Self::new(None)
    }
}

impl SessionState {
    /// A session that has not started yet; `title` comes from the connection source.
    pub fn new(title: Option<String>) -> Self {
        SessionState {
            connection: Connection::Starting,
            server: None,
            title,
            vm_name: None,
            vm_uuid: None,
            channels: BTreeMap::new(),
            channel_list_seen: false,
            webdav_channel: None,
            guest_port: GuestPort::Unknown,
            share: None,
            shares: Vec::new(),
            activity: ShareActivity::default(),
            guest_resolution: None,
            mouse_mode: 0,
            errors: Vec::new(),
            notices: VecDeque::new(),
            webdav_diagnosis: None,
            remember: RememberView::default(),
            windows: WindowsNotices::default(),
            next_error_id: 0,
        }
    }

    /// Updates the model from one event; `now` stamps a share start.
    pub fn apply(&mut self, ev: SessionEvent, now: Instant) {
        match ev {
            SessionEvent::Connecting(addr) => {
                self.server = Some(addr.clone());
                self.connection = Connection::Connecting(addr);
            }
            SessionEvent::Connected { session_id } => self.connection = Connection::Connected { session_id },
            SessionEvent::ServerName(name) => self.vm_name = Some(name),
            SessionEvent::ServerUuid(uuid) => self.vm_uuid = Some(uuid),
            SessionEvent::ChannelOffered(ch) => {
                self.channel_list_seen = true;
                self.channels.insert(ch, ChannelStatus::Offered);
                if ch.channel_type == ChannelType::Webdav && self.webdav_channel.is_none() {
                    self.webdav_channel = Some(ch);
                }
            }
            SessionEvent::ChannelNotHandled(ch) => {
                self.channels.insert(ch, ChannelStatus::NotHandled);
            }
            SessionEvent::ChannelLinked(ch) => {
                self.channels.insert(ch, ChannelStatus::Linked);
                if Some(ch) == self.webdav_channel {
                    // A new link (also after a relink): the server sends PORT_INIT again.
                    self.guest_port = GuestPort::Unknown;
                }
            }
            SessionEvent::ChannelFailed { channel, error } => {
                self.push_error(format!("the {} channel could not be linked: {error}", channel.channel_type));
                self.channels.insert(channel, ChannelStatus::Failed(error));
            }
            SessionEvent::ChannelClosed { channel, reason } => {
                self.channels.insert(channel, ChannelStatus::Closed(reason));
                if Some(channel) == self.webdav_channel {
                    self.guest_port = GuestPort::Unknown;
                }
            }
            SessionEvent::ChannelRelinking { channel, delay, attempt } => {
                let why = match self.channels.get(&channel) {
                    Some(ChannelStatus::Closed(r) | ChannelStatus::Failed(r)) => format!("{r}; "),
                    _ => String::new(),
                };
                let text = format!("{why}ryll links it again in {:.1} s (attempt {attempt})", delay.as_secs_f32());
                self.channels.insert(channel, ChannelStatus::Relinking(text));
            }
            SessionEvent::NoWebdavChannel => self.channel_list_seen = true,
            SessionEvent::NoUsbredirChannel => {
                if self.notices.len() == MAX_ERRORS {
                    self.notices.pop_front();
                }
                self.notices.push_back(format!("USB: {}", crate::session::usb::USBREDIR_SETUP_HINT));
            }
            SessionEvent::Notice { message, .. } => {
                if self.notices.len() == MAX_ERRORS {
                    self.notices.pop_front();
                }
                self.notices.push_back(message);
            }
            SessionEvent::SharingStarted { root, read_only } => {
                self.share = Some(ActiveShare { root, read_only, since: now });
                self.shares.clear();
            }
            SessionEvent::SharingStopped => {
                self.share = None;
                self.shares.clear();
            }
            SessionEvent::SharesChanged(list) => {
                self.share = None;
                self.shares = list;
            }
            SessionEvent::ShareError(e) => self.push_error(format!("cannot share: {e}")),
            SessionEvent::Webdav(ev) => self.apply_webdav(ev),
            SessionEvent::Remember(ev) => {
                if let Some(e) = self.remember.apply(ev) {
                    self.push_error(e);
                }
            }
            SessionEvent::Display(DisplayEvent::Surface { channel, width, height }) => {
                if channel.id == 0 {
                    self.guest_resolution = Some((width, height));
                }
            }
            SessionEvent::Display(DisplayEvent::FirstFrame { .. } | DisplayEvent::NoChannel) => {}
            SessionEvent::MouseMode { current, .. } => self.mouse_mode = current,
            SessionEvent::ShareActivity(a) => self.activity = a,
            SessionEvent::WindowsSizeLimit(hit) => self.windows.size_limit = Some(hit),
            SessionEvent::WindowsNames(update) => self.windows.add_names(update),
            SessionEvent::Ended(end) => {
                // Sharing ends with the session.
                self.guest_port = GuestPort::Unknown;
                self.share = None;
                self.shares.clear();
                self.connection = Connection::Ended(end);
            }
        }
    }

    fn apply_webdav(&mut self, ev: WebdavEvent) {
        match ev {
            WebdavEvent::PortInit { opened, .. } => {
                self.guest_port = if opened { GuestPort::Open } else { GuestPort::Closed };
                self.webdav_diagnosis = None;
            }
            WebdavEvent::ClosedBeforePortInit => {
                self.webdav_diagnosis = Some(crate::event_log::PROXY_FILTER_DIAGNOSIS.to_string())
            }
            WebdavEvent::PortOpened => self.guest_port = GuestPort::Open,
            WebdavEvent::PortClosed => self.guest_port = GuestPort::Closed,
            WebdavEvent::ClientStalled(id) => self
                .push_error(format!("guest connection {id:#x} accepted no data for the stall limit and was dropped")),
            WebdavEvent::UnexpectedPort(name) => {
                self.push_error(format!("the WebDAV channel carries port {name:?}, not org.spice-space.webdav.0"))
            }
            WebdavEvent::ClientOpened(_)
            | WebdavEvent::ClientClosed(_)
            | WebdavEvent::ClientRefused(_)
            | WebdavEvent::Notice(_) => {}
        }
    }

    /// Adds an error for the user (the oldest goes once there are [`MAX_ERRORS`]).
    pub fn push_error(&mut self, text: String) {
        if self.errors.len() >= MAX_ERRORS {
            self.errors.remove(0);
        }
        self.next_error_id += 1;
        self.errors.push(UiError { id: self.next_error_id, text });
    }

    /// Removes the error with this id.
    pub fn dismiss_error(&mut self, id: u64) {
        self.errors.retain(|e| e.id != id);
    }

    /// Whether the session is over.
    pub fn ended(&self) -> bool {
        matches!(self.connection, Connection::Ended(_))
    }

    /// The WebDAV channel's status, if the server offers one.
    pub fn webdav_status(&self) -> Option<&ChannelStatus> {
        self.webdav_channel.and_then(|ch| self.channels.get(&ch))
    }

    /// Whether a share can be started or stopped now: the WebDAV channel is linked and the session runs.
    pub fn channel_ready(&self) -> bool {
        !self.ended() && self.webdav_status() == Some(&ChannelStatus::Linked)
    }

    /// Whether anything is shared: a folder at the root or named shares.
    pub fn sharing(&self) -> bool {
        self.share.is_some() || !self.shares.is_empty()
    }

    /// The Folders panel's status layer.
    pub fn share_layer(&self) -> ShareLayer {
        if self.ended() {
            return ShareLayer::Disconnected;
        }
        match self.webdav_status() {
            None if self.channel_list_seen => ShareLayer::NoWebdavPort,
            None => ShareLayer::Connecting,
            Some(ChannelStatus::Offered | ChannelStatus::NotHandled) => ShareLayer::Linking,
            Some(ChannelStatus::Failed(e) | ChannelStatus::Closed(e) | ChannelStatus::Relinking(e)) => {
                ShareLayer::ChannelDown(self.webdav_diagnosis.clone().unwrap_or_else(|| e.clone()))
            }
            Some(ChannelStatus::Linked) => match (self.guest_port, self.sharing()) {
                (GuestPort::Open, true) => ShareLayer::Sharing,
                (GuestPort::Open, false) => ShareLayer::Ready,
                _ => ShareLayer::WaitingForGuest,
            },
        }
    }

    /// A one-line connection state for the status bar.
    pub fn connection_summary(&self) -> String {
        match &self.connection {
            Connection::Starting => "starting".into(),
            Connection::Connecting(addr) => format!("connecting to {addr}"),
            Connection::Connected { .. } => {
                let linked = self.channels.values().filter(|s| **s == ChannelStatus::Linked).count();
                format!("connected to {}, {} channel(s) linked", self.display_name(), linked + 1)
            }
            Connection::Ended(SessionEnd::UserRequested) => "disconnected".into(),
            Connection::Ended(_) => "disconnected (see the error)".into(),
        }
    }

    /// The best name for the session: the VM's name, the title, or the address.
    /// What a bug report of `error` says about this session.
    pub fn report_info(&self, error: String) -> crate::bug_report::ReportInfo {
        crate::bug_report::ReportInfo {
            error,
            server: self.server.clone(),
            vm_name: self.vm_name.clone(),
            vm_uuid: self.vm_uuid.clone(),
            connection: self.connection_summary(),
            channels: self
                .channels
                .iter()
                .map(|(c, s)| match s {
                    ChannelStatus::Failed(why) | ChannelStatus::Closed(why) | ChannelStatus::Relinking(why) => {
                        format!("{} {}: {} ({why})", c.channel_type, c.id, s.label())
                    }
                    _ => format!("{} {}: {}", c.channel_type, c.id, s.label()),
                })
                .collect(),
        }
    }

    pub fn display_name(&self) -> String {
        self.vm_name
            .clone()
            .or_else(|| self.title.clone())
            .or_else(|| self.server.clone())
            .unwrap_or_else(|| "the server".into())
    }
}

/// How many of the requests in flight change the share: each counts as an upload that stopping would cut off.
pub fn uploads_in_flight(in_flight: &[InFlightProgress]) -> usize {
    in_flight.iter().filter(|p| is_write_method(&p.request.method)).count()
}

/// Live share numbers, read from the session's shared counters each frame (or made up by tests).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveShare {
    /// Counters.
    pub activity: ShareActivity,
    /// Requests being served, oldest first.
    pub in_flight: Vec<InFlightProgress>,
    /// Bytes per second to and from the guest.
    pub rate: Rate,
}

/// Bytes per second to and from the guest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rate {
    /// Bytes per second sent to the guest.
    pub to_guest: f64,
    /// Bytes per second received from the guest.
    pub from_guest: f64,
}

/// The share's transfer rate over a sliding window of byte-counter samples.
#[derive(Debug, Clone)]
pub struct RateMeter(CounterRates<2>);

impl Default for RateMeter {
    fn default() -> Self {
        RateMeter(CounterRates::new(Duration::from_secs(2)))
    }
}

impl RateMeter {
    /// Records the counters at `now` and returns the rate over the window (0 until two samples exist).
    pub fn update(&mut self, now: Instant, to_guest: u64, from_guest: u64) -> Rate {
        let [to_guest, from_guest] = self.0.update(now, [to_guest, from_guest]);
        Rate { to_guest, from_guest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(t: ChannelType, id: u8) -> ChannelId {
        ChannelId { channel_type: t, id }
    }

    fn linked_state() -> SessionState {
        let now = Instant::now();
        let mut s = SessionState::default();
        s.apply(SessionEvent::Connecting("h:1".into()), now);
        s.apply(SessionEvent::Connected { session_id: 7 }, now);
        s.apply(SessionEvent::ChannelOffered(ch(ChannelType::Display, 0)), now);
        s.apply(SessionEvent::ChannelNotHandled(ch(ChannelType::Display, 0)), now);
        s.apply(SessionEvent::ChannelOffered(ch(ChannelType::Webdav, 0)), now);
        s.apply(SessionEvent::ChannelLinked(ch(ChannelType::Webdav, 0)), now);
        s
    }

    #[test]
    fn layers_follow_the_events() {
        let now = Instant::now();
        let mut s = SessionState::default();
        assert_eq!(s.share_layer(), ShareLayer::Connecting);
        s.apply(SessionEvent::Connected { session_id: 1 }, now);
        s.apply(SessionEvent::NoWebdavChannel, now);
        assert_eq!(s.share_layer(), ShareLayer::NoWebdavPort);

        let mut s = linked_state();
        assert!(s.channel_ready());
        assert_eq!(s.share_layer(), ShareLayer::WaitingForGuest);
        s.apply(SessionEvent::Webdav(WebdavEvent::PortInit { name: "x".into(), opened: false }), now);
        assert_eq!(s.share_layer(), ShareLayer::WaitingForGuest);
        s.apply(SessionEvent::Webdav(WebdavEvent::PortOpened), now);
        assert_eq!(s.share_layer(), ShareLayer::Ready);
        s.apply(SessionEvent::SharingStarted { root: "/tmp".into(), read_only: true }, now);
        assert_eq!(s.share_layer(), ShareLayer::Sharing);
        assert!(s.share.as_ref().is_some_and(|a| a.read_only));
        // Stopping relinks the channel: the port state is unknown until PORT_INIT.
        s.apply(SessionEvent::SharingStopped, now);
        s.apply(SessionEvent::ChannelLinked(ch(ChannelType::Webdav, 0)), now);
        assert_eq!(s.share_layer(), ShareLayer::WaitingForGuest);
        s.apply(SessionEvent::ChannelClosed { channel: ch(ChannelType::Webdav, 0), reason: "gone".into() }, now);
        assert_eq!(s.share_layer(), ShareLayer::ChannelDown("gone".into()));
        assert!(!s.channel_ready());
        s.apply(SessionEvent::SharingStarted { root: "/tmp".into(), read_only: false }, now);
        s.apply(SessionEvent::Ended(SessionEnd::ServerClosed), now);
        assert_eq!(s.share_layer(), ShareLayer::Disconnected);
        assert!(s.share.is_none(), "sharing ends with the session");
        assert_eq!(s.connection_summary(), "disconnected (see the error)");
    }

    #[test]
    fn a_channel_closed_before_port_init_shows_the_proxy_diagnosis_until_port_init() {
        let now = Instant::now();
        let webdav = ch(ChannelType::Webdav, 0);
        let mut s = linked_state();
        s.apply(SessionEvent::ChannelClosed { channel: webdav, reason: "closed by the server".into() }, now);
        s.apply(SessionEvent::Webdav(WebdavEvent::ClosedBeforePortInit), now);
        s.apply(SessionEvent::ChannelRelinking { channel: webdav, delay: Duration::from_millis(200), attempt: 1 }, now);
        let ShareLayer::ChannelDown(text) = s.share_layer() else { panic!("{:?}", s.share_layer()) };
        assert!(text.contains("PORT_INIT") && text.contains("proxy") && text.contains("docs/kerbside.md"), "{text}");
        // Once a link gets PORT_INIT, the channel works and the diagnosis goes.
        s.apply(SessionEvent::ChannelLinked(webdav), now);
        s.apply(SessionEvent::Webdav(WebdavEvent::PortInit { name: "x".into(), opened: true }), now);
        assert_eq!(s.webdav_diagnosis, None);
        s.apply(SessionEvent::ChannelClosed { channel: webdav, reason: "gone".into() }, now);
        assert_eq!(s.share_layer(), ShareLayer::ChannelDown("gone".into()));
    }

    #[test]
    fn summary_names_the_vm_and_counts_main() {
        let mut s = linked_state();
        assert_eq!(s.connection_summary(), "connected to h:1, 2 channel(s) linked");
        s.apply(SessionEvent::ServerName("vm1".into()), Instant::now());
        assert!(s.connection_summary().starts_with("connected to vm1"));
    }

    #[test]
    fn errors_are_capped_and_dismissed_by_id() {
        let mut s = SessionState::default();
        for i in 0..(MAX_ERRORS + 2) {
            s.apply(SessionEvent::ShareError(format!("e{i}")), Instant::now());
        }
        assert_eq!(s.errors.len(), MAX_ERRORS);
        assert_eq!(s.errors[0].text, "cannot share: e2");
        let id = s.errors[1].id;
        s.dismiss_error(id);
        assert_eq!(s.errors.len(), MAX_ERRORS - 1);
        assert!(s.errors.iter().all(|e| e.id != id));
    }

    #[test]
    fn write_methods_count_as_uploads() {
        let req = |m: &str| InFlightProgress {
            request: crate::webdav::server::InFlightRequest {
                method: m.into(),
                path: "/".into(),
                started: Instant::now(),
            },
            bytes: 0,
        };
        assert_eq!(uploads_in_flight(&[req("GET"), req("PROPFIND"), req("put"), req("MKCOL"), req("MOVE")]), 3);
    }

    #[test]
    fn windows_notices_keep_the_hint_and_a_bounded_name_list() {
        use crate::webdav::windows::Direction;
        let now = Instant::now();
        let mut s = SessionState::default();
        let hit = SizeLimitHit { direction: Direction::Download, path: "/a.iso".into(), size: Some(6), moved: 5 };
        s.apply(SessionEvent::WindowsSizeLimit(hit.clone()), now);
        assert_eq!(s.windows.size_limit, Some(hit));
        let names = |n: usize, more: u64| NamesUpdate {
            new: (0..n).map(|i| (format!("/x{i}."), NameProblem::TrailingDotOrSpace)).collect(),
            more,
            more_at_least: false,
        };
        s.apply(SessionEvent::WindowsNames(names(60, 0)), now);
        s.apply(SessionEvent::WindowsNames(names(60, 3)), now);
        assert_eq!((s.windows.names.len(), s.windows.more), (MAX_NAMES, 3));
    }
}

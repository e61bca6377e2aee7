//! The fake SPICE server: real TCP on 127.0.0.1, the real link handshake, a scripted main channel and a WebDAV
//! channel whose guest side the test drives through [`FakeGuest`](super::FakeGuest).
//!
//! Each accepted connection is one channel. After the link the connection is split: a reader task records what
//! the client sends, and a writer task sends what the test (or the server's own logic) queues, so neither
//! direction can block the other (as in spice-server).

use super::{within, FakeGuest};
use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, RsaPrivateKey};
use ryll::protocol::base::{parse_pong, server as base_msg};
use ryll::protocol::caps::Caps;
use ryll::protocol::constants::{
    msg, msgc, ChannelType, LinkError, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER,
    COMMON_CAP_PROTOCOL_AUTH_SELECTION, MAIN_CAP_NAME_AND_UUID, MAIN_CAP_SEAMLESS_MIGRATE,
    MAIN_CAP_SEMI_SEAMLESS_MIGRATE, PUBKEY_SIZE, SPICEVMC_CAP_DATA_COMPRESS_LZ4, TICKET_SIZE,
};
use ryll::protocol::header::{encode_mini, MiniHeader, MINI_HEADER_SIZE};
use ryll::protocol::link::{AuthMechanism, LinkHeader, LinkMess, LinkReply, LINK_HEADER_SIZE};
use ryll::protocol::main_channel::{encode_channels_list, encode_name, ChannelId, MainInit};
use ryll::protocol::vmc::{CompressedData, CompressionType, PortInit};
use ryll::webdav::mux::{Demuxer, MAX_FRAME_PAYLOAD};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;

/// The inputs channel (3:0), listed by default and never linked by ryll.
pub const INPUTS: ChannelId = ChannelId { channel_type: ChannelType::Inputs, id: 0 };
/// The WebDAV channel (11:0).
pub const WEBDAV: ChannelId = ChannelId { channel_type: ChannelType::Webdav, id: 0 };
/// The usbredir channel 9:0.
pub const USBREDIR: ChannelId = ChannelId { channel_type: ChannelType::Usbredir, id: 0 };
/// The port name that makes a SPICE port the WebDAV channel.
pub const WEBDAV_PORT: &str = "org.spice-space.webdav.0";
/// spice-server reads the char device in chunks of at most this many bytes, one SPICEVMC_DATA each.
pub const DEVICE_CHUNK: usize = 64 * 1024 + 32;
/// The net-test PING's padding (spice-server: 1024 * 250).
pub const NET_TEST_PADDING: usize = 256_000;
/// Receive buffer of a slow guest's sockets.
const SLOW_GUEST_RCVBUF: u32 = 64 * 1024;
/// Largest client message the fake accepts.
const MAX_CLIENT_MESSAGE: u32 = 4 << 20;

/// What the fake server does. Start from `FakeServerConfig::default()` and use the builder methods.
#[derive(Debug, Clone)]
pub struct FakeServerConfig {
    /// `None` = ticketing off (the ticket must still decrypt); `Some` = the password the ticket must carry.
    pub password: Option<String>,
    /// Channel types whose link reply is NEED_SECURED (then the server closes).
    pub need_secured: Vec<ChannelType>,
    /// Channel types for which the server closes right after reading the link message, without a reply.
    pub close_during_link: Vec<ChannelType>,
    /// Channels in the initial CHANNELS_LIST (main is never listed).
    pub channels: Vec<ChannelId>,
    /// The VM name sent in MAIN_NAME.
    pub vm_name: String,
    /// The VM UUID sent in MAIN_UUID.
    pub uuid: [u8; 16],
    /// Send the three net-test PINGs (ids 1, 2, 3; the last with 256 000 bytes of padding) after INIT.
    pub net_test: bool,
    /// The name in the WebDAV channel's PORT_INIT.
    pub port_name: String,
    /// Whether the guest has the port open when the WebDAV channel links.
    pub port_opened: bool,
    /// Advertise the SpiceVMC LZ4 capability on the WebDAV channel.
    pub webdav_lz4: bool,
    /// Make the guest consume at most one client message on the WebDAV channel per this interval, with a small
    /// socket receive buffer, so the link (not ryll's producers) is the bottleneck, as over a real network.
    pub guest_pace: Option<Duration>,
}

impl Default for FakeServerConfig {
    fn default() -> Self {
        FakeServerConfig {
            password: None,
            need_secured: Vec::new(),
            close_during_link: Vec::new(),
            channels: vec![INPUTS, WEBDAV],
            vm_name: "fake-vm".into(),
            uuid: *b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x0f\xed\xcb\xa9\x87\x65\x43\x21",
            net_test: true,
            port_name: WEBDAV_PORT.into(),
            port_opened: true,
            webdav_lz4: false,
            guest_pace: None,
        }
    }
}

impl FakeServerConfig {
    /// Ticketing on with this password.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Answer links of this channel type with NEED_SECURED.
    pub fn need_secured(mut self, t: ChannelType) -> Self {
        self.need_secured.push(t);
        self
    }

    /// Close links of this channel type right after the link message.
    pub fn close_during_link(mut self, t: ChannelType) -> Self {
        self.close_during_link.push(t);
        self
    }

    /// The initial channel list.
    pub fn channels(mut self, channels: &[ChannelId]) -> Self {
        self.channels = channels.to_vec();
        self
    }

    /// Whether the guest has the WebDAV port open at link time.
    pub fn port_opened(mut self, opened: bool) -> Self {
        self.port_opened = opened;
        self
    }

    /// Advertise LZ4 on the WebDAV channel.
    pub fn webdav_lz4(mut self, on: bool) -> Self {
        self.webdav_lz4 = on;
        self
    }

    /// A guest that consumes one message per `interval` (see [`FakeServerConfig::guest_pace`]).
    pub fn slow_guest(mut self, interval: Duration) -> Self {
        self.guest_pace = Some(interval);
        self
    }

    /// Send (or not) the net-test PINGs after INIT.
    pub fn net_test(mut self, on: bool) -> Self {
        self.net_test = on;
        self
    }
}

/// How one link attempt ended, from the server's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkResult {
    /// Still in the handshake.
    InProgress,
    /// The server closed without a link reply (close-during-link, or a channel it does not have).
    ClosedBeforeReply,
    /// Link reply NEED_SECURED.
    NeedSecured,
    /// Link result PERMISSION_DENIED.
    PermissionDenied,
    /// Link result BAD_CONNECTION_ID.
    BadConnectionId,
    /// Linked.
    Ok,
}

/// One link attempt as the server saw it.
#[derive(Debug, Clone)]
pub struct LinkRecord {
    /// The channel the client asked for.
    pub channel: ChannelId,
    /// The connection id in the link message.
    pub connection_id: u32,
    /// The client's common capabilities.
    pub common_caps: Caps,
    /// The client's channel capabilities.
    pub channel_caps: Caps,
    /// The decrypted ticket (`None` if none was read or it did not decrypt).
    pub ticket: Option<Vec<u8>>,
    /// The outcome.
    pub result: LinkResult,
}

/// A PONG the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pong {
    /// Echoed ping id.
    pub id: u32,
    /// Echoed timestamp.
    pub timestamp: u64,
    /// Body size (must be 12: the padding is not echoed).
    pub body_len: usize,
}

/// Bytes the client sent to one guest connection id.
#[derive(Debug, Default)]
pub struct GuestStream {
    /// Received and not yet consumed by a reader (e.g. `GuestConn::read_response`).
    pub buf: Vec<u8>,
    /// Payload bytes received in total.
    pub total: u64,
    /// Size-0 frames received.
    pub closes: usize,
}

/// Everything the server observed, plus the live knobs the test can turn.
#[derive(Debug, Default)]
pub struct State {
    /// The session id sent in MAIN_INIT.
    pub session_id: u32,
    /// Channels the server offers (the initial list plus hot-plugged ones).
    pub offered: Vec<ChannelId>,
    /// Every link attempt, in order.
    pub links: Vec<LinkRecord>,
    /// Main channels that got INIT.
    pub main_links: usize,
    /// ATTACH_CHANNELS messages answered with CHANNELS_LIST.
    pub attached: usize,
    /// PINGs sent, by (channel, id): the timestamp.
    pub pings: HashMap<(ChannelType, u32), u64>,
    /// PONGs received on the main channel.
    pub main_pongs: Vec<Pong>,
    /// PONGs received on the WebDAV channel.
    pub webdav_pongs: Vec<Pong>,
    /// ACK_SYNC generations received on the main channel.
    pub ack_syncs: Vec<u32>,
    /// ACKs received on the main channel.
    pub acks: usize,
    /// Other client message types received on the main channel.
    pub main_other: Vec<u16>,
    /// WebDAV channels linked (PORT_INIT sent).
    pub webdav_links: usize,
    /// Whether the guest has the WebDAV port open.
    pub port_open: bool,
    /// Every mux frame the client sent: (id, payload length), in arrival order.
    pub frames: Vec<(i64, usize)>,
    /// Largest frame payload seen.
    pub max_frame_payload: usize,
    /// Client SPICEVMC messages that were LZ4-compressed.
    pub compressed_from_client: usize,
    /// What the client sent to each guest connection id.
    pub streams: HashMap<i64, GuestStream>,
    /// Ids the guest has used.
    pub guest_ids: HashSet<i64>,
    /// Messages the client sent on channels other than main and WebDAV (PONGs included), in arrival order.
    pub other_messages: Vec<(ChannelId, u16, Vec<u8>)>,
    /// Protocol violations by the client; every test expects none.
    pub problems: Vec<String>,
    pub(crate) main_tx: Option<mpsc::UnboundedSender<Out>>,
    pub(crate) webdav_tx: Option<mpsc::UnboundedSender<Out>>,
    /// usbredir channels linked.
    pub usb_links: usize,
    /// The usbredir bytes the client sent (decompressed), in order, since the last link.
    pub usb_from_client: Vec<u8>,
    /// Client usbredir messages that were LZ4-compressed.
    pub usb_compressed: usize,
    pub(crate) usb_tx: Option<mpsc::UnboundedSender<Out>>,
}

impl State {
    /// The links of one channel type.
    pub fn links_of(&self, t: ChannelType) -> Vec<&LinkRecord> {
        self.links.iter().filter(|l| l.channel.channel_type == t).collect()
    }

    /// The frames of one guest connection id, in order: payload lengths.
    pub fn frames_of(&self, id: i64) -> Vec<usize> {
        self.frames.iter().filter(|(i, _)| *i == id).map(|(_, n)| *n).collect()
    }

    /// The stream of one guest connection id (created empty if unseen).
    pub fn stream(&mut self, id: i64) -> &mut GuestStream {
        self.streams.entry(id).or_default()
    }
}

/// What a connection's writer task sends.
#[derive(Debug)]
pub(crate) enum Out {
    /// One message.
    Msg(u16, Vec<u8>),
    /// Bytes of the guest's device stream: packed into SPICEVMC_DATA messages of at most [`DEVICE_CHUNK`] bytes,
    /// merged with whatever else of the device stream is queued, regardless of frame boundaries.
    Device(Vec<u8>),
    /// Shut down the write side.
    Close,
}

pub(crate) struct Inner {
    pub(crate) cfg: FakeServerConfig,
    state: Mutex<State>,
    changed: Notify,
    keys: tokio::sync::Mutex<mpsc::Receiver<RsaPrivateKey>>,
    pub(crate) next_guest_id: AtomicI64,
}

impl Inner {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state and wakes every waiter.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_waiters();
        out
    }

    fn problem(&self, text: String) {
        eprintln!("fake server: client problem: {text}");
        self.update(|st| st.problems.push(text));
    }

    /// Waits (bounded) until `f` returns `Some`; `f` runs on every state change.
    pub(crate) async fn wait<T>(&self, what: &str, mut f: impl FnMut(&mut State) -> Option<T>) -> T {
        within(what, async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if let Some(v) = f(&mut self.lock()) {
                    return v;
                }
                notified.await;
            }
        })
        .await
    }

    async fn fresh_key(&self) -> RsaPrivateKey {
        let mut keys = self.keys.lock().await;
        within("an RSA key from the key generator", keys.recv()).await.expect("the key generator stopped")
    }
}

/// The fake SPICE server. It runs on its own Tokio runtime, like a server in another process, so its work does not
/// compete with ryll's tasks for the test runtime's workers. Dropping it stops every connection.
pub struct FakeServer {
    pub(crate) inner: Arc<Inner>,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl FakeServer {
    /// Listens on 127.0.0.1 (a free port) and serves until dropped.
    pub async fn start(cfg: FakeServerConfig) -> FakeServer {
        let socket = tokio::net::TcpSocket::new_v4().expect("create the fake server's socket");
        if cfg.guest_pace.is_some() {
            // Accepted sockets inherit it; a fixed size also turns off receive-buffer autotuning.
            socket.set_recv_buffer_size(SLOW_GUEST_RCVBUF).expect("set the receive buffer size");
        }
        socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind the fake server");
        let listener = socket.listen(64).expect("listen").into_std().expect("detach the listener");
        let addr = listener.local_addr().expect("fake server address");
        let state = State {
            session_id: rand::random::<u32>().max(1),
            offered: cfg.channels.clone(),
            port_open: cfg.port_opened,
            ..State::default()
        };
        let inner = Arc::new(Inner {
            cfg,
            state: Mutex::new(state),
            changed: Notify::new(),
            keys: tokio::sync::Mutex::new(spawn_key_generator()),
            next_guest_id: AtomicI64::new(1),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fake-spice-server")
            .enable_all()
            .build()
            .expect("start the fake server's runtime");
        runtime.spawn(accept_loop(listener, inner.clone()));
        FakeServer { inner, addr, runtime: Some(runtime) }
    }

    /// `HOST:PORT` to give ryll.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The session id the server hands out.
    pub fn session_id(&self) -> u32 {
        self.inner.lock().session_id
    }

    /// The observed state (hold the guard briefly: the server's tasks need the lock).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.inner.lock()
    }

    /// Waits (bounded) until `f` returns `Some`.
    pub async fn wait<T>(&self, what: &str, f: impl FnMut(&mut State) -> Option<T>) -> T {
        self.inner.wait(what, f).await
    }

    /// Waits until the main channel is linked and INIT is queued.
    pub async fn wait_main(&self) -> MainControl {
        let tx = self.wait("the main channel to link", |st| st.main_tx.clone()).await;
        MainControl { inner: self.inner.clone(), tx }
    }

    /// Waits until the client sent ATTACH_CHANNELS and the CHANNELS_LIST answer is queued.
    pub async fn wait_attached(&self) -> MainControl {
        self.wait("ATTACH_CHANNELS", |st| (st.attached > 0).then_some(())).await;
        self.wait_main().await
    }

    /// Waits until `n` WebDAV channels have linked (a relink makes it 2, ...).
    pub async fn wait_webdav_links(&self, n: usize) {
        self.wait(&format!("WebDAV link number {n}"), |st| (st.webdav_links >= n).then_some(())).await;
    }

    /// Sends usbredir bytes to the client, as the usb-guest (packed into SPICEVMC_DATA messages).
    pub fn usb_send(&self, bytes: Vec<u8>) {
        let tx = self.state().usb_tx.clone();
        if let Some(tx) = tx {
            let _ = tx.send(Out::Device(bytes));
        }
    }

    /// The guest side of the WebDAV channel.
    pub fn guest(&self) -> FakeGuest {
        FakeGuest::new(self.inner.clone())
    }

    /// Fails the test if the client broke the protocol anywhere.
    pub fn assert_no_problems(&self) {
        let st = self.state();
        assert!(st.problems.is_empty(), "the client broke the protocol: {:#?}", st.problems);
    }
}

/// Drives the main channel of the current session.
#[derive(Clone)]
pub struct MainControl {
    inner: Arc<Inner>,
    tx: mpsc::UnboundedSender<Out>,
}

impl MainControl {
    /// Queues one message.
    pub fn send(&self, msg_type: u16, body: Vec<u8>) {
        let _ = self.tx.send(Out::Msg(msg_type, body));
    }

    /// Sends a PING with `padding` bytes of padding and a random timestamp.
    pub fn ping(&self, id: u32, padding: usize) {
        send_ping(&self.inner, &self.tx, ChannelType::Main, id, padding);
    }

    /// Waits for the PONG answering PING `id`.
    pub async fn wait_pong(&self, id: u32) -> Pong {
        self.inner
            .wait(&format!("the main PONG for ping {id}"), |st| st.main_pongs.iter().find(|p| p.id == id).copied())
            .await
    }

    /// Sends SET_ACK.
    pub fn set_ack(&self, generation: u32, window: u32) {
        self.send(msg::SET_ACK, base_msg::set_ack(generation, window));
    }

    /// Sends a harmless main message (MULTI_MEDIA_TIME) that only counts towards the ACK window.
    pub fn filler(&self) {
        self.send(msg::MAIN_MULTI_MEDIA_TIME, 1234u32.to_le_bytes().to_vec());
    }

    /// Hot-plugs a channel: the server offers it from now on and sends a one-entry CHANNELS_LIST.
    pub fn hotplug(&self, channel: ChannelId) {
        self.inner.update(|st| st.offered.push(channel));
        self.send(msg::MAIN_CHANNELS_LIST, encode_channels_list(&[channel]));
    }

    /// Sends NOTIFY.
    pub fn notify(&self, severity: u32, text: &str) {
        self.send(msg::NOTIFY, base_msg::notify(severity, 0, text));
    }

    /// Sends DISCONNECTING with `reason`.
    pub fn disconnecting(&self, reason: LinkError) {
        self.send(msg::DISCONNECTING, base_msg::disconnecting(reason));
    }

    /// Closes the main channel (after everything queued before).
    pub fn close(&self) {
        let _ = self.tx.send(Out::Close);
    }
}

pub(crate) fn send_ping(inner: &Inner, tx: &mpsc::UnboundedSender<Out>, channel: ChannelType, id: u32, pad: usize) {
    let timestamp = rand::random::<u64>();
    inner.update(|st| st.pings.insert((channel, id), timestamp));
    let _ = tx.send(Out::Msg(msg::PING, base_msg::ping(id, timestamp, pad)));
}

/// Generates RSA-1024 keys ahead of time on a plain thread (a key takes a while in a debug build), so every link
/// still gets a fresh key but does not wait for the whole generation. The thread ends after the server is dropped.
fn spawn_key_generator() -> mpsc::Receiver<RsaPrivateKey> {
    let (tx, rx) = mpsc::channel(2);
    std::thread::spawn(move || {
        let mut rng = rand::thread_rng();
        loop {
            let key = RsaPrivateKey::new(&mut rng, 1024).expect("generate an RSA-1024 key");
            if tx.blocking_send(key).is_err() {
                return;
            }
        }
    });
    rx
}

async fn accept_loop(listener: std::net::TcpListener, inner: Arc<Inner>) {
    let listener = TcpListener::from_std(listener).expect("register the listener");
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        while conns.try_join_next().is_some() {}
        conns.spawn(serve_connection(inner.clone(), stream));
    }
}

async fn serve_connection(inner: Arc<Inner>, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Some(mess) = link(&inner, &mut stream).await else { return };
    match mess.channel_type {
        ChannelType::Main => run_main(inner, stream, mess).await,
        ChannelType::Webdav => run_webdav(inner, stream, mess).await,
        ChannelType::Usbredir => run_usbredir(inner, stream).await,
        _ => run_other(inner, stream, mess).await,
    }
}

/// The server side of the link handshake. Returns the link message if the channel is linked.
async fn link(inner: &Inner, s: &mut TcpStream) -> Option<LinkMess> {
    let mut header = [0u8; LINK_HEADER_SIZE];
    s.read_exact(&mut header).await.ok()?;
    let header = match LinkHeader::parse(&header) {
        Ok(h) => h,
        Err(e) => {
            inner.problem(format!("bad link header: {e}"));
            return None;
        }
    };
    if (header.major, header.minor) != (2, 2) {
        inner.problem(format!("link header version {}.{}", header.major, header.minor));
    }
    let mut body = vec![0u8; header.size as usize];
    s.read_exact(&mut body).await.ok()?;
    let mess = match LinkMess::parse(&body) {
        Ok(m) => m,
        Err(e) => {
            inner.problem(format!("bad link message: {e}"));
            return None;
        }
    };
    let channel = ChannelId { channel_type: mess.channel_type, id: mess.channel_id };
    for (cap, name) in [(COMMON_CAP_PROTOCOL_AUTH_SELECTION, "AUTH_SELECTION"), (COMMON_CAP_MINI_HEADER, "MINI_HEADER")]
    {
        if !mess.common_caps.has(cap) {
            inner.problem(format!("the {channel} link does not advertise {name}"));
        }
    }
    let (index, listed) = inner.update(|st| {
        st.links.push(LinkRecord {
            channel,
            connection_id: mess.connection_id,
            common_caps: mess.common_caps.clone(),
            channel_caps: mess.channel_caps.clone(),
            ticket: None,
            result: LinkResult::InProgress,
        });
        (st.links.len() - 1, channel.channel_type == ChannelType::Main || st.offered.contains(&channel))
    });
    let set_result = |result: LinkResult| inner.update(|st| st.links[index].result = result);
    if inner.cfg.close_during_link.contains(&mess.channel_type) {
        set_result(LinkResult::ClosedBeforeReply);
        return None;
    }
    if !listed {
        // spice-server closes without a reply when asked for a channel it does not have.
        inner.problem(format!("the client linked {channel}, which the server does not offer"));
        set_result(LinkResult::ClosedBeforeReply);
        return None;
    }
    if inner.cfg.need_secured.contains(&mess.channel_type) {
        let reply = LinkReply {
            error: LinkError::NeedSecured,
            pub_key: [0; PUBKEY_SIZE],
            common_caps: Caps::new(),
            channel_caps: Caps::new(),
        };
        // Record before replying: the client may act on the reply before this task runs again.
        set_result(LinkResult::NeedSecured);
        let _ = s.write_all(&reply.encode()).await;
        return None;
    }

    let key = inner.fresh_key().await;
    let der = key.to_public_key().to_public_key_der().expect("encode the public key");
    let pub_key: [u8; PUBKEY_SIZE] = der.as_bytes().try_into().expect("an RSA-1024 SPKI is 162 bytes");
    let reply = LinkReply {
        error: LinkError::Ok,
        pub_key,
        common_caps: Caps::with(&[COMMON_CAP_PROTOCOL_AUTH_SELECTION, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER]),
        channel_caps: server_channel_caps(&inner.cfg, mess.channel_type),
    };
    s.write_all(&reply.encode()).await.ok()?;

    if mess.common_caps.has(COMMON_CAP_PROTOCOL_AUTH_SELECTION) {
        let mut mech = [0u8; 4];
        s.read_exact(&mut mech).await.ok()?;
        if !matches!(AuthMechanism::parse(&mech), Ok(AuthMechanism::Spice)) {
            inner.problem(format!("the {channel} link selected auth mechanism {mech:?}, not SPICE (1)"));
        }
    }
    let mut ticket = [0u8; TICKET_SIZE];
    s.read_exact(&mut ticket).await.ok()?;
    let plain = key.decrypt(Oaep::new::<sha1::Sha1>(), &ticket).ok();
    inner.update(|st| st.links[index].ticket = plain.clone());
    let password_ok = match (&plain, &inner.cfg.password) {
        // Even with ticketing off, spice-server refuses a ticket that does not decrypt.
        (None, _) => false,
        (Some(_), None) => true,
        // spice-server NUL-terminates the decrypted bytes and compares with strcmp.
        (Some(plain), Some(password)) => plain.split(|&b| b == 0).next() == Some(password.as_bytes()),
    };
    let session_id = inner.lock().session_id;
    let expected_id = if mess.channel_type == ChannelType::Main { 0 } else { session_id };
    let (code, result) = if !password_ok {
        (LinkError::PermissionDenied, LinkResult::PermissionDenied)
    } else if mess.connection_id != expected_id {
        inner.problem(format!(
            "the {channel} link has connection id {:#x}, expected {expected_id:#x}",
            mess.connection_id
        ));
        (LinkError::BadConnectionId, LinkResult::BadConnectionId)
    } else {
        (LinkError::Ok, LinkResult::Ok)
    };
    // Recorded before the client can see the code, so a test that saw the link succeed sees it here too.
    set_result(result);
    s.write_all(&code.to_u32().to_le_bytes()).await.ok()?;
    (result == LinkResult::Ok).then_some(mess)
}

fn server_channel_caps(cfg: &FakeServerConfig, t: ChannelType) -> Caps {
    match t {
        ChannelType::Main => Caps::with(&[MAIN_CAP_SEMI_SEAMLESS_MIGRATE, MAIN_CAP_SEAMLESS_MIGRATE]),
        ChannelType::Webdav if cfg.webdav_lz4 => Caps::with(&[SPICEVMC_CAP_DATA_COMPRESS_LZ4]),
        ChannelType::Usbredir => Caps::with(&[SPICEVMC_CAP_DATA_COMPRESS_LZ4]),
        _ => Caps::new(),
    }
}

/// Reads one mini-header message; `None` at EOF or on a socket error.
async fn read_message(inner: &Inner, rd: &mut OwnedReadHalf) -> Option<(u16, Vec<u8>)> {
    let mut header = [0u8; MINI_HEADER_SIZE];
    rd.read_exact(&mut header).await.ok()?;
    let header = match MiniHeader::parse(&header, MAX_CLIENT_MESSAGE) {
        Ok(h) => h,
        Err(e) => {
            inner.problem(format!("bad message header: {e}"));
            return None;
        }
    };
    let mut body = vec![0u8; header.size as usize];
    rd.read_exact(&mut body).await.ok()?;
    Some((header.msg_type, body))
}

async fn write_loop(mut wr: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Out>) {
    let mut pending = None;
    loop {
        let item = match pending.take() {
            Some(item) => item,
            None => match rx.recv().await {
                Some(item) => item,
                None => return,
            },
        };
        let bytes = match item {
            Out::Msg(t, body) => encode_mini(t, &body),
            Out::Device(mut stream) => {
                // Like spice-server reading the char device: take all device bytes that are ready.
                loop {
                    match rx.try_recv() {
                        Ok(Out::Device(more)) => stream.extend_from_slice(&more),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let mut out = Vec::with_capacity(stream.len() + 64);
                for chunk in stream.chunks(DEVICE_CHUNK) {
                    out.extend_from_slice(&encode_mini(msg::SPICEVMC_DATA, chunk));
                }
                out
            }
            Out::Close => {
                let _ = wr.shutdown().await;
                return;
            }
        };
        if wr.write_all(&bytes).await.is_err() {
            return;
        }
    }
}

fn record_pong(inner: &Inner, channel: ChannelType, body: &[u8]) {
    let Ok((id, timestamp)) = parse_pong(body) else {
        inner.problem(format!("malformed {channel} PONG of {} bytes", body.len()));
        return;
    };
    let pong = Pong { id, timestamp, body_len: body.len() };
    let sent = inner.lock().pings.get(&(channel, id)).copied();
    if body.len() != 12 {
        inner.problem(format!("{channel} PONG {id} has a {}-byte body, expected 12", body.len()));
    }
    if sent != Some(timestamp) {
        inner.problem(format!("{channel} PONG {id} echoes timestamp {timestamp:#x}, the PING had {sent:?}"));
    }
    inner.update(|st| match channel {
        ChannelType::Main => st.main_pongs.push(pong),
        _ => st.webdav_pongs.push(pong),
    });
}

async fn run_main(inner: Arc<Inner>, stream: TcpStream, mess: LinkMess) {
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let session_id = inner.lock().session_id;
    let init = MainInit {
        session_id,
        display_channels_hint: 0,
        supported_mouse_modes: 3,
        current_mouse_mode: 2,
        agent_connected: 0,
        agent_tokens: 10,
        multi_media_time: 1000,
        ram_hint: 0,
    };
    let _ = tx.send(Out::Msg(msg::MAIN_INIT, init.encode()));
    if mess.channel_caps.has(MAIN_CAP_NAME_AND_UUID) {
        let _ = tx.send(Out::Msg(msg::MAIN_NAME, encode_name(&inner.cfg.vm_name)));
        let _ = tx.send(Out::Msg(msg::MAIN_UUID, inner.cfg.uuid.to_vec()));
    }
    if inner.cfg.net_test {
        for (id, padding) in [(1, 0), (2, 0), (3, NET_TEST_PADDING)] {
            send_ping(&inner, &tx, ChannelType::Main, id, padding);
        }
    }
    inner.update(|st| {
        st.main_tx = Some(tx.clone());
        st.main_links += 1;
    });
    let writer = tokio::spawn(write_loop(wr, rx));
    while let Some((t, body)) = read_message(&inner, &mut rd).await {
        match t {
            msgc::PONG => record_pong(&inner, ChannelType::Main, &body),
            msgc::ACK_SYNC => {
                let generation = body.get(..4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                inner.update(|st| st.ack_syncs.push(generation.unwrap_or(u32::MAX)));
            }
            msgc::ACK => inner.update(|st| st.acks += 1),
            msgc::MAIN_ATTACH_CHANNELS => {
                let list = inner.lock().offered.clone();
                let _ = tx.send(Out::Msg(msg::MAIN_CHANNELS_LIST, encode_channels_list(&list)));
                inner.update(|st| st.attached += 1);
            }
            // Known client messages (base 1..=6, main 101..=112): recorded, not judged.
            1..=6 | 101..=112 => inner.update(|st| st.main_other.push(t)),
            other => inner.problem(format!("unknown main message type {other} (spice-server would disconnect)")),
        }
    }
    writer.abort();
}

/// A channel the fake does not play: it sends SET_ACK, a PING and [`OTHER_HELLO`], then records what comes back.
async fn run_other(inner: Arc<Inner>, stream: TcpStream, mess: LinkMess) {
    let channel = ChannelId { channel_type: mess.channel_type, id: mess.channel_id };
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let _ = tx.send(Out::Msg(msg::SET_ACK, base_msg::set_ack(1, 10)));
    send_ping(&inner, &tx, mess.channel_type, 1, 0);
    let _ = tx.send(Out::Msg(OTHER_HELLO, b"hello".to_vec()));
    let writer = tokio::spawn(write_loop(wr, rx));
    while let Some((t, body)) = read_message(&inner, &mut rd).await {
        inner.update(|st| st.other_messages.push((channel, t, body)));
    }
    writer.abort();
}

/// The usbredir channel: records the client's usbredir bytes; tests play the usb-guest with
/// [`FakeServer::usb_send`]. The server advertises LZ4, so the client's large messages may come compressed.
async fn run_usbredir(inner: Arc<Inner>, stream: TcpStream) {
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    inner.update(|st| {
        st.usb_tx = Some(tx.clone());
        st.usb_links += 1;
        st.usb_from_client.clear();
    });
    let writer = tokio::spawn(write_loop(wr, rx));
    while let Some((t, body)) = read_message(&inner, &mut rd).await {
        match t {
            msgc::PONG | msgc::ACK_SYNC | msgc::ACK => {}
            msgc::SPICEVMC_DATA => inner.update(|st| st.usb_from_client.extend_from_slice(&body)),
            msgc::SPICEVMC_COMPRESSED_DATA => match decompress(&body) {
                Ok(data) => inner.update(|st| {
                    st.usb_compressed += 1;
                    st.usb_from_client.extend_from_slice(&data);
                }),
                Err(e) => inner.problem(format!("bad COMPRESSED_DATA from the client on usbredir: {e}")),
            },
            other => inner.problem(format!("unknown usbredir message type {other}")),
        }
    }
    inner.update(|st| {
        if st.usb_tx.as_ref().is_some_and(|cur| cur.same_channel(&tx)) {
            st.usb_tx = None;
        }
    });
    writer.abort();
}

/// The message type the fake sends on channels it does not play (the first channel-specific number).
pub const OTHER_HELLO: u16 = 101;

async fn run_webdav(inner: Arc<Inner>, stream: TcpStream, mess: LinkMess) {
    let (mut rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::unbounded_channel();
    let opened = inner.lock().port_open;
    let init = PortInit { name: inner.cfg.port_name.clone(), opened };
    let _ = tx.send(Out::Msg(msg::PORT_INIT, init.encode()));
    inner.update(|st| {
        st.webdav_tx = Some(tx.clone());
        st.webdav_links += 1;
    });
    let client_may_compress = inner.cfg.webdav_lz4;
    if mess.channel_caps.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4) && !inner.cfg.webdav_lz4 {
        eprintln!("fake server: the client advertises LZ4 on webdav; the server does not");
    }
    let writer = tokio::spawn(write_loop(wr, rx));
    let mut demux = Demuxer::new();
    while let Some((t, body)) = read_message(&inner, &mut rd).await {
        if let Some(pace) = inner.cfg.guest_pace {
            tokio::time::sleep(pace).await;
        }
        match t {
            msgc::PONG => record_pong(&inner, ChannelType::Webdav, &body),
            msgc::ACK_SYNC | msgc::ACK => {}
            msgc::SPICEVMC_DATA => record_frames(&inner, &mut demux, &body),
            msgc::SPICEVMC_COMPRESSED_DATA => {
                if !client_may_compress {
                    inner.problem("COMPRESSED_DATA although the server did not advertise LZ4".into());
                }
                match decompress(&body) {
                    Ok(data) => {
                        inner.update(|st| st.compressed_from_client += 1);
                        record_frames(&inner, &mut demux, &data);
                    }
                    Err(e) => inner.problem(format!("bad COMPRESSED_DATA from the client: {e}")),
                }
            }
            msgc::PORT_EVENT => inner.problem(format!("the client sent PORT_EVENT {body:?} (ryll must never)")),
            other => inner.problem(format!("unknown webdav message type {other} (spice-server would disconnect)")),
        }
    }
    inner.update(|st| {
        if st.webdav_tx.as_ref().is_some_and(|cur| cur.same_channel(&tx)) {
            st.webdav_tx = None;
        }
    });
    writer.abort();
}

fn decompress(body: &[u8]) -> Result<Vec<u8>, String> {
    let c = CompressedData::parse(body).map_err(|e| e.to_string())?;
    match c.kind {
        CompressionType::None => Ok(c.data.to_vec()),
        CompressionType::Lz4 => {
            let out = lz4_flex::block::decompress(c.data, c.uncompressed_size as usize).map_err(|e| e.to_string())?;
            if out.len() != c.uncompressed_size as usize {
                return Err(format!("{} bytes, announced {}", out.len(), c.uncompressed_size));
            }
            Ok(out)
        }
    }
}

/// Demuxes client→guest bytes and files each frame under its id.
fn record_frames(inner: &Inner, demux: &mut Demuxer, data: &[u8]) {
    demux.push(data);
    let mut problems = Vec::new();
    inner.update(|st| {
        while let Some(frame) = demux.next_frame() {
            let len = frame.payload.len();
            if len > MAX_FRAME_PAYLOAD {
                problems.push(format!("frame for {} carries {len} bytes", frame.id));
            }
            if !st.guest_ids.contains(&frame.id) {
                problems.push(format!("frame for id {} that the guest never used", frame.id));
            }
            st.frames.push((frame.id, len));
            st.max_frame_payload = st.max_frame_payload.max(len);
            let s = st.stream(frame.id);
            if len == 0 {
                s.closes += 1;
            } else {
                s.buf.extend_from_slice(&frame.payload);
                s.total += len as u64;
            }
        }
    });
    for p in problems {
        inner.problem(p);
    }
}

/// Used by the guest to reach the current WebDAV connection.
pub(crate) fn webdav_tx(inner: &Inner) -> mpsc::UnboundedSender<Out> {
    inner.lock().webdav_tx.clone().expect("no WebDAV channel is linked at the fake server")
}

/// The next guest connection id (1, 2, 3, ...).
pub(crate) fn next_guest_id(inner: &Inner) -> i64 {
    inner.next_guest_id.fetch_add(1, Ordering::Relaxed)
}

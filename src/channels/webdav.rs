//! The WebDAV channel (type 11): guest HTTP connections multiplexed over the `org.spice-space.webdav.0` port,
//! each served by the embedded WebDAV server.
//!
//! # Tasks and queues (all bounded)
//! - The **socket reader** reads SPICE messages, answers PING at once (through the writer's control lane), decodes
//!   VMC data and forwards it to the dispatcher over a queue of [`DISPATCH_QUEUE`] messages (≈ 2 MiB).
//! - The **dispatcher** (this module's [`run_webdav`]) owns the mux [`Splitter`] and the client table. It hands each
//!   piece of frame payload — a slice of the received message, not a copy — to that client's input pipe
//!   ([`input_pipe`], [`PIPE_BUF`] bytes). A client whose pipe stays full for longer than the stall limit is
//!   dropped, so one stuck connection cannot stop the channel; while the dispatcher waits, the socket reader keeps
//!   reading and answering PING.
//! - Each client has a **hyper connection** task: the share's WebDAV server reading the input pipe and writing
//!   into a [`FrameSink`], which turns every write into one frame of at most 65 535 bytes on the writer's data
//!   lane. The lane is a small bounded FIFO shared by all clients; a full lane makes the writes wait, and waiting
//!   clients get slots in turn (fairness), so memory per client stays bounded.
//! - A guest size-0 frame drops the client (its hyper task): the guest side is gone, so nothing is sent back.
//!   When hyper ends a connection itself (`Connection: close`, idle timeout), the task sends a size-0 frame and
//!   reports the close; spice-webdavd ignores that frame and may reuse the id, so new data for the id starts a
//!   new connection.
//! - PORT_EVENT CLOSED or BREAK drops every client and resets the splitter. ryll never sends port events.

use super::compression::{CompressionStats, Outbound, ShareCompression};
use super::driver::{drive, AbortOnDrop, ChannelEnd, MessageHandler};
use super::io::{MessageReader, Outgoing, RawMessage, WriterHandle};
use super::mux_io::{copy_pool, frame_pool, input_pipe, CopyPool, Dropped, FramePool, FrameSink, InputSender};
use super::vmc::{decode_incoming, encode_outgoing, VmcIncoming};
use crate::log_limit::limited;
use crate::protocol::base::Notify;
use crate::protocol::constants::msg;
use crate::protocol::vmc::PortEvent;
use crate::webdav::mux::{encode_close, route, ClientId, Piece, RecentIds, Route, Splitter};
use crate::webdav::server::ShareServer;
use crate::webdav::unavailable::{not_sharing_response, over_capacity_response};
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The port name that makes a SPICE port a WebDAV channel.
pub const WEBDAV_PORT_NAME: &str = "org.spice-space.webdav.0";
/// Largest message accepted on the channel (the server sends at most 65 568 bytes of device data per message).
pub const MAX_WEBDAV_MESSAGE: u32 = 1 << 20;
/// Messages queued between the socket reader and the dispatcher.
pub const DISPATCH_QUEUE: usize = 32;
/// Guest bytes queued for one client's HTTP server before the dispatcher waits. As large as hyper's read buffer
/// (`server::MAX_BUF_SIZE`), so that during an upload hyper takes up to that much per read instead of being woken
/// for every 64 KiB frame (with 128 KiB, a 1 GiB PUT ran at 75 % of the ceiling; see `docs/performance.md`).
pub const PIPE_BUF: usize = 256 * 1024;
/// Frames queued for the socket writer, shared by all clients.
pub const DATA_QUEUE: usize = 8;

/// Settings of the WebDAV channel.
#[derive(Debug, Clone)]
pub struct WebdavConfig {
    /// Most guest connections served at once; more get a 503 and are closed.
    pub max_clients: usize,
    /// How long one client may refuse input before it is dropped.
    pub stall_limit: Duration,
    /// When to use LZ4 (`--share-compression`; see `compression` and docs/performance.md).
    pub compression: ShareCompression,
    /// What shares started in this session protect (credential stores, login files; see docs/security.md).
    pub protection: crate::webdav::protect::Protection,
}

impl Default for WebdavConfig {
    fn default() -> Self {
        WebdavConfig {
            max_clients: 256,
            stall_limit: Duration::from_secs(30),
            compression: ShareCompression::Auto,
            protection: crate::webdav::protect::Protection::defaults(),
        }
    }
}

/// The share the channel serves; `None` while sharing is stopped. Swapped by the session core.
pub type ShareSlot = Arc<RwLock<Option<ShareServer>>>;

/// Live counters of the WebDAV channel, readable from any thread.
#[derive(Debug, Default)]
pub struct WebdavStats {
    /// Guest connections open now.
    pub open_clients: AtomicUsize,
    /// Guest connections opened since the channel was linked.
    pub clients_total: AtomicU64,
    /// Payload bytes received from the guest.
    pub bytes_from_guest: AtomicU64,
    /// Payload bytes sent to the guest.
    pub bytes_to_guest: AtomicU64,
    /// Whether LZ4 is on, and the bytes it saved.
    pub compression: CompressionStats,
}

/// What the WebDAV channel reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebdavEvent {
    /// PORT_INIT arrived: the port's name and whether the guest has it open.
    PortInit {
        /// The port name (`org.spice-space.webdav.0`).
        name: String,
        /// Whether the guest has the port open.
        opened: bool,
    },
    /// The guest's spice-webdavd has the port open (from PORT_INIT or PORT_EVENT).
    PortOpened,
    /// The guest closed the port (or it was never open); every connection was dropped.
    PortClosed,
    /// A guest connection started.
    ClientOpened(ClientId),
    /// A guest connection ended.
    ClientClosed(ClientId),
    /// A guest connection was refused because `max_clients` are open.
    ClientRefused(ClientId),
    /// A guest connection was dropped because it accepted no input for the stall limit.
    ClientStalled(ClientId),
    /// PORT_INIT named a port other than the WebDAV one.
    UnexpectedPort(String),
    /// A server notice on this channel.
    Notice(String),
    /// The server side closed the channel right after it linked, before PORT_INIT (the first message of every
    /// port channel) arrived: a SPICE proxy in between may be filtering port-channel messages. Said once per run of
    /// such closes (see `event_log::PROXY_FILTER_DIAGNOSIS`).
    ClosedBeforePortInit,
}

enum Dispatch {
    Data(Bytes),
    Init(String, bool),
    Port(bool),
    UnexpectedPort(String),
    Notice(String),
    End(ChannelEnd),
}

/// What the WebDAV channel needs besides its socket.
pub struct WebdavContext {
    /// Whether to send LZ4 COMPRESSED_DATA, frame by frame.
    pub outbound: Arc<Outbound>,
    /// LZ4 was offered at the link, so the server may send COMPRESSED_DATA.
    pub lz4_offered: bool,
    /// The share to serve.
    pub share: ShareSlot,
    /// Settings.
    pub config: WebdavConfig,
    /// Counters the front end reads.
    pub stats: Arc<WebdavStats>,
    /// Where events go.
    pub events: mpsc::Sender<WebdavEvent>,
}

/// Runs the channel until the socket closes. Dropping the future drops every client and closes the channel.
pub async fn run_webdav<R: AsyncRead + Unpin + Send + 'static>(
    reader: MessageReader<R>,
    writer: WriterHandle,
    ctx: WebdavContext,
) -> ChannelEnd {
    let (dispatch_tx, dispatch_rx) = mpsc::channel(DISPATCH_QUEUE);
    let lz4_offered = ctx.lz4_offered;
    let stats = ctx.stats.clone();
    let _reader = AbortOnDrop(tokio::spawn(socket_reader(reader, writer.clone(), dispatch_tx, lz4_offered, stats)));
    let mut d = Dispatcher::new(writer, ctx);
    d.run(dispatch_rx).await
}

/// The socket reader: the channel driver answers base messages at once, this handler decodes VMC messages and
/// queues them for the dispatcher. `lz4_offered`: ryll advertised LZ4, so the server may send COMPRESSED_DATA.
async fn socket_reader<R: AsyncRead + Unpin + Send>(
    mut reader: MessageReader<R>,
    writer: WriterHandle,
    out: mpsc::Sender<Dispatch>,
    lz4_offered: bool,
    stats: Arc<WebdavStats>,
) {
    let mut handler = VmcReader { out: out.clone(), lz4_offered, stats };
    let end = drive(&mut reader, &writer, &mut handler).await;
    let _ = out.send(Dispatch::End(end)).await;
}

struct VmcReader {
    out: mpsc::Sender<Dispatch>,
    lz4_offered: bool,
    stats: Arc<WebdavStats>,
}

impl VmcReader {
    /// Queues an item for the dispatcher; when it is gone, the channel ends.
    async fn queue(&self, item: Dispatch) -> Option<ChannelEnd> {
        self.out.send(item).await.err().map(|_| ChannelEnd::Failed("the dispatcher stopped".into()))
    }
}

impl MessageHandler for VmcReader {
    async fn on_message(&mut self, msg: RawMessage, _replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        if msg.msg_type == msg::SPICEVMC_COMPRESSED_DATA && !self.lz4_offered {
            limited("webdav compressed not offered", |more| {
                tracing::warn!(
                    "webdav: the server sent COMPRESSED_DATA ({} bytes) although ryll did not offer LZ4; \
                     message dropped{more}",
                    msg.body.len()
                )
            });
            return None;
        }
        let item = match decode_incoming(msg.msg_type, &msg.body) {
            Ok(Some(VmcIncoming::Data(data))) => {
                if msg.msg_type == msg::SPICEVMC_COMPRESSED_DATA {
                    let c = &self.stats.compression;
                    c.received_raw.fetch_add(data.len() as u64, Ordering::Relaxed);
                    c.received_wire.fetch_add(msg.body.len() as u64, Ordering::Relaxed);
                }
                Dispatch::Data(data)
            }
            Ok(Some(VmcIncoming::PortInit(init))) if init.name != WEBDAV_PORT_NAME => {
                Dispatch::UnexpectedPort(init.name)
            }
            Ok(Some(VmcIncoming::PortInit(init))) => Dispatch::Init(init.name, init.opened),
            Ok(Some(VmcIncoming::PortEvent(PortEvent::Opened))) => Dispatch::Port(true),
            Ok(Some(VmcIncoming::PortEvent(ev))) => {
                tracing::debug!("webdav: port event {ev:?}");
                Dispatch::Port(false)
            }
            Ok(None) => {
                tracing::debug!("webdav: message type {} ignored", msg.msg_type);
                return None;
            }
            Err(e) => {
                // Bytes of the guest's stream are lost, so the mux cannot find its frame boundaries again: the
                // channel ends and the session core relinks it, which resets the guest's connections too (the
                // guest ignores close frames). The share stays; new requests are served after the relink.
                return Some(ChannelEnd::Failed(format!("bad data from the server: {e}")));
            }
        };
        self.queue(item).await
    }

    async fn on_notice(&mut self, notice: Notify) -> Option<ChannelEnd> {
        self.queue(Dispatch::Notice(notice.message)).await
    }
}

struct Client {
    generation: u64,
    input: InputSender,
    _server: ConnectionTask,
}

/// A guest connection's HTTP server task. Dropping it marks the connection [`Dropped`] (so its writes stop at
/// once, even in the middle of a poll) and aborts the task.
struct ConnectionTask {
    task: JoinHandle<()>,
    dropped: Dropped,
}

impl Drop for ConnectionTask {
    fn drop(&mut self) {
        self.dropped.set();
        self.task.abort();
    }
}

struct Dispatcher {
    writer: WriterHandle,
    ctx: WebdavContext,
    splitter: Splitter,
    /// Where the pieces of the frame being received go: its id, or `None` to drop them.
    current: Option<ClientId>,
    opened: bool,
    clients: HashMap<ClientId, Client>,
    refused: RecentIds,
    next_generation: u64,
    frames: FramePool,
    copies: CopyPool,
    closed_tx: mpsc::Sender<(ClientId, u64)>,
    closed_rx: mpsc::Receiver<(ClientId, u64)>,
    /// When to give freed memory back: set when the last guest connection closes (see [`crate::mem`]).
    trim_at: Option<tokio::time::Instant>,
}

/// How long after the last guest connection closed its memory is given back: its tasks end meanwhile.
const TRIM_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

impl Dispatcher {
    fn new(writer: WriterHandle, ctx: WebdavContext) -> Self {
        // Every live connection task sends at most one close notice, and there are at most `max_clients` of them.
        let (closed_tx, closed_rx) = mpsc::channel(ctx.config.max_clients.max(1) + 16);
        Dispatcher {
            writer,
            ctx,
            splitter: Splitter::new(),
            current: None,
            opened: false,
            clients: HashMap::new(),
            refused: RecentIds::default(),
            next_generation: 0,
            frames: frame_pool(),
            copies: copy_pool(),
            closed_tx,
            closed_rx,
            trim_at: None,
        }
    }

    async fn run(&mut self, mut input: mpsc::Receiver<Dispatch>) -> ChannelEnd {
        loop {
            tokio::select! {
                item = input.recv() => match item {
                    None => return ChannelEnd::Failed("the channel reader stopped".into()),
                    Some(Dispatch::End(end)) => {
                        self.drop_all();
                        return end;
                    }
                    Some(Dispatch::Data(data)) => self.on_data(data).await,
                    Some(Dispatch::Port(open)) => self.on_port(open).await,
                    Some(Dispatch::Init(name, opened)) => {
                        let _ = self.ctx.events.send(WebdavEvent::PortInit { name, opened }).await;
                        self.on_port(opened).await;
                    }
                    Some(Dispatch::UnexpectedPort(name)) => {
                        let _ = self.ctx.events.send(WebdavEvent::UnexpectedPort(name)).await;
                    }
                    Some(Dispatch::Notice(text)) => {
                        let _ = self.ctx.events.send(WebdavEvent::Notice(text)).await;
                    }
                },
                Some((id, generation)) = self.closed_rx.recv() => self.on_client_ended(id, generation),
                () = sleep_until_some(self.trim_at) => {
                    self.trim_at = None;
                    if crate::mem::give_back() {
                        tracing::debug!("webdav: every guest connection closed; gave freed memory back");
                    }
                }
            }
        }
    }

    fn emit(&self, ev: WebdavEvent) {
        // Per-connection events are informational (the counters are authoritative): never block on a slow UI.
        let _ = self.ctx.events.try_send(ev);
    }

    async fn on_port(&mut self, open: bool) {
        if open == self.opened {
            return;
        }
        self.opened = open;
        if open {
            tracing::debug!("webdav: the guest opened the port (spice-webdavd is running)");
            let _ = self.ctx.events.send(WebdavEvent::PortOpened).await;
        } else {
            tracing::debug!("webdav: the guest closed the port; dropping {} connection(s)", self.clients.len());
            self.drop_all();
            let _ = self.ctx.events.send(WebdavEvent::PortClosed).await;
        }
    }

    /// Notes the number of open guest connections; when none is left, their memory is given back soon.
    fn count_clients(&mut self) {
        self.ctx.stats.open_clients.store(self.clients.len(), Ordering::Relaxed);
        if self.clients.is_empty() && self.trim_at.is_none() {
            self.trim_at = Some(tokio::time::Instant::now() + TRIM_DELAY);
        }
    }

    fn drop_all(&mut self) {
        let had = !self.clients.is_empty();
        self.clients.clear();
        self.refused.clear();
        self.splitter.reset();
        self.current = None;
        if had {
            self.count_clients();
        }
    }

    fn on_client_ended(&mut self, id: ClientId, generation: u64) {
        if self.clients.get(&id).is_some_and(|c| c.generation == generation) {
            self.clients.remove(&id);
            self.count_clients();
            self.emit(WebdavEvent::ClientClosed(id));
        }
    }

    async fn on_data(&mut self, data: Bytes) {
        if !self.opened {
            tracing::debug!("webdav: {} bytes while the port is closed, dropped", data.len());
            return;
        }
        self.splitter.push(data);
        while let Some(piece) = self.splitter.next_piece() {
            match piece {
                Piece::Close(id) => self.on_frame(id, None).await,
                Piece::Data { id, data, first: true } => self.on_frame(id, Some(data)).await,
                Piece::Data { id, data, first: false } => {
                    if self.current == Some(id) {
                        self.ctx.stats.bytes_from_guest.fetch_add(data.len() as u64, Ordering::Relaxed);
                        self.deliver(id, data, false).await;
                    }
                }
            }
        }
    }

    /// A frame starts: `first` is its first payload piece, `None` for a size-0 (close) frame.
    async fn on_frame(&mut self, id: ClientId, first: Option<Bytes>) {
        self.current = None;
        let payload = match first {
            Some(p) => p,
            None => Bytes::new(),
        };
        self.ctx.stats.bytes_from_guest.fetch_add(payload.len() as u64, Ordering::Relaxed);
        if self.refused.contains(&id) {
            if payload.is_empty() {
                self.refused.remove(&id);
            }
            return;
        }
        match route(payload.is_empty(), self.clients.contains_key(&id), self.clients.len(), self.ctx.config.max_clients)
        {
            Route::Ignore => {}
            Route::Close => {
                // The guest closed its connection: drop the client and its HTTP connection.
                if self.clients.remove(&id).is_some() {
                    self.count_clients();
                }
                self.emit(WebdavEvent::ClientClosed(id));
            }
            Route::Refuse => self.refuse(id).await,
            Route::Open => {
                self.open_client(id);
                self.current = Some(id);
                self.deliver(id, payload, true).await;
            }
            Route::Deliver => {
                self.current = Some(id);
                self.deliver(id, payload, true).await;
            }
        }
    }

    /// Answers a guest connection over the limit with 503 and a close frame. Every refused connection gets its
    /// answer; the ids remembered (so the rest of a refused request is dropped, not taken for a new one) are
    /// bounded, oldest forgotten first. The event is rate-limited where it is logged.
    async fn refuse(&mut self, id: ClientId) {
        self.emit(WebdavEvent::ClientRefused(id));
        self.refused.insert(id, self.ctx.config.max_clients.max(1));
        let mut frames = crate::webdav::mux::encode_frames(id, over_capacity_response());
        frames.extend(encode_close(id));
        let _ = self.writer.data.send(encode_outgoing(Bytes::from(frames), false)).await;
    }

    fn open_client(&mut self, id: ClientId) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let (input, input_reader) = input_pipe(PIPE_BUF, self.copies.clone());
        let dropped = Dropped::default();
        let sink = FrameSink::new(
            id,
            self.writer.clone(),
            self.ctx.outbound.clone(),
            self.ctx.stats.clone(),
            self.frames.clone(),
            dropped.clone(),
        );
        let io = tokio::io::join(input_reader, sink);
        let share = self.ctx.share.read().ok().and_then(|s| s.clone());
        let writer = self.writer.clone();
        let closed = self.closed_tx.clone();
        let task_dropped = dropped.clone();
        let task = tokio::spawn(async move {
            match share {
                Some(share) => {
                    if let Err(e) = share.serve_connection(io).await {
                        tracing::debug!("webdav: connection ended with {e}");
                    }
                }
                None => answer_not_sharing(io).await,
            }
            // Every frame of the response is on the lane already; the close follows them. A connection the
            // channel dropped sends nothing more (the guest's side of it is gone).
            if let Ok(permit) = writer.data.reserve().await {
                let close = Outgoing { msg_type: crate::protocol::vmc::MSGC_DATA, body: encode_close(id).into() };
                task_dropped.send_unless_dropped(|| permit.send(close));
            }
            let _ = closed.send((id, generation)).await;
        });
        self.clients.insert(id, Client { generation, input, _server: ConnectionTask { task, dropped } });
        self.ctx.stats.open_clients.store(self.clients.len(), Ordering::Relaxed);
        self.ctx.stats.clients_total.fetch_add(1, Ordering::Relaxed);
        self.emit(WebdavEvent::ClientOpened(id));
    }

    /// Hands `payload` to the client's HTTP server. If its connection has already ended and this piece starts a
    /// frame (`first`), the data belongs to a new request on a new connection (the guest reuses its TCP connection
    /// after our close); if the client accepts nothing for the stall limit it is dropped.
    async fn deliver(&mut self, id: ClientId, payload: Bytes, first: bool) {
        for attempt in 0..2 {
            let Some(client) = self.clients.get_mut(&id) else { return };
            match tokio::time::timeout(self.ctx.config.stall_limit, client.input.send(payload.clone())).await {
                Ok(Ok(())) => return,
                Ok(Err(_)) if attempt == 0 && first => {
                    tracing::debug!("webdav: connection {id} had ended; starting a new one for its next request");
                    self.clients.remove(&id);
                    self.open_client(id);
                }
                Ok(Err(_)) => {
                    tracing::debug!("webdav: guest connection {id} ended in the middle of a frame");
                    self.clients.remove(&id);
                    self.current = None;
                    break;
                }
                Err(_) => {
                    tracing::debug!(
                        "webdav: guest connection {id} accepted no data for {:?}; dropping it",
                        self.ctx.config.stall_limit
                    );
                    self.clients.remove(&id);
                    self.current = None;
                    self.emit(WebdavEvent::ClientStalled(id));
                    let _ = self.writer.data.send(encode_outgoing(Bytes::from(encode_close(id)), false)).await;
                    break;
                }
            }
        }
        self.count_clients();
    }
}

/// Serves a guest connection while no folder is shared: reads the request head, answers 503 with
/// `Connection: close`, then discards input until the guest closes.
async fn answer_not_sharing<IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut io: IO) {
    let mut seen: Vec<u8> = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match io.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                seen.extend_from_slice(buf.get(..n).unwrap_or(&[]));
                if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.len() > 64 * 1024 {
                    break;
                }
            }
        }
    }
    let _ = io.write_all(not_sharing_response()).await;
    // Keep the connection until the guest closes it (the response says `Connection: close`), so the rest of the
    // request's body is discarded here instead of looking like a new request.
    while let Ok(n) = io.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Waits until `at`, or forever when it is `None`.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

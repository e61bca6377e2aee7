//! The synthetic peer: the SPICE server and the guest's spice-webdavd in one, on a real loopback TCP socket.
//!
//! # What it plays
//! - **SPICE server**: the server side of the link handshake for the main and WebDAV channels (a real RSA-1024
//!   key, generated once per benchmark run, and OAEP-SHA1 ticket decryption), MAIN_INIT, CHANNELS_LIST with the
//!   WebDAV channel in answer to ATTACH_CHANNELS, and PORT_INIT "opened" on the WebDAV channel. Like
//!   spice-server it slices the guest's device stream into SPICEVMC_DATA messages of at most 65 568 bytes,
//!   regardless of frame boundaries; with LZ4 negotiated it compresses each such chunk over 1 000 bytes when that
//!   makes it smaller (`try_compress_lz4`).
//! - **spice-webdavd**: every [`MuxStream`] is one guest HTTP connection. Its writes become mux frames of at most
//!   65 535 payload bytes (`i64 id | u16 size | payload`) on one FIFO; dropping it sends the size-0 frame. Frames
//!   from ryll are demultiplexed without copying (payload pieces are slices of the received buffer) into the
//!   connection's inbound queue.
//!
//! # One deliberate difference: a client that stops reading
//! Real spice-webdavd writes each frame to the guest application's socket and reads the next frame only when that
//! write completes, so one guest application that stops reading blocks the whole port: spice-server then stops
//! reading ryll's socket and **every** guest connection stalls, which no host-side client can prevent. The peer
//! models the behaviour a daemon should have instead: it always keeps reading the socket. A connection may have
//! [`BACKLOG_LIMIT`] bytes waiting for its application; beyond that the peer closes it (a size-0 frame to ryll,
//! as when the application goes away) and discards whatever ryll still sends for the id, counting it in
//! [`MuxStats::discarded`]. The mux has no per-connection flow control, so closing is the only bounded choice.
//!
//! A size-0 frame from ryll (hyper ended the connection) ends the connection's input (EOF), where spice-webdavd
//! ignores it; the benchmark never relies on either behaviour.
//!
//! The peer runs on the benchmark's single-threaded runtime next to the HTTP clients, so a connection's backlog
//! rarely exceeds one socket read.

use bytes::{Buf, Bytes, BytesMut};
use rsa::pkcs8::EncodePublicKey;
use rsa::{Oaep, RsaPrivateKey};
use ryll::protocol::caps::Caps;
use ryll::protocol::constants::{
    msg, msgc, ChannelType, LinkError, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER,
    COMMON_CAP_PROTOCOL_AUTH_SELECTION, PUBKEY_SIZE, SPICEVMC_CAP_DATA_COMPRESS_LZ4, TICKET_SIZE,
};
use ryll::protocol::header::{encode_mini, MiniHeader, MINI_HEADER_SIZE};
use ryll::protocol::link::{AuthMechanism, LinkHeader, LinkMess, LinkReply, LINK_HEADER_SIZE};
use ryll::protocol::main_channel::{encode_channels_list, ChannelId, MainInit};
use ryll::protocol::vmc::{CompressedData, CompressionType, PortInit};
use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// spice-server reads the guest's port in chunks of at most this many bytes, one SPICEVMC_DATA message each.
pub const DEVICE_CHUNK: usize = 64 * 1024 + 32;
/// Largest frame payload (spice-webdavd reads its connections into a 65 535-byte buffer).
pub const MAX_FRAME_PAYLOAD: usize = 65_535;
/// Guest bytes queued towards ryll before guest connections wait (spice-server's `QUEUED_DATA_LIMIT`).
const OUT_LIMIT: usize = 1 << 20;
/// Bytes a guest connection may have waiting for its application before the peer closes it.
pub const BACKLOG_LIMIT: usize = 4 << 20;
/// Bytes the peer reads from the socket at once.
const READ_CHUNK: usize = 512 * 1024;
/// spice-server compresses only chunks larger than this.
const COMPRESS_THRESHOLD: usize = 1000;
/// The WebDAV port's name.
const WEBDAV_PORT: &str = "org.spice-space.webdav.0";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The SPICE server's listening socket and its RSA key.
pub struct Peer {
    listener: TcpListener,
    key: Arc<RsaPrivateKey>,
    pub_key: [u8; PUBKEY_SIZE],
}

impl Peer {
    /// Listens on 127.0.0.1 (a free port) with `key` for every link.
    pub async fn bind(key: Arc<RsaPrivateKey>) -> Result<Peer, String> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind the peer: {e}"))?;
        let der = key.to_public_key().to_public_key_der().map_err(|e| e.to_string())?;
        let pub_key: [u8; PUBKEY_SIZE] = der.as_bytes().try_into().map_err(|_| "unexpected public key size")?;
        Ok(Peer { listener, key, pub_key })
    }

    /// The address to give ryll.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("the listener has an address")
    }

    /// Accepts ryll's main channel, offers the WebDAV channel, accepts and links it, and opens the port.
    /// `lz4`: advertise LZ4 on the WebDAV channel (and compress guest data if ryll advertises it too).
    pub async fn accept_session(&self, lz4: bool) -> Result<Mux, String> {
        let session_id = 0x5eed_0001u32;
        let (mut main, _) = self.listener.accept().await.map_err(|e| e.to_string())?;
        let _ = main.set_nodelay(true);
        let mess = self.link(&mut main, Caps::new()).await?;
        if mess.channel_type != ChannelType::Main {
            return Err(format!("ryll linked {:?} first, expected the main channel", mess.channel_type));
        }
        let init = MainInit {
            session_id,
            display_channels_hint: 0,
            supported_mouse_modes: 3,
            current_mouse_mode: 2,
            agent_connected: 0,
            agent_tokens: 10,
            multi_media_time: 0,
            ram_hint: 0,
        };
        main.write_all(&encode_mini(msg::MAIN_INIT, &init.encode())).await.map_err(|e| e.to_string())?;
        loop {
            let (t, _) = read_message(&mut main).await.map_err(|e| format!("main channel: {e}"))?;
            if t == msgc::MAIN_ATTACH_CHANNELS {
                break;
            }
        }
        let webdav = ChannelId { channel_type: ChannelType::Webdav, id: 0 };
        let list = encode_mini(msg::MAIN_CHANNELS_LIST, &encode_channels_list(&[webdav]));
        main.write_all(&list).await.map_err(|e| e.to_string())?;
        // Keep the main channel open and drain whatever ryll sends on it.
        let main_task = tokio::spawn(async move { while read_message(&mut main).await.is_ok() {} });

        let (mut sock, _) = self.listener.accept().await.map_err(|e| e.to_string())?;
        let _ = sock.set_nodelay(true);
        let caps = if lz4 { Caps::with(&[SPICEVMC_CAP_DATA_COMPRESS_LZ4]) } else { Caps::new() };
        let mess = self.link(&mut sock, caps).await?;
        if mess.channel_type != ChannelType::Webdav || mess.connection_id != session_id {
            return Err(format!("unexpected link {:?} (connection id {:#x})", mess.channel_type, mess.connection_id));
        }
        let init = PortInit { name: WEBDAV_PORT.into(), opened: true };
        sock.write_all(&encode_mini(msg::PORT_INIT, &init.encode())).await.map_err(|e| e.to_string())?;
        let compress = lz4 && mess.channel_caps.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4);
        Ok(Mux::start(sock, compress, main_task))
    }

    /// The server side of one link handshake.
    async fn link(&self, s: &mut TcpStream, channel_caps: Caps) -> Result<LinkMess, String> {
        let e = |e: io::Error| format!("link: {e}");
        let mut header = [0u8; LINK_HEADER_SIZE];
        s.read_exact(&mut header).await.map_err(e)?;
        let header = LinkHeader::parse(&header).map_err(|e| e.to_string())?;
        let mut body = vec![0u8; header.size as usize];
        s.read_exact(&mut body).await.map_err(e)?;
        let mess = LinkMess::parse(&body).map_err(|e| e.to_string())?;
        let reply = LinkReply {
            error: LinkError::Ok,
            pub_key: self.pub_key,
            common_caps: Caps::with(&[
                COMMON_CAP_PROTOCOL_AUTH_SELECTION,
                COMMON_CAP_AUTH_SPICE,
                COMMON_CAP_MINI_HEADER,
            ]),
            channel_caps,
        };
        s.write_all(&reply.encode()).await.map_err(e)?;
        if mess.common_caps.has(COMMON_CAP_PROTOCOL_AUTH_SELECTION) {
            let mut mech = [0u8; 4];
            s.read_exact(&mut mech).await.map_err(e)?;
            if !matches!(AuthMechanism::parse(&mech), Ok(AuthMechanism::Spice)) {
                return Err(format!("ryll selected auth mechanism {mech:?}"));
            }
        }
        if !mess.common_caps.has(COMMON_CAP_MINI_HEADER) {
            return Err("ryll does not advertise the mini header".into());
        }
        let mut ticket = [0u8; TICKET_SIZE];
        s.read_exact(&mut ticket).await.map_err(e)?;
        self.key
            .decrypt(Oaep::new::<sha1::Sha1>(), &ticket)
            .map_err(|e| format!("the ticket does not decrypt: {e}"))?;
        s.write_all(&LinkError::Ok.to_u32().to_le_bytes()).await.map_err(e)?;
        Ok(mess)
    }
}

/// Reads one mini-header message (link-time helper; the WebDAV channel has its own buffered reader).
async fn read_message(s: &mut TcpStream) -> io::Result<(u16, Vec<u8>)> {
    let mut header = [0u8; MINI_HEADER_SIZE];
    s.read_exact(&mut header).await?;
    let h = MiniHeader::parse(&header, 1 << 20).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let mut body = vec![0u8; h.size as usize];
    s.read_exact(&mut body).await?;
    Ok((h.msg_type, body))
}

/// Counters of one WebDAV channel, as the peer saw it.
#[derive(Debug, Default)]
pub struct MuxStats {
    /// Bytes read from ryll's socket (SPICE headers included).
    pub wire_in: AtomicU64,
    /// Bytes written to ryll's socket.
    pub wire_out: AtomicU64,
    /// Frame payload bytes received from ryll (after decompression).
    pub payload_in: AtomicU64,
    /// Frame payload bytes sent to ryll.
    pub payload_out: AtomicU64,
    /// Payload bytes ryll sent for connections the peer had closed or never opened.
    pub discarded: AtomicU64,
    /// Connections the peer closed because their application stopped reading.
    pub overflow_closes: AtomicU64,
    /// COMPRESSED_DATA messages received from ryll.
    pub compressed_in: AtomicU64,
    /// COMPRESSED_DATA messages sent to ryll.
    pub compressed_out: AtomicU64,
}

/// A snapshot of [`MuxStats`].
#[derive(Debug, Clone, Copy, Default)]
pub struct MuxSnapshot {
    pub wire_in: u64,
    pub wire_out: u64,
    pub payload_in: u64,
    pub payload_out: u64,
    pub discarded: u64,
    pub overflow_closes: u64,
    pub compressed_in: u64,
    pub compressed_out: u64,
}

impl MuxStats {
    fn snapshot(&self) -> MuxSnapshot {
        MuxSnapshot {
            wire_in: self.wire_in.load(Relaxed),
            wire_out: self.wire_out.load(Relaxed),
            payload_in: self.payload_in.load(Relaxed),
            payload_out: self.payload_out.load(Relaxed),
            discarded: self.discarded.load(Relaxed),
            overflow_closes: self.overflow_closes.load(Relaxed),
            compressed_in: self.compressed_in.load(Relaxed),
            compressed_out: self.compressed_out.load(Relaxed),
        }
    }
}

/// The guest's device stream towards ryll: frames of every connection, in order.
#[derive(Default)]
struct OutQueue {
    buf: Vec<u8>,
    /// The writer holds a batch it has not finished writing.
    writing: bool,
    closed: bool,
    writer: Option<Waker>,
    waiting: Vec<Waker>,
}

impl OutQueue {
    fn push_frame(&mut self, id: i64, payload: &[u8]) {
        self.buf.extend_from_slice(&id.to_le_bytes());
        self.buf.extend_from_slice(&(payload.len() as u16).to_le_bytes());
        self.buf.extend_from_slice(payload);
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// What ryll sent to one guest connection and the application has not read yet.
#[derive(Default)]
struct Inbound {
    chunks: VecDeque<Bytes>,
    len: usize,
    /// ryll ended the connection (size-0 frame) or the channel closed.
    eof: bool,
    /// The peer closed the connection because its backlog overflowed.
    reset: bool,
    waker: Option<Waker>,
}

impl Inbound {
    fn wake(&mut self) {
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

struct Shared {
    out: Mutex<OutQueue>,
    clients: Mutex<HashMap<i64, Arc<Mutex<Inbound>>>>,
    stats: MuxStats,
    next: AtomicI64,
    error: Mutex<Option<String>>,
    /// The reader stops reading ryll's socket while set ([`Mux::hold_reads`]).
    hold: AtomicBool,
    resume: tokio::sync::Notify,
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The running WebDAV channel: open guest connections with [`Mux::connect`]. Dropping it closes both channels.
pub struct Mux {
    shared: Arc<Shared>,
    _tasks: Vec<AbortOnDrop>,
}

impl Mux {
    fn start(sock: TcpStream, compress: bool, main_task: JoinHandle<()>) -> Mux {
        let shared = Arc::new(Shared {
            out: Mutex::new(OutQueue { buf: Vec::with_capacity(OUT_LIMIT + 2 * DEVICE_CHUNK), ..Default::default() }),
            clients: Mutex::new(HashMap::new()),
            stats: MuxStats::default(),
            next: AtomicI64::new(0),
            error: Mutex::new(None),
            hold: AtomicBool::new(false),
            resume: tokio::sync::Notify::new(),
        });
        let (rd, wr) = sock.into_split();
        let reader = tokio::spawn(read_loop(rd, shared.clone()));
        let writer = tokio::spawn(write_loop(wr, shared.clone(), compress));
        Mux { shared, _tasks: vec![AbortOnDrop(main_task), AbortOnDrop(reader), AbortOnDrop(writer)] }
    }

    /// Opens a guest connection (spice-webdavd accepted a local client). Its first write opens it at ryll.
    pub fn connect(&self) -> MuxStream {
        // Like spice-webdavd's truncated pointers: arbitrary, here negative.
        let n = self.shared.next.fetch_add(1, Relaxed);
        let id = i64::from(0x9abc_0000u32.wrapping_add((n as u32).wrapping_mul(0x130)) as i32);
        let inbound = Arc::new(Mutex::new(Inbound::default()));
        lock(&self.shared.clients).insert(id, inbound.clone());
        MuxStream { id, shared: self.shared.clone(), inbound, closed: false }
    }

    /// The channel's counters.
    pub fn stats(&self) -> MuxSnapshot {
        self.shared.stats.snapshot()
    }

    /// Why the channel failed, if it did.
    pub fn error(&self) -> Option<String> {
        lock(&self.shared.error).clone()
    }

    /// Stops reading ryll's socket (`true`), as a SPICE server whose guest port is blocked does, or reads on.
    pub fn hold_reads(&self, on: bool) {
        self.shared.hold.store(on, Relaxed);
        if !on {
            self.shared.resume.notify_one();
        }
    }

    /// Whether every frame queued towards ryll has been handed to the socket.
    pub fn sent_all(&self) -> bool {
        let q = lock(&self.shared.out);
        q.buf.is_empty() && !q.writing
    }
}

/// One guest connection through the mux.
pub struct MuxStream {
    id: i64,
    shared: Arc<Shared>,
    inbound: Arc<Mutex<Inbound>>,
    closed: bool,
}

impl MuxStream {
    fn close(&mut self) {
        // After an overflow the peer has already sent the size-0 frame.
        if !self.closed && !lock(&self.inbound).reset {
            self.closed = true;
            lock(&self.shared.out).push_frame(self.id, &[]);
        }
    }

    /// Sends `len` payload bytes (`x`) as frames of `frame` bytes each, straight into the device stream: a
    /// guest that writes one byte at a time. Waits, like [`AsyncWrite`], while the stream is full.
    pub async fn send_frames(&self, mut len: usize, frame: usize) -> io::Result<()> {
        let piece = vec![b'x'; frame.clamp(1, MAX_FRAME_PAYLOAD)];
        while len > 0 {
            poll_fn(|cx| {
                let mut q = lock(&self.shared.out);
                if q.closed {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::BrokenPipe)));
                }
                if q.buf.len() >= OUT_LIMIT {
                    q.waiting.push(cx.waker().clone());
                    return Poll::Pending;
                }
                while q.buf.len() < OUT_LIMIT && len > 0 {
                    let n = len.min(piece.len());
                    q.push_frame(self.id, &piece[..n]);
                    self.shared.stats.payload_out.fetch_add(n as u64, Relaxed);
                    len -= n;
                }
                Poll::Ready(Ok(()))
            })
            .await?;
        }
        Ok(())
    }
}

impl Drop for MuxStream {
    fn drop(&mut self) {
        self.close();
        lock(&self.shared.clients).remove(&self.id);
    }
}

impl AsyncRead for MuxStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut st = lock(&self.inbound);
        if st.chunks.is_empty() {
            if st.reset {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, "closed by the peer")));
            }
            if st.eof {
                return Poll::Ready(Ok(()));
            }
            st.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut copied = 0;
        while buf.remaining() > 0 {
            let Some(front) = st.chunks.front_mut() else { break };
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front[..n]);
            front.advance(n);
            copied += n;
            if front.is_empty() {
                st.chunks.pop_front();
            }
        }
        st.len -= copied;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MuxStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let mut q = lock(&self.shared.out);
        if q.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if q.buf.len() >= OUT_LIMIT {
            q.waiting.push(cx.waker().clone());
            return Poll::Pending;
        }
        let n = data.len().min(MAX_FRAME_PAYLOAD);
        if n > 0 {
            q.push_frame(self.id, &data[..n]);
            self.shared.stats.payload_out.fetch_add(n as u64, Relaxed);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.close();
        Poll::Ready(Ok(()))
    }
}

fn fail(shared: &Shared, why: String) {
    lock(&shared.error).get_or_insert(why);
    let mut q = lock(&shared.out);
    q.closed = true;
    for w in q.waiting.drain(..) {
        w.wake();
    }
    if let Some(w) = q.writer.take() {
        w.wake();
    }
    drop(q);
    for c in lock(&shared.clients).values() {
        let mut st = lock(c);
        st.eof = true;
        st.wake();
    }
}

/// Writes the device stream to ryll: SPICEVMC_DATA messages of at most [`DEVICE_CHUNK`] bytes (LZ4
/// COMPRESSED_DATA where that is smaller, if negotiated), headers and data gathered in one vectored write.
async fn write_loop(mut wr: OwnedWriteHalf, shared: Arc<Shared>, compress: bool) {
    let mut batch: Vec<u8> = Vec::with_capacity(OUT_LIMIT + 2 * DEVICE_CHUNK);
    let mut packed: Vec<u8> = Vec::new();
    loop {
        let got = poll_fn(|cx| {
            let mut q = lock(&shared.out);
            if !q.buf.is_empty() {
                std::mem::swap(&mut q.buf, &mut batch);
                q.writing = true;
                for w in q.waiting.drain(..) {
                    w.wake();
                }
                Poll::Ready(true)
            } else if q.closed {
                Poll::Ready(false)
            } else {
                q.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
        if !got {
            return;
        }
        let result = if compress {
            packed.clear();
            for chunk in batch.chunks(DEVICE_CHUNK) {
                let lz = (chunk.len() > COMPRESS_THRESHOLD).then(|| lz4_flex::block::compress(chunk));
                match lz {
                    Some(c) if c.len() < chunk.len() => {
                        let body = CompressedData {
                            kind: CompressionType::Lz4,
                            uncompressed_size: chunk.len() as u32,
                            data: &c,
                        }
                        .encode();
                        packed.extend_from_slice(&encode_mini(msg::SPICEVMC_COMPRESSED_DATA, &body));
                        shared.stats.compressed_out.fetch_add(1, Relaxed);
                    }
                    _ => packed.extend_from_slice(&encode_mini(msg::SPICEVMC_DATA, chunk)),
                }
            }
            shared.stats.wire_out.fetch_add(packed.len() as u64, Relaxed);
            wr.write_all(&packed).await
        } else {
            let headers: Vec<[u8; MINI_HEADER_SIZE]> = batch
                .chunks(DEVICE_CHUNK)
                .map(|c| MiniHeader { msg_type: msg::SPICEVMC_DATA, size: c.len() as u32 }.encode())
                .collect();
            let mut parts: Vec<&[u8]> = Vec::with_capacity(headers.len() * 2);
            for (h, c) in headers.iter().zip(batch.chunks(DEVICE_CHUNK)) {
                parts.push(h);
                parts.push(c);
            }
            shared.stats.wire_out.fetch_add(parts.iter().map(|p| p.len() as u64).sum(), Relaxed);
            write_all_vectored(&mut wr, &parts).await
        };
        batch.clear();
        lock(&shared.out).writing = false;
        if let Err(e) = result {
            fail(&shared, format!("writing to ryll: {e}"));
            return;
        }
    }
}

async fn write_all_vectored(wr: &mut OwnedWriteHalf, parts: &[&[u8]]) -> io::Result<()> {
    let (mut i, mut off) = (0usize, 0usize);
    while i < parts.len() {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len() - i);
        slices.push(IoSlice::new(&parts[i][off..]));
        slices.extend(parts[i + 1..].iter().map(|p| IoSlice::new(p)));
        let mut n = wr.write_vectored(&slices).await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        while n > 0 && i < parts.len() {
            let left = parts[i].len() - off;
            if n >= left {
                n -= left;
                i += 1;
                off = 0;
            } else {
                off += n;
                n = 0;
            }
        }
    }
    Ok(())
}

/// Reads ryll's messages and hands frame payloads to the guest connections without copying them.
async fn read_loop(mut rd: OwnedReadHalf, shared: Arc<Shared>) {
    let mut buf = BytesMut::with_capacity(2 * READ_CHUNK);
    let mut demux = Demux::default();
    loop {
        while shared.hold.load(Relaxed) {
            shared.resume.notified().await;
        }
        if buf.capacity() - buf.len() < READ_CHUNK / 2 {
            buf.reserve(READ_CHUNK);
        }
        match rd.read_buf(&mut buf).await {
            Ok(0) => return fail(&shared, "ryll closed the WebDAV channel".into()),
            Ok(n) => shared.stats.wire_in.fetch_add(n as u64, Relaxed),
            Err(e) => return fail(&shared, format!("reading from ryll: {e}")),
        };
        while buf.len() >= MINI_HEADER_SIZE {
            let header = match MiniHeader::parse(&buf[..MINI_HEADER_SIZE], 4 << 20) {
                Ok(h) => h,
                Err(e) => return fail(&shared, format!("bad message from ryll: {e}")),
            };
            if buf.len() < MINI_HEADER_SIZE + header.size as usize {
                break;
            }
            buf.advance(MINI_HEADER_SIZE);
            let body = buf.split_to(header.size as usize).freeze();
            match header.msg_type {
                msgc::SPICEVMC_DATA => demux.feed(body, &shared),
                msgc::SPICEVMC_COMPRESSED_DATA => match decompress(&body) {
                    Ok(data) => {
                        shared.stats.compressed_in.fetch_add(1, Relaxed);
                        demux.feed(data, &shared);
                    }
                    Err(e) => return fail(&shared, format!("bad COMPRESSED_DATA from ryll: {e}")),
                },
                // PONG, ACK and the rest: nothing to do.
                _ => {}
            }
        }
        // Let the guest connections take what arrived before reading more, as their sockets would.
        tokio::task::yield_now().await;
    }
}

fn decompress(body: &[u8]) -> Result<Bytes, String> {
    let c = CompressedData::parse(body).map_err(|e| e.to_string())?;
    match c.kind {
        CompressionType::None => Ok(Bytes::copy_from_slice(c.data)),
        CompressionType::Lz4 => lz4_flex::block::decompress(c.data, c.uncompressed_size as usize)
            .map(Bytes::from)
            .map_err(|e| e.to_string()),
    }
}

/// Frame reassembly that never copies payload: pieces of a frame are delivered as they arrive.
#[derive(Default)]
struct Demux {
    header: [u8; 10],
    have: usize,
    /// The frame being received: its id and the payload bytes still to come.
    current: Option<(i64, usize)>,
}

impl Demux {
    fn feed(&mut self, mut data: Bytes, shared: &Shared) {
        while !data.is_empty() {
            match self.current {
                Some((id, left)) => {
                    let n = left.min(data.len());
                    deliver(shared, id, data.split_to(n));
                    self.current = (left > n).then_some((id, left - n));
                }
                None => {
                    let n = (10 - self.have).min(data.len());
                    self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
                    data.advance(n);
                    self.have += n;
                    if self.have == 10 {
                        self.have = 0;
                        let mut h = &self.header[..];
                        let id = h.get_i64_le();
                        let size = h.get_u16_le() as usize;
                        if size == 0 {
                            end_of_input(shared, id);
                        } else {
                            self.current = Some((id, size));
                        }
                    }
                }
            }
        }
    }
}

fn deliver(shared: &Shared, id: i64, piece: Bytes) {
    let len = piece.len();
    shared.stats.payload_in.fetch_add(len as u64, Relaxed);
    let Some(client) = lock(&shared.clients).get(&id).cloned() else {
        shared.stats.discarded.fetch_add(len as u64, Relaxed);
        return;
    };
    let mut st = lock(&client);
    if st.reset {
        shared.stats.discarded.fetch_add(len as u64, Relaxed);
        return;
    }
    if st.len + len > BACKLOG_LIMIT {
        // The application stopped reading: close its connection rather than block the port.
        st.reset = true;
        st.chunks.clear();
        st.len = 0;
        st.wake();
        drop(st);
        shared.stats.overflow_closes.fetch_add(1, Relaxed);
        shared.stats.discarded.fetch_add(len as u64, Relaxed);
        lock(&shared.out).push_frame(id, &[]);
        return;
    }
    st.len += len;
    st.chunks.push_back(piece);
    st.wake();
}

fn end_of_input(shared: &Shared, id: i64) {
    if let Some(client) = lock(&shared.clients).get(&id) {
        let mut st = lock(client);
        st.eof = true;
        st.wake();
    }
}

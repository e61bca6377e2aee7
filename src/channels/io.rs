//! Message I/O for a linked channel: a bounded message reader and a writer task with a priority lane.
//!
//! The reader turns the byte stream into `(type, body)` messages, never accepting a body over the channel's
//! message-size bound. It reads in chunks of [`READ_CHUNK`] bytes and hands out each body as a slice of its read
//! buffer (no zero-filling, no copy), so a stream of 64 KiB messages costs about one system call per two messages.
//! The writer task owns the write half; producers hand it messages through two bounded queues: `control` (PONG,
//! ACK, ...) which is always drained first, and `data` (bulk payloads). The writer gathers the queued messages into
//! one vectored socket write (headers and bodies as they are, nothing copied) of up to [`MAX_COALESCE`] bytes, so
//! neither small messages nor large ones cost a system call or a copy each.

use crate::capture::{ChannelCapture, Direction};
use crate::protocol::header::{FullHeader, MiniHeader, FULL_HEADER_SIZE, MINI_HEADER_SIZE};
use crate::protocol::ProtocolError;
use bytes::{Buf, Bytes, BytesMut};
use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// A capture file shared by a channel's reader and writer.
pub type SharedCapture = Arc<Mutex<ChannelCapture>>;

/// Records `bytes` into the capture, if any; a capture failure is logged once and then ignored.
pub fn record(capture: &Option<SharedCapture>, dir: Direction, bytes: &[u8]) {
    if let Some(cap) = capture {
        if let Ok(mut cap) = cap.lock() {
            if let Err(e) = cap.record(dir, bytes) {
                tracing::debug!("capture write failed: {e}");
            }
        }
    }
}

/// Bytes moved by one channel, readable from any thread.
#[derive(Debug, Default)]
pub struct ByteCounters {
    /// Bytes received from the server.
    pub bytes_in: AtomicU64,
    /// Bytes sent to the server.
    pub bytes_out: AtomicU64,
    /// Messages received from the server.
    pub messages_in: AtomicU64,
    /// Messages sent to the server.
    pub messages_out: AtomicU64,
}

impl ByteCounters {
    /// Bytes (in, out).
    pub fn get(&self) -> (u64, u64) {
        (self.bytes_in.load(Ordering::Relaxed), self.bytes_out.load(Ordering::Relaxed))
    }

    /// Messages (in, out).
    pub fn messages(&self) -> (u64, u64) {
        (self.messages_in.load(Ordering::Relaxed), self.messages_out.load(Ordering::Relaxed))
    }
}

/// Which data header the link negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderMode {
    /// 6-byte mini header (what every current server uses).
    Mini,
    /// 18-byte full header with serials.
    Full,
}

/// A message as read from the wire.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// Message type.
    pub msg_type: u16,
    /// Body.
    pub body: Bytes,
}

/// An error while reading or writing messages.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// The socket failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something malformed.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// The peer closed the connection in the middle of a message.
    #[error("the server closed the connection in the middle of a message")]
    TruncatedMessage,
}

/// Bytes the reader asks the socket for at once (two 64 KiB VMC messages).
pub const READ_CHUNK: usize = 128 * 1024;
/// Size of the reader's reusable buffers: each holds several reads, and the ring of [`READ_ARENAS`] covers what a
/// channel keeps alive at once (the dispatch queue plus the connections' input pipes).
const READ_ARENA: usize = 1024 * 1024;
/// How many [`READ_ARENA`] buffers the reader keeps for reuse.
const READ_ARENAS: usize = 4;

/// A few large buffers that are carved into smaller ones and reused once everything carved from them has been
/// dropped, so a steady stream of messages neither allocates nor touches fresh pages (page faults) per message.
/// Holds at most `max_arenas` buffers of `arena_size` bytes; when all are still in use it falls back to plain
/// allocations.
#[derive(Debug)]
pub struct BufRing {
    arenas: Vec<BytesMut>,
    current: usize,
    arena_size: usize,
    max_arenas: usize,
}

impl BufRing {
    /// A ring of up to `max_arenas` buffers of `arena_size` bytes (allocated when first needed).
    pub fn new(arena_size: usize, max_arenas: usize) -> Self {
        BufRing { arenas: Vec::new(), current: 0, arena_size, max_arenas }
    }

    /// An empty buffer with room for exactly `n` bytes.
    pub fn take(&mut self, n: usize) -> BytesMut {
        if n > self.arena_size {
            return BytesMut::with_capacity(n);
        }
        let count = self.arenas.len();
        for i in 0..count {
            let idx = (self.current + i) % count;
            let Some(arena) = self.arenas.get_mut(idx) else { break };
            // The arena's unused tail, or the whole arena again once nothing carved from it is alive.
            if arena.capacity() >= n || arena.try_reclaim(n) {
                self.current = idx;
                let rest = arena.split_off(n);
                return std::mem::replace(arena, rest);
            }
        }
        if count < self.max_arenas {
            let mut fresh = BytesMut::with_capacity(self.arena_size);
            let rest = fresh.split_off(n);
            self.arenas.push(rest);
            self.current = count;
            return fresh;
        }
        BytesMut::with_capacity(n)
    }
}

/// Reads messages from a channel's read half.
pub struct MessageReader<R> {
    inner: R,
    mode: HeaderMode,
    max_size: u32,
    capture: Option<SharedCapture>,
    counters: Arc<ByteCounters>,
    /// Bytes read and not yet returned; bodies are split off it. Holds at most one partial message plus one read.
    buf: BytesMut,
    /// Where `buf` comes from: read buffers are reused once every body split off them has been dropped.
    ring: BufRing,
}

impl<R: AsyncRead + Unpin> MessageReader<R> {
    /// Wraps a read half; bodies larger than `max_size` are a protocol error.
    pub fn new(
        inner: R,
        mode: HeaderMode,
        max_size: u32,
        capture: Option<SharedCapture>,
        counters: Arc<ByteCounters>,
    ) -> Self {
        MessageReader {
            inner,
            mode,
            max_size,
            capture,
            counters,
            buf: BytesMut::new(),
            ring: BufRing::new(READ_ARENA, READ_ARENAS),
        }
    }

    fn header_len(&self) -> usize {
        match self.mode {
            HeaderMode::Mini => MINI_HEADER_SIZE,
            HeaderMode::Full => FULL_HEADER_SIZE,
        }
    }

    /// Parses the header at the start of the buffer, if it is complete: `(type, body size)`.
    fn parse_header(&self) -> Result<Option<(u16, usize)>, IoError> {
        let Some(header) = self.buf.get(..self.header_len()) else { return Ok(None) };
        Ok(Some(match self.mode {
            HeaderMode::Mini => {
                let h = MiniHeader::parse(header, self.max_size)?;
                (h.msg_type, h.size as usize)
            }
            HeaderMode::Full => {
                let h = FullHeader::parse(header, self.max_size)?;
                (h.msg_type, h.size as usize)
            }
        }))
    }

    /// Reads the next message; `Ok(None)` on a clean end of stream between messages.
    pub async fn read_message(&mut self) -> Result<Option<RawMessage>, IoError> {
        let header_len = self.header_len();
        loop {
            // The header is checked (size bound) as soon as it is complete, before waiting for the body.
            let parsed = self.parse_header()?;
            let needed = match parsed {
                Some((msg_type, size)) if self.buf.len() >= header_len + size => {
                    let mut whole = self.buf.split_to(header_len + size);
                    self.counters.bytes_in.fetch_add(whole.len() as u64, Ordering::Relaxed);
                    self.counters.messages_in.fetch_add(1, Ordering::Relaxed);
                    record(&self.capture, Direction::ServerToClient, &whole);
                    whole.advance(header_len);
                    return Ok(Some(RawMessage { msg_type, body: whole.freeze() }));
                }
                Some((_, size)) => header_len + size,
                None => header_len,
            };
            // Room for the rest of this message and, while at it, a full read: in place if the bodies split off
            // earlier are gone, else in a buffer from the ring (the partial message moves there).
            let want = (needed - self.buf.len()).max(READ_CHUNK);
            if !self.buf.try_reclaim(want) {
                let mut fresh = self.ring.take(self.buf.len() + want);
                fresh.extend_from_slice(&self.buf);
                self.buf = fresh;
            }
            if self.inner.read_buf(&mut self.buf).await? == 0 {
                return if self.buf.is_empty() { Ok(None) } else { Err(IoError::TruncatedMessage) };
            }
        }
    }
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Message type.
    pub msg_type: u16,
    /// Body.
    pub body: Bytes,
}

impl Outgoing {
    /// A message from a `(type, body)` pair as the protocol encoders return it.
    pub fn from_pair((msg_type, body): (u16, Vec<u8>)) -> Self {
        Outgoing { msg_type, body: Bytes::from(body) }
    }
}

/// Queues into a channel's writer task.
#[derive(Clone)]
pub struct WriterHandle {
    /// Small, urgent messages (PONG, ACK); drained before `data`.
    pub control: mpsc::Sender<Outgoing>,
    /// Bulk messages.
    pub data: mpsc::Sender<Outgoing>,
}

/// Capacity of the control queue.
const CONTROL_QUEUE: usize = 64;
/// Largest number of bytes the writer gathers into one socket write.
const MAX_COALESCE: usize = 256 * 1024;

/// Spawns the writer task for `inner`. It ends when every [`WriterHandle`] is dropped (after flushing and shutting
/// down the write side) or on a write error, which it returns.
pub fn spawn_writer<W>(
    inner: W,
    mode: HeaderMode,
    data_queue: usize,
    capture: Option<SharedCapture>,
    counters: Arc<ByteCounters>,
) -> (WriterHandle, tokio::task::JoinHandle<std::io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let (data_tx, data_rx) = mpsc::channel(data_queue.max(1));
    let task = tokio::spawn(writer_loop(inner, mode, control_rx, data_rx, capture, counters));
    (WriterHandle { control: control_tx, data: data_tx }, task)
}

/// Most messages gathered into one vectored write (two slices each, below `IOV_MAX` = 1024).
const MAX_GATHER: usize = 128;

async fn writer_loop<W: AsyncWrite + Unpin>(
    mut inner: W,
    mode: HeaderMode,
    mut control: mpsc::Receiver<Outgoing>,
    mut data: mpsc::Receiver<Outgoing>,
    capture: Option<SharedCapture>,
    counters: Arc<ByteCounters>,
) -> std::io::Result<()> {
    let mut serial: u64 = 0;
    let vectored = inner.is_write_vectored();
    let mut batch: Vec<(Header, Outgoing)> = Vec::with_capacity(MAX_GATHER);
    let mut flat: Vec<u8> = Vec::new();
    let mut control_open = true;
    let mut data_open = true;
    while control_open || data_open {
        let first = tokio::select! {
            biased;
            m = control.recv(), if control_open => match m { Some(m) => m, None => { control_open = false; continue } },
            m = data.recv(), if data_open => match m { Some(m) => m, None => { data_open = false; continue } },
        };
        batch.clear();
        let mut total = push(&mut batch, mode, &mut serial, first);
        // Gather whatever else is already queued, control first, up to the limits.
        while total < MAX_COALESCE && batch.len() < MAX_GATHER {
            let next = match control.try_recv() {
                Ok(m) => m,
                Err(_) => match data.try_recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            total += push(&mut batch, mode, &mut serial, next);
        }
        if capture.is_some() {
            for (h, m) in &batch {
                let mut all = Vec::with_capacity(h.len() + m.body.len());
                all.extend_from_slice(h.bytes());
                all.extend_from_slice(&m.body);
                record(&capture, Direction::ClientToServer, &all);
            }
        }
        if vectored {
            let mut parts: Vec<&[u8]> = Vec::with_capacity(2 * batch.len());
            for (h, m) in &batch {
                parts.push(h.bytes());
                parts.push(&m.body);
            }
            write_all_vectored(&mut inner, &parts).await?;
        } else {
            // A stream without vectored writes (some TLS streams): one copy, still one write.
            flat.clear();
            for (h, m) in &batch {
                flat.extend_from_slice(h.bytes());
                flat.extend_from_slice(&m.body);
            }
            inner.write_all(&flat).await?;
        }
        counters.bytes_out.fetch_add(total as u64, Ordering::Relaxed);
        counters.messages_out.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
    inner.flush().await?;
    inner.shutdown().await
}

/// Adds a message to the batch; returns its size on the wire.
fn push(batch: &mut Vec<(Header, Outgoing)>, mode: HeaderMode, serial: &mut u64, m: Outgoing) -> usize {
    let h = Header::new(mode, serial, &m);
    let len = h.len() + m.body.len();
    batch.push((h, m));
    len
}

/// An encoded message header (mini or full).
struct Header {
    bytes: [u8; FULL_HEADER_SIZE],
    len: usize,
}

impl Header {
    fn new(mode: HeaderMode, serial: &mut u64, m: &Outgoing) -> Self {
        let size = m.body.len() as u32;
        let mut bytes = [0u8; FULL_HEADER_SIZE];
        let len = match mode {
            HeaderMode::Mini => {
                bytes[..MINI_HEADER_SIZE].copy_from_slice(&MiniHeader { msg_type: m.msg_type, size }.encode());
                MINI_HEADER_SIZE
            }
            HeaderMode::Full => {
                *serial += 1;
                bytes
                    .copy_from_slice(&FullHeader { serial: *serial, msg_type: m.msg_type, size, sub_list: 0 }.encode());
                FULL_HEADER_SIZE
            }
        };
        Header { bytes, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// Writes every part, in order, with as few vectored writes as the socket allows.
async fn write_all_vectored<W: AsyncWrite + Unpin>(inner: &mut W, parts: &[&[u8]]) -> std::io::Result<()> {
    let (mut i, mut off) = (0usize, 0usize);
    let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(parts.len());
    while i < parts.len() {
        slices.clear();
        slices.push(IoSlice::new(&parts[i][off..]));
        slices.extend(parts[i + 1..].iter().map(|p| IoSlice::new(p)));
        let mut n = inner.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        // Skip what was written, including empty parts.
        while i < parts.len() && n >= parts[i].len() - off {
            n -= parts[i].len() - off;
            i += 1;
            off = 0;
        }
        off += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reader_and_writer_round_trip() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let counters = Arc::new(ByteCounters::default());
        let (handle, task) = spawn_writer(a, HeaderMode::Mini, 4, None, counters.clone());
        handle.data.send(Outgoing { msg_type: 101, body: Bytes::from_static(b"hello") }).await.unwrap();
        handle.control.send(Outgoing { msg_type: 3, body: Bytes::new() }).await.unwrap();
        drop(handle);
        task.await.unwrap().unwrap();
        let mut reader = MessageReader::new(b, HeaderMode::Mini, 1024, None, Arc::new(ByteCounters::default()));
        let mut got = Vec::new();
        while let Some(m) = reader.read_message().await.unwrap() {
            got.push((m.msg_type, m.body.to_vec()));
        }
        assert_eq!(got.len(), 2);
        assert!(got.contains(&(101, b"hello".to_vec())));
        assert_eq!(counters.get().1, 6 + 5 + 6);
    }

    #[tokio::test]
    async fn reader_rejects_oversized_and_truncated_messages() {
        let mut reader = MessageReader::new(
            &[101u8, 0, 0, 0, 1, 0][..],
            HeaderMode::Mini,
            1024,
            None,
            Arc::new(ByteCounters::default()),
        );
        assert!(matches!(reader.read_message().await, Err(IoError::Protocol(_))));
        let mut reader = MessageReader::new(
            &[101u8, 0, 9, 0, 0, 0, 1][..],
            HeaderMode::Mini,
            1024,
            None,
            Arc::new(ByteCounters::default()),
        );
        assert!(matches!(reader.read_message().await, Err(IoError::TruncatedMessage)));
    }

    #[tokio::test]
    async fn full_header_mode_numbers_serials() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let (handle, task) = spawn_writer(a, HeaderMode::Full, 4, None, Arc::new(ByteCounters::default()));
        handle.data.send(Outgoing { msg_type: 7, body: Bytes::from_static(b"x") }).await.unwrap();
        drop(handle);
        task.await.unwrap().unwrap();
        let mut reader = MessageReader::new(b, HeaderMode::Full, 1024, None, Arc::new(ByteCounters::default()));
        let m = reader.read_message().await.unwrap().unwrap();
        assert_eq!((m.msg_type, &m.body[..]), (7, &b"x"[..]));
    }

    /// Hands out the stream in reads of at most `step` bytes.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            let n = self.step.min(buf.remaining()).min(self.data.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.data[at..at + n]);
            self.at += n;
            std::task::Poll::Ready(Ok(()))
        }
    }

    /// Accepts at most `step` bytes per (vectored) write and records them.
    struct Narrow {
        out: Vec<u8>,
        step: usize,
        calls: usize,
    }

    impl AsyncWrite for Narrow {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let n = buf.len().min(self.step);
            self.out.extend_from_slice(&buf[..n]);
            self.calls += 1;
            std::task::Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> std::task::Poll<std::io::Result<usize>> {
            let mut left = self.step;
            for b in bufs {
                let n = b.len().min(left);
                self.out.extend_from_slice(&b[..n]);
                left -= n;
            }
            self.calls += 1;
            std::task::Poll::Ready(Ok(self.step - left))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn poll_shutdown(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Ok(()))
        }
    }

    fn stream_of(messages: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut data = Vec::new();
        for (t, body) in messages {
            data.extend_from_slice(&MiniHeader { msg_type: *t, size: body.len() as u32 }.encode());
            data.extend_from_slice(body);
        }
        data
    }

    #[tokio::test]
    async fn reader_handles_any_read_size() {
        let messages: Vec<(u16, Vec<u8>)> =
            (0..40u16).map(|i| (100 + i, (0..usize::from(i) * 997).map(|j| j as u8).collect())).collect();
        let data = stream_of(&messages);
        for step in [1, 5, 6, 7, 4096, 65_574, 1 << 20] {
            let trickle = Trickle { data: data.clone(), at: 0, step };
            let counters = Arc::new(ByteCounters::default());
            let mut reader = MessageReader::new(trickle, HeaderMode::Mini, 1 << 20, None, counters.clone());
            let mut got = Vec::new();
            while let Some(m) = reader.read_message().await.unwrap() {
                got.push((m.msg_type, m.body.to_vec()));
            }
            assert_eq!(got, messages, "reads of {step} bytes");
            assert_eq!(counters.get().0, data.len() as u64);
        }
    }

    #[tokio::test]
    async fn reused_read_buffers_never_mix_bodies() {
        let messages: Vec<(u16, Vec<u8>)> = (0..64).map(|i| (101, vec![i as u8; 65_568 - i * 7])).collect();
        let trickle = Trickle { data: stream_of(&messages), at: 0, step: 100_000 };
        let mut reader = MessageReader::new(trickle, HeaderMode::Mini, 1 << 20, None, Arc::default());
        let mut kept = Vec::new();
        let mut i = 0;
        while let Some(m) = reader.read_message().await.unwrap() {
            // Some bodies stay alive (a slow connection), the rest are dropped at once (buffers get reused).
            assert_eq!(m.body.len(), messages[i].1.len());
            if i % 3 == 0 {
                kept.push((i, m.body));
            } else {
                assert!(m.body.iter().all(|&b| b == i as u8));
            }
            i += 1;
        }
        assert_eq!(i, 64);
        for (i, body) in kept {
            assert!(body.iter().all(|&b| b == i as u8), "body {i} was overwritten");
        }
    }

    #[tokio::test]
    async fn writer_survives_short_vectored_writes() {
        let narrow = Narrow { out: Vec::new(), step: 7, calls: 0 };
        let (tx_c, rx_c) = mpsc::channel(8);
        let (tx_d, rx_d) = mpsc::channel(8);
        let messages: Vec<(u16, Vec<u8>)> = (0..5u16).map(|i| (101 + i, vec![i as u8; usize::from(i) * 10])).collect();
        for (t, body) in &messages {
            tx_d.send(Outgoing { msg_type: *t, body: Bytes::from(body.clone()) }).await.unwrap();
        }
        drop((tx_c, tx_d));
        let mut out = narrow;
        let counters = Arc::new(ByteCounters::default());
        writer_loop(&mut out, HeaderMode::Mini, rx_c, rx_d, None, counters.clone()).await.unwrap();
        assert_eq!(out.out, stream_of(&messages));
        assert_eq!(counters.get().1, out.out.len() as u64);
        assert!(out.calls >= out.out.len() / 7);
    }

    #[test]
    fn ring_reuses_an_arena_once_its_pieces_are_gone() {
        let mut ring = BufRing::new(1000, 2);
        let a = ring.take(600);
        assert_eq!(a.capacity(), 600);
        let first = a.as_ptr();
        let b = ring.take(600);
        let c = ring.take(600);
        // Two arenas in use, a third request falls back to a plain allocation.
        let d = ring.take(600);
        assert_eq!(d.capacity(), 600);
        drop((a, b, c, d));
        let again = ring.take(900);
        assert!(again.as_ptr() == first || again.capacity() == 900);
        assert_eq!(ring.take(5000).capacity(), 5000);
    }
}

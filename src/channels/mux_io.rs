//! The two byte streams between the WebDAV channel and one guest connection's HTTP server, built so that payload
//! is copied once per direction.
//!
//! - **Guest → server**: [`input_pipe`] gives the dispatcher an [`InputSender`] and the HTTP server an
//!   [`InputReader`]. The dispatcher hands over frame payload as [`Bytes`] (slices of the received SPICE message,
//!   not copies); the server copies them into its own buffer when it reads. Pieces under 4 KiB are copied into
//!   16 KiB buffers one after the other (coalesced), and every queued entry is charged [`PIECE_COST`] bytes on
//!   top of its payload. The pipe holds at most `limit` charged bytes plus one piece, and all pipes of a channel
//!   together at most [`INPUT_BUDGET`] (an empty pipe may always take one piece), so a connection that does not
//!   read makes the dispatcher wait (the stall limit applies there), not the memory grow: a flood of one-byte
//!   frames costs about what the same bytes in large frames cost.
//! - **Server → guest**: [`FrameSink`] is the server's write half. Each write becomes one mux frame of at most
//!   65 535 payload bytes (gathered from hyper's vectored writes, copied once into the frame) that goes straight
//!   onto the socket writer's bounded data lane; the write waits while the lane is full. Waiting writers get
//!   lane slots in the order they asked (tokio's semaphore is fair), so connections take turns on the socket.

use super::compression::Outbound;
use super::io::{BufRing, Outgoing, WriterHandle};
use super::webdav::WebdavStats;
use crate::webdav::mux::{ClientId, FRAME_HEADER_SIZE, MAX_FRAME_PAYLOAD};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc::error::SendError;
use tokio::sync::mpsc::OwnedPermit;

/// Frame buffers shared by the connections of one channel: 8 × 512 KiB covers every frame the data lane and the
/// socket writer hold at once, so a transfer reuses the same memory instead of allocating 64 KiB per frame.
pub type FramePool = Arc<Mutex<BufRing>>;

/// A [`FramePool`] for one channel.
pub fn frame_pool() -> FramePool {
    Arc::new(Mutex::new(BufRing::new(512 * 1024, 8)))
}

/// What a queued piece costs beyond its bytes (its `Bytes` handle in the queue, the allocator's overhead), charged
/// against the pipe's limit and the channel's [`INPUT_BUDGET`]: a connection cannot queue more entries than
/// `limit / PIECE_COST`, whatever their size.
pub const PIECE_COST: usize = 64;
/// Pieces smaller than [`COPY_BELOW`] are copied into buffers of this size, one after the other, so a flood of
/// one-byte frames costs one byte per byte plus one entry per 16 KiB.
const COALESCE_BUF: usize = 16 * 1024;
/// The charged input (bytes plus [`PIECE_COST`] per entry) that all guest connections of one channel may have
/// queued together. At the default limits (256 clients, 256 KiB each) it is what the per-connection limits allow
/// anyway; it also holds when `--max-guest-connections` is raised.
pub const INPUT_BUDGET: usize = 64 * 1024 * 1024;

/// The channel-wide account of queued input (see [`INPUT_BUDGET`]).
struct Budget {
    used: AtomicUsize,
    limit: usize,
    /// The sender waiting for the budget (the dispatcher sends to one connection at a time).
    waiter: Mutex<Option<Waker>>,
}

impl Budget {
    fn add(&self, n: usize) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    fn sub(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.used.fetch_sub(n, Ordering::Relaxed);
        if let Some(w) = self.waiter.lock().ok().and_then(|mut w| w.take()) {
            w.wake();
        }
    }
}

/// Buffers for the pieces the dispatcher copies (see [`InputSender::send`]), shared by the connections of one
/// channel and reused once the HTTP servers have read them, plus the channel's [`INPUT_BUDGET`] account.
#[derive(Clone)]
pub struct CopyPool {
    ring: Arc<Mutex<BufRing>>,
    budget: Arc<Budget>,
}

/// A [`CopyPool`] for one channel.
pub fn copy_pool() -> CopyPool {
    copy_pool_with_budget(INPUT_BUDGET)
}

/// A [`CopyPool`] whose connections may queue `budget` charged bytes together.
pub fn copy_pool_with_budget(budget: usize) -> CopyPool {
    CopyPool {
        ring: Arc::new(Mutex::new(BufRing::new(1024 * 1024, 2))),
        budget: Arc::new(Budget { used: AtomicUsize::new(0), limit: budget, waiter: Mutex::new(None) }),
    }
}

impl CopyPool {
    /// The charged input (bytes plus [`PIECE_COST`] per entry) queued by all connections right now.
    pub fn queued(&self) -> usize {
        self.budget.used.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> BytesMut {
        self.ring.lock().map_or_else(|_| BytesMut::with_capacity(n), |mut p| p.take(n))
    }
}

/// Pieces smaller than this are copied (coalesced, see [`COALESCE_BUF`]) instead of keeping the (much larger)
/// SPICE message they came from alive while they wait in the pipe.
const COPY_BELOW: usize = 4096;

#[derive(Default)]
struct PipeState {
    pieces: VecDeque<Bytes>,
    /// Copied small pieces, after everything in `pieces`; new small pieces are appended while it has room.
    tail: BytesMut,
    /// Payload bytes queued (`pieces` and `tail`).
    len: usize,
    /// The sender is gone: end of input once `pieces` is empty.
    closed: bool,
    /// The reader is gone: sending fails.
    reader_gone: bool,
    reader: Option<Waker>,
    sender: Option<Waker>,
}

impl PipeState {
    /// Queued bytes plus [`PIECE_COST`] per entry: what the limit and the budget count.
    fn cost(&self) -> usize {
        self.len + PIECE_COST * (self.pieces.len() + usize::from(!self.tail.is_empty()))
    }

    fn flush_tail(&mut self) {
        if !self.tail.is_empty() {
            let full = self.tail.split().freeze();
            self.pieces.push_back(full);
        }
    }

    /// Queues `piece`: small ones are appended to the tail, others queued as they are or (`copy`) copied.
    fn push(&mut self, piece: Bytes, copy: bool, pool: &CopyPool) {
        self.len += piece.len();
        if piece.len() < COPY_BELOW {
            if self.tail.capacity() - self.tail.len() < piece.len() {
                self.flush_tail();
                self.tail = pool.take(COALESCE_BUF);
            }
            self.tail.extend_from_slice(&piece);
            return;
        }
        self.flush_tail();
        if copy {
            let mut c = pool.take(piece.len());
            c.extend_from_slice(&piece);
            self.pieces.push_back(c.freeze());
        } else {
            self.pieces.push_back(piece);
        }
    }
}

type Shared = Arc<Mutex<PipeState>>;

fn lock(s: &Shared) -> MutexGuard<'_, PipeState> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// A bounded pipe of payload pieces: (the dispatcher's end, the HTTP server's end). Copied pieces come from
/// `copies`, which also holds the channel's budget.
pub fn input_pipe(limit: usize, copies: CopyPool) -> (InputSender, InputReader) {
    let shared: Shared = Arc::default();
    let budget = copies.budget.clone();
    (InputSender { shared: shared.clone(), limit, copies }, InputReader { shared, budget })
}

/// The dispatcher's end of a guest connection's input.
pub struct InputSender {
    shared: Shared,
    limit: usize,
    copies: CopyPool,
}

/// The connection's HTTP server has stopped reading (it ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderGone;

impl InputSender {
    /// Queues `piece`, waiting while the pipe's charged input ([`PIECE_COST`] per entry plus its bytes) is
    /// `limit` or more, or while the channel's budget is used up and this pipe holds anything.
    ///
    /// A piece is normally queued as it is: a slice that keeps the received SPICE message alive until the server
    /// reads it. Small pieces are copied into a shared tail buffer, and pieces for a server that is behind (the
    /// pipe is half full) are copied, so slow connections hold only their own bytes, not whole messages.
    pub async fn send(&mut self, piece: Bytes) -> Result<(), ReaderGone> {
        let mut piece = Some(piece);
        let budget = &self.copies.budget;
        poll_fn(|cx| {
            let mut st = lock(&self.shared);
            if st.reader_gone {
                return Poll::Ready(Err(ReaderGone));
            }
            let before = st.cost();
            if before >= self.limit {
                st.sender = Some(cx.waker().clone());
                return Poll::Pending;
            }
            // A pipe that is empty may always take one piece, so a connection that reads is never starved.
            if before > 0 && budget.used.load(Ordering::Relaxed) >= budget.limit {
                st.sender = Some(cx.waker().clone());
                if let Ok(mut w) = budget.waiter.lock() {
                    *w = Some(cx.waker().clone());
                }
                if budget.used.load(Ordering::Relaxed) >= budget.limit {
                    return Poll::Pending;
                }
            }
            if let Some(p) = piece.take() {
                let behind = st.len >= self.limit / 2;
                st.push(p, behind, &self.copies);
                budget.add(st.cost() - before);
            }
            if let Some(w) = st.reader.take() {
                w.wake();
            }
            Poll::Ready(Ok(()))
        })
        .await
    }
}

impl Drop for InputSender {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.closed = true;
        if let Some(w) = st.reader.take() {
            w.wake();
        }
    }
}

/// The HTTP server's end of a guest connection's input.
pub struct InputReader {
    shared: Shared,
    budget: Arc<Budget>,
}

impl AsyncRead for InputReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let mut st = lock(&self.shared);
        if st.len == 0 {
            if !st.closed {
                st.reader = Some(cx.waker().clone());
                return Poll::Pending;
            }
            return Poll::Ready(Ok(()));
        }
        let before = st.cost();
        let mut copied = 0;
        while buf.remaining() > 0 {
            let Some(front) = st.pieces.front_mut() else { break };
            let n = front.len().min(buf.remaining());
            buf.put_slice(front.get(..n).unwrap_or_default());
            front.advance(n);
            copied += n;
            if front.is_empty() {
                st.pieces.pop_front();
            }
        }
        let n = st.tail.len().min(buf.remaining());
        if n > 0 {
            buf.put_slice(st.tail.get(..n).unwrap_or_default());
            st.tail.advance(n);
            copied += n;
        }
        st.len -= copied;
        if st.pieces.is_empty() && st.pieces.capacity() > 64 {
            // After a burst of entries, give the queue's memory back.
            st.pieces.shrink_to(8);
        }
        self.budget.sub(before - st.cost());
        if let Some(w) = st.sender.take() {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for InputReader {
    fn drop(&mut self) {
        let mut st = lock(&self.shared);
        st.reader_gone = true;
        let cost = st.cost();
        st.pieces = VecDeque::new();
        st.tail = BytesMut::new();
        st.len = 0;
        self.budget.sub(cost);
        if let Some(w) = st.sender.take() {
            w.wake();
        }
    }
}

type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<Outgoing>, SendError<()>>> + Send>>;

/// Set when the channel drops a guest connection (the port closed, or the connection was replaced). Aborting the
/// connection's task takes effect only at its next yield, and a task in the middle of a poll can write many
/// frames before it yields (file reads are synchronous there). Its [`FrameSink`] therefore sends each frame under
/// this lock after checking it: once [`set`](Self::set) has returned, nothing of the connection reaches the lane.
#[derive(Debug, Clone, Default)]
pub struct Dropped(Arc<Mutex<bool>>);

impl Dropped {
    /// Marks the connection as dropped; waits for a frame being sent right now.
    pub fn set(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
    }

    /// Whether the connection was dropped.
    pub fn is_set(&self) -> bool {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `send` unless the connection was dropped, holding the lock; `false` if it was dropped.
    pub fn send_unless_dropped(&self, send: impl FnOnce()) -> bool {
        let dropped = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *dropped {
            return false;
        }
        send();
        true
    }
}

/// The HTTP server's write half: every write becomes one frame on the socket writer's data lane.
pub struct FrameSink {
    id: ClientId,
    writer: WriterHandle,
    compress: Arc<Outbound>,
    stats: Arc<WebdavStats>,
    pool: FramePool,
    dropped: Dropped,
    /// A lane slot being waited for (only while the lane is full).
    reserving: Option<Reserve>,
}

impl FrameSink {
    /// A sink for connection `id` whose frames come from `pool`; the payload bytes it frames count in
    /// `stats.bytes_to_guest`. Once `dropped` is set, every write fails with `BrokenPipe`.
    pub fn new(
        id: ClientId,
        writer: WriterHandle,
        compress: Arc<Outbound>,
        stats: Arc<WebdavStats>,
        pool: FramePool,
        dropped: Dropped,
    ) -> Self {
        FrameSink { id, writer, compress, stats, pool, dropped, reserving: None }
    }

    /// Waits for a lane slot, then frames up to [`MAX_FRAME_PAYLOAD`] bytes from `bufs` into it.
    fn poll_frame(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.dropped.is_set() {
            self.reserving = None;
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let (id, compress, pool, dropped, stats) = (self.id, &self.compress, &self.pool, &self.dropped, &self.stats);
        let frame = |bufs: &[IoSlice<'_>], lane_full: bool| {
            let n = total.min(MAX_FRAME_PAYLOAD);
            let mut frame = pool
                .lock()
                .map_or_else(|_| BytesMut::with_capacity(FRAME_HEADER_SIZE + n), |mut p| p.take(FRAME_HEADER_SIZE + n));
            frame.put_i64_le(id);
            frame.put_u16_le(n as u16);
            let mut left = n;
            for b in bufs {
                let k = b.len().min(left);
                frame.put_slice(b.get(..k).unwrap_or_default());
                left -= k;
                if left == 0 {
                    break;
                }
            }
            (n, compress.encode(frame.freeze(), lane_full, &stats.compression))
        };
        if self.reserving.is_none() {
            // Fast path: a free slot and nobody waiting for one.
            match self.writer.data.try_reserve() {
                Ok(permit) => {
                    let (n, msg) = frame(bufs, false);
                    if !dropped.send_unless_dropped(|| {
                        permit.send(msg);
                    }) {
                        return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                    }
                    self.stats.bytes_to_guest.fetch_add(n as u64, Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(())) => {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
                }
                Err(tokio::sync::mpsc::error::TrySendError::Full(())) => {
                    self.reserving = Some(Box::pin(self.writer.data.clone().reserve_owned()));
                }
            }
        }
        let Some(reserving) = self.reserving.as_mut() else { return Poll::Pending };
        match reserving.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(_)) => {
                self.reserving = None;
                Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
            }
            Poll::Ready(Ok(permit)) => {
                self.reserving = None;
                let (n, msg) = frame(bufs, true);
                if !self.dropped.send_unless_dropped(|| {
                    permit.send(msg);
                }) {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                self.stats.bytes_to_guest.fetch_add(n as u64, Ordering::Relaxed);
                Poll::Ready(Ok(n))
            }
        }
    }
}

impl AsyncWrite for FrameSink {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.get_mut().poll_frame(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_frame(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Frames are on the lane as soon as they are written; the socket writer sends them without delay.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::compression::ShareCompression;

    fn plain() -> Arc<Outbound> {
        Arc::new(Outbound::new(ShareCompression::Never, false, None))
    }
    use crate::webdav::mux::Demuxer;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn pipe_delivers_pieces_in_order_and_ends() {
        let (mut tx, mut rx) = input_pipe(1024, copy_pool());
        let task = tokio::spawn(async move {
            for i in 0..100u8 {
                tx.send(Bytes::from(vec![i; 100 + usize::from(i)])).await.unwrap();
            }
        });
        let mut got = Vec::new();
        rx.read_to_end(&mut got).await.unwrap();
        task.await.unwrap();
        let want: Vec<u8> = (0..100u8).flat_map(|i| vec![i; 100 + usize::from(i)]).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn pipe_is_bounded_and_reports_a_gone_reader() {
        let (mut tx, rx) = input_pipe(1000, copy_pool());
        tx.send(Bytes::from(vec![1; 600])).await.unwrap();
        tx.send(Bytes::from(vec![2; 600])).await.unwrap();
        // 1 200 bytes queued: the next piece waits for the reader.
        let blocked = tokio::time::timeout(std::time::Duration::from_millis(50), tx.send(Bytes::from_static(b"x")));
        assert!(blocked.await.is_err());
        drop(rx);
        assert_eq!(tx.send(Bytes::from_static(b"x")).await, Err(ReaderGone));
    }

    #[tokio::test]
    async fn one_byte_pieces_are_coalesced_and_charged() {
        let pool = copy_pool();
        let (mut tx, mut rx) = input_pipe(256 * 1024, pool.clone());
        for i in 0..100_000u32 {
            tx.send(Bytes::copy_from_slice(&[i as u8])).await.unwrap();
        }
        // 100 000 bytes in 16 KiB buffers: 7 entries, not 100 000.
        assert!(pool.queued() <= 100_000 + 7 * PIECE_COST, "charged {}", pool.queued());
        let mut got = vec![0u8; 100_000];
        rx.read_exact(&mut got).await.unwrap();
        assert!(got.iter().enumerate().all(|(i, &b)| b == i as u8));
        assert_eq!(pool.queued(), 0);
    }

    #[tokio::test]
    async fn the_channel_budget_bounds_all_pipes_but_an_empty_pipe_takes_a_piece() {
        let pool = copy_pool_with_budget(10_000);
        let (mut a, _ra) = input_pipe(8_000, pool.clone());
        let (mut b, mut rb) = input_pipe(8_000, pool.clone());
        a.send(Bytes::from(vec![1; 7_000])).await.unwrap();
        b.send(Bytes::from(vec![2; 3_500])).await.unwrap();
        // 10 500 + 2 entries charged: b holds something and must wait for the budget.
        let short = std::time::Duration::from_millis(50);
        assert!(tokio::time::timeout(short, b.send(Bytes::from_static(b"x"))).await.is_err());
        let mut got = vec![0u8; 3_500];
        rb.read_exact(&mut got).await.unwrap();
        // b is empty again: it may take a piece although a still holds most of the budget.
        b.send(Bytes::from_static(b"y")).await.unwrap();
        drop(_ra);
        assert_eq!(pool.queued(), 1 + PIECE_COST);
    }

    #[tokio::test]
    async fn sink_frames_writes_of_at_most_65535_bytes() {
        let (data_tx, mut data_rx) = mpsc::channel(2);
        let (control, _control_rx) = mpsc::channel(2);
        let writer = WriterHandle { control, data: data_tx };
        let stats = Arc::new(WebdavStats::default());
        let mut sink = FrameSink::new(-7, writer, plain(), stats.clone(), frame_pool(), Dropped::default());
        let body: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let reader = tokio::spawn(async move {
            let mut demux = Demuxer::new();
            let mut frames = Vec::new();
            while let Some(m) = data_rx.recv().await {
                demux.push(&m.body);
                while let Some(f) = demux.next_frame() {
                    frames.push(f);
                }
            }
            frames
        });
        sink.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        sink.write_all(&body).await.unwrap();
        drop(sink);
        let frames = reader.await.unwrap();
        assert!(frames.iter().all(|f| f.id == -7 && !f.payload.is_empty() && f.payload.len() <= 65_535));
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload.to_vec()).collect();
        assert_eq!(&joined[..19], b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(&joined[19..], &body[..]);
        assert_eq!(stats.bytes_to_guest.load(Ordering::Relaxed), joined.len() as u64);
    }

    #[tokio::test]
    async fn sink_gathers_vectored_writes_into_one_frame() {
        let (data_tx, mut data_rx) = mpsc::channel(2);
        let (control, _control_rx) = mpsc::channel(2);
        let writer = WriterHandle { control, data: data_tx };
        let mut sink = FrameSink::new(1, writer, plain(), Arc::default(), frame_pool(), Dropped::default());
        let n = sink.write_vectored(&[IoSlice::new(b"head "), IoSlice::new(b"body")]).await.unwrap();
        assert_eq!(n, 9);
        let m = data_rx.recv().await.unwrap();
        assert_eq!(&m.body[FRAME_HEADER_SIZE..], b"head body");
    }

    #[tokio::test]
    async fn a_dropped_connection_writes_no_more_frames() {
        let (data_tx, mut data_rx) = mpsc::channel(2);
        let (control, _control_rx) = mpsc::channel(2);
        let writer = WriterHandle { control, data: data_tx };
        let dropped = Dropped::default();
        let mut sink = FrameSink::new(3, writer, plain(), Arc::default(), frame_pool(), dropped.clone());
        sink.write_all(b"before").await.unwrap();
        dropped.set();
        let err = sink.write_all(b"after").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        drop(sink);
        assert_eq!(&data_rx.recv().await.unwrap().body[FRAME_HEADER_SIZE..], b"before");
        assert!(data_rx.recv().await.is_none(), "a frame was sent after the drop");
    }
}

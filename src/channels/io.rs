//! Message I/O for a linked channel: a bounded message reader and a writer task with a priority lane.
//!
//! The reader turns the byte stream into `(type, body)` messages, never allocating more than the channel's
//! message-size bound. The writer task owns the write half; producers hand it messages through two bounded
//! queues: `control` (PONG, ACK, ...) which is always drained first, and `data` (bulk payloads). The writer
//! coalesces queued messages into one socket write, so small messages do not cost a system call each.

use crate::capture::{ChannelCapture, Direction};
use crate::protocol::header::{FullHeader, MiniHeader, FULL_HEADER_SIZE, MINI_HEADER_SIZE};
use crate::protocol::ProtocolError;
use bytes::{Bytes, BytesMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

/// Any byte stream a channel can run on (TCP now, TLS later).
pub trait ChannelStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ChannelStream for T {}

/// A boxed channel stream.
pub type BoxStream = Box<dyn ChannelStream>;

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
}

impl ByteCounters {
    /// (in, out).
    pub fn get(&self) -> (u64, u64) {
        (self.bytes_in.load(Ordering::Relaxed), self.bytes_out.load(Ordering::Relaxed))
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

/// Reads messages from a channel's read half.
pub struct MessageReader<R> {
    inner: R,
    mode: HeaderMode,
    max_size: u32,
    capture: Option<SharedCapture>,
    counters: Arc<ByteCounters>,
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
        MessageReader { inner, mode, max_size, capture, counters }
    }

    /// Reads the next message; `Ok(None)` on a clean end of stream between messages.
    pub async fn read_message(&mut self) -> Result<Option<RawMessage>, IoError> {
        let mut header = [0u8; FULL_HEADER_SIZE];
        let header_len = match self.mode {
            HeaderMode::Mini => MINI_HEADER_SIZE,
            HeaderMode::Full => FULL_HEADER_SIZE,
        };
        let header = &mut header[..header_len];
        // First byte separately so a clean EOF between messages is not an error.
        let n = self.inner.read(&mut header[..1]).await?;
        if n == 0 {
            return Ok(None);
        }
        self.inner.read_exact(&mut header[1..]).await.map_err(eof_is_truncation)?;
        let (msg_type, size) = match self.mode {
            HeaderMode::Mini => {
                let h = MiniHeader::parse(header, self.max_size)?;
                (h.msg_type, h.size)
            }
            HeaderMode::Full => {
                let h = FullHeader::parse(header, self.max_size)?;
                (h.msg_type, h.size)
            }
        };
        let mut body = BytesMut::zeroed(size as usize);
        self.inner.read_exact(&mut body).await.map_err(eof_is_truncation)?;
        self.counters.bytes_in.fetch_add((header_len + body.len()) as u64, Ordering::Relaxed);
        if self.capture.is_some() {
            let mut all = Vec::with_capacity(header_len + body.len());
            all.extend_from_slice(header);
            all.extend_from_slice(&body);
            record(&self.capture, Direction::ServerToClient, &all);
        }
        Ok(Some(RawMessage { msg_type, body: body.freeze() }))
    }
}

fn eof_is_truncation(e: std::io::Error) -> IoError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        IoError::TruncatedMessage
    } else {
        IoError::Io(e)
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

async fn writer_loop<W: AsyncWrite + Unpin>(
    mut inner: W,
    mode: HeaderMode,
    mut control: mpsc::Receiver<Outgoing>,
    mut data: mpsc::Receiver<Outgoing>,
    capture: Option<SharedCapture>,
    counters: Arc<ByteCounters>,
) -> std::io::Result<()> {
    let mut serial: u64 = 0;
    let mut buf: Vec<u8> = Vec::with_capacity(MAX_COALESCE + 70_000);
    let mut control_open = true;
    let mut data_open = true;
    while control_open || data_open {
        let first = tokio::select! {
            biased;
            m = control.recv(), if control_open => match m { Some(m) => m, None => { control_open = false; continue } },
            m = data.recv(), if data_open => match m { Some(m) => m, None => { data_open = false; continue } },
        };
        buf.clear();
        append(&mut buf, mode, &mut serial, &first);
        // Gather whatever else is already queued, control first, up to the coalescing limit.
        while buf.len() < MAX_COALESCE {
            let next = match control.try_recv() {
                Ok(m) => m,
                Err(_) => match data.try_recv() {
                    Ok(m) => m,
                    Err(_) => break,
                },
            };
            append(&mut buf, mode, &mut serial, &next);
        }
        inner.write_all(&buf).await?;
        counters.bytes_out.fetch_add(buf.len() as u64, Ordering::Relaxed);
        record(&capture, Direction::ClientToServer, &buf);
    }
    inner.flush().await?;
    inner.shutdown().await
}

fn append(buf: &mut Vec<u8>, mode: HeaderMode, serial: &mut u64, m: &Outgoing) {
    let size = m.body.len() as u32;
    match mode {
        HeaderMode::Mini => buf.extend_from_slice(&MiniHeader { msg_type: m.msg_type, size }.encode()),
        HeaderMode::Full => {
            *serial += 1;
            buf.extend_from_slice(&FullHeader { serial: *serial, msg_type: m.msg_type, size, sub_list: 0 }.encode());
        }
    }
    buf.extend_from_slice(&m.body);
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
}

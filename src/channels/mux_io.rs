//! The byte streams between the WebDAV channel and one guest connection's HTTP server.
//!
//! - **Server → guest**: [`FrameSink`] is the server's write half. Each write becomes one mux frame of at most
//!   65 535 payload bytes (gathered from hyper's vectored writes, copied once into the frame) that goes straight
//!   onto the socket writer's bounded data lane; the write waits while the lane is full. Waiting writers get
//!   lane slots in the order they asked (tokio's semaphore is fair), so connections take turns on the socket.

use super::io::{Outgoing, WriterHandle};
use super::vmc::encode_outgoing;
use super::webdav::WebdavStats;
use crate::webdav::mux::{ClientId, FRAME_HEADER_SIZE, MAX_FRAME_PAYLOAD};
use bytes::{BufMut, BytesMut};
use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use tokio::sync::mpsc::error::SendError;
use tokio::sync::mpsc::OwnedPermit;

type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<Outgoing>, SendError<()>>> + Send>>;

/// The HTTP server's write half: every write becomes one frame on the socket writer's data lane.
pub struct FrameSink {
    id: ClientId,
    writer: WriterHandle,
    compress: bool,
    stats: Arc<WebdavStats>,
    /// A lane slot being waited for (only while the lane is full).
    reserving: Option<Reserve>,
}

impl FrameSink {
    /// A sink for connection `id`; the payload bytes it frames count in `stats.bytes_to_guest`.
    pub fn new(id: ClientId, writer: WriterHandle, compress: bool, stats: Arc<WebdavStats>) -> Self {
        FrameSink { id, writer, compress, stats, reserving: None }
    }

    /// Waits for a lane slot, then frames up to [`MAX_FRAME_PAYLOAD`] bytes from `bufs` into it.
    fn poll_frame(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let (id, compress) = (self.id, self.compress);
        let frame = |bufs: &[IoSlice<'_>]| {
            let n = total.min(MAX_FRAME_PAYLOAD);
            let mut frame = BytesMut::with_capacity(FRAME_HEADER_SIZE + n);
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
            (n, encode_outgoing(frame.freeze(), compress))
        };
        if self.reserving.is_none() {
            // Fast path: a free slot and nobody waiting for one.
            match self.writer.data.try_reserve() {
                Ok(permit) => {
                    let (n, msg) = frame(bufs);
                    permit.send(msg);
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
                let (n, msg) = frame(bufs);
                permit.send(msg);
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
    use crate::webdav::mux::Demuxer;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn sink_frames_writes_of_at_most_65535_bytes() {
        let (data_tx, mut data_rx) = mpsc::channel(2);
        let (control, _control_rx) = mpsc::channel(2);
        let writer = WriterHandle { control, data: data_tx };
        let stats = Arc::new(WebdavStats::default());
        let mut sink = FrameSink::new(-7, writer, false, stats.clone());
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
        let mut sink = FrameSink::new(1, writer, false, Arc::default());
        let n = sink.write_vectored(&[IoSlice::new(b"head "), IoSlice::new(b"body")]).await.unwrap();
        assert_eq!(n, 9);
        let m = data_rx.recv().await.unwrap();
        assert_eq!(&m.body[FRAME_HEADER_SIZE..], b"head body");
    }
}

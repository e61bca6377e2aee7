//! Response bodies paced by the connection's writes, so a connection whose guest has stopped reading holds
//! little of its response in memory.
//!
//! hyper polls a response body while its write buffer has room, and that buffer is as large as its read buffer
//! ([`MAX_BUF_SIZE`](super::server::MAX_BUF_SIZE), 256 KiB, which uploads need). For a connection that cannot
//! write, each one stuck in a GET held about 320 KiB: 250 of them, 80 MiB. [`PacedIo`] counts the bytes the
//! connection has written and [`Pace::ready`] holds the body back while it is more than [`AHEAD`] bytes ahead of
//! that, so such a connection holds at most `AHEAD` plus one read chunk of its response.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How far a response body may run ahead of what the connection has written.
pub const AHEAD: u64 = 64 * 1024;

/// One connection's account: body bytes produced and bytes written (response heads included, which only lets
/// a body run a little further ahead).
#[derive(Debug, Default)]
pub struct Pace {
    produced: AtomicU64,
    written: AtomicU64,
    body: AtomicWaker,
}

impl Pace {
    /// A new account, shared by the connection's [`PacedIo`] and its response bodies.
    pub fn new() -> Arc<Pace> {
        Arc::new(Pace::default())
    }

    fn ahead(&self) -> u64 {
        self.produced.load(Ordering::Acquire).saturating_sub(self.written.load(Ordering::Acquire))
    }

    /// Whether a body may produce its next frame; if not, it is woken when the connection has written enough.
    pub fn ready(&self, cx: &mut Context<'_>) -> bool {
        if self.ahead() <= AHEAD {
            return true;
        }
        self.body.register(cx.waker());
        // A write may have landed between the check and the registration.
        self.ahead() <= AHEAD
    }

    /// A body produced `n` bytes.
    pub fn produced(&self, n: u64) {
        self.produced.fetch_add(n, Ordering::AcqRel);
    }

    fn wrote(&self, n: usize) {
        self.written.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::AcqRel);
        if self.ahead() <= AHEAD {
            self.body.wake();
        }
    }
}

/// A connection's byte stream that reports what it writes to a [`Pace`].
pub struct PacedIo<IO> {
    io: IO,
    pace: Arc<Pace>,
}

impl<IO> PacedIo<IO> {
    /// Wraps `io`.
    pub fn new(io: IO, pace: Arc<Pace>) -> Self {
        PacedIo { io, pace }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for PacedIo<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for PacedIo<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = polled {
            this.pace.wrote(n);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.pace.wrote(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    #[test]
    fn a_body_waits_while_far_ahead_of_the_writes_and_is_woken_when_they_catch_up() {
        let pace = Pace::new();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(pace.ready(&mut cx));
        pace.produced(AHEAD + 1);
        assert!(!pace.ready(&mut cx));
        pace.wrote(1);
        assert!(pace.ready(&mut cx));
    }
}

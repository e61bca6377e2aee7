//! [`Coalesced`]: a response body that joins small pieces that come close together into larger ones.
//!
//! dav-server streams a PROPFIND multistatus one entry at a time (a few hundred bytes each, with a wait for the
//! entry's metadata in between), and everything a guest connection's HTTP server writes becomes its own mux frame
//! and SPICE message. Through the guest's spice-server and spice-webdavd every message costs a fixed amount of
//! work whatever its size, and LZ4 only works on messages over 1 000 bytes, so 5 000 entries as 5 000 messages
//! were slower than spice-gtk (whose phodav hands over one body). This wrapper holds a small piece for at most
//! [`WAIT`] while more follows, up to [`TARGET`] bytes, and never holds one when the body has ended: a small
//! response (one piece, then the end) is not delayed at all, and a large piece passes straight through.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::Sleep;

/// Pieces under this size are joined ...
pub const SMALL: usize = 16 * 1024;
/// ... into pieces of up to this size (one mux frame holds at most 65 535 bytes) ...
pub const TARGET: usize = 60 * 1024;
/// ... held at most this long after the first piece of a batch arrived.
pub const WAIT: Duration = Duration::from_millis(4);

/// What polling the inner body returned that is handed out after the joined bytes.
type Polled<E> = Option<Result<Frame<Bytes>, E>>;

/// A body whose small data pieces are joined (see the module docs).
pub struct Coalesced<B: HttpBody<Data = Bytes>> {
    inner: B,
    joined: BytesMut,
    /// When the joined bytes go out even if nothing more came.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Returned once the joined bytes are out: a large piece, trailers, an error or the end.
    next: Option<Polled<B::Error>>,
}

impl<B: HttpBody<Data = Bytes>> Coalesced<B> {
    /// Wraps `inner`.
    pub fn new(inner: B) -> Self {
        Coalesced { inner, joined: BytesMut::new(), deadline: None, next: None }
    }

    /// The joined bytes as one piece.
    fn flush(&mut self) -> Poll<Polled<B::Error>> {
        self.deadline = None;
        Poll::Ready(Some(Ok(Frame::data(self.joined.split().freeze()))))
    }
}

// Nothing is pinned in place: the timer is boxed, the inner body is Unpin, the rest is moved freely.
impl<B: HttpBody<Data = Bytes> + Unpin> Unpin for Coalesced<B> {}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Coalesced<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Polled<B::Error>> {
        let this = &mut *self;
        if let Some(next) = this.next.take() {
            return Poll::Ready(next);
        }
        loop {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let data = match frame.into_data() {
                        Ok(data) => data,
                        Err(other) => {
                            // Trailers: after what was joined.
                            if this.joined.is_empty() {
                                return Poll::Ready(Some(Ok(other)));
                            }
                            this.next = Some(Some(Ok(other)));
                            return this.flush();
                        }
                    };
                    if data.len() >= SMALL {
                        if this.joined.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(data))));
                        }
                        this.next = Some(Some(Ok(Frame::data(data))));
                        return this.flush();
                    }
                    this.joined.extend_from_slice(&data);
                    if this.joined.len() >= TARGET {
                        return this.flush();
                    }
                    if this.deadline.is_none() {
                        this.deadline = Some(Box::pin(tokio::time::sleep(WAIT)));
                    }
                }
                Poll::Ready(end) => {
                    if this.joined.is_empty() {
                        return Poll::Ready(end);
                    }
                    this.next = Some(end);
                    return this.flush();
                }
                Poll::Pending => {
                    if this.joined.is_empty() {
                        return Poll::Pending;
                    }
                    let due = this.deadline.as_mut().is_none_or(|d| d.as_mut().poll(cx).is_ready());
                    return if due { this.flush() } else { Poll::Pending };
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.next {
            Some(next) => next.is_none() && self.joined.is_empty(),
            None => self.joined.is_empty() && self.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        plus_held(self.inner.size_hint(), self.joined.len())
    }
}

/// `hint` of an inner body, grown by the `held` bytes a wrapper took from it and has not handed out yet.
pub(super) fn plus_held(mut hint: SizeHint, held: usize) -> SizeHint {
    let held = u64::try_from(held).unwrap_or(u64::MAX);
    hint.set_lower(hint.lower().saturating_add(held));
    if let Some(upper) = hint.upper() {
        hint.set_upper(upper.saturating_add(held));
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::Stream;
    use http_body_util::{BodyExt, StreamBody};
    use std::convert::Infallible;
    use tokio::sync::mpsc;

    type Piece = Result<Frame<Bytes>, Infallible>;
    type Fed = Coalesced<StreamBody<Pin<Box<dyn Stream<Item = Piece> + Send>>>>;

    /// A body fed piece by piece through the sender; it ends when the sender is dropped.
    fn body() -> (mpsc::Sender<Piece>, Fed) {
        let (tx, rx) = mpsc::channel(64);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
        (tx, Coalesced::new(StreamBody::new(Box::pin(stream) as Pin<Box<dyn Stream<Item = Piece> + Send>>)))
    }

    fn piece(n: usize, byte: u8) -> Piece {
        Ok(Frame::data(Bytes::from(vec![byte; n])))
    }

    async fn next_len(b: &mut Fed) -> Option<usize> {
        b.frame().await.map(|f| f.expect("no error").into_data().expect("data").len())
    }

    #[tokio::test(start_paused = true)]
    async fn small_pieces_close_together_are_joined_and_the_end_is_not_waited_for() {
        let (tx, mut b) = body();
        let producer = tokio::spawn(async move {
            for i in 0..300u32 {
                tx.send(piece(600, i as u8)).await.unwrap();
                // The next entry's metadata: the body is Pending in between.
                tokio::task::yield_now().await;
            }
        });
        let start = tokio::time::Instant::now();
        let mut sizes = Vec::new();
        while let Some(n) = next_len(&mut b).await {
            sizes.push(n);
        }
        producer.await.unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 300 * 600, "nothing lost");
        assert!(sizes.len() <= 6, "300 pieces became {} ({sizes:?})", sizes.len());
        assert!(sizes.iter().all(|&n| n <= TARGET + 600));
        assert!(start.elapsed() < Duration::from_millis(40), "{:?}", start.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lone_small_piece_waits_at_most_the_deadline_and_an_ended_one_not_at_all() {
        let (tx, mut b) = body();
        tx.send(piece(100, 1)).await.unwrap();
        let start = tokio::time::Instant::now();
        assert_eq!(next_len(&mut b).await, Some(100));
        assert!(start.elapsed() <= WAIT, "held {:?}", start.elapsed());
        tx.send(piece(200, 2)).await.unwrap();
        drop(tx);
        let start = tokio::time::Instant::now();
        assert_eq!(next_len(&mut b).await, Some(200));
        assert_eq!(start.elapsed(), Duration::ZERO, "the end follows: no wait");
        assert_eq!(next_len(&mut b).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_large_piece_passes_through_after_what_was_joined() {
        let (tx, mut b) = body();
        tx.send(piece(10, 1)).await.unwrap();
        tx.send(piece(20, 2)).await.unwrap();
        tx.send(piece(SMALL, 3)).await.unwrap();
        tx.send(piece(5, 4)).await.unwrap();
        drop(tx);
        let mut got = Vec::new();
        while let Some(f) = b.frame().await {
            got.push(f.unwrap().into_data().unwrap());
        }
        let lens: Vec<usize> = got.iter().map(Bytes::len).collect();
        assert_eq!(lens, [30, SMALL, 5]);
        assert_eq!((got[0][0], got[0][29], got[1][0], got[2][0]), (1, 2, 3, 4), "order kept");
    }
}

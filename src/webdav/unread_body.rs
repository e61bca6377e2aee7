//! Discarding the part of a request body that the handler did not read.
//!
//! An HTTP server that answers before reading the whole request body (a refused PUT, a `412` on a
//! failed `If` header, an I/O error half way through an upload) normally closes the connection
//! and lets the client reconnect. Through the WebDAV mux that does not work: spice-webdavd ignores
//! the size-0 frame we send when a connection ends, so the guest application keeps its TCP
//! connection, and the rest of the body it was sending arrives under the same client id, where
//! the mux starts a new HTTP connection with it. hyper then parses body bytes as a request head
//! and answers `400`, which the guest application takes as the answer to its *next* request.
//!
//! So the server reads every request body to its end before answering: [`watch`] hands the
//! handler a body that reads through a shared slot, and [`UnreadBody::discard`] reads and drops
//! whatever is left once the handler is done. Nothing is kept (memory stays bounded by one body
//! frame); the only limit is [`DISCARD_IDLE`] between two frames.
//!
//! The exception is a request with `Expect: 100-continue` whose body nobody asked for: hyper then
//! never sends `100 Continue`, the client does not send the body, and hyper closes the connection
//! after the answer, which is what the client expects.

use std::error::Error as StdError;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Buf;
use http::header::EXPECT;
use http::Request;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

/// Longest wait for the next frame of a body being discarded; after that the connection closes.
pub const DISCARD_IDLE: Duration = Duration::from_secs(30);

struct Slot<B> {
    body: Option<Pin<Box<B>>>,
    /// The handler asked for body data at least once (so hyper has sent `100 Continue`, if
    /// the client was waiting for it).
    polled: bool,
}

type Shared<B> = Arc<Mutex<Slot<B>>>;

fn lock<B>(slot: &Shared<B>) -> MutexGuard<'_, Slot<B>> {
    slot.lock().unwrap_or_else(|e| e.into_inner())
}

/// The request body as the handler sees it; it reads through the slot shared with [`UnreadBody`].
pub struct SlotBody<B> {
    slot: Shared<B>,
}

/// What is left of a request body once the handler has answered.
pub struct UnreadBody<B> {
    slot: Shared<B>,
    expects_continue: bool,
}

/// Split `req` into the request for the handler and the handle that discards its unread body.
pub fn watch<B>(req: Request<B>) -> (Request<SlotBody<B>>, UnreadBody<B>) {
    let expects_continue = req
        .headers()
        .get(EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let slot = Arc::new(Mutex::new(Slot { body: None, polled: false }));
    let req = req.map(|body| {
        lock(&slot).body = Some(Box::pin(body));
        SlotBody { slot: Arc::clone(&slot) }
    });
    (req, UnreadBody { slot, expects_continue })
}

impl<B: HttpBody> HttpBody for SlotBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut slot = lock(&self.slot);
        slot.polled = true;
        match slot.body.as_mut() {
            Some(body) => body.as_mut().poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        lock(&self.slot).body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        lock(&self.slot).body.as_ref().map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl<B> UnreadBody<B>
where
    B: HttpBody,
    B::Data: Buf,
    B::Error: StdError,
{
    /// Read the rest of the body and drop it. Returns the number of bytes discarded.
    pub async fn discard(self) -> u64 {
        let (body, polled) = {
            let mut slot = lock(&self.slot);
            (slot.body.take(), slot.polled)
        };
        let Some(mut body) = body else { return 0 };
        if body.is_end_stream() || (self.expects_continue && !polled) {
            return 0;
        }
        let mut discarded = 0u64;
        loop {
            match tokio::time::timeout(DISCARD_IDLE, body.frame()).await {
                Ok(Some(Ok(frame))) => {
                    if let Some(data) = frame.data_ref() {
                        discarded = discarded.saturating_add(u64::try_from(data.remaining()).unwrap_or(u64::MAX));
                    }
                }
                Ok(Some(Err(e))) => {
                    tracing::debug!("discarding an unread request body: {e}");
                    break;
                }
                Ok(None) => break,
                Err(_) => {
                    tracing::debug!("gave up discarding an unread request body: nothing for {DISCARD_IDLE:?}");
                    break;
                }
            }
        }
        if discarded > 0 {
            tracing::debug!("discarded {discarded} unread request body bytes to keep the connection");
        }
        discarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{Full, StreamBody};
    use std::convert::Infallible;

    fn request(body: &'static [u8], expect: bool) -> Request<Full<Bytes>> {
        let mut builder = Request::put("/f");
        if expect {
            builder = builder.header(EXPECT, "100-continue");
        }
        builder.body(Full::new(Bytes::from_static(body))).unwrap()
    }

    #[tokio::test]
    async fn an_unread_body_is_discarded() {
        let (req, unread) = watch(request(b"0123456789", false));
        drop(req);
        assert_eq!(unread.discard().await, 10);
    }

    #[tokio::test]
    async fn a_body_the_handler_read_leaves_nothing() {
        let (req, unread) = watch(request(b"0123456789", false));
        let got = req.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&got[..], b"0123456789");
        assert_eq!(unread.discard().await, 0);
    }

    #[tokio::test]
    async fn the_rest_of_a_partly_read_body_is_discarded() {
        let chunks: Vec<Result<Frame<Bytes>, Infallible>> =
            vec![Ok(Frame::data(Bytes::from_static(b"abc"))), Ok(Frame::data(Bytes::from_static(b"defgh")))];
        let (req, unread) = watch(Request::new(StreamBody::new(futures_util::stream::iter(chunks))));
        let mut body = req.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(&first[..], b"abc");
        drop(body);
        assert_eq!(unread.discard().await, 5);
    }

    #[tokio::test]
    async fn an_expect_100_continue_body_nobody_asked_for_is_left_alone() {
        let (req, unread) = watch(request(b"0123456789", true));
        drop(req);
        assert_eq!(unread.discard().await, 0);
    }

    #[tokio::test]
    async fn an_expect_100_continue_body_the_handler_started_is_discarded() {
        let chunks: Vec<Result<Frame<Bytes>, Infallible>> =
            vec![Ok(Frame::data(Bytes::from_static(b"abc"))), Ok(Frame::data(Bytes::from_static(b"de")))];
        let mut req = Request::new(StreamBody::new(futures_util::stream::iter(chunks)));
        req.headers_mut().insert(EXPECT, http::HeaderValue::from_static("100-continue"));
        let (req, unread) = watch(req);
        let mut body = req.into_body();
        assert!(body.frame().await.is_some());
        drop(body);
        assert_eq!(unread.discard().await, 2);
    }
}

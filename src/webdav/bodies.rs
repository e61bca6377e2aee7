//! The two body wrappers of a share's requests: [`WatchedBody`] tells an upload's record how its request body
//! ended, and [`ShareBody`], the response body, keeps the request in flight until it is sent or dropped (and,
//! served by hyper, stays within [`AHEAD`](super::pace::AHEAD) of what its connection has written).

use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use dav_server::body::Body as DavBody;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::pace::Pace;
use super::share_stats::RequestGuard;
use super::sharefs::UploadBody;
use super::windows::{with_listing_watch, ConnectionWatch, Direction, Transfer, WindowsHints};

/// Body pieces under this size are gathered before they reach the filesystem ...
const SMALL_PIECE: usize = 8 * 1024;
/// ... into writes of up to this size, so a body that arrives one byte per frame costs one file write (and one
/// blocking section) per 64 KiB, not per byte.
const GATHER: usize = 64 * 1024;

/// What polling a body returned: a frame, an error, or its end.
type Polled<B> = Option<Result<Frame<<B as HttpBody>::Data>, <B as HttpBody>::Error>>;

/// A request body that gathers small data frames (see [`GATHER`]) and reports its progress to an
/// [`UploadBody`] record: data bytes yielded, a clean end, an error.
pub(super) struct WatchedBody<B: HttpBody> {
    inner: Pin<Box<B>>,
    record: Arc<UploadBody>,
    gathered: BytesMut,
    /// What the inner body returned after data was gathered; returned once the gathered data is out.
    next: Option<Polled<B>>,
}

impl<B: HttpBody> WatchedBody<B> {
    /// Watches `inner`, reporting to `record`.
    pub(super) fn new(inner: B, record: Arc<UploadBody>) -> Self {
        Self { inner: Box::pin(inner), record, gathered: BytesMut::new(), next: None }
    }

    /// Hands out `polled` (a frame or the end of the body), recording it.
    fn report(&self, polled: Polled<B>) -> Option<Result<Frame<Bytes>, B::Error>>
    where
        B::Data: Buf,
    {
        match polled {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(mut data) => Some(Ok(self.data(data.copy_to_bytes(data.remaining())))),
                Err(frame) => frame.into_trailers().ok().map(|t| Ok(Frame::trailers(t))),
            },
            Some(Err(e)) => {
                self.record.failed();
                Some(Err(e))
            }
            None => {
                self.record.ended();
                None
            }
        }
    }

    fn data(&self, data: Bytes) -> Frame<Bytes> {
        self.record.received(u64::try_from(data.len()).unwrap_or(u64::MAX));
        Frame::data(data)
    }
}

// Nothing is pinned in place: the inner body is boxed, the rest is moved freely.
impl<B: HttpBody> Unpin for WatchedBody<B> {}

impl<B> HttpBody for WatchedBody<B>
where
    B: HttpBody,
    B::Data: Buf,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = &mut *self;
        if let Some(next) = this.next.take() {
            return Poll::Ready(this.report(next));
        }
        loop {
            let polled = match this.inner.as_mut().poll_frame(cx) {
                // Gathered bytes wait for more: the body's end (or GATHER bytes) comes soon enough.
                Poll::Pending => return Poll::Pending,
                Poll::Ready(polled) => polled,
            };
            let small = match &polled {
                Some(Ok(frame)) => frame.data_ref().is_some_and(|d| d.remaining() < SMALL_PIECE),
                _ => false,
            };
            if small {
                if let Some(Ok(frame)) = polled {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            this.gathered.extend_from_slice(data.chunk());
                            let n = data.chunk().len();
                            data.advance(n);
                        }
                    }
                }
                if this.gathered.len() >= GATHER {
                    let out = this.gathered.split().freeze();
                    return Poll::Ready(Some(Ok(this.data(out))));
                }
                continue;
            }
            if this.gathered.is_empty() {
                return Poll::Ready(this.report(polled));
            }
            this.next = Some(polled);
            let out = std::mem::take(&mut this.gathered).freeze();
            return Poll::Ready(Some(Ok(this.data(out))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.next.as_ref().is_some_and(Option::is_none) || (self.gathered.is_empty() && self.inner.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        super::coalesce::plus_held(self.inner.size_hint(), self.gathered.len())
    }
}

/// Response body of [`ShareServer::handle`]: dav-server's body plus the in-flight bookkeeping,
/// which ends when the body has been read to its end or is dropped.
pub struct ShareBody {
    inner: DavBody,
    guard: Option<RequestGuard>,
    /// Body bytes the response head announces (`Content-Length`; 0 for HEAD, 204 and 304).
    /// hyper stops polling once it has sent that many, so reaching it counts as complete.
    announced: Option<u64>,
    /// Body bytes produced so far.
    sent: u64,
    /// The connection's write account: the body waits while it is far ahead (see [`Pace`]).
    pace: Option<Arc<Pace>>,
    /// A response to the Windows mini-redirector (see [`watch_windows`](Self::watch_windows)).
    windows: Option<WindowsWatch>,
}

/// What a response to the Windows mini-redirector reports to its [`WindowsHints`].
struct WindowsWatch {
    hints: Arc<WindowsHints>,
    /// The request path, for the hint.
    path: String,
    /// The response status.
    status: u16,
    /// A GET: checked against the size limit when the body ends.
    download: bool,
    /// The connection's watch, for a download that went out completely (served by hyper).
    conn: Option<Arc<ConnectionWatch>>,
}

impl ShareBody {
    /// Wraps dav-server's body; `guard` ends the request when the body is done.
    pub(super) fn new(inner: DavBody, guard: RequestGuard, announced: Option<u64>) -> Self {
        Self { inner, guard: Some(guard), announced, sent: 0, pace: None, windows: None }
    }

    /// Reports to `hints`: a GET's end is checked against the size limit, and the body is polled with listings
    /// watched (dav-server reads the directory of a PROPFIND while its body streams).
    pub(super) fn watch_windows(
        mut self,
        hints: Arc<WindowsHints>,
        conn: Option<Arc<ConnectionWatch>>,
        method: &str,
        path: String,
        status: u16,
    ) -> Self {
        self.windows = Some(WindowsWatch { hints, path, status, download: method == "GET", conn });
        self
    }

    /// Produces no more than [`AHEAD`](super::pace::AHEAD) bytes beyond what `pace`'s connection has written.
    pub(super) fn paced(mut self, pace: Arc<Pace>) -> Self {
        self.pace = Some(pace);
        self
    }

    fn finish(&mut self, completed: bool) {
        if let Some(mut guard) = self.guard.take() {
            if completed {
                guard.set_completed();
            }
        }
    }
}

impl Drop for ShareBody {
    fn drop(&mut self) {
        let complete = self.announced.is_some_and(|n| self.sent >= n);
        self.finish(complete);
        if let Some(w) = self.windows.take().filter(|w| w.download) {
            let transfer = Transfer {
                direction: Direction::Download,
                announced: self.announced,
                moved: self.sent,
                complete,
                status: w.status,
            };
            let (announced, sent) = (self.announced, self.sent);
            tracing::debug!(path = %w.path, ?announced, sent, complete, "windows GET ended");
            match (&w.conn, complete) {
                (Some(conn), true) => conn.download_done(&transfer, &w.path, &w.hints),
                _ => w.hints.transfer_ended(&transfer, &w.path),
            }
        }
    }
}

impl fmt::Debug for ShareBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareBody").field("finished", &self.guard.is_none()).finish_non_exhaustive()
    }
}

impl HttpBody for ShareBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.guard.is_none() {
            return Poll::Ready(None);
        }
        if this.pace.as_ref().is_some_and(|p| !p.ready(cx)) {
            return Poll::Pending;
        }
        // dav-server does some of its work (DELETE, COPY, MOVE, PROPFIND) while the body streams.
        let inner = &mut this.inner;
        let listing = this.windows.as_ref().map(|w| &w.hints);
        let poll = AssertUnwindSafe(|| with_listing_watch(listing, || Pin::new(inner).poll_frame(cx)));
        let polled = match catch_unwind(poll) {
            Ok(polled) => polled,
            Err(_) => {
                tracing::error!("webdav response body panicked; aborting the connection");
                Poll::Ready(Some(Err(io::Error::other("webdav response body panicked"))))
            }
        };
        match &polled {
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(Some(Ok(frame))) => {
                let len = u64::try_from(frame.data_ref().map_or(0, |d| d.len())).unwrap_or(u64::MAX);
                this.sent = this.sent.saturating_add(len);
                if let Some(pace) = &this.pace {
                    pace.produced(len);
                }
                if let Some(guard) = &this.guard {
                    guard.add_bytes(len);
                }
            }
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.guard.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that notes whether it failed because the client sent something malformed (a bad chunk size
/// line or chunk terminator: hyper reports those as `InvalidData`/`InvalidInput` I/O errors), as opposed to a
/// connection that broke.
pub(super) struct CheckedBody<B> {
    inner: Pin<Box<B>>,
    malformed: Arc<std::sync::atomic::AtomicBool>,
}

impl<B> CheckedBody<B> {
    /// Checks `inner`; `malformed` is set when it yields a malformed-input error.
    pub(super) fn new(inner: B, malformed: Arc<std::sync::atomic::AtomicBool>) -> Self {
        Self { inner: Box::pin(inner), malformed }
    }
}

/// Whether `e` (or an error it wraps) is an I/O error about malformed input.
fn is_malformed(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return matches!(io.kind(), io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput);
        }
        cur = err.source();
    }
    false
}

impl<B> HttpBody for CheckedBody<B>
where
    B: HttpBody,
    B::Error: std::error::Error + 'static,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            if is_malformed(e) {
                self.malformed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

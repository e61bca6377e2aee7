//! The embedded WebDAV server that serves one shared folder.
//!
//! The guest's `spice-webdavd` tunnels each of its TCP connections through the WebDAV mux; the
//! mux hands every such byte stream to [`ShareServer::serve_connection`], which speaks
//! HTTP/1.1 (hyper) and answers WebDAV requests from a local directory through ryll's own
//! filesystem ([`ShareFs`](super::sharefs::ShareFs): confined to the share, loss-free uploads).
//! One [`ShareServer`] (one `DavHandler`, one lock table) serves every connection of a share.
//!
//! # Fixes on top of dav-server 0.11
//! A thin wrapper ([`ShareServer::handle`]) sits in front of `DavHandler::handle`:
//! - **PROPFIND without `Depth`** is treated as `Depth: 1`. RFC 4918 says a missing Depth
//!   means infinity, but dav-server 0.11 then lists only the children and leaves out the target
//!   itself (an empty multistatus for a file), and an explicit infinity is refused. Depth 1 is
//!   the bounded answer that still includes the target, which is what clients omitting the
//!   header expect.
//! - **PROPFIND `Depth: infinity`** gets `403` with dav-server's `<D:propfind-finite-depth/>`
//!   body (RFC 4918 §9.1; phodav also answers 403) instead of dav-server's `501`.
//! - **GET/HEAD on a collection** get dav-server's HTML index (`autoindex`) instead of
//!   `405` + `Connection: close`; `OPTIONS` on a collection then also lists GET and HEAD.
//! - **Read-only shares** answer every write method (PUT, PATCH, DELETE, MKCOL, COPY, MOVE,
//!   PROPPATCH, LOCK, UNLOCK) with `403 Forbidden` and keep the connection open, where
//!   dav-server would send `405` + `Connection: close`. dav-server's own method set is also
//!   restricted to the read methods as a second line of defence, and `OPTIONS` advertises only
//!   `OPTIONS, GET, HEAD, PROPFIND`.
//! - **Methods we do not implement** get `405` (well-known HTTP/CalDAV methods) or `501`
//!   (anything else) without `Connection: close`.
//! - **The root is protected**: `DELETE /`, `MOVE /` and COPY/MOVE whose destination is the
//!   root or an ancestor of the source get 403. dav-server would empty the share, remove the
//!   share directory itself and then panic (see `check_tree_operation`).
//! - **Suspicious paths are refused** with `400`: a dot segment (`.`, `..`, also percent-encoded),
//!   an encoded slash, a backslash, NUL or another control byte in the request path or in a
//!   COPY/MOVE `Destination` (whose scheme must be http or https). The filesystem refuses such
//!   names again on its own.
//! - **Client errors keep the connection**: dav-server adds `Connection: close` to most error
//!   answers (e.g. `423 Locked` on PUT); the wrapper removes it from 4xx answers (see
//!   `keep_connection_open` for why that is safe).
//!
//! Every request body is read to its end before the answer goes out, also when the handler
//! answered without reading it (a refusal, a `412`, an error half way through an upload): through
//! the mux, unread body bytes would otherwise start the guest connection's next HTTP connection
//! (see [`unread_body`](super::unread_body)). Nothing is kept while discarding.
//!
//! # Connection settings
//! hyper's HTTP/1.1 server runs with keep-alive, a timer (so the header read timeout works;
//! it also closes keep-alive connections idle for that long, which the mux turns into a
//! size-0 frame) and `half_close(true)`: when the guest sends a complete request and then
//! shuts its write side (the mux sees a size-0 frame and shuts down our read side), hyper
//! would otherwise treat the EOF as an aborted request and drop the response. With half-close
//! the response is still delivered and the connection ends afterwards.
//!
//! Request bodies are streamed: PUT goes frame by frame into a temporary file and nothing
//! buffers a whole body (dav-server buffers other methods' bodies up to 64 KiB and refuses larger
//! ones). The PUT/PATCH body is watched ([`UploadBody`]): the temporary replaces the target only
//! if the body ended cleanly and every byte was written; a body that ends with a length other
//! than the announced one gets `400`, a broken connection leaves the old file.
//!
//! # Runtime
//! The share's filesystem does its file I/O with `block_in_place` on a multi-threaded Tokio
//! runtime (and `spawn_blocking` on a current-thread one), so give each connection its own task
//! (`tokio::spawn(server.serve_connection(io))`) rather than joining several in one task.
//!
//! # Symlinks
//! Symlinks that resolve inside the share are listed and served like their targets; symlinks
//! that lead outside it (or nowhere) are neither listed nor followed (see
//! [`sharefs`](super::sharefs)). Only symlinks the host user put into the share matter: WebDAV
//! cannot create them.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use dav_server::body::Body as DavBody;
use dav_server::davpath::DavPath;
use dav_server::memls::MemLs;
use dav_server::{DavHandler, DavMethod, DavMethodSet};
use futures_util::FutureExt;
use http::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::share_stats::RequestGuard;
pub use super::share_stats::{InFlightProgress, InFlightRequest, ShareStats, ShareStatsSnapshot};
use super::sharefs::{check_raw_path, percent_decode, NameError, ShareFs, ShareFsOptions, UploadBody};
use super::unread_body;

/// GET read chunk size: one mux frame holds at most 65535 bytes.
pub const READ_BUF_SIZE: usize = 65535;
/// hyper's per-connection read/write buffer limit (also bounds the request head size).
pub const MAX_BUF_SIZE: usize = 256 * 1024;
/// How long hyper waits for a complete request head, also on an idle keep-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Methods a read-only share serves, in `Allow` order.
const READ_METHODS: &[&str] = &["OPTIONS", "GET", "HEAD", "PROPFIND"];
/// Methods a writable share serves, in `Allow` order.
const ALL_METHODS: &[&str] = &[
    "OPTIONS",
    "GET",
    "HEAD",
    "PROPFIND",
    "PUT",
    "PATCH",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
];
/// Methods that change the share (or, for LOCK on an unmapped URL, create a file).
const WRITE_METHODS: &[&str] = &["PUT", "PATCH", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"];
/// Methods we recognise but do not implement: 405 rather than 501.
const KNOWN_UNSUPPORTED: &[&str] = &["POST", "TRACE", "CONNECT", "REPORT", "MKCALENDAR", "MKADDRESSBOOK", "SEARCH"];

const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 49\r\n\
\r\n\
The shared folder has too many open connections.\n";

const NOT_SHARING: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 30\r\n\
\r\n\
Folder sharing is not active.\n";

/// Raw bytes of a complete `HTTP/1.1 503 Service Unavailable` response (`Connection: close`,
/// `Retry-After: 1`, `Content-Length`, short text body saying the share has too many open
/// connections), to send on a guest connection that is over the connection limit.
pub fn over_capacity_response() -> &'static [u8] {
    OVER_CAPACITY
}

/// Raw bytes of a complete `HTTP/1.1 503 Service Unavailable` response (`Connection: close`,
/// `Retry-After: 1`, `Content-Length`, short text body) saying that folder sharing is not
/// active, so a guest connection made while sharing is stopped gets an answer, not silence.
pub fn not_sharing_response() -> &'static [u8] {
    NOT_SHARING
}

/// What to share and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareConfig {
    /// The directory to share; must exist. It is canonicalised by [`ShareServer::new`].
    pub root: PathBuf,
    /// Refuse every method that would change the share.
    pub read_only: bool,
    /// Create files `0600` and directories `0700` (only the user can read them) instead of
    /// following the umask like any local program.
    pub private: bool,
}

/// Why a share could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// The root does not exist or cannot be resolved.
    #[error("cannot open shared folder {}: {source}", path.display())]
    Root {
        /// The root as configured.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The root exists but is not a directory.
    #[error("shared folder {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
}

/// The WebDAV server for one shared folder; cheap to clone (the state is behind an `Arc`).
#[derive(Clone)]
pub struct ShareServer {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    read_only: bool,
    handler: DavHandler,
    stats: Arc<ShareStats>,
}

impl fmt::Debug for ShareServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareServer")
            .field("root", &self.inner.root)
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

impl ShareServer {
    /// Build the server for `cfg`. The root must exist and be a directory; it is canonicalised
    /// (symlinks and `..` resolved) once, here.
    pub fn new(cfg: ShareConfig) -> Result<Self, ShareError> {
        let root =
            std::fs::canonicalize(&cfg.root).map_err(|source| ShareError::Root { path: cfg.root.clone(), source })?;
        let meta = std::fs::metadata(&root).map_err(|source| ShareError::Root { path: cfg.root.clone(), source })?;
        if !meta.is_dir() {
            return Err(ShareError::NotADirectory(root));
        }
        let options = ShareFsOptions { read_only: cfg.read_only, private: cfg.private };
        let fs = ShareFs::open(&root, options).map_err(|source| ShareError::Root { path: cfg.root.clone(), source })?;
        let handler = DavHandler::builder()
            .filesystem(Box::new(fs))
            .locksystem(MemLs::new())
            .methods(dav_methods(cfg.read_only))
            .autoindex(true)
            // The filesystem lists only symlinks that stay inside the share; show those.
            .hide_symlinks(false)
            .read_buf_size(READ_BUF_SIZE)
            .build_handler();
        Ok(Self {
            inner: Arc::new(Inner { root, read_only: cfg.read_only, handler, stats: Arc::new(ShareStats::new()) }),
        })
    }

    /// The canonical path of the shared directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Whether the share refuses writes.
    pub fn read_only(&self) -> bool {
        self.inner.read_only
    }

    /// The share's live statistics (shared by all clones of this server).
    pub fn stats(&self) -> Arc<ShareStats> {
        Arc::clone(&self.inner.stats)
    }

    /// Method, path and start time of the requests being served right now, oldest first.
    pub fn in_flight(&self) -> Vec<InFlightRequest> {
        self.inner.stats.in_flight()
    }

    /// Serve one HTTP/1.1 connection (keep-alive, pipelining as hyper does) over any byte stream
    /// until it ends.
    ///
    /// Returns `Ok(())` when the peer closes the connection between requests, when the server
    /// closes it after a `Connection: close` response, and when an idle connection hits the
    /// header read timeout ([`HEADER_READ_TIMEOUT`]). Errors are I/O errors, unparsable requests
    /// and connections that end in the middle of a request.
    pub async fn serve_connection<IO>(&self, io: IO) -> Result<(), hyper::Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _connection = self.inner.stats.begin_connection();
        let server = self.clone();
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let server = server.clone();
            async move { Ok::<_, Infallible>(server.handle(req).await) }
        });
        let result = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true)
            .half_close(true)
            .max_buf_size(MAX_BUF_SIZE)
            .serve_connection(TokioIo::new(io), service)
            .await;
        match result {
            Err(e) if e.is_timeout() => {
                tracing::debug!("webdav connection closed: no request head within {HEADER_READ_TIMEOUT:?}");
                Ok(())
            }
            other => other,
        }
    }

    /// Answer one request. [`serve_connection`](Self::serve_connection) calls this for every
    /// request; it is public so the server can also be driven without hyper (e.g. in tests).
    ///
    /// The request counts as in flight until the returned body has been sent or dropped.
    pub async fn handle<B>(&self, req: Request<B>) -> Response<ShareBody>
    where
        B: HttpBody + Send + 'static,
        B::Data: Buf + Send + 'static,
        B::Error: StdError + Send + Sync + 'static,
    {
        let mut guard = self.inner.stats.begin_request(req.method().as_str(), display_path(req.uri().path()));
        let is_head = req.method() == Method::HEAD;
        // Count the request body's bytes for the in-flight table (upload progress).
        let received = guard.byte_counter();
        let req = req.map(move |body| {
            body.map_frame(move |frame| {
                let len = frame.data_ref().map_or(0, |d| d.remaining());
                received.fetch_add(u64::try_from(len).unwrap_or(u64::MAX), std::sync::atomic::Ordering::Relaxed);
                frame
            })
        });
        let (req, unread) = unread_body::watch(req);
        // A panic inside dav-server must not take the connection task (or the caller) with it.
        let response = match AssertUnwindSafe(self.dispatch(req)).catch_unwind().await {
            Ok(response) => response,
            Err(_) => {
                tracing::error!("webdav handler panicked; answering 500");
                internal_error()
            }
        };
        // Whatever the handler left of the body must not reach the next request (see `unread_body`).
        unread.discard().await;
        guard.set_status(response.status());
        let status = response.status();
        let announced = if is_head
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            Some(0)
        } else {
            response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok())
        };
        response.map(|body| ShareBody::new(body, guard, announced))
    }

    async fn dispatch<B>(&self, mut req: Request<B>) -> Response<DavBody>
    where
        B: HttpBody + Send + 'static,
        B::Data: Buf + Send + 'static,
        B::Error: StdError + Send + Sync + 'static,
    {
        let method = req.method().as_str();
        let allowed = self.allowed_methods();
        if !ALL_METHODS.contains(&method) {
            let status = if KNOWN_UNSUPPORTED.contains(&method) {
                StatusCode::METHOD_NOT_ALLOWED
            } else {
                StatusCode::NOT_IMPLEMENTED
            };
            return refuse(status, allowed, "This method is not supported.\n");
        }
        if let Some((status, text)) = check_paths(&req) {
            return refuse(status, allowed, text);
        }
        if self.inner.read_only && WRITE_METHODS.contains(&method) {
            return refuse(StatusCode::FORBIDDEN, allowed, "This shared folder is read-only.\n");
        }
        if let Some((status, text)) = check_tree_operation(&req) {
            return refuse(status, allowed, text);
        }
        if method == "PROPFIND" && !req.headers().contains_key("depth") {
            req.headers_mut().insert("depth", HeaderValue::from_static("1"));
        }
        let is_options = req.method() == Method::OPTIONS;
        let infinite_propfind = req.method().as_str() == "PROPFIND"
            && req
                .headers()
                .get("depth")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("infinity"));
        let mut response = if matches!(req.method().as_str(), "PUT" | "PATCH") {
            self.upload(req).await
        } else {
            self.inner.handler.handle(req).await
        };
        if is_options {
            fix_allow_header(&mut response, allowed);
        }
        if infinite_propfind && response.status() == StatusCode::NOT_IMPLEMENTED {
            // dav-server's answer to Depth: infinity; RFC 4918 §9.1 wants 403 with this body.
            *response.status_mut() = StatusCode::FORBIDDEN;
        }
        if response.status().is_client_error() {
            keep_connection_open(&mut response);
        }
        response
    }

    /// Hand a PUT/PATCH to dav-server with its body watched, so that the filesystem replaces the
    /// target only if the body ended cleanly with every byte written (see [`UploadBody`]).
    async fn upload<B>(&self, req: Request<B>) -> Response<DavBody>
    where
        B: HttpBody + Send + 'static,
        B::Data: Buf + Send + 'static,
        B::Error: StdError + Send + Sync + 'static,
    {
        let record = UploadBody::new();
        let req = req.map(|body| WatchedBody { inner: Box::pin(body), record: Arc::clone(&record) });
        let mut response = Arc::clone(&record).scope(self.inner.handler.handle(req)).await;
        if record.refused() && response.status().is_server_error() {
            // The body ended, but not with the length the request announced: the client's error.
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        response
    }

    fn allowed_methods(&self) -> &'static [&'static str] {
        if self.inner.read_only {
            READ_METHODS
        } else {
            ALL_METHODS
        }
    }
}

/// dav-server's own method filter: the read methods for a read-only share (defence in depth;
/// the wrapper refuses writes first), otherwise everything we serve.
fn dav_methods(read_only: bool) -> DavMethodSet {
    let mut set = DavMethodSet::none();
    let read = [DavMethod::Options, DavMethod::Get, DavMethod::Head, DavMethod::PropFind];
    let write = [
        DavMethod::Put,
        DavMethod::Patch,
        DavMethod::Delete,
        DavMethod::MkCol,
        DavMethod::Copy,
        DavMethod::Move,
        DavMethod::PropPatch,
        DavMethod::Lock,
        DavMethod::Unlock,
    ];
    for m in read {
        set.add(m);
    }
    if !read_only {
        for m in write {
            set.add(m);
        }
    }
    set
}

/// Refuse a request path or COPY/MOVE `Destination` with a dot segment, an encoded slash, a
/// backslash or a control byte (see [`check_raw_path`]) with 400, a name or path longer than the
/// host can store with 414, and a `Destination` that is not an http(s) URL or an absolute path
/// with 400.
fn check_paths<B>(req: &Request<B>) -> Option<(StatusCode, &'static str)> {
    const TOO_LONG: &str = "A file name or path is longer than the host can store.\n";
    let refusal = |e: NameError, text: &'static str| match e {
        NameError::TooLong => (StatusCode::URI_TOO_LONG, TOO_LONG),
        _ => (StatusCode::BAD_REQUEST, text),
    };
    let path = req.uri().path();
    if path != "*" {
        if let Err(e) = check_raw_path(path) {
            return Some(refusal(e, "Invalid request path: no dot segments, backslashes or control characters.\n"));
        }
    }
    if matches!(req.method().as_str(), "COPY" | "MOVE") {
        const BAD_DEST: &str = "Invalid Destination header.\n";
        let value = req.headers().get("destination")?;
        let Some(dest) = value.to_str().ok().and_then(destination_raw_path) else {
            return Some((StatusCode::BAD_REQUEST, BAD_DEST));
        };
        if let Err(e) = check_raw_path(dest) {
            return Some(refusal(e, BAD_DEST));
        }
    }
    None
}

/// The raw (still encoded) path of a `Destination`: the value itself if it starts with `/`,
/// otherwise the path of an http or https URL.
fn destination_raw_path(text: &str) -> Option<&str> {
    if text.starts_with('/') {
        return Some(text);
    }
    let (scheme, rest) = text.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

/// Refuse DELETE or MOVE of the share root, and COPY or MOVE onto the root or onto an ancestor
/// of (or the same resource as) the source.
///
/// dav-server 0.11 deletes an existing destination before a COPY/MOVE with overwrite. With the
/// root as target that empties the whole share (the source included) and then removes the
/// share directory itself; `DELETE /` does the same. Both then panic in `MemLs::delete`
/// (`tree.rs` unwraps the root's missing parent), which poisons the lock table's mutex, so
/// every later lock operation on the share would panic too. An ancestor as destination deletes
/// the source before copying it. Apache mod_dav answers 403 for these; so do we.
///
/// A `Destination` we cannot parse gets 400; dav-server's parser (the `url` crate) is more
/// lenient and could resolve such a value to the root.
fn check_tree_operation<B>(req: &Request<B>) -> Option<(StatusCode, &'static str)> {
    const ROOT_TEXT: &str = "The root of the shared folder cannot be deleted, moved or replaced.\n";
    let method = req.method().as_str();
    if !matches!(method, "DELETE" | "MOVE" | "COPY") {
        return None;
    }
    // A target dav-server cannot parse is refused by dav-server itself.
    let source = normalized_path(req.uri().path())?;
    if source.is_empty() && method != "COPY" {
        return Some((StatusCode::FORBIDDEN, ROOT_TEXT));
    }
    if method == "DELETE" {
        return None;
    }
    // A missing Destination is answered by dav-server (400).
    let value = req.headers().get("destination")?;
    let Some(dest) = destination_path(value) else {
        return Some((StatusCode::BAD_REQUEST, "Invalid Destination header.\n"));
    };
    let dest_contains_source = source == dest || source.starts_with(&[dest.as_slice(), b"/"].concat());
    if dest.is_empty() || dest_contains_source {
        return Some((StatusCode::FORBIDDEN, ROOT_TEXT));
    }
    None
}

/// The `Destination` header as a normalised path (see [`normalized_path`]). Like dav-server,
/// take a value starting with `/` as a path and otherwise use the path of the absolute URI.
fn destination_path(value: &HeaderValue) -> Option<Vec<u8>> {
    let text = value.to_str().ok()?;
    if text.starts_with('/') {
        normalized_path(text)
    } else {
        let uri = text.parse::<http::Uri>().ok()?;
        uri.scheme()?;
        normalized_path(uri.path())
    }
}

/// A request path percent-decoded and normalised the way dav-server does it (`.`/`..` and
/// repeated slashes resolved), without its trailing slash; the root is the empty string.
fn normalized_path(raw: &str) -> Option<Vec<u8>> {
    let path = DavPath::new(raw).ok()?;
    let bytes = path.as_bytes();
    Some(bytes.strip_suffix(b"/").unwrap_or(bytes).to_vec())
}

/// Answer a request we refuse ourselves. The response has no `Connection: close`; the unread
/// body is discarded by [`ShareServer::handle`].
fn refuse(status: StatusCode, allowed: &[&str], text: &'static str) -> Response<DavBody> {
    let mut response = Response::new(DavBody::from(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(text.len()));
    if matches!(status, StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED) {
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            headers.insert(ALLOW, v);
        }
    }
    response
}

/// Keep only the share's methods in an OPTIONS `Allow`; add GET and HEAD for collections, which
/// dav-server leaves out even though its autoindex serves them.
fn fix_allow_header(response: &mut Response<DavBody>, allowed: &[&str]) {
    let Some(value) = response.headers().get(ALLOW).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let listed: Vec<&str> = value.split(',').map(str::trim).collect();
    let is_collection = listed.contains(&"PROPFIND") && !listed.contains(&"GET");
    let ordered: Vec<&'static str> = ALL_METHODS
        .iter()
        .copied()
        .filter(|m| allowed.contains(m))
        .filter(|m| listed.contains(m) || (is_collection && matches!(*m, "GET" | "HEAD")))
        .collect();
    match HeaderValue::from_str(&ordered.join(", ")) {
        Ok(v) => {
            response.headers_mut().insert(ALLOW, v);
        }
        Err(_) => {
            response.headers_mut().remove(ALLOW);
        }
    }
}

/// `500 Internal Server Error` with `Connection: close`, for a handler that panicked.
fn internal_error() -> Response<DavBody> {
    let mut response = Response::new(DavBody::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    let headers = response.headers_mut();
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0u32));
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Drop dav-server's `Connection: close` from a 4xx answer.
///
/// dav-server closes after most errors, e.g. `423 Locked` or `412` on PUT, a `400` for a bad
/// XML body, `413` for a body over 64 KiB. None of that leaves the HTTP stream in doubt:
/// hyper parsed the request head, and [`ShareServer::handle`] reads whatever the handler left of
/// the request body before the answer goes out. Keeping the connection saves the guest a
/// reconnect through the mux. 5xx answers (I/O trouble on our side) keep dav-server's
/// `Connection: close`.
fn keep_connection_open(response: &mut Response<DavBody>) {
    let closes = response
        .headers()
        .get(CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
    if closes {
        response.headers_mut().remove(CONNECTION);
    }
}

/// Percent-decode a request path for display; invalid UTF-8 is replaced.
fn display_path(raw: &str) -> String {
    String::from_utf8_lossy(&percent_decode(raw.as_bytes())).into_owned()
}

/// A request body that reports its progress to an [`UploadBody`] record: data bytes yielded, a
/// clean end, an error.
struct WatchedBody<B> {
    inner: Pin<Box<B>>,
    record: Arc<UploadBody>,
}

impl<B> HttpBody for WatchedBody<B>
where
    B: HttpBody,
    B::Data: Buf,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = this.inner.as_mut().poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.record.received(u64::try_from(data.remaining()).unwrap_or(u64::MAX));
                }
            }
            Poll::Ready(Some(Err(_))) => this.record.failed(),
            Poll::Ready(None) => this.record.ended(),
            Poll::Pending => {}
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
}

impl ShareBody {
    fn new(inner: DavBody, guard: RequestGuard, announced: Option<u64>) -> Self {
        Self { inner, guard: Some(guard), announced, sent: 0 }
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
        // dav-server does some of its work (DELETE, COPY, MOVE, PROPFIND) while the body streams.
        let inner = &mut this.inner;
        let polled = match catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll_frame(cx))) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_path_decodes_percent_escapes() {
        assert_eq!(display_path("/a%20b/%C3%A4.txt"), "/a b/ä.txt");
        assert_eq!(display_path("/100%"), "/100%");
        assert_eq!(display_path("/%zz%4"), "/%zz%4");
        assert_eq!(display_path("/%ff"), "/\u{fffd}");
    }

    #[test]
    fn allow_header_is_filtered_for_read_only_and_collections_get_get() {
        let mut r = Response::new(DavBody::empty());
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("OPTIONS,PROPFIND,COPY,LOCK,UNLOCK"));
        fix_allow_header(&mut r, READ_METHODS);
        assert_eq!(r.headers()[ALLOW], "OPTIONS, GET, HEAD, PROPFIND");

        let mut r = Response::new(DavBody::empty());
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("HEAD,GET,PATCH,PUT,OPTIONS,PROPFIND,MOVE,DELETE"));
        fix_allow_header(&mut r, ALL_METHODS);
        assert_eq!(r.headers()[ALLOW], "OPTIONS, GET, HEAD, PROPFIND, PUT, PATCH, DELETE, MOVE");
    }

    #[test]
    fn canned_responses_have_correct_content_length() {
        for raw in [over_capacity_response(), not_sharing_response()] {
            let text = std::str::from_utf8(raw).unwrap_or_default();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
            let declared =
                head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.parse::<usize>().ok());
            assert_eq!(declared, Some(body.len()), "{head}");
        }
    }

    fn tree_check(method: &str, path: &str, dest: Option<&str>) -> Option<StatusCode> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(d) = dest {
            req = req.header("destination", d);
        }
        let req = req.body(()).unwrap_or_default();
        check_tree_operation(&req).map(|(status, _)| status)
    }

    #[test]
    fn tree_operations_on_the_root_or_an_ancestor_are_refused() {
        let forbidden = Some(StatusCode::FORBIDDEN);
        assert_eq!(tree_check("DELETE", "/", None), forbidden);
        assert_eq!(tree_check("DELETE", "/a/%2e%2e/", None), forbidden);
        assert_eq!(tree_check("DELETE", "/a/", None), None);
        assert_eq!(tree_check("MOVE", "/", Some("/x/")), forbidden);
        assert_eq!(tree_check("COPY", "/", Some("/x/")), None);
        assert_eq!(tree_check("COPY", "/a/b", Some("http://h:8080")), forbidden);
        assert_eq!(tree_check("COPY", "/a/b", Some("http://h/a")), forbidden);
        assert_eq!(tree_check("COPY", "/a/b", Some("/a/b/")), forbidden);
        assert_eq!(tree_check("COPY", "/a/b", Some("/ab")), None);
        assert_eq!(tree_check("MOVE", "/a/b", Some("http://h/a/c?x")), None);
        assert_eq!(tree_check("MOVE", "/a/b", Some("a/c")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(tree_check("MOVE", "/a/b", Some("/../")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(tree_check("MOVE", "/a/b", None), None);
        assert_eq!(tree_check("GET", "/", None), None);
    }

    #[test]
    fn read_only_method_set_is_webdav_ro() {
        let ro = dav_methods(true);
        assert!(ro.contains(DavMethod::PropFind) && ro.contains(DavMethod::Get));
        assert!(!ro.contains(DavMethod::Put) && !ro.contains(DavMethod::Lock));
        let rw = dav_methods(false);
        assert!(rw.contains(DavMethod::Lock) && !rw.contains(DavMethod::Report));
    }
}

//! The embedded WebDAV server that serves one shared folder.
//!
//! The guest's `spice-webdavd` tunnels each of its TCP connections through the WebDAV mux; the
//! mux hands every such byte stream to [`ShareServer::serve_connection`], which speaks
//! HTTP/1.1 (hyper) and answers WebDAV requests from a local directory through ryll's own
//! filesystem ([`ShareFs`](super::sharefs::ShareFs): confined to the share, loss-free uploads).
//! One [`ShareServer`] (one `DavHandler`, one lock table) serves every connection of a share.
//!
//! # Named shares
//! [`ShareServer::named`] serves several folders at once: the guest's root is a read-only virtual folder with one
//! folder per share ([`MultiFs`]), each share with its own read-only flag, protection and quota.
//! [`ShareServer::change_shares`] swaps the table of shares in at once, without retiring the server: adding,
//! removing or changing one share leaves the guest's connections (and so its other shares) alone. Read-only is
//! decided per path: a write method whose path (for COPY: whose destination; for MOVE: either) lies in a read-only
//! share or at the root gets 403, dav-server's method filter is chosen per request, and the share's filesystem
//! refuses every change on its own. Each share's folder is a root for the tree checks below.
//!
//! # Fixes on top of dav-server 0.11
//! A thin wrapper ([`ShareServer::handle`], then `dispatch.rs`) sits in front of `DavHandler::handle`; the
//! method policy is in [`methods`](super::methods), the path policy in `paths.rs`:
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
//!   share directory itself and then panic (see `paths::check_tree_operation`).
//! - **Suspicious paths are refused** with `400`: a dot segment (`.`, `..`, also percent-encoded),
//!   an encoded slash, a backslash, NUL or another control byte in the request path or in a
//!   COPY/MOVE `Destination` (whose scheme must be http or https). The filesystem refuses such
//!   names again on its own.
//! - **Protected paths cannot be locked or patched**: LOCK, UNLOCK and PROPPATCH on a hidden or read-only path
//!   (also through a symlink in the share) get 403 before dav-server, whose lock table is in memory and which
//!   pretends to set the Windows `Win32*` properties; the filesystem refuses every other method on its own (see
//!   [`protect`](super::protect)).
//! - **Client errors keep the connection**: dav-server adds `Connection: close` to most error
//!   answers (e.g. `423 Locked` on PUT); the wrapper removes it from 4xx answers (see
//!   `dispatch::keep_connection_open` for why that is safe).
//!
//! - **Malformed chunked bodies** (a bad chunk size line or terminator) get `400` and a close, where
//!   dav-server would answer `502`: the client's error, and the rest of the stream cannot be parsed.
//! - **An absurd body on a method other than PUT/PATCH** (`Content-Length` over [`MAX_OTHER_BODY`]) gets `413`
//!   at once and a close: the body is not read (to its end, as below), so `GET` with a length of 2^63 does
//!   not hang the connection.
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
//! Request bodies are streamed: PUT goes into a temporary file (pieces under 8 KiB gathered into writes of up
//! to 64 KiB, so a body sent one byte per frame does not cost one file write per byte) and nothing
//! buffers a whole body (dav-server buffers other methods' bodies up to 64 KiB and refuses larger
//! ones). The PUT/PATCH body is watched ([`UploadBody`](super::sharefs::UploadBody)): the temporary replaces the
//! target only if the body ended cleanly and every byte was written; a body that ends with a length other than
//! the announced one gets `400`, a broken connection leaves the old file.
//!
//! # Runtime
//! The share's filesystem does its file I/O on threads of its own,
//! [`MAX_FILE_OPS`](super::sharefs::MAX_FILE_OPS) for the process, so connections may share a task or run on
//! any runtime; give each its own task (`tokio::spawn(server.serve_connection(io))`) for parallelism.
//! A response body runs at most [`AHEAD`](super::pace::AHEAD) bytes ahead of what the connection has written
//! ([`pace`](super::pace)), so a connection that cannot write holds little of its response.
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
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Buf;
use dav_server::memls::MemLs;
use dav_server::DavHandler;
use futures_util::FutureExt;
use http::header::CONTENT_LENGTH;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Body as HttpBody;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};

use super::bodies::{CheckedBody, ShareBody};
use super::coalesce::Coalesced;
use super::dispatch::{dispatch, internal_error, refuse_and_close, View};
use super::methods::dav_methods;
use super::named::{check_shares, NamedShare, ShareInfo, ShareNameError};
use super::pace::{Pace, PacedIo};
use super::paths::display_path;
use super::protect::Protection;
pub use super::share_stats::{InFlightProgress, InFlightRequest, ShareStats, ShareStatsSnapshot};
use super::sharefs::{Mount, MultiFs, ShareFs, ShareFsOptions};
use super::unread_body;
use super::windows::{is_mini_redirector, listing_scope, ConnectionWatch, WindowsHints};

/// GET read chunk size: one mux frame holds at most 65535 bytes.
pub const READ_BUF_SIZE: usize = 65535;
/// hyper's per-connection read/write buffer limit (also bounds the request head size).
pub const MAX_BUF_SIZE: usize = 256 * 1024;
/// How long hyper waits for a complete request head, also on an idle keep-alive connection.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest body a request other than PUT/PATCH may announce. dav-server reads at most 64 KiB of such a body
/// (and answers `413` above that); ryll discards the rest before answering, so a larger announced length is
/// answered `413` at once and the connection closed, instead of reading (say) 2^63 bytes first.
pub const MAX_OTHER_BODY: u64 = 1024 * 1024;

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
    /// What the guest may not read or change inside the share (credential stores, login files).
    pub protection: Protection,
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
    /// A bad share name, two alike, too many shares or no such share.
    #[error(transparent)]
    Name(#[from] ShareNameError),
    /// Named shares were changed on a server of one share at the root.
    #[error("a folder is shared at the root: stop that share before adding named shares")]
    NotNamed,
}

/// `shares` with every root canonical (checked again when the filesystem opens).
fn canonical(mut shares: Vec<NamedShare>) -> Result<Vec<NamedShare>, ShareError> {
    for share in &mut shares {
        let root = &share.config.root;
        share.config.root =
            std::fs::canonicalize(root).map_err(|source| ShareError::Root { path: root.clone(), source })?;
    }
    Ok(shares)
}

/// The WebDAV server for one shared folder, or for several named shares behind a read-only virtual root; cheap
/// to clone (the state is behind an `Arc`).
/// Tells a connection's [`ConnectionWatch`] that the connection ended, when its future ends or is dropped (through
/// SPICE, the guest's close drops the connection's task).
struct EndReport {
    watch: Arc<ConnectionWatch>,
    hints: Arc<WindowsHints>,
    /// The share was stopped: the end says nothing about the client.
    retired: bool,
}

impl Drop for EndReport {
    fn drop(&mut self) {
        if !self.retired {
            self.watch.ended(&self.hints);
        }
    }
}

#[derive(Clone)]
pub struct ShareServer {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    read_only: bool,
    handler: DavHandler,
    /// One share at the root, or named shares.
    tree: Tree,
    protection: Protection,
    stats: Arc<ShareStats>,
    /// What the Windows hints have seen (shared with the session, see [`ShareServer::with_windows_hints`]).
    windows: Arc<WindowsHints>,
    /// Set when the share is stopped or replaced: its connections end at their next request boundary.
    retired: tokio::sync::watch::Sender<bool>,
}

/// What a server serves.
enum Tree {
    /// One share at the root: its filesystem, for the protection checks made before dav-server (LOCK).
    Single(ShareFs),
    /// Named shares: their settings and the table requests start from, swapped as shares come and go.
    Named(RwLock<NamedTable>),
}

struct NamedTable {
    /// The shares' settings (roots canonical), in the order they are listed.
    shares: Vec<NamedShare>,
    /// The filesystem over them.
    fs: MultiFs,
}

impl fmt::Debug for ShareServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareServer")
            .field("root", &self.inner.root)
            .field("read_only", &self.inner.read_only)
            .finish_non_exhaustive()
    }
}

/// Canonicalise and check a share's root and open its filesystem.
fn open_share(cfg: &ShareConfig) -> Result<(PathBuf, ShareFs), ShareError> {
    let root =
        std::fs::canonicalize(&cfg.root).map_err(|source| ShareError::Root { path: cfg.root.clone(), source })?;
    let meta = std::fs::metadata(&root).map_err(|source| ShareError::Root { path: cfg.root.clone(), source })?;
    if !meta.is_dir() {
        return Err(ShareError::NotADirectory(root));
    }
    let options = ShareFsOptions { read_only: cfg.read_only, private: cfg.private };
    let fs = ShareFs::open_protected(&root, options, cfg.protection.clone())
        .map_err(|source| ShareError::Root { path: cfg.root.clone(), source })?;
    Ok((root, fs))
}

/// The filesystem over `shares` (roots canonical).
fn named_fs(shares: &[NamedShare]) -> Result<MultiFs, ShareError> {
    let mut mounts = Vec::with_capacity(shares.len());
    for share in shares {
        let (root, fs) = open_share(&share.config)?;
        mounts.push(Mount { name: share.name.clone(), root, fs });
    }
    Ok(MultiFs::new(Arc::new(mounts)))
}

fn handler(fs: Box<dyn dav_server::fs::GuardedFileSystem<()>>, read_only: bool) -> DavHandler {
    DavHandler::builder()
        .filesystem(fs)
        .locksystem(MemLs::new())
        .methods(dav_methods(read_only))
        .autoindex(true)
        // The filesystem lists only symlinks that stay inside the share; show those.
        .hide_symlinks(false)
        .read_buf_size(READ_BUF_SIZE)
        .build_handler()
}

impl ShareServer {
    /// Build the server for `cfg`. The root must exist and be a directory; it is canonicalised
    /// (symlinks and `..` resolved) once, here.
    pub fn new(cfg: ShareConfig) -> Result<Self, ShareError> {
        Self::with_windows_hints(cfg, WindowsHints::new())
    }

    /// Like [`new`](Self::new), reporting what Windows clients trip over to `windows` (the session's, so that its
    /// hints outlive a change of share).
    pub fn with_windows_hints(cfg: ShareConfig, windows: Arc<WindowsHints>) -> Result<Self, ShareError> {
        let (root, fs) = open_share(&cfg)?;
        let handler = handler(Box::new(fs.clone()), cfg.read_only);
        Ok(Self::build(root, cfg.read_only, handler, Tree::Single(fs), cfg.protection, windows))
    }

    /// Build the server for named shares: the guest's root is a read-only folder holding one folder per share
    /// (`/NAME/`). Names must pass [`check_shares`]; every root must exist and be a directory.
    pub fn named(shares: Vec<NamedShare>) -> Result<Self, ShareError> {
        Self::named_with_windows_hints(shares, WindowsHints::new())
    }

    /// Like [`named`](Self::named), reporting what Windows clients trip over to `windows`.
    pub fn named_with_windows_hints(shares: Vec<NamedShare>, windows: Arc<WindowsHints>) -> Result<Self, ShareError> {
        check_shares(shares.iter().map(|s| s.name.as_str()))?;
        let shares = canonical(shares)?;
        let fs = named_fs(&shares)?;
        // Read-only shares are refused per path, before dav-server (see `dispatch`), and by their filesystem.
        let handler = handler(Box::new(fs.clone()), false);
        let protection = shares.first().map(|s| s.config.protection.clone()).unwrap_or_else(Protection::defaults);
        let tree = Tree::Named(RwLock::new(NamedTable { shares, fs }));
        Ok(Self::build(PathBuf::new(), false, handler, tree, protection, windows))
    }

    fn build(
        root: PathBuf,
        read_only: bool,
        handler: DavHandler,
        tree: Tree,
        protection: Protection,
        windows: Arc<WindowsHints>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                root,
                read_only,
                handler,
                tree,
                protection,
                stats: Arc::new(ShareStats::new()),
                windows,
                retired: tokio::sync::watch::channel(false).0,
            }),
        }
    }

    /// What the Windows hints have seen.
    pub fn windows_hints(&self) -> Arc<WindowsHints> {
        Arc::clone(&self.inner.windows)
    }

    /// The named shares served, in order; `None` for a server of one share at the root.
    pub fn shares(&self) -> Option<Vec<ShareInfo>> {
        let Tree::Named(table) = &self.inner.tree else { return None };
        let table = table.read().ok()?;
        Some(
            table
                .shares
                .iter()
                .map(|s| ShareInfo { name: s.name.clone(), root: s.config.root.clone(), read_only: s.config.read_only })
                .collect(),
        )
    }

    /// Change the named shares with `change` (given the current list, roots canonical) and swap the new table in
    /// at once. Requests in flight finish with the table they started with; connections stay open, so adding or
    /// removing a share does not disturb the others. Refused for a server of one share at the root.
    pub fn change_shares(
        &self,
        change: impl FnOnce(&mut Vec<NamedShare>) -> Result<(), ShareError>,
    ) -> Result<Vec<ShareInfo>, ShareError> {
        let Tree::Named(table) = &self.inner.tree else { return Err(ShareError::NotNamed) };
        {
            let mut table = table.write().map_err(|_| ShareError::NotNamed)?;
            let mut shares = table.shares.clone();
            change(&mut shares)?;
            check_shares(shares.iter().map(|s| s.name.as_str()))?;
            let shares = canonical(shares)?;
            let fs = named_fs(&shares)?;
            *table = NamedTable { shares, fs };
        }
        self.shares().ok_or(ShareError::NotNamed)
    }

    /// What a request is served from now.
    fn view(&self) -> View<'_> {
        match &self.inner.tree {
            Tree::Single(fs) => View::Single(fs, self.inner.read_only),
            Tree::Named(table) => match table.read() {
                Ok(table) => View::Named(table.fs.clone()),
                Err(_) => View::Named(MultiFs::new(Arc::new(Vec::new()))),
            },
        }
    }

    /// Ends this share's connections gracefully: a request in flight is answered (with `Connection: close`), then
    /// each connection closes; idle ones close at once. The guest's next request on such a connection starts a new
    /// one, served by whatever share is current then (or answered 503). This is how a share stops or changes
    /// without relinking the WebDAV channel, which a SPICE proxy's one-time token may no longer allow.
    pub fn retire(&self) {
        self.inner.retired.send_replace(true);
    }

    /// The canonical path of the shared directory (empty for named shares: see [`shares`](Self::shares)).
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Whether the share refuses writes (false for named shares, which decide each on its own).
    pub fn read_only(&self) -> bool {
        self.inner.read_only
    }

    /// What the share protects.
    pub fn protection(&self) -> &Protection {
        &self.inner.protection
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
        let pace = Pace::new();
        let body_pace = Arc::clone(&pace);
        let watch = Arc::new(ConnectionWatch::default());
        let conn_watch = Arc::clone(&watch);
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let server = server.clone();
            let pace = Arc::clone(&body_pace);
            let watch = Arc::clone(&conn_watch);
            async move {
                let response = server.handle_on(req, Some(watch)).await;
                Ok::<_, Infallible>(response.map(|body| Coalesced::new(body.paced(pace))))
            }
        });
        let mut retired = self.inner.retired.subscribe();
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true)
            .half_close(true)
            .max_buf_size(MAX_BUF_SIZE)
            .serve_connection(TokioIo::new(PacedIo::new(io, pace)), service);
        tokio::pin!(conn);
        let retire = async move {
            loop {
                let done = *retired.borrow_and_update();
                if done {
                    return;
                }
                if retired.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        let mut end_report = EndReport { watch, hints: Arc::clone(&self.inner.windows), retired: false };
        let mut retiring = false;
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = retire => {
                retiring = true;
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        end_report.retired = retiring;
        drop(end_report);
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
        self.handle_on(req, None).await
    }

    /// [`handle`](Self::handle) on a connection with its Windows watch (see [`ConnectionWatch`]).
    async fn handle_on<B>(&self, req: Request<B>, conn: Option<Arc<ConnectionWatch>>) -> Response<ShareBody>
    where
        B: HttpBody + Send + 'static,
        B::Data: Buf + Send + 'static,
        B::Error: StdError + Send + Sync + 'static,
    {
        if let Some(conn) = &conn {
            conn.request_started();
        }
        let mut guard = self.inner.stats.begin_request(req.method().as_str(), display_path(req.uri().path()));
        // Only the Windows mini-redirector's requests are watched for the Windows hints (one header look-up).
        let windows = is_mini_redirector(req.headers()).then(|| Arc::clone(&self.inner.windows));
        let watched = windows.as_ref().map(|_| (req.method().as_str().to_owned(), display_path(req.uri().path())));
        let is_head = req.method() == Method::HEAD;
        let is_upload = matches!(req.method().as_str(), "PUT" | "PATCH");
        if !is_upload && req.body().size_hint().lower() > MAX_OTHER_BODY {
            // Reading such a body to its end (see `unread_body`) could take forever; the guest's next request
            // may then be lost in it, which is the price of an absurd request.
            tracing::debug!("webdav: {} announces a body over {MAX_OTHER_BODY} bytes; answering 413", req.method());
            let response = refuse_and_close(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.\n");
            guard.set_status(response.status());
            let announced = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok());
            return response.map(|body| ShareBody::new(body, guard, if is_head { Some(0) } else { announced }));
        }
        let malformed = Arc::new(AtomicBool::new(false));
        let checked = Arc::clone(&malformed);
        let req = req.map(move |body| CheckedBody::new(body, checked));
        // Count the request body's bytes for the in-flight table (upload progress).
        let received = guard.byte_counter();
        let req = req.map(move |body| {
            body.map_frame(move |frame| {
                let len = frame.data_ref().map_or(0, |d| d.remaining());
                received.fetch_add(u64::try_from(len).unwrap_or(u64::MAX), Ordering::Relaxed);
                frame
            })
        });
        let (req, unread) = unread_body::watch(req);
        // A panic inside dav-server must not take the connection task (or the caller) with it.
        let view = self.view();
        let handling = dispatch(&self.inner.handler, &view, &self.inner.stats, windows.as_ref(), req);
        let response = match AssertUnwindSafe(listing_scope(windows.clone(), handling)).catch_unwind().await {
            Ok(response) => response,
            Err(_) => {
                tracing::error!("webdav handler panicked; answering 500");
                internal_error()
            }
        };
        // Whatever the handler left of the body must not reach the next request (see `unread_body`).
        unread.discard().await;
        let response = if malformed.load(Ordering::SeqCst) {
            // A bad chunk size or terminator: the client's error (dav-server says 502), and where the body ends
            // is unknown, so the connection cannot go on.
            refuse_and_close(StatusCode::BAD_REQUEST, "Malformed request body.\n")
        } else {
            response
        };
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
        response.map(|body| {
            let body = ShareBody::new(body, guard, announced);
            match (windows, watched) {
                (Some(hints), Some((method, path))) => body.watch_windows(hints, conn, &method, path, status.as_u16()),
                _ => body,
            }
        })
    }
}

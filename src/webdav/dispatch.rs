//! Dispatching one request of a share: refuse what the method and path policies refuse, hand the rest to
//! dav-server (uploads with their body watched), and fix up its answer.

use std::error::Error as StdError;
use std::sync::Arc;

use bytes::Buf;
use dav_server::body::Body as DavBody;
use dav_server::{DavConfig, DavHandler};
use http::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Body as HttpBody;

use super::bodies::WatchedBody;
use super::methods::{allowed_methods, dav_methods, fix_allow_header, ALL_METHODS, KNOWN_UNSUPPORTED, WRITE_METHODS};
use super::paths::{check_paths, check_tree_operation, destination, normalized_path};
use super::share_stats::ShareStats;
use super::sharefs::{percent_decode, Access, MultiFs, ShareFs, UploadBody};
use super::windows::{Direction, Transfer, WindowsHints};

/// Answers one request: the method, path and tree policies first, then dav-server with the fixes listed in
/// [`server`](super::server).
pub(super) async fn dispatch<B>(
    handler: &DavHandler,
    view: &View<'_>,
    stats: &ShareStats,
    windows: Option<&Arc<WindowsHints>>,
    mut req: Request<B>,
) -> Response<DavBody>
where
    B: HttpBody + Send + 'static,
    B::Data: Buf + Send + 'static,
    B::Error: StdError + Send + Sync + 'static,
{
    let method = req.method().as_str();
    let path = normalized_path(req.uri().path()).unwrap_or_default();
    let allowed = allowed_methods(view.read_only_at(&path));
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
    let dest = destination(&req);
    // Without a valid Destination a read-only share at the root still refuses (as always); named shares leave the
    // answer (400) to the checks below.
    let ro =
        |p: &Option<Vec<u8>>| p.as_deref().map_or(!view.is_named() && view.read_only_at(b""), |p| view.read_only_at(p));
    let read_only = match method {
        // A copy changes only its destination (in one share at the root, the same share).
        "COPY" => ro(&dest),
        "MOVE" => view.read_only_at(&path) || ro(&dest),
        m => WRITE_METHODS.contains(&m) && view.read_only_at(&path),
    };
    if read_only {
        return refuse(StatusCode::FORBIDDEN, allowed, "This shared folder is read-only.\n");
    }
    if let Some((status, text)) = check_tree_operation(&req, view.is_named()) {
        return refuse(status, allowed, text);
    }
    // dav-server answers these without asking the filesystem for a change: LOCK/UNLOCK in its in-memory lock
    // table, PROPPATCH of the Windows `Win32*` properties with a pretended success.
    if matches!(method, "LOCK" | "UNLOCK" | "PROPPATCH")
        && view.access(&percent_decode(req.uri().path().as_bytes())).await != Access::Open
    {
        return refuse(StatusCode::FORBIDDEN, allowed, "This file is protected: the guest cannot change it.\n");
    }
    // dav-server's own method filter, per request: the read methods where the path is read-only (a COPY out of a
    // read-only share into a writable one passed the checks above).
    let config = view.dav_config(&path, view.read_only_at(&path) && method != "COPY");
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
        upload(handler, config, stats, windows, req).await
    } else {
        run(handler, config, req).await
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
async fn upload<B>(
    handler: &DavHandler,
    config: Option<DavConfig>,
    stats: &ShareStats,
    windows: Option<&Arc<WindowsHints>>,
    req: Request<B>,
) -> Response<DavBody>
where
    B: HttpBody + Send + 'static,
    B::Data: Buf + Send + 'static,
    B::Error: StdError + Send + Sync + 'static,
{
    let record = UploadBody::new();
    // Checked however the request ends, also when the connection breaks and this future is dropped.
    let mut watch = windows.map(|hints| UploadWatch {
        hints: Arc::clone(hints),
        record: Arc::clone(&record),
        announced: req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse().ok()),
        path: super::paths::display_path(req.uri().path()),
        answered: None,
    });
    let req = req.map(|body| WatchedBody::new(body, Arc::clone(&record)));
    let mut response = Arc::clone(&record).scope(run(handler, config, req)).await;
    stats.add_upload_writes(record.writes());
    if let Some(w) = watch.as_mut() {
        w.answered = Some(response.status());
    }
    if record.refused() && response.status().is_server_error() {
        // The body ended, but not with the length the request announced: the client's error.
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// A Windows client's upload, checked against the size limit when it ends (see [`super::windows`]).
struct UploadWatch {
    hints: Arc<WindowsHints>,
    record: Arc<UploadBody>,
    announced: Option<u64>,
    path: String,
    /// The answer, if the request got one (a broken connection drops the request first).
    answered: Option<StatusCode>,
}

impl Drop for UploadWatch {
    fn drop(&mut self) {
        // An upload refused for its own reasons (a protected path, a failed precondition) is not the size limit.
        if self.answered.is_some_and(|s| s.is_success() || (s.is_client_error() && s != StatusCode::BAD_REQUEST)) {
            return;
        }
        let transfer = Transfer {
            direction: Direction::Upload,
            announced: self.announced,
            moved: self.record.received_bytes(),
            complete: self.record.complete().is_some(),
            status: 0,
        };
        self.hints.transfer_ended(&transfer, &self.path);
    }
}

/// Hand a request to dav-server, with the request's own configuration if it has one.
async fn run<B>(handler: &DavHandler, config: Option<DavConfig>, req: Request<B>) -> Response<DavBody>
where
    B: HttpBody + Send + 'static,
    B::Data: Buf + Send + 'static,
    B::Error: StdError + Send + Sync + 'static,
{
    match config {
        Some(config) => handler.handle_with(config, req).await,
        None => handler.handle(req).await,
    }
}

/// What a request is served from: one share at the root (and whether it is read-only), or a snapshot of the
/// named shares.
pub(super) enum View<'a> {
    /// One share at the root.
    Single(&'a ShareFs, bool),
    /// Named shares behind a read-only virtual root.
    Named(MultiFs),
}

impl View<'_> {
    /// Whether the decoded, normalised path (no trailing slash) cannot be changed: a read-only share, or the
    /// virtual root and names at it.
    fn read_only_at(&self, path: &[u8]) -> bool {
        match self {
            View::Single(_, read_only) => *read_only,
            View::Named(fs) => fs.share_of(path).is_none_or(|m| m.fs.options().read_only),
        }
    }

    fn is_named(&self) -> bool {
        matches!(self, View::Named(_))
    }

    async fn access(&self, path: &[u8]) -> Access {
        match self {
            View::Single(fs, _) => fs.access(path).await,
            View::Named(fs) => fs.access(path).await,
        }
    }

    /// The request's dav-server configuration: for named shares, the filesystem reporting the quota of the
    /// path's share and the method filter of the path.
    fn dav_config(&self, path: &[u8], read_only: bool) -> Option<DavConfig> {
        match self {
            View::Single(..) => None,
            View::Named(fs) => {
                Some(DavConfig::new().filesystem(Box::new(fs.for_request(path))).methods(dav_methods(read_only)))
            }
        }
    }
}

/// Answer a request we refuse ourselves. The response has no `Connection: close`; the unread
/// body is discarded by [`ShareServer::handle`](super::server::ShareServer::handle).
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

/// An answer of our own after which the connection closes (the request stream cannot go on).
pub(super) fn refuse_and_close(status: StatusCode, text: &'static str) -> Response<DavBody> {
    let mut response = refuse(status, &[], text);
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// `500 Internal Server Error` with `Connection: close`, for a handler that panicked.
pub(super) fn internal_error() -> Response<DavBody> {
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
/// hyper parsed the request head, and [`ShareServer::handle`](super::server::ShareServer::handle) reads whatever
/// the handler left of the request body before the answer goes out. Keeping the connection saves the guest a
/// reconnect through the mux. 5xx answers (I/O trouble on our side) keep dav-server's `Connection: close`.
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

//! Dispatching one request of a share: refuse what the method and path policies refuse, hand the rest to
//! dav-server (uploads with their body watched), and fix up its answer.

use std::error::Error as StdError;
use std::sync::Arc;

use bytes::Buf;
use dav_server::body::Body as DavBody;
use dav_server::DavHandler;
use http::header::{HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Body as HttpBody;

use super::bodies::WatchedBody;
use super::methods::{allowed_methods, fix_allow_header, ALL_METHODS, KNOWN_UNSUPPORTED, WRITE_METHODS};
use super::paths::{check_paths, check_tree_operation};
use super::share_stats::ShareStats;
use super::sharefs::UploadBody;

/// Answers one request: the method, path and tree policies first, then dav-server with the fixes listed in
/// [`server`](super::server).
pub(super) async fn dispatch<B>(
    handler: &DavHandler,
    read_only: bool,
    stats: &ShareStats,
    mut req: Request<B>,
) -> Response<DavBody>
where
    B: HttpBody + Send + 'static,
    B::Data: Buf + Send + 'static,
    B::Error: StdError + Send + Sync + 'static,
{
    let method = req.method().as_str();
    let allowed = allowed_methods(read_only);
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
    if read_only && WRITE_METHODS.contains(&method) {
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
        upload(handler, stats, req).await
    } else {
        handler.handle(req).await
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
async fn upload<B>(handler: &DavHandler, stats: &ShareStats, req: Request<B>) -> Response<DavBody>
where
    B: HttpBody + Send + 'static,
    B::Data: Buf + Send + 'static,
    B::Error: StdError + Send + Sync + 'static,
{
    let record = UploadBody::new();
    let req = req.map(|body| WatchedBody::new(body, Arc::clone(&record)));
    let mut response = Arc::clone(&record).scope(handler.handle(req)).await;
    stats.add_upload_writes(record.writes());
    if record.refused() && response.status().is_server_error() {
        // The body ended, but not with the length the request announced: the client's error.
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
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

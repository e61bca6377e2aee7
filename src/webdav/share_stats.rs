//! Live statistics for one shared folder.
//!
//! [`ShareStats`] is shared (behind an `Arc`) by every connection that the share's
//! [`ShareServer`](super::server::ShareServer) serves. It is cheap to update on the request
//! path: counters are atomics, and the table of requests in flight is a small map behind a
//! mutex that is held only to insert or remove one entry.
//!
//! A request enters the table when its head has been parsed and leaves it when its response
//! body has been sent completely, or when the response (or the request future) is dropped,
//! for example because the connection died mid-response. That bookkeeping is done by
//! `RequestGuard`, whose `Drop` does the removal, so nothing can leak an entry.
//!
//! Channel byte counters (`bytes_in` / `bytes_out`) are not kept here: the WebDAV mux counts them. Each request
//! in flight has its own body byte counter (request body received plus response body produced), read with
//! [`ShareStats::in_flight_progress`] so a UI can show how far an upload or download has got.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::StatusCode;

/// Counters and the in-flight table of one share. Obtain it with
/// [`ShareServer::stats`](super::server::ShareServer::stats).
#[derive(Debug, Default)]
pub struct ShareStats {
    /// Requests finished (response sent, or abandoned because the connection went away).
    requests_served: AtomicU64,
    /// Requests started but not yet finished.
    in_flight: AtomicUsize,
    /// Wall-clock start time of the most recent request, in ms since the Unix epoch (0 = never).
    last_request_unix_ms: AtomicU64,
    /// HTTP connections currently being served.
    connections_open: AtomicUsize,
    /// HTTP connections served in total (including the open ones).
    connections_total: AtomicU64,
    /// Writes uploads made to their files (PUT/PATCH bodies).
    upload_writes: AtomicU64,
    /// Source of keys for `table`.
    next_id: AtomicU64,
    /// Requests in flight with their body byte counters, keyed by a per-share request counter.
    table: Mutex<HashMap<u64, (InFlightRequest, Arc<AtomicU64>)>>,
}

/// A point-in-time copy of the counters in [`ShareStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShareStatsSnapshot {
    /// Requests finished so far (completed, or abandoned when their connection went away).
    pub requests_served: u64,
    /// Requests being served right now.
    pub in_flight: usize,
    /// When the most recent request started, in milliseconds since the Unix epoch; 0 if none yet.
    pub last_request_unix_ms: u64,
    /// HTTP connections being served right now.
    pub connections_open: usize,
    /// HTTP connections served since the share was created.
    pub connections_total: u64,
    /// Writes uploads have made to their files: small body pieces are gathered first, so one per 64 KiB or
    /// so, however the body arrived.
    pub upload_writes: u64,
}

/// One request that is being served right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightRequest {
    /// HTTP method, as sent (for example `PROPFIND`).
    pub method: String,
    /// Request path, percent-decoded for display (invalid UTF-8 is replaced), without the query.
    pub path: String,
    /// When the request head was received.
    pub started: Instant,
}

/// One request in flight and how many body bytes it has moved so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlightProgress {
    /// Method, path and start time.
    pub request: InFlightRequest,
    /// Request body bytes received plus response body bytes produced so far.
    pub bytes: u64,
}

impl ShareStats {
    /// Create zeroed statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy the counters.
    pub fn snapshot(&self) -> ShareStatsSnapshot {
        ShareStatsSnapshot {
            requests_served: self.requests_served.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            last_request_unix_ms: self.last_request_unix_ms.load(Ordering::Relaxed),
            connections_open: self.connections_open.load(Ordering::Relaxed),
            connections_total: self.connections_total.load(Ordering::Relaxed),
            upload_writes: self.upload_writes.load(Ordering::Relaxed),
        }
    }

    /// Counts `n` writes of an upload to its file.
    pub(crate) fn add_upload_writes(&self, n: u64) {
        self.upload_writes.fetch_add(n, Ordering::Relaxed);
    }

    /// The requests being served right now, oldest first.
    pub fn in_flight(&self) -> Vec<InFlightRequest> {
        self.in_flight_progress().into_iter().map(|p| p.request).collect()
    }

    /// The requests being served right now with their body bytes so far, oldest first.
    pub fn in_flight_progress(&self) -> Vec<InFlightProgress> {
        let table = self.table();
        let mut entries: Vec<(u64, InFlightProgress)> = table
            .iter()
            .map(|(id, (r, bytes))| {
                (*id, InFlightProgress { request: r.clone(), bytes: bytes.load(Ordering::Relaxed) })
            })
            .collect();
        drop(table);
        entries.sort_by_key(|(id, _)| *id);
        entries.into_iter().map(|(_, p)| p).collect()
    }

    /// Register a new request; it stays in flight until the returned guard is dropped.
    pub(crate) fn begin_request(self: &Arc<Self>, method: &str, path: String) -> RequestGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        self.last_request_unix_ms.store(unix_ms_now(), Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let bytes = Arc::new(AtomicU64::new(0));
        let request = InFlightRequest { method: method.to_owned(), path: path.clone(), started };
        self.table().insert(id, (request, Arc::clone(&bytes)));
        RequestGuard {
            stats: Arc::clone(self),
            id,
            bytes,
            method: method.to_owned(),
            path,
            started,
            status: None,
            completed: false,
        }
    }

    /// Register a new connection; it counts as open until the returned guard is dropped.
    pub(crate) fn begin_connection(self: &Arc<Self>) -> ConnectionGuard {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard { stats: Arc::clone(self) }
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u64, (InFlightRequest, Arc<AtomicU64>)>> {
        // The map is always left consistent, so a panic elsewhere does not make it unusable.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps one request in the in-flight table; dropping it finishes the request and logs it.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    stats: Arc<ShareStats>,
    id: u64,
    /// Body bytes moved so far (shared with the in-flight table).
    bytes: Arc<AtomicU64>,
    method: String,
    path: String,
    started: Instant,
    status: Option<StatusCode>,
    completed: bool,
}

impl RequestGuard {
    /// Count `n` more body bytes for this request.
    pub(crate) fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// The request's body byte counter, for code that sees the bytes but not the guard (the request body).
    pub(crate) fn byte_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.bytes)
    }

    /// Record the response status (used for the log line).
    pub(crate) fn set_status(&mut self, status: StatusCode) {
        self.status = Some(status);
    }

    /// Record that the whole response body was produced (otherwise the drop logs "aborted").
    pub(crate) fn set_completed(&mut self) {
        self.completed = true;
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.stats.table().remove(&self.id);
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.stats.requests_served.fetch_add(1, Ordering::Relaxed);
        let elapsed_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        let status = self.status.map_or(0, |s| s.as_u16());
        if self.completed {
            tracing::debug!(method = %self.method, path = %self.path, status, elapsed_ms, "webdav request");
        } else {
            tracing::debug!(
                method = %self.method,
                path = %self.path,
                status,
                elapsed_ms,
                "webdav request aborted before the response was complete"
            );
        }
    }
}

/// Counts one open connection; dropping it closes the count.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    stats: Arc<ShareStats>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.stats.connections_open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn unix_ms_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_drop_moves_request_from_in_flight_to_served() {
        let stats = Arc::new(ShareStats::new());
        let a = stats.begin_request("GET", "/a".into());
        let b = stats.begin_request("PUT", "/b".into());
        assert_eq!(stats.snapshot().in_flight, 2);
        let listed: Vec<_> = stats.in_flight().into_iter().map(|r| r.method).collect();
        assert_eq!(listed, ["GET", "PUT"]);
        assert!(stats.snapshot().last_request_unix_ms > 0);
        drop(a);
        assert_eq!(stats.in_flight().len(), 1);
        drop(b);
        let snap = stats.snapshot();
        assert_eq!((snap.in_flight, snap.requests_served), (0, 2));
        assert!(stats.in_flight().is_empty());
    }

    #[test]
    fn in_flight_progress_counts_body_bytes_per_request() {
        let stats = Arc::new(ShareStats::new());
        let put = stats.begin_request("PUT", "/up.bin".into());
        let get = stats.begin_request("GET", "/down.bin".into());
        put.byte_counter().fetch_add(1000, Ordering::Relaxed);
        put.add_bytes(24);
        get.add_bytes(7);
        let progress = stats.in_flight_progress();
        let seen: Vec<_> = progress.iter().map(|p| (p.request.method.as_str(), p.bytes)).collect();
        assert_eq!(seen, [("PUT", 1024), ("GET", 7)]);
        drop(put);
        assert_eq!(stats.in_flight_progress().len(), 1);
    }

    #[test]
    fn connection_guard_counts_open_and_total() {
        let stats = Arc::new(ShareStats::new());
        let c = stats.begin_connection();
        assert_eq!(stats.snapshot().connections_open, 1);
        drop(c);
        let snap = stats.snapshot();
        assert_eq!((snap.connections_open, snap.connections_total), (0, 1));
    }
}

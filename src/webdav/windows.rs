//! Hints for Windows guests: the mini-redirector's file size limit, and names it cannot represent.
//!
//! Windows' WebDAV client (the WebClient service, User-Agent `Microsoft-WebDAV-MiniRedir/<version>`) refuses files
//! larger than `FileSizeLimitInBytes` (default 50,000,000 bytes): Explorer fails the copy with "Error 0x800700DF: The
//! file size exceeds the limit allowed and cannot be saved" (or "Cannot read from the source file or disk"), and the
//! only fix is on the guest, in the registry ([`SIZE_LIMIT_FIX`]). From the share's side that looks like a download
//! of a file over the limit that the client gives up on, or an upload it gives up on. [`hits_size_limit`] is the
//! rule; [`WindowsHints`] keeps what was seen (the first hit only: the hint is shown once per session) and the names
//! the guest's listings held that Windows cannot show ([`winnames`](super::winnames)), at most [`MAX_NAMES`] of them
//! plus a count of the rest.
//!
//! Everything here costs nothing for other clients: the server looks at the User-Agent once per request
//! ([`is_mini_redirector`]) and only then watches the transfer or the listing.

use std::collections::{BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use http::HeaderMap;

use super::winnames::{self, NameProblem};

/// The mini-redirector's default `FileSizeLimitInBytes`.
pub const DEFAULT_SIZE_LIMIT: u64 = 50_000_000;
/// A download that ended this far past the limit was stopped by something else (the user cancelling a copy): the
/// response runs ahead of what the guest read by the server's pacing window, the mux's queue and the guest's socket
/// buffers, a few MiB at most.
pub const DOWNLOAD_SLACK: u64 = 8 * 1024 * 1024;
/// An upload of unknown length that broke within this of the limit is taken for the limit.
pub const UPLOAD_SLACK: u64 = 4 * 1024 * 1024;
/// Most unrepresentable paths listed by name; the rest are counted.
pub const MAX_NAMES: usize = 100;
/// Most further distinct paths counted exactly (by a 64-bit hash each); beyond that the count is a lower bound.
pub const MAX_COUNTED: usize = 10_000;

/// The registry fix, for the log and the panel.
pub const SIZE_LIMIT_FIX: &str = "The Windows guest's WebDAV client refuses files over 50,000,000 bytes by default. \
     In the guest, as administrator: reg add HKLM\\SYSTEM\\CurrentControlSet\\Services\\WebClient\\Parameters /v \
     FileSizeLimitInBytes /t REG_DWORD /d 4294967295 /f, then restart the WebClient service \
     (net stop webclient && net start webclient). 4294967295 (about 4 GiB) is the largest value.";

/// Whether the request comes from the Windows mini-redirector (its User-Agent).
pub fn is_mini_redirector(headers: &HeaderMap) -> bool {
    const PREFIX: &[u8] = b"microsoft-webdav-miniredir/";
    headers.get(http::header::USER_AGENT).is_some_and(|v| {
        let v = v.as_bytes();
        v.len() >= PREFIX.len() && v[..PREFIX.len()].eq_ignore_ascii_case(PREFIX)
    })
}

/// Which way a transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// GET: the guest reads a file.
    Download,
    /// PUT: the guest writes one.
    Upload,
}

/// How a transfer of the mini-redirector ended, for [`hits_size_limit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transfer {
    /// Download or upload.
    pub direction: Direction,
    /// The body length announced (`Content-Length` of the response, or of the PUT request).
    pub announced: Option<u64>,
    /// Body bytes moved before the transfer ended (produced for a download, received for an upload).
    pub moved: u64,
    /// The body went through completely.
    pub complete: bool,
    /// The response status (200 for a whole-file GET).
    pub status: u16,
}

/// Whether `t` looks like the client's size limit (`limit` bytes, normally [`DEFAULT_SIZE_LIMIT`]):
/// - a **download**: a whole-file GET (status 200) of a body over the limit that the client gave up on before
///   more than `limit` + [`DOWNLOAD_SLACK`] bytes were produced. That covers both a client that stops reading at
///   the limit and one that gives up as soon as it sees the length; a user cancelling a copy well past the limit
///   does not count.
/// - an **upload**: a PUT whose body did not arrive completely, announced over the limit and broken off before
///   `limit` + [`UPLOAD_SLACK`] bytes; or, with no length announced, broken off within [`UPLOAD_SLACK`] of the limit.
pub fn hits_size_limit(t: &Transfer, limit: u64) -> bool {
    if t.complete {
        return false;
    }
    match t.direction {
        Direction::Download => {
            t.status == 200 && t.announced.is_some_and(|n| n > limit) && t.moved <= limit.saturating_add(DOWNLOAD_SLACK)
        }
        Direction::Upload => match t.announced {
            Some(n) => n > limit && t.moved <= limit.saturating_add(UPLOAD_SLACK),
            None => t.moved.abs_diff(limit) <= UPLOAD_SLACK,
        },
    }
}

/// The transfer that tripped the size limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeLimitHit {
    /// Download or upload.
    pub direction: Direction,
    /// The path, decoded for display.
    pub path: String,
    /// The file's size as announced, if known.
    pub size: Option<u64>,
    /// Bytes moved when the client stopped.
    pub moved: u64,
}

impl SizeLimitHit {
    /// What happened, for the log and the panel: "reading /big.iso (60000000 bytes) stopped after 3407820 bytes
    /// had passed ryll".
    pub fn summary(&self) -> String {
        let what = match self.direction {
            Direction::Download => "reading",
            Direction::Upload => "writing",
        };
        let size = self.size.map_or_else(|| "unknown size".to_string(), |n| format!("{n} bytes"));
        if self.size.is_some_and(|n| self.moved >= n) {
            format!(
                "{what} {} ({size}) was given up after all of it had passed ryll (the guest's buffers held the rest)",
                self.path
            )
        } else {
            format!("{what} {} ({size}) stopped after {} bytes had passed ryll", self.path, self.moved)
        }
    }
}

/// Unrepresentable names seen since the last [`WindowsHints::take_names`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamesUpdate {
    /// Paths newly listed by name, with what is wrong with the last segment.
    pub new: Vec<(String, NameProblem)>,
    /// Distinct paths seen beyond the [`MAX_NAMES`] listed, in total so far.
    pub more: u64,
    /// `more` is a lower bound (over [`MAX_COUNTED`] were seen).
    pub more_at_least: bool,
}

#[derive(Debug, Default)]
struct Names {
    listed: BTreeSet<String>,
    counted: HashSet<u64>,
    saturated: bool,
    pending: Vec<(String, NameProblem)>,
    reported_more: u64,
}

/// What the Windows hints have seen in one session (shared by the session's shares, so the size hint fires once
/// per session whichever share was served).
#[derive(Debug, Default)]
pub struct WindowsHints {
    /// Set by the first size-limit hit; later hits are ignored.
    fired: AtomicBool,
    hit: Mutex<Option<SizeLimitHit>>,
    /// Bumped whenever `names` has something to report, so the session's poll is one atomic load.
    names_version: AtomicU64,
    reported_version: AtomicU64,
    names: Mutex<Names>,
}

impl WindowsHints {
    /// Nothing seen yet.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Checks a finished transfer of the mini-redirector against the default limit and keeps the first hit.
    pub fn transfer_ended(&self, t: &Transfer, path: &str) {
        if hits_size_limit(t, DEFAULT_SIZE_LIMIT) {
            self.record(SizeLimitHit {
                direction: t.direction,
                path: path.to_owned(),
                size: t.announced,
                moved: t.moved,
            });
        }
    }

    /// Keeps `hit` if it is the session's first.
    fn record(&self, hit: SizeLimitHit) {
        if !self.fired.swap(true, Ordering::SeqCst) {
            *lock(&self.hit) = Some(hit);
        }
    }

    /// The first size-limit hit, once.
    pub fn take_size_limit(&self) -> Option<SizeLimitHit> {
        lock(&self.hit).take()
    }

    /// Checks one listed entry: `dir` is the listed collection's path (decoded), `name` the entry's name.
    pub fn listed(&self, dir: &[u8], name: &[u8]) {
        let Some(problem) = winnames::check(name) else { return };
        let mut path = String::from_utf8_lossy(dir).into_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        path.push_str(&String::from_utf8_lossy(name));
        let mut names = lock(&self.names);
        if names.listed.contains(&path) {
            return;
        }
        if names.listed.len() < MAX_NAMES {
            names.listed.insert(path.clone());
            names.pending.push((path, problem));
        } else {
            if names.counted.len() >= MAX_COUNTED {
                names.saturated = true;
                return;
            }
            let mut h = DefaultHasher::new();
            path.hash(&mut h);
            if !names.counted.insert(h.finish()) {
                return;
            }
        }
        drop(names);
        self.names_version.fetch_add(1, Ordering::SeqCst);
    }

    /// What is new about the names since the last call, if anything.
    pub fn take_names(&self) -> Option<NamesUpdate> {
        let version = self.names_version.load(Ordering::SeqCst);
        if self.reported_version.swap(version, Ordering::SeqCst) == version {
            return None;
        }
        let mut names = lock(&self.names);
        let more = u64::try_from(names.counted.len()).unwrap_or(u64::MAX);
        if names.pending.is_empty() && more == names.reported_more {
            return None;
        }
        names.reported_more = more;
        Some(NamesUpdate { new: std::mem::take(&mut names.pending), more, more_at_least: names.saturated })
    }
}

/// One guest connection's last download over the limit, for the case the body counts miss: when the guest's
/// buffers (the mux, the SPICE channel's socket, above all with LZ4 on compressible data) hold the rest of the body,
/// ryll produces all of it and the response looks complete although the client stopped reading at the limit. The
/// mini-redirector keeps its connections alive, so a connection that ends after such a response went out, without
/// another request on it, is the client giving up at its limit. That covers the guest's close, and also ryll's
/// idle timeout: when the client resets its connection (it closes with the rest of the body unread), spice-webdavd
/// drops it without telling ryll, so the connection only looks idle. A share being stopped does not count.
#[derive(Debug, Default)]
pub(crate) struct ConnectionWatch {
    state: Mutex<WatchState>,
}

#[derive(Debug, Default)]
struct WatchState {
    /// The last response, if it was a download over the limit that went out completely.
    pending: Option<SizeLimitHit>,
    /// The connection has ended (a body still in hyper's hands is dropped after that).
    ended: bool,
}

impl ConnectionWatch {
    /// A Windows client's download went out completely.
    pub(crate) fn download_done(&self, t: &Transfer, path: &str, hints: &WindowsHints) {
        if t.status == 200 && t.announced.is_some_and(|n| n > DEFAULT_SIZE_LIMIT) {
            let hit = SizeLimitHit { direction: t.direction, path: path.to_owned(), size: t.announced, moved: t.moved };
            let mut state = lock(&self.state);
            if state.ended {
                hints.record(hit);
            } else {
                state.pending = Some(hit);
            }
        }
    }

    /// The connection carried another request: the download before it was read.
    pub(crate) fn request_started(&self) {
        lock(&self.state).pending.take();
    }

    /// The connection ended, not by ryll stopping the share: a download over the limit that was its last response
    /// is taken for the limit.
    pub(crate) fn ended(&self, hints: &WindowsHints) {
        let mut state = lock(&self.state);
        state.ended = true;
        if let Some(hit) = state.pending.take() {
            hints.record(hit);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Each critical section leaves the state consistent, so a panic elsewhere does not make it unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

tokio::task_local! {
    static LISTING: Arc<WindowsHints>;
}

/// Runs `f` with listings checked for `hints` (a PROPFIND of the mini-redirector): the share's `read_dir` asks
/// [`listing_watch`] at the start of each listing. Synchronous, so it also covers a response body's poll, during
/// which dav-server reads the directory.
pub(crate) fn with_listing_watch<R>(hints: Option<&Arc<WindowsHints>>, f: impl FnOnce() -> R) -> R {
    match hints {
        Some(h) => LISTING.sync_scope(Arc::clone(h), f),
        None => f(),
    }
}

/// Runs `future` (dav-server's handling of a request) with listings checked for `hints`, as [`with_listing_watch`].
pub(crate) async fn listing_scope<F: std::future::Future>(hints: Option<Arc<WindowsHints>>, future: F) -> F::Output {
    match hints {
        Some(h) => LISTING.scope(h, future).await,
        None => future.await,
    }
}

/// The hints to report listed names to, inside [`with_listing_watch`].
pub(crate) fn listing_watch() -> Option<Arc<WindowsHints>> {
    LISTING.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dl(announced: u64, moved: u64) -> Transfer {
        Transfer { direction: Direction::Download, announced: Some(announced), moved, complete: false, status: 200 }
    }

    fn up(announced: Option<u64>, moved: u64) -> Transfer {
        Transfer { direction: Direction::Upload, announced, moved, complete: false, status: 0 }
    }

    const L: u64 = DEFAULT_SIZE_LIMIT;

    #[test]
    fn download_stopped_at_the_limit_hits() {
        assert!(hits_size_limit(&dl(60_000_000, L), L));
        assert!(hits_size_limit(&dl(60_000_000, L + 3 * 1024 * 1024), L), "buffers in flight");
        assert!(hits_size_limit(&dl(60_000_000, 65_536), L), "gave up on seeing the length");
    }

    #[test]
    fn other_downloads_do_not() {
        assert!(!hits_size_limit(&dl(60_000_000, 60_000_000 - 1).with_complete(true), L), "complete");
        assert!(!hits_size_limit(&dl(L, L - 10), L), "not over the limit");
        assert!(!hits_size_limit(&dl(200_000_000, 150_000_000), L), "cancelled well past the limit");
        let mut partial = dl(60_000_000, L);
        partial.status = 206;
        assert!(!hits_size_limit(&partial, L), "a range request");
        let mut unknown = dl(0, L);
        unknown.announced = None;
        assert!(!hits_size_limit(&unknown, L), "no length announced");
    }

    #[test]
    fn uploads_given_up_around_the_limit_hit() {
        assert!(hits_size_limit(&up(Some(60_000_000), L), L));
        assert!(hits_size_limit(&up(Some(60_000_000), 0), L), "refused before sending");
        assert!(hits_size_limit(&up(None, L - 1000), L), "chunked, broken at the limit");
        assert!(!hits_size_limit(&up(None, 10_000_000), L), "chunked, broken early");
        assert!(!hits_size_limit(&up(Some(40_000_000), 1_000), L), "under the limit");
        assert!(!hits_size_limit(&up(Some(60_000_000), 60_000_000).with_complete(true), L), "complete");
    }

    impl Transfer {
        fn with_complete(mut self, complete: bool) -> Self {
            self.complete = complete;
            self
        }
    }

    #[test]
    fn the_size_hint_fires_once() {
        let h = WindowsHints::new();
        h.transfer_ended(&dl(10, 5), "/small");
        assert_eq!(h.take_size_limit(), None);
        h.transfer_ended(&dl(60_000_000, L), "/big.iso");
        h.transfer_ended(&dl(70_000_000, L), "/other.iso");
        let hit = h.take_size_limit().expect("hit");
        assert_eq!((hit.path.as_str(), hit.size, hit.direction), ("/big.iso", Some(60_000_000), Direction::Download));
        h.transfer_ended(&dl(70_000_000, L), "/third.iso");
        assert_eq!(h.take_size_limit(), None);
    }

    #[test]
    fn a_complete_download_closed_at_once_counts() {
        let h = WindowsHints::new();
        let conn = ConnectionWatch::default();
        let mut whole = dl(60_000_000, 60_000_000).with_complete(true);
        conn.download_done(&whole, "/big.iso", &h);
        conn.request_started();
        conn.ended(&h);
        assert_eq!(h.take_size_limit(), None, "the connection went on: the download was read");
        whole.announced = Some(L);
        conn.download_done(&whole, "/small.iso", &h);
        conn.ended(&h);
        assert_eq!(h.take_size_limit(), None, "not over the limit");
        whole.announced = Some(60_000_000);
        conn.download_done(&whole, "/big.iso", &h);
        conn.ended(&h);
        assert_eq!(h.take_size_limit().map(|hit| hit.path), Some("/big.iso".to_string()));
    }

    #[test]
    fn a_download_dropped_after_its_connection_ended_counts() {
        let h = WindowsHints::new();
        let conn = ConnectionWatch::default();
        conn.ended(&h);
        conn.download_done(&dl(60_000_000, 60_000_000).with_complete(true), "/big.iso", &h);
        assert_eq!(h.take_size_limit().map(|hit| hit.path), Some("/big.iso".to_string()));
    }

    #[test]
    fn names_are_reported_once_bounded_and_counted() {
        let h = WindowsHints::new();
        h.listed(b"/", b"fine.txt");
        assert_eq!(h.take_names(), None);
        h.listed(b"/", b"CON");
        h.listed(b"/", b"CON");
        h.listed(b"/sub", b"a?b");
        let u = h.take_names().expect("update");
        assert_eq!(u.new, [("/CON".into(), NameProblem::Reserved), ("/sub/a?b".into(), NameProblem::Character('?'))]);
        assert_eq!(u.more, 0);
        h.listed(b"/", b"CON");
        assert_eq!(h.take_names(), None, "seen before");
        for i in 0..MAX_NAMES + 5 {
            h.listed(b"/many", format!("x{i}.").as_bytes());
        }
        h.listed(b"/many", b"x0.");
        h.listed(b"/many", format!("x{}.", MAX_NAMES + 1).as_bytes());
        let u = h.take_names().expect("update");
        assert_eq!(u.new.len(), MAX_NAMES - 2);
        assert_eq!((u.more, u.more_at_least), (7, false));
        assert_eq!(h.take_names(), None);
    }

    #[test]
    fn user_agent_match() {
        let mut headers = HeaderMap::new();
        assert!(!is_mini_redirector(&headers));
        headers.insert(http::header::USER_AGENT, "Microsoft-WebDAV-MiniRedir/10.0.19045".parse().unwrap());
        assert!(is_mini_redirector(&headers));
        headers.insert(http::header::USER_AGENT, "microsoft-webdav-miniredir/6.1.7601".parse().unwrap());
        assert!(is_mini_redirector(&headers));
        headers.insert(http::header::USER_AGENT, "curl/7.88.1".parse().unwrap());
        assert!(!is_mini_redirector(&headers));
        headers.insert(
            http::header::USER_AGENT,
            "Microsoft Data Access Internet Publishing Provider DAV".parse().unwrap(),
        );
        assert!(!is_mini_redirector(&headers));
    }
}

//! Hints for Windows guests, with requests shaped like the Windows mini-redirector's: its User-Agent, `translate: f`,
//! its PROPFIND (Depth 0 allprop on a path, then Depth 1 with the `Win32*` properties), its LOCK (no Depth, a
//! `Timeout: Second-3600`, an exclusive write lockinfo) and a GET or PUT it gives up on at the 50,000,000-byte
//! `FileSizeLimitInBytes`.
//!
//! Checked: the size hint fires once per session, for the mini-redirector only; unrepresentable names in a Windows
//! listing are reported once each, bounded with a count of the rest; other clients' listings report nothing.

mod common;
mod support;

use std::sync::Arc;
use std::time::Duration;

use common::{connect, connect_with_buffer, wait_for_idle};
use ryll::session::SessionEvent;
use ryll::webdav::server::{ShareConfig, ShareServer};
use ryll::webdav::windows::{Direction, WindowsHints, DEFAULT_SIZE_LIMIT, DOWNLOAD_SLACK, MAX_NAMES};
use ryll::webdav::winnames::NameProblem;
use support::{within, Sharing};

const UA: &str = "Microsoft-WebDAV-MiniRedir/10.0.19045";

/// The mini-redirector's Depth 1 PROPFIND body: the DAV: basics and the `Win32*` properties.
const WIN_PROPFIND: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:">"#,
    r#"<D:prop xmlns:Z="urn:schemas-microsoft-com:">"#,
    "<D:getcontentlength/><D:getlastmodified/><D:creationdate/><D:resourcetype/><Z:Win32FileAttributes/>",
    "<Z:Win32CreationTime/><Z:Win32LastAccessTime/><Z:Win32LastModifiedTime/></D:prop></D:propfind>"
);

/// Its Depth 0 PROPFIND body when it first looks at a path.
const WIN_ALLPROP: &str =
    r#"<?xml version="1.0" encoding="utf-8" ?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#;

/// Its LOCK body.
const WIN_LOCKINFO: &str = concat!(
    r#"<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>"#,
    r"<D:locktype><D:write/></D:locktype><D:owner><D:href>GUEST\user</D:href></D:owner></D:lockinfo>"
);

/// A request as the mini-redirector sends it (`ua` `None`: the same request from another client).
fn win_request(method: &str, path: &str, ua: Option<&str>, extra: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: Keep-Alive\r\n");
    if let Some(ua) = ua {
        head.push_str(&format!("User-Agent: {ua}\r\n"));
    }
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("translate: f\r\nContent-Length: {}\r\nHost: localhost:9843\r\n\r\n{body}", body.len()));
    head.into_bytes()
}

fn win_propfind(path: &str, ua: Option<&str>) -> Vec<u8> {
    win_request("PROPFIND", path, ua, &[("Depth", "1"), ("Content-Type", "text/xml; charset=\"utf-8\"")], WIN_PROPFIND)
}

fn win_get(path: &str, ua: Option<&str>) -> Vec<u8> {
    win_request("GET", path, ua, &[("Cache-Control", "no-cache"), ("Pragma", "no-cache")], "")
}

/// A share of `dir` reporting to `hints`.
fn hinted_share(dir: &std::path::Path, hints: &Arc<WindowsHints>) -> ShareServer {
    let cfg = ShareConfig { root: dir.to_path_buf(), read_only: false, private: false, protection: Default::default() };
    ShareServer::with_windows_hints(cfg, Arc::clone(hints)).expect("share")
}

/// A sparse file of `len` bytes (no disk use).
fn sparse(path: &std::path::Path, len: u64) {
    std::fs::File::create(path).expect("create").set_len(len).expect("set_len");
}

/// A GET that reads `stop_after` body bytes of a file over the limit and then drops the connection, as the
/// mini-redirector does at its limit. Returns the body bytes read.
async fn get_and_stop(share: &ShareServer, path: &str, ua: Option<&str>, stop_after: u64) -> u64 {
    let mut client = connect_with_buffer(share, 256 * 1024);
    client.send(&win_get(path, ua)).await;
    let (status, _) = client.head().await;
    assert_eq!(status, 200);
    let mut read = client.buf.len() as u64;
    client.buf.clear();
    while read < stop_after {
        assert!(client.fill().await, "EOF after {read} bytes");
        read += client.buf.len() as u64;
        client.buf.clear();
    }
    drop(client.io);
    let _ = tokio::time::timeout(Duration::from_secs(10), client.server).await;
    wait_for_idle(share).await;
    read
}

#[tokio::test]
async fn get_stopped_at_the_limit_hints_once_and_only_for_windows() {
    let dir = tempfile::tempdir().expect("tempdir");
    sparse(&dir.path().join("big.iso"), 60_000_000);
    sparse(&dir.path().join("bigger.iso"), 70_000_000);
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);

    get_and_stop(&share, "/big.iso", None, DEFAULT_SIZE_LIMIT).await;
    assert_eq!(hints.take_size_limit(), None, "curl's aborted GET is not a Windows limit");

    let read = get_and_stop(&share, "/big.iso", Some(UA), DEFAULT_SIZE_LIMIT).await;
    let hit = hints.take_size_limit().expect("the hint");
    assert_eq!((hit.direction, hit.path.as_str(), hit.size), (Direction::Download, "/big.iso", Some(60_000_000)));
    assert!(hit.moved >= read && hit.moved <= DEFAULT_SIZE_LIMIT + DOWNLOAD_SLACK, "moved {}", hit.moved);

    get_and_stop(&share, "/bigger.iso", Some(UA), DEFAULT_SIZE_LIMIT).await;
    assert_eq!(hints.take_size_limit(), None, "once per session");
}

/// When the guest's buffers take the whole body, ryll sees a complete response; the client closing the connection
/// right after it, without another request, is the limit too. A connection that goes on is not.
#[tokio::test]
async fn a_whole_body_buffered_then_the_connection_closed_hints() {
    let dir = tempfile::tempdir().expect("tempdir");
    sparse(&dir.path().join("big.iso"), 60_000_000);
    std::fs::write(dir.path().join("small.txt"), b"small").expect("write");
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    for (next_request, hint) in [(true, false), (false, true)] {
        let mut client = connect_with_buffer(&share, 1 << 20);
        client.send(&win_get("/big.iso", Some(UA))).await;
        assert_eq!(client.response(false).await.body.len(), 60_000_000);
        if next_request {
            client.send(&win_get("/small.txt", Some(UA))).await;
            assert_eq!(client.response(false).await.body, b"small");
        }
        client.finish().await.expect("clean");
        let hit = hints.take_size_limit();
        assert_eq!(hit.is_some(), hint, "next request: {next_request}");
        if let Some(hit) = hit {
            assert_eq!((hit.path.as_str(), hit.size), ("/big.iso", Some(60_000_000)));
        }
    }
}

/// A client that resets its connection with the body unread is dropped by spice-webdavd without a word to ryll:
/// the connection just stays idle after the whole body went out. ryll's idle timeout ending it counts too; a
/// connection the share's stop ends does not.
#[tokio::test]
async fn a_whole_body_then_the_idle_timeout_hints() {
    let dir = tempfile::tempdir().expect("tempdir");
    sparse(&dir.path().join("big.iso"), 60_000_000);
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    let mut client = connect_with_buffer(&share, 1 << 20);
    client.send(&win_get("/big.iso", Some(UA))).await;
    assert_eq!(client.response(false).await.body.len(), 60_000_000);
    assert_eq!(hints.take_size_limit(), None, "not while the connection may go on");
    // Nothing else runs now: the paused clock goes straight to the idle timeout.
    tokio::time::pause();
    client.server.await.expect("server task").expect("the idle timeout is a clean end");
    let hit = hints.take_size_limit().expect("the hint after the idle timeout");
    assert_eq!((hit.path.as_str(), hit.size, hit.moved), ("/big.iso", Some(60_000_000), 60_000_000));
    assert!(hit.summary().contains("all of it had passed ryll"), "{}", hit.summary());
    drop(client.io);
    tokio::time::resume();

    let (other, other_hints) = (tempfile::tempdir().expect("tempdir"), WindowsHints::new());
    sparse(&other.path().join("big.iso"), 60_000_000);
    let stopping = hinted_share(other.path(), &other_hints);
    let mut client = connect_with_buffer(&stopping, 1 << 20);
    client.send(&win_get("/big.iso", Some(UA))).await;
    assert_eq!(client.response(false).await.body.len(), 60_000_000);
    stopping.retire();
    client.server.await.expect("server task").expect("clean");
    assert_eq!(other_hints.take_size_limit(), None, "a stopped share says nothing about the client");
}

#[tokio::test]
async fn whole_downloads_and_late_cancels_do_not_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("small.txt"), b"small").expect("write");
    sparse(&dir.path().join("huge.img"), 120_000_000);
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    let mut client = connect(&share);
    client.send(&win_get("/small.txt", Some(UA))).await;
    assert_eq!(client.response(false).await.body, b"small");
    client.finish().await.expect("clean");
    get_and_stop(&share, "/huge.img", Some(UA), 70_000_000).await;
    assert_eq!(hints.take_size_limit(), None, "a copy cancelled well past the limit");
}

#[tokio::test]
async fn put_given_up_hints_for_windows_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    for ua in [None, Some(UA)] {
        let mut client = connect(&share);
        let mut head = String::from_utf8(win_request("PUT", "/up.bin", ua, &[], "")).expect("utf-8");
        head = head.replace("Content-Length: 0", "Content-Length: 60000000");
        client.send(head.as_bytes()).await;
        client.send(&vec![7u8; 1 << 20]).await;
        drop(client.io);
        let _ = tokio::time::timeout(Duration::from_secs(10), client.server).await;
        wait_for_idle(&share).await;
        let hit = hints.take_size_limit();
        match ua {
            None => assert_eq!(hit, None),
            Some(_) => {
                let hit = hit.expect("the hint");
                assert_eq!(
                    (hit.direction, hit.path.as_str(), hit.size),
                    (Direction::Upload, "/up.bin", Some(60_000_000))
                );
            }
        }
    }
    assert!(!dir.path().join("up.bin").exists(), "the broken upload left nothing");
}

#[tokio::test]
async fn windows_lock_and_unlock_work_and_do_not_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("doc.txt"), b"text").expect("write");
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    let mut client = connect(&share);
    let lock = win_request(
        "LOCK",
        "/doc.txt",
        Some(UA),
        &[("Content-Type", "text/xml; charset=\"utf-8\""), ("Timeout", "Second-3600"), ("Cache-Control", "no-cache")],
        WIN_LOCKINFO,
    );
    client.send(&lock).await;
    let resp = client.response(false).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    let token = resp.header("lock-token").expect("Lock-Token").to_owned();
    client.send(&win_request("UNLOCK", "/doc.txt", Some(UA), &[("Lock-Token", &token)], "")).await;
    assert_eq!(client.response(false).await.status, 204);
    client.finish().await.expect("clean");
    assert_eq!(hints.take_size_limit(), None);
    assert_eq!(hints.take_names(), None);
}

#[tokio::test]
async fn windows_listing_is_bounded_with_a_count_of_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..MAX_NAMES + 50 {
        std::fs::write(dir.path().join(format!("file{i:03}.")), b"x").expect("write");
    }
    std::fs::write(dir.path().join("fine.txt"), b"x").expect("write");
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    let mut client = connect(&share);
    client.send(&win_propfind("/", Some(UA))).await;
    let resp = client.response(false).await;
    assert_eq!(resp.status, 207);
    assert_eq!(common::hrefs(&resp.text()).len(), MAX_NAMES + 52, "the listing itself is unchanged");
    client.send(&win_propfind("/", Some(UA))).await;
    assert_eq!(client.response(false).await.status, 207);
    client.finish().await.expect("clean");
    let update = hints.take_names().expect("names");
    assert_eq!(update.new.len(), MAX_NAMES);
    assert!(update.new.iter().all(|(p, why)| p.starts_with("/file") && *why == NameProblem::TrailingDotOrSpace));
    assert_eq!((update.more, update.more_at_least), (50, false));
    assert_eq!(hints.take_names(), None, "listing again adds nothing");
}

#[tokio::test]
async fn other_clients_listings_report_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("CON"), b"x").expect("write");
    let hints = WindowsHints::new();
    let share = hinted_share(dir.path(), &hints);
    let mut client = connect(&share);
    client.send(&win_propfind("/", Some("davfs2/1.7.0 neon/0.32.5"))).await;
    assert_eq!(client.response(false).await.status, 207);
    client.send(&win_propfind("/", None)).await;
    assert_eq!(client.response(false).await.status, 207);
    client.finish().await.expect("clean");
    assert_eq!(hints.take_names(), None);
}

/// Through the session: the guest's Windows client lists folders and gives up on a big GET twice; the session sends
/// one size-limit event and the unrepresentable names, which the other client's listing did not produce.
#[tokio::test]
async fn session_reports_the_hints_once() {
    let mut s =
        Sharing::start(&[("ok.txt", b"x"), ("CON", b"x"), ("a?b", b"x"), ("tab\there", b"x"), ("sub/x|y", b"x")]).await;
    sparse(&s.path("big1.iso"), 60_000_000);
    sparse(&s.path("big2.iso"), 60_000_000);

    // Another client first: nothing is reported for it.
    let curl = s.guest.connect();
    assert_eq!(curl.request(&win_propfind("/sub/", None)).await.status, 207);
    curl.send(&win_get("/big1.iso", None));
    curl.wait_received(1).await;
    curl.close();

    let win = s.guest.connect();
    let first = win_request("PROPFIND", "/", Some(UA), &[("Depth", "0")], WIN_ALLPROP);
    assert_eq!(win.request(&first).await.status, 207);
    assert_eq!(win.request(&win_propfind("/", Some(UA))).await.status, 207);
    let names = s.session.wait_for("the names", |e| matches!(e, SessionEvent::WindowsNames(_))).await;
    let SessionEvent::WindowsNames(update) = names else { unreachable!() };
    let mut paths: Vec<&str> = update.new.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["/CON", "/a?b", "/tab\there"], "only the Windows listing, only bad names, also unservable");

    for big in ["/big2.iso", "/big1.iso"] {
        let conn = s.guest.connect();
        conn.send(&win_get(big, Some(UA)));
        conn.wait_received(1).await;
        conn.close();
    }
    let hit = s.session.wait_for("the size hint", |e| matches!(e, SessionEvent::WindowsSizeLimit(_))).await;
    let SessionEvent::WindowsSizeLimit(hit) = hit else { unreachable!() };
    assert_eq!(hit.path, "/big2.iso");

    // A few more activity ticks: no second hint.
    let sub = s.guest.connect();
    assert_eq!(sub.request(&win_propfind("/sub/", Some(UA))).await.status, 207);
    s.session.wait_for("the sub folder's names", |e| matches!(e, SessionEvent::WindowsNames(_))).await;
    within("two more ticks", tokio::time::sleep(Duration::from_millis(2500))).await;
    let hints = s.session.events().iter().filter(|e| matches!(e, SessionEvent::WindowsSizeLimit(_))).count();
    assert_eq!(hints, 1);
    s.finish().await;
}

/// Through the channel, a guest's close reaches ryll as a size-0 frame and the connection's task is dropped: a
/// complete download over the limit followed by that close is the limit too (the real guest's buffers take the
/// whole body of a sparse file at once with LZ4 on).
#[tokio::test]
async fn session_hints_for_a_whole_body_then_the_guests_close() {
    let mut s = Sharing::start(&[("ok.txt", b"x")]).await;
    sparse(&s.path("big.iso"), 50_100_000);
    let win = s.guest.connect();
    let resp = win.request(&win_get("/big.iso", Some(UA))).await;
    assert_eq!((resp.status, resp.body.len()), (200, 50_100_000));
    win.close();
    let hit = s.session.wait_for("the size hint", |e| matches!(e, SessionEvent::WindowsSizeLimit(_))).await;
    let SessionEvent::WindowsSizeLimit(hit) = hit else { unreachable!() };
    assert_eq!((hit.path.as_str(), hit.size), ("/big.iso", Some(50_100_000)));
    s.finish().await;
}

//! Integration tests for the embedded WebDAV server (`ryll::webdav::server`).
//!
//! Each test shares a `tempfile::tempdir()`, drives [`ShareServer::serve_connection`] over a
//! `tokio::io::duplex` pipe with raw HTTP/1.1 bytes (the same way the WebDAV mux does), and
//! checks both the responses and the effect on disk.

mod common;

use std::time::Duration;

use common::{
    connect, connect_with_buffer, hrefs, populated_dir, raw_request, share, tree, wait_for_idle, LOCKINFO, TIMEOUT,
};
use ryll::webdav::server::{ShareConfig, ShareError, ShareServer, HEADER_READ_TIMEOUT};
use ryll::webdav::unavailable::{not_sharing_response, over_capacity_response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Method, path, extra headers and body of one request.
type Attempt<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>, &'a [u8]);

const PROPPATCH_BODY: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:">
  <D:set><D:prop><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set>
</D:propertyupdate>"#;

// ---------------------------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------------------------

#[test]
fn new_canonicalises_the_root_and_rejects_missing_roots_and_files() {
    let dir = populated_dir();
    let dotted = dir.path().join("sub").join("..");
    let server = share(&dotted, false);
    assert_eq!(server.root(), dir.path().canonicalize().expect("canonicalize"));
    assert!(!server.read_only());

    let missing = ShareServer::new(ShareConfig {
        root: dir.path().join("nope"),
        read_only: false,
        private: false,
        protection: Default::default(),
    });
    assert!(matches!(missing, Err(ShareError::Root { .. })), "{missing:?}");

    let file = ShareServer::new(ShareConfig {
        root: dir.path().join("a.txt"),
        read_only: true,
        private: false,
        protection: Default::default(),
    });
    assert!(matches!(file, Err(ShareError::NotADirectory(_))), "{file:?}");
}

// ---------------------------------------------------------------------------------------------
// Read methods
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_advertises_dav_and_the_methods_of_the_target() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let root = c.request("OPTIONS", "/", &[], b"").await;
    assert_eq!(root.status, 200);
    assert!(root.header("dav").is_some_and(|v| v.starts_with("1,2")), "{root:?}");
    let allow = root.header("allow").expect("allow");
    for m in ["OPTIONS", "GET", "HEAD", "PROPFIND", "LOCK"] {
        assert!(allow.contains(m), "{allow}");
    }

    let file = c.request("OPTIONS", "/a.txt", &[], b"").await;
    let allow = file.header("allow").expect("allow");
    for m in ["GET", "PUT", "DELETE", "MOVE", "COPY", "PROPFIND", "LOCK", "UNLOCK"] {
        assert!(allow.contains(m), "{allow}");
    }
    assert!(!file.closes());
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn propfind_depth_0_1_and_missing_all_include_the_target() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let d0 = c.request("PROPFIND", "/", &[("Depth", "0")], b"").await;
    assert_eq!(d0.status, 207);
    assert_eq!(hrefs(&d0.text()), ["/"]);

    let d1 = c.request("PROPFIND", "/", &[("Depth", "1")], b"").await;
    assert_eq!(d1.status, 207);
    let mut listed = hrefs(&d1.text());
    listed.sort();
    assert_eq!(listed, ["/", "/a.txt", "/empty/", "/sub/"]);

    let missing = c.request("PROPFIND", "/", &[], b"").await;
    assert_eq!(missing.status, 207);
    let mut listed = hrefs(&missing.text());
    listed.sort();
    assert_eq!(listed, ["/", "/a.txt", "/empty/", "/sub/"], "missing Depth acts as Depth: 1");

    let infinite = c.request("PROPFIND", "/", &[("Depth", "infinity")], b"").await;
    assert_eq!(infinite.status, 403);
    assert!(infinite.text().contains("propfind-finite-depth"), "{}", infinite.text());
    assert!(!infinite.closes());

    let file = c.request("PROPFIND", "/sub/b.txt", &[], b"").await;
    assert_eq!(file.status, 207);
    assert_eq!(hrefs(&file.text()), ["/sub/b.txt"], "a file without Depth lists itself");
    assert!(file.text().contains("<D:getcontentlength>3</D:getcontentlength>"), "{}", file.text());

    let propname =
        br#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/></D:prop></D:propfind>"#;
    let named = c.request("PROPFIND", "/sub/", &[("Depth", "1")], propname).await;
    assert_eq!(named.status, 207);
    assert_eq!(hrefs(&named.text()), ["/sub/", "/sub/b.txt"]);
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_file_whole_and_by_range() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let whole = c.request("GET", "/a.txt", &[], b"").await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.body, b"hello, world");
    assert_eq!(whole.header("accept-ranges"), Some("bytes"));

    let part = c.request("GET", "/a.txt", &[("Range", "bytes=7-11")], b"").await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, b"world");
    assert_eq!(part.header("content-range"), Some("bytes 7-11/12"));

    let head = c.request("HEAD", "/a.txt", &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("12"));

    let missing = c.request("GET", "/nope.txt", &[], b"").await;
    assert_eq!(missing.status, 404);
    assert!(!missing.closes());
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_head_on_a_directory_serve_an_escaped_index_and_keep_the_connection() {
    let dir = populated_dir();
    std::fs::write(dir.path().join("<b>&\"x'.txt"), b"tricky").expect("write");
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let index = c.request("GET", "/", &[], b"").await;
    assert_eq!(index.status, 200, "{index:?}");
    assert!(!index.closes());
    assert!(index.header("content-type").is_some_and(|v| v.starts_with("text/html")));
    let html = index.text();
    assert!(html.contains("a.txt") && html.contains("sub/"), "{html}");
    assert!(html.contains("&lt;b&gt;&amp;&quot;x"), "name is HTML-escaped: {html}");
    assert!(html.contains("%3Cb%3E%26%22x%27.txt"), "href is percent-encoded: {html}");
    assert!(!html.contains("<b>"), "{html}");

    let head = c.request("HEAD", "/sub/", &[], b"").await;
    assert_eq!(head.status, 200);
    assert!(!head.closes());

    let redirect = c.request("GET", "/sub", &[], b"").await;
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.header("location"), Some("/sub/"));

    let options = c.request("OPTIONS", "/sub/", &[], b"").await;
    let allow = options.header("allow").expect("allow");
    assert!(allow.contains("GET") && allow.contains("HEAD"), "{allow}");

    // The same connection still serves requests after all of the above.
    let again = c.request("GET", "/sub/b.txt", &[], b"").await;
    assert_eq!(again.body, b"bee");
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let mut both = raw_request("GET", "/a.txt", &[], b"");
    both.extend(raw_request("GET", "/sub/b.txt", &[], b""));
    c.send(&both).await;
    assert_eq!(c.response(false).await.body, b"hello, world");
    assert_eq!(c.response(false).await.body, b"bee");
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_is_delivered_after_the_client_half_closes() {
    let dir = populated_dir();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &big).expect("write");
    let server = share(dir.path(), false);
    let mut c = connect_with_buffer(&server, 8 * 1024);

    let mut reqs = raw_request("GET", "/big.bin", &[], b"");
    reqs.extend(raw_request("PROPFIND", "/", &[("Depth", "1")], b""));
    c.send(&reqs).await;
    c.io.shutdown().await.expect("shutdown");

    let got = c.response(false).await;
    assert_eq!(got.status, 200);
    assert!(got.body == big, "body differs");
    let listing = c.response(false).await;
    assert_eq!(listing.status, 207);
    c.expect_eof().await;
    c.finish().await.expect("clean close after half-close");
}

#[tokio::test(flavor = "current_thread")]
async fn works_on_a_current_thread_runtime() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    assert_eq!(c.request("GET", "/a.txt", &[], b"").await.body, b"hello, world");
    assert_eq!(c.request("PUT", "/c.txt", &[], b"sea").await.status, 201);
    assert_eq!(std::fs::read(dir.path().join("c.txt")).expect("read"), b"sea");
    c.finish().await.expect("clean close");
}

// ---------------------------------------------------------------------------------------------
// Write methods
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_creates_then_overwrites() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let created = c.request("PUT", "/new%20file.txt", &[], b"first").await;
    assert_eq!(created.status, 201);
    assert_eq!(std::fs::read(dir.path().join("new file.txt")).expect("read"), b"first");

    let replaced = c.request("PUT", "/new%20file.txt", &[], b"second!").await;
    assert_eq!(replaced.status, 204);
    assert_eq!(std::fs::read(dir.path().join("new file.txt")).expect("read"), b"second!");

    // A larger upload, chunked, streams into the file.
    let big: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    let mut raw = raw_request("PUT", "/big.bin", &[("Transfer-Encoding", "chunked")], b"");
    for piece in big.chunks(65_535) {
        raw.extend(format!("{:x}\r\n", piece.len()).into_bytes());
        raw.extend_from_slice(piece);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    c.send(&raw).await;
    assert_eq!(c.response(false).await.status, 201);
    assert!(std::fs::read(dir.path().join("big.bin")).expect("read") == big);
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_with_expect_100_continue_waits_for_the_go_ahead() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let body = b"continued body";
    let head = format!(
        "PUT /cont.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.send(head.as_bytes()).await;
    let (status, _) = c.head().await;
    assert_eq!(status, 100);
    c.send(body).await;
    let done = c.response(false).await;
    assert_eq!(done.status, 201);
    assert_eq!(std::fs::read(dir.path().join("cont.txt")).expect("read"), body);
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mkcol_copy_move_delete_change_the_disk() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let root = dir.path();

    assert_eq!(c.request("MKCOL", "/made", &[], b"").await.status, 201);
    assert!(root.join("made").is_dir());
    assert_eq!(c.request("MKCOL", "/made", &[], b"").await.status, 405, "MKCOL on an existing collection");

    let copy = [("Destination", "http://localhost/made/a-copy.txt")];
    assert_eq!(c.request("COPY", "/a.txt", &copy, b"").await.status, 201);
    assert_eq!(std::fs::read(root.join("made/a-copy.txt")).expect("read"), b"hello, world");
    assert!(root.join("a.txt").exists());

    let copy_dir = [("Destination", "http://localhost/sub2/")];
    assert_eq!(c.request("COPY", "/sub/", &copy_dir, b"").await.status, 201);
    assert_eq!(std::fs::read(root.join("sub2/b.txt")).expect("read"), b"bee");

    let mv = [("Destination", "/moved.txt")];
    assert_eq!(c.request("MOVE", "/a.txt", &mv, b"").await.status, 201);
    assert!(!root.join("a.txt").exists());
    assert_eq!(std::fs::read(root.join("moved.txt")).expect("read"), b"hello, world");

    let no_overwrite = [("Destination", "/moved.txt"), ("Overwrite", "F")];
    assert_eq!(c.request("COPY", "/sub/b.txt", &no_overwrite, b"").await.status, 412);

    assert_eq!(c.request("DELETE", "/sub2/", &[], b"").await.status, 204);
    assert!(!root.join("sub2").exists());
    assert_eq!(c.request("DELETE", "/moved.txt", &[], b"").await.status, 204);
    assert!(!root.join("moved.txt").exists());
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_and_unlock_round_trip_with_a_real_token() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let lock = c.request("LOCK", "/a.txt", &[("Timeout", "Second-60")], LOCKINFO).await;
    assert_eq!(lock.status, 200, "{}", lock.text());
    let token = lock.header("lock-token").expect("Lock-Token").to_owned();
    assert!(token.starts_with('<') && token.ends_with('>'), "{token}");
    assert!(lock.text().contains(token.trim_matches(|c| c == '<' || c == '>')), "{}", lock.text());

    // A second client cannot write without the token.
    let mut other = connect(&server);
    let locked = other.request("PUT", "/a.txt", &[], b"intruder").await;
    assert_eq!(locked.status, 423);
    assert!(!locked.closes(), "dav-server's Connection: close is removed from 4xx: {locked:?}");
    assert_eq!(other.request("DELETE", "/a.txt", &[], b"").await.status, 423);
    assert_eq!(std::fs::read(dir.path().join("a.txt")).expect("read"), b"hello, world");

    let if_header = format!("({token})");
    let put = c.request("PUT", "/a.txt", &[("If", &if_header)], b"locked write").await;
    assert_eq!(put.status, 204);
    assert_eq!(std::fs::read(dir.path().join("a.txt")).expect("read"), b"locked write");

    let discovery = c.request("PROPFIND", "/a.txt", &[("Depth", "0")], b"").await;
    assert!(discovery.text().contains("activelock"), "{}", discovery.text());

    assert_eq!(c.request("UNLOCK", "/a.txt", &[("Lock-Token", &token)], b"").await.status, 204);
    assert_eq!(other.request("PUT", "/a.txt", &[], b"after").await.status, 204);

    // LOCK on an unmapped URL creates an empty file (RFC 4918 lock-null replacement).
    let fresh = c.request("LOCK", "/locked-new.txt", &[], LOCKINFO).await;
    assert_eq!(fresh.status, 201);
    assert!(dir.path().join("locked-new.txt").is_file());
    c.finish().await.expect("clean close");
    other.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_cannot_be_deleted_moved_or_overwritten() {
    let dir = populated_dir();
    let before = tree(dir.path());
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    assert_eq!(c.request("DELETE", "/", &[], b"").await.status, 403);
    // Dot segments are refused as invalid paths (400) before the root check could apply.
    assert_eq!(c.request("DELETE", "/sub/..", &[], b"").await.status, 400);
    assert_eq!(c.request("DELETE", "/./", &[("Depth", "infinity")], b"").await.status, 400);
    assert_eq!(c.request("MOVE", "/", &[("Destination", "/elsewhere/")], b"").await.status, 403);
    let dests = [("/", 403), ("http://localhost", 403), ("http://localhost/", 403), ("//", 403), ("/sub/", 403)];
    for (dest, status) in dests.into_iter().chain([("/sub/..", 400), ("/%2e/", 400)]) {
        let resp = c.request("COPY", "/sub/b.txt", &[("Destination", dest)], b"").await;
        assert_eq!(resp.status, status, "COPY onto {dest}");
        let resp = c.request("MOVE", "/sub/", &[("Destination", dest)], b"").await;
        assert_eq!(resp.status, status, "MOVE onto {dest}");
        assert!(!resp.closes());
    }
    let bad = c.request("COPY", "/a.txt", &[("Destination", "http://localhost\\..")], b"").await;
    assert_eq!(bad.status, 400);
    assert_eq!(tree(dir.path()), before, "the share changed");

    // The lock table still works (dav-server would have poisoned it with a panic).
    let lock = c.request("LOCK", "/a.txt", &[], LOCKINFO).await;
    assert_eq!(lock.status, 200);
    let token = lock.header("lock-token").expect("token").to_owned();
    assert_eq!(c.request("UNLOCK", "/a.txt", &[("Lock-Token", &token)], b"").await.status, 204);

    // Copying the root into a subfolder is fine: dav-server does not recurse into the copy.
    assert_eq!(c.request("COPY", "/", &[("Destination", "/empty/snapshot/")], b"").await.status, 201);
    assert_eq!(std::fs::read(dir.path().join("empty/snapshot/sub/b.txt")).expect("read"), b"bee");
    assert!(!dir.path().join("empty/snapshot/empty/snapshot").exists());
    c.finish().await.expect("clean close");
}

// ---------------------------------------------------------------------------------------------
// Read-only shares
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_share_refuses_every_write_with_403_and_stays_usable() {
    let dir = populated_dir();
    let before = tree(dir.path());
    let server = share(dir.path(), true);
    assert!(server.read_only());
    let mut c = connect(&server);

    let dest = ("Destination", "http://localhost/copy.txt");
    let attempts: Vec<Attempt<'_>> = vec![
        ("PUT", "/a.txt", vec![], b"overwrite"),
        ("PUT", "/new.txt", vec![], b"new"),
        ("PUT", "/empty.txt", vec![], b""),
        ("PATCH", "/a.txt", vec![("X-Update-Range", "append")], b"more"),
        ("DELETE", "/a.txt", vec![], b""),
        ("DELETE", "/sub/", vec![], b""),
        ("MKCOL", "/newdir", vec![], b""),
        ("COPY", "/a.txt", vec![dest], b""),
        ("MOVE", "/a.txt", vec![dest], b""),
        ("MOVE", "/sub/", vec![("Destination", "/sub-moved/")], b""),
        ("PROPPATCH", "/a.txt", vec![], PROPPATCH_BODY),
        ("LOCK", "/a.txt", vec![], LOCKINFO),
        ("LOCK", "/unmapped.txt", vec![], LOCKINFO),
        ("UNLOCK", "/a.txt", vec![("Lock-Token", "<urn:uuid:00000000-0000-0000-0000-000000000000>")], b""),
    ];
    for (method, path, headers, body) in &attempts {
        let resp = c.request(method, path, headers, body).await;
        assert_eq!(resp.status, 403, "{method} {path}: {resp:?}");
        assert!(!resp.closes(), "{method} {path} must not close the connection");
    }

    // Still usable, and the read methods work.
    assert_eq!(c.request("GET", "/a.txt", &[], b"").await.body, b"hello, world");
    assert_eq!(c.request("PROPFIND", "/", &[("Depth", "1")], b"").await.status, 207);
    assert_eq!(c.request("GET", "/", &[], b"").await.status, 200);

    for path in ["/", "/a.txt", "/unmapped.txt"] {
        let options = c.request("OPTIONS", path, &[], b"").await;
        assert_eq!(options.status, 200);
        let allow = options.header("allow").expect("allow");
        for m in allow.split(',').map(str::trim) {
            assert!(["OPTIONS", "GET", "HEAD", "PROPFIND"].contains(&m), "{path}: {allow}");
        }
    }
    let options = c.request("OPTIONS", "/a.txt", &[], b"").await;
    assert_eq!(options.header("allow"), Some("OPTIONS, GET, HEAD, PROPFIND"));

    // PUT with Expect: 100-continue is refused without inviting the body.
    let mut c2 = connect(&server);
    c2.send(b"PUT /expect.txt HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n").await;
    let (status, _) = c2.head().await;
    assert_eq!(status, 403, "no 100 Continue for a refused upload");

    c.finish().await.expect("clean close");
    drop(c2);
    assert_eq!(tree(dir.path()), before, "read-only share changed on disk");
}

/// Through the mux the guest's TCP connection outlives ours, so the body of a refused upload is read and
/// dropped (nothing kept) and the connection then serves the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_large_upload_is_discarded_and_the_connection_carries_on() {
    let dir = populated_dir();
    let before = tree(dir.path());
    let server = share(dir.path(), true);
    let c = connect(&server);
    let (mut rd, mut wr) = tokio::io::split(c.io);
    let body = vec![b'x'; 2 * 1024 * 1024];
    let writer = tokio::spawn(async move {
        let head = format!("PUT /big.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n", body.len());
        wr.write_all(head.as_bytes()).await.expect("head");
        wr.write_all(&body).await.expect("the server stopped reading the body");
        wr.write_all(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n").await.expect("next request");
        wr.shutdown().await.expect("shutdown");
    });
    let mut raw = Vec::new();
    tokio::time::timeout(TIMEOUT, rd.read_to_end(&mut raw))
        .await
        .expect("server neither answered nor closed")
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 403 "), "{text}");
    assert!(text.contains("HTTP/1.1 200 "), "the next request was not answered: {text}");
    tokio::time::timeout(TIMEOUT, writer).await.expect("writer stuck").expect("writer");
    let result = tokio::time::timeout(TIMEOUT, c.server).await.expect("server task did not end");
    assert!(result.is_ok());
    assert_eq!(tree(dir.path()), before);
    wait_for_idle(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_get_501_or_405_without_closing() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let frob = c.request("FROBNICATE", "/a.txt", &[], b"").await;
    assert_eq!(frob.status, 501);
    assert!(!frob.closes());

    let post = c.request("POST", "/a.txt", &[], b"form=data").await;
    assert_eq!(post.status, 405);
    assert!(post.header("allow").is_some_and(|a| a.contains("PROPFIND")));
    assert!(!post.closes());

    let report = c.request("REPORT", "/", &[], b"").await;
    assert_eq!(report.status, 405);

    assert_eq!(c.request("GET", "/a.txt", &[], b"").await.body, b"hello, world");
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caldav_and_carddav_folders_are_never_created() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    c.request("OPTIONS", "/", &[], b"").await;
    c.request("PROPFIND", "/", &[("Depth", "1")], b"").await;
    c.request("MKCALENDAR", "/calendars/", &[], b"").await;
    c.request("MKADDRESSBOOK", "/addressbooks/", &[], b"").await;
    c.finish().await.expect("clean close");
    let _second = share(dir.path(), true);
    let entries: Vec<_> = std::fs::read_dir(dir.path()).expect("read_dir").collect();
    assert!(entries.is_empty(), "share root gained entries: {entries:?}");
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn idle_and_stalled_connections_end_cleanly_after_the_header_timeout() {
    let dir = populated_dir();
    let server = share(dir.path(), false);

    // Idle keep-alive connection: nothing after the first exchange.
    let mut idle = connect(&server);
    idle.send(&raw_request("OPTIONS", "*", &[], b"")).await;
    idle.response(false).await;
    // A guest that sends half a request head and stalls.
    let mut stalled = connect(&server);
    stalled.send(b"GET /a.txt HTTP/1.1\r\nHost: localhost\r\n").await;

    tokio::time::sleep(HEADER_READ_TIMEOUT + Duration::from_secs(1)).await;
    for client in [idle, stalled] {
        let result = tokio::time::timeout(TIMEOUT, client.server).await.expect("still open").expect("join");
        assert!(result.is_ok(), "{result:?}");
    }
    assert_eq!(server.stats().snapshot().connections_open, 0);
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_requests_and_in_flight_returns_to_zero() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let stats = server.stats();
    assert_eq!(stats.snapshot().requests_served, 0);
    assert_eq!(stats.snapshot().last_request_unix_ms, 0);

    let mut c = connect(&server);
    c.request("GET", "/a.txt", &[], b"").await;
    wait_for_idle(&server).await;
    let snap = stats.snapshot();
    assert_eq!(snap.requests_served, 1);
    assert!(snap.last_request_unix_ms > 0);
    assert_eq!(snap.connections_open, 1);

    c.request("PROPFIND", "/", &[("Depth", "1")], b"").await;
    c.request("HEAD", "/a.txt", &[], b"").await;
    c.request("PUT", "/x.txt", &[], b"x").await;
    c.request("NOPE", "/", &[], b"").await;
    wait_for_idle(&server).await;
    assert_eq!(stats.snapshot().requests_served, 5);

    c.finish().await.expect("clean close");
    let snap = stats.snapshot();
    assert_eq!((snap.connections_open, snap.connections_total, snap.in_flight), (0, 1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_returns_to_zero_when_the_connection_dies_mid_response() {
    let dir = populated_dir();
    let big = vec![7u8; 4 * 1024 * 1024];
    std::fs::write(dir.path().join("big file.bin"), &big).expect("write");
    let server = share(dir.path(), false);
    let mut c = connect_with_buffer(&server, 16 * 1024);

    c.send(&raw_request("GET", "/big%20file.bin", &[], b"")).await;
    let (status, _) = c.head().await;
    assert_eq!(status, 200);
    c.fill().await;

    let flying = server.in_flight();
    assert_eq!(flying.len(), 1, "{flying:?}");
    assert_eq!(flying[0].method, "GET");
    assert_eq!(flying[0].path, "/big file.bin");
    assert!(flying[0].started.elapsed() < TIMEOUT);
    assert_eq!(server.stats().snapshot().in_flight, 1);

    // The guest connection goes away mid-response.
    let result = c.finish().await;
    assert!(result.is_err(), "an aborted response is reported as an error");
    wait_for_idle(&server).await;
    let snap = server.stats().snapshot();
    assert_eq!((snap.requests_served, snap.connections_open), (1, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_returns_to_zero_when_the_connection_dies_mid_upload() {
    let dir = populated_dir();
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    c.send(b"PUT /partial.bin HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\npartial").await;
    for _ in 0..500 {
        if !server.in_flight().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.in_flight().first().map(|r| r.method.as_str()), Some("PUT"));
    let result = c.finish().await;
    assert!(result.is_err(), "a request cut short is reported as an error");
    wait_for_idle(&server).await;
}

// ---------------------------------------------------------------------------------------------
// Canned 503 responses
// ---------------------------------------------------------------------------------------------

fn parse_canned(raw: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut resp = httparse::Response::new(&mut headers);
    let n = match resp.parse(raw).expect("valid HTTP") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("incomplete response head"),
    };
    assert_eq!(resp.version, Some(1));
    let headers = resp
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    (resp.code.expect("status"), headers, raw[n..].to_vec())
}

#[test]
fn canned_503_responses_are_valid_http() {
    for (raw, needle) in
        [(over_capacity_response(), "too many open connections"), (not_sharing_response(), "not active")]
    {
        let (status, headers, body) = parse_canned(raw);
        let get = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(status, 503);
        assert_eq!(get("connection"), Some("close"));
        assert_eq!(get("content-length"), Some(body.len().to_string().as_str()));
        assert!(get("content-type").is_some_and(|v| v.starts_with("text/plain")));
        assert!(String::from_utf8_lossy(&body).contains(needle));
    }
    let (_, headers, _) = parse_canned(not_sharing_response());
    assert!(headers.iter().any(|(n, v)| n == "retry-after" && v == "1"));
}

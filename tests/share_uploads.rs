//! Uploads that fail never destroy the file they were meant to replace.
//!
//! Each aborted upload (connection lost before the headers end, mid-body, one byte short, in a
//! chunked body without its last chunk, after `100 Continue`, by a half-close) must leave the old
//! file byte-for-byte as it was — same content, same inode, same modification time — and leave no
//! temporary file behind. Complete uploads, partial updates and conditional uploads still work.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use common::{connect, raw_request, share, LOCKINFO};
use ryll::webdav::server::ShareServer;
use tokio::io::AsyncWriteExt;

const OLD: &[u8] = b"the precious original content";

/// Content, inode and mtime of a file.
fn snapshot(path: &Path) -> (Vec<u8>, u64, i64, i64) {
    let meta = std::fs::metadata(path).expect("metadata");
    (std::fs::read(path).expect("read"), meta.ino(), meta.mtime(), meta.mtime_nsec())
}

/// Names of temporaries anywhere in the tree.
fn temporaries(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".ryll-upload-") {
            out.push(name);
        } else if entry.file_type().expect("type").is_dir() {
            out.extend(temporaries(&entry.path()));
        }
    }
    out
}

fn dir_with_original() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), OLD).expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    dir
}

/// Send `bytes` on a fresh connection, optionally half-close, then drop the connection and wait
/// for the server to finish with it.
async fn abort_after(server: &ShareServer, bytes: &[u8], half_close: bool) {
    let mut c = connect(server);
    c.send(bytes).await;
    if half_close {
        c.io.shutdown().await.expect("shutdown");
        // Whatever the server answers (or not), read until it closes.
        while tokio::time::timeout(common::TIMEOUT, c.fill()).await.is_ok_and(|more| more) {}
    }
    let _ = c.finish().await;
    common::wait_for_idle(server).await;
}

fn put_head(path: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    raw_request("PUT", path, headers, b"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_uploads_leave_the_original_byte_for_byte() {
    let dir = dir_with_original();
    let path = dir.path().join("a.txt");
    let before = snapshot(&path);
    let server = share(dir.path(), false);
    let new_body = vec![b'N'; 200_000];
    let len = new_body.len().to_string();
    let cl = [("Content-Length", len.as_str())];

    let mut cases: Vec<(&str, Vec<u8>, bool)> = Vec::new();
    cases.push(("headers cut short", b"PUT /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Len".to_vec(), false));
    cases.push(("headers only", put_head("/a.txt", &cl), false));
    let mut mid = put_head("/a.txt", &cl);
    mid.extend_from_slice(&new_body[..new_body.len() / 2]);
    cases.push(("mid-body", mid.clone(), false));
    cases.push(("mid-body, half-closed", mid, true));
    let mut short = put_head("/a.txt", &cl);
    short.extend_from_slice(&new_body[..new_body.len() - 1]);
    cases.push(("one byte short", short.clone(), false));
    cases.push(("one byte short, half-closed", short, true));
    let mut chunked = put_head("/a.txt", &[("Transfer-Encoding", "chunked")]);
    for piece in new_body.chunks(30_000) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    cases.push(("chunked without the last chunk", chunked.clone(), false));
    cases.push(("chunked without the last chunk, half-closed", chunked, true));

    for (what, bytes, half_close) in cases {
        abort_after(&server, &bytes, half_close).await;
        assert_eq!(snapshot(&path), before, "{what}: the original changed");
        assert_eq!(temporaries(dir.path()), Vec::<String>::new(), "{what}: a temporary remains");
    }

    // Aborted after the server said "100 Continue".
    let mut c = connect(&server);
    c.send(&put_head("/a.txt", &[("Content-Length", len.as_str()), ("Expect", "100-continue")])).await;
    let (status, _) = c.head().await;
    assert_eq!(status, 100);
    c.send(&new_body[..1000]).await;
    let _ = c.finish().await;
    common::wait_for_idle(&server).await;
    assert_eq!(snapshot(&path), before, "after 100 Continue: the original changed");
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());

    // An aborted upload of a new file leaves nothing at all.
    let mut new_file = put_head("/sub/new.txt", &cl);
    new_file.extend_from_slice(&new_body[..10]);
    abort_after(&server, &new_file, false).await;
    assert!(!dir.path().join("sub/new.txt").exists());
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_ends_with_the_wrong_length_is_refused() {
    // macOS Finder announces the size in X-Expected-Entity-Length and sends a chunked body.
    let dir = dir_with_original();
    let path = dir.path().join("a.txt");
    let before = snapshot(&path);
    let server = share(dir.path(), false);
    for (announced, body) in [("10", &b"0123456789ABC"[..]), ("10", &b"0123"[..]), ("3", &b"abc"[..])] {
        let mut c = connect(&server);
        let mut req = put_head("/a.txt", &[("Transfer-Encoding", "chunked"), ("X-Expected-Entity-Length", announced)]);
        for piece in body.chunks(3) {
            req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            req.extend_from_slice(piece);
            req.extend_from_slice(b"\r\n");
        }
        req.extend_from_slice(b"0\r\n\r\n");
        c.send(&req).await;
        let resp = c.response(false).await;
        if announced.parse::<usize>().ok() == Some(body.len()) {
            assert_eq!(resp.status, 204, "{announced} vs {}", body.len());
            assert_eq!(std::fs::read(&path).expect("read"), body);
        } else {
            assert_eq!(resp.status, 400, "{announced} vs {}", body.len());
            assert_eq!(snapshot(&path), before);
        }
        assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_uploads_replace_the_file_in_one_step() {
    let dir = dir_with_original();
    let path = dir.path().join("a.txt");
    let old_inode = snapshot(&path).1;
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.request("PUT", "/a.txt", &[], &big).await.status, 204);
    assert_eq!(std::fs::read(&path).expect("read"), big);
    assert_ne!(snapshot(&path).1, old_inode, "the new content arrived by rename, not in place");

    let resp = c.request("PUT", "/a.txt", &[("Content-Length", "0")], b"").await;
    assert_eq!(resp.status, 204);
    assert_eq!(std::fs::read(&path).expect("read"), b"");

    let mut chunked = put_head("/sub/c.txt", &[("Transfer-Encoding", "chunked")]);
    chunked.extend_from_slice(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    c.send(&chunked).await;
    assert_eq!(c.response(false).await.status, 201);
    assert_eq!(std::fs::read(dir.path().join("sub/c.txt")).expect("read"), b"hello world");

    // If-None-Match: * creates, but never replaces.
    let once = [("If-None-Match", "*")];
    assert_eq!(c.request("PUT", "/sub/once.txt", &once, b"1").await.status, 201);
    assert_eq!(c.request("PUT", "/sub/once.txt", &once, b"2").await.status, 412);
    assert_eq!(std::fs::read(dir.path().join("sub/once.txt")).expect("read"), b"1");
    // If-Match: * replaces, but never creates.
    assert_eq!(c.request("PUT", "/sub/nothing.txt", &[("If-Match", "*")], b"x").await.status, 412);
    assert!(!dir.path().join("sub/nothing.txt").exists());
    // A missing parent is a conflict.
    assert_eq!(c.request("PUT", "/nope/x.txt", &[], b"x").await.status, 409);
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_updates_are_applied_to_a_copy_and_never_half_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.txt");
    std::fs::write(&path, b"hello, world").expect("write");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let sabre = ("Content-Type", "application/x-sabredav-partialupdate");

    let patch = c.request("PATCH", "/p.txt", &[sabre, ("X-Update-Range", "bytes=7-11")], b"WORLD").await;
    assert_eq!(patch.status, 204, "{}", patch.text());
    assert_eq!(std::fs::read(&path).expect("read"), b"hello, WORLD");

    let append = c.request("PATCH", "/p.txt", &[sabre, ("X-Update-Range", "append")], b"!").await;
    assert_eq!(append.status, 204);
    assert_eq!(std::fs::read(&path).expect("read"), b"hello, WORLD!");

    let range = c.request("PUT", "/p.txt", &[("Content-Range", "bytes 0-4/*")], b"HELLO").await;
    assert_eq!(range.status, 204);
    assert_eq!(std::fs::read(&path).expect("read"), b"HELLO, WORLD!");

    // An aborted partial update changes nothing.
    let before = snapshot(&path);
    let mut req =
        raw_request("PATCH", "/p.txt", &[sabre, ("X-Update-Range", "bytes=0-4"), ("Content-Length", "5")], b"");
    req.extend_from_slice(b"xy");
    abort_after(&server, &req, false).await;
    assert_eq!(snapshot(&path), before);
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    let _ = c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_on_an_unmapped_url_creates_an_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let lock = c.request("LOCK", "/locked.txt", &[], LOCKINFO).await;
    assert_eq!(lock.status, 201, "{}", lock.text());
    assert_eq!(std::fs::read(dir.path().join("locked.txt")).expect("read"), b"");
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filesystem_commits_only_what_the_http_layer_says_is_complete() {
    use dav_server::davpath::DavPath;
    use dav_server::fs::{DavFileSystem, FsError, OpenOptions};
    use ryll::webdav::sharefs::{ShareFs, ShareFsOptions, UploadBody};

    let dir = dir_with_original();
    let path = dir.path().join("a.txt");
    let before = snapshot(&path);
    let fs = ShareFs::open(dir.path(), ShareFsOptions::default()).expect("open");
    let target = DavPath::new("/a.txt").expect("path");
    let put = OpenOptions { write: true, create: true, truncate: true, size: Some(3), ..OpenOptions::default() };

    // Outside an upload scope nothing can be written.
    assert_eq!(fs.open(&target, put.clone()).await.err(), Some(FsError::Forbidden));

    // A body that has not ended (or failed) is never committed, even if flush is called.
    for finish in [None, Some(false)] {
        let record = UploadBody::new();
        let result = Arc::clone(&record)
            .scope(async {
                let mut file = fs.open(&target, put.clone()).await?;
                record.received(3);
                file.write_bytes(bytes::Bytes::from_static(b"new")).await?;
                if finish == Some(false) {
                    record.failed();
                }
                file.flush().await
            })
            .await;
        assert_eq!(result, Err(FsError::GeneralFailure));
        assert!(record.refused());
        assert_eq!(snapshot(&path), before);
        assert_eq!(temporaries(dir.path()), Vec::<String>::new());
    }

    // Bytes the body yielded but were not written: refused.
    let record = UploadBody::new();
    let result = Arc::clone(&record)
        .scope(async {
            let mut file = fs.open(&target, OpenOptions { size: None, ..put.clone() }).await?;
            record.received(4);
            record.ended();
            file.write_bytes(bytes::Bytes::from_static(b"new")).await?;
            file.flush().await
        })
        .await;
    assert_eq!(result, Err(FsError::GeneralFailure));
    assert_eq!(snapshot(&path), before);

    // A complete body is committed.
    let record = UploadBody::new();
    let result = Arc::clone(&record)
        .scope(async {
            let mut file = fs.open(&target, put.clone()).await?;
            record.received(3);
            record.ended();
            file.write_bytes(bytes::Bytes::from_static(b"new")).await?;
            file.flush().await
        })
        .await;
    assert_eq!(result, Ok(()));
    assert_eq!(std::fs::read(&path).expect("read"), b"new");
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
}

//! Shared test harness for the share server tests: a share on a temp dir and a raw HTTP/1.1
//! client over a `tokio::io::duplex` pipe (the way the WebDAV mux drives the server).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ryll::webdav::server::{ShareConfig, ShareServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

/// How long any single read or write of the client may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A read-write (or read-only) share of `dir` with default settings.
pub fn share(dir: &Path, read_only: bool) -> ShareServer {
    share_with(ShareConfig { root: dir.to_path_buf(), read_only, private: false, protection: Default::default() })
}

/// A share with any configuration.
pub fn share_with(cfg: ShareConfig) -> ShareServer {
    ShareServer::new(cfg).expect("share")
}

/// A temp dir with `a.txt` ("hello, world"), `sub/b.txt` ("bee") and an empty `empty/`.
pub fn populated_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), b"hello, world").expect("write");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::write(dir.path().join("sub/b.txt"), b"bee").expect("write");
    std::fs::create_dir(dir.path().join("empty")).expect("mkdir");
    dir
}

#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn closes(&self) -> bool {
        self.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

pub struct Client {
    /// Our end of the pipe.
    pub io: DuplexStream,
    /// Bytes read but not consumed yet.
    pub buf: Vec<u8>,
    /// The task serving the connection.
    pub server: JoinHandle<Result<(), hyper::Error>>,
}

pub fn connect(share: &ShareServer) -> Client {
    connect_with_buffer(share, 64 * 1024)
}

pub fn connect_with_buffer(share: &ShareServer, pipe_size: usize) -> Client {
    let (ours, theirs) = tokio::io::duplex(pipe_size);
    let share = share.clone();
    let server = tokio::spawn(async move { share.serve_connection(theirs).await });
    Client { io: ours, buf: Vec::new(), server }
}

impl Client {
    pub async fn send(&mut self, bytes: &[u8]) {
        tokio::time::timeout(TIMEOUT, self.io.write_all(bytes)).await.expect("write timed out").expect("write");
    }

    /// Read more bytes into the buffer; returns false on EOF.
    pub async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(TIMEOUT, self.io.read(&mut chunk)).await.expect("read timed out").expect("read");
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    pub async fn take(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill().await, "EOF while reading {n} bytes");
        }
        self.buf.drain(..n).collect()
    }

    pub async fn line(&mut self) -> String {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                return String::from_utf8_lossy(&line[..pos]).into_owned();
            }
            assert!(self.fill().await, "EOF while reading a line");
        }
    }

    /// Read one response head (which may be a 1xx).
    pub async fn head(&mut self) -> (u16, Vec<(String, String)>) {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = parsed.parse(&self.buf).expect("valid response head") {
                let status = parsed.code.expect("status");
                let headers = parsed
                    .headers
                    .iter()
                    .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
                    .collect();
                self.buf.drain(..n);
                return (status, headers);
            }
            assert!(self.fill().await, "EOF while reading a response head");
        }
    }

    /// Read a complete final response (skipping 1xx).
    pub async fn response(&mut self, to_head_request: bool) -> Resp {
        let (status, headers) = loop {
            let (status, headers) = self.head().await;
            if status >= 200 {
                break (status, headers);
            }
        };
        let mut resp = Resp { status, headers, body: Vec::new() };
        if to_head_request || status == 204 || status == 304 {
            return resp;
        }
        if resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size_line = self.line().await;
                let size =
                    usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16).expect("chunk size");
                if size == 0 {
                    while !self.line().await.is_empty() {}
                    break;
                }
                let data = self.take(size).await;
                resp.body.extend_from_slice(&data);
                assert_eq!(self.take(2).await, b"\r\n");
            }
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len.parse().expect("content-length");
            resp.body = self.take(len).await;
        } else {
            while self.fill().await {}
            resp.body = std::mem::take(&mut self.buf);
        }
        resp
    }

    pub async fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        self.send(&raw_request(method, path, headers, body)).await;
        self.response(method == "HEAD").await
    }

    /// Wait for the server to close the connection (EOF on our side).
    pub async fn expect_eof(&mut self) {
        while self.fill().await {}
    }

    pub async fn finish(self) -> Result<(), hyper::Error> {
        drop(self.io);
        tokio::time::timeout(TIMEOUT, self.server)
            .await
            .expect("server task did not end")
            .expect("server task panicked")
    }
}

pub fn raw_request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    let chunked = headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"));
    if !body.is_empty() && !chunked {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The `<D:href>` values of a multistatus body, in order.
pub fn hrefs(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(pos) = rest.find("href>") {
        let tag_start = rest[..pos].rfind('<').unwrap_or(0);
        let after = &rest[pos + 5..];
        if !rest[tag_start..].starts_with("</") {
            let end = after.find('<').unwrap_or(after.len());
            out.push(after[..end].to_owned());
        }
        rest = after;
    }
    out
}

/// Everything observable about a directory tree: names, kinds, contents, modes, mtimes.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, (bool, Vec<u8>, u32, std::time::SystemTime)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let content = if meta.is_file() { std::fs::read(&path).expect("read") } else { Vec::new() };
            if meta.is_dir() {
                stack.push(path.clone());
            }
            let rel = path.strip_prefix(root).expect("prefix").to_path_buf();
            let modified = meta.modified().expect("mtime");
            out.insert(rel, (meta.is_dir(), content, meta.permissions().mode(), modified));
        }
    }
    out
}

pub async fn wait_for_idle(share: &ShareServer) {
    let stats = share.stats();
    for _ in 0..500 {
        if stats.snapshot().in_flight == 0 && share.in_flight().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("requests still in flight: {:?}", share.in_flight());
}

/// A LOCK body asking for an exclusive write lock.
pub const LOCKINFO: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:">
  <D:lockscope><D:exclusive/></D:lockscope>
  <D:locktype><D:write/></D:locktype>
  <D:owner>ryll-test</D:owner>
</D:lockinfo>"#;

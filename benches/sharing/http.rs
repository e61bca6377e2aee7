//! A small HTTP/1.1 client over any `AsyncRead + AsyncWrite` stream: the same code drives the ceiling (a loopback
//! TCP connection to the WebDAV server) and ryll (a guest connection multiplexed by the peer).
//!
//! Keep-alive, `Content-Length` and chunked bodies, streamed request and response bodies. Response bodies are
//! counted and checked as they arrive, never stored whole (except small ones the caller asks to keep).

use crate::data::{Checker, Content};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of the client's read buffer and of each request-body write.
const IO_BUF: usize = 256 * 1024;
/// Largest response head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// What to send as the request body.
pub enum Body<'a> {
    /// No body.
    Empty,
    /// These bytes.
    Bytes(&'a [u8]),
    /// `len` bytes of generated content.
    Generated(Content, u64),
}

/// What to do with the response body.
pub enum Sink {
    /// Count it.
    Count,
    /// Check it against this content.
    Check(Content),
    /// Keep it (up to the given number of bytes; the rest is counted).
    Keep(usize),
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Body bytes received.
    pub body_len: u64,
    /// The kept body ([`Sink::Keep`]).
    pub body: Vec<u8>,
}

/// One HTTP/1.1 connection.
pub struct HttpConn<S> {
    io: S,
    buf: Vec<u8>,
    /// Valid bytes in `buf` are `start..end`.
    start: usize,
    end: usize,
}

fn bad(text: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, text.into())
}

impl<S: AsyncRead + AsyncWrite + Unpin> HttpConn<S> {
    /// Wraps a connected stream.
    pub fn new(io: S) -> Self {
        HttpConn { io, buf: vec![0; IO_BUF], start: 0, end: 0 }
    }

    /// Sends a request (head, then the body streamed in [`IO_BUF`] writes) without reading the response.
    pub async fn send(&mut self, method: &str, path: &str, extra: &[(&str, &str)], body: Body<'_>) -> io::Result<()> {
        let len = match &body {
            Body::Empty => None,
            Body::Bytes(b) => Some(b.len() as u64),
            Body::Generated(_, n) => Some(*n),
        };
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:9843\r\nUser-Agent: ryll-bench\r\n");
        for (k, v) in extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(n) = len {
            head.push_str(&format!("Content-Length: {n}\r\n"));
        }
        head.push_str("\r\n");
        match body {
            Body::Empty => self.io.write_all(head.as_bytes()).await?,
            Body::Bytes(b) => {
                let mut all = head.into_bytes();
                all.extend_from_slice(b);
                self.io.write_all(&all).await?;
            }
            Body::Generated(content, n) => {
                self.io.write_all(head.as_bytes()).await?;
                let mut chunk = vec![0u8; IO_BUF];
                let mut at = 0u64;
                while at < n {
                    let k = (n - at).min(IO_BUF as u64) as usize;
                    content.fill(at, &mut chunk[..k]);
                    self.io.write_all(&chunk[..k]).await?;
                    at += k as u64;
                }
            }
        }
        self.io.flush().await
    }

    /// Sends a request and reads the whole response.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Body<'_>,
        sink: Sink,
    ) -> io::Result<Response> {
        self.send(method, path, extra, body).await?;
        self.read_response(method == "HEAD", sink).await
    }

    async fn fill(&mut self) -> io::Result<usize> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let n = self.io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// Reads one response.
    pub async fn read_response(&mut self, head_only: bool, sink: Sink) -> io::Result<Response> {
        let (status, length, chunked) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            match parsed.parse(&self.buf[self.start..self.end]).map_err(|e| bad(format!("bad response: {e}")))? {
                httparse::Status::Complete(n) => {
                    let status = parsed.code.unwrap_or(0);
                    let header = |name: &str| {
                        parsed
                            .headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name))
                            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                    };
                    let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
                    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
                    self.start += n;
                    if status == 100 {
                        continue;
                    }
                    break (status, length, chunked);
                }
                httparse::Status::Partial => {
                    if self.end - self.start >= MAX_HEAD {
                        return Err(bad("response head too large"));
                    }
                    if self.fill().await? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed before a response",
                        ));
                    }
                }
            }
        };
        let mut out = BodyOut::new(sink);
        if head_only || status == 204 || status == 304 {
            // No body.
        } else if chunked {
            self.read_chunked(&mut out).await?;
        } else if let Some(n) = length {
            self.read_exact_body(n, &mut out).await?;
        } else {
            self.read_to_eof(&mut out).await?;
        }
        if let Some(at) = out.checker.as_ref().and_then(|c| c.bad) {
            return Err(bad(format!("wrong response data at offset {at}")));
        }
        Ok(Response { status, body_len: out.len, body: out.kept })
    }

    async fn read_exact_body(&mut self, n: u64, out: &mut BodyOut) -> io::Result<()> {
        let mut left = n;
        while left > 0 {
            if self.start == self.end && self.fill().await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("body ended {left} bytes early")));
            }
            let k = ((self.end - self.start) as u64).min(left) as usize;
            out.push(&self.buf[self.start..self.start + k]);
            self.start += k;
            left -= k as u64;
        }
        Ok(())
    }

    async fn read_to_eof(&mut self, out: &mut BodyOut) -> io::Result<()> {
        loop {
            out.push(&self.buf[self.start..self.end]);
            self.start = self.end;
            if self.fill().await? == 0 {
                return Ok(());
            }
        }
    }

    /// Reads one CRLF-terminated line (without the CRLF).
    async fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(i) = self.buf[self.start..self.end].windows(2).position(|w| w == b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[self.start..self.start + i]).into_owned();
                self.start += i + 2;
                return Ok(line);
            }
            if self.end - self.start > 4096 {
                return Err(bad("chunk line too long"));
            }
            if self.fill().await? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed inside a chunked body"));
            }
        }
    }

    async fn read_chunked(&mut self, out: &mut BodyOut) -> io::Result<()> {
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16).map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers, then the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(());
            }
            self.read_exact_body(size, out).await?;
            if !self.read_line().await?.is_empty() {
                return Err(bad("chunk not followed by CRLF"));
            }
        }
    }
}

struct BodyOut {
    len: u64,
    checker: Option<Checker>,
    kept: Vec<u8>,
    keep: usize,
}

impl BodyOut {
    fn new(sink: Sink) -> Self {
        let (checker, keep) = match sink {
            Sink::Count => (None, 0),
            Sink::Check(c) => (Some(Checker::new(c)), 0),
            Sink::Keep(n) => (None, n),
        };
        BodyOut { len: 0, checker, kept: Vec::new(), keep }
    }

    fn push(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        if let Some(c) = &mut self.checker {
            c.update(data);
        }
        if self.kept.len() < self.keep {
            let k = (self.keep - self.kept.len()).min(data.len());
            self.kept.extend_from_slice(&data[..k]);
        }
    }
}

//! HTTP/1.1 on the guest side: request builders and a parser for complete responses.

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

const HOST: &str = "Host: localhost:9843\r\n";

/// `GET path`.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\n{HOST}User-Agent: fake-guest\r\n\r\n").into_bytes()
}

/// The head of `PUT path` announcing `content_length` body bytes.
pub fn put_head(path: &str, content_length: u64) -> Vec<u8> {
    format!("PUT {path} HTTP/1.1\r\n{HOST}Content-Length: {content_length}\r\n\r\n").into_bytes()
}

/// `PUT path` with `body`.
pub fn put(path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = put_head(path, body.len() as u64);
    out.extend_from_slice(body);
    out
}

/// `PROPFIND path` with a `Depth` header and no body (allprop).
pub fn propfind(path: &str, depth: &str) -> Vec<u8> {
    format!("PROPFIND {path} HTTP/1.1\r\n{HOST}Depth: {depth}\r\nContent-Length: 0\r\n\r\n").into_bytes()
}

/// Parses one complete response at the start of `buf`; `None` while incomplete. `eof` says no more bytes will
/// come (a body without length then ends at `buf`'s end). Returns the response and the bytes it used. Not for
/// answers to HEAD, which have a length but no body.
pub fn parse_response(buf: &[u8], eof: bool) -> Option<(Response, usize)> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(buf).expect("ryll sent a malformed HTTP response head") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return None,
    };
    let status = parsed.code.expect("status code");
    let headers: Vec<(String, String)> =
        parsed.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    let find = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let rest = &buf[head_len..];
    let (body, body_len) = if status == 204 || status == 304 || (100..200).contains(&status) {
        (Vec::new(), 0)
    } else if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        parse_chunked(rest)?
    } else if let Some(len) = find("content-length") {
        let len: usize = len.trim().parse().expect("numeric Content-Length");
        (rest.get(..len)?.to_vec(), len)
    } else if eof {
        (rest.to_vec(), rest.len())
    } else {
        return None;
    };
    Some((Response { status, headers, body }, head_len + body_len))
}

fn parse_chunked(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let line_end = pos + find_crlf(&buf[pos..])?;
        let line = std::str::from_utf8(&buf[pos..line_end]).expect("chunk size line is text");
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("hex chunk size");
        pos = line_end + 2;
        if size == 0 {
            // Trailers, then an empty line.
            loop {
                let end = pos + find_crlf(&buf[pos..])?;
                let empty = end == pos;
                pos = end + 2;
                if empty {
                    return Some((body, pos));
                }
            }
        }
        let chunk = buf.get(pos..pos + size + 2)?;
        assert_eq!(&chunk[size..], b"\r\n", "chunk not followed by CRLF");
        body.extend_from_slice(&chunk[..size]);
        pos += size + 2;
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

#[test]
fn parses_length_chunked_and_partial_responses() {
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n";
    let (resp, used) = parse_response(r, false).unwrap();
    assert_eq!((resp.status, resp.body.as_slice(), used), (200, &b"abc"[..], 41));
    assert_eq!(parse_response(&r[used..], false).unwrap().0.status, 204);
    assert!(parse_response(&r[..40], false).is_none());
    let c = b"HTTP/1.1 207 Multi\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    let (resp, used) = parse_response(c, false).unwrap();
    assert_eq!((resp.body.as_slice(), used), (&b"abcde"[..], c.len()));
    assert!(parse_response(&c[..c.len() - 1], false).is_none());
}

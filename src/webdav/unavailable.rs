//! The raw `503 Service Unavailable` answers the WebDAV channel writes to a guest connection itself, without an
//! HTTP server: one while no folder is shared, one over the connection limit.

const OVER_CAPACITY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 49\r\n\
\r\n\
The shared folder has too many open connections.\n";

const NOT_SHARING: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Retry-After: 1\r\n\
Connection: close\r\n\
Content-Length: 30\r\n\
\r\n\
Folder sharing is not active.\n";

/// Raw bytes of a complete `HTTP/1.1 503 Service Unavailable` response (`Connection: close`,
/// `Retry-After: 1`, `Content-Length`, short text body saying the share has too many open
/// connections), to send on a guest connection that is over the connection limit.
pub fn over_capacity_response() -> &'static [u8] {
    OVER_CAPACITY
}

/// Raw bytes of a complete `HTTP/1.1 503 Service Unavailable` response (`Connection: close`,
/// `Retry-After: 1`, `Content-Length`, short text body) saying that folder sharing is not
/// active, so a guest connection made while sharing is stopped gets an answer, not silence.
pub fn not_sharing_response() -> &'static [u8] {
    NOT_SHARING
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_responses_have_correct_content_length() {
        for raw in [over_capacity_response(), not_sharing_response()] {
            let text = std::str::from_utf8(raw).unwrap_or_default();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or_default();
            let declared =
                head.lines().find_map(|l| l.strip_prefix("Content-Length: ")).and_then(|v| v.parse::<usize>().ok());
            assert_eq!(declared, Some(body.len()), "{head}");
        }
    }
}

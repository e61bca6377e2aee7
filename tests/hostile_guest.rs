//! A hostile guest against the WebDAV channel, through the fake SPICE server and guest (so the real path is
//! exercised: socket, dispatcher, input pipes, hyper, dav-server, the share's filesystem): malformed chunked
//! bodies, absurd `Content-Length`s, floods of one-byte mux frames. Every test ends with a normal request that
//! must still succeed.

mod support;

use support::http::{get, put};
use support::Sharing;

const HOST: &str = "Host: localhost:9843\r\n";

/// A PUT with `Transfer-Encoding: chunked` whose chunk size line is not hexadecimal is the client's error
/// (`400`), not a bad gateway (`502`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_chunk_size_is_answered_400() {
    let s = Sharing::start(&[("a.txt", b"old")]).await;
    for size_line in ["zz", "-1", "1x", "fffffffffffffffffffff"] {
        let conn = s.guest.connect();
        let req =
            format!("PUT /up.txt HTTP/1.1\r\n{HOST}Transfer-Encoding: chunked\r\n\r\n{size_line}\r\nabc\r\n0\r\n\r\n");
        let resp = conn.request(req.as_bytes()).await;
        assert_eq!(resp.status, 400, "chunk size {size_line:?}: {}", resp.text());
        assert!(!s.path("up.txt").exists(), "chunk size {size_line:?}: a broken upload landed");
        conn.close();
    }
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "old"));
    s.finish().await;
}

/// ryll reads every request body to its end before answering; a method without a body that announces an
/// absurd one must be answered at once (and the connection closed), not wait for 2^63 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_absurd_content_length_on_a_method_without_a_body_is_answered_at_once() {
    let s = Sharing::start(&[("a.txt", b"fine")]).await;
    for method in ["GET", "HEAD", "DELETE", "OPTIONS", "PROPFIND", "MKCOL"] {
        let conn = s.guest.connect();
        let req = format!("{method} /a.txt HTTP/1.1\r\n{HOST}Content-Length: 9223372036854775807\r\n\r\n");
        conn.send(req.as_bytes());
        conn.wait_closes(1).await;
        let head = conn.with_state(|st| String::from_utf8_lossy(&st.stream(conn.id()).buf).into_owned());
        assert!(head.starts_with("HTTP/1.1 413 "), "{method}: {head}");
        conn.close();
    }
    assert_eq!(std::fs::read(s.path("a.txt")).unwrap(), b"fine", "the file was touched");
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "fine"));
    let resp = s.guest.connect().request(&put("/b.txt", b"new")).await;
    assert!(matches!(resp.status, 201 | 204), "PUT answered {}", resp.status);
    s.finish().await;
}

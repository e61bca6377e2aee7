//! A hostile SPICE server against the WebDAV channel: each test sends what a malicious or broken server could, checks
//! that ryll refuses it the stated way, and then checks that a normal request still succeeds.

mod support;

use ryll::channels::compression::ShareCompression;
use ryll::channels::webdav::{WebdavEvent, MAX_WEBDAV_MESSAGE};
use ryll::session::SessionEvent;
use support::http::get;
use support::{FakeServerConfig, Sharing, WEBDAV};

/// A normal request still works.
async fn still_serves(s: &Sharing) {
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "still here"), "after the attack");
}

fn relinking(e: &SessionEvent) -> bool {
    matches!(e, SessionEvent::ChannelRelinking { channel, .. } if *channel == WEBDAV)
}

/// Before: a message over the channel's limit ended the channel with "protocol error" and sharing was gone for the
/// rest of the session. Now the channel is relinked with a backoff and sharing goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oversized_message_costs_a_relink_not_the_share() {
    let mut s = Sharing::start(&[("a.txt", b"still here")]).await;
    for round in 0..2 {
        s.guest.raw(0x3333, vec![0u8; MAX_WEBDAV_MESSAGE as usize + 1]);
        let closed = s
            .session
            .wait_for(
                "the channel to close",
                |e| matches!(e, SessionEvent::ChannelClosed { channel, .. } if *channel == WEBDAV),
            )
            .await;
        assert!(
            matches!(&closed, SessionEvent::ChannelClosed { reason, .. } if reason.contains("exceeds")),
            "{closed:?}"
        );
        let ev = s.session.wait_for("the relink", relinking).await;
        assert!(matches!(ev, SessionEvent::ChannelRelinking { attempt, .. } if attempt == round + 1), "{ev:?}");
        s.session.wait_for("the new link", |e| *e == SessionEvent::ChannelLinked(WEBDAV)).await;
        s.server.wait_webdav_links(round as usize + 2).await;
        s.wait_webdav("the port", |e| *e == WebdavEvent::PortOpened).await;
        still_serves(&s).await;
    }
    s.finish().await;
}

/// Unknown message types within the size limit are skipped; the channel stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_messages_within_the_limit_are_skipped() {
    let s = Sharing::start(&[("a.txt", b"still here")]).await;
    for t in [0x3333u16, 250, 400, 0xffff] {
        s.guest.raw(t, vec![7u8; 60_000]);
    }
    still_serves(&s).await;
    assert_eq!(s.server.state().webdav_links, 1, "no relink");
    assert!(!s.session.saw(relinking));
    s.finish().await;
}

/// Before: COMPRESSED_DATA was decoded although ryll never offered LZ4. Now it is dropped with one log line and the
/// channel stays up (no relink): the server broke the protocol, and the guest's stream is not touched. Compression is
/// pinned off: under `auto` a busy machine's link estimate can fall below the threshold, and then ryll does offer LZ4.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compressed_data_that_was_not_offered_is_dropped() {
    let s = Sharing::start_with(FakeServerConfig::default(), &[("a.txt", b"still here")], |c| {
        c.webdav.compression = ShareCompression::Never
    })
    .await;
    let victim = s.guest.connect();
    let stream = s.guest.frames(victim.id(), &get("/a.txt"));
    s.guest.send_compressed(&stream);
    still_serves(&s).await;
    assert_eq!(victim.received(), 0, "the compressed request was not served");
    assert_eq!(s.server.state().webdav_links, 1, "no relink");
    s.finish().await;
}

/// Before: once `max_clients` were open and as many more had been refused, further connections got no answer at all.
/// Now every refused connection gets its 503 and a close frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_connection_over_the_limit_gets_its_503() {
    let s = Sharing::start_with(FakeServerConfig::default(), &[("a.txt", b"still here")], |c| c.webdav.max_clients = 2)
        .await;
    let held: Vec<_> = (0..2).map(|_| s.guest.connect()).collect();
    for c in &held {
        c.send(b"GET /a.txt HTTP/1.1\r\nHost: x\r\n");
    }
    let refused: Vec<_> = (0..20).map(|_| s.guest.connect()).collect();
    for c in &refused {
        let resp = c.request(&get("/a.txt")).await;
        assert_eq!(resp.status, 503, "connection {} got no 503", c.id());
    }
    for c in &held {
        c.close();
    }
    still_serves(&s).await;
    s.finish().await;
}

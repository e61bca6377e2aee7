//! The session core against the fake SPICE server: linking and authentication, base messages on the main and
//! WebDAV channels, channel lists, and every way a session ends.

mod support;

use ryll::connect::password::Password;
use ryll::protocol::base::Severity;
use ryll::protocol::caps::Caps;
use ryll::protocol::constants::{
    ChannelType, LinkError, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER, COMMON_CAP_PROTOCOL_AUTH_SELECTION,
};
use ryll::protocol::link::{parse_link_result, AuthMechanism, LinkHeader, LinkMess, LinkReply};
use ryll::protocol::main_channel::ChannelId;
use ryll::session::{SessionConfig, SessionEnd, SessionEvent};
use std::sync::Arc;
use support::server::NET_TEST_PADDING;
use support::{within, FakeServer, FakeServerConfig, LinkResult, RunningSession, INPUTS, WEBDAV};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SMARTCARD: ChannelId = ChannelId { channel_type: ChannelType::Smartcard, id: 0 };
const PORT: ChannelId = ChannelId { channel_type: ChannelType::Port, id: 0 };

async fn connect(server_cfg: FakeServerConfig, password: &str) -> (FakeServer, RunningSession) {
    support::init_tracing();
    let server = FakeServer::start(server_cfg).await;
    let cfg = SessionConfig { addr: server.addr(), password: Password::new(password), ..SessionConfig::default() };
    (server, RunningSession::start(cfg))
}

async fn connect_and_link_webdav(server_cfg: FakeServerConfig) -> (FakeServer, RunningSession) {
    let (server, mut session) = connect(server_cfg, "").await;
    session.wait_for("the WebDAV channel to link", |e| *e == SessionEvent::ChannelLinked(WEBDAV)).await;
    server.wait_webdav_links(1).await;
    (server, session)
}

fn failure(end: SessionEnd) -> String {
    match end {
        SessionEnd::Failed(msg) => msg,
        other => panic!("expected SessionEnd::Failed, got {other:?}"),
    }
}

async fn finish(server: FakeServer, session: RunningSession) {
    assert!(!session.ended(), "the session ended early: {:#?}", session.events());
    assert_eq!(session.disconnect().await, SessionEnd::UserRequested);
    server.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_with_the_right_password_and_every_ticket_is_the_password_plus_nul() {
    let (server, mut session) = connect(FakeServerConfig::default().password("s3cret"), "s3cret").await;
    let connected = session.wait_for("Connected", |e| matches!(e, SessionEvent::Connected { .. })).await;
    assert_eq!(connected, SessionEvent::Connected { session_id: server.session_id() });
    session.wait_for("the WebDAV channel to link", |e| *e == SessionEvent::ChannelLinked(WEBDAV)).await;
    {
        let st = server.state();
        let kinds: Vec<ChannelType> = st.links.iter().map(|l| l.channel.channel_type).collect();
        assert_eq!(kinds, vec![ChannelType::Main, ChannelType::Webdav]);
        for l in &st.links {
            assert_eq!(l.result, LinkResult::Ok);
            assert_eq!(l.ticket.as_deref(), Some(&b"s3cret\0"[..]));
            let common = [COMMON_CAP_PROTOCOL_AUTH_SELECTION, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER];
            assert!(common.iter().all(|&c| l.common_caps.has(c)), "common caps {:?}", l.common_caps);
        }
        assert_eq!(st.links[0].connection_id, 0);
        assert_eq!(st.links[1].connection_id, st.session_id);
    }
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_with_ticketing_off_and_still_sends_a_decryptable_ticket() {
    let (server, session) = connect_and_link_webdav(FakeServerConfig::default()).await;
    for l in &server.state().links {
        assert_eq!((l.result, l.ticket.as_deref()), (LinkResult::Ok, Some(&b"\0"[..])));
    }
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticketing_off_accepts_whatever_password_the_client_sends() {
    let (server, mut session) = connect(FakeServerConfig::default(), "not-needed").await;
    session.wait_for("the WebDAV channel to link", |e| *e == SessionEvent::ChannelLinked(WEBDAV)).await;
    assert_eq!(server.state().links[0].ticket.as_deref(), Some(&b"not-needed\0"[..]));
    finish(server, session).await;
}

/// Shows the fake server is as strict as spice-server, so the ticketing-off tests mean something.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_server_refuses_an_undecryptable_ticket_even_with_ticketing_off() {
    let server = FakeServer::start(FakeServerConfig::default()).await;
    let mut s = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mess = LinkMess {
        connection_id: 0,
        channel_type: ChannelType::Main,
        channel_id: 0,
        common_caps: Caps::with(&[COMMON_CAP_PROTOCOL_AUTH_SELECTION, COMMON_CAP_AUTH_SPICE, COMMON_CAP_MINI_HEADER]),
        channel_caps: Caps::new(),
    };
    s.write_all(&mess.encode()).await.unwrap();
    let mut header = [0u8; 16];
    within("the link reply", s.read_exact(&mut header)).await.unwrap();
    let mut body = vec![0u8; LinkHeader::parse(&header).unwrap().size as usize];
    s.read_exact(&mut body).await.unwrap();
    assert_eq!(LinkReply::parse(&body).unwrap().error, LinkError::Ok);
    s.write_all(&AuthMechanism::Spice.encode()).await.unwrap();
    s.write_all(&[0u8; 128]).await.unwrap();
    let mut result = [0u8; 4];
    within("the link result", s.read_exact(&mut result)).await.unwrap();
    assert_eq!(parse_link_result(&result).unwrap(), LinkError::PermissionDenied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_fails_with_permission_denied_and_names_the_password_options() {
    let (server, mut session) = connect(FakeServerConfig::default().password("right"), "wrong").await;
    let msg = failure(session.wait_end().await);
    for needle in ["PERMISSION_DENIED", "--password-file", "RYLL_PASSWORD"] {
        assert!(msg.contains(needle), "{msg:?} does not mention {needle}");
    }
    let st = server.state();
    assert_eq!(st.links.len(), 1);
    assert_eq!(
        (st.links[0].result, st.links[0].ticket.as_deref()),
        (LinkResult::PermissionDenied, Some(&b"wrong\0"[..]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn need_secured_on_main_fails_and_mentions_tls() {
    let (server, mut session) = connect(FakeServerConfig::default().need_secured(ChannelType::Main), "").await;
    let msg = failure(session.wait_end().await);
    assert!(msg.contains("NEED_SECURED") && msg.contains("TLS"), "{msg:?}");
    assert_eq!(server.state().links[0].result, LinkResult::NeedSecured);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_closes_during_the_main_link_fails_with_a_clear_message() {
    let (_server, mut session) = connect(FakeServerConfig::default().close_during_link(ChannelType::Main), "").await;
    let msg = failure(session.wait_end().await);
    assert!(msg.contains("closed the connection while linking"), "{msg:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_without_a_listener_is_reported_as_connection_refused() {
    support::init_tracing();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cfg = SessionConfig { addr: format!("127.0.0.1:{port}"), ..SessionConfig::default() };
    let msg = failure(RunningSession::start(cfg).wait_end().await);
    assert!(msg.contains("connection refused"), "{msg:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn need_secured_on_the_webdav_channel_fails_only_that_channel() {
    let (server, mut session) = connect(FakeServerConfig::default().need_secured(ChannelType::Webdav), "").await;
    let ev = session.wait_for("the WebDAV link to fail", |e| matches!(e, SessionEvent::ChannelFailed { .. })).await;
    let SessionEvent::ChannelFailed { channel, error } = ev else { unreachable!() };
    assert_eq!(channel, WEBDAV);
    assert!(error.contains("NEED_SECURED") && error.contains("TLS"), "{error:?}");
    let main = server.wait_main().await;
    main.ping(50, 0);
    main.wait_pong(50).await;
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_closing_the_webdav_link_fails_only_that_channel() {
    let cfg = FakeServerConfig::default().close_during_link(ChannelType::Webdav);
    let (server, mut session) = connect(cfg, "").await;
    let ev = session.wait_for("the WebDAV link to fail", |e| matches!(e, SessionEvent::ChannelFailed { .. })).await;
    let SessionEvent::ChannelFailed { channel, error } = ev else { unreachable!() };
    assert_eq!(channel, WEBDAV);
    assert!(error.contains("closed the connection while linking"), "{error:?}");
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_reports_the_vm_name_and_uuid() {
    let (server, mut session) = connect(FakeServerConfig::default(), "").await;
    let name = session.wait_for("the VM name", |e| matches!(e, SessionEvent::ServerName(_))).await;
    assert_eq!(name, SessionEvent::ServerName("fake-vm".into()));
    let uuid = session.wait_for("the VM uuid", |e| matches!(e, SessionEvent::ServerUuid(_))).await;
    assert_eq!(uuid, SessionEvent::ServerUuid("12345678-9abc-def0-0fed-cba987654321".into()));
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn main_pings_get_pongs_including_the_padded_net_test_ping() {
    let (server, session) = connect(FakeServerConfig::default(), "").await;
    let main = server.wait_main().await;
    for id in [1, 2, 3] {
        assert_eq!(main.wait_pong(id).await.body_len, 12);
    }
    main.ping(77, NET_TEST_PADDING);
    main.ping(78, 0);
    let pong = main.wait_pong(77).await;
    assert_eq!(
        (pong.body_len, Some(pong.timestamp)),
        (12, server.state().pings.get(&(ChannelType::Main, 77)).copied())
    );
    main.wait_pong(78).await;
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_pings_get_pongs() {
    let (server, session) = connect_and_link_webdav(FakeServerConfig::default()).await;
    let guest = server.guest();
    guest.ping(9);
    guest.ping(10);
    let pong = guest.wait_pong(9).await;
    assert_eq!(
        (pong.body_len, Some(pong.timestamp)),
        (12, server.state().pings.get(&(ChannelType::Webdav, 9)).copied())
    );
    guest.wait_pong(10).await;
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_ack_gets_ack_sync_and_an_ack_every_window() {
    let (server, session) = connect(FakeServerConfig::default(), "").await;
    // After ATTACH_CHANNELS the CHANNELS_LIST is queued, so it cannot land inside the counted window.
    let main = server.wait_attached().await;
    main.set_ack(7, 4);
    for _ in 0..9 {
        main.filler();
    }
    // The PING is message 10 of the window: still 2 ACKs. Its PONG follows any ACK the client owes.
    main.ping(100, 0);
    main.wait_pong(100).await;
    {
        let st = server.state();
        assert_eq!((st.ack_syncs.as_slice(), st.acks), (&[7][..], 2));
    }
    for _ in 0..2 {
        main.filler();
    }
    main.ping(101, 0);
    main.wait_pong(101).await;
    assert_eq!(server.state().acks, 3, "13 messages with a window of 4");
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_plugged_channel_is_offered_and_unhandled_channels_are_never_linked() {
    let (server, mut session) = connect(FakeServerConfig::default(), "").await;
    session.wait_for("inputs offered", |e| *e == SessionEvent::ChannelOffered(INPUTS)).await;
    session.wait_for("inputs not handled", |e| *e == SessionEvent::ChannelNotHandled(INPUTS)).await;
    session.wait_for("the WebDAV channel to link", |e| *e == SessionEvent::ChannelLinked(WEBDAV)).await;
    let main = server.wait_attached().await;
    for ch in [SMARTCARD, PORT] {
        main.hotplug(ch);
        session.wait_for("the hot-plugged channel", |e| *e == SessionEvent::ChannelOffered(ch)).await;
        session.wait_for("it to be not handled", |e| *e == SessionEvent::ChannelNotHandled(ch)).await;
    }
    assert_eq!(session.disconnect().await, SessionEnd::UserRequested);
    let kinds: Vec<ChannelType> = server.state().links.iter().map(|l| l.channel.channel_type).collect();
    assert_eq!(kinds, vec![ChannelType::Main, ChannelType::Webdav]);
    server.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_plugged_webdav_channel_is_linked_with_the_session_id() {
    let (server, mut session) = connect(FakeServerConfig::default().channels(&[INPUTS]), "").await;
    session.wait_for("NoWebdavChannel", |e| *e == SessionEvent::NoWebdavChannel).await;
    server.wait_attached().await.hotplug(WEBDAV);
    session.wait_for("webdav offered", |e| *e == SessionEvent::ChannelOffered(WEBDAV)).await;
    session.wait_for("the WebDAV channel to link", |e| *e == SessionEvent::ChannelLinked(WEBDAV)).await;
    assert!(!session.saw(|e| *e == SessionEvent::ChannelNotHandled(WEBDAV)));
    let link = server.state().links_of(ChannelType::Webdav)[0].clone();
    assert_eq!((link.connection_id, link.result), (server.session_id(), LinkResult::Ok));
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_becomes_a_notice() {
    let (server, mut session) = connect(FakeServerConfig::default(), "").await;
    server.wait_main().await.notify(1, "disk almost full");
    let ev = session.wait_for("the notice", |e| matches!(e, SessionEvent::Notice { .. })).await;
    assert_eq!(ev, SessionEvent::Notice { severity: Severity::Warn, message: "disk almost full".into() });
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_then_close_ends_with_server_disconnected() {
    let (server, mut session) = connect(FakeServerConfig::default(), "").await;
    let main = server.wait_attached().await;
    main.disconnecting(LinkError::Error);
    main.close();
    assert_eq!(session.wait_end().await, SessionEnd::ServerDisconnected(LinkError::Error));
    server.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_close_ends_with_server_closed() {
    let (server, mut session) = connect(FakeServerConfig::default(), "").await;
    server.wait_attached().await.close();
    assert_eq!(session.wait_end().await, SessionEnd::ServerClosed);
    server.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_webdav_reports_no_webdav_channel_and_keeps_running() {
    let (server, mut session) = connect(FakeServerConfig::default().channels(&[INPUTS]), "").await;
    session.wait_for("NoWebdavChannel", |e| *e == SessionEvent::NoWebdavChannel).await;
    let main = server.wait_main().await;
    main.ping(5, 0);
    main.wait_pong(5).await;
    assert_eq!(server.state().links.len(), 1, "only main is linked");
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disconnect_command_ends_with_user_requested() {
    let (server, mut session) = connect(FakeServerConfig::default(), "").await;
    session.wait_for("Connected", |e| matches!(e, SessionEvent::Connected { .. })).await;
    finish(server, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_monitors_cursor_channel_links_and_reports_under_its_own_id() {
    // Two monitors (as with two qxl devices): cursor channels 0 and 1. The fake's hello is no CURSOR_INIT, so each
    // channel refuses it, and the refusal is counted on that monitor's pointer only.
    let cursor = |id| ChannelId { channel_type: ChannelType::Cursor, id };
    support::init_tracing();
    let server = FakeServer::start(FakeServerConfig::default().channels(&[cursor(0), cursor(1), WEBDAV])).await;
    let cfg = SessionConfig { addr: server.addr(), inputs: true, ..SessionConfig::default() };
    let session = RunningSession::start(cfg);
    let shared = session.shared.clone();
    support::within("both cursor channels to refuse the hello", async {
        while [0, 1].map(|id| (shared.cursor_view(id).linked, shared.cursor_view(id).refused)) != [(true, 1); 2] {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(Arc::ptr_eq(&shared.cursors.get(0).expect("cursor 0"), &shared.cursor), "channel 0 is the session's");
    assert_eq!(shared.cursor_view(2), Default::default(), "no third monitor");
    let linked: Vec<ChannelId> = server.state().links_of(ChannelType::Cursor).iter().map(|l| l.channel).collect();
    assert_eq!(linked.len(), 2, "{linked:?}");
    finish(server, session).await;
}

//! The WebDAV channel against a fake guest: HTTP through the mux into a shared temporary folder, client ids and
//! size-0 frames, port events, the 503 answers, LZ4 data, and one slow client next to busy ones.

mod support;

use ryll::channels::webdav::WebdavEvent;
use ryll::protocol::vmc::PortEvent;
use ryll::session::{SessionCommand, SessionEvent};
use ryll::webdav::mux::MAX_FRAME_PAYLOAD;
use std::sync::atomic::Ordering;
use support::http::{get, propfind, put, put_head};
use support::server::DEVICE_CHUNK;
use support::{pattern, FakeServerConfig, Sharing, WEBDAV};

const MIB: usize = 1 << 20;
const WEBDAV_PORT: &str = "org.spice-space.webdav.0";

/// Asserts two large byte strings are equal without printing them.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert!(got == want, "{what}: content differs at byte {:?}", got.iter().zip(want).position(|(a, b)| a != b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn port_init_opened_reports_the_port_and_a_get_returns_the_file() {
    let s = Sharing::start(&[("hello.txt", b"hello, guest")]).await;
    let init = WebdavEvent::PortInit { name: WEBDAV_PORT.into(), opened: true };
    assert!(s.session.saw(|e| *e == SessionEvent::Webdav(init.clone())));
    let resp = s.guest.connect().request(&get("/hello.txt")).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"hello, guest"[..]));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_port_the_guest_opens_later_starts_serving_then() {
    let cfg = FakeServerConfig::default().port_opened(false);
    let mut s = Sharing::start_with(cfg, &[("late.txt", b"late")], |_| {}).await;
    assert!(s
        .session
        .saw(|e| *e == SessionEvent::Webdav(WebdavEvent::PortInit { name: WEBDAV_PORT.into(), opened: false })));
    s.guest.port_event(PortEvent::Opened);
    s.wait_webdav("the port to open", |e| *e == WebdavEvent::PortOpened).await;
    let resp = s.guest.connect().request(&get("/late.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "late"));
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn propfind_depth_1_lists_the_files() {
    let s = Sharing::start(&[("a.txt", b"a"), ("sub/b.txt", b"b")]).await;
    let resp = s.guest.connect().request(&propfind("/", "1")).await;
    assert_eq!(resp.status, 207, "{}", resp.text());
    let text = resp.text();
    assert!(text.contains("/a.txt") && text.contains("/sub/"), "{text}");
    assert!(!text.contains("b.txt"), "Depth 1 must not list sub/b.txt: {text}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_gets_of_large_files_all_return_the_right_bytes() {
    let sizes = [MIB, MIB + 7, 3 * MIB / 2, 2 * MIB, 5 * MIB / 2 + 1, 3 * MIB, 7 * MIB / 2 - 3, 4 * MIB];
    let data: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, &n)| pattern(i as u64, n)).collect();
    let names: Vec<String> = (0..sizes.len()).map(|i| format!("f{i}.bin")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(data.iter().map(Vec::as_slice)).collect();
    let s = Sharing::start(&files).await;
    let conns: Vec<_> = names.iter().map(|_| s.guest.connect()).collect();
    for (conn, name) in conns.iter().zip(&names) {
        conn.send(&get(&format!("/{name}")));
    }
    for ((conn, want), name) in conns.iter().zip(&data).zip(&names) {
        let resp = conn.read_response().await;
        assert_eq!(resp.status, 200, "{name}");
        assert_same(&resp.body, want, name);
    }
    assert!(s.server.state().max_frame_payload <= MAX_FRAME_PAYLOAD);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_65536_byte_body_arrives_split_into_frames() {
    let body = pattern(9, 65_536);
    let s = Sharing::start(&[("exact.bin", &body)]).await;
    let conn = s.guest.connect();
    let resp = conn.request(&get("/exact.bin")).await;
    assert_eq!(resp.status, 200);
    assert_same(&resp.body, &body, "exact.bin");
    let frames = s.server.state().frames_of(conn.id());
    assert!(frames.len() >= 2 && frames.iter().all(|&n| n <= MAX_FRAME_PAYLOAD), "frames {frames:?}");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_size_0_frame_closes_a_client_and_the_same_id_then_starts_a_new_connection() {
    let mut s = Sharing::start(&[("a.txt", b"again")]).await;
    let conn = s.guest.conn(0x1234);
    assert_eq!(conn.request(&get("/a.txt")).await.status, 200);
    conn.close();
    s.wait_webdav("the client to close", |e| *e == WebdavEvent::ClientClosed(0x1234)).await;
    let resp = conn.request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "again"));
    s.wait_webdav("a second connection for the id", |e| *e == WebdavEvent::ClientOpened(0x1234)).await;
    assert_eq!(s.session.shared.webdav.clients_total.load(Ordering::Relaxed), 2);
    s.finish().await;
}

/// spice-webdavd keeps the guest's TCP connection when ours ends, so a body our server answered early (here a
/// `412` for a failed `If-Match`, before the body came) must be read, not left to become the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_body_that_arrives_after_an_early_answer_does_not_become_the_next_request() {
    let s = Sharing::start(&[("a.txt", b"old")]).await;
    let conn = s.guest.connect();
    let head = "PUT /a.txt HTTP/1.1\r\nHost: localhost:9843\r\nIf-Match: \"nope\"\r\nContent-Length: 10\r\n\r\n";
    conn.send(head.as_bytes());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    conn.send(b"0123456789");
    conn.send(&get("/a.txt"));
    assert_eq!(conn.read_response().await.status, 412);
    let resp = conn.read_response().await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "old"));
    assert_eq!(s.server.state().stream(conn.id()).closes, 0, "the connection was closed");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_size_0_frame_for_an_unknown_id_is_ignored() {
    let s = Sharing::start(&[("a.txt", b"a")]).await;
    let ghost = s.guest.conn(987_654);
    ghost.close();
    assert_eq!(s.guest.connect().request(&get("/a.txt")).await.status, 200);
    assert!(s.server.state().frames_of(ghost.id()).is_empty());
    assert!(!s.session.saw(|e| matches!(e, SessionEvent::Webdav(WebdavEvent::ClientOpened(987_654)))));
    assert_eq!(s.session.shared.webdav.clients_total.load(Ordering::Relaxed), 1);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn negative_and_extreme_ids_work() {
    let s = Sharing::start(&[("a.txt", b"negative")]).await;
    // spice-webdavd ids are pointers truncated to 32 bits and sign-extended.
    let conns: Vec<_> = [-1, -0x5a5a_5a60, i64::MIN, i64::MAX, 0].into_iter().map(|id| s.guest.conn(id)).collect();
    for conn in &conns {
        conn.send(&get("/a.txt"));
    }
    for conn in &conns {
        let resp = conn.read_response().await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "negative"), "id {}", conn.id());
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn port_closed_or_break_mid_download_drops_the_clients_and_reopening_works() {
    let big = pattern(3, 16 * MIB);
    let mut s = Sharing::start(&[("big.bin", &big), ("small.txt", b"small")]).await;
    for ev in [PortEvent::Closed, PortEvent::Break] {
        let cut = s.guest.connect();
        cut.send(&get("/big.bin"));
        cut.wait_received(1).await;
        s.guest.port_event(ev);
        s.wait_webdav("the port to close", |e| *e == WebdavEvent::PortClosed).await;
        s.guest.port_event(PortEvent::Opened);
        s.wait_webdav("the port to reopen", |e| *e == WebdavEvent::PortOpened).await;
        let fresh = s.guest.connect();
        let resp = fresh.request(&get("/small.txt")).await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "small"), "after {ev:?}");
        let mut st = s.server.state();
        // Frames already queued before the reset may still arrive, but none after the first frame of a response
        // that was started after it (the writer is FIFO).
        let first_fresh = st.frames.iter().position(|(id, _)| *id == fresh.id()).expect("frames for the new client");
        let late = st.frames[first_fresh..].iter().filter(|(id, _)| *id == cut.id()).count();
        assert_eq!(late, 0, "{late} frames for the dropped client after {ev:?}");
        assert!(st.stream(cut.id()).total < big.len() as u64, "the download was not cut by {ev:?}");
    }
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn not_sharing_answers_503_then_start_and_stop_sharing_take_effect() {
    let mut s = Sharing::start_with(FakeServerConfig::default(), &[("a.txt", b"shared")], |c| c.share = None).await;
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.header("connection")), (503, Some("close")));

    s.session.command(SessionCommand::StartSharing(s.share_config())).await;
    s.session.wait_for("sharing to start", |e| matches!(e, SessionEvent::SharingStarted { .. })).await;
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "shared"));

    s.session.command(SessionCommand::StopSharing).await;
    s.session.wait_for("sharing to stop", |e| *e == SessionEvent::SharingStopped).await;
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!(resp.status, 503, "{}", resp.text());
    // All of it on the first link: a relink could be refused behind a proxy whose token has expired (kerbside).
    assert_eq!(s.server.state().webdav_links, 1, "starting and stopping a share must not relink the channel");
    s.finish().await;
}

/// A guest connection kept alive across a share change: its next request is served by the new share, on the same
/// WebDAV link. The old share's connection ends after its response (`Connection: close`, then a close frame) and
/// the guest's next data on that id starts a new connection, as when spice-webdavd reuses an id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changing_the_share_takes_effect_on_a_kept_alive_connection_without_a_relink() {
    let mut s = Sharing::start(&[("a.txt", b"first share")]).await;
    let conn = s.guest.connect();
    let resp = conn.request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "first share"));

    let other = support::share_dir(&[("a.txt", b"second share")]);
    let cfg = ryll::webdav::server::ShareConfig {
        root: other.path().to_path_buf(),
        read_only: false,
        private: false,
        protection: Default::default(),
    };
    s.session.command(SessionCommand::StartSharing(cfg)).await;
    s.session.wait_for("the new share", |e| matches!(e, SessionEvent::SharingStarted { .. })).await;
    conn.wait_closes(1).await;
    let resp = conn.request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "second share"));

    s.session.command(SessionCommand::StopSharing).await;
    s.session.wait_for("sharing to stop", |e| *e == SessionEvent::SharingStopped).await;
    conn.wait_closes(2).await;
    assert_eq!(conn.request(&get("/a.txt")).await.status, 503);
    assert_eq!(s.server.state().webdav_links, 1, "a share change must not relink the channel");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_connection_over_max_clients_gets_503_and_a_size_0_frame() {
    let files: &[(&str, &[u8])] = &[("a.txt", b"aaa")];
    let mut s = Sharing::start_with(FakeServerConfig::default(), files, |c| c.webdav.max_clients = 2).await;
    let (c1, c2, c3) = (s.guest.connect(), s.guest.connect(), s.guest.connect());
    assert_eq!(c1.request(&get("/a.txt")).await.status, 200);
    assert_eq!(c2.request(&get("/a.txt")).await.status, 200);
    let refused = c3.request(&get("/a.txt")).await;
    assert_eq!((refused.status, refused.header("connection")), (503, Some("close")));
    c3.wait_closes(1).await;
    s.wait_webdav("the refusal", |e| *e == WebdavEvent::ClientRefused(c3.id())).await;
    assert_eq!(c1.request(&get("/a.txt")).await.status, 200, "open clients keep working");
    // Once the guest closes the refused and one open connection, a new one is served.
    c3.close();
    c1.close();
    s.wait_webdav("c1 to close", |e| *e == WebdavEvent::ClientClosed(c1.id())).await;
    assert_eq!(s.guest.connect().request(&get("/a.txt")).await.status, 200);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_3_mib_put_lands_on_disk_intact() {
    let s = Sharing::start(&[]).await;
    let body = pattern(5, 3 * MIB + 123);
    let resp = s.guest.connect().request(&put("/upload.bin", &body)).await;
    assert!(matches!(resp.status, 201 | 204), "PUT answered {}: {}", resp.status, resp.text());
    assert_same(&std::fs::read(s.path("upload.bin")).unwrap(), &body, "upload.bin on disk");
    s.finish().await;
}

/// Compressible text, like documents and source code.
fn text(len: usize) -> Vec<u8> {
    b"The quick brown fox jumps over the lazy dog. ".iter().copied().cycle().take(len).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lz4_compressed_data_is_understood_in_both_directions() {
    let doc = text(300_000);
    let cfg = FakeServerConfig::default().webdav_lz4(true);
    let s = Sharing::start_with(cfg, &[("doc.txt", &doc)], |c| {
        c.webdav.compression = ryll::channels::compression::ShareCompression::Always
    })
    .await;
    // An upload sent the way spice-server compresses device data: each ≤ 65 568-byte chunk on its own.
    let upload = s.guest.connect();
    let stream = s.guest.frames(upload.id(), &put("/up.txt", &doc));
    for chunk in stream.chunks(DEVICE_CHUNK) {
        s.guest.send_compressed(chunk);
    }
    let resp = upload.read_response().await;
    assert!(matches!(resp.status, 201 | 204), "PUT answered {}", resp.status);
    assert_same(&std::fs::read(s.path("up.txt")).unwrap(), &doc, "up.txt on disk");
    // A download: ryll may compress what it sends, and the fake server decompresses it.
    let resp = s.guest.connect().request(&get("/doc.txt")).await;
    assert_same(&resp.body, &doc, "doc.txt");
    assert!(s.server.state().compressed_from_client > 0, "ryll sent nothing compressed");
    s.finish().await;
}

/// Bad LZ4 data loses bytes of the guest's stream, so the channel is relinked (which resets the guest's connections,
/// as spice-webdavd ignores close frames); the share goes on, with no help from the guest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lz4_data_with_a_lying_size_relinks_the_channel_and_sharing_goes_on() {
    let cfg = FakeServerConfig::default().webdav_lz4(true);
    let mut s = Sharing::start_with(cfg, &[("a.txt", b"still here")], |c| {
        c.webdav.compression = ryll::channels::compression::ShareCompression::Always
    })
    .await;
    let request = get("/a.txt");
    let claims: [fn(u32) -> u32; 3] = [|n| n + 100, |n| n - 10, |_| u32::MAX];
    for (i, claim) in claims.into_iter().enumerate() {
        let victim = s.guest.connect();
        let stream = s.guest.frames(victim.id(), &request);
        s.guest.send_compressed_claiming(&stream, claim(stream.len() as u32));
        let relinking =
            |e: &SessionEvent| matches!(e, SessionEvent::ChannelRelinking { channel, .. } if *channel == WEBDAV);
        s.session.wait_for("the relink", relinking).await;
        s.server.wait_webdav_links(i + 2).await;
        s.wait_webdav("the port to open on the new link", |e| *e == WebdavEvent::PortOpened).await;
        let resp = s.guest.connect().request(&request).await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "still here"));
        assert_eq!(victim.received(), 0, "the lying message must not reach a connection");
    }
    let main = s.server.wait_main().await;
    main.ping(60, 0);
    main.wait_pong(60).await;
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_upload_blocks_neither_another_download_nor_ping() {
    let big = pattern(7, 8 * MIB);
    let s = Sharing::start(&[("big.bin", &big)]).await;
    let stalled = s.guest.connect();
    let mut head = put_head("/stalled.bin", 100_000_000);
    head.extend_from_slice(&pattern(8, 4 * MIB));
    stalled.send(&head);
    let resp = s.guest.connect().request(&get("/big.bin")).await;
    assert_eq!(resp.status, 200);
    assert_same(&resp.body, &big, "big.bin");
    s.guest.ping(31);
    s.guest.wait_pong(31).await;
    assert_eq!(stalled.received(), 0, "an unfinished upload has no answer yet");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_large_downloads_started_together_both_make_progress() {
    let (one, two) = (pattern(11, 8 * MIB), pattern(12, 8 * MIB));
    // Fairness matters where the link is the bottleneck: a guest taking one message per 3 ms (about 21 MB/s).
    // Over an unpaced loopback the producers are the bottleneck and the shares depend on thread scheduling.
    let cfg = FakeServerConfig::default().slow_guest(std::time::Duration::from_millis(3));
    let s = Sharing::start_with(cfg, &[("one.bin", &one), ("two.bin", &two)], |_| {}).await;
    let (c1, c2) = (s.guest.connect(), s.guest.connect());
    c1.send(&get("/one.bin"));
    c2.send(&get("/two.bin"));
    assert_same(&c1.read_response().await.body, &one, "one.bin");
    assert_same(&c2.read_response().await.body, &two, "two.bin");
    {
        let st = s.server.state();
        let ids = [c1.id(), c2.id()];
        let totals = ids.map(|id| st.frames_of(id).iter().sum::<usize>());
        // From the moment both are sending until the first one ends, the two must share the link. (Measuring
        // from the start would also count how soon the second request was served, which a busy machine delays.)
        // Without turns the second would get next to nothing; with them, a CPU shared with the other tests still
        // skews the shares (4:1 seen), hence the loose bound.
        let (mut got, mut both_at) = ([0usize; 2], None);
        for &(id, n) in &st.frames {
            let Some(i) = ids.iter().position(|&x| x == id) else { continue };
            if n == 0 {
                continue;
            }
            got[i] += n;
            if both_at.is_none() && got.iter().all(|&g| g > 0) {
                both_at = Some(got);
            }
            if got[i] == totals[i] {
                let other = 1 - i;
                let start = both_at.unwrap_or_else(|| panic!("download {i} finished before the other started"));
                let shares = [got[0] - start[0], got[1] - start[1]];
                assert!(
                    shares[other] * 8 >= shares[i],
                    "while both ran, download {i} got {} bytes and the other {}",
                    shares[i],
                    shares[other]
                );
                break;
            }
        }
    }
    s.finish().await;
}

//! A hostile guest against the WebDAV channel, through the fake SPICE server and guest (so the real path is
//! exercised: socket, dispatcher, input pipes, hyper, dav-server, the share's filesystem): malformed chunked
//! bodies, absurd `Content-Length`s, floods of one-byte mux frames. Every test ends with a normal request that
//! must still succeed.

mod support;

use ryll::protocol::vmc::PortEvent;
use ryll::webdav::mux::encode_frames;
use ryll::webdav::sharefs::IO_THREAD_NAME;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::http::{get, put};
use support::server::{webdav_tx, Out};
use support::{pattern, FakeServerConfig, Sharing};

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

/// The resident set of this process, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.split_whitespace().next());
    kib.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// Samples [`rss`] every few milliseconds until stopped; returns the largest value seen.
fn rss_sampler() -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(0));
    let (s, p) = (stop.clone(), peak.clone());
    let handle = std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            p.fetch_max(rss(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(5));
        }
        p.load(Ordering::Relaxed)
    });
    (stop, handle)
}

const TINY_CONNS: i64 = 8;
const TINY_FRAMES: usize = 200_000;

/// The pattern on a smaller scale: connections whose answers are held back (the server reads ryll's
/// socket slowly, so each HTTP server is stuck writing a large GET and reads no input) each get 200 000
/// one-byte mux frames. The per-connection limit counts payload bytes, so all of them are queued; what matters
/// is what a queued byte costs. Before the fix each one-byte piece cost about 60 bytes of bookkeeping
/// (8 × 200 000 pieces: 45 MB more resident); now small pieces are coalesced and every queued piece is
/// charged against the limit (7 MB, as much as the same bytes in large frames).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_byte_frames_to_stuck_connections_cost_little_memory() {
    let big = pattern(21, 4 << 20);
    let cfg = FakeServerConfig::default().slow_guest(Duration::from_millis(50));
    let mut s = Sharing::start_with(cfg, &[("big.bin", &big), ("a.txt", b"after")], |_| {}).await;
    let conns: Vec<_> = (0..TINY_CONNS).map(|_| s.guest.connect()).collect();
    for conn in &conns {
        conn.send(&get("/big.bin"));
    }
    for conn in &conns {
        conn.wait_received(1).await;
    }
    let base = rss();
    let (stop, sampler) = rss_sampler();
    let tx = webdav_tx(&s.server.inner);
    for conn in &conns {
        let mut stream = Vec::with_capacity(TINY_FRAMES * 11);
        for _ in 0..TINY_FRAMES {
            stream.extend_from_slice(&encode_frames(conn.id(), b"x"));
        }
        let _ = tx.send(Out::Device(stream));
        // One connection's frames at a time, so the fake server holds little of them itself.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let grew = sampler.join().unwrap().saturating_sub(base);
    let payload = TINY_CONNS as u64 * TINY_FRAMES as u64;
    eprintln!("{payload} bytes in one-byte frames: resident set grew by {} KiB", grew / 1024);
    assert!(grew < 8 * payload + (16 << 20), "resident set grew by {grew} bytes for {payload} payload bytes");
    s.guest.port_event(PortEvent::Closed);
    s.wait_webdav("the port to close", |e| *e == ryll::channels::webdav::WebdavEvent::PortClosed).await;
    s.guest.port_event(PortEvent::Opened);
    s.wait_webdav("the port to reopen", |e| *e == ryll::channels::webdav::WebdavEvent::PortOpened).await;
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "after"));
    s.finish().await;
}

/// A PUT whose body arrives one byte per frame, each frame in its own SPICE message: every byte used to become
/// one write to the file (2 000 writes for 2 000 bytes), each in a blocking section that hands the worker to
/// another thread; 16 such uploads at once grew the process by about 45 threads (16 for the same uploads sent
/// whole). Tiny body pieces are now gathered (up to 64 KiB) before they reach the filesystem: one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_put_body_of_one_byte_frames_is_gathered_into_few_writes() {
    const LEN: usize = 2_000;
    let s = Sharing::start(&[("a.txt", b"still")]).await;
    let stats = s.session.shared.current_share().expect("a share").stats();
    let body = pattern(31, LEN);
    let conn = s.guest.connect();
    conn.send(&support::http::put_head("/up.bin", LEN as u64));
    for byte in &body {
        conn.send(std::slice::from_ref(byte));
        tokio::time::sleep(Duration::from_micros(300)).await;
    }
    let resp = conn.read_response().await;
    assert!(matches!(resp.status, 201 | 204), "PUT answered {}", resp.status);
    assert!(std::fs::read(s.path("up.bin")).unwrap() == body, "up.bin differs");
    let writes = stats.snapshot().upload_writes;
    eprintln!("{LEN} one-byte frames: {writes} writes to the file");
    assert!(writes <= 2, "{LEN} one-byte frames took {writes} writes");
    // A large upload still streams in large writes.
    let big = pattern(32, 3 << 20);
    assert!(matches!(conn.request(&put("/big.bin", &big)).await.status, 201 | 204));
    assert!(std::fs::read(s.path("big.bin")).unwrap() == big, "big.bin differs");
    let resp = conn.request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "still"));
    s.finish().await;
}

/// The name of the threads of [`many_slow_uploads_keep_the_thread_count_bounded`]'s runtime (at most 15 bytes,
/// the kernel's `comm`), so that threads of the tests running next to it are not counted.
const UPLOAD_THREADS: &str = "ryll-upload-tst";
const UPLOAD_WORKERS: usize = 4;
const SLOW_UPLOADS: usize = 96;

/// Threads of this process named [`UPLOAD_THREADS`] or [`IO_THREAD_NAME`] (`/proc/self/task/*/comm`).
fn upload_threads() -> usize {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| [UPLOAD_THREADS, IO_THREAD_NAME].contains(&comm.trim_end()))
        .count()
}

/// Many uploads whose bodies trickle in at once: every piece and the final syncs are blocking file work, and
/// each blocking section (`block_in_place`) handed the worker to another thread, so 96 uploads grew the
/// runtime to Tokio's 512 blocking threads. File work now runs on the share's own threads
/// (`sharefs::MAX_FILE_OPS` of them); the runtime keeps its workers.
#[test]
fn many_slow_uploads_keep_the_thread_count_bounded() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(UPLOAD_WORKERS)
        .thread_name(UPLOAD_THREADS)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        const PIECE: usize = 16 << 10;
        const PIECES: usize = 24;
        let s = Sharing::start(&[("a.txt", b"steady")]).await;
        let conns: Vec<_> = (0..SLOW_UPLOADS).map(|_| s.guest.connect()).collect();
        for (i, conn) in conns.iter().enumerate() {
            conn.send(&support::http::put_head(&format!("/up-{i}.bin"), (PIECE * PIECES) as u64));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = {
            let (stop, peak) = (stop.clone(), peak.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(upload_threads() as u64, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        let body = pattern(41, PIECE * PIECES);
        for piece in body.chunks(PIECE) {
            for conn in &conns {
                conn.send(piece);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        for (i, conn) in conns.iter().enumerate() {
            let resp = conn.read_response().await;
            assert!(matches!(resp.status, 201 | 204), "upload {i} answered {}", resp.status);
        }
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let peak = peak.load(Ordering::Relaxed) as usize;
        eprintln!("{SLOW_UPLOADS} slow uploads: at most {peak} runtime threads ({UPLOAD_WORKERS} workers)");
        for i in [0, SLOW_UPLOADS - 1] {
            assert!(std::fs::read(s.path(&format!("up-{i}.bin"))).unwrap() == body, "up-{i}.bin differs");
        }
        let bound = UPLOAD_WORKERS + ryll::webdav::sharefs::MAX_FILE_OPS + 4;
        assert!(peak <= bound, "{SLOW_UPLOADS} uploads ran on {peak} threads, more than {bound}");
        let resp = s.guest.connect().request(&get("/a.txt")).await;
        assert_eq!((resp.status, resp.text().as_str()), (200, "steady"));
        s.finish().await;
    });
}

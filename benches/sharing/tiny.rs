//! The tiny-frame workload (issue 18): what a hostile guest's queued input costs ryll in memory.
//!
//! Many guest connections each ask for the large file, and the peer stops reading ryll's socket (as a SPICE
//! server whose guest port is blocked does), so every HTTP server is stuck writing its response and reads no
//! more input. Each connection then sends the same number of payload bytes, once in one-byte frames and once in
//! frames of 65 535 bytes. ryll's peak RSS measures what the queued input costs; its RSS after every connection
//! has closed (and the peer reads again) measures whether that memory is given back. A normal GET must succeed
//! afterwards.

use crate::data::{self, paths, Content};
use crate::peer::{MuxStream, MAX_FRAME_PAYLOAD};
use crate::workloads::{get, Env, Server};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The frame sizes compared: one byte, and the largest frame.
pub const FRAMES: [usize; 2] = [1, MAX_FRAME_PAYLOAD];

/// How long ryll must be quiet (no CPU, RSS unchanged) before it counts as done with what it was sent.
const QUIET: Duration = Duration::from_millis(600);
/// Longest wait for ryll to become quiet.
const QUIET_LIMIT: Duration = Duration::from_secs(60);

/// One measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct TinySample {
    /// Payload bytes per frame.
    pub frame: usize,
    /// Held-back connections.
    pub conns: usize,
    /// Payload bytes each sent.
    pub bytes: usize,
    /// Bytes the peer wrote to ryll's socket for them (frames and SPICE headers).
    pub wire: u64,
    /// ryll's RSS before the connections opened, KiB.
    pub base_kib: u64,
    /// ryll's peak RSS (`VmHWM`), KiB.
    pub peak_kib: u64,
    /// ryll's RSS after every connection closed, KiB.
    pub after_kib: u64,
    /// Seconds from the first frame until ryll had queued them all.
    pub secs: f64,
}

/// Runs the workload once with frames of `frame` bytes against a fresh ryll.
pub async fn measure(env: &Env, frame: usize) -> Result<TinySample, String> {
    let mut server = Server::ryll(env, false).await?;
    match tokio::time::timeout(env.limit, run(env, &mut server, frame)).await {
        Ok(Ok(s)) => {
            server.child().check_running()?;
            Ok(s)
        }
        Ok(Err(e)) => Err(format!("tiny frames ({frame} B): {e}\n{}", server.child().log_tail())),
        Err(_) => Err(format!("tiny frames ({frame} B): no result within {:?}", env.limit)),
    }
}

async fn run(env: &Env, server: &mut Server, frame: usize) -> Result<TinySample, String> {
    let sizes = &env.sizes;
    let e = |e: std::io::Error| e.to_string();
    small_get(env, server).await?;
    quiet(server).await;
    let mut s = TinySample { frame, conns: sizes.tiny_conns, bytes: sizes.tiny_bytes, ..Default::default() };
    s.base_kib = server.child().rss_kib();
    let mux = server.mux().ok_or("the tiny-frame workload runs against ryll only")?;
    mux.hold_reads(true);
    let mut conns: Vec<MuxStream> = (0..sizes.tiny_conns).map(|_| mux.connect()).collect();
    let request = format!("GET {} HTTP/1.1\r\nHost: bench\r\n\r\n", paths::LARGE);
    for c in &mut conns {
        c.write_all(request.as_bytes()).await.map_err(e)?;
    }
    let wire_before = mux.stats().wire_out;
    let start = Instant::now();
    for c in &conns {
        c.send_frames(sizes.tiny_bytes, frame).await.map_err(e)?;
    }
    sent_all(server).await?;
    quiet(server).await;
    s.secs = start.elapsed().as_secs_f64();
    s.wire = server.mux().map_or(0, |m| m.stats().wire_out) - wire_before;
    s.peak_kib = server.child().peak_rss_kib();
    // The guest applications go away (size-0 frames), and the server reads again.
    drop(conns);
    if let Some(m) = server.mux() {
        m.hold_reads(false);
    }
    sent_all(server).await?;
    quiet(server).await;
    s.after_kib = server.child().rss_kib();
    small_get(env, server).await?;
    Ok(s)
}

/// One GET of a small file, which must succeed.
async fn small_get(env: &Env, server: &Server) -> Result<u64, String> {
    let mut c = server.http().await.map_err(|e| e.to_string())?;
    get(&mut c, &paths::small(0), Content::Random(data::SEED_SMALL), env.sizes.small_size).await
}

/// Waits until the peer has handed every queued frame to ryll's socket.
async fn sent_all(server: &mut Server) -> Result<(), String> {
    let start = Instant::now();
    while !server.mux().is_some_and(|m| m.sent_all()) {
        server.child().check_running()?;
        if start.elapsed() > QUIET_LIMIT {
            return Err(format!("ryll did not take the frames within {QUIET_LIMIT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Waits until ryll has used no CPU and its RSS has not moved for [`QUIET`] (at most [`QUIET_LIMIT`]).
async fn quiet(server: &mut Server) {
    let start = Instant::now();
    let step = Duration::from_millis(100);
    let mut last = (server.child().cpu_seconds(), server.child().rss_kib());
    let mut calm = Duration::ZERO;
    while calm < QUIET && start.elapsed() < QUIET_LIMIT {
        tokio::time::sleep(step).await;
        let now = (server.child().cpu_seconds(), server.child().rss_kib());
        let still = now.0 - last.0 < 0.015 && now.1.abs_diff(last.1) < 256;
        calm = if still { calm + step } else { Duration::ZERO };
        last = now;
    }
}

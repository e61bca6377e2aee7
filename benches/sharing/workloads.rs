//! The workloads, and the two targets they run against: ryll (through the peer) and the ceiling (plain TCP).
//!
//! Each measurement starts a fresh server process (so its peak RSS belongs to one workload), runs the workload
//! with the same HTTP client code on either target, and reads the process's CPU time around the timed part.

use crate::data::{self, paths, Content, Sizes};
use crate::http::{Body, HttpConn, Sink};
use crate::peer::{Mux, MuxSnapshot, MuxStream, Peer};
use crate::procs::{self, Child};
use rsa::RsaPrivateKey;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Which server a measurement runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The ryll binary, through the peer.
    Ryll,
    /// The WebDAV handler over plain loopback TCP.
    Ceiling,
}

/// Everything a measurement needs.
pub struct Env {
    /// The release ryll binary.
    pub ryll: PathBuf,
    /// The `serve_share` example binary (the ceiling).
    pub serve_share: PathBuf,
    /// The shared directory.
    pub share: PathBuf,
    /// Where process logs go.
    pub logs: PathBuf,
    /// The peer's RSA key (one per benchmark run).
    pub key: Arc<RsaPrivateKey>,
    /// Data sizes.
    pub sizes: Sizes,
    /// Longest time one measurement may take.
    pub limit: Duration,
}

/// A connection to either target.
pub enum Conn {
    /// To the ceiling.
    Tcp(TcpStream),
    /// To ryll, through the peer's mux.
    Mux(MuxStream),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Mux(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_write(cx, data),
            Conn::Mux(s) => Pin::new(s).poll_write(cx, data),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_flush(cx),
            Conn::Mux(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Mux(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A started server and how to reach it.
pub struct Server {
    child: Child,
    target: Target,
}

enum Target {
    Tcp(SocketAddr),
    Mux(Mux),
}

impl Server {
    /// Starts ryll against a fresh peer (`lz4`: `--webdav-lz4` and the peer advertises the capability).
    pub async fn ryll(env: &Env, lz4: bool) -> Result<Server, String> {
        let peer = Peer::bind(env.key.clone()).await?;
        let mut args = vec![
            "--direct".to_owned(),
            peer.addr().to_string(),
            "--headless".to_owned(),
            "--share-dir".to_owned(),
            env.share.display().to_string(),
        ];
        if lz4 {
            args.push("--webdav-lz4".to_owned());
        }
        let log = env.logs.join("ryll.log");
        let mut child = Child::spawn("ryll", &env.ryll, &args, &log, &[])?;
        let mux = match tokio::time::timeout(Duration::from_secs(20), peer.accept_session(lz4)).await {
            Ok(Ok(mux)) => mux,
            Ok(Err(e)) => return Err(format!("ryll did not link: {e}\n{}", child.log_tail())),
            Err(_) => {
                child.check_running()?;
                return Err(format!("ryll did not link within 20 s\n{}", child.log_tail()));
            }
        };
        Ok(Server { child, target: Target::Mux(mux) })
    }

    /// Starts the ceiling: `serve_share` on a free loopback port.
    pub async fn ceiling(env: &Env) -> Result<Server, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("find a free port: {e}"))?
            .port();
        let args = vec![env.share.display().to_string(), "--port".to_owned(), port.to_string()];
        let log = env.logs.join("serve_share.log");
        let mut child = Child::spawn("serve_share", &env.serve_share, &args, &log, &[("RUST_LOG", "warn")])?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let start = Instant::now();
        loop {
            if TcpStream::connect(addr).await.is_ok() {
                break;
            }
            child.check_running()?;
            if start.elapsed() > Duration::from_secs(20) {
                return Err(format!("serve_share did not listen on {addr} within 20 s\n{}", child.log_tail()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Server { child, target: Target::Tcp(addr) })
    }

    /// Opens a connection.
    pub async fn connect(&self) -> io::Result<Conn> {
        match &self.target {
            Target::Tcp(addr) => {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                Ok(Conn::Tcp(s))
            }
            Target::Mux(mux) => Ok(Conn::Mux(mux.connect())),
        }
    }

    /// An HTTP connection.
    pub async fn http(&self) -> io::Result<HttpConn<Conn>> {
        Ok(HttpConn::new(self.connect().await?))
    }

    /// The server process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The peer's side of the WebDAV channel (ryll only).
    pub fn mux(&self) -> Option<&Mux> {
        match &self.target {
            Target::Mux(m) => Some(m),
            Target::Tcp(_) => None,
        }
    }

    /// The peer's counters (ryll only).
    pub fn mux_stats(&self) -> MuxSnapshot {
        match &self.target {
            Target::Mux(m) => m.stats(),
            Target::Tcp(_) => MuxSnapshot::default(),
        }
    }

    fn failure(&mut self, e: impl std::fmt::Display) -> String {
        let mut text = e.to_string();
        if let Target::Mux(m) = &self.target {
            if let Some(why) = m.error() {
                text.push_str(&format!(" (channel: {why})"));
            }
        }
        if let Err(exit) = self.child.check_running() {
            text.push_str(&format!("\n{exit}"));
        }
        text
    }
}

/// One measurement.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Wall time of the timed part, in seconds.
    pub secs: f64,
    /// Payload bytes moved in the timed part (both directions).
    pub bytes: u64,
    /// Requests in the timed part.
    pub requests: u64,
    /// The workload's own figure (throughput, latency, ...; see [`Workload::metric`]).
    pub value: f64,
    /// A second figure where the workload has one (the stall workload: the download alone).
    pub value2: f64,
    /// Server CPU seconds in the timed part.
    pub cpu: f64,
    /// The benchmark's own CPU seconds (peer and clients) in the timed part.
    pub bench_cpu: f64,
    /// Server peak RSS over its life, KiB.
    pub rss_kib: u64,
    /// The peer's counters over the timed part (ryll only).
    pub mux: MuxSnapshot,
}

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// GET of the large file.
    GetLarge,
    /// PUT of a large file.
    PutLarge,
    /// PROPFIND Depth 1 of the big directory.
    Propfind,
    /// Many small GETs over a few connections.
    SmallGets,
    /// Concurrent clients mixing GET and PUT.
    Mixed,
    /// A download next to a client that stopped reading.
    Stall,
    /// LZ4 study: GET or PUT (`upload`) of random or text (`text`) data.
    Lz4 { upload: bool, text: bool },
}

/// How a workload's figure reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// MB/s (10^6 bytes per second); more is better.
    Throughput,
    /// Requests per second; more is better.
    Rate,
    /// Milliseconds; less is better.
    Latency,
}

impl Workload {
    /// The table's name for it.
    pub fn name(self, sizes: &Sizes) -> String {
        match self {
            Workload::GetLarge => format!("GET {}", human(sizes.large)),
            Workload::PutLarge => format!("PUT {}", human(sizes.large)),
            Workload::Propfind => format!("PROPFIND Depth 1, {} entries", sizes.dir_entries),
            Workload::SmallGets => {
                format!(
                    "{} GETs of {} over {} connections",
                    sizes.small_gets,
                    human(sizes.small_size),
                    sizes.small_conns
                )
            }
            Workload::Mixed => {
                format!("{} clients, GET + PUT {} each", sizes.mixed_clients, human(sizes.mixed_size))
            }
            Workload::Stall => format!("GET {} next to a stalled client", human(sizes.medium)),
            Workload::Lz4 { upload, text } => format!(
                "{} {} {}",
                if upload { "PUT" } else { "GET" },
                human(sizes.medium),
                if text { "text (compressible)" } else { "random" }
            ),
        }
    }

    /// The better of two measurements of this workload on one side (the higher throughput or rate, the lower
    /// latency); the peak RSS is the larger of the two.
    pub fn better(self, a: Sample, b: Sample) -> Sample {
        let rss_kib = a.rss_kib.max(b.rss_kib);
        let b_wins = match self.metric() {
            Metric::Latency => b.value < a.value,
            Metric::Throughput | Metric::Rate => b.value > a.value,
        };
        Sample { rss_kib, ..if b_wins { b } else { a } }
    }

    /// How its figure reads.
    pub fn metric(self) -> Metric {
        match self {
            Workload::Propfind => Metric::Latency,
            Workload::SmallGets => Metric::Rate,
            _ => Metric::Throughput,
        }
    }

    /// Runs it once against `side`.
    pub async fn run(self, env: &Env, side: Side, lz4: bool) -> Result<Sample, String> {
        if matches!(self, Workload::PutLarge | Workload::Mixed | Workload::Lz4 { upload: true, .. }) {
            // Uploads write to disk: start both sides with no write-back of earlier steps pending.
            tokio::task::spawn_blocking(procs::sync_disks).await.map_err(|e| e.to_string())?;
        }
        let mut server = match side {
            Side::Ryll => Server::ryll(env, lz4).await?,
            Side::Ceiling => Server::ceiling(env).await?,
        };
        let result = tokio::time::timeout(env.limit, self.measure(env, &server)).await;
        let sample = match result {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(server.failure(format!("{}: {e}", self.name(&env.sizes)))),
            Err(_) => {
                return Err(server.failure(format!("{}: no result within {:?}", self.name(&env.sizes), env.limit)))
            }
        };
        server.child.check_running()?;
        Ok(sample)
    }

    async fn measure(self, env: &Env, server: &Server) -> Result<Sample, String> {
        let e = |e: io::Error| e.to_string();
        let sizes = &env.sizes;
        let mut sample = Sample::default();
        match self {
            Workload::GetLarge => {
                let mut c = server.http().await.map_err(e)?;
                let timed = Timer::start(server);
                let r = get(&mut c, paths::LARGE, Content::Random(data::SEED_LARGE), sizes.large).await?;
                sample.bytes = r;
                sample.requests = 1;
                timed.stop(server, &mut sample);
                sample.value = mbps(sample.bytes, sample.secs);
            }
            Workload::PutLarge | Workload::Lz4 { upload: true, .. } => {
                let (content, len) = match self {
                    Workload::Lz4 { text: true, .. } => (Content::Text, sizes.medium),
                    Workload::Lz4 { .. } => (Content::Random(data::SEED_UPLOAD), sizes.medium),
                    _ => (Content::Random(data::SEED_UPLOAD), sizes.large),
                };
                let path = format!("{}/put-large.bin", paths::UPLOADS);
                let mut c = server.http().await.map_err(e)?;
                let timed = Timer::start(server);
                put(&mut c, &path, content, len).await?;
                sample.bytes = len;
                sample.requests = 1;
                timed.stop(server, &mut sample);
                sample.value = mbps(sample.bytes, sample.secs);
                let file = local(&env.share, &path);
                data::check_file(&file, content, len)?;
                let _ = std::fs::remove_file(&file);
            }
            Workload::Lz4 { upload: false, text } => {
                let (path, content) = if text {
                    (paths::TEXT, Content::Text)
                } else {
                    (paths::DOWNLOAD, Content::Random(data::SEED_DOWNLOAD))
                };
                let mut c = server.http().await.map_err(e)?;
                let timed = Timer::start(server);
                sample.bytes = get(&mut c, path, content, sizes.medium).await?;
                sample.requests = 1;
                timed.stop(server, &mut sample);
                sample.value = mbps(sample.bytes, sample.secs);
            }
            Workload::Propfind => {
                let mut c = server.http().await.map_err(e)?;
                // One untimed request warms the directory cache on both sides alike.
                propfind(&mut c, sizes.dir_entries).await?;
                let mut times = Vec::new();
                let timed = Timer::start(server);
                for _ in 0..3 {
                    let t = Instant::now();
                    sample.bytes += propfind(&mut c, sizes.dir_entries).await?;
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                    sample.requests += 1;
                }
                timed.stop(server, &mut sample);
                sample.value = median(&mut times);
            }
            Workload::SmallGets => {
                let conns = sizes.small_conns;
                let timed = Timer::start(server);
                let mut set = tokio::task::JoinSet::new();
                for k in 0..conns {
                    let mut c = server.http().await.map_err(e)?;
                    let total = sizes.small_gets;
                    let size = sizes.small_size;
                    set.spawn(async move {
                        let mut bytes = 0;
                        for i in (k..total).step_by(conns) {
                            let content = Content::Random(data::SEED_SMALL + i as u64);
                            bytes += get(&mut c, &paths::small(i), content, size).await?;
                        }
                        Ok::<u64, String>(bytes)
                    });
                }
                sample.bytes = join_all(set).await?;
                sample.requests = sizes.small_gets as u64;
                timed.stop(server, &mut sample);
                sample.value = sample.requests as f64 / sample.secs;
            }
            Workload::Mixed => {
                let timed = Timer::start(server);
                let mut set = tokio::task::JoinSet::new();
                for i in 0..sizes.mixed_clients {
                    let mut c = server.http().await.map_err(e)?;
                    let size = sizes.mixed_size;
                    set.spawn(async move {
                        let src = Content::Random(data::SEED_MIXED + i as u64);
                        let up = Content::Random(data::SEED_UPLOAD + i as u64);
                        let dst = format!("{}/mixed-{i:02}.bin", paths::UPLOADS);
                        if i % 2 == 0 {
                            get(&mut c, &paths::mixed(i), src, size).await?;
                            put(&mut c, &dst, up, size).await?;
                        } else {
                            put(&mut c, &dst, up, size).await?;
                            get(&mut c, &paths::mixed(i), src, size).await?;
                        }
                        Ok::<u64, String>(2 * size)
                    });
                }
                sample.bytes = join_all(set).await?;
                sample.requests = 2 * sizes.mixed_clients as u64;
                timed.stop(server, &mut sample);
                sample.value = mbps(sample.bytes, sample.secs);
                for i in 0..sizes.mixed_clients {
                    let file = local(&env.share, &format!("{}/mixed-{i:02}.bin", paths::UPLOADS));
                    data::check_file(&file, Content::Random(data::SEED_UPLOAD + i as u64), sizes.mixed_size)?;
                    let _ = std::fs::remove_file(&file);
                }
            }
            Workload::Stall => {
                let content = Content::Random(data::SEED_DOWNLOAD);
                let len = sizes.medium;
                let mut c = server.http().await.map_err(e)?;
                // One untimed download warms up both sides; then alone / next to a stalled client, in turn (so
                // neither case always runs first), four times: a single pair varies by ±10 % on a busy machine.
                get(&mut c, paths::DOWNLOAD, content, len).await?;
                let (mut alone, mut with): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
                let timed = Timer::start(server);
                for _ in 0..STALL_PAIRS {
                    let t = Instant::now();
                    sample.bytes += get(&mut c, paths::DOWNLOAD, content, len).await?;
                    alone.push(mbps(len, t.elapsed().as_secs_f64()));
                    // Another client asks for the large file and reads nothing.
                    let mut stalled = server.http().await.map_err(e)?;
                    stalled.send("GET", paths::LARGE, &[], Body::Empty).await.map_err(e)?;
                    let t = Instant::now();
                    sample.bytes += get(&mut c, paths::DOWNLOAD, content, len).await?;
                    with.push(mbps(len, t.elapsed().as_secs_f64()));
                    drop(stalled);
                    sample.requests += 2;
                }
                timed.stop(server, &mut sample);
                // The best of each, like the ABBA pairs of the other workloads: noise only ever slows a download.
                sample.value = with.iter().copied().fold(0.0, f64::max);
                sample.value2 = alone.iter().copied().fold(0.0, f64::max);
            }
        }
        Ok(sample)
    }
}

/// Downloads alone and next to a stalled client per stall measurement (each).
const STALL_PAIRS: usize = 4;

/// CPU and wall clock around the timed part of a measurement.
struct Timer {
    start: Instant,
    cpu: f64,
    bench_cpu: f64,
    mux: MuxSnapshot,
}

impl Timer {
    fn start(server: &Server) -> Timer {
        Timer {
            start: Instant::now(),
            cpu: server.child.cpu_seconds(),
            bench_cpu: procs::self_cpu_seconds(),
            mux: server.mux_stats(),
        }
    }

    fn stop(&self, server: &Server, s: &mut Sample) {
        s.secs = self.start.elapsed().as_secs_f64();
        s.cpu = server.child.cpu_seconds() - self.cpu;
        s.bench_cpu = procs::self_cpu_seconds() - self.bench_cpu;
        s.rss_kib = server.child.peak_rss_kib();
        let now = server.mux_stats();
        s.mux = MuxSnapshot {
            wire_in: now.wire_in - self.mux.wire_in,
            wire_out: now.wire_out - self.mux.wire_out,
            payload_in: now.payload_in - self.mux.payload_in,
            payload_out: now.payload_out - self.mux.payload_out,
            discarded: now.discarded - self.mux.discarded,
            overflow_closes: now.overflow_closes - self.mux.overflow_closes,
            compressed_in: now.compressed_in - self.mux.compressed_in,
            compressed_out: now.compressed_out - self.mux.compressed_out,
        };
    }
}

async fn join_all(mut set: tokio::task::JoinSet<Result<u64, String>>) -> Result<u64, String> {
    let mut total = 0;
    while let Some(r) = set.join_next().await {
        total += r.map_err(|e| e.to_string())??;
    }
    Ok(total)
}

/// GET `path` and check its body; returns the body length.
pub async fn get(c: &mut HttpConn<Conn>, path: &str, content: Content, len: u64) -> Result<u64, String> {
    let r =
        c.request("GET", path, &[], Body::Empty, Sink::Check(content)).await.map_err(|e| format!("GET {path}: {e}"))?;
    if r.status != 200 || r.body_len != len {
        return Err(format!("GET {path}: status {} with {} bytes, expected 200 with {len}", r.status, r.body_len));
    }
    Ok(r.body_len)
}

/// PUT `len` bytes of `content` to `path`.
async fn put(c: &mut HttpConn<Conn>, path: &str, content: Content, len: u64) -> Result<u64, String> {
    let r = c
        .request("PUT", path, &[], Body::Generated(content, len), Sink::Count)
        .await
        .map_err(|e| format!("PUT {path}: {e}"))?;
    if !matches!(r.status, 200 | 201 | 204) {
        return Err(format!("PUT {path}: status {}", r.status));
    }
    Ok(len)
}

const PROPFIND_BODY: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:creationdate/>
<D:displayname/><D:getetag/><D:getcontenttype/></D:prop></D:propfind>"#;

/// PROPFIND Depth 1 of the big directory; checks that every entry is listed and returns the response size.
async fn propfind(c: &mut HttpConn<Conn>, entries: usize) -> Result<u64, String> {
    let headers = [("Depth", "1"), ("Content-Type", "application/xml; charset=utf-8")];
    let r = c
        .request("PROPFIND", paths::DIR, &headers, Body::Bytes(PROPFIND_BODY), Sink::Keep(64 << 20))
        .await
        .map_err(|e| format!("PROPFIND: {e}"))?;
    let listed = count(&r.body, b"<D:href>") + count(&r.body, b"<d:href>");
    if r.status != 207 || listed != entries + 1 {
        return Err(format!("PROPFIND: status {} listing {listed} hrefs, expected 207 and {}", r.status, entries + 1));
    }
    Ok(r.body_len)
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn local(share: &Path, path: &str) -> PathBuf {
    share.join(path.trim_start_matches('/'))
}

/// 10^6 bytes per second.
pub fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

/// The median (sorts `v`).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// "1 GiB", "256 MiB", "4 KiB".
pub fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// A byte count given as f64, in MiB ("12.3 MiB").
pub fn human_mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
}

//! When the WebDAV channel uses LZ4 (`--share-compression auto|always|never`; the policy and the measurements
//! behind it are in `docs/performance.md`).
//!
//! - **Guest → client**: spice-server compresses every message over its threshold once the client advertises the
//!   SpiceVMC LZ4 capability, and that is decided when the channel links. In `auto`, ryll offers it when the link's
//!   early rate estimate ([`NetTest`], from the main channel's net-test PINGs) is below [`OFFER_BELOW`]: there the
//!   server's compressor (about 500 MB/s of text on the loopback study) is faster than the link, so compressible
//!   data moves faster and incompressible data costs only the server's CPU. No estimate: not offered.
//! - **Client → guest**: [`Outbound`] decides per frame. A frame is compressed only while the link is the
//!   bottleneck — the net test says it is slower than [`OFFER_BELOW`], or frames wait for room on the writer's
//!   lane — the recent frames compressed well, and the measured drain rate of the lane is below what compression
//!   gains at the measured compressor speed. (Waiting frames alone would notice a slow link late: the kernel's
//!   socket buffers take megabytes before a write blocks.) Incompressible data
//!   is only probed (one frame in [`PROBE_EVERY`]), so it costs at most a sixteenth of the compressor's time.

use super::io::Outgoing;
use super::vmc::{encode_outgoing, COMPRESS_THRESHOLD};
use crate::protocol::vmc::MSGC_COMPRESSED_DATA;
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `--share-compression`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShareCompression {
    /// Decide from what is measured (the default).
    #[default]
    Auto,
    /// Offer LZ4 and compress every frame that gets smaller.
    Always,
    /// Never offer or use LZ4.
    Never,
}

/// In `auto`, LZ4 is offered to the server when the link's estimated rate is below this (bytes per second): half
/// the speed at which compression itself runs, so that a busy VM host still gains.
pub const OFFER_BELOW: f64 = 250e6;
/// With incompressible data, one frame in this many is still tried, to notice when the data changes.
pub const PROBE_EVERY: u64 = 16;
/// A frame "compresses well" when the recent frames' compressed size is at most this fraction.
const GOOD_RATIO: f64 = 0.9;
/// The lane's drain rate is measured over windows at least this long.
const WINDOW: Duration = Duration::from_millis(250);

/// Whether to offer LZ4 on a WebDAV channel about to link, given the link's estimated rate (bytes/s), if any.
pub fn offer_lz4(mode: ShareCompression, estimate: Option<f64>) -> bool {
    match mode {
        ShareCompression::Always => true,
        ShareCompression::Never => false,
        ShareCompression::Auto => estimate.is_some_and(|r| r < OFFER_BELOW),
    }
}

/// The early link-rate estimate from the net test spice-server runs on the main channel after INIT: PINGs without
/// padding, then one with 256 000 bytes; the gap between the arrival of the last small one and the large one is
/// the time its padding took on the link.
#[derive(Debug, Default)]
pub struct NetTest {
    last_small: Option<Instant>,
}

impl NetTest {
    /// A PING with `padding` bytes arrived at `at`; returns the estimate (bytes per second) when there is one.
    pub fn on_ping(&mut self, padding: usize, at: Instant) -> Option<f64> {
        if padding < 1024 {
            self.last_small = Some(at);
            return None;
        }
        let since = self.last_small.take()?;
        if padding < 64 * 1024 {
            return None;
        }
        let secs = at.saturating_duration_since(since).as_secs_f64().max(1e-6);
        Some(padding as f64 / secs)
    }
}

/// What the front end shows about compression on the WebDAV channel (all counters since the session started).
#[derive(Debug, Default)]
pub struct CompressionStats {
    /// LZ4 was offered to the server at the last link.
    pub offered: AtomicBool,
    /// The server can decompress what ryll sends, and the mode allows it.
    pub can_send: AtomicBool,
    /// The link-rate estimate of the net test, bytes per second (0: none).
    pub link_estimate: AtomicU64,
    /// Payload bytes ryll sent compressed, and what they took on the wire.
    pub sent_raw: AtomicU64,
    /// Wire bytes of the compressed frames ryll sent.
    pub sent_wire: AtomicU64,
    /// Payload bytes the server sent compressed, once decompressed.
    pub received_raw: AtomicU64,
    /// Wire bytes of the compressed messages the server sent.
    pub received_wire: AtomicU64,
}

impl CompressionStats {
    /// Bytes LZ4 saved on the wire, both directions.
    pub fn saved(&self) -> u64 {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        l(&self.sent_raw).saturating_sub(l(&self.sent_wire))
            + l(&self.received_raw).saturating_sub(l(&self.received_wire))
    }

    /// One line for the log: whether compression is on, the link estimate and what it saved.
    pub fn describe(&self) -> String {
        let est = self.link_estimate.load(Ordering::Relaxed);
        let est = if est > 0 {
            format!(" (net test: {:.0} Mbit/s)", est as f64 * 8.0 / 1e6)
        } else {
            " (no net-test estimate)".to_string()
        };
        let on = label(self.offered.load(Ordering::Relaxed), self.can_send.load(Ordering::Relaxed), self.saved());
        format!("{on}{est}")
    }
}

/// "LZ4 both ways, 3.2 MiB saved": whether compression is on (`offered`: from the guest; `sending`: to the guest,
/// on the frames where it pays) and the bytes it saved. Short enough for the Folders panel's row.
pub fn label(offered: bool, sending: bool, saved: u64) -> String {
    let on = match (offered, sending) {
        (true, true) => "LZ4 both ways",
        (true, false) => "LZ4 from the guest",
        (false, true) => "LZ4 to the guest",
        (false, false) => "off",
    };
    format!("{on}, {:.1} MiB saved", saved as f64 / (1024.0 * 1024.0))
}

/// The client → guest decision, shared by every connection of one linked channel.
#[derive(Debug)]
pub struct Outbound {
    mode: ShareCompression,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    window_start: Option<Instant>,
    window_bytes: u64,
    window_frames: u32,
    window_full: u32,
    backlogged: bool,
    /// The net test says the link is slower than [`OFFER_BELOW`].
    slow_link: bool,
    /// Wire bytes per second leaving the lane while it was backlogged.
    drain_rate: Option<f64>,
    /// Compressed / original size of the frames tried (moving average).
    ratio: f64,
    /// Payload bytes compressed per second of compressor time (moving average).
    speed: f64,
    probes: u64,
}

impl Outbound {
    /// A policy for a channel; `server_can` is the server's LZ4 capability, `estimate` the net test's link rate
    /// (bytes per second), if any.
    pub fn new(mode: ShareCompression, server_can: bool, estimate: Option<f64>) -> Self {
        let mode = if server_can { mode } else { ShareCompression::Never };
        let state = State {
            window_start: None,
            window_bytes: 0,
            window_frames: 0,
            window_full: 0,
            backlogged: false,
            slow_link: estimate.is_some_and(|r| r < OFFER_BELOW),
            drain_rate: None,
            ratio: 0.5,
            speed: 500e6,
            probes: 0,
        };
        Outbound { mode, state: Mutex::new(state) }
    }

    /// Whether this channel may send compressed frames at all.
    pub fn enabled(&self) -> bool {
        self.mode != ShareCompression::Never
    }

    /// Encodes one frame's payload; `lane_full`: the frame had to wait for room on the writer's lane.
    pub fn encode(&self, payload: Bytes, lane_full: bool, stats: &CompressionStats) -> Outgoing {
        self.encode_at(payload, lane_full, stats, Instant::now())
    }

    fn encode_at(&self, payload: Bytes, lane_full: bool, stats: &CompressionStats, now: Instant) -> Outgoing {
        let len = payload.len();
        let try_it = len > COMPRESS_THRESHOLD && self.lock().decide(self.mode, lane_full, now);
        let out = if try_it {
            let t0 = Instant::now();
            let out = encode_outgoing(payload, true);
            let wire = if out.msg_type == MSGC_COMPRESSED_DATA { out.body.len() } else { len };
            self.lock().learn(len, wire, t0.elapsed());
            if out.msg_type == MSGC_COMPRESSED_DATA {
                stats.sent_raw.fetch_add(len as u64, Ordering::Relaxed);
                stats.sent_wire.fetch_add(out.body.len() as u64, Ordering::Relaxed);
            }
            out
        } else {
            encode_outgoing(payload, false)
        };
        self.lock().count(out.body.len(), lane_full, now);
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn decide(&mut self, mode: ShareCompression, lane_full: bool, _now: Instant) -> bool {
        match mode {
            ShareCompression::Never => false,
            ShareCompression::Always => true,
            ShareCompression::Auto => {
                // The link keeps up: compressing would only add latency and CPU.
                if !(lane_full || self.backlogged || self.slow_link) {
                    return false;
                }
                if self.ratio > GOOD_RATIO {
                    self.probes += 1;
                    return self.probes % PROBE_EVERY == 0;
                }
                // Serial cost: compressing pays when L < C × (1 - r); 0.8 leaves a margin for a busy machine.
                self.drain_rate.is_none_or(|rate| rate < self.speed * (1.0 - self.ratio) * 0.8)
            }
        }
    }

    fn learn(&mut self, len: usize, wire: usize, took: Duration) {
        let r = wire as f64 / len.max(1) as f64;
        self.ratio = 0.75 * self.ratio + 0.25 * r;
        let secs = took.as_secs_f64().max(1e-7);
        self.speed = 0.75 * self.speed + 0.25 * (len as f64 / secs);
    }

    fn count(&mut self, wire: usize, lane_full: bool, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        self.window_bytes += wire as u64;
        self.window_frames += 1;
        self.window_full += u32::from(lane_full);
        let elapsed = now.saturating_duration_since(start);
        if elapsed >= WINDOW {
            self.backlogged = self.window_full * 2 >= self.window_frames;
            if self.backlogged {
                let rate = self.window_bytes as f64 / elapsed.as_secs_f64();
                self.drain_rate = Some(self.drain_rate.map_or(rate, |d| 0.5 * d + 0.5 * rate));
            }
            self.window_start = Some(now);
            self.window_bytes = 0;
            self.window_frames = 0;
            self.window_full = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Bytes {
        let words = b"fn main() { let x = compress(payload); println!(\"{x}\"); } // a comment\n";
        Bytes::from(words.iter().cycle().take(n).copied().collect::<Vec<u8>>())
    }

    fn noise(n: usize) -> Bytes {
        let mut v = vec![0u8; n];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut v);
        Bytes::from(v)
    }

    #[test]
    fn offering_follows_the_mode_and_the_estimate() {
        assert!(offer_lz4(ShareCompression::Always, None));
        assert!(!offer_lz4(ShareCompression::Never, Some(1e3)));
        assert!(!offer_lz4(ShareCompression::Auto, None));
        assert!(offer_lz4(ShareCompression::Auto, Some(2.5e6)));
        assert!(!offer_lz4(ShareCompression::Auto, Some(1e9)));
    }

    #[test]
    fn net_test_gap_gives_the_rate() {
        let t = Instant::now();
        let mut n = NetTest::default();
        assert_eq!(n.on_ping(0, t), None);
        assert_eq!(n.on_ping(0, t + Duration::from_millis(40)), None);
        let r = n.on_ping(256_000, t + Duration::from_millis(140)).unwrap();
        assert!((r - 2.56e6).abs() < 1.0, "{r}");
        // A large PING without a small one before it says nothing.
        assert_eq!(n.on_ping(256_000, t + Duration::from_millis(200)), None);
    }

    #[test]
    fn auto_leaves_frames_alone_while_the_link_keeps_up() {
        let p = Outbound::new(ShareCompression::Auto, true, Some(1e9));
        let stats = CompressionStats::default();
        for _ in 0..50 {
            assert_eq!(p.encode(text(60_000), false, &stats).msg_type, crate::protocol::vmc::MSGC_DATA);
        }
        assert_eq!(stats.saved(), 0);
    }

    #[test]
    fn auto_compresses_text_on_a_slow_backlogged_link() {
        let p = Outbound::new(ShareCompression::Auto, true, None);
        let stats = CompressionStats::default();
        let t0 = Instant::now();
        // 2.5 MB/s: one 60 KB frame every 24 ms, every one waiting for the lane.
        for i in 0..100u32 {
            let out = p.encode_at(text(60_000), true, &stats, t0 + Duration::from_millis(24 * u64::from(i)));
            assert_eq!(out.msg_type, MSGC_COMPRESSED_DATA, "frame {i}");
        }
        assert!(stats.saved() > 100 * 50_000, "{}", stats.saved());
        let rate = p.lock().drain_rate.unwrap();
        assert!(rate < 3e6, "{rate}");
    }

    #[test]
    fn auto_stops_when_the_link_is_faster_than_compression() {
        let p = Outbound::new(ShareCompression::Auto, true, None);
        let stats = CompressionStats::default();
        {
            let mut s = p.lock();
            s.drain_rate = Some(6e9);
            s.backlogged = true;
        }
        let t0 = Instant::now();
        for i in 0..100u64 {
            let out = p.encode_at(text(60_000), true, &stats, t0 + Duration::from_micros(10 * i));
            assert_eq!(out.msg_type, crate::protocol::vmc::MSGC_DATA, "frame {i}");
        }
        assert_eq!(stats.saved(), 0);
    }

    #[test]
    fn a_slow_net_test_compresses_before_the_lane_fills() {
        let p = Outbound::new(ShareCompression::Auto, true, Some(2.5e6));
        let stats = CompressionStats::default();
        assert_eq!(p.encode(text(60_000), false, &stats).msg_type, MSGC_COMPRESSED_DATA);
    }

    #[test]
    fn incompressible_data_is_only_probed() {
        let p = Outbound::new(ShareCompression::Auto, true, None);
        let stats = CompressionStats::default();
        let data = noise(60_000);
        for _ in 0..160 {
            let out = p.encode(data.clone(), true, &stats);
            assert_eq!(&out.body[..], &data[..]);
        }
        // A few tries until the ratio moved above GOOD_RATIO, then one in PROBE_EVERY.
        let probes = p.lock().probes;
        assert!(probes > 100, "{probes}");
    }

    #[test]
    fn never_and_a_server_without_the_capability_send_plain() {
        let stats = CompressionStats::default();
        for p in
            [Outbound::new(ShareCompression::Never, true, None), Outbound::new(ShareCompression::Always, false, None)]
        {
            assert!(!p.enabled());
            assert_eq!(p.encode(text(60_000), true, &stats).msg_type, crate::protocol::vmc::MSGC_DATA);
        }
        let always = Outbound::new(ShareCompression::Always, true, None);
        assert_eq!(always.encode(text(60_000), false, &stats).msg_type, MSGC_COMPRESSED_DATA);
        assert!(stats.describe().contains("saved"));
    }
}

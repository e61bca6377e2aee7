//! pcap capture of each SPICE channel's traffic.
//!
//! `ryll --capture DIR` records every channel's byte stream into its own pcap file, `DIR/<name>.pcap`
//! (for example `main-0.pcap`, `display-0.pcap`, `webdav-0.pcap`). The files are meant to be opened
//! in Wireshark or tshark with the SPICE dissector, e.g.
//! `tshark -r DIR/main-0.pcap -d tcp.port==5900,spice`.
//!
//! # Framing
//!
//! ryll sees a channel as a byte stream, not as packets, so the capture synthesises a plausible TCP
//! conversation around that stream:
//!
//! - The link type is `LINKTYPE_RAW` (101): every record starts directly with an IPv4 or IPv6
//!   header, so no fake Ethernet addresses are needed. The addresses and ports are the real local
//!   (client) and remote (server) socket addresses of the channel. If the two addresses are of
//!   different families, IPv4 addresses are mapped into IPv6 (`::ffff:a.b.c.d`).
//! - [`CaptureSet::open_channel`] writes a TCP three-way handshake (SYN, SYN/ACK, ACK) with an MSS
//!   and a window-scale option, so that Wireshark sees the session from its very first byte. The
//!   SPICE dissector is stateful: it expects the first client bytes to be the link header
//!   (`REDQ`...), then the link reply, the ticket and the link result, and only then data
//!   messages. Without the handshake and contiguous sequence numbers it cannot follow the stream.
//! - [`ChannelCapture::record`] turns each chunk of bytes, in the order it crossed the socket, into
//!   one or more `PSH|ACK` segments. Chunks are split so that every IP packet is at most 65535 bytes
//!   (the IPv4 total-length / IPv6 payload-length limit). Sequence numbers advance by the payload
//!   length in each direction and every segment acknowledges everything the peer has sent so far.
//! - Segments are additionally cut at the end of each SPICE link-stage message (link message/reply,
//!   auth mechanism, ticket, link result). Wireshark's SPICE dissector decodes at most one
//!   link-stage message per TCP segment and silently drops the rest of that segment, after which
//!   it loses track of the session; ryll may write the auth mechanism and ticket in one call, or
//!   read the link result together with the first data messages. See `LinkCuts`.
//! - [`ChannelCapture::close`] (also run on drop) writes a FIN/ACK exchange and flushes the file.
//! - The IPv4 header checksum and the TCP checksum are computed, so no "bad checksum" warnings
//!   appear even when checksum validation is enabled.
//! - Timestamps are wall-clock time at the moment of recording (microsecond resolution), clamped to
//!   never go backwards within a file.
//!
//! Output is buffered; the buffer is flushed when a large chunk is recorded, when 200 ms have
//! passed since the last flush (checked on each record, so an isolated message after a quiet
//! period is written at once), on [`ChannelCapture::flush`] and on close or drop. A hard crash
//! therefore loses at most the last 200 ms of a busy channel, or the tail of a burst that was
//! followed by silence; callers wanting a bound on the latter can call [`ChannelCapture::flush`]
//! from a timer.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::{DataLink, PcapError, TsResolution};

use crate::protocol::link::{LinkHeader, LINK_HEADER_SIZE};

/// Largest IP packet we emit (the IPv4 total-length field and IPv6 payload-length are 16 bits).
const MAX_IP_PACKET: usize = 65535;
/// pcap snapshot length; every packet we write fits entirely.
const SNAPLEN: u32 = MAX_IP_PACKET as u32;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const TCP_HEADER_LEN: usize = 20;
/// TCP options on SYN segments: MSS (4 bytes), NOP (1), window scale (3).
const TCP_SYN_OPTIONS_LEN: usize = 8;
/// Window scale shift advertised in the SYNs; the advertised window is then 65535 << 7 (~8 MiB).
const WINDOW_SCALE: u8 = 7;
const TCP_WINDOW: u16 = 0xffff;
const IP_TTL: u8 = 64;
const IPPROTO_TCP: u8 = 6;

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_PSH: u8 = 0x08;
const TCP_ACK: u8 = 0x10;

/// Initial sequence numbers of the synthetic connection (arbitrary; Wireshark shows relative ones).
const CLIENT_ISN: u32 = 0x1000_0000;
const SERVER_ISN: u32 = 0x5000_0000;

/// Buffered-writer capacity.
const BUFFER_CAPACITY: usize = 256 * 1024;
/// Records at least this large trigger a flush right away.
const LARGE_RECORD: usize = 64 * 1024;
/// Flush if at least this long has passed since the last flush (checked when recording).
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// How many numeric suffixes to try when `<name>.pcap` already exists.
const MAX_NAME_SUFFIX: u32 = 10_000;

/// Which way a chunk of bytes travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Sent by ryll (the client) to the SPICE server.
    ClientToServer,
    /// Received by ryll from the SPICE server.
    ServerToClient,
}

/// A capture directory; hands out one [`ChannelCapture`] (one pcap file) per channel.
///
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct CaptureSet {
    dir: PathBuf,
}

impl CaptureSet {
    /// Creates a capture set writing into `dir`, creating the directory (and parents) if needed.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir })
    }

    /// The directory the pcap files are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Opens `DIR/<name>.pcap` for a channel (e.g. `name = "main-0"`) and writes a synthetic TCP
    /// three-way handshake between `client` and `server`.
    ///
    /// An existing file is never overwritten: if `<name>.pcap` exists, `<name>_1.pcap`,
    /// `<name>_2.pcap`, ... are tried instead. Characters of `name` other than ASCII alphanumerics,
    /// `-`, `_` and `.` are replaced by `_` so the file always lands inside `DIR`.
    pub fn open_channel(&self, name: &str, client: SocketAddr, server: SocketAddr) -> io::Result<ChannelCapture> {
        let (path, file) = self.create_unique(&sanitize_name(name))?;
        ChannelCapture::start(path, file, client, server)
    }

    /// Creates a new, previously non-existent file for `name`, trying numeric suffixes.
    fn create_unique(&self, name: &str) -> io::Result<(PathBuf, File)> {
        for n in 0..=MAX_NAME_SUFFIX {
            let file_name = if n == 0 { format!("{name}.pcap") } else { format!("{name}_{n}.pcap") };
            let path = self.dir.join(file_name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok((path, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("too many capture files named {name} in {}", self.dir.display()),
        ))
    }
}

/// Makes `name` safe to use as a file name inside the capture directory.
fn sanitize_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "channel".to_owned()
    } else {
        cleaned
    }
}

/// The file handle shared between the [`PcapWriter`] and the capture (which needs to flush it;
/// `PcapWriter` 2.0 gives no access to its inner writer).
#[derive(Debug, Clone)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

impl SharedFile {
    fn with<T>(&self, f: impl FnOnce(&mut BufWriter<File>) -> io::Result<T>) -> io::Result<T> {
        let mut guard = self.0.lock().map_err(|_| io::Error::other("capture file lock poisoned"))?;
        f(&mut guard)
    }
}

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.with(|w| w.write(buf))
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.with(|w| w.write_all(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with(|w| w.flush())
    }
}

/// One side of the synthetic TCP connection.
#[derive(Debug, Clone, Copy)]
struct Endpoint {
    ip: IpAddr,
    port: u16,
    /// Next sequence number this side will send.
    seq: u32,
    /// IPv4 identification counter.
    ip_id: u16,
}

/// The pcap file of one channel. Created by [`CaptureSet::open_channel`].
///
/// Not internally synchronised: use it from one task (or behind a mutex).
#[derive(Debug)]
pub struct ChannelCapture {
    path: PathBuf,
    /// `None` once closed.
    writer: Option<PcapWriter<SharedFile>>,
    file: SharedFile,
    /// Both IPv4 or both IPv6 (mixed families are mapped to IPv6 at start-up).
    client: Endpoint,
    server: Endpoint,
    /// Largest TCP payload per segment so that the IP packet stays within [`MAX_IP_PACKET`].
    max_payload: usize,
    /// Link-stage message boundaries of the client→server stream.
    client_link: LinkCuts,
    /// Link-stage message boundaries of the server→client stream.
    server_link: LinkCuts,
    /// Reused packet buffer.
    scratch: Vec<u8>,
    last_timestamp: Duration,
    last_flush: Instant,
}

impl ChannelCapture {
    fn start(path: PathBuf, file: File, client: SocketAddr, server: SocketAddr) -> io::Result<Self> {
        let file = SharedFile(Arc::new(Mutex::new(BufWriter::with_capacity(BUFFER_CAPACITY, file))));
        let header = PcapHeader {
            snaplen: SNAPLEN,
            datalink: DataLink::RAW,
            ts_resolution: TsResolution::MicroSecond,
            ..PcapHeader::default()
        };
        let writer = PcapWriter::with_header(file.clone(), header).map_err(pcap_to_io)?;

        let (client_ip, server_ip, ipv6) = match (client.ip(), server.ip()) {
            (c @ IpAddr::V4(_), s @ IpAddr::V4(_)) => (c, s, false),
            (c, s) => (IpAddr::V6(to_v6(c)), IpAddr::V6(to_v6(s)), true),
        };
        let ip_header_len = if ipv6 { IPV6_HEADER_LEN } else { IPV4_HEADER_LEN };
        let mut capture = Self {
            path,
            writer: Some(writer),
            file,
            client: Endpoint { ip: client_ip, port: client.port(), seq: CLIENT_ISN, ip_id: 1 },
            server: Endpoint { ip: server_ip, port: server.port(), seq: SERVER_ISN, ip_id: 1 },
            max_payload: MAX_IP_PACKET - ip_header_len - TCP_HEADER_LEN,
            client_link: LinkCuts::new(&CLIENT_LINK_CUTS),
            server_link: LinkCuts::new(&SERVER_LINK_CUTS),
            scratch: Vec::with_capacity(MAX_IP_PACKET),
            last_timestamp: Duration::ZERO,
            last_flush: Instant::now(),
        };
        capture.handshake()?;
        capture.flush()?;
        Ok(capture)
    }

    /// Path of the pcap file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records `bytes` that crossed the socket in direction `dir`, in order, as one or more TCP
    /// `PSH|ACK` segments (split so that each IP packet is at most 65535 bytes, and at SPICE
    /// link-stage message boundaries). Call it with the bytes of each socket read/write as they
    /// happen; how the bytes are chunked does not matter otherwise.
    ///
    /// Empty input records nothing. Fails if the capture has been closed or the file cannot be
    /// written.
    pub fn record(&mut self, dir: Direction, bytes: &[u8]) -> io::Result<()> {
        if self.writer.is_none() {
            return Err(closed_error());
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let timestamp = self.timestamp();
        let (cuts, ncuts) = match dir {
            Direction::ClientToServer => self.client_link.cuts_in(bytes),
            Direction::ServerToClient => self.server_link.cuts_in(bytes),
        };
        let mut start = 0;
        for end in cuts[..ncuts].iter().copied().chain(std::iter::once(bytes.len())) {
            for chunk in bytes[start..end].chunks(self.max_payload) {
                self.write_segment(dir, TCP_PSH | TCP_ACK, chunk, timestamp)?;
            }
            start = end;
        }
        if bytes.len() >= LARGE_RECORD || self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Flushes buffered packets to the file. A no-op once closed.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.last_flush = Instant::now();
        self.file.flush()
    }

    /// Writes the FIN/ACK exchange that ends the TCP conversation and flushes the file.
    ///
    /// Closing twice is a no-op. Also done on drop (with errors ignored).
    pub fn close(&mut self) -> io::Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        let result = self.write_teardown();
        let flushed = self.file.flush();
        self.writer = None;
        result.and(flushed)
    }

    fn handshake(&mut self) -> io::Result<()> {
        let ts = self.timestamp();
        // SYN: no ACK yet, so the acknowledgement number is zero.
        self.write_packet(Direction::ClientToServer, TCP_SYN, &[], ts, Some(0))?;
        self.client.seq = self.client.seq.wrapping_add(1);
        self.write_packet(Direction::ServerToClient, TCP_SYN | TCP_ACK, &[], ts, None)?;
        self.server.seq = self.server.seq.wrapping_add(1);
        self.write_segment(Direction::ClientToServer, TCP_ACK, &[], ts)
    }

    fn write_teardown(&mut self) -> io::Result<()> {
        let ts = self.timestamp();
        self.write_segment(Direction::ClientToServer, TCP_FIN | TCP_ACK, &[], ts)?;
        self.client.seq = self.client.seq.wrapping_add(1);
        self.write_segment(Direction::ServerToClient, TCP_FIN | TCP_ACK, &[], ts)?;
        self.server.seq = self.server.seq.wrapping_add(1);
        self.write_segment(Direction::ClientToServer, TCP_ACK, &[], ts)
    }

    /// Writes one non-SYN segment and advances the sender's sequence number by the payload length.
    fn write_segment(&mut self, dir: Direction, flags: u8, payload: &[u8], ts: Duration) -> io::Result<()> {
        self.write_packet(dir, flags, payload, ts, None)?;
        let sender = match dir {
            Direction::ClientToServer => &mut self.client,
            Direction::ServerToClient => &mut self.server,
        };
        // `payload` is at most `max_payload` (< 65536) bytes, so this cannot truncate.
        sender.seq = sender.seq.wrapping_add(payload.len() as u32);
        Ok(())
    }

    /// Builds one IP/TCP packet into the scratch buffer and writes it to the pcap file.
    ///
    /// `ack` overrides the acknowledgement number (default: the peer's next sequence number).
    fn write_packet(
        &mut self,
        dir: Direction,
        flags: u8,
        payload: &[u8],
        ts: Duration,
        ack: Option<u32>,
    ) -> io::Result<()> {
        let (src, dst) = match dir {
            Direction::ClientToServer => (&mut self.client, &self.server),
            Direction::ServerToClient => (&mut self.server, &self.client),
        };
        let options_len = if flags & TCP_SYN != 0 { TCP_SYN_OPTIONS_LEN } else { 0 };
        let tcp_len = TCP_HEADER_LEN + options_len + payload.len();
        let ip_id = src.ip_id;
        src.ip_id = src.ip_id.wrapping_add(1);

        let buf = &mut self.scratch;
        buf.clear();
        match (src.ip, dst.ip) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let total_len = u16::try_from(IPV4_HEADER_LEN + tcp_len).map_err(|_| too_large())?;
                let start = buf.len();
                buf.push(0x45); // version 4, IHL 5
                buf.push(0); // DSCP/ECN
                buf.extend_from_slice(&total_len.to_be_bytes());
                buf.extend_from_slice(&ip_id.to_be_bytes());
                buf.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
                buf.push(IP_TTL);
                buf.push(IPPROTO_TCP);
                buf.extend_from_slice(&[0, 0]); // header checksum, filled in below
                buf.extend_from_slice(&s.octets());
                buf.extend_from_slice(&d.octets());
                let checksum = fold_checksum(sum_words(&buf[start..]));
                buf[start + 10..start + 12].copy_from_slice(&checksum.to_be_bytes());
            }
            (s, d) => {
                let payload_len = u16::try_from(tcp_len).map_err(|_| too_large())?;
                buf.extend_from_slice(&0x6000_0000u32.to_be_bytes()); // version 6, no class/flow label
                buf.extend_from_slice(&payload_len.to_be_bytes());
                buf.push(IPPROTO_TCP);
                buf.push(IP_TTL);
                buf.extend_from_slice(&to_v6(s).octets());
                buf.extend_from_slice(&to_v6(d).octets());
            }
        }
        if buf.len() + tcp_len > MAX_IP_PACKET {
            return Err(too_large());
        }

        let tcp_start = buf.len();
        let data_offset = ((TCP_HEADER_LEN + options_len) / 4) as u8;
        buf.extend_from_slice(&src.port.to_be_bytes());
        buf.extend_from_slice(&dst.port.to_be_bytes());
        buf.extend_from_slice(&src.seq.to_be_bytes());
        buf.extend_from_slice(&ack.unwrap_or(dst.seq).to_be_bytes());
        buf.push(data_offset << 4);
        buf.push(flags);
        buf.extend_from_slice(&TCP_WINDOW.to_be_bytes());
        buf.extend_from_slice(&[0, 0]); // checksum, filled in below
        buf.extend_from_slice(&[0, 0]); // urgent pointer
        if options_len != 0 {
            let mss = u16::try_from(self.max_payload).unwrap_or(u16::MAX);
            buf.push(2); // MSS
            buf.push(4);
            buf.extend_from_slice(&mss.to_be_bytes());
            buf.push(1); // NOP
            buf.push(3); // window scale
            buf.push(3);
            buf.push(WINDOW_SCALE);
        }
        buf.extend_from_slice(payload);

        // Pseudo-header: addresses, protocol and TCP length.
        let mut sum = address_sum(src.ip) + address_sum(dst.ip);
        sum += u64::from(IPPROTO_TCP) + tcp_len as u64;
        sum += sum_words(&buf[tcp_start..]);
        let checksum = fold_checksum(sum);
        buf[tcp_start + 16..tcp_start + 18].copy_from_slice(&checksum.to_be_bytes());

        let orig_len = buf.len() as u32; // at most MAX_IP_PACKET, checked above
        let packet = PcapPacket::new(ts, orig_len, buf);
        match self.writer.as_mut() {
            Some(writer) => writer.write_packet(&packet).map(|_| ()).map_err(pcap_to_io),
            None => Err(closed_error()),
        }
    }

    /// Wall-clock time since the epoch, never earlier than the previous packet's.
    fn timestamp(&mut self) -> Duration {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        self.last_timestamp = self.last_timestamp.max(now);
        self.last_timestamp
    }
}

impl Drop for ChannelCapture {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Most segment cuts a stream needs during the link stage.
const MAX_LINK_CUTS: usize = 4;
/// Where the client stream is cut, relative to the end of its link message: after the link message,
/// after a 4-byte auth mechanism, after a 128-byte ticket sent without an auth mechanism, and after
/// a ticket sent after one. A cut that is not a message boundary in a given session is harmless
/// (it falls inside the ticket or a data message, which the dissector reassembles).
const CLIENT_LINK_CUTS: [u64; MAX_LINK_CUTS] = [0, 4, 128, 132];
/// Where the server stream is cut, relative to the end of its link reply: after the reply and after
/// the 4-byte link result.
const SERVER_LINK_CUTS: [u64; 2] = [0, 4];

/// Tracks the SPICE link stage of one direction so that each link-stage message ends a segment.
///
/// Wireshark's SPICE dissector handles exactly one link-stage message per TCP segment and drops
/// whatever follows it in the same segment (its state is per frame), after which it loses track of
/// the session. ryll may well write the auth mechanism and the ticket with one call, or read the
/// link result together with the first data messages, so the capture cuts segments there. Data
/// messages may share segments freely; the dissector splits and reassembles those itself.
#[derive(Debug, Clone)]
struct LinkCuts {
    /// Cut offsets relative to the end of the link message (valid until the header is known).
    relative: &'static [u64],
    /// The first bytes of the stream, until the link header is complete.
    header: [u8; LINK_HEADER_SIZE],
    /// Absolute stream offsets at which segments must end (once the header is known).
    cuts: [u64; MAX_LINK_CUTS],
    ncuts: usize,
    /// Bytes of this direction recorded so far.
    pos: u64,
    /// False once past the link stage or if the stream does not start with a SPICE link header.
    active: bool,
}

impl LinkCuts {
    fn new(relative: &'static [u64]) -> Self {
        Self { relative, header: [0; LINK_HEADER_SIZE], cuts: [0; MAX_LINK_CUTS], ncuts: 0, pos: 0, active: true }
    }

    /// Consumes the next `bytes` of the stream and returns the offsets within `bytes` (ascending,
    /// excluding 0 and `bytes.len()`) where a segment must end.
    fn cuts_in(&mut self, bytes: &[u8]) -> ([usize; MAX_LINK_CUTS], usize) {
        let mut out = [0; MAX_LINK_CUTS];
        let mut n = 0;
        if !self.active {
            return (out, n);
        }
        let start = self.pos;
        let len = bytes.len() as u64;
        if start < LINK_HEADER_SIZE as u64 {
            let at = start as usize;
            let take = (LINK_HEADER_SIZE - at).min(bytes.len());
            self.header[at..at + take].copy_from_slice(&bytes[..take]);
            if at + take == LINK_HEADER_SIZE {
                self.learn_header();
            }
        }
        self.pos = start.saturating_add(len);
        for &cut in &self.cuts[..self.ncuts] {
            if cut > start && cut < self.pos {
                // `cut - start < len`, which is a `usize`.
                out[n] = (cut - start) as usize;
                n += 1;
            }
        }
        if self.pos >= LINK_HEADER_SIZE as u64 && self.cuts[..self.ncuts].iter().all(|&cut| cut <= self.pos) {
            self.active = false;
        }
        (out, n)
    }

    fn learn_header(&mut self) {
        let Ok(header) = LinkHeader::parse(&self.header) else {
            // Not a SPICE link header (or one the link itself refuses): nothing to cut.
            self.active = false;
            return;
        };
        let link_end = LINK_HEADER_SIZE as u64 + u64::from(header.size);
        for (slot, rel) in self.cuts.iter_mut().zip(self.relative) {
            *slot = link_end + rel;
        }
        self.ncuts = self.relative.len().min(MAX_LINK_CUTS);
    }
}

/// Checksum word sum of an address as it appears in the TCP pseudo-header.
///
/// Endpoints are normalised at start-up, so both are IPv4 or both are IPv6.
fn address_sum(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => sum_words(&v4.octets()),
        IpAddr::V6(v6) => sum_words(&v6.octets()),
    }
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Sums `data` as big-endian 32-bit words (the tail zero-padded) for an Internet checksum.
///
/// Summing 32-bit words and folding gives the same one's-complement result as summing 16-bit
/// words; the 64-bit accumulator cannot overflow for any packet we build.
fn sum_words(data: &[u8]) -> u64 {
    let mut chunks = data.chunks_exact(4);
    let mut sum: u64 = chunks.by_ref().map(|c| u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))).sum();
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 4];
        tail[..rest.len()].copy_from_slice(rest);
        sum += u64::from(u32::from_be_bytes(tail));
    }
    sum
}

/// Folds a word sum into the final 16-bit one's-complement checksum.
fn fold_checksum(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn pcap_to_io(e: PcapError) -> io::Error {
    match e {
        PcapError::IoError(e) => e,
        other => io::Error::other(other),
    }
}

fn closed_error() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "capture already closed")
}

fn too_large() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "capture packet too large")
}

#[cfg(test)]
mod tests;

//! Tests for `ryll::capture`: the pcap files must read back as a well-formed TCP conversation and
//! Wireshark's SPICE dissector must be able to decode them.

mod skips;

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::Command;

use pcap_file::pcap::PcapReader;
use pcap_file::DataLink;
use ryll::capture::{CaptureSet, Direction};

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One decoded packet of a capture.
#[derive(Debug)]
struct Segment {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

/// Internet checksum over `data` with the given initial sum.
fn checksum(mut sum: u64, data: &[u8]) -> u16 {
    for pair in data.chunks(2) {
        let hi = u64::from(pair[0]) << 8;
        let lo = pair.get(1).copied().map(u64::from).unwrap_or(0);
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a raw IPv4/IPv6 + TCP packet, checking lengths and checksums.
fn parse_packet(data: &[u8]) -> Segment {
    assert!(data.len() <= 65535, "IP packet of {} bytes", data.len());
    let (src_ip, dst_ip, tcp, pseudo_sum): (IpAddr, IpAddr, &[u8], u64) = match data[0] >> 4 {
        4 => {
            assert_eq!(data[0], 0x45);
            assert_eq!(usize::from(be16(data, 2)), data.len(), "IPv4 total length");
            assert_eq!(data[9], 6, "protocol TCP");
            assert_eq!(checksum(0, &data[..20]), 0, "IPv4 header checksum");
            let src = Ipv4Addr::new(data[12], data[13], data[14], data[15]);
            let dst = Ipv4Addr::new(data[16], data[17], data[18], data[19]);
            let tcp = &data[20..];
            let sum: u64 = data[12..20].chunks(2).map(|p| u64::from(be16(p, 0))).sum::<u64>() + 6 + tcp.len() as u64;
            (src.into(), dst.into(), tcp, sum)
        }
        6 => {
            assert_eq!(usize::from(be16(data, 4)) + 40, data.len(), "IPv6 payload length");
            assert_eq!(data[6], 6, "next header TCP");
            let mut src = [0u8; 16];
            let mut dst = [0u8; 16];
            src.copy_from_slice(&data[8..24]);
            dst.copy_from_slice(&data[24..40]);
            let tcp = &data[40..];
            let sum: u64 = data[8..40].chunks(2).map(|p| u64::from(be16(p, 0))).sum::<u64>() + 6 + tcp.len() as u64;
            (Ipv6Addr::from(src).into(), Ipv6Addr::from(dst).into(), tcp, sum)
        }
        v => panic!("unexpected IP version {v}"),
    };
    assert_eq!(checksum(pseudo_sum, tcp), 0, "TCP checksum");
    let header_len = usize::from(tcp[12] >> 4) * 4;
    Segment {
        src: SocketAddr::new(src_ip, be16(tcp, 0)),
        dst: SocketAddr::new(dst_ip, be16(tcp, 2)),
        seq: be32(tcp, 4),
        ack: be32(tcp, 8),
        flags: tcp[13],
        payload: tcp[header_len..].to_vec(),
    }
}

fn read_capture(path: &Path) -> Vec<Segment> {
    let mut reader = PcapReader::new(File::open(path).expect("open pcap")).expect("pcap header");
    assert_eq!(reader.header().datalink, DataLink::RAW);
    assert!(reader.header().snaplen >= 65535);
    let mut segments = Vec::new();
    let mut last_ts = std::time::Duration::ZERO;
    while let Some(packet) = reader.next_packet() {
        let packet = packet.expect("packet");
        assert_eq!(packet.orig_len as usize, packet.data.len(), "packet truncated");
        assert!(packet.timestamp >= last_ts, "timestamps go backwards");
        last_ts = packet.timestamp;
        segments.push(parse_packet(&packet.data));
    }
    segments
}

/// Checks the whole conversation (handshake, data, teardown) and returns the reassembled
/// client→server and server→client byte streams.
fn check_conversation(segments: &[Segment], client: SocketAddr, server: SocketAddr) -> (Vec<u8>, Vec<u8>) {
    assert!(segments.len() >= 6, "handshake and teardown present");
    let syn = &segments[0];
    assert_eq!((syn.src, syn.dst, syn.flags), (client, server, SYN));
    let syn_ack = &segments[1];
    assert_eq!((syn_ack.src, syn_ack.dst, syn_ack.flags), (server, client, SYN | ACK));
    assert_eq!(syn_ack.ack, syn.seq.wrapping_add(1));

    // Next expected sequence number of each side after the SYNs.
    let mut next = [syn.seq.wrapping_add(1), syn_ack.seq.wrapping_add(1)];
    let mut streams = (Vec::new(), Vec::new());
    let mut fins = [false, false];
    for seg in &segments[2..] {
        let side = if (seg.src, seg.dst) == (client, server) {
            0
        } else {
            assert_eq!((seg.src, seg.dst), (server, client));
            1
        };
        assert_eq!(seg.seq, next[side], "sequence continuity");
        assert_eq!(seg.ack, next[1 - side], "acknowledges everything received");
        assert_ne!(seg.flags & ACK, 0);
        assert_eq!(seg.flags & SYN, 0);
        if fins[side] {
            assert_eq!((seg.flags, seg.payload.len()), (ACK, 0), "only a bare ACK after FIN");
        }
        if seg.payload.is_empty() {
            assert_eq!(seg.flags & PSH, 0);
        } else {
            assert_eq!(seg.flags, PSH | ACK);
        }
        next[side] = next[side].wrapping_add(seg.payload.len() as u32);
        if side == 0 { &mut streams.0 } else { &mut streams.1 }.extend_from_slice(&seg.payload);
        if seg.flags & FIN != 0 {
            fins[side] = true;
            next[side] = next[side].wrapping_add(1);
        }
    }
    assert_eq!(fins, [true, true], "both sides sent FIN");
    let last = segments.last().expect("segments");
    assert_eq!((last.src, last.flags), (client, ACK), "final ACK of the teardown");
    streams
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn round_trip(client: SocketAddr, server: SocketAddr, max_segment: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = CaptureSet::new(dir.path().join("captures")).expect("capture set");
    let mut cap = set.open_channel("main-0", client, server).expect("open channel");
    let path = cap.path().to_path_buf();
    assert_eq!(path, dir.path().join("captures").join("main-0.pcap"));

    let c1 = pattern(100, 1);
    let s1 = pattern(50, 2);
    let big = pattern(200_000, 3);
    let c2 = pattern(7, 4);
    cap.record(Direction::ClientToServer, &c1).expect("record");
    cap.record(Direction::ServerToClient, &s1).expect("record");
    cap.record(Direction::ServerToClient, &[]).expect("empty record");
    cap.record(Direction::ServerToClient, &big).expect("record big");
    cap.record(Direction::ClientToServer, &c2).expect("record");
    cap.close().expect("close");
    cap.close().expect("second close is a no-op");
    assert!(cap.record(Direction::ClientToServer, b"late").is_err(), "record after close fails");
    drop(cap);

    let segments = read_capture(&path);
    let big_segments = 200_000usize.div_ceil(max_segment);
    // 3 handshake + c1 + s1 + big + c2 + 3 teardown.
    assert_eq!(segments.len(), 3 + 1 + 1 + big_segments + 1 + 3);
    assert!(segments.iter().all(|s| s.payload.len() <= max_segment));
    assert_eq!(segments[5].payload.len(), max_segment, "big chunk split into maximal segments");

    let (to_server, to_client) = check_conversation(&segments, client, server);
    assert_eq!(to_server, [c1, c2].concat());
    assert_eq!(to_client, [s1, big].concat());
}

#[test]
fn round_trip_ipv4() {
    let client: SocketAddr = "192.0.2.10:40000".parse().expect("addr");
    let server: SocketAddr = "198.51.100.7:5900".parse().expect("addr");
    round_trip(client, server, 65535 - 20 - 20);
}

#[test]
fn round_trip_ipv6() {
    let client: SocketAddr = "[2001:db8::10]:40000".parse().expect("addr");
    let server: SocketAddr = "[2001:db8::7]:5901".parse().expect("addr");
    round_trip(client, server, 65535 - 40 - 20);
}

#[test]
fn mixed_families_are_mapped_to_ipv6() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = CaptureSet::new(dir.path()).expect("capture set");
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("addr");
    let server: SocketAddr = "[::1]:5900".parse().expect("addr");
    let mut cap = set.open_channel("display-0", client, server).expect("open");
    cap.record(Direction::ClientToServer, b"hello").expect("record");
    let path = cap.path().to_path_buf();
    cap.close().expect("close");
    let segments = read_capture(&path);
    let mapped = SocketAddr::new(Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), 40000);
    let (to_server, to_client) = check_conversation(&segments, mapped, server);
    assert_eq!(to_server, b"hello");
    assert!(to_client.is_empty());
}

#[test]
fn existing_files_are_not_overwritten_and_drop_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = CaptureSet::new(dir.path()).expect("capture set");
    let client: SocketAddr = "10.0.0.1:1234".parse().expect("addr");
    let server: SocketAddr = "10.0.0.2:5900".parse().expect("addr");
    std::fs::write(dir.path().join("webdav-0.pcap"), b"keep me").expect("write");
    let first = set.open_channel("webdav-0", client, server).expect("open");
    let second = set.clone().open_channel("webdav-0", client, server).expect("open again");
    assert_eq!(first.path(), dir.path().join("webdav-0_1.pcap"));
    assert_eq!(second.path(), dir.path().join("webdav-0_2.pcap"));
    assert_eq!(std::fs::read(dir.path().join("webdav-0.pcap")).expect("read"), b"keep me");
    let escaped = set.open_channel("../evil", client, server).expect("open");
    assert_eq!(escaped.path().parent(), Some(dir.path()));

    let mut first = first;
    first.record(Direction::ServerToClient, b"data").expect("record");
    let path = first.path().to_path_buf();
    drop(first); // Drop writes the teardown and flushes.
    let segments = read_capture(&path);
    let (to_server, to_client) = check_conversation(&segments, client, server);
    assert!(to_server.is_empty());
    assert_eq!(to_client, b"data");
}

#[test]
fn records_are_flushed_before_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = CaptureSet::new(dir.path()).expect("capture set");
    let client: SocketAddr = "10.0.0.1:1234".parse().expect("addr");
    let server: SocketAddr = "10.0.0.2:5900".parse().expect("addr");
    let mut cap = set.open_channel("cursor-0", client, server).expect("open");
    // The handshake is on disk as soon as the channel is open.
    // pcap header, then SYN and SYN/ACK (40 bytes + 8 bytes of options) and ACK (40 bytes).
    assert_eq!(std::fs::metadata(cap.path()).expect("metadata").len(), 24 + 3 * 16 + 48 + 48 + 40);
    cap.record(Direction::ServerToClient, &[0u8; 100_000]).expect("record");
    cap.record(Direction::ServerToClient, b"small").expect("record");
    cap.flush().expect("flush");
    let segments = read_capture(cap.path());
    assert_eq!(segments.len(), 3 + 2 + 1);
    let total: usize = segments.iter().map(|s| s.payload.len()).sum();
    assert_eq!(total, 100_005);
}

// --- tshark / SPICE dissector -------------------------------------------------------------------

fn le32(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

/// SpiceLinkHeader: magic "REDQ", major 2, minor 2, size of the following message.
fn link_header(size: u32) -> Vec<u8> {
    [b"REDQ".as_slice(), &le32(2), &le32(2), &le32(size)].concat()
}

/// Client's SpiceLinkMess for the main channel plus one common-caps word.
fn link_mess() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&le32(0)); // connection_id
    body.push(1); // channel_type: main
    body.push(0); // channel_id
    body.extend_from_slice(&le32(1)); // num_common_caps
    body.extend_from_slice(&le32(0)); // num_channel_caps
    body.extend_from_slice(&le32(18)); // caps_offset
    assert_eq!(body.len(), 18);
    body.extend_from_slice(&le32(0x0b)); // AUTH_SELECTION | AUTH_SPICE | MINI_HEADER
    [link_header(body.len() as u32), body].concat()
}

/// Server's SpiceLinkReply plus one common-caps word.
fn link_reply() -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&le32(0)); // error: OK
    body.extend_from_slice(&[0u8; 162]); // pub_key
    body.extend_from_slice(&le32(1)); // num_common_caps
    body.extend_from_slice(&le32(0)); // num_channel_caps
    body.extend_from_slice(&le32(178)); // caps_offset
    assert_eq!(body.len(), 178);
    body.extend_from_slice(&le32(0x0b));
    [link_header(body.len() as u32), body].concat()
}

/// A mini-header data message: u16 type, u32 body size, body.
fn mini_message(msg_type: u16, body: &[u8]) -> Vec<u8> {
    [msg_type.to_le_bytes().as_slice(), &le32(body.len() as u32), body].concat()
}

/// SPICE_MSG_MAIN_INIT (103) with recognisable field values.
fn main_init() -> Vec<u8> {
    let fields: [u32; 8] = [
        0x1234_5678, // session_id
        1,           // display_channels_hint
        3,           // supported_mouse_modes
        2,           // current_mouse_mode
        1,           // agent_connected
        10,          // agent_tokens
        4242,        // multi_media_time
        0,           // ram_hint
    ];
    let body: Vec<u8> = fields.iter().flat_map(|f| f.to_le_bytes()).collect();
    assert_eq!(body.len(), 32);
    mini_message(103, &body)
}

/// SPICE_MSG_PING (4): u32 id, u64 timestamp.
fn ping() -> Vec<u8> {
    let body = [le32(7).as_slice(), &123_456_789u64.to_le_bytes()].concat();
    mini_message(4, &body)
}

/// SPICE_MSGC_PONG (3): u32 id, u64 timestamp.
fn pong() -> Vec<u8> {
    let body = [le32(7).as_slice(), &123_456_789u64.to_le_bytes()].concat();
    mini_message(3, &body)
}

/// Records a main-channel session (link stage, MAIN_INIT, PING, PONG) and returns `tshark -V` output.
///
/// With `coalesced`, messages are recorded the way a client may well see them on its socket: the
/// auth mechanism and ticket in one write, the link result and the first data messages in one read.
///
/// tshark is asked to validate the IPv4 and TCP checksums, so a bad one shows up as an error.
fn spice_session_decoded(client: &str, server: &str, coalesced: bool) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let set = CaptureSet::new(dir.path()).expect("capture set");
    let client: SocketAddr = client.parse().expect("addr");
    let server: SocketAddr = server.parse().expect("addr");
    let mut cap = set.open_channel("main-0", client, server).expect("open");

    // Auth mechanism (SPICE_COMMON_CAP_AUTH_SPICE) followed by the 128-byte encrypted ticket.
    let auth_mechanism = le32(1);
    let ticket = [0x5au8; 128];
    let link_result = le32(0); // SPICE_LINK_ERR_OK
    if coalesced {
        let link = link_mess();
        let (head, tail) = link.split_at(10); // a link message split across two writes
        cap.record(Direction::ClientToServer, head).expect("record");
        cap.record(Direction::ClientToServer, tail).expect("record");
        cap.record(Direction::ServerToClient, &link_reply()).expect("record");
        cap.record(Direction::ClientToServer, &[auth_mechanism.as_slice(), &ticket].concat()).expect("record");
        let burst = [link_result.as_slice(), &main_init(), &ping()].concat();
        cap.record(Direction::ServerToClient, &burst).expect("record");
    } else {
        cap.record(Direction::ClientToServer, &link_mess()).expect("record");
        cap.record(Direction::ServerToClient, &link_reply()).expect("record");
        cap.record(Direction::ClientToServer, &auth_mechanism).expect("record");
        cap.record(Direction::ClientToServer, &ticket).expect("record");
        cap.record(Direction::ServerToClient, &link_result).expect("record");
        cap.record(Direction::ServerToClient, &main_init()).expect("record");
        cap.record(Direction::ServerToClient, &ping()).expect("record");
    }
    cap.record(Direction::ClientToServer, &pong()).expect("record");
    let path = cap.path().to_path_buf();
    cap.close().expect("close");

    let output = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .arg("-d")
        .arg(format!("tcp.port=={},spice", server.port()))
        .args(["-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"])
        .arg("-V")
        .output()
        .expect("run tshark");
    assert!(output.status.success(), "tshark failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_spice_decoded(stdout: &str) {
    let expected = [
        // Link stage: the client's link message and the server's reply were recognised.
        "SPICE MAGIC: REDQ",
        "Channel type: MAIN (1)",
        "Link server header",
        "Authentication selected by client: Spice (1)",
        "Ticket - client",
        "Link result: OK (0)",
        // Data stage: mini-header messages from the server and the client.
        // (Wireshark 4.0 names SPICE_MSG_MAIN_INIT "Server INIT", and reads the session id big-endian.)
        "Message type: Server INIT (103)",
        "Agent tokens: 10",
        "Current server multimedia time: 4242",
        "Message type: Server PING (4)",
        "Ping ID: 7",
        "Message type: Client PONG (3)",
    ];
    for needle in expected {
        assert!(stdout.contains(needle), "tshark output lacks {needle:?}:\n{stdout}");
    }
    assert!(stdout.contains("[Checksum Status: Good]"), "TCP checksum not validated:\n{stdout}");
    for bad in ["Malformed", "Expert Info (Warning", "Expert Info (Error", "Status: Bad", "status: Bad"] {
        assert!(!stdout.contains(bad), "tshark reported {bad:?}:\n{stdout}");
    }
}

#[test]
fn tshark_decodes_spice_session() {
    if !skips::tool_present("tshark", "--version", "tshark") {
        return;
    }
    assert_spice_decoded(&spice_session_decoded("127.0.0.1:41234", "127.0.0.1:5930", false));
}

#[test]
fn tshark_decodes_spice_session_with_coalesced_link_messages() {
    if !skips::tool_present("tshark", "--version", "tshark") {
        return;
    }
    assert_spice_decoded(&spice_session_decoded("127.0.0.1:41234", "127.0.0.1:5930", true));
    assert_spice_decoded(&spice_session_decoded("[2001:db8::10]:41234", "[2001:db8::7]:5930", true));
}

#[test]
fn capture_types_can_move_between_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CaptureSet>();
    assert_send_sync::<ryll::capture::ChannelCapture>();
    assert_send_sync::<Direction>();
}

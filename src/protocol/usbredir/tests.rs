use super::*;
use crate::protocol::wire::PutLe;
use crate::protocol::ProtocolError;

const ALL: u32 = 0xff;

fn both() -> Negotiated {
    Negotiated::new(OUR_CAPS, ALL)
}

fn roundtrip(message: Message, n: &Negotiated, sender: Sender) -> Vec<u8> {
    let packet = Packet { id: 0x1_0000_0007, message };
    let bytes = encode(&packet, n);
    let back = parse(&bytes, n, sender).expect("parse");
    let wide = n.has(cap::IDS_64BIT) && !matches!(packet.message, Message::Hello { .. });
    let id = if wide { packet.id } else { packet.id & 0xffff_ffff };
    assert_eq!(back, Packet { id, message: packet.message });
    bytes
}

#[test]
fn hello_has_a_nul_padded_version_and_caps_and_a_32_bit_header() {
    let bytes =
        roundtrip(Message::Hello { version: VERSION.as_bytes().to_vec(), caps: vec![OUR_CAPS] }, &both(), Sender::Host);
    assert_eq!(bytes.len(), 12 + 64 + 4, "hello always uses the 12-byte header");
    assert_eq!(bytes.get(..8), Some(&[0, 0, 0, 0, 68, 0, 0, 0][..]));
    let mut odd = bytes.clone();
    odd.push(1);
    if let Some(len) = odd.get_mut(4) {
        *len = 69;
    }
    assert!(parse(&odd, &both(), Sender::Guest).is_err(), "caps must be whole words");
    let long = Message::Hello { version: vec![b'v'; 100], caps: vec![1; 40] };
    let bytes = encode(&Packet { id: 0, message: long }, &both());
    let Ok(Packet { message: Message::Hello { version, caps }, .. }) = parse(&bytes, &both(), Sender::Guest) else {
        panic!("hello")
    };
    assert_eq!((version.len(), caps.len()), (VERSION_LEN, MAX_CAP_WORDS), "bounded both ways");
}

#[test]
fn negotiated_caps_set_the_header_sizes() {
    let none = Negotiated::new(OUR_CAPS, 0);
    let connect = DeviceConnect {
        speed: speed::HIGH,
        class: 0,
        subclass: 0,
        protocol: 0,
        vendor_id: 0x1d6b,
        product_id: 0x0104,
        device_version_bcd: 0x0100,
    };
    assert_eq!(roundtrip(Message::DeviceConnect(connect), &both(), Sender::Host).len(), 16 + 10);
    let short = encode(&Packet { id: 3, message: Message::DeviceConnect(connect) }, &none);
    assert_eq!(short.len(), 12 + 8);
    let Ok(Packet { message: Message::DeviceConnect(d), id: 3 }) = parse(&short, &none, Sender::Host) else {
        panic!("connect")
    };
    assert_eq!(d.device_version_bcd, 0, "not sent without the capability");

    let mut ep = EpInfo::default();
    ep.kind[ep_index(0x81)] = ep_type::BULK;
    ep.max_packet_size[ep_index(0x02)] = 512;
    assert_eq!(ep_index(0x81), 17);
    assert_eq!(roundtrip(Message::EpInfo(Box::new(ep.clone())), &both(), Sender::Host).len(), 16 + 160);
    let streams = Negotiated::new(ALL, ALL);
    assert_eq!(roundtrip(Message::EpInfo(Box::new(ep)), &streams, Sender::Host).len(), 16 + 288);
}

#[test]
fn bulk_data_goes_out_from_the_guest_and_in_from_the_host() {
    let n = both();
    let out = Bulk { endpoint: 0x02, status: 0, length: 5, stream_id: 0 };
    roundtrip(Message::Bulk(out, b"hello".to_vec()), &n, Sender::Guest);
    let request = Bulk { endpoint: 0x81, status: 0, length: 0x1_0200, stream_id: 0 };
    let bytes = roundtrip(Message::Bulk(request, Vec::new()), &n, Sender::Guest);
    assert_eq!(bytes.len(), 16 + 10, "a 32-bit length with length_high, no data on an IN request");
    let reply = Bulk { endpoint: 0x81, status: 0, length: 3, stream_id: 0 };
    roundtrip(Message::Bulk(reply, b"abc".to_vec()), &n, Sender::Host);

    let wrong = encode(&Packet { id: 1, message: Message::Bulk(out, b"hell".to_vec()) }, &n);
    assert!(parse(&wrong, &n, Sender::Guest).is_err(), "length and data disagree");
    let data_on_in = encode(&Packet { id: 1, message: Message::Bulk(request, b"x".to_vec()) }, &n);
    assert!(parse(&data_on_in, &n, Sender::Guest).is_err(), "an IN request carries no data");
    let narrow = Negotiated::new(OUR_CAPS, OUR_CAPS & !(1 << cap::BULK_LENGTH_32BIT));
    let small = Bulk { endpoint: 0x81, status: 0, length: 512, stream_id: 0 };
    assert_eq!(roundtrip(Message::Bulk(small, Vec::new()), &narrow, Sender::Guest).len(), 16 + 8);
}

#[test]
fn control_setup_and_reply() {
    let n = both();
    let get_descriptor =
        Control { endpoint: 0x80, request: 6, requesttype: 0x80, status: 0, value: 0x0100, index: 0, length: 18 };
    roundtrip(Message::Control(get_descriptor, Vec::new()), &n, Sender::Guest);
    let reply = Control { length: 2, ..get_descriptor };
    roundtrip(Message::Control(reply, vec![18, 1]), &n, Sender::Host);
    let set = Control { endpoint: 0, request: 0xff, requesttype: 0x21, status: 0, value: 0, index: 0, length: 1 };
    roundtrip(Message::Control(set, vec![7]), &n, Sender::Guest);
    let no_data = encode(&Packet { id: 9, message: Message::Control(set, Vec::new()) }, &n);
    assert!(parse(&no_data, &n, Sender::Guest).is_err(), "an OUT setup carries its data");
}

#[test]
fn small_packets_and_fixed_headers() {
    let n = both();
    for m in [
        Message::DeviceDisconnect,
        Message::Reset,
        Message::SetConfiguration(1),
        Message::GetConfiguration,
        Message::ConfigurationStatus { status: 0, configuration: 1 },
        Message::SetAltSetting { interface: 0, alt: 0 },
        Message::GetAltSetting { interface: 0 },
        Message::AltSettingStatus { status: 0, interface: 0, alt: 0 },
        Message::CancelDataPacket,
        Message::DeviceDisconnectAck,
        Message::Other { kind: kind::START_INTERRUPT_RECEIVING, header: vec![0x83] },
        Message::Interrupt(Small { endpoint: 0x83, status: 0, length: 0 }, Vec::new()),
        Message::InterfaceInfo(InterfaceInfo { interfaces: vec![[0, 8, 6, 0x50]] }),
    ] {
        roundtrip(m, &n, Sender::Guest);
    }
    let mut extra = encode(&Packet { id: 1, message: Message::SetConfiguration(1) }, &n);
    extra.push(0);
    if let Some(len) = extra.get_mut(4) {
        *len = 2;
    }
    assert!(parse(&extra, &n, Sender::Guest).is_err(), "fixed-size headers take no extra bytes");
    let mut many = encode(&Packet { id: 1, message: Message::InterfaceInfo(InterfaceInfo { interfaces: vec![] }) }, &n);
    if let Some(count) = many.get_mut(16) {
        *count = 33;
    }
    assert!(parse(&many, &n, Sender::Host).is_err(), "at most 32 interfaces");
}

#[test]
fn the_deframer_reassembles_skips_unknown_types_and_refuses_huge_lengths() {
    let n = both();
    let a = encode(
        &Packet {
            id: 1,
            message: Message::Bulk(Bulk { endpoint: 2, status: 0, length: 3, stream_id: 0 }, b"xyz".to_vec()),
        },
        &n,
    );
    let b = encode(
        &Packet { id: 2, message: Message::Unknown { kind: kind::BUFFERED_BULK_PACKET, body: vec![0; 10] } },
        &n,
    );
    let c = encode(&Packet { id: 3, message: Message::Reset }, &n);
    let stream: Vec<u8> = [a, b, c].concat();
    let mut d = Deframer::new();
    let mut got = Vec::new();
    for byte in &stream {
        d.push(std::slice::from_ref(byte));
        while let Some(p) = d.next(&n, Sender::Guest).expect("valid stream") {
            got.push(p);
        }
    }
    assert_eq!(got.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(matches!(
        got.get(1),
        Some(Packet { message: Message::Unknown { kind: kind::BUFFERED_BULK_PACKET, .. }, .. })
    ));
    assert_eq!(d.pending(), 0);

    let mut huge = Deframer::new();
    let mut header = Vec::new();
    header.put_u32_le(kind::BULK_PACKET);
    header.put_u32_le(MAX_PACKET_LEN + 1);
    huge.push(&header);
    assert!(matches!(huge.next(&n, Sender::Guest), Err(ProtocolError::TooLarge { .. })), "refused before buffering");
}

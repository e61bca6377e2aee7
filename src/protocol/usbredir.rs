//! The usbredir protocol (usbredir 0.7, `USBREDIR_VERSION 0x000701`), carried by the usbredir channel (type 9) as a
//! byte stream inside SpiceVMC DATA messages. ryll is the **usb-host** (it owns the device); QEMU's `usb-redir`
//! device is the **usb-guest**.
//!
//! Every packet is a header (`type u32`, `length u32`, `id u32`, or `id u64` once both sides have
//! [`cap::IDS_64BIT`]) followed by `length` bytes: a type-specific header of fixed size, then data for the data
//! packets. Which sizes apply depends on the capabilities both sides announced in their hello ([`Negotiated`]).
//! [`Deframer`] reassembles packets from the stream's pieces; [`parse`] reads one packet, [`encode`] writes one.
//! Everything is bounded: a packet's length by [`MAX_PACKET_LEN`], a hello's capability words, a filter's rules.

use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// The protocol version ryll announces in its hello.
pub const VERSION: &str = "ryll usbredir 0.7";
/// The largest packet body (type header plus data) accepted: a bulk transfer of 4 MiB plus headers. Mass-storage
/// guests move at most 1 MiB per transfer (Linux `max_sectors` 2048), so this leaves room without letting a peer
/// make ryll buffer without bound.
pub const MAX_PACKET_LEN: u32 = 4 * 1024 * 1024 + 64;
/// The most capability words read from a hello (usbredir 0.7 defines one).
pub const MAX_CAP_WORDS: usize = 16;
/// The size of a hello's version string field.
pub const VERSION_LEN: usize = 64;

/// Capability bit numbers (in the first capability word of a hello).
pub mod cap {
    /// USB 3 bulk streams.
    pub const BULK_STREAMS: u32 = 0;
    /// device_connect carries `device_version_bcd`.
    pub const CONNECT_DEVICE_VERSION: u32 = 1;
    /// filter_reject and filter_filter packets.
    pub const FILTER: u32 = 2;
    /// device_disconnect_ack packets.
    pub const DEVICE_DISCONNECT_ACK: u32 = 3;
    /// ep_info carries `max_packet_size`.
    pub const EP_INFO_MAX_PACKET_SIZE: u32 = 4;
    /// 64-bit ids in the packet header.
    pub const IDS_64BIT: u32 = 5;
    /// bulk packets carry `length_high` (32-bit lengths).
    pub const BULK_LENGTH_32BIT: u32 = 6;
    /// Bulk receiving (buffered bulk input).
    pub const BULK_RECEIVING: u32 = 7;
}

/// Packet type numbers.
pub mod kind {
    #![allow(missing_docs)]
    pub const HELLO: u32 = 0;
    pub const DEVICE_CONNECT: u32 = 1;
    pub const DEVICE_DISCONNECT: u32 = 2;
    pub const RESET: u32 = 3;
    pub const INTERFACE_INFO: u32 = 4;
    pub const EP_INFO: u32 = 5;
    pub const SET_CONFIGURATION: u32 = 6;
    pub const GET_CONFIGURATION: u32 = 7;
    pub const CONFIGURATION_STATUS: u32 = 8;
    pub const SET_ALT_SETTING: u32 = 9;
    pub const GET_ALT_SETTING: u32 = 10;
    pub const ALT_SETTING_STATUS: u32 = 11;
    pub const START_ISO_STREAM: u32 = 12;
    pub const STOP_ISO_STREAM: u32 = 13;
    pub const ISO_STREAM_STATUS: u32 = 14;
    pub const START_INTERRUPT_RECEIVING: u32 = 15;
    pub const STOP_INTERRUPT_RECEIVING: u32 = 16;
    pub const INTERRUPT_RECEIVING_STATUS: u32 = 17;
    pub const ALLOC_BULK_STREAMS: u32 = 18;
    pub const FREE_BULK_STREAMS: u32 = 19;
    pub const BULK_STREAMS_STATUS: u32 = 20;
    pub const CANCEL_DATA_PACKET: u32 = 21;
    pub const FILTER_REJECT: u32 = 22;
    pub const FILTER_FILTER: u32 = 23;
    pub const DEVICE_DISCONNECT_ACK: u32 = 24;
    pub const START_BULK_RECEIVING: u32 = 25;
    pub const STOP_BULK_RECEIVING: u32 = 26;
    pub const BULK_RECEIVING_STATUS: u32 = 27;
    pub const CONTROL_PACKET: u32 = 100;
    pub const BULK_PACKET: u32 = 101;
    pub const ISO_PACKET: u32 = 102;
    pub const INTERRUPT_PACKET: u32 = 103;
    pub const BUFFERED_BULK_PACKET: u32 = 104;
}

/// Transfer status codes.
pub mod status {
    #![allow(missing_docs)]
    pub const SUCCESS: u8 = 0;
    pub const CANCELLED: u8 = 1;
    pub const INVAL: u8 = 2;
    pub const IOERROR: u8 = 3;
    pub const STALL: u8 = 4;
    pub const TIMEOUT: u8 = 5;
    pub const BABBLE: u8 = 6;
}

/// Endpoint types in ep_info.
pub mod ep_type {
    #![allow(missing_docs)]
    pub const CONTROL: u8 = 0;
    pub const ISO: u8 = 1;
    pub const BULK: u8 = 2;
    pub const INTERRUPT: u8 = 3;
    pub const INVALID: u8 = 255;
}

/// Device speeds in device_connect.
pub mod speed {
    #![allow(missing_docs)]
    pub const LOW: u8 = 0;
    pub const FULL: u8 = 1;
    pub const HIGH: u8 = 2;
    pub const SUPER: u8 = 3;
}

/// The capabilities ryll announces: device versions, disconnect acks, max packet sizes, 64-bit ids and 32-bit bulk
/// lengths. Bulk streams, filters and bulk receiving are not offered (a mass-storage device needs none of them).
pub const OUR_CAPS: u32 = 1 << cap::CONNECT_DEVICE_VERSION
    | 1 << cap::DEVICE_DISCONNECT_ACK
    | 1 << cap::EP_INFO_MAX_PACKET_SIZE
    | 1 << cap::IDS_64BIT
    | 1 << cap::BULK_LENGTH_32BIT;

/// What both sides agreed on, which sets the sizes of headers. Before the peer's hello, nothing is agreed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Negotiated {
    caps: u32,
}

impl Negotiated {
    /// The capabilities both `ours` and `theirs` have.
    pub fn new(ours: u32, theirs: u32) -> Self {
        Negotiated { caps: ours & theirs }
    }

    /// Whether both sides have capability bit `bit`.
    pub fn has(&self, bit: u32) -> bool {
        bit < 32 && self.caps & (1 << bit) != 0
    }

    fn header_len(&self) -> usize {
        if self.has(cap::IDS_64BIT) {
            16
        } else {
            12
        }
    }
}

/// Which side sent a packet: it decides which data packets carry data (OUT data from the usb-guest, IN data from
/// the usb-host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The usb-host (ryll).
    Host,
    /// The usb-guest (QEMU).
    Guest,
}

/// device_connect: the device's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceConnect {
    /// One of [`speed`].
    pub speed: u8,
    /// bDeviceClass.
    pub class: u8,
    /// bDeviceSubClass.
    pub subclass: u8,
    /// bDeviceProtocol.
    pub protocol: u8,
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// bcdDevice (sent only with [`cap::CONNECT_DEVICE_VERSION`]; 0 otherwise).
    pub device_version_bcd: u16,
}

/// interface_info: the interfaces of the active configuration (at most 32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// `(number, class, subclass, protocol)` per interface.
    pub interfaces: Vec<[u8; 4]>,
}

/// ep_info: per endpoint slot (OUT 0-15, IN 16-31, see [`ep_index`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpInfo {
    /// One of [`ep_type`] per slot.
    pub kind: [u8; 32],
    /// bInterval per slot.
    pub interval: [u8; 32],
    /// The interface number per slot.
    pub interface: [u8; 32],
    /// wMaxPacketSize per slot (sent only with [`cap::EP_INFO_MAX_PACKET_SIZE`]).
    pub max_packet_size: [u16; 32],
    /// Bulk streams per slot (sent only with [`cap::BULK_STREAMS`]).
    pub max_streams: [u32; 32],
}

/// A hello's version, for logs.
pub fn version_text(version: &[u8]) -> String {
    String::from_utf8_lossy(version).into_owned()
}

/// The ep_info slot of endpoint address `ep`.
pub fn ep_index(ep: u8) -> usize {
    usize::from(((ep & 0x80) >> 3) | (ep & 0x0f))
}

/// A control transfer's setup and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// Endpoint address (0 or 0x80).
    pub endpoint: u8,
    /// bRequest.
    pub request: u8,
    /// bmRequestType (bit 7 set: IN).
    pub requesttype: u8,
    /// One of [`status`] (in replies).
    pub status: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength, or in a reply to an IN request the bytes returned.
    pub length: u16,
}

/// A bulk transfer's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bulk {
    /// Endpoint address (bit 7 set: IN).
    pub endpoint: u8,
    /// One of [`status`] (in replies).
    pub status: u8,
    /// The transfer length (requested for IN, carried for OUT).
    pub length: u32,
    /// USB 3 stream id (0 without streams).
    pub stream_id: u32,
}

/// An interrupt or iso transfer's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Small {
    /// Endpoint address.
    pub endpoint: u8,
    /// One of [`status`].
    pub status: u8,
    /// The transfer length.
    pub length: u16,
}

/// One usbredir packet's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The first packet of each side: its version string and capability words.
    Hello {
        /// The version's bytes, up to the first NUL (see [`version_text`]).
        version: Vec<u8>,
        /// Capability words (the first holds the [`cap`] bits).
        caps: Vec<u32>,
    },
    /// The host attaches its device.
    DeviceConnect(DeviceConnect),
    /// The host detaches it.
    DeviceDisconnect,
    /// The guest resets the device.
    Reset,
    /// The host describes the interfaces.
    InterfaceInfo(InterfaceInfo),
    /// The host describes the endpoints.
    EpInfo(Box<EpInfo>),
    /// The guest selects a configuration.
    SetConfiguration(u8),
    /// The guest asks for the configuration.
    GetConfiguration,
    /// The host's answer to the two above.
    ConfigurationStatus {
        /// One of [`status`].
        status: u8,
        /// The configuration value.
        configuration: u8,
    },
    /// The guest selects an alternate setting.
    SetAltSetting {
        /// Interface number.
        interface: u8,
        /// Alternate setting.
        alt: u8,
    },
    /// The guest asks for an interface's alternate setting.
    GetAltSetting {
        /// Interface number.
        interface: u8,
    },
    /// The host's answer to the two above.
    AltSettingStatus {
        /// One of [`status`].
        status: u8,
        /// Interface number.
        interface: u8,
        /// Alternate setting.
        alt: u8,
    },
    /// Any other fixed-size packet ryll does not act on (iso streams, interrupt receiving, bulk streams, bulk
    /// receiving): its type and type-specific header, kept so it can be answered or re-encoded.
    Other {
        /// The packet type.
        kind: u32,
        /// Its fixed-size header.
        header: Vec<u8>,
    },
    /// A packet of a type this module does not read (for example buffered bulk, which ryll does not offer): its
    /// framing is intact, so it can be logged and skipped.
    Unknown {
        /// The packet type.
        kind: u32,
        /// Its body.
        body: Vec<u8>,
    },
    /// The guest cancels the data packet with this packet's id.
    CancelDataPacket,
    /// The host refuses the device for the filter.
    FilterReject,
    /// A filter's rules (text, bounded).
    FilterFilter(Vec<u8>),
    /// The guest acknowledges a device_disconnect.
    DeviceDisconnectAck,
    /// A control transfer: setup from the guest (data for OUT), the result from the host (data for IN).
    Control(Control, Vec<u8>),
    /// A bulk transfer: from the guest (data for OUT), the result from the host (data for IN).
    Bulk(Bulk, Vec<u8>),
    /// An iso transfer.
    Iso(Small, Vec<u8>),
    /// An interrupt transfer.
    Interrupt(Small, Vec<u8>),
}

/// A packet: its id (which a reply repeats) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet id.
    pub id: u64,
    /// The content.
    pub message: Message,
}

/// The size of the fixed-size headers of the packets kept as [`Message::Other`].
fn other_header_len(kind: u32) -> Option<usize> {
    Some(match kind {
        kind::START_ISO_STREAM => 3,
        kind::STOP_ISO_STREAM | kind::START_INTERRUPT_RECEIVING | kind::STOP_INTERRUPT_RECEIVING => 1,
        kind::ISO_STREAM_STATUS | kind::INTERRUPT_RECEIVING_STATUS => 2,
        kind::ALLOC_BULK_STREAMS => 8,
        kind::FREE_BULK_STREAMS => 4,
        kind::BULK_STREAMS_STATUS => 9,
        kind::START_BULK_RECEIVING => 10,
        kind::STOP_BULK_RECEIVING => 5,
        kind::BULK_RECEIVING_STATUS => 6,
        _ => return None,
    })
}

/// Whether a data packet on `endpoint` sent by `sender` carries data: OUT transfers carry it from the guest, IN
/// transfers from the host.
fn carries_data(sender: Sender, endpoint_in: bool) -> bool {
    matches!((sender, endpoint_in), (Sender::Guest, false) | (Sender::Host, true))
}

/// The data of a data packet, checked against the length its header gives.
fn data_part(rest: &[u8], sender: Sender, endpoint_in: bool, length: u64, what: &'static str) -> Result<Vec<u8>> {
    if carries_data(sender, endpoint_in) {
        if u64::try_from(rest.len()).ok() != Some(length) {
            return Err(ProtocolError::invalid(what, format!("{} data bytes for a length of {length}", rest.len())));
        }
    } else if !rest.is_empty() {
        return Err(ProtocolError::invalid(what, format!("{} data bytes in the direction without data", rest.len())));
    }
    Ok(rest.to_vec())
}

/// Reads the body of a packet of type `kind` (everything after the packet header).
fn parse_body(kind: u32, body: &[u8], n: &Negotiated, sender: Sender) -> Result<Message> {
    let mut r = Reader::new(body, "usbredir packet");
    let message = match kind {
        kind::HELLO => {
            let version = r.bytes(VERSION_LEN)?;
            let end = version.iter().position(|&b| b == 0).unwrap_or(VERSION_LEN);
            let version = version.get(..end).unwrap_or_default().to_vec();
            let rest = r.rest();
            if rest.len() % 4 != 0 {
                return Err(ProtocolError::invalid("usbredir hello", "capabilities are not whole u32 words"));
            }
            let caps =
                rest.chunks_exact(4).take(MAX_CAP_WORDS).filter_map(|w| w.try_into().ok().map(u32::from_le_bytes));
            return Ok(Message::Hello { version, caps: caps.collect() });
        }
        kind::DEVICE_CONNECT => Message::DeviceConnect(DeviceConnect {
            speed: r.u8()?,
            class: r.u8()?,
            subclass: r.u8()?,
            protocol: r.u8()?,
            vendor_id: r.u16()?,
            product_id: r.u16()?,
            device_version_bcd: if n.has(cap::CONNECT_DEVICE_VERSION) { r.u16()? } else { 0 },
        }),
        kind::DEVICE_DISCONNECT => Message::DeviceDisconnect,
        kind::RESET => Message::Reset,
        kind::INTERFACE_INFO => {
            let count = r.u32()?;
            ProtocolError::check_max("usbredir interface count", u64::from(count), 32)?;
            let cols: [[u8; 32]; 4] = [r.array()?, r.array()?, r.array()?, r.array()?];
            let interfaces = (0..count as usize).map(|i| cols.map(|c| c.get(i).copied().unwrap_or_default()));
            Message::InterfaceInfo(InterfaceInfo { interfaces: interfaces.collect() })
        }
        kind::EP_INFO => {
            let mut ep = EpInfo { kind: r.array()?, interval: r.array()?, interface: r.array()?, ..EpInfo::default() };
            if n.has(cap::EP_INFO_MAX_PACKET_SIZE) {
                for v in &mut ep.max_packet_size {
                    *v = r.u16()?;
                }
            }
            if n.has(cap::BULK_STREAMS) {
                for v in &mut ep.max_streams {
                    *v = r.u32()?;
                }
            }
            Message::EpInfo(Box::new(ep))
        }
        kind::SET_CONFIGURATION => Message::SetConfiguration(r.u8()?),
        kind::GET_CONFIGURATION => Message::GetConfiguration,
        kind::CONFIGURATION_STATUS => Message::ConfigurationStatus { status: r.u8()?, configuration: r.u8()? },
        kind::SET_ALT_SETTING => Message::SetAltSetting { interface: r.u8()?, alt: r.u8()? },
        kind::GET_ALT_SETTING => Message::GetAltSetting { interface: r.u8()? },
        kind::ALT_SETTING_STATUS => Message::AltSettingStatus { status: r.u8()?, interface: r.u8()?, alt: r.u8()? },
        kind::CANCEL_DATA_PACKET => Message::CancelDataPacket,
        kind::FILTER_REJECT => Message::FilterReject,
        kind::FILTER_FILTER => return Ok(Message::FilterFilter(r.rest().to_vec())),
        kind::DEVICE_DISCONNECT_ACK => Message::DeviceDisconnectAck,
        kind::CONTROL_PACKET => {
            let c = Control {
                endpoint: r.u8()?,
                request: r.u8()?,
                requesttype: r.u8()?,
                status: r.u8()?,
                value: r.u16()?,
                index: r.u16()?,
                length: r.u16()?,
            };
            let data = data_part(r.rest(), sender, c.requesttype & 0x80 != 0, u64::from(c.length), "usbredir control")?;
            return Ok(Message::Control(c, data));
        }
        kind::BULK_PACKET => {
            let (endpoint, status, low, stream_id) = (r.u8()?, r.u8()?, r.u16()?, r.u32()?);
            let high = if n.has(cap::BULK_LENGTH_32BIT) { r.u16()? } else { 0 };
            let b = Bulk { endpoint, status, length: u32::from(high) << 16 | u32::from(low), stream_id };
            let data = data_part(r.rest(), sender, endpoint & 0x80 != 0, u64::from(b.length), "usbredir bulk")?;
            return Ok(Message::Bulk(b, data));
        }
        kind::ISO_PACKET | kind::INTERRUPT_PACKET => {
            let s = Small { endpoint: r.u8()?, status: r.u8()?, length: r.u16()? };
            let what = if kind == kind::ISO_PACKET { "usbredir iso" } else { "usbredir interrupt" };
            let data = data_part(r.rest(), sender, s.endpoint & 0x80 != 0, u64::from(s.length), what)?;
            return Ok(if kind == kind::ISO_PACKET { Message::Iso(s, data) } else { Message::Interrupt(s, data) });
        }
        other => match other_header_len(other) {
            Some(len) => Message::Other { kind: other, header: r.bytes(len)?.to_vec() },
            None => return Ok(Message::Unknown { kind: other, body: r.rest().to_vec() }),
        },
    };
    if r.remaining() != 0 {
        return Err(ProtocolError::invalid(
            "usbredir packet",
            format!("type {kind} has {} extra bytes", r.remaining()),
        ));
    }
    Ok(message)
}

/// The packet type of `message`.
fn kind_of(message: &Message) -> u32 {
    match message {
        Message::Hello { .. } => kind::HELLO,
        Message::DeviceConnect(_) => kind::DEVICE_CONNECT,
        Message::DeviceDisconnect => kind::DEVICE_DISCONNECT,
        Message::Reset => kind::RESET,
        Message::InterfaceInfo(_) => kind::INTERFACE_INFO,
        Message::EpInfo(_) => kind::EP_INFO,
        Message::SetConfiguration(_) => kind::SET_CONFIGURATION,
        Message::GetConfiguration => kind::GET_CONFIGURATION,
        Message::ConfigurationStatus { .. } => kind::CONFIGURATION_STATUS,
        Message::SetAltSetting { .. } => kind::SET_ALT_SETTING,
        Message::GetAltSetting { .. } => kind::GET_ALT_SETTING,
        Message::AltSettingStatus { .. } => kind::ALT_SETTING_STATUS,
        Message::Other { kind, .. } | Message::Unknown { kind, .. } => *kind,
        Message::CancelDataPacket => kind::CANCEL_DATA_PACKET,
        Message::FilterReject => kind::FILTER_REJECT,
        Message::FilterFilter(_) => kind::FILTER_FILTER,
        Message::DeviceDisconnectAck => kind::DEVICE_DISCONNECT_ACK,
        Message::Control(..) => kind::CONTROL_PACKET,
        Message::Bulk(..) => kind::BULK_PACKET,
        Message::Iso(..) => kind::ISO_PACKET,
        Message::Interrupt(..) => kind::INTERRUPT_PACKET,
    }
}

fn encode_body(message: &Message, n: &Negotiated, out: &mut Vec<u8>) {
    match message {
        Message::Hello { version, caps } => {
            let mut field = [0u8; VERSION_LEN];
            field.iter_mut().zip(version).for_each(|(f, &b)| *f = b);
            out.extend_from_slice(&field);
            caps.iter().take(MAX_CAP_WORDS).for_each(|&w| out.put_u32_le(w));
        }
        Message::DeviceConnect(d) => {
            out.extend_from_slice(&[d.speed, d.class, d.subclass, d.protocol]);
            out.put_u16_le(d.vendor_id);
            out.put_u16_le(d.product_id);
            if n.has(cap::CONNECT_DEVICE_VERSION) {
                out.put_u16_le(d.device_version_bcd);
            }
        }
        Message::InterfaceInfo(info) => {
            let count = info.interfaces.len().min(32);
            out.put_u32_le(count as u32);
            for col in 0..4 {
                let mut field = [0u8; 32];
                for (slot, iface) in field.iter_mut().zip(&info.interfaces) {
                    *slot = iface.get(col).copied().unwrap_or_default();
                }
                out.extend_from_slice(&field);
            }
        }
        Message::EpInfo(ep) => {
            out.extend_from_slice(&ep.kind);
            out.extend_from_slice(&ep.interval);
            out.extend_from_slice(&ep.interface);
            if n.has(cap::EP_INFO_MAX_PACKET_SIZE) {
                ep.max_packet_size.iter().for_each(|&v| out.put_u16_le(v));
            }
            if n.has(cap::BULK_STREAMS) {
                ep.max_streams.iter().for_each(|&v| out.put_u32_le(v));
            }
        }
        Message::SetConfiguration(c) => out.push(*c),
        Message::ConfigurationStatus { status, configuration } => out.extend_from_slice(&[*status, *configuration]),
        Message::SetAltSetting { interface, alt } => out.extend_from_slice(&[*interface, *alt]),
        Message::GetAltSetting { interface } => out.push(*interface),
        Message::AltSettingStatus { status, interface, alt } => out.extend_from_slice(&[*status, *interface, *alt]),
        Message::Other { header: bytes, .. } | Message::Unknown { body: bytes, .. } => out.extend_from_slice(bytes),
        Message::FilterFilter(rules) => out.extend_from_slice(rules),
        Message::Control(c, data) => {
            out.extend_from_slice(&[c.endpoint, c.request, c.requesttype, c.status]);
            out.put_u16_le(c.value);
            out.put_u16_le(c.index);
            out.put_u16_le(c.length);
            out.extend_from_slice(data);
        }
        Message::Bulk(b, data) => {
            out.extend_from_slice(&[b.endpoint, b.status]);
            out.put_u16_le(b.length as u16);
            out.put_u32_le(b.stream_id);
            if n.has(cap::BULK_LENGTH_32BIT) {
                out.put_u16_le((b.length >> 16) as u16);
            }
            out.extend_from_slice(data);
        }
        Message::Iso(s, data) | Message::Interrupt(s, data) => {
            out.extend_from_slice(&[s.endpoint, s.status]);
            out.put_u16_le(s.length);
            out.extend_from_slice(data);
        }
        Message::DeviceDisconnect
        | Message::Reset
        | Message::GetConfiguration
        | Message::CancelDataPacket
        | Message::FilterReject
        | Message::DeviceDisconnectAck => {}
    }
}

/// Writes `packet` with the header sizes `n` sets. A hello is always written with the 32-bit id header (nothing is
/// agreed before it).
pub fn encode(packet: &Packet, n: &Negotiated) -> Vec<u8> {
    let hello = matches!(packet.message, Message::Hello { .. });
    let n = if hello { Negotiated::default() } else { *n };
    let mut body = Vec::new();
    encode_body(&packet.message, &n, &mut body);
    let mut out = Vec::with_capacity(n.header_len() + body.len());
    out.put_u32_le(kind_of(&packet.message));
    out.put_u32_le(u32::try_from(body.len()).unwrap_or(u32::MAX));
    if n.has(cap::IDS_64BIT) {
        out.put_u64_le(packet.id);
    } else {
        out.put_u32_le(packet.id as u32);
    }
    out.extend_from_slice(&body);
    out
}

/// Reads one whole packet from `buf` (which must hold exactly one), sent by `sender`.
pub fn parse(buf: &[u8], n: &Negotiated, sender: Sender) -> Result<Packet> {
    let mut r = Reader::new(buf, "usbredir header");
    let kind = r.u32()?;
    let n = if kind == kind::HELLO { Negotiated::default() } else { *n };
    let length = r.u32()?;
    ProtocolError::check_max("usbredir packet length", u64::from(length), u64::from(MAX_PACKET_LEN))?;
    let id = if n.has(cap::IDS_64BIT) { r.u64()? } else { u64::from(r.u32()?) };
    let body = r.rest();
    if body.len() != length as usize {
        return Err(ProtocolError::invalid(
            "usbredir packet",
            format!("{} body bytes for a length of {length}", body.len()),
        ));
    }
    Ok(Packet { id, message: parse_body(kind, body, &n, sender)? })
}

/// Reassembles packets from the pieces of the usbredir byte stream. It holds at most one packet's bytes
/// ([`MAX_PACKET_LEN`] plus its header) beyond what [`next`](Self::next) has taken; an error leaves the stream
/// unusable (its framing is lost), so the channel should end.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
    start: usize,
}

impl Deframer {
    /// An empty stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a piece of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held and not yet taken as packets.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole packet sent by `sender`, if the stream holds one.
    pub fn next(&mut self, n: &Negotiated, sender: Sender) -> Result<Option<Packet>> {
        let avail = self.buf.get(self.start..).unwrap_or_default();
        let mut r = Reader::new(avail, "usbredir header");
        let (Ok(kind), Ok(length)) = (r.u32(), r.u32()) else { return Ok(None) };
        ProtocolError::check_max("usbredir packet length", u64::from(length), u64::from(MAX_PACKET_LEN))?;
        let header = if kind == kind::HELLO { 12 } else { n.header_len() };
        let total = header + length as usize;
        let Some(whole) = avail.get(..total) else { return Ok(None) };
        let packet = parse(whole, n, sender)?;
        self.start += total;
        if self.start > 64 * 1024 && self.start * 2 > self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        Ok(Some(packet))
    }
}

impl Default for EpInfo {
    fn default() -> Self {
        EpInfo {
            kind: [ep_type::INVALID; 32],
            interval: [0; 32],
            interface: [0; 32],
            max_packet_size: [0; 32],
            max_streams: [0; 32],
        }
    }
}

#[cfg(test)]
#[path = "usbredir_tests.rs"]
mod tests;

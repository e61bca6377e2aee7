//! Reading and writing usbredir packets: the header, each type's body under the negotiated sizes, and the
//! reassembly of the byte stream.

use super::*;
use crate::protocol::wire::{PutLe, Reader};
use crate::protocol::{ProtocolError, Result};

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

//! Messages every channel understands (spice.proto `channel BaseChannel`).

use super::constants::{msg, msgc, ChannelType, LinkError};
use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// Longest NOTIFY text ryll accepts.
pub const MAX_NOTIFY_LEN: u32 = 64 * 1024;

/// A message from the server that any channel may receive.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseMessage {
    /// Start acknowledging every `window` messages.
    SetAck {
        /// Generation to echo in ACK_SYNC.
        generation: u32,
        /// Messages per ACK.
        window: u32,
    },
    /// Latency probe; answer with PONG echoing `id` and `timestamp`.
    Ping {
        /// Ping id.
        id: u32,
        /// Server timestamp.
        timestamp: u64,
        /// Padding bytes that followed (not echoed).
        padding: usize,
    },
    /// Wait until other channels have received given serials.
    WaitForChannels(Vec<WaitForChannel>),
    /// The server is about to close the channel.
    Disconnecting {
        /// Server timestamp.
        timestamp: u64,
        /// Why.
        reason: LinkError,
    },
    /// A message for the user.
    Notify(Notify),
    /// Migration begins.
    Migrate {
        /// NEED_FLUSH = 1, NEED_DATA_TRANSFER = 2.
        flags: u32,
    },
    /// Migration data (opaque).
    MigrateData(usize),
    /// A sub-message list (full header only); ryll does not negotiate it.
    List,
}

/// One entry of WAIT_FOR_CHANNELS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitForChannel {
    /// Channel type.
    pub channel_type: ChannelType,
    /// Channel id.
    pub channel_id: u8,
    /// Serial to wait for.
    pub serial: u64,
}

/// NOTIFY severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// 0.
    Info,
    /// 1.
    Warn,
    /// 2.
    Error,
    /// Other values.
    Unknown(u32),
}

/// A NOTIFY message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// Server timestamp.
    pub timestamp: u64,
    /// Severity.
    pub severity: Severity,
    /// Visibility (0 low, 1 medium, 2 high).
    pub visibility: u32,
    /// Message code.
    pub what: u32,
    /// Message text, lossily decoded.
    pub message: String,
}

/// Parses a base message. Returns `Ok(None)` for a channel-specific type (≥ 101) or an unassigned one.
pub fn parse_base(msg_type: u16, body: &[u8]) -> Result<Option<BaseMessage>> {
    let mut r = Reader::new(body, "base message");
    let parsed = match msg_type {
        msg::SET_ACK => BaseMessage::SetAck { generation: r.u32()?, window: r.u32()? },
        msg::PING => {
            let id = r.u32()?;
            let timestamp = r.u64()?;
            BaseMessage::Ping { id, timestamp, padding: r.remaining() }
        }
        msg::WAIT_FOR_CHANNELS => {
            let count = r.u8()?;
            let mut waits = Vec::with_capacity(count.into());
            for _ in 0..count {
                waits.push(WaitForChannel {
                    channel_type: ChannelType::from(r.u8()?),
                    channel_id: r.u8()?,
                    serial: r.u64()?,
                });
            }
            BaseMessage::WaitForChannels(waits)
        }
        msg::DISCONNECTING => BaseMessage::Disconnecting { timestamp: r.u64()?, reason: LinkError::from(r.u32()?) },
        msg::NOTIFY => {
            let timestamp = r.u64()?;
            let severity = match r.u32()? {
                0 => Severity::Info,
                1 => Severity::Warn,
                2 => Severity::Error,
                n => Severity::Unknown(n),
            };
            let visibility = r.u32()?;
            let what = r.u32()?;
            let len = r.u32()?;
            ProtocolError::check_max("notify length", len.into(), MAX_NOTIFY_LEN.into())?;
            let text = r.bytes(len as usize)?;
            let text = text.strip_suffix(&[0]).unwrap_or(text);
            let message = String::from_utf8_lossy(text).into_owned();
            BaseMessage::Notify(Notify { timestamp, severity, visibility, what, message })
        }
        msg::MIGRATE => BaseMessage::Migrate { flags: r.u32()? },
        msg::MIGRATE_DATA => BaseMessage::MigrateData(body.len()),
        msg::LIST => BaseMessage::List,
        _ => return Ok(None),
    };
    Ok(Some(parsed))
}

/// Body of PONG: echoes a PING's id and timestamp, without its padding.
pub fn encode_pong(id: u32, timestamp: u64) -> (u16, Vec<u8>) {
    let mut body = Vec::with_capacity(12);
    body.put_u32_le(id);
    body.put_u64_le(timestamp);
    (msgc::PONG, body)
}

/// Body of ACK_SYNC.
pub fn encode_ack_sync(generation: u32) -> (u16, Vec<u8>) {
    (msgc::ACK_SYNC, generation.to_le_bytes().to_vec())
}

/// Body of ACK (empty).
pub fn encode_ack() -> (u16, Vec<u8>) {
    (msgc::ACK, Vec::new())
}

/// Server-side encoders, for test servers and fuzz seeds.
pub mod server {
    use super::*;

    /// PING with `padding` zero bytes.
    pub fn ping(id: u32, timestamp: u64, padding: usize) -> Vec<u8> {
        let mut body = Vec::with_capacity(12 + padding);
        body.put_u32_le(id);
        body.put_u64_le(timestamp);
        body.resize(12 + padding, 0);
        body
    }

    /// SET_ACK.
    pub fn set_ack(generation: u32, window: u32) -> Vec<u8> {
        let mut body = Vec::with_capacity(8);
        body.put_u32_le(generation);
        body.put_u32_le(window);
        body
    }

    /// NOTIFY with the server's trailing NUL.
    pub fn notify(severity: u32, what: u32, message: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.put_u64_le(0);
        body.put_u32_le(severity);
        body.put_u32_le(2);
        body.put_u32_le(what);
        body.put_u32_le(message.len() as u32);
        body.extend_from_slice(message.as_bytes());
        body.push(0);
        body
    }

    /// DISCONNECTING.
    pub fn disconnecting(reason: LinkError) -> Vec<u8> {
        let mut body = Vec::new();
        body.put_u64_le(0);
        body.put_u32_le(reason.to_u32());
        body
    }
}

/// Parses PONG (server side).
pub fn parse_pong(body: &[u8]) -> Result<(u32, u64)> {
    let mut r = Reader::new(body, "pong");
    Ok((r.u32()?, r.u64()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_with_padding_and_pong() {
        let body = server::ping(7, 0x1122334455667788, 256_000);
        let parsed = parse_base(msg::PING, &body).unwrap().unwrap();
        assert_eq!(parsed, BaseMessage::Ping { id: 7, timestamp: 0x1122334455667788, padding: 256_000 });
        let (ty, pong) = encode_pong(7, 0x1122334455667788);
        assert_eq!(ty, 3);
        assert_eq!(pong.len(), 12);
        assert_eq!(parse_pong(&pong).unwrap(), (7, 0x1122334455667788));
        assert!(parse_base(msg::PING, &body[..11]).is_err());
    }

    #[test]
    fn set_ack_and_wait_for_channels() {
        let parsed = parse_base(msg::SET_ACK, &server::set_ack(1, 20)).unwrap();
        assert_eq!(parsed, Some(BaseMessage::SetAck { generation: 1, window: 20 }));
        let body = [1u8, 2, 0, 5, 0, 0, 0, 0, 0, 0, 0];
        let parsed = parse_base(msg::WAIT_FOR_CHANNELS, &body).unwrap().unwrap();
        assert_eq!(
            parsed,
            BaseMessage::WaitForChannels(vec![WaitForChannel {
                channel_type: ChannelType::Display,
                channel_id: 0,
                serial: 5
            }])
        );
        // A count that claims more entries than the body holds.
        assert!(parse_base(msg::WAIT_FOR_CHANNELS, &[200u8, 1, 2]).is_err());
    }

    #[test]
    fn notify_strips_nul_and_bounds_length() {
        let parsed = parse_base(msg::NOTIFY, &server::notify(1, 4, "hello")).unwrap().unwrap();
        match parsed {
            BaseMessage::Notify(n) => {
                assert_eq!(n.message, "hello");
                assert_eq!(n.severity, Severity::Warn);
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut body = server::notify(0, 0, "x");
        body[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(parse_base(msg::NOTIFY, &body), Err(ProtocolError::TooLarge { .. })));
    }

    #[test]
    fn disconnecting_and_channel_specific() {
        let parsed = parse_base(msg::DISCONNECTING, &server::disconnecting(LinkError::Error)).unwrap();
        assert_eq!(parsed, Some(BaseMessage::Disconnecting { timestamp: 0, reason: LinkError::Error }));
        assert_eq!(parse_base(101, &[]).unwrap(), None);
    }
}

//! Main-channel messages (spice.proto `channel MainChannel`).

use super::constants::{msg, msgc, ChannelType};
use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// Most channels one CHANNELS_LIST may announce (the server has at most 256 ids per type).
pub const MAX_CHANNELS: u32 = 4096;
/// Longest VM name accepted in MAIN_NAME.
pub const MAX_NAME_LEN: u32 = 4096;

/// SPICE_MSG_MAIN_INIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MainInit {
    /// Session id: the `connection_id` for every other channel's link.
    pub session_id: u32,
    /// Number of display channels.
    pub display_channels_hint: u32,
    /// Supported mouse modes (SERVER = 1, CLIENT = 2).
    pub supported_mouse_modes: u32,
    /// Current mouse mode.
    pub current_mouse_mode: u32,
    /// Whether the guest agent is connected.
    pub agent_connected: u32,
    /// Agent tokens.
    pub agent_tokens: u32,
    /// Server multimedia time.
    pub multi_media_time: u32,
    /// QXL RAM size.
    pub ram_hint: u32,
}

impl MainInit {
    /// Serialises the body (for test servers).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        for v in [
            self.session_id,
            self.display_channels_hint,
            self.supported_mouse_modes,
            self.current_mouse_mode,
            self.agent_connected,
            self.agent_tokens,
            self.multi_media_time,
            self.ram_hint,
        ] {
            out.put_u32_le(v);
        }
        out
    }
}

/// A channel announced by CHANNELS_LIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId {
    /// Channel type.
    pub channel_type: ChannelType,
    /// Channel id.
    pub id: u8,
}

impl std::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({})", self.channel_type.to_u8(), self.id, self.channel_type)
    }
}

/// A main-channel message from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MainMessage {
    /// INIT.
    Init(MainInit),
    /// CHANNELS_LIST: the initial list, or a one-entry list for a hot-plugged channel.
    ChannelsList(Vec<ChannelId>),
    /// MOUSE_MODE.
    MouseMode {
        /// Supported modes.
        supported: u16,
        /// Current mode.
        current: u16,
    },
    /// MULTI_MEDIA_TIME.
    MultiMediaTime(u32),
    /// AGENT_CONNECTED.
    AgentConnected,
    /// AGENT_CONNECTED_TOKENS.
    AgentConnectedTokens(u32),
    /// AGENT_DISCONNECTED with an error code.
    AgentDisconnected(u32),
    /// AGENT_DATA (its length; agent messages are not interpreted yet).
    AgentData(usize),
    /// AGENT_TOKEN.
    AgentToken(u32),
    /// NAME: the VM's name.
    Name(String),
    /// UUID: the VM's UUID.
    Uuid([u8; 16]),
    /// A migration message ryll does not act on.
    Migration(u16),
}

/// Parses a main-channel message. Returns `Ok(None)` for types ryll does not know.
pub fn parse_main(msg_type: u16, body: &[u8]) -> Result<Option<MainMessage>> {
    let mut r = Reader::new(body, "main message");
    let parsed = match msg_type {
        msg::MAIN_INIT => MainMessage::Init(MainInit {
            session_id: r.u32()?,
            display_channels_hint: r.u32()?,
            supported_mouse_modes: r.u32()?,
            current_mouse_mode: r.u32()?,
            agent_connected: r.u32()?,
            agent_tokens: r.u32()?,
            multi_media_time: r.u32()?,
            ram_hint: r.u32()?,
        }),
        msg::MAIN_CHANNELS_LIST => {
            let count = r.u32()?;
            ProtocolError::check_max("channel count", count.into(), MAX_CHANNELS.into())?;
            if r.remaining() < count as usize * 2 {
                return Err(ProtocolError::Truncated {
                    what: "channels list",
                    need: 4 + count as usize * 2,
                    have: body.len(),
                });
            }
            let mut list = Vec::with_capacity(count as usize);
            for _ in 0..count {
                list.push(ChannelId { channel_type: ChannelType::from(r.u8()?), id: r.u8()? });
            }
            MainMessage::ChannelsList(list)
        }
        msg::MAIN_MOUSE_MODE => MainMessage::MouseMode { supported: r.u16()?, current: r.u16()? },
        msg::MAIN_MULTI_MEDIA_TIME => MainMessage::MultiMediaTime(r.u32()?),
        msg::MAIN_AGENT_CONNECTED => MainMessage::AgentConnected,
        msg::MAIN_AGENT_CONNECTED_TOKENS => MainMessage::AgentConnectedTokens(r.u32()?),
        msg::MAIN_AGENT_DISCONNECTED => MainMessage::AgentDisconnected(r.u32()?),
        msg::MAIN_AGENT_DATA => MainMessage::AgentData(body.len()),
        msg::MAIN_AGENT_TOKEN => MainMessage::AgentToken(r.u32()?),
        msg::MAIN_NAME => {
            let len = r.u32()?;
            ProtocolError::check_max("name length", len.into(), MAX_NAME_LEN.into())?;
            let raw = r.bytes(len as usize)?;
            let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
            MainMessage::Name(String::from_utf8_lossy(raw).into_owned())
        }
        msg::MAIN_UUID => MainMessage::Uuid(r.array()?),
        msg::MAIN_MIGRATE_BEGIN
        | msg::MAIN_MIGRATE_CANCEL
        | msg::MAIN_MIGRATE_SWITCH_HOST
        | msg::MAIN_MIGRATE_END
        | msg::MAIN_MIGRATE_BEGIN_SEAMLESS => MainMessage::Migration(msg_type),
        _ => return Ok(None),
    };
    Ok(Some(parsed))
}

/// ATTACH_CHANNELS (empty body).
pub fn encode_attach_channels() -> (u16, Vec<u8>) {
    (msgc::MAIN_ATTACH_CHANNELS, Vec::new())
}

/// MOUSE_MODE_REQUEST {u16 mode}.
pub fn encode_mouse_mode_request(mode: u16) -> (u16, Vec<u8>) {
    (msgc::MAIN_MOUSE_MODE_REQUEST, mode.to_le_bytes().to_vec())
}

/// Serialises a CHANNELS_LIST body (for test servers).
pub fn encode_channels_list(list: &[ChannelId]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + list.len() * 2);
    out.put_u32_le(list.len() as u32);
    for c in list {
        out.push(c.channel_type.to_u8());
        out.push(c.id);
    }
    out
}

/// Serialises a NAME body (for test servers).
pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + name.len());
    out.put_u32_le(name.len() as u32 + 1);
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_round_trip() {
        let init = MainInit {
            session_id: 0xdeadbeef,
            display_channels_hint: 1,
            supported_mouse_modes: 3,
            current_mouse_mode: 1,
            agent_connected: 0,
            agent_tokens: 10,
            multi_media_time: 5,
            ram_hint: 0,
        };
        assert_eq!(parse_main(msg::MAIN_INIT, &init.encode()).unwrap(), Some(MainMessage::Init(init)));
        assert!(parse_main(msg::MAIN_INIT, &init.encode()[..31]).is_err());
    }

    #[test]
    fn channels_list_checks_count() {
        let list = vec![
            ChannelId { channel_type: ChannelType::Inputs, id: 0 },
            ChannelId { channel_type: ChannelType::Webdav, id: 0 },
        ];
        let body = encode_channels_list(&list);
        assert_eq!(body, vec![2, 0, 0, 0, 3, 0, 11, 0]);
        assert_eq!(parse_main(msg::MAIN_CHANNELS_LIST, &body).unwrap(), Some(MainMessage::ChannelsList(list)));
        let lying = [200u8, 0, 0, 0, 3, 0];
        assert!(matches!(parse_main(msg::MAIN_CHANNELS_LIST, &lying), Err(ProtocolError::Truncated { .. })));
        let absurd = [0xffu8, 0xff, 0xff, 0xff];
        assert!(matches!(parse_main(msg::MAIN_CHANNELS_LIST, &absurd), Err(ProtocolError::TooLarge { .. })));
    }

    #[test]
    fn name_uuid_mouse() {
        assert_eq!(parse_main(msg::MAIN_NAME, &encode_name("vm-1")).unwrap(), Some(MainMessage::Name("vm-1".into())));
        assert!(parse_main(msg::MAIN_NAME, &[10, 0, 0, 0, b'a']).is_err());
        assert_eq!(parse_main(msg::MAIN_UUID, &[1; 16]).unwrap(), Some(MainMessage::Uuid([1; 16])));
        assert_eq!(
            parse_main(msg::MAIN_MOUSE_MODE, &[3, 0, 1, 0]).unwrap(),
            Some(MainMessage::MouseMode { supported: 3, current: 1 })
        );
        assert_eq!(parse_main(999, &[]).unwrap(), None);
    }
}

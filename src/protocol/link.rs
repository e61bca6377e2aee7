//! The link handshake: link header, SpiceLinkMess, SpiceLinkReply, auth-mechanism selection and link result.

use super::caps::Caps;
use super::constants::{
    ChannelType, LinkError, COMMON_CAP_AUTH_SASL, COMMON_CAP_AUTH_SPICE, COMMON_CAP_PROTOCOL_AUTH_SELECTION, MAGIC,
    MAX_LINK_SIZE, PUBKEY_SIZE, VERSION_MAJOR, VERSION_MINOR,
};
use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// Size of [`LinkHeader`] on the wire.
pub const LINK_HEADER_SIZE: usize = 16;
/// Size of the fixed part of SpiceLinkMess.
pub const LINK_MESS_SIZE: u32 = 18;
/// Size of the fixed part of SpiceLinkReply.
pub const LINK_REPLY_SIZE: u32 = 178;

/// The 16-byte header in front of a link message or link reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkHeader {
    /// Protocol major version.
    pub major: u32,
    /// Protocol minor version.
    pub minor: u32,
    /// Bytes that follow the header.
    pub size: u32,
}

impl LinkHeader {
    /// Parses a header, checking the magic and bounding `size` by [`MAX_LINK_SIZE`].
    pub fn parse(buf: &[u8]) -> Result<Self> {
        let mut r = Reader::new(buf, "link header");
        let magic: [u8; 4] = r.array()?;
        if magic != MAGIC {
            return Err(ProtocolError::BadMagic(magic));
        }
        let header = LinkHeader { major: r.u32()?, minor: r.u32()?, size: r.u32()? };
        ProtocolError::check_max("link message size", header.size.into(), MAX_LINK_SIZE.into())?;
        Ok(header)
    }

    /// Serialises the header.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.put_u32_le(self.major);
        out.put_u32_le(self.minor);
        out.put_u32_le(self.size);
    }
}

/// What a client sends to link one channel (SpiceLinkMess plus capabilities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkMess {
    /// 0 for a new session's main channel, otherwise the session id from MAIN_INIT.
    pub connection_id: u32,
    /// Channel type.
    pub channel_type: ChannelType,
    /// Channel id.
    pub channel_id: u8,
    /// Common capabilities.
    pub common_caps: Caps,
    /// Channel-specific capabilities.
    pub channel_caps: Caps,
}

impl LinkMess {
    /// Serialises the link header and the link message.
    pub fn encode(&self) -> Vec<u8> {
        let body_len = LINK_MESS_SIZE + 4 * (self.common_caps.len_words() + self.channel_caps.len_words());
        let mut out = Vec::with_capacity(LINK_HEADER_SIZE + body_len as usize);
        LinkHeader { major: VERSION_MAJOR, minor: VERSION_MINOR, size: body_len }.write(&mut out);
        out.put_u32_le(self.connection_id);
        out.push(self.channel_type.to_u8());
        out.push(self.channel_id);
        out.put_u32_le(self.common_caps.len_words());
        out.put_u32_le(self.channel_caps.len_words());
        out.put_u32_le(LINK_MESS_SIZE);
        self.common_caps.write(&mut out);
        self.channel_caps.write(&mut out);
        out
    }

    /// Parses the bytes after the link header (what a server does; used by test servers and fuzzing).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "link message");
        let connection_id = r.u32()?;
        let channel_type = ChannelType::from(r.u8()?);
        let channel_id = r.u8()?;
        let n_common = r.u32()?;
        let n_channel = r.u32()?;
        let offset = r.u32()?;
        let (common_caps, channel_caps) = read_caps(body, offset, LINK_MESS_SIZE, n_common, n_channel)?;
        Ok(LinkMess { connection_id, channel_type, channel_id, common_caps, channel_caps })
    }
}

/// Reads two capability sets at `offset` within `body`, checking the offset and that both sets fit.
fn read_caps(body: &[u8], offset: u32, min_offset: u32, n_common: u32, n_channel: u32) -> Result<(Caps, Caps)> {
    if offset < min_offset {
        return Err(ProtocolError::invalid("caps offset", format!("{offset} is inside the fixed part")));
    }
    let tail = body.get(offset as usize..).ok_or(ProtocolError::Truncated {
        what: "capabilities",
        need: offset as usize,
        have: body.len(),
    })?;
    let mut r = Reader::new(tail, "capabilities");
    let common = Caps::read(&mut r, n_common)?;
    let channel = Caps::read(&mut r, n_channel)?;
    Ok((common, channel))
}

/// What the server answers to a link message (SpiceLinkReply plus capabilities).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkReply {
    /// `Ok`, or why the server refuses the link before authentication (e.g. `NeedSecured`).
    pub error: LinkError,
    /// DER SubjectPublicKeyInfo of the server's per-link RSA-1024 key.
    pub pub_key: [u8; PUBKEY_SIZE],
    /// Server common capabilities.
    pub common_caps: Caps,
    /// Server channel capabilities.
    pub channel_caps: Caps,
}

impl LinkReply {
    /// Parses the bytes after the link header.
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "link reply");
        let error = LinkError::from(r.u32()?);
        let pub_key: [u8; PUBKEY_SIZE] = r.array()?;
        let n_common = r.u32()?;
        let n_channel = r.u32()?;
        let offset = r.u32()?;
        if error != LinkError::Ok {
            // On error the server sends a zeroed reply without capabilities.
            return Ok(LinkReply { error, pub_key, common_caps: Caps::new(), channel_caps: Caps::new() });
        }
        let (common_caps, channel_caps) = read_caps(body, offset, LINK_REPLY_SIZE, n_common, n_channel)?;
        Ok(LinkReply { error, pub_key, common_caps, channel_caps })
    }

    /// Serialises the link header and the reply (what a server sends; used by test servers).
    pub fn encode(&self) -> Vec<u8> {
        let body_len = LINK_REPLY_SIZE + 4 * (self.common_caps.len_words() + self.channel_caps.len_words());
        let mut out = Vec::with_capacity(LINK_HEADER_SIZE + body_len as usize);
        LinkHeader { major: VERSION_MAJOR, minor: VERSION_MINOR, size: body_len }.write(&mut out);
        out.put_u32_le(self.error.to_u32());
        out.extend_from_slice(&self.pub_key);
        out.put_u32_le(self.common_caps.len_words());
        out.put_u32_le(self.channel_caps.len_words());
        out.put_u32_le(LINK_REPLY_SIZE);
        self.common_caps.write(&mut out);
        self.channel_caps.write(&mut out);
        out
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    /// The RSA-encrypted ticket (password).
    Spice,
    /// SASL (not supported by ryll).
    Sasl,
}

impl AuthMechanism {
    /// The 4-byte auth-mechanism selection message (the capability number).
    pub fn encode(self) -> [u8; 4] {
        match self {
            AuthMechanism::Spice => COMMON_CAP_AUTH_SPICE.to_le_bytes(),
            AuthMechanism::Sasl => COMMON_CAP_AUTH_SASL.to_le_bytes(),
        }
    }

    /// Parses the selection message (server side).
    pub fn parse(buf: &[u8]) -> Result<Self> {
        match Reader::new(buf, "auth mechanism").u32()? {
            COMMON_CAP_AUTH_SPICE => Ok(AuthMechanism::Spice),
            COMMON_CAP_AUTH_SASL => Ok(AuthMechanism::Sasl),
            n => Err(ProtocolError::invalid("auth mechanism", format!("unknown mechanism {n}"))),
        }
    }
}

/// What the client must send after the link reply, given the server's common capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthPlan {
    /// Whether to send the 4-byte selection message first.
    pub send_selection: bool,
    /// The mechanism to use.
    pub mechanism: AuthMechanism,
}

/// Chooses ticket authentication, or explains why it is impossible (a server that only offers SASL).
pub fn select_auth(server_common: &Caps) -> Result<AuthPlan> {
    let selection = server_common.has(COMMON_CAP_PROTOCOL_AUTH_SELECTION);
    if selection && !server_common.has(COMMON_CAP_AUTH_SPICE) && server_common.has(COMMON_CAP_AUTH_SASL) {
        return Err(ProtocolError::invalid(
            "authentication",
            "the server only offers SASL authentication, which ryll does not support",
        ));
    }
    Ok(AuthPlan { send_selection: selection, mechanism: AuthMechanism::Spice })
}

/// Parses the 4-byte link result sent after the ticket.
pub fn parse_link_result(buf: &[u8]) -> Result<LinkError> {
    Ok(LinkError::from(Reader::new(buf, "link result").u32()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::COMMON_CAP_MINI_HEADER;

    fn sample_mess() -> LinkMess {
        LinkMess {
            connection_id: 0x1234,
            channel_type: ChannelType::Webdav,
            channel_id: 0,
            common_caps: Caps::with(&[0, 1, 3]),
            channel_caps: Caps::with(&[0]),
        }
    }

    #[test]
    fn link_mess_encodes_to_the_known_layout() {
        let bytes = sample_mess().encode();
        let expected: Vec<u8> = [
            &b"REDQ"[..],
            &[2, 0, 0, 0, 2, 0, 0, 0, 26, 0, 0, 0],
            &[0x34, 0x12, 0, 0, 11, 0, 1, 0, 0, 0, 1, 0, 0, 0, 18, 0, 0, 0],
            &[0x0b, 0, 0, 0, 1, 0, 0, 0],
        ]
        .concat();
        assert_eq!(bytes, expected);
        let header = LinkHeader::parse(&bytes[..16]).unwrap();
        assert_eq!(header.size, 26);
        assert_eq!(LinkMess::parse(&bytes[16..]).unwrap(), sample_mess());
    }

    #[test]
    fn link_header_rejects_bad_magic_and_oversize() {
        let mut bytes = sample_mess().encode();
        bytes[0] = b'X';
        assert!(matches!(LinkHeader::parse(&bytes), Err(ProtocolError::BadMagic(_))));
        let mut big = Vec::new();
        LinkHeader { major: 2, minor: 2, size: 4097 }.write(&mut big);
        assert!(matches!(LinkHeader::parse(&big), Err(ProtocolError::TooLarge { .. })));
        assert!(matches!(LinkHeader::parse(&big[..10]), Err(ProtocolError::Truncated { .. })));
    }

    #[test]
    fn link_reply_round_trips_and_checks_caps() {
        let reply = LinkReply {
            error: LinkError::Ok,
            pub_key: [7; PUBKEY_SIZE],
            common_caps: Caps::with(&[0, 1, 3]),
            channel_caps: Caps::with(&[0, 3]),
        };
        let bytes = reply.encode();
        assert_eq!(bytes.len(), 16 + 178 + 8);
        assert_eq!(LinkReply::parse(&bytes[16..]).unwrap(), reply);
        // Caps that do not fit.
        assert!(LinkReply::parse(&bytes[16..bytes.len() - 1]).is_err());
        // Offset pointing inside the fixed part.
        let mut bad = bytes[16..].to_vec();
        bad[174] = 10;
        assert!(matches!(LinkReply::parse(&bad), Err(ProtocolError::Invalid { .. })));
        // Offset far beyond the end.
        bad[174..178].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(LinkReply::parse(&bad).is_err());
        // Absurd caps count.
        let mut bad = bytes[16..].to_vec();
        bad[166..170].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(LinkReply::parse(&bad), Err(ProtocolError::TooLarge { .. })));
    }

    #[test]
    fn error_reply_needs_no_caps() {
        let mut body = vec![0u8; 178];
        body[0] = 5;
        let reply = LinkReply::parse(&body).unwrap();
        assert_eq!(reply.error, LinkError::NeedSecured);
    }

    #[test]
    fn auth_selection_follows_server_caps() {
        let plan = select_auth(&Caps::with(&[0, 1, 3])).unwrap();
        assert_eq!(plan, AuthPlan { send_selection: true, mechanism: AuthMechanism::Spice });
        assert!(!select_auth(&Caps::with(&[COMMON_CAP_MINI_HEADER])).unwrap().send_selection);
        assert!(select_auth(&Caps::with(&[0, 2, 3])).is_err());
        assert_eq!(AuthMechanism::Spice.encode(), [1, 0, 0, 0]);
        assert_eq!(AuthMechanism::parse(&[2, 0, 0, 0]).unwrap(), AuthMechanism::Sasl);
        assert!(AuthMechanism::parse(&[9, 0, 0, 0]).is_err());
    }

    #[test]
    fn link_result_parses() {
        assert_eq!(parse_link_result(&[7, 0, 0, 0]).unwrap(), LinkError::PermissionDenied);
        assert!(parse_link_result(&[7, 0]).is_err());
    }
}

//! Data message headers: the 6-byte mini header (always negotiated in practice) and the 18-byte full header.

use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// Size of [`MiniHeader`] on the wire.
pub const MINI_HEADER_SIZE: usize = 6;
/// Size of [`FullHeader`] on the wire.
pub const FULL_HEADER_SIZE: usize = 18;

/// `SpiceMiniDataHeader`: message type and body size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiniHeader {
    /// Message type.
    pub msg_type: u16,
    /// Body size in bytes.
    pub size: u32,
}

impl MiniHeader {
    /// Parses a header and rejects a body larger than `max_size`.
    pub fn parse(buf: &[u8], max_size: u32) -> Result<Self> {
        let mut r = Reader::new(buf, "mini header");
        let header = MiniHeader { msg_type: r.u16()?, size: r.u32()? };
        ProtocolError::check_max("message size", header.size.into(), max_size.into())?;
        Ok(header)
    }

    /// Serialises the header.
    pub fn encode(&self) -> [u8; MINI_HEADER_SIZE] {
        let mut out = [0u8; MINI_HEADER_SIZE];
        out[..2].copy_from_slice(&self.msg_type.to_le_bytes());
        out[2..].copy_from_slice(&self.size.to_le_bytes());
        out
    }
}

/// `SpiceDataHeader`: the header used when the mini header was not negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FullHeader {
    /// Per-direction serial, starting at 1.
    pub serial: u64,
    /// Message type.
    pub msg_type: u16,
    /// Body size in bytes.
    pub size: u32,
    /// Offset of a sub-message list within the body, 0 for none.
    pub sub_list: u32,
}

impl FullHeader {
    /// Parses a header and rejects a body larger than `max_size` or a sub-list offset outside the body.
    pub fn parse(buf: &[u8], max_size: u32) -> Result<Self> {
        let mut r = Reader::new(buf, "data header");
        let header = FullHeader { serial: r.u64()?, msg_type: r.u16()?, size: r.u32()?, sub_list: r.u32()? };
        ProtocolError::check_max("message size", header.size.into(), max_size.into())?;
        if header.sub_list != 0 && header.sub_list >= header.size {
            return Err(ProtocolError::invalid("data header", "sub-message list offset outside the body"));
        }
        Ok(header)
    }

    /// Serialises the header.
    pub fn encode(&self) -> [u8; FULL_HEADER_SIZE] {
        let mut out = Vec::with_capacity(FULL_HEADER_SIZE);
        out.put_u64_le(self.serial);
        out.put_u16_le(self.msg_type);
        out.put_u32_le(self.size);
        out.put_u32_le(self.sub_list);
        let mut arr = [0u8; FULL_HEADER_SIZE];
        arr.copy_from_slice(&out);
        arr
    }
}

/// Builds a complete mini-header message: header followed by `body`.
pub fn encode_mini(msg_type: u16, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MINI_HEADER_SIZE + body.len());
    out.extend_from_slice(&MiniHeader { msg_type, size: body.len() as u32 }.encode());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mini_header_round_trip_and_bounds() {
        let h = MiniHeader { msg_type: 101, size: 65568 };
        let bytes = h.encode();
        assert_eq!(bytes, [101, 0, 0x20, 0, 1, 0]);
        assert_eq!(MiniHeader::parse(&bytes, 1 << 20).unwrap(), h);
        assert!(matches!(MiniHeader::parse(&bytes, 1000), Err(ProtocolError::TooLarge { .. })));
        assert!(matches!(MiniHeader::parse(&bytes[..5], 1 << 20), Err(ProtocolError::Truncated { .. })));
    }

    #[test]
    fn full_header_round_trip_and_sub_list_check() {
        let h = FullHeader { serial: 9, msg_type: 4, size: 20, sub_list: 0 };
        assert_eq!(FullHeader::parse(&h.encode(), 100).unwrap(), h);
        let bad = FullHeader { sub_list: 20, ..h };
        assert!(FullHeader::parse(&bad.encode(), 100).is_err());
        assert!(FullHeader::parse(&h.encode(), 10).is_err());
    }

    #[test]
    fn encode_mini_prefixes_the_header() {
        assert_eq!(encode_mini(3, &[1, 2]), vec![3, 0, 2, 0, 0, 0, 1, 2]);
    }
}

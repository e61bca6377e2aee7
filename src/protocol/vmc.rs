//! SpiceVMC and port-channel messages (usbredir 9, port 10, webdav 11).

use super::constants::{msg, msgc};
use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// Largest decompressed size ryll accepts in COMPRESSED_DATA (the server never sends more than 65 568 bytes).
pub const MAX_DECOMPRESSED_SIZE: u32 = 1 << 20;
/// Longest port name accepted in PORT_INIT.
pub const MAX_PORT_NAME: u32 = 4096;

/// Compression type of COMPRESSED_DATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompressionType {
    /// 0: stored.
    None,
    /// 1: an LZ4 raw block.
    Lz4,
}

/// A COMPRESSED_DATA body, before decompression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompressedData<'a> {
    /// How `data` is compressed.
    pub kind: CompressionType,
    /// Size after decompression (equal to `data.len()` for `None`).
    pub uncompressed_size: u32,
    /// The payload.
    pub data: &'a [u8],
}

impl<'a> CompressedData<'a> {
    /// Parses the body; bounds the announced size by [`MAX_DECOMPRESSED_SIZE`].
    pub fn parse(body: &'a [u8]) -> Result<Self> {
        let mut r = Reader::new(body, "compressed data");
        match r.u8()? {
            0 => {
                let data = r.rest();
                Ok(CompressedData { kind: CompressionType::None, uncompressed_size: data.len() as u32, data })
            }
            1 => {
                let size = r.u32()?;
                ProtocolError::check_max("decompressed size", size.into(), MAX_DECOMPRESSED_SIZE.into())?;
                Ok(CompressedData { kind: CompressionType::Lz4, uncompressed_size: size, data: r.rest() })
            }
            n => Err(ProtocolError::invalid("compressed data", format!("unknown compression type {n}"))),
        }
    }

    /// Serialises the body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(5 + self.data.len());
        match self.kind {
            CompressionType::None => out.push(0),
            CompressionType::Lz4 => {
                out.push(1);
                out.put_u32_le(self.uncompressed_size);
            }
        }
        out.extend_from_slice(self.data);
        out
    }
}

/// SPICE_MSG_PORT_INIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInit {
    /// The port name, without its NUL (e.g. `org.spice-space.webdav.0`).
    pub name: String,
    /// Whether the guest has the port open.
    pub opened: bool,
}

impl PortInit {
    /// Parses the body, following the name pointer (an offset from the start of the body).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "port init");
        let name_size = r.u32()?;
        let name_offset = r.u32()?;
        let opened = r.u8()? != 0;
        ProtocolError::check_max("port name size", name_size.into(), MAX_PORT_NAME.into())?;
        if name_offset < 9 && name_size > 0 {
            return Err(ProtocolError::invalid("port init", "name pointer points into the fixed part"));
        }
        let start = name_offset as usize;
        let end = start.saturating_add(name_size as usize);
        let raw =
            body.get(start..end).ok_or(ProtocolError::Truncated { what: "port name", need: end, have: body.len() })?;
        let raw = raw.split(|&b| b == 0).next().unwrap_or(raw);
        let name = std::str::from_utf8(raw).map_err(|_| ProtocolError::invalid("port name", "not UTF-8"))?.to_owned();
        Ok(PortInit { name, opened })
    }

    /// Serialises the body the way the server does (name right after the fixed part).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10 + self.name.len());
        out.put_u32_le(self.name.len() as u32 + 1);
        out.put_u32_le(9);
        out.push(u8::from(self.opened));
        out.extend_from_slice(self.name.as_bytes());
        out.push(0);
        out
    }
}

/// A port event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortEvent {
    /// 0: the guest opened the port.
    Opened,
    /// 1: the guest closed the port.
    Closed,
    /// 2: break.
    Break,
    /// Anything else.
    Unknown(u8),
}

impl PortEvent {
    /// Parses a PORT_EVENT body (exactly one byte).
    pub fn parse(body: &[u8]) -> Result<Self> {
        if body.len() != 1 {
            return Err(ProtocolError::invalid("port event", format!("{} bytes, expected 1", body.len())));
        }
        let mut r = Reader::new(body, "port event");
        Ok(match r.u8()? {
            0 => PortEvent::Opened,
            1 => PortEvent::Closed,
            2 => PortEvent::Break,
            n => PortEvent::Unknown(n),
        })
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            PortEvent::Opened => 0,
            PortEvent::Closed => 1,
            PortEvent::Break => 2,
            PortEvent::Unknown(n) => n,
        }
    }
}

/// A message on a VMC or port channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmcMessage<'a> {
    /// DATA: the payload is the whole body.
    Data(&'a [u8]),
    /// COMPRESSED_DATA.
    Compressed(CompressedData<'a>),
    /// PORT_INIT.
    PortInit(PortInit),
    /// PORT_EVENT.
    PortEvent(PortEvent),
}

/// Parses a VMC/port server message. Returns `Ok(None)` for types ryll does not know.
pub fn parse_vmc(msg_type: u16, body: &[u8]) -> Result<Option<VmcMessage<'_>>> {
    Ok(Some(match msg_type {
        msg::SPICEVMC_DATA => VmcMessage::Data(body),
        msg::SPICEVMC_COMPRESSED_DATA => VmcMessage::Compressed(CompressedData::parse(body)?),
        msg::PORT_INIT => VmcMessage::PortInit(PortInit::parse(body)?),
        msg::PORT_EVENT => VmcMessage::PortEvent(PortEvent::parse(body)?),
        _ => return Ok(None),
    }))
}

/// Client message type of DATA.
pub const MSGC_DATA: u16 = msgc::SPICEVMC_DATA;
/// Client message type of COMPRESSED_DATA.
pub const MSGC_COMPRESSED_DATA: u16 = msgc::SPICEVMC_COMPRESSED_DATA;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_init_follows_the_pointer() {
        let init = PortInit { name: "org.spice-space.webdav.0".into(), opened: true };
        let body = init.encode();
        assert_eq!(&body[..9], &[25, 0, 0, 0, 9, 0, 0, 0, 1]);
        assert_eq!(PortInit::parse(&body).unwrap(), init);
        // The name placed elsewhere, with padding in between.
        let mut moved = vec![3, 0, 0, 0, 12, 0, 0, 0, 0, 0xaa, 0xbb, 0xcc];
        moved.extend_from_slice(b"ab\0");
        assert_eq!(PortInit::parse(&moved).unwrap(), PortInit { name: "ab".into(), opened: false });
    }

    #[test]
    fn port_init_rejects_bad_pointers() {
        let mut body = PortInit { name: "x".into(), opened: true }.encode();
        body[4] = 200;
        assert!(PortInit::parse(&body).is_err());
        body[4] = 2;
        assert!(PortInit::parse(&body).is_err());
        let mut body = PortInit { name: "x".into(), opened: true }.encode();
        body[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(PortInit::parse(&body), Err(ProtocolError::TooLarge { .. })));
        let mut body = PortInit { name: "x".into(), opened: true }.encode();
        body[0..4].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(PortInit::parse(&body), Err(ProtocolError::Truncated { .. })));
        assert!(PortInit::parse(&[1, 2, 3]).is_err());
    }

    #[test]
    fn port_events() {
        assert_eq!(PortEvent::parse(&[0]).unwrap(), PortEvent::Opened);
        assert_eq!(PortEvent::parse(&[2]).unwrap(), PortEvent::Break);
        assert!(PortEvent::parse(&[]).is_err());
        assert!(PortEvent::parse(&[0, 0]).is_err());
    }

    #[test]
    fn compressed_data_layouts() {
        let c = CompressedData::parse(&[1, 0, 4, 0, 0, 9, 9]).unwrap();
        assert_eq!(c.kind, CompressionType::Lz4);
        assert_eq!(c.uncompressed_size, 1024);
        assert_eq!(c.data, &[9, 9]);
        assert_eq!(c.encode(), vec![1, 0, 4, 0, 0, 9, 9]);
        let n = CompressedData::parse(&[0, 5, 6]).unwrap();
        assert_eq!((n.kind, n.uncompressed_size, n.data), (CompressionType::None, 2, &[5u8, 6][..]));
        assert!(CompressedData::parse(&[1, 0, 0, 0, 0x10]).is_err());
        assert!(CompressedData::parse(&[7]).is_err());
        assert!(CompressedData::parse(&[1, 0]).is_err());
    }

    #[test]
    fn vmc_dispatch() {
        assert_eq!(parse_vmc(101, &[1, 2]).unwrap(), Some(VmcMessage::Data(&[1, 2])));
        assert_eq!(parse_vmc(202, &[1]).unwrap(), Some(VmcMessage::PortEvent(PortEvent::Closed)));
        assert_eq!(parse_vmc(150, &[]).unwrap(), None);
    }
}

//! The SpiceVMC transport: DATA and LZ4 COMPRESSED_DATA in both directions, and the port messages.
//!
//! Shared by every VMC channel (WebDAV now, usbredir later) so that none of them repeats this logic.

use super::io::Outgoing;
use crate::protocol::caps::Caps;
use crate::protocol::constants::SPICEVMC_CAP_DATA_COMPRESS_LZ4;
use crate::protocol::vmc::{
    parse_vmc, CompressedData, CompressionType, PortEvent, PortInit, VmcMessage, MSGC_COMPRESSED_DATA, MSGC_DATA,
};
use crate::protocol::ProtocolError;
use bytes::Bytes;

/// Payloads at or below this size are never compressed (the server uses the same threshold).
pub const COMPRESS_THRESHOLD: usize = 1000;

/// A decoded message from a VMC or port channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmcIncoming {
    /// Device data (already decompressed).
    Data(Bytes),
    /// PORT_INIT.
    PortInit(PortInit),
    /// PORT_EVENT.
    PortEvent(PortEvent),
}

/// Why an incoming VMC message was rejected.
#[derive(Debug, thiserror::Error)]
pub enum VmcError {
    /// Malformed message.
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// LZ4 data that does not decompress to the announced size.
    #[error("LZ4 data does not decompress to the announced {expected} bytes: {reason}")]
    BadCompressedData {
        /// Announced size.
        expected: u32,
        /// What went wrong.
        reason: String,
    },
}

/// Decodes a channel-specific message. `body` must be the message body; `Ok(None)` for unknown types.
pub fn decode_incoming(msg_type: u16, body: &Bytes) -> Result<Option<VmcIncoming>, VmcError> {
    Ok(match parse_vmc(msg_type, body)? {
        None => None,
        Some(VmcMessage::Data(_)) => Some(VmcIncoming::Data(body.clone())),
        Some(VmcMessage::Compressed(c)) => Some(VmcIncoming::Data(decompress(&c)?)),
        Some(VmcMessage::PortInit(p)) => Some(VmcIncoming::PortInit(p)),
        Some(VmcMessage::PortEvent(e)) => Some(VmcIncoming::PortEvent(e)),
    })
}

fn decompress(c: &CompressedData<'_>) -> Result<Bytes, VmcError> {
    match c.kind {
        CompressionType::None => Ok(Bytes::copy_from_slice(c.data)),
        CompressionType::Lz4 => {
            let expected = c.uncompressed_size;
            // `decompress` allocates at most `expected` bytes, which the parser bounded.
            let out = lz4_flex::block::decompress(c.data, expected as usize)
                .map_err(|e| VmcError::BadCompressedData { expected, reason: e.to_string() })?;
            if out.len() != expected as usize {
                return Err(VmcError::BadCompressedData { expected, reason: format!("got {} bytes", out.len()) });
            }
            Ok(Bytes::from(out))
        }
    }
}

/// Channel capabilities a VMC channel advertises; `lz4` asks the server to compress device data.
pub fn vmc_caps(lz4: bool) -> Caps {
    if lz4 {
        Caps::with(&[SPICEVMC_CAP_DATA_COMPRESS_LZ4])
    } else {
        Caps::new()
    }
}

/// Builds the message that carries `payload` to the device: LZ4 COMPRESSED_DATA when `compress` is set (the server
/// advertised the capability and the channel chose to use it), the payload is over the threshold and compression
/// makes it smaller; DATA otherwise.
pub fn encode_outgoing(payload: Bytes, compress: bool) -> Outgoing {
    if compress && payload.len() > COMPRESS_THRESHOLD {
        let packed = lz4_flex::block::compress(&payload);
        if packed.len() + 5 < payload.len() {
            let body =
                CompressedData { kind: CompressionType::Lz4, uncompressed_size: payload.len() as u32, data: &packed }
                    .encode();
            return Outgoing { msg_type: MSGC_COMPRESSED_DATA, body: Bytes::from(body) };
        }
    }
    Outgoing { msg_type: MSGC_DATA, body: payload }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::msg;

    #[test]
    fn lz4_round_trip_both_ways() {
        let payload = Bytes::from(vec![b'a'; 50_000]);
        let out = encode_outgoing(payload.clone(), true);
        assert_eq!(out.msg_type, MSGC_COMPRESSED_DATA);
        assert!(out.body.len() < 1000);
        // The same body layout is used server to client.
        let back = decode_incoming(msg::SPICEVMC_COMPRESSED_DATA, &out.body).unwrap();
        assert_eq!(back, Some(VmcIncoming::Data(payload)));
    }

    #[test]
    fn small_or_incompressible_payloads_go_plain() {
        let small = encode_outgoing(Bytes::from(vec![0u8; 500]), true);
        assert_eq!(small.msg_type, MSGC_DATA);
        let mut noise = vec![0u8; 5000];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut noise);
        let noisy = encode_outgoing(Bytes::from(noise.clone()), true);
        assert_eq!(noisy.msg_type, MSGC_DATA);
        assert_eq!(&noisy.body[..], &noise[..]);
        assert_eq!(encode_outgoing(Bytes::from(vec![0u8; 5000]), false).msg_type, MSGC_DATA);
    }

    #[test]
    fn bad_sizes_are_errors_not_crashes() {
        let packed = lz4_flex::block::compress(&[7u8; 4000]);
        let mut lie_small = vec![1u8];
        lie_small.extend_from_slice(&100u32.to_le_bytes());
        lie_small.extend_from_slice(&packed);
        let r = decode_incoming(msg::SPICEVMC_COMPRESSED_DATA, &Bytes::from(lie_small));
        assert!(matches!(r, Err(VmcError::BadCompressedData { .. })));
        let mut lie_big = vec![1u8];
        lie_big.extend_from_slice(&8000u32.to_le_bytes());
        lie_big.extend_from_slice(&packed);
        let r = decode_incoming(msg::SPICEVMC_COMPRESSED_DATA, &Bytes::from(lie_big));
        assert!(matches!(r, Err(VmcError::BadCompressedData { .. })));
        let mut absurd = vec![1u8];
        absurd.extend_from_slice(&u32::MAX.to_le_bytes());
        let r = decode_incoming(msg::SPICEVMC_COMPRESSED_DATA, &Bytes::from(absurd));
        assert!(matches!(r, Err(VmcError::Protocol(_))));
        let garbage = Bytes::from(vec![1u8, 0, 1, 0, 0, 0xff, 0xff, 0xff]);
        assert!(decode_incoming(msg::SPICEVMC_COMPRESSED_DATA, &garbage).is_err());
    }

    #[test]
    fn port_messages_decode() {
        let init = PortInit { name: "org.spice-space.webdav.0".into(), opened: false };
        let got = decode_incoming(msg::PORT_INIT, &Bytes::from(init.encode())).unwrap();
        assert_eq!(got, Some(VmcIncoming::PortInit(init)));
        let got = decode_incoming(msg::PORT_EVENT, &Bytes::from_static(&[0])).unwrap();
        assert_eq!(got, Some(VmcIncoming::PortEvent(PortEvent::Opened)));
    }
}

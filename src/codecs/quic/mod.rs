//! QUIC: SPICE's lossless image codec for photo-like content (SFALIC-style adaptive Golomb–Rice coding).
//!
//! A QUIC stream is a sequence of little-endian 32-bit words read most significant bit first. It starts with five
//! words: the magic `"QUIC"` (0x43495551), the version (0), the image type (GRAY 1, RGB16 2, RGB24 3, RGB32 4,
//! RGBA 5), the width and the height. Rows follow, top row first. Within a row the channels of a pixel are coded
//! one after the other (R, G, B; 5-bit samples for RGB16, 8-bit otherwise); RGBA codes the row's R, G, B first and
//! then the row's alpha channel as a separate group with its own statistics. See [`rows`] for the prediction and
//! the run mode and [`model`] for the adaptive codes.
//!
//! Written from the format's description for ryll; decoded images are checked against QEMU's own screendumps in
//! `tests/display_fixtures.rs`.

mod bits;
mod model;
mod rows;
#[cfg(test)]
mod tests;

use super::{DecodeError, Limits, Pixels};
use bits::BitReader;
use rows::Group;

/// "QUIC" as a little-endian word.
pub const MAGIC: u32 = 0x4349_5551;
/// The only version there is.
pub const VERSION: u32 = 0;

/// The image types of a QUIC stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicType {
    /// One 8-bit channel (decoded as grey).
    Gray,
    /// 5 bits each of R, G, B (decoded to 8 bits by repeating the top bits).
    Rgb16,
    /// 8 bits each of R, G, B.
    Rgb24,
    /// 8 bits each of R, G, B (the source had a fourth, unused byte).
    Rgb32,
    /// 8 bits each of R, G, B and alpha.
    Rgba,
}

impl QuicType {
    fn from_word(word: u32) -> Result<Self, DecodeError> {
        Ok(match word {
            1 => QuicType::Gray,
            2 => QuicType::Rgb16,
            3 => QuicType::Rgb24,
            4 => QuicType::Rgb32,
            5 => QuicType::Rgba,
            t => return Err(DecodeError::invalid("QUIC header", format!("unknown image type {t}"))),
        })
    }

    /// Samples coded per pixel.
    fn channels(self) -> u64 {
        match self {
            QuicType::Gray => 1,
            QuicType::Rgb16 | QuicType::Rgb24 | QuicType::Rgb32 => 3,
            QuicType::Rgba => 4,
        }
    }
}

/// The five header words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicHeader {
    /// Image type.
    pub image_type: QuicType,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

fn read_header(bits: &mut BitReader) -> Result<QuicHeader, DecodeError> {
    let truncated = |_| DecodeError::Truncated { what: "QUIC header" };
    let magic = bits.read(32).map_err(truncated)?;
    if magic != MAGIC {
        return Err(DecodeError::invalid("QUIC header", format!("bad magic {magic:#010x}")));
    }
    let version = bits.read(32).map_err(truncated)?;
    if version != VERSION {
        return Err(DecodeError::invalid("QUIC header", format!("unsupported version {version:#x}")));
    }
    let image_type = QuicType::from_word(bits.read(32).map_err(truncated)?)?;
    let width = bits.read(32).map_err(truncated)?;
    let height = bits.read(32).map_err(truncated)?;
    Ok(QuicHeader { image_type, width, height })
}

/// Reads the header of a QUIC stream.
pub fn header(data: &[u8]) -> Result<QuicHeader, DecodeError> {
    read_header(&mut BitReader::new(data))
}

/// Decodes a QUIC stream (the bytes after the image's `data_size` on the wire). RGB types come out opaque; RGBA
/// sets `has_alpha`; GRAY comes out as opaque grey.
pub fn decode(data: &[u8], limits: &Limits) -> Result<Pixels, DecodeError> {
    let mut bits = BitReader::new(data);
    let h = read_header(&mut bits)?;
    let n = limits.check(h.width, h.height)?;
    // Every code is at least one bit: the first row codes every sample (it has no runs), and every later row codes
    // at least its first pixel. Refusing streams too short for that keeps garbage from allocating big images.
    let channels = h.image_type.channels();
    let needed = (u64::from(h.width) + u64::from(h.height) - 1) * channels;
    if bits.remaining() < needed {
        return Err(DecodeError::Truncated { what: "QUIC data" });
    }
    let width = h.width as usize;
    let mut out = Vec::with_capacity(n.min(1 << 20));
    let pack = |r: u8, g: u8, b: u8, a: u8| u32::from_be_bytes([a, r, g, b]);
    match h.image_type {
        QuicType::Gray => {
            let mut grey = Group::<1>::new(width, 8);
            for _ in 0..h.height {
                grey.decode_row(&mut bits)?;
                out.extend(grey.row(0).iter().map(|&v| pack(v, v, v, 0xff)));
            }
        }
        QuicType::Rgb16 => {
            let mut rgb = Group::<3>::new(width, 5);
            let widen = |v: u8| (v << 3) | (v >> 2);
            for _ in 0..h.height {
                rgb.decode_row(&mut bits)?;
                let (r, g, b) = (rgb.row(0), rgb.row(1), rgb.row(2));
                out.extend(r.iter().zip(g).zip(b).map(|((&r, &g), &b)| pack(widen(r), widen(g), widen(b), 0xff)));
            }
        }
        QuicType::Rgb24 | QuicType::Rgb32 => {
            let mut rgb = Group::<3>::new(width, 8);
            for _ in 0..h.height {
                rgb.decode_row(&mut bits)?;
                let (r, g, b) = (rgb.row(0), rgb.row(1), rgb.row(2));
                out.extend(r.iter().zip(g).zip(b).map(|((&r, &g), &b)| pack(r, g, b, 0xff)));
            }
        }
        QuicType::Rgba => {
            let mut rgb = Group::<3>::new(width, 8);
            let mut alpha = Group::<1>::new(width, 8);
            for _ in 0..h.height {
                rgb.decode_row(&mut bits)?;
                alpha.decode_row(&mut bits)?;
                let (r, g, b, a) = (rgb.row(0), rgb.row(1), rgb.row(2), alpha.row(0));
                out.extend(r.iter().zip(g).zip(b).zip(a).map(|(((&r, &g), &b), &a)| pack(r, g, b, a)));
            }
        }
    }
    if out.len() != n {
        return Err(model::internal());
    }
    Ok(Pixels { width: h.width, height: h.height, has_alpha: h.image_type == QuicType::Rgba, data: out })
}

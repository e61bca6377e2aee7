//! Cursor shapes: every cursor type decoded to straight-alpha `0xAARRGGBB` pixels, top row first.
//!
//! The masked types follow the usual pointer rules: an AND bit of 0 paints the colour; an AND bit of 1 leaves the
//! screen alone when the colour is black and inverts it otherwise. A window cannot invert what lies beneath a
//! sprite, so inverting pixels are drawn black and the transparent pixels next to them white, which keeps an
//! inverting shape (a text I-beam) visible on any background.

use super::{DecodeError, Pixels};
use crate::protocol::cursor::{CursorKind, MAX_CURSOR_SIDE};

/// What one pixel of a masked shape does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Px {
    Clear,
    Paint(u32),
    Invert,
}

const OPAQUE: u32 = 0xff00_0000;

/// Decodes a cursor shape of `kind` and `width × height` from its bytes.
pub fn decode_cursor(kind: CursorKind, width: u16, height: u16, data: &[u8]) -> Result<Pixels, DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::invalid("cursor size", format!("{width}×{height} is empty")));
    }
    if width > MAX_CURSOR_SIDE || height > MAX_CURSOR_SIDE {
        return Err(DecodeError::TooLarge {
            what: "cursor side",
            value: width.max(height).into(),
            max: MAX_CURSOR_SIDE.into(),
        });
    }
    let (w, h) = (usize::from(width), usize::from(height));
    let n = w * h;
    let mask_stride = w.div_ceil(8);
    let take = |data: &[u8], at: usize, len: usize| -> Result<Vec<u8>, DecodeError> {
        data.get(at..at + len).map(<[u8]>::to_vec).ok_or(DecodeError::Truncated { what: "cursor shape" })
    };
    let bit =
        |mask: &[u8], x: usize, y: usize| mask.get(y * mask_stride + x / 8).is_some_and(|b| b & (0x80 >> (x % 8)) != 0);
    let masked = |colors: Vec<u32>, and_at: usize| -> Result<Vec<Px>, DecodeError> {
        let and = take(data, and_at, mask_stride * h)?;
        Ok((0..n)
            .map(|i| {
                let c = colors.get(i).copied().unwrap_or(0) & 0x00ff_ffff;
                match (bit(&and, i % w, i / w), c) {
                    (false, c) => Px::Paint(OPAQUE | c),
                    (true, 0) => Px::Clear,
                    (true, _) => Px::Invert,
                }
            })
            .collect())
    };
    let palette = |at: usize, entries: usize| -> Result<Vec<u32>, DecodeError> {
        Ok(take(data, at, entries * 4)?.chunks_exact(4).map(le).collect())
    };
    let pixels = match kind {
        CursorKind::Alpha => {
            let raw = take(data, 0, n * 4)?;
            let data = raw.chunks_exact(4).map(le).collect();
            return Ok(Pixels { width: width.into(), height: height.into(), has_alpha: true, data });
        }
        CursorKind::Mono => {
            let and = take(data, 0, mask_stride * h)?;
            let xor = take(data, mask_stride * h, mask_stride * h)?;
            (0..n)
                .map(|i| match (bit(&and, i % w, i / w), bit(&xor, i % w, i / w)) {
                    (false, false) => Px::Paint(OPAQUE),
                    (false, true) => Px::Paint(OPAQUE | 0xff_ffff),
                    (true, false) => Px::Clear,
                    (true, true) => Px::Invert,
                })
                .collect()
        }
        CursorKind::Color4 => {
            let stride = w.div_ceil(2);
            let idx = take(data, 0, stride * h)?;
            let pal = palette(stride * h, 16)?;
            let colors = (0..n)
                .map(|i| {
                    let byte = idx.get((i / w) * stride + (i % w) / 2).copied().unwrap_or(0);
                    let nibble = if (i % w) % 2 == 0 { byte >> 4 } else { byte & 0xf };
                    pal.get(usize::from(nibble)).copied().unwrap_or(0)
                })
                .collect();
            masked(colors, stride * h + 64)?
        }
        CursorKind::Color8 => {
            let idx = take(data, 0, n)?;
            let pal = palette(n, 256)?;
            let colors = idx.iter().map(|&i| pal.get(usize::from(i)).copied().unwrap_or(0)).collect();
            masked(colors, n + 1024)?
        }
        CursorKind::Color16 => {
            let raw = take(data, 0, n * 2)?;
            let colors = raw
                .chunks_exact(2)
                .map(|c| {
                    let v = le(c);
                    let five = |s: u32| ((v >> s) & 0x1f) * 255 / 31;
                    (five(10) << 16) | (five(5) << 8) | five(0)
                })
                .collect();
            masked(colors, n * 2)?
        }
        CursorKind::Color24 => {
            let raw = take(data, 0, n * 3)?;
            let colors = raw.chunks_exact(3).map(le).collect();
            masked(colors, n * 3)?
        }
        CursorKind::Color32 => {
            let raw = take(data, 0, n * 4)?;
            let colors = raw.chunks_exact(4).map(le).collect();
            masked(colors, n * 4)?
        }
    };
    Ok(Pixels { width: width.into(), height: height.into(), has_alpha: true, data: outline(&pixels, w, h) })
}

/// A little-endian value of up to 4 bytes.
fn le(bytes: &[u8]) -> u32 {
    bytes.iter().rev().fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// Straight-alpha pixels of a masked shape: inverting pixels black, clear pixels beside them white.
fn outline(px: &[Px], w: usize, h: usize) -> Vec<u32> {
    let inverts = |x: usize, y: usize| px.get(y * w + x) == Some(&Px::Invert);
    (0..w * h)
        .map(|i| match px.get(i).copied().unwrap_or(Px::Clear) {
            Px::Paint(c) => c,
            Px::Invert => OPAQUE,
            Px::Clear => {
                let (x, y) = (i % w, i / w);
                let near = (x > 0 && inverts(x - 1, y))
                    || (x + 1 < w && inverts(x + 1, y))
                    || (y > 0 && inverts(x, y - 1))
                    || (y + 1 < h && inverts(x, y + 1));
                if near {
                    OPAQUE | 0xff_ffff
                } else {
                    0
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_cursors_keep_their_argb_bytes() {
        let data = [1, 2, 3, 0x80, 4, 5, 6, 0xff];
        let p = decode_cursor(CursorKind::Alpha, 2, 1, &data).unwrap();
        assert_eq!(p.data, vec![0x8003_0201, 0xff06_0504]);
        assert!(decode_cursor(CursorKind::Alpha, 2, 2, &data).is_err());
    }

    #[test]
    fn mono_follows_and_xor_rules_and_outlines_inverting_pixels() {
        // 3×1: pixel 0 black, pixel 1 white, pixel 2 inverts; a 4th-row-free clear neighbour test below.
        let p = decode_cursor(CursorKind::Mono, 3, 1, &[0b0010_0000, 0b0110_0000]).unwrap();
        assert_eq!(p.data, vec![0xff00_0000, 0xffff_ffff, 0xff00_0000]);
        // 3×1: clear, invert, clear → white outline either side.
        let p = decode_cursor(CursorKind::Mono, 3, 1, &[0b1110_0000, 0b0100_0000]).unwrap();
        assert_eq!(p.data, vec![0xffff_ffff, 0xff00_0000, 0xffff_ffff]);
        // all clear.
        let p = decode_cursor(CursorKind::Mono, 2, 1, &[0xc0, 0]).unwrap();
        assert_eq!(p.data, vec![0, 0]);
    }

    #[test]
    fn colour_types_read_pixels_palettes_and_the_and_mask() {
        let and_clear_second = [0b0100_0000];
        let mut c32 = vec![0x10, 0x20, 0x30, 0, 0, 0, 0, 0];
        c32.extend(and_clear_second);
        assert_eq!(decode_cursor(CursorKind::Color32, 2, 1, &c32).unwrap().data, vec![0xff30_2010, 0]);
        let mut c24 = vec![0x10, 0x20, 0x30, 0xff, 0xff, 0xff];
        c24.extend([0b0100_0000]);
        assert_eq!(decode_cursor(CursorKind::Color24, 2, 1, &c24).unwrap().data, vec![0xff30_2010, 0xff00_0000]);
        let mut c16 = vec![0x00, 0x7c, 0x1f, 0x00];
        c16.extend([0]);
        assert_eq!(decode_cursor(CursorKind::Color16, 2, 1, &c16).unwrap().data, vec![0xffff_0000, 0xff00_00ff]);
        let mut c8 = vec![1, 0];
        let mut pal = vec![0u8; 1024];
        pal[4..8].copy_from_slice(&0x00ab_cdefu32.to_le_bytes());
        c8.extend(pal);
        c8.extend([0]);
        assert_eq!(decode_cursor(CursorKind::Color8, 2, 1, &c8).unwrap().data, vec![0xffab_cdef, 0xff00_0000]);
        let mut c4 = vec![0x21];
        let mut pal = vec![0u8; 64];
        pal[4..8].copy_from_slice(&0x0011_2233u32.to_le_bytes());
        pal[8..12].copy_from_slice(&0x0044_5566u32.to_le_bytes());
        c4.extend(pal);
        c4.extend([0]);
        assert_eq!(decode_cursor(CursorKind::Color4, 2, 1, &c4).unwrap().data, vec![0xff44_5566, 0xff11_2233]);
    }

    #[test]
    fn empty_huge_and_short_shapes_are_refused() {
        assert!(decode_cursor(CursorKind::Alpha, 0, 4, &[]).is_err());
        assert!(decode_cursor(CursorKind::Alpha, 600, 4, &[]).is_err());
        for kind in [CursorKind::Mono, CursorKind::Color4, CursorKind::Color8, CursorKind::Color16, CursorKind::Color24]
        {
            assert!(decode_cursor(kind, 16, 16, &[0; 20]).is_err(), "{kind:?}");
        }
    }
}

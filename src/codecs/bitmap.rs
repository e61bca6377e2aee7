//! Uncompressed SPICE BITMAP images (image type 0): the pixel bytes sent inline after the bitmap header.
//!
//! Layout: `height` rows of `stride` bytes each; only the first `ceil(width × bits / 8)` bytes of a row hold
//! pixels, the rest is padding. When the bitmap's TOP_DOWN flag is clear the first row in the data is the
//! **bottom** row of the image. Pixel formats (SpiceBitmapFmt):
//!
//! | format | value | pixel |
//! | --- | --- | --- |
//! | 1BIT_LE / 1BIT_BE | 1 / 2 | 1 bit, index into a 2-entry palette; LE: bit 0 is the leftmost pixel, BE: bit 7 |
//! | 4BIT_LE / 4BIT_BE | 3 / 4 | 4 bits, palette index; LE: low nibble first, BE: high nibble first |
//! | 8BIT | 5 | 1 byte, palette index |
//! | 16BIT | 6 | little-endian u16, x555 (red in bits 14–10) |
//! | 24BIT | 7 | bytes B, G, R |
//! | 32BIT | 8 | bytes B, G, R, X (X ignored) |
//! | RGBA | 9 | bytes B, G, R, A |
//! | 8BIT_A | 10 | 1 byte of alpha (a mask; colour black) |
//!
//! Palette entries are `0x00RRGGBB`. A palette index beyond the palette is an error, except for the 4-bit
//! formats, which wrap the index modulo the palette size as the reference decoder does.

use super::reader::{palette_entry, rgb, rgb555};
use super::{DecodeError, Limits, Pixels};

/// SpiceBitmapFmt: how the pixels of a BITMAP image are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitmapFormat {
    /// 1 bit per pixel, palette, leftmost pixel in bit 0.
    OneBitLe,
    /// 1 bit per pixel, palette, leftmost pixel in bit 7.
    OneBitBe,
    /// 4 bits per pixel, palette, leftmost pixel in the low nibble.
    FourBitLe,
    /// 4 bits per pixel, palette, leftmost pixel in the high nibble.
    FourBitBe,
    /// 8 bits per pixel, palette.
    EightBit,
    /// 16 bits per pixel, little-endian x555.
    Rgb16,
    /// 24 bits per pixel, B, G, R.
    Rgb24,
    /// 32 bits per pixel, B, G, R, unused.
    Rgb32,
    /// 32 bits per pixel, B, G, R, A.
    Rgba,
    /// 8 bits of alpha per pixel.
    EightBitA,
}

impl BitmapFormat {
    /// The format for a SpiceBitmapFmt value, or an error for INVALID (0) and unknown values.
    pub fn from_u8(v: u8) -> Result<Self, DecodeError> {
        Ok(match v {
            1 => BitmapFormat::OneBitLe,
            2 => BitmapFormat::OneBitBe,
            3 => BitmapFormat::FourBitLe,
            4 => BitmapFormat::FourBitBe,
            5 => BitmapFormat::EightBit,
            6 => BitmapFormat::Rgb16,
            7 => BitmapFormat::Rgb24,
            8 => BitmapFormat::Rgb32,
            9 => BitmapFormat::Rgba,
            10 => BitmapFormat::EightBitA,
            _ => return Err(DecodeError::invalid("bitmap format", format!("unknown format {v}"))),
        })
    }

    /// Bits per pixel.
    pub fn bits_per_pixel(self) -> u32 {
        match self {
            BitmapFormat::OneBitLe | BitmapFormat::OneBitBe => 1,
            BitmapFormat::FourBitLe | BitmapFormat::FourBitBe => 4,
            BitmapFormat::EightBit | BitmapFormat::EightBitA => 8,
            BitmapFormat::Rgb16 => 16,
            BitmapFormat::Rgb24 => 24,
            BitmapFormat::Rgb32 | BitmapFormat::Rgba => 32,
        }
    }

    /// Whether pixels are palette indexes.
    pub fn uses_palette(self) -> bool {
        matches!(
            self,
            BitmapFormat::OneBitLe
                | BitmapFormat::OneBitBe
                | BitmapFormat::FourBitLe
                | BitmapFormat::FourBitBe
                | BitmapFormat::EightBit
        )
    }

    /// Whether the decoded alpha is meaningful.
    pub fn has_alpha(self) -> bool {
        matches!(self, BitmapFormat::Rgba | BitmapFormat::EightBitA)
    }
}

/// A BITMAP image as described by its header, with its pixel bytes.
#[derive(Debug, Clone, Copy)]
pub struct Bitmap<'a> {
    /// Pixel format.
    pub format: BitmapFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from the start of one row to the start of the next.
    pub stride: u32,
    /// The TOP_DOWN flag: the first row in `data` is the top row (otherwise the bottom row).
    pub top_down: bool,
    /// The pixel bytes (at least `stride × (height − 1)` plus one row).
    pub data: &'a [u8],
    /// Palette entries (`0x00RRGGBB`), needed by the palette formats.
    pub palette: Option<&'a [u32]>,
}

/// Decodes a BITMAP image into pixels, top row first.
pub fn decode(bitmap: &Bitmap<'_>, limits: &Limits) -> Result<Pixels, DecodeError> {
    let n = limits.check(bitmap.width, bitmap.height)?;
    let width = bitmap.width as usize;
    let height = bitmap.height as usize;
    let row_bytes = (u64::from(bitmap.width) * u64::from(bitmap.format.bits_per_pixel())).div_ceil(8);
    let stride = u64::from(bitmap.stride);
    if stride < row_bytes {
        return Err(DecodeError::invalid("bitmap stride", format!("{stride} is shorter than a row of {row_bytes}")));
    }
    let needed = stride * (u64::from(bitmap.height) - 1) + row_bytes;
    if (bitmap.data.len() as u64) < needed {
        return Err(DecodeError::Truncated { what: "bitmap" });
    }
    let palette = match (bitmap.format.uses_palette(), bitmap.palette) {
        (false, _) => &[][..],
        (true, Some(p)) if !p.is_empty() => p,
        (true, _) => return Err(DecodeError::invalid("bitmap palette", "a palette format without a palette")),
    };
    // Both fit in usize: they are at most the data length.
    let (stride, row_bytes) = (stride as usize, row_bytes as usize);
    let mut data = Vec::with_capacity(n);
    for y in 0..height {
        let src_row = if bitmap.top_down { y } else { height - 1 - y };
        let start = src_row * stride;
        let row = bitmap.data.get(start..start + row_bytes).ok_or(DecodeError::Truncated { what: "bitmap" })?;
        convert_row(bitmap.format, row, width, palette, &mut data)?;
    }
    Ok(Pixels { width: bitmap.width, height: bitmap.height, has_alpha: bitmap.format.has_alpha(), data })
}

fn lookup(palette: &[u32], index: usize) -> Result<u32, DecodeError> {
    palette
        .get(index)
        .map(|&e| palette_entry(e))
        .ok_or_else(|| DecodeError::invalid("palette index", format!("{index} beyond a palette of {}", palette.len())))
}

/// Appends `width` pixels decoded from one row of bytes (exactly `ceil(width × bits / 8)` of them).
pub(crate) fn convert_row(
    format: BitmapFormat,
    row: &[u8],
    width: usize,
    palette: &[u32],
    out: &mut Vec<u32>,
) -> Result<(), DecodeError> {
    match format {
        BitmapFormat::OneBitLe | BitmapFormat::OneBitBe => {
            let (back, fore) = (lookup(palette, 0)?, lookup(palette, 1)?);
            for (i, &byte) in row.iter().enumerate() {
                let count = width.saturating_sub(i * 8).min(8);
                for bit in 0..count {
                    let shift = if format == BitmapFormat::OneBitLe { bit } else { 7 - bit };
                    out.push(if (byte >> shift) & 1 == 1 { fore } else { back });
                }
            }
        }
        BitmapFormat::FourBitLe | BitmapFormat::FourBitBe => {
            for (i, &byte) in row.iter().enumerate() {
                let (first, second) =
                    if format == BitmapFormat::FourBitLe { (byte & 0x0F, byte >> 4) } else { (byte >> 4, byte & 0x0F) };
                // Wraps like the reference decoder; the palette is not empty.
                out.push(lookup(palette, usize::from(first) % palette.len())?);
                if i * 2 + 1 < width {
                    out.push(lookup(palette, usize::from(second) % palette.len())?);
                }
            }
        }
        BitmapFormat::EightBit => {
            for &b in row {
                out.push(lookup(palette, usize::from(b))?);
            }
        }
        BitmapFormat::EightBitA => out.extend(row.iter().map(|&a| u32::from(a) << 24)),
        BitmapFormat::Rgb16 => {
            out.extend(row.chunks_exact(2).map(|c| match c {
                [lo, hi] => rgb555(u16::from_le_bytes([*lo, *hi])),
                _ => 0,
            }));
        }
        BitmapFormat::Rgb24 => out.extend(row.chunks_exact(3).map(|c| match c {
            [b, g, r] => rgb(*b, *g, *r),
            _ => 0,
        })),
        BitmapFormat::Rgb32 => out.extend(row.chunks_exact(4).map(|c| match c {
            [b, g, r, _] => rgb(*b, *g, *r),
            _ => 0,
        })),
        BitmapFormat::Rgba => out.extend(row.chunks_exact(4).map(|c| match c {
            [b, g, r, a] => u32::from(*a) << 24 | (rgb(*b, *g, *r) & 0x00FF_FFFF),
            _ => 0,
        })),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bm<'a>(format: BitmapFormat, w: u32, h: u32, stride: u32, data: &'a [u8], pal: Option<&'a [u32]>) -> Bitmap<'a> {
        Bitmap { format, width: w, height: h, stride, top_down: true, data, palette: pal }
    }

    const PAL: &[u32] = &[0x000000, 0xFFFFFF, 0xFF0000, 0x00FF00];
    const K: u32 = 0xFF00_0000;
    const W: u32 = 0xFFFF_FFFF;
    const R: u32 = 0xFFFF_0000;
    const G: u32 = 0xFF00_FF00;

    #[test]
    fn one_bit_formats_take_bits_in_their_order_and_honour_the_stride() {
        // 10 pixels wide: two bytes per row, stride 4 with padding.
        let data = [0b0000_0011, 0b0000_0001, 0xEE, 0xEE, 0b1000_0000, 0b0100_0000, 0xEE, 0xEE];
        let le = decode(&bm(BitmapFormat::OneBitLe, 10, 2, 4, &data, Some(PAL)), &Limits::default()).unwrap();
        assert_eq!(le.data[..10], [W, W, K, K, K, K, K, K, W, K]);
        assert_eq!(le.data[10..], [K, K, K, K, K, K, K, W, K, K]);
        let be = decode(&bm(BitmapFormat::OneBitBe, 10, 2, 4, &data, Some(PAL)), &Limits::default()).unwrap();
        assert_eq!(be.data[..10], [K, K, K, K, K, K, W, W, K, K]);
        assert_eq!(be.data[10..], [W, K, K, K, K, K, K, K, K, W]);
        assert!(!be.has_alpha);
    }

    #[test]
    fn four_bit_formats_take_nibbles_in_their_order_and_wrap_indexes() {
        let data = [0x12, 0x3F];
        let le = decode(&bm(BitmapFormat::FourBitLe, 3, 1, 2, &data, Some(PAL)), &Limits::default()).unwrap();
        assert_eq!(le.data, [R, W, G]); // 0xF wraps to 15 % 4 = 3; the high nibble 3 is padding
        let be = decode(&bm(BitmapFormat::FourBitBe, 4, 1, 2, &data, Some(PAL)), &Limits::default()).unwrap();
        assert_eq!(be.data, [W, R, G, G]); // 0xF % 4 = 3 = green
    }

    #[test]
    fn eight_bit_uses_the_palette_and_refuses_indexes_beyond_it() {
        let ok = decode(&bm(BitmapFormat::EightBit, 2, 1, 2, &[2, 3], Some(PAL)), &Limits::default()).unwrap();
        assert_eq!(ok.data, [R, G]);
        assert!(decode(&bm(BitmapFormat::EightBit, 1, 1, 1, &[4], Some(PAL)), &Limits::default()).is_err());
        assert!(decode(&bm(BitmapFormat::EightBit, 1, 1, 1, &[0], None), &Limits::default()).is_err());
        assert!(decode(&bm(BitmapFormat::EightBit, 1, 1, 1, &[0], Some(&[])), &Limits::default()).is_err());
    }

    #[test]
    fn direct_colour_formats() {
        let l = Limits::default();
        let p = decode(&bm(BitmapFormat::Rgb16, 2, 1, 4, &[0x00, 0x7C, 0x1F, 0x00], None), &l).unwrap();
        assert_eq!(p.data, [R, 0xFF00_00FF]);
        let p = decode(&bm(BitmapFormat::Rgb24, 2, 1, 8, &[1, 2, 3, 4, 5, 6, 0, 0], None), &l).unwrap();
        assert_eq!(p.data, [0xFF03_0201, 0xFF06_0504]);
        let p = decode(&bm(BitmapFormat::Rgb32, 1, 1, 4, &[1, 2, 3, 0x00], None), &l).unwrap();
        assert_eq!(p.data, [0xFF03_0201]);
        let p = decode(&bm(BitmapFormat::Rgba, 1, 1, 4, &[1, 2, 3, 0x40], None), &l).unwrap();
        assert_eq!((p.data[0], p.has_alpha), (0x4003_0201, true));
        let p = decode(&bm(BitmapFormat::EightBitA, 2, 1, 2, &[0x80, 0xFF], None), &l).unwrap();
        assert_eq!((p.data.as_slice(), p.has_alpha), (&[0x8000_0000, 0xFF00_0000][..], true));
    }

    #[test]
    fn bottom_up_bitmaps_are_flipped() {
        let data = [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
        let mut b = bm(BitmapFormat::Rgb32, 1, 3, 4, &data, None);
        b.top_down = false;
        let p = decode(&b, &Limits::default()).unwrap();
        assert_eq!(p.data, [0xFF00_0003, 0xFF00_0002, 0xFF00_0001]);
    }

    #[test]
    fn hostile_sizes_and_short_data_are_refused() {
        let l = Limits::default();
        assert!(decode(&bm(BitmapFormat::Rgb32, 65_535, 65_535, u32::MAX, &[0; 16], None), &l).is_err());
        assert!(decode(&bm(BitmapFormat::Rgb32, 2, 2, 7, &[0; 64], None), &l).is_err());
        // The last row needs only its pixels, not the padding.
        assert!(decode(&bm(BitmapFormat::Rgb32, 1, 2, 8, &[0; 12], None), &l).is_ok());
        assert_eq!(
            decode(&bm(BitmapFormat::Rgb32, 1, 2, 8, &[0; 11], None), &l),
            Err(DecodeError::Truncated { what: "bitmap" })
        );
        assert!(decode(&bm(BitmapFormat::Rgb32, 0, 2, 8, &[0; 11], None), &l).is_err());
        assert!(BitmapFormat::from_u8(0).is_err());
        assert!(BitmapFormat::from_u8(11).is_err());
        assert_eq!(BitmapFormat::from_u8(10), Ok(BitmapFormat::EightBitA));
    }
}

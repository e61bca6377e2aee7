//! SPICE LZ4 images (image type 109): pixels compressed by LZ4 in linked blocks.
//!
//! Layout: one byte top_down (non-zero: first row is the top row), one byte SpiceBitmapFmt (16BIT 6, 24BIT 7,
//! 32BIT 8, RGBA 9), then blocks until the data ends, each a big-endian u32 byte count followed by that many bytes
//! of an LZ4 block. The server compresses with LZ4 streaming, so a block may copy from the output of the blocks
//! before it (up to 64 KiB back); each block is decoded with the output so far as its dictionary. The output is the
//! image's rows packed at `width × bytes per pixel` (16BIT: little-endian x555, 24BIT: B, G, R, 32BIT: B, G, R, X,
//! RGBA: B, G, R, A). Width and height come from the image descriptor.

use super::bitmap::{convert_row, BitmapFormat};
use super::reader::ByteReader;
use super::{DecodeError, Limits, Pixels};

/// How far back an LZ4 block may reach.
const LZ4_WINDOW: usize = 64 * 1024;

/// Decodes an LZ4 image of `width × height` (from the image descriptor).
pub fn decode(width: u32, height: u32, data: &[u8], limits: &Limits) -> Result<Pixels, DecodeError> {
    let n = limits.check(width, height)?;
    let mut r = ByteReader::new(data, "LZ4 image");
    let top_down = r.u8()? != 0;
    let format = match r.u8()? {
        6 => BitmapFormat::Rgb16,
        7 => BitmapFormat::Rgb24,
        8 => BitmapFormat::Rgb32,
        9 => BitmapFormat::Rgba,
        f => return Err(DecodeError::invalid("LZ4 format", format!("bitmap format {f}"))),
    };
    let bpp = (format.bits_per_pixel() / 8) as usize;
    let row_bytes = width as usize * bpp;
    let mut out = vec![0u8; n * bpp];
    let mut pos = 0usize;
    while r.remaining() > 0 {
        let size = r.u32_be()? as usize;
        let block = r.bytes(size)?;
        let (done, rest) = out.split_at_mut(pos);
        if rest.is_empty() {
            return Err(DecodeError::invalid("LZ4 block", "more blocks after the image is complete"));
        }
        let dict = done.get(done.len().saturating_sub(LZ4_WINDOW)..).unwrap_or(&[]);
        let written = lz4_flex::block::decompress_into_with_dict(block, rest, dict)
            .map_err(|e| DecodeError::invalid("LZ4 block", e.to_string()))?;
        if written == 0 {
            return Err(DecodeError::invalid("LZ4 block", "a block with no output"));
        }
        pos += written;
    }
    if pos != out.len() {
        return Err(DecodeError::Truncated { what: "LZ4 image" });
    }
    let mut px = Vec::with_capacity(n);
    for row in out.chunks_exact(row_bytes) {
        convert_row(format, row, width as usize, &[], &mut px)?;
    }
    let mut p = Pixels { width, height, has_alpha: format.has_alpha(), data: px };
    if !top_down {
        p.flip_rows();
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { max_side: 16_384, max_pixels: 64 << 20 };

    /// Compresses `raw` the way the server's streaming compressor does: `block` bytes at a time, each block with
    /// the previous 64 KiB of input as its dictionary.
    fn encode(top_down: bool, format: u8, raw: &[u8], block: usize) -> Vec<u8> {
        let mut v = vec![u8::from(top_down), format];
        for (i, chunk) in raw.chunks(block).enumerate() {
            let start = i * block;
            let dict = &raw[start.saturating_sub(LZ4_WINDOW)..start];
            let c = lz4_flex::block::compress_with_dict(chunk, dict);
            v.extend((c.len() as u32).to_be_bytes());
            v.extend(c);
        }
        v
    }

    #[test]
    fn every_format_and_both_row_orders() {
        let p = decode(2, 1, &encode(true, 6, &[0x00, 0x7C, 0x1F, 0x00], 64), &L).unwrap();
        assert_eq!(p.data, [0xFFFF_0000, 0xFF00_00FF]);
        let p = decode(1, 2, &encode(false, 7, &[1, 2, 3, 4, 5, 6], 64), &L).unwrap();
        assert_eq!(p.data, [0xFF06_0504, 0xFF03_0201]);
        let p = decode(1, 1, &encode(true, 8, &[1, 2, 3, 0], 64), &L).unwrap();
        assert_eq!((p.data[0], p.has_alpha), (0xFF03_0201, false));
        let p = decode(1, 1, &encode(true, 9, &[1, 2, 3, 0x80], 64), &L).unwrap();
        assert_eq!((p.data[0], p.has_alpha), (0x8003_0201, true));
    }

    #[test]
    fn linked_blocks_reference_earlier_output() {
        // A 64×64 RGB32 image of a repeating pattern, cut in 1 KiB blocks: later blocks are mostly references into
        // earlier ones, and decoding each block alone fails.
        let raw: Vec<u8> = (0..64 * 64 * 4).map(|i| ((i / 4) % 29) as u8 ^ (i % 4) as u8).collect();
        let data = encode(true, 8, &raw, 1024);
        assert!(data.len() < raw.len() / 4);
        let p = decode(64, 64, &data, &L).unwrap();
        let want: Vec<u32> = raw.chunks(4).map(|c| 0xFF00_0000 | u32::from_le_bytes([c[0], c[1], c[2], 0])).collect();
        assert_eq!(p.data, want);
        let second_block = {
            let first = u32::from_be_bytes(data[2..6].try_into().unwrap()) as usize;
            let at = 6 + first;
            let len = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
            data[at + 4..at + 4 + len].to_vec()
        };
        let mut alone = vec![0u8; 1024];
        assert!(lz4_flex::block::decompress_into(&second_block, &mut alone).is_err());
    }

    #[test]
    fn hostile_streams_are_refused() {
        let good = encode(true, 8, &[9; 64], 64);
        assert!(decode(4, 4, &good, &L).is_ok());
        for cut in 0..good.len() {
            assert!(decode(4, 4, &good[..cut], &L).is_err(), "truncated at {cut}");
        }
        // More output than the image holds, a block after the image is full, a bad format, a huge image.
        assert!(decode(2, 2, &good, &L).is_err());
        let mut extra = good.clone();
        extra.extend(&good[2..]);
        assert!(decode(4, 4, &extra, &L).is_err());
        assert!(decode(4, 4, &encode(true, 5, &[9; 16], 64), &L).is_err());
        assert!(decode(65_535, 65_535, &good, &L).is_err());
        // A block size beyond the data, and an empty block.
        assert!(decode(4, 4, &[1, 8, 0xFF, 0xFF, 0xFF, 0xFF, 0], &L).is_err());
        assert!(decode(4, 4, &[1, 8, 0, 0, 0, 0], &L).is_err());
        // A match reaching before the start: token 0x04 (no literals, match), offset 0x0010.
        assert!(decode(4, 4, &[1, 8, 0, 0, 0, 3, 0x04, 0x10, 0x00], &L).is_err());
    }
}

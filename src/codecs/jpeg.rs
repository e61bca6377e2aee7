//! SPICE JPEG (image type 105) and JPEG_ALPHA (108) images.
//!
//! JPEG: a baseline JPEG stream (JFIF), decoded with zune-jpeg to RGB; the pixels are opaque. The server only sends
//! it on links it judges slow (lossy compression of photo-like areas).
//!
//! JPEG_ALPHA: the descriptor gives a flags byte (TOP_DOWN = 1), `jpeg_size` and `data_size`; the data is the JPEG
//! stream (`jpeg_size` bytes) followed by an LZ image of type XXXA holding the alpha plane. The JPEG's rows are top
//! first as always; the alpha plane's rows are in its own stream order (bottom first unless TOP_DOWN), and its
//! header's top_down must agree with the flag.
//!
//! The JPEG's size is read from its frame header first and checked against the limits before any pixel buffer
//! is allocated.

use zune_jpeg::zune_core::bytestream::ZCursor;
use zune_jpeg::zune_core::colorspace::ColorSpace;
use zune_jpeg::zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

use super::reader::rgb;
use super::{lz, DecodeError, Limits, Pixels};

fn jpeg_error(e: impl std::fmt::Display) -> DecodeError {
    DecodeError::invalid("JPEG", e.to_string())
}

/// Decodes a JPEG image to opaque pixels. A JPEG without Huffman tables (as MJPEG frames are sent) is decoded with
/// the standard tables ([`super::mjpeg`]).
pub fn decode(data: &[u8], limits: &Limits) -> Result<Pixels, DecodeError> {
    let side = limits.max_side as usize;
    let options =
        DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB).set_max_width(side).set_max_height(side);
    let data = super::mjpeg::with_huffman_tables(data);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(&data[..]), options);
    decoder.decode_headers().map_err(jpeg_error)?;
    let info = decoder.info().ok_or_else(|| jpeg_error("no frame header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let n = limits.check(width, height)?;
    let size = decoder.output_buffer_size().ok_or_else(|| jpeg_error("no output size"))?;
    if size != n * 3 {
        return Err(jpeg_error(format!("{size} output bytes for {width}×{height} RGB")));
    }
    let mut rgb_bytes = vec![0u8; size];
    decoder.decode_into(&mut rgb_bytes).map_err(jpeg_error)?;
    let data = rgb_bytes
        .chunks_exact(3)
        .map(|c| match c {
            [r, g, b] => rgb(*b, *g, *r),
            _ => 0,
        })
        .collect();
    Ok(Pixels { width, height, has_alpha: false, data })
}

/// Decodes a JPEG_ALPHA image: `data` holds the JPEG (`jpeg_size` bytes) then the LZ XXXA alpha plane;
/// `top_down` is the descriptor's TOP_DOWN flag.
pub fn decode_alpha(top_down: bool, jpeg_size: u32, data: &[u8], limits: &Limits) -> Result<Pixels, DecodeError> {
    let (jpeg, alpha) =
        data.split_at_checked(jpeg_size as usize).ok_or(DecodeError::Truncated { what: "JPEG_ALPHA image" })?;
    let mut image = decode(jpeg, limits)?;
    let h = lz::decode_alpha_into(alpha, &mut image)?;
    if h.top_down != top_down {
        return Err(DecodeError::invalid("JPEG_ALPHA", "the alpha plane's row order contradicts the TOP_DOWN flag"));
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::super::lz::test_encoder::{body, header, Item};
    use super::super::lz::LzType;
    use super::*;

    const L: Limits = Limits { max_side: 16_384, max_pixels: 64 << 20 };
    /// 16×8, left half red and right half blue (ImageMagick, quality 100, no chroma subsampling).
    const RED_BLUE: &[u8] = include_bytes!("testdata/red_blue_16x8.jpg");
    /// 8×8 grey 0x80, one component.
    const GRAY: &[u8] = include_bytes!("testdata/gray_8x8.jpg");

    fn near(a: u32, b: u32) -> bool {
        (0..4).all(|i| ((a >> (8 * i)) as u8).abs_diff((b >> (8 * i)) as u8) <= 4)
    }

    #[test]
    fn colour_and_grey_jpegs_decode_to_opaque_rgb() {
        let p = decode(RED_BLUE, &L).unwrap();
        assert_eq!((p.width, p.height, p.has_alpha), (16, 8, false));
        assert!(near(p.data[0], 0xFFFF_0000), "{:08x}", p.data[0]);
        assert!(near(p.data[15], 0xFF00_00FF), "{:08x}", p.data[15]);
        assert!(near(p.data[7 * 16 + 2], 0xFFFF_0000));
        let g = decode(GRAY, &L).unwrap();
        assert!(g.data.iter().all(|&p| near(p, 0xFF80_8080)), "{:08x}", g.data[0]);
    }

    #[test]
    fn jpeg_alpha_adds_the_lz_plane_in_its_row_order() {
        // Alpha 0x11 for the first stream row, 0x22 for the other seven (a run).
        let items = [Item::Literal(vec![0x11; 16]), Item::Literal(vec![0x22]), Item::Match { len: 111, dist: 1 }];
        for top_down in [true, false] {
            let plane = [header(LzType::Xxxa, 16, 8, 64, top_down), body(&items, 1, 3)].concat();
            let data = [RED_BLUE, &plane].concat();
            let p = decode_alpha(top_down, RED_BLUE.len() as u32, &data, &L).unwrap();
            assert!(p.has_alpha);
            let (first, last) = if top_down { (0x11, 0x22) } else { (0x22, 0x11) };
            assert_eq!(p.data[0] >> 24, first);
            assert_eq!(p.data[7 * 16 + 15] >> 24, last);
            assert!(near(p.data[15] | 0xFF00_0000, 0xFF00_00FF));
            assert!(decode_alpha(!top_down, RED_BLUE.len() as u32, &data, &L).is_err(), "flag contradicts plane");
        }
    }

    #[test]
    fn hostile_inputs_are_refused() {
        for cut in [0, 2, 20, RED_BLUE.len() / 2] {
            assert!(decode(&RED_BLUE[..cut], &L).is_err(), "cut at {cut}");
        }
        assert!(decode(b"not a jpeg at all", &L).is_err());
        // A frame header claiming 65535×65535: refused from the header, before any pixel buffer.
        let mut huge = RED_BLUE.to_vec();
        let sof = huge.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        huge[sof + 5..sof + 9].copy_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        assert!(decode(&huge, &L).is_err());
        let small = Limits { max_side: 8, max_pixels: 64 };
        assert!(decode(RED_BLUE, &small).is_err());
        // JPEG_ALPHA: the JPEG size beyond the data, a plane of another size, no plane.
        assert!(decode_alpha(true, u32::MAX, RED_BLUE, &L).is_err());
        let plane = [header(LzType::Xxxa, 8, 8, 32, true), body(&[Item::Literal(vec![1; 64])], 1, 3)].concat();
        assert!(decode_alpha(true, RED_BLUE.len() as u32, &[RED_BLUE, &plane].concat(), &L).is_err());
        assert!(decode_alpha(true, RED_BLUE.len() as u32, RED_BLUE, &L).is_err());
    }
}

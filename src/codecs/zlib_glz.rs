//! SPICE ZLIB_GLZ_RGB images (image type 107): a GLZ image compressed again with zlib, sent on slow links.
//!
//! The image descriptor gives `glz_data_size` (the size of the GLZ image once inflated) and `data_size`; the data is
//! a zlib stream (RFC 1950, with its two-byte header) that inflates to exactly `glz_data_size` bytes of a GLZ image,
//! decoded with the session's GLZ dictionary like any GLZ_RGB image.
//!
//! Inflating is bounded twice: the GLZ header is inflated first and its size checked against the limits, then the
//! announced size must not exceed what any GLZ encoding of that many pixels could take, and at most that many bytes
//! are inflated.

use std::io::Read;
use std::sync::Arc;

use flate2::read::ZlibDecoder;

use super::glz::{self, GlzDictionary, GLZ_HEADER_LEN};
use super::{DecodeError, Limits, Pixels};

/// The most bytes a GLZ image of `pixels` pixels can take: a reference costs at most 7 bytes per pixel (control,
/// offset, 3 distance bytes, very long offset byte; length 1), an alpha pass at most 1 byte plus a control byte per
/// pixel; with some slack.
fn max_glz_size(pixels: usize) -> u64 {
    GLZ_HEADER_LEN as u64 + 9 * pixels as u64 + 64
}

fn inflate_error(e: std::io::Error) -> DecodeError {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        DecodeError::Truncated { what: "ZLIB_GLZ image" }
    } else {
        DecodeError::invalid("ZLIB_GLZ zlib stream", e.to_string())
    }
}

/// Inflates `data` to exactly `glz_data_size` bytes and decodes the GLZ image, with references into (and adding
/// the image to) `dict`.
pub fn decode(
    glz_data_size: u32,
    data: &[u8],
    dict: &mut GlzDictionary,
    limits: &Limits,
) -> Result<Arc<Pixels>, DecodeError> {
    let size = glz_data_size as usize;
    if size < GLZ_HEADER_LEN {
        return Err(DecodeError::invalid("ZLIB_GLZ size", format!("{size} bytes cannot hold a GLZ header")));
    }
    let mut z = ZlibDecoder::new(data);
    let mut head = [0u8; GLZ_HEADER_LEN];
    z.read_exact(&mut head).map_err(inflate_error)?;
    let h = glz::parse_header(&head)?;
    let n = limits.check(h.width, h.height)?;
    let max = max_glz_size(n);
    if u64::from(glz_data_size) > max {
        return Err(DecodeError::TooLarge { what: "ZLIB_GLZ inflated size", value: glz_data_size.into(), max });
    }
    let mut glz_data = Vec::with_capacity(size);
    glz_data.extend_from_slice(&head);
    let rest = (size - GLZ_HEADER_LEN) as u64;
    z.take(rest).read_to_end(&mut glz_data).map_err(inflate_error)?;
    if glz_data.len() != size {
        return Err(DecodeError::Truncated { what: "ZLIB_GLZ image" });
    }
    glz::decode(&glz_data, dict, limits)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::glz::test_encoder::{body, header, Item};
    use super::super::lz::LzType;
    use super::*;

    const L: Limits = Limits { max_side: 16_384, max_pixels: 64 << 20 };

    fn zlib(raw: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(raw).unwrap();
        e.finish().unwrap()
    }

    fn glz_image(id: u64) -> Vec<u8> {
        let items = [Item::Literal(vec![1, 2, 3], 3), Item::Near { len: 15, dist: 1 }];
        [header(LzType::Rgb32, 4, 4, true, id, 1), body(&items, 0)].concat()
    }

    #[test]
    fn inflates_then_decodes_with_the_dictionary() {
        let mut d = GlzDictionary::new(1 << 20);
        let raw = glz_image(0);
        let p = decode(raw.len() as u32, &zlib(&raw), &mut d, &L).unwrap();
        assert_eq!(p.data, [0xFF03_0201; 16]);
        assert!(d.contains(0));
        // The next image copies all of image 0.
        let raw =
            [header(LzType::Rgb32, 4, 4, true, 1, 1), body(&[Item::Far { len: 16, image_dist: 1, offset: 0 }], 0)]
                .concat();
        assert_eq!(decode(raw.len() as u32, &zlib(&raw), &mut d, &L).unwrap().data, [0xFF03_0201; 16]);
    }

    #[test]
    fn the_announced_size_must_be_exact_and_bounded() {
        let mut d = GlzDictionary::new(1 << 20);
        let raw = glz_image(0);
        let z = zlib(&raw);
        // Larger than the stream inflates to: truncated.
        assert!(decode(raw.len() as u32 + 1, &z, &mut d, &L).is_err());
        // Smaller: the GLZ body ends early.
        assert!(decode(raw.len() as u32 - 1, &z, &mut d, &L).is_err());
        assert!(decode(10, &z, &mut d, &L).is_err());
        // Far more than a 4×4 image can take, whatever the stream holds.
        assert!(matches!(decode(u32::MAX, &z, &mut d, &L), Err(DecodeError::TooLarge { .. })));
        assert!(d.is_empty());
    }

    #[test]
    fn hostile_streams_are_refused() {
        let mut d = GlzDictionary::new(1 << 20);
        let raw = glz_image(0);
        let z = zlib(&raw);
        // Cut short: an error (once the data is all there the checksum may still be missing, which is accepted).
        for cut in 0..z.len() {
            let r = decode(raw.len() as u32, &z[..cut], &mut d, &L);
            assert!(r.is_err() || cut > z.len() / 2, "cut at {cut}");
            d.clear();
        }
        let mut corrupt = z.clone();
        corrupt[0] ^= 0xFF;
        assert!(decode(raw.len() as u32, &corrupt, &mut d, &L).is_err());
        assert!(decode(raw.len() as u32, &raw, &mut d, &L).is_err(), "not zlib at all");
        let huge = [header(LzType::Rgb32, 65_535, 65_535, true, 0, 0), vec![0; 64]].concat();
        assert!(decode(huge.len() as u32, &zlib(&huge), &mut d, &L).is_err());
        // A zip bomb: 4 MiB of zeros after a small image is never inflated past the bound.
        let bomb = [glz_image(0), vec![0; 4 << 20]].concat();
        assert!(decode(u32::MAX, &zlib(&bomb), &mut d, &L).is_err());
    }
}

//! Hostile and edge-case inputs for the QUIC decoder (real images are checked in `tests/display_fixtures.rs`).

use super::*;

fn stream(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[test]
fn header_is_read() {
    let h = header(&stream(&[MAGIC, VERSION, 4, 640, 400])).unwrap();
    assert_eq!(h, QuicHeader { image_type: QuicType::Rgb32, width: 640, height: 400 });
}

#[test]
fn bad_magic_version_and_type_are_refused() {
    let l = Limits::default();
    assert!(matches!(decode(&stream(&[0x1234, 0, 4, 1, 1, 0, 0]), &l), Err(DecodeError::Invalid { .. })));
    assert!(matches!(decode(&stream(&[MAGIC, 1, 4, 1, 1, 0, 0]), &l), Err(DecodeError::Invalid { .. })));
    assert!(matches!(decode(&stream(&[MAGIC, 0, 9, 1, 1, 0, 0]), &l), Err(DecodeError::Invalid { .. })));
}

#[test]
fn truncated_headers_and_bodies_are_refused() {
    let l = Limits::default();
    let full = stream(&[MAGIC, VERSION, 4, 8, 8]);
    for n in 0..full.len() {
        assert!(matches!(decode(&full[..n], &l), Err(DecodeError::Truncated { .. })), "{n} bytes");
    }
    assert!(matches!(decode(&full, &l), Err(DecodeError::Truncated { .. })));
}

#[test]
fn huge_and_empty_sizes_are_refused_before_allocating() {
    let l = Limits::default();
    let huge = stream(&[MAGIC, VERSION, 4, 65_535, 65_535, 0, 0]);
    assert!(matches!(decode(&huge, &l), Err(DecodeError::TooLarge { .. })));
    let empty = stream(&[MAGIC, VERSION, 4, 0, 10, 0, 0]);
    assert!(matches!(decode(&empty, &l), Err(DecodeError::Invalid { .. })));
    // Allowed by the limits, but far too short to hold 16384 × 4096 pixels.
    let short = stream(&[MAGIC, VERSION, 5, 16_384, 4_096, 0, 0, 0, 0]);
    assert!(matches!(decode(&short, &l), Err(DecodeError::Truncated { .. })));
}

#[test]
fn garbage_after_the_header_never_panics() {
    let l = Limits::default();
    let mut seed = 0x1234_5678u32;
    for t in 1..=5 {
        for size in [1u32, 2, 3, 7, 33] {
            for fill in 0..20 {
                let mut words = vec![MAGIC, VERSION, t, size, size];
                words.extend((0..64).map(|_| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    match fill % 4 {
                        0 => 0,
                        1 => u32::MAX,
                        _ => seed,
                    }
                }));
                let _ = decode(&stream(&words), &l);
            }
        }
    }
}

#[test]
fn a_one_pixel_grey_image_decodes() {
    // The first code uses the largest parameter (7): a 1 then 7 bits of remainder, here residual 0, i.e. black.
    let l = Limits::default();
    let words = [MAGIC, VERSION, 1, 1, 1, 0x8000_0000, 0];
    let p = decode(&stream(&words), &l).unwrap();
    assert_eq!((p.width, p.height, p.has_alpha), (1, 1, false));
    assert_eq!(p.data, vec![0xff00_0000]);
}

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

/// The synthetic picture of `tests/fixtures/quic/` (see its README): a gradient third, a third of constant
/// blocks and a third of hashed noise, per channel `c` (0 R, 1 G, 2 B, 3 alpha).
fn synthetic(x: u32, y: u32, c: u32, height: u32) -> u8 {
    if y < height / 3 {
        return (x * 3 + y * 5 + c * 40) as u8;
    }
    if y < 2 * height / 3 {
        return ((x / 9 + y / 7) * 37 + c * 50) as u8;
    }
    let v = x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ c.wrapping_mul(83_492_791);
    (v.wrapping_mul(2_654_435_761) >> 24) as u8
}

/// What the decoder must produce for the synthetic picture in `image_type`.
fn expected(image_type: QuicType, width: u32, height: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let [r, g, b, a] = [0, 1, 2, 3].map(|c| synthetic(x, y, c, height));
            let five = |v: u8| ((v >> 3) << 3) | (v >> 5);
            out.push(match image_type {
                QuicType::Gray => u32::from_be_bytes([0xff, r, r, r]),
                QuicType::Rgb16 => u32::from_be_bytes([0xff, five(r), five(g), five(b)]),
                QuicType::Rgb24 | QuicType::Rgb32 => u32::from_be_bytes([0xff, r, g, b]),
                QuicType::Rgba => u32::from_be_bytes([a, r, g, b]),
            });
        }
    }
    out
}

macro_rules! vector {
    ($name:literal) => {
        ($name, include_bytes!(concat!("../../../tests/fixtures/quic/", $name, ".quic")).as_slice())
    };
}

#[test]
fn reference_encoder_vectors_decode_exactly() {
    let vectors = [
        vector!("gray-61x37"),
        vector!("gray-2100x6"),
        vector!("rgb16-61x37"),
        vector!("rgb16-2100x6"),
        vector!("rgb24-61x37"),
        vector!("rgb24-2100x6"),
        vector!("rgb32-61x37"),
        vector!("rgb32-2100x6"),
        vector!("rgba-61x37"),
        vector!("rgba-2100x6"),
    ];
    for (name, data) in vectors {
        let h = header(data).unwrap();
        let p = decode(data, &Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(p.has_alpha, h.image_type == QuicType::Rgba, "{name}");
        let want = expected(h.image_type, h.width, h.height);
        if let Some(i) = p.data.iter().zip(&want).position(|(a, b)| a != b) {
            let (x, y) = (i as u32 % h.width, i as u32 / h.width);
            panic!("{name}: pixel ({x}, {y}) is {:08x}, not {:08x}", p.data[i], want[i]);
        }
        assert_eq!(p.data.len(), want.len(), "{name}");
    }
}

#[test]
fn every_truncation_of_a_vector_is_an_error() {
    let (_, data) = vector!("rgba-61x37");
    // The encoder pads the end with at least 33 zero bits, so only cuts before that padding must fail.
    for n in (0..data.len() - 8).step_by(41) {
        assert!(decode(&data[..n], &Limits::default()).is_err(), "{n} bytes");
    }
}

#[test]
fn flipped_bits_in_real_streams_never_panic() {
    let limits = Limits::default();
    for (_, data) in [vector!("rgba-61x37"), vector!("rgb16-61x37"), vector!("gray-61x37")] {
        let bits = data.len() * 8;
        for n in (0..bits).step_by(bits / 60) {
            let mut mutated = data.to_vec();
            if let Some(byte) = mutated.get_mut(n / 8) {
                *byte ^= 1 << (n % 8);
            }
            if let Ok(p) = decode(&mutated, &limits) {
                assert_eq!(p.data.len(), p.width as usize * p.height as usize);
            }
        }
    }
}

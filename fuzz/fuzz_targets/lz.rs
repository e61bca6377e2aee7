//! LZ decoding (every LZ type, with or without a palette, and the alpha plane into an image) must never panic or
//! over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::{lz, Limits, Pixels};

const PALETTE: [u32; 5] = [0x000000, 0xFFFFFF, 0xFF0000, 0x00FF00, 0x0000FF];

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_side: 1024, max_pixels: 1 << 18 };
    let Some((&pick, data)) = data.split_first() else { return };
    let palette = if pick & 1 == 1 { Some(&PALETTE[..usize::from(pick >> 1) % 6]) } else { None };
    if let Ok(p) = lz::decode(data, palette, &limits) {
        assert_eq!(p.data.len() as u64, u64::from(p.width) * u64::from(p.height));
    }
    if let Ok(h) = lz::parse_header(data) {
        if u64::from(h.width) * u64::from(h.height) <= 1 << 16 {
            if let Ok(mut img) = Pixels::filled(h.width, h.height, 0xFF00_0000, &limits) {
                let _ = lz::decode_alpha_into(data, &mut img);
                assert_eq!(img.data.len() as u64, u64::from(h.width) * u64::from(h.height));
            }
        }
    }
});

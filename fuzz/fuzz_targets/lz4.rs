//! LZ4 image decoding (linked blocks) must never panic or over-allocate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::{lz4, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((size, data)) = data.split_first_chunk::<2>() else { return };
    let (width, height) = (u32::from(size[0]) + 1, u32::from(size[1]) + 1);
    let limits = Limits { max_side: 256, max_pixels: 1 << 16 };
    if let Ok(p) = lz4::decode(width, height, data, &limits) {
        assert_eq!(p.data.len() as u32, width * height);
    }
});

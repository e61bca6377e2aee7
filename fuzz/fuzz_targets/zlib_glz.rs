//! ZLIB_GLZ decoding must never panic or inflate past its bound, whatever the announced size and the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::glz::GlzDictionary;
use ryll::codecs::{zlib_glz, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((size, data)) = data.split_first_chunk::<4>() else { return };
    let limits = Limits { max_side: 1024, max_pixels: 1 << 16 };
    let mut dict = GlzDictionary::new(1 << 16);
    let _ = zlib_glz::decode(u32::from_le_bytes(*size), data, &mut dict, &limits);
});

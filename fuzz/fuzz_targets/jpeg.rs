//! JPEG and JPEG_ALPHA decoding must never panic or allocate beyond the limits, whatever the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::{jpeg, Limits};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_side: 1024, max_pixels: 1 << 18 };
    if let Ok(p) = jpeg::decode(data, &limits) {
        assert_eq!(p.data.len() as u64, u64::from(p.width) * u64::from(p.height));
    }
    if let Some((head, rest)) = data.split_first_chunk::<3>() {
        let jpeg_size = u32::from(u16::from_le_bytes([head[0], head[1]]));
        let _ = jpeg::decode_alpha(head[2] & 1 == 1, jpeg_size, rest, &limits);
    }
});

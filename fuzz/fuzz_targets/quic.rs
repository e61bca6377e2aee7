//! The QUIC decoder must never panic, hang or allocate past its limits on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::{quic, Limits};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast; the size checks themselves are what matters.
    let limits = Limits { max_side: 4096, max_pixels: 1 << 20 };
    if let Ok(p) = quic::decode(data, &limits) {
        assert_eq!(p.data.len(), p.width as usize * p.height as usize);
    }
    let _ = quic::header(data);
});

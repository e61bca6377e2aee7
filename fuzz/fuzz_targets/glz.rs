//! GLZ decoding must never panic, hang or over-allocate, including references into earlier images: each input is
//! cut into several images (a u16 little-endian length before each) decoded in turn with one small dictionary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::glz::{decode, GlzDictionary};
use ryll::codecs::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_side: 1024, max_pixels: 1 << 16 };
    let mut dict = GlzDictionary::new(1 << 17);
    let mut rest = data;
    while let Some((len, tail)) = rest.split_first_chunk::<2>() {
        let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
        let (image, tail) = tail.split_at(len);
        if let Ok(p) = decode(image, &mut dict, &limits) {
            assert_eq!(p.data.len() as u64, u64::from(p.width) * u64::from(p.height));
        }
        assert!(dict.total_pixels() <= 1 << 17);
        rest = tail;
    }
});

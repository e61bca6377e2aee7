//! BITMAP decoding must never panic or over-allocate, whatever the format, sizes, stride, palette and bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::codecs::bitmap::{decode, Bitmap, BitmapFormat};
use ryll::codecs::Limits;

fuzz_target!(|data: &[u8]| {
    let Some((head, rest)) = data.split_first_chunk::<8>() else { return };
    let Ok(format) = BitmapFormat::from_u8(head[0] % 11) else { return };
    let width = u32::from(u16::from_le_bytes([head[1], head[2]]) % 512);
    let height = u32::from(u16::from_le_bytes([head[3], head[4]]) % 512);
    let stride = u32::from(u16::from_le_bytes([head[5], head[6]]));
    let palette: Vec<u32> = rest.iter().take(usize::from(head[7] % 20)).map(|&b| u32::from(b) * 0x010101).collect();
    let bitmap =
        Bitmap { format, width, height, stride, top_down: head[7] & 0x80 != 0, data: rest, palette: Some(&palette) };
    let limits = Limits { max_side: 512, max_pixels: 1 << 16 };
    if let Ok(p) = decode(&bitmap, &limits) {
        assert_eq!(p.data.len(), (width * height) as usize);
    }
});

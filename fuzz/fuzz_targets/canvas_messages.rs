//! The canvas must never panic, hang or over-allocate on any sequence of display messages: the input is split
//! into records (u16 type folded onto the display range, u16 body length, body), each parsed with
//! `parse_display` and applied to one canvas with small limits, so that later messages draw on the surfaces
//! and caches earlier ones left.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::canvas::{Canvas, SessionImages};
use ryll::codecs::Limits;
use ryll::protocol::display::parse_display;

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_side: 256, max_pixels: 1 << 14 };
    let mut canvas = Canvas::new(SessionImages::new(1 << 14, 1 << 14), limits);
    let mut rest = data;
    while let Some((head, tail)) = rest.split_first_chunk::<4>() {
        let raw = u16::from_le_bytes([head[0], head[1]]);
        // Even values: 101..=126 (MODE … STREAM_DESTROY_ALL); odd values: 302..=322 (draws … QUALITY_INDICATOR).
        let msg_type = if raw & 1 == 0 { 101 + (raw >> 1) % 26 } else { 302 + (raw >> 1) % 21 };
        let len = usize::from(u16::from_le_bytes([head[2], head[3]])).min(tail.len());
        let (body, next) = tail.split_at(len);
        rest = next;
        if let Ok(Some(msg)) = parse_display(msg_type, body) {
            let _ = canvas.apply(&msg);
        }
    }
});

//! Display-channel message parsing must never panic or over-allocate: the first two bytes pick the message type
//! (folded onto the display range so that most inputs reach a parser), the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::protocol::display::{parse_display, DisplayMessage, DrawOp};

fuzz_target!(|data: &[u8]| {
    let Some((ty, body)) = data.split_first_chunk::<2>() else { return };
    let raw = u16::from_le_bytes(*ty);
    // Even values: 101..=126 (MODE … STREAM_DESTROY_ALL); odd values: 302..=322 (draws … QUALITY_INDICATOR).
    let msg_type = if raw & 1 == 0 { 101 + (raw >> 1) % 26 } else { 302 + (raw >> 1) % 21 };
    if let Ok(Some(DisplayMessage::Draw(draw))) = parse_display(msg_type, body) {
        // Whatever was parsed lies inside the body.
        if let DrawOp::Copy(copy) = &draw.op {
            assert!(copy.src.payload().len() <= body.len());
        }
    }
});

//! Cursor- and inputs-channel messages must never panic or over-allocate: the first byte picks the message type
//! (cursor 101..=108, or inputs 101..=111 when its top bit is set), the rest is the body. Parsed cursors go through
//! the cursor model (shape decoding, the bounded cache), fed from one model so FROM_CACHE can hit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::canvas::cursor::CursorModel;
use ryll::protocol::cursor::parse_cursor;
use ryll::protocol::inputs::parse_inputs;

fuzz_target!(|data: &[u8]| {
    let mut model = CursorModel::default();
    let mut rest = data;
    // Several messages per input: [type, len_lo, len_hi, body...]*
    while let Some((&[ty, lo, hi], tail)) = rest.split_first_chunk::<3>() {
        let len = usize::from(u16::from_le_bytes([lo, hi])).min(tail.len());
        let (body, next) = tail.split_at(len);
        rest = next;
        if ty & 0x80 != 0 {
            let _ = parse_inputs(101 + u16::from(ty & 0x7f) % 11, body);
        } else if let Ok(Some(m)) = parse_cursor(101 + u16::from(ty) % 8, body) {
            if model.apply(&m).is_ok() {
                if let Some(shape) = &model.shape {
                    assert_eq!(
                        shape.pixels.data.len() as u64,
                        u64::from(shape.pixels.width) * u64::from(shape.pixels.height)
                    );
                    assert!(shape.hot_x < shape.pixels.width && shape.hot_y < shape.pixels.height);
                }
            }
        }
    }
});

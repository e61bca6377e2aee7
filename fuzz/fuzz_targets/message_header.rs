//! Data headers and every base/main message body parser must never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::protocol::header::{FullHeader, MiniHeader};

fuzz_target!(|data: &[u8]| {
    let _ = MiniHeader::parse(data, 1 << 20);
    let _ = FullHeader::parse(data, 1 << 20);
    if let Some((ty, body)) = data.split_first_chunk::<2>() {
        let msg_type = u16::from_le_bytes(*ty);
        let _ = ryll::protocol::base::parse_base(msg_type, body);
        let _ = ryll::protocol::main_channel::parse_main(msg_type, body);
    }
});

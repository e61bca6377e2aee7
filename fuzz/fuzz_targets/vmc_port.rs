//! PORT_INIT, PORT_EVENT and (compressed) VMC data decoding must never panic or over-allocate on any input.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use ryll::channels::vmc::decode_incoming;

fuzz_target!(|data: &[u8]| {
    if let Some((ty, body)) = data.split_first_chunk::<2>() {
        let msg_type = u16::from_le_bytes(*ty);
        let _ = ryll::protocol::vmc::parse_vmc(msg_type, body);
        let _ = decode_incoming(msg_type, &Bytes::copy_from_slice(body));
    }
    let _ = ryll::protocol::vmc::PortInit::parse(data);
});

//! The usbredir deframer and parser must never panic, hang or over-allocate on any stream, with any capabilities
//! and from either side; every packet they accept must encode back to bytes that parse to the same packet.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::protocol::usbredir::{encode, parse, Deframer, Negotiated, Sender};

fuzz_target!(|data: &[u8]| {
    let Some((&[caps, split, side], stream)) = data.split_first_chunk::<3>() else { return };
    let n = Negotiated::new(u32::from(caps), 0xff);
    let sender = if side & 1 == 0 { Sender::Guest } else { Sender::Host };
    let cut = usize::from(split).min(stream.len());
    let mut d = Deframer::new();
    for piece in [stream.get(..cut).unwrap_or_default(), stream.get(cut..).unwrap_or_default()] {
        d.push(piece);
        while let Ok(Some(packet)) = d.next(&n, sender) {
            let again = parse(&encode(&packet, &n), &n, sender).expect("an accepted packet re-encodes");
            assert_eq!(again, packet);
        }
    }
});

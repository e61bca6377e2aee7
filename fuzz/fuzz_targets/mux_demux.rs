//! The WebDAV demuxer must reassemble any byte stream sliced anywhere into the same frames.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::webdav::mux::Demuxer;

fuzz_target!(|input: (Vec<u8>, Vec<u16>)| {
    let (data, cuts) = input;
    let mut whole = Demuxer::new();
    whole.push(&data);
    let expected: Vec<_> = std::iter::from_fn(|| whole.next_frame()).collect();
    let mut sliced = Demuxer::new();
    let mut got = Vec::new();
    let mut rest = &data[..];
    for cut in cuts {
        let (a, b) = rest.split_at((cut as usize).min(rest.len()));
        sliced.push(a);
        got.extend(std::iter::from_fn(|| sliced.next_frame()));
        rest = b;
    }
    sliced.push(rest);
    got.extend(std::iter::from_fn(|| sliced.next_frame()));
    assert_eq!(got, expected);
});

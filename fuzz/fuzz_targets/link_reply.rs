//! Link header, link reply, link message and auth parsing must never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::protocol::link::{parse_link_result, AuthMechanism, LinkHeader, LinkMess, LinkReply};

fuzz_target!(|data: &[u8]| {
    let _ = LinkHeader::parse(data);
    if let Ok(reply) = LinkReply::parse(data) {
        let _ = ryll::protocol::link::select_auth(&reply.common_caps);
        // What parses must re-encode to something that parses the same way.
        let again = reply.encode();
        if reply.error == ryll::protocol::constants::LinkError::Ok {
            assert_eq!(LinkReply::parse(&again[16..]).ok(), Some(reply));
        }
    }
    let _ = LinkMess::parse(data);
    let _ = AuthMechanism::parse(data);
    let _ = parse_link_result(data);
});

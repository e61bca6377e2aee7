//! The protection matcher must never panic and must agree with itself: a path's access never loosens when a
//! pattern is added or a segment appended below a protected one, and parsing any pattern is bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::webdav::protect::{Access, Protection};

fuzz_target!(|data: &[u8]| {
    // The first line is a pattern, the rest a path (any bytes).
    let (pattern, path) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"/x"[..]),
    };
    let defaults = Protection::defaults();
    let before = defaults.access(path);
    let Ok(pattern) = std::str::from_utf8(pattern) else { return };
    let mut more = defaults.clone();
    if more.add_hidden(pattern).is_ok() {
        assert!(more.access(path) >= before, "adding a hidden pattern loosened {path:?}");
    }
    let mut ro = defaults;
    if ro.add_read_only(pattern).is_ok() {
        let after = ro.access(path);
        assert!(after >= before, "adding a read-only pattern loosened {path:?}");
        if after != Access::Open && path.len() < 4000 {
            let mut below = path.to_vec();
            below.extend_from_slice(b"/child");
            assert!(ro.access(&below) >= after, "a child of a protected path is less protected");
        }
    }
});

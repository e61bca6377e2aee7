//! The Windows name check must never panic, must agree with the rules it states, and the hint list it feeds must
//! stay bounded whatever names a listing holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::webdav::windows::{WindowsHints, MAX_NAMES};
use ryll::webdav::winnames::{check, NameProblem, FORBIDDEN};

fuzz_target!(|data: &[u8]| {
    // Names separated by '/' (which no name can hold), all listed in one folder.
    let hints = WindowsHints::new();
    for name in data.split(|&b| b == b'/') {
        let problem = check(name);
        if name.is_empty() || name == b"." || name == b".." {
            assert_eq!(problem, None);
            continue;
        }
        match problem {
            None => {
                assert!(std::str::from_utf8(name).is_ok());
                assert!(!name.iter().any(|b| *b < 0x20 || FORBIDDEN.contains(b)));
                assert!(!matches!(name.last(), Some(b'.' | b' ')));
            }
            Some(NameProblem::Character(c)) => assert!(name.contains(&(c as u8))),
            Some(NameProblem::TrailingDotOrSpace) => assert!(matches!(name.last(), Some(b'.' | b' '))),
            Some(_) => {}
        }
        hints.listed(b"/dir", name);
    }
    if let Some(update) = hints.take_names() {
        assert!(update.new.len() <= MAX_NAMES);
    }
});

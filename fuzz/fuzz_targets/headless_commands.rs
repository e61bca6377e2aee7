//! The `--commands` line parser must never panic, must refuse over-long lines, and whatever it accepts must name a
//! command with the words the line held.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::headless_commands::{parse, Command, MAX_LINE};

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    match parse(&line) {
        Ok(Some(Command::UsbAttach(_, disk))) => {
            assert!(line.len() <= MAX_LINE);
            assert!(line.contains(&*disk.path.to_string_lossy()));
        }
        Ok(Some(_)) => assert!(line.len() <= MAX_LINE),
        Ok(None) => assert!(line.trim().is_empty() || line.trim_start().starts_with('#')),
        Err(e) => assert!(!e.is_empty()),
    }
});

//! The remembered-shares file parser must never panic on any bytes, and what it accepts must come back the same
//! after ryll writes it out again (so a save never changes another VM's entry).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::remember::store::FileData;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = FileData::parse(data) else { return };
    let text = parsed.to_text().expect("an accepted file can be written");
    let again = FileData::parse(text.as_bytes()).expect("ryll reads what it writes");
    assert_eq!(again, parsed, "the file changed on the way through");
});

//! Which file names a Windows guest cannot represent.
//!
//! The Windows WebDAV mini-redirector maps the share onto a Win32 namespace, where some names that are fine on the
//! host do not exist: the reserved device names (`CON`, `PRN`, `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`, also with
//! an extension such as `nul.txt`), names holding one of `<>:"\|?*` or a control character, and names ending in a
//! dot or a space. Explorer leaves such entries out of the folder (or shows them and fails to open them), so ryll
//! names them instead (see [`windows`](super::windows)). Names that are not UTF-8 are counted too: they reach the
//! guest percent-encoded as bytes that do not decode. The check is pure and allocation-free.

use std::fmt;

/// Why Windows cannot represent a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameProblem {
    /// A reserved device name (`CON`, `NUL`, `COM1`, ...), with or without an extension.
    Reserved,
    /// One of `<>:"\|?*`.
    Character(char),
    /// A control character (U+0000 to U+001F).
    Control,
    /// Ends in a dot or a space (Windows strips those).
    TrailingDotOrSpace,
    /// Not valid UTF-8.
    NotUtf8,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Reserved => f.write_str("a reserved device name"),
            NameProblem::Character(c) => write!(f, "the character {c:?}"),
            NameProblem::Control => f.write_str("a control character"),
            NameProblem::TrailingDotOrSpace => f.write_str("a trailing dot or space"),
            NameProblem::NotUtf8 => f.write_str("bytes that are not UTF-8"),
        }
    }
}

/// The characters Win32 file names cannot hold (besides `/` and control characters).
pub const FORBIDDEN: &[u8] = b"<>:\"\\|?*";

/// The reserved device names without a digit.
const DEVICES: [&[u8]; 4] = [b"CON", b"PRN", b"AUX", b"NUL"];

/// What keeps Windows from representing the file name `name` (one path segment, as bytes), if anything. The
/// first problem found is reported, in the order: not UTF-8, control character, forbidden character, trailing dot
/// or space, reserved name. `.` and `..` and the empty name are never listed and never reported.
pub fn check(name: &[u8]) -> Option<NameProblem> {
    if name.is_empty() || name == b"." || name == b".." {
        return None;
    }
    if std::str::from_utf8(name).is_err() {
        return Some(NameProblem::NotUtf8);
    }
    if name.iter().any(|&b| b < 0x20) {
        return Some(NameProblem::Control);
    }
    if let Some(&b) = name.iter().find(|b| FORBIDDEN.contains(b)) {
        return Some(NameProblem::Character(char::from(b)));
    }
    if matches!(name.last(), Some(b'.' | b' ')) {
        return Some(NameProblem::TrailingDotOrSpace);
    }
    is_reserved(name).then_some(NameProblem::Reserved)
}

/// Whether the part before the first dot (trailing spaces ignored, as Windows does) is a device name.
fn is_reserved(name: &[u8]) -> bool {
    let stem = name.split(|&b| b == b'.').next().unwrap_or(name);
    let end = stem.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
    let stem = &stem[..end];
    match stem.len() {
        3 => DEVICES.iter().any(|d| stem.eq_ignore_ascii_case(d)),
        4 => {
            let (word, digit) = stem.split_at(3);
            (word.eq_ignore_ascii_case(b"COM") || word.eq_ignore_ascii_case(b"LPT")) && matches!(digit[0], b'1'..=b'9')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass() {
        for name in
            ["a.txt", "Report 2024.pdf", "context", "CONSOLE", "nul2", "COM0", "LPT10", "com", "é.txt", ".bashrc"]
        {
            assert_eq!(check(name.as_bytes()), None, "{name}");
        }
        assert_eq!(check(b""), None);
        assert_eq!(check(b"."), None);
        assert_eq!(check(b".."), None);
    }

    #[test]
    fn reserved_names_with_and_without_extension() {
        for name in ["CON", "con", "Prn", "AUX", "nul", "COM1", "com9", "LPT1", "lpt9", "nul.txt", "CON.tar.gz"] {
            assert_eq!(check(name.as_bytes()), Some(NameProblem::Reserved), "{name}");
        }
        assert_eq!(check(b"NUL .txt"), Some(NameProblem::Reserved));
        assert_eq!(check(b".con"), None, "the stem of .con is empty");
    }

    #[test]
    fn forbidden_and_control_characters() {
        for c in FORBIDDEN {
            let name = [b'a', *c, b'b'];
            assert_eq!(check(&name), Some(NameProblem::Character(char::from(*c))));
        }
        assert_eq!(check(b"a\x01b"), Some(NameProblem::Control));
        assert_eq!(check(b"tab\there"), Some(NameProblem::Control));
        assert_eq!(check(b"new\nline"), Some(NameProblem::Control));
        assert_eq!(check(b"del\x7fok"), None, "DEL is allowed by Win32");
    }

    #[test]
    fn trailing_dot_or_space() {
        assert_eq!(check(b"name."), Some(NameProblem::TrailingDotOrSpace));
        assert_eq!(check(b"name "), Some(NameProblem::TrailingDotOrSpace));
        assert_eq!(check(b"..."), Some(NameProblem::TrailingDotOrSpace));
        assert_eq!(check(b" lead"), None);
        assert_eq!(check(b"con."), Some(NameProblem::TrailingDotOrSpace), "the first problem is reported");
    }

    #[test]
    fn not_utf8() {
        assert_eq!(check(b"caf\xe9"), Some(NameProblem::NotUtf8));
    }

    #[test]
    fn problems_display_for_the_log() {
        assert_eq!(NameProblem::Character('?').to_string(), "the character '?'");
        assert_eq!(NameProblem::Reserved.to_string(), "a reserved device name");
    }
}

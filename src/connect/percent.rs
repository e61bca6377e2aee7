//! Percent-decoding for the text of connection sources: `spice://` URIs and proxy credentials.

/// Decodes `%XX` escapes and checks that the result is UTF-8; `None` when it is not. A `%` that does not start
/// a valid escape is kept as it is (see [`has_malformed_escape`] to refuse those instead).
pub fn decode_utf8(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|c| c.into_owned())
}

/// Whether `s` has a `%` that is not followed by two hex digits.
pub fn has_malformed_escape(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(pos) = bytes.get(i..).and_then(|rest| rest.iter().position(|b| *b == b'%')) {
        let at = i + pos;
        if !bytes.get(at + 1..at + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return true;
        }
        i = at + 3;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_spots_malformed_escapes() {
        assert_eq!(decode_utf8("a%40b+c").as_deref(), Some("a@b+c"));
        assert_eq!(decode_utf8("100%").as_deref(), Some("100%"));
        assert_eq!(decode_utf8("%ff"), None);
        assert!(has_malformed_escape("%zz") && has_malformed_escape("a%4") && has_malformed_escape("%"));
        assert!(!has_malformed_escape("a%40b%C3%A4") && !has_malformed_escape("plain"));
    }
}

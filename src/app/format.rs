//! Fixed-width number formatting, so labels keep their width as the numbers change.

use std::time::Duration;

/// Bytes in binary units, always 9 characters wide (`"  512 B  "`, `" 12.3 KiB"`): units switch at 1000 so the
/// number never needs a fourth digit before the point.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1000 {
        return format!("{n:>5} B  ");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:>5.1} {}", UNITS.get(unit).copied().unwrap_or("EiB"))
}

/// Bytes per second, 11 characters wide.
pub fn rate(bytes_per_second: f64) -> String {
    let n = if bytes_per_second.is_finite() && bytes_per_second > 0.0 { bytes_per_second.round() as u64 } else { 0 };
    if n < 1000 {
        return format!("{n:>5} B/s  ");
    }
    format!("{}/s", bytes(n))
}

/// Events per second, right-aligned in 8 characters (`"  12.5/s"`, `" 1234/s"`).
pub fn per_second(n: f64) -> String {
    let n = if n.is_finite() && n > 0.0 { n } else { 0.0 };
    if n < 100.0 {
        format!("{n:>6.1}/s")
    } else {
        format!("{:>6}/s", (n.round() as u64).min(999_999))
    }
}

/// A count, right-aligned in 7 characters.
pub fn count(n: u64) -> String {
    format!("{n:>7}")
}

/// A duration as `h:mm:ss` (or `m:ss` under an hour), right-aligned in 8 characters.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    let text = if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    };
    format!("{text:>8}")
}

/// How long ago something happened, in words: `"just now"` (under 10 s), `"under a minute ago"`, `"5 min ago"`,
/// `"2 h ago"`. Worded to change rarely: an idle window repaints only when the text changes.
pub fn ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=9 => "just now".into(),
        10..=59 => "under a minute ago".into(),
        60..=3599 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

/// A length of time in words, to the minute: `"under a minute"`, `"5 min"`, `"2 h 05 min"` (a text that changes
/// once a minute, so the window need not repaint every second to keep it true).
pub fn span(d: Duration) -> String {
    let m = d.as_secs() / 60;
    match m {
        0 => "under a minute".into(),
        1..=59 => format!("{m} min"),
        _ => format!("{} h {:02} min", m / 60, m % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_labels_have_a_fixed_width() {
        for n in [0, 999, 1000, 1024, 12_345, 1_048_575, 1_048_576, 123_456_789_012, u64::MAX] {
            assert_eq!(bytes(n).chars().count(), 9, "{n}: {:?}", bytes(n));
        }
        assert_eq!(bytes(512), "  512 B  ");
        assert_eq!(bytes(1536), "  1.5 KiB");
        assert_eq!(bytes(1_048_575), "  1.0 MiB");
        assert_eq!(rate(2048.0), "  2.0 KiB/s");
        assert_eq!(rate(f64::NAN), "    0 B/s  ");
        assert_eq!(rate(999.0).len(), rate(1e9).len());
        assert_eq!(per_second(12.54), "  12.5/s");
        assert_eq!(per_second(1234.4), "  1234/s");
        assert_eq!(per_second(f64::INFINITY).len(), per_second(1e12).len());
    }

    #[test]
    fn durations() {
        assert_eq!(clock(Duration::from_secs(65)), "    1:05");
        assert_eq!(clock(Duration::from_secs(3 * 3600 + 62)), " 3:01:02");
        assert_eq!(ago(Duration::from_millis(300)), "just now");
        assert_eq!(ago(Duration::from_secs(3)), "just now");
        assert_eq!(ago(Duration::from_secs(30)), "under a minute ago");
        assert_eq!(ago(Duration::from_secs(600)), "10 min ago");
        assert_eq!(span(Duration::from_secs(59)), "under a minute");
        assert_eq!(span(Duration::from_secs(61)), "1 min");
        assert_eq!(span(Duration::from_secs(2 * 3600 + 5 * 60 + 30)), "2 h 05 min");
    }
}

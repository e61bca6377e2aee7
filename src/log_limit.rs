//! Rate limits for log lines a peer can trigger at will (port events, refused connections, bad messages), so a
//! hostile server or guest cannot flood the log: the first [`BURST`] occurrences in a window are logged, the rest are
//! counted, and the next line logged after the window says how many were left out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a window lasts by default.
pub const WINDOW: Duration = Duration::from_secs(20);
/// How many lines of a kind are logged per window by default: ordinary sessions (a relink or two, a restarting
/// spice-webdavd) show every line; only floods are summarised.
pub const BURST: u32 = 5;

/// One kind of line's limiter.
#[derive(Debug, Clone)]
pub struct LogLimiter {
    window: Duration,
    burst: u32,
    started: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl LogLimiter {
    /// A limiter that logs `burst` lines per `window`.
    pub const fn new(window: Duration, burst: u32) -> Self {
        LogLimiter { window, burst, started: None, logged: 0, suppressed: 0 }
    }

    /// Whether to log an occurrence at `now`: `Some(n)` logs it, `n` being how many were left out since the last
    /// logged one; `None` leaves it out.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.started {
            Some(t) if now.saturating_duration_since(t) < self.window => {
                if self.logged < self.burst {
                    self.logged += 1;
                    Some(0)
                } else {
                    self.suppressed += 1;
                    None
                }
            }
            _ => {
                self.started = Some(now);
                self.logged = 1;
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// `""`, or `" (and N more like it in the last S s)"` for a line logged after `left_out` were left out.
pub fn suffix(left_out: u64, window: Duration) -> String {
    if left_out == 0 {
        String::new()
    } else {
        format!(" (and {left_out} more like it in the last {} s)", window.as_secs())
    }
}

static LIMITERS: Mutex<Option<HashMap<&'static str, LogLimiter>>> = Mutex::new(None);

/// Runs `log` with the suffix to append unless a line of this `kind` was logged less than [`WINDOW`] ago; process-
/// wide, so every front end and channel shares the limit of a kind.
pub fn limited(kind: &'static str, log: impl FnOnce(&str)) {
    let allowed = {
        let mut guard = LIMITERS.lock().unwrap_or_else(|e| e.into_inner());
        let map = guard.get_or_insert_with(HashMap::new);
        map.entry(kind).or_insert_with(|| LogLimiter::new(WINDOW, BURST)).allow(Instant::now())
    };
    if let Some(left_out) = allowed {
        log(&suffix(left_out, WINDOW));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_and_the_next_one_counts_what_was_left_out() {
        let mut l = LogLimiter::new(Duration::from_secs(20), 1);
        let t0 = Instant::now();
        assert_eq!(l.allow(t0), Some(0));
        for i in 1..100_000u64 {
            assert_eq!(l.allow(t0 + Duration::from_micros(i)), None);
        }
        assert_eq!(l.allow(t0 + Duration::from_secs(21)), Some(99_999));
        assert_eq!(l.allow(t0 + Duration::from_secs(22)), None);
        assert_eq!(l.allow(t0 + Duration::from_secs(60)), Some(1));
        assert_eq!(suffix(99_999, WINDOW), " (and 99999 more like it in the last 20 s)");
        assert_eq!(suffix(0, WINDOW), "");
    }

    #[test]
    fn a_burst_is_logged_in_full_then_summarised() {
        let mut l = LogLimiter::new(Duration::from_secs(20), 3);
        let t0 = Instant::now();
        let got: Vec<Option<u64>> = (0..5).map(|i| l.allow(t0 + Duration::from_millis(i))).collect();
        assert_eq!(got, vec![Some(0), Some(0), Some(0), None, None]);
        assert_eq!(l.allow(t0 + Duration::from_secs(30)), Some(2));
    }

    #[test]
    fn limited_shares_the_limit_of_a_kind() {
        let mut lines = 0;
        for _ in 0..1000 {
            limited("test kind", |_| lines += 1);
        }
        assert_eq!(lines, BURST);
    }
}

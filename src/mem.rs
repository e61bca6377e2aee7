//! Giving freed memory back to the system.
//!
//! A hostile guest can make ryll queue tens of MiB of input for held-back connections (bounded, see
//! `docs/security.md`). When those connections close, every buffer is freed, but glibc's allocator returns to
//! the system only the free memory at the top of each of its heaps: the rest stays resident, split by the few
//! allocations that live on, in the arenas of whichever runtime threads allocated it (250 held-back connections
//! of one-byte frames left ryll about 45 MiB above its resident size before them). `malloc_trim` releases the
//! free pages in every arena. It walks the heaps, so it is called only once the guest's connections have all
//! closed, and at most once per [`TRIM_EVERY`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The least time between two trims.
pub const TRIM_EVERY: Duration = Duration::from_secs(2);

static LAST_TRIM: Mutex<Option<Instant>> = Mutex::new(None);

/// Returns the allocator's free memory to the system (glibc `malloc_trim`), unless that was done less than
/// [`TRIM_EVERY`] ago; elsewhere nothing. Returns whether it trimmed.
pub fn give_back() -> bool {
    {
        let mut last = LAST_TRIM.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < TRIM_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
    }
    trim()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim() -> bool {
    // SAFETY: malloc_trim takes no pointers and is thread-safe (it locks each arena while it walks it).
    unsafe { libc::malloc_trim(0) };
    true
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_trim_within_the_interval_is_skipped() {
        let _ = give_back();
        assert!(!give_back(), "trimmed twice within {TRIM_EVERY:?}");
    }
}

//! When the window repaints while nothing is drawn by the guest: only when something it shows has changed.
//!
//! Every frame costs a full repaint (in software OpenGL, tens of milliseconds for a large window), so an idle
//! session must not repaint on a timer. Two things wake the window besides events and input:
//! - [`watch`]: a task that looks at the session's counters once a second and repaints only when one changed
//!   (bytes, requests, USB commands), and for [`GRACE`] after, while the shown rates fall back to zero;
//! - [`until_ago_changes`], [`until_span_changes`]: the frame's own deadline for texts that age (`"just now"`,
//!   `"shared for 5 min"`), at the moment the text would change: they are worded to change rarely.

use crate::session::SessionShared;
use std::sync::Arc;
use std::time::Duration;

/// How often [`watch`] looks at the counters.
pub const PERIOD: Duration = Duration::from_secs(1);
/// How long after the last change [`watch`] keeps repainting (the rates shown average over two seconds).
pub const GRACE: Duration = Duration::from_secs(3);

/// What the panels show that changes without an event; equal fingerprints draw the same numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Fingerprint {
    bytes: (u64, u64),
    share: crate::session::ShareActivity,
    usb: Vec<(u8, crate::usb::device::IoStats)>,
}

impl Fingerprint {
    /// The counters now.
    pub fn of(shared: &SessionShared) -> Self {
        let usb = shared.usb.views().iter().map(|(id, v)| (*id, v.stats)).collect();
        Fingerprint { bytes: shared.total_bytes(), share: shared.share_activity(), usb }
    }
}

/// Decides, once a [`PERIOD`], whether the window should repaint.
#[derive(Debug, Default)]
pub struct Pulse {
    last: Option<Fingerprint>,
    quiet: Duration,
}

impl Pulse {
    /// Takes this period's fingerprint; whether to repaint.
    pub fn tick(&mut self, now: Fingerprint) -> bool {
        let changed = self.last.as_ref().is_some_and(|l| *l != now);
        self.last = Some(now);
        if changed {
            self.quiet = Duration::ZERO;
            return true;
        }
        self.quiet = self.quiet.saturating_add(PERIOD);
        self.quiet <= GRACE
    }
}

/// Repaints the window when the session's counters change (see the module docs); runs until the runtime stops.
pub async fn watch(shared: Arc<SessionShared>, repaint: impl Fn() + Send + 'static) {
    let mut pulse = Pulse { quiet: GRACE, ..Pulse::default() };
    let mut every = tokio::time::interval(PERIOD);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if pulse.tick(Fingerprint::of(&shared)) {
            repaint();
        }
    }
}

/// How long until [`super::format::ago`] of a time now `age` old reads differently (at 10 s, at 1 min, then at
/// each minute).
pub fn until_ago_changes(age: Duration) -> Duration {
    let ms = age.as_millis() as u64;
    Duration::from_millis(match ms {
        0..10_000 => 10_000 - ms,
        10_000..60_000 => 60_000 - ms,
        _ => 60_000 - ms % 60_000,
    })
}

/// How long until [`super::format::span`] of `age` reads differently (at each minute).
pub fn until_span_changes(age: Duration) -> Duration {
    Duration::from_millis(60_000 - age.as_millis() as u64 % 60_000)
}

/// Counts the window's frames for the debug log (`window: N frames in 5.0 s`), to see what repaints.
#[derive(Debug)]
pub struct FrameLog {
    since: std::time::Instant,
    frames: u64,
    /// What asked for the repaints (egui's repaint causes: a file and line, or a reason), counted.
    causes: std::collections::BTreeMap<String, u32>,
}

impl Default for FrameLog {
    fn default() -> Self {
        FrameLog { since: std::time::Instant::now(), frames: 0, causes: Default::default() }
    }
}

impl FrameLog {
    /// One frame drawn, asked for by `causes`.
    pub fn frame(&mut self, causes: Vec<eframe::egui::RepaintCause>) {
        self.frames += 1;
        for c in causes.into_iter().take(8) {
            if self.causes.len() < 32 {
                *self.causes.entry(c.to_string()).or_default() += 1;
            }
        }
        let elapsed = self.since.elapsed();
        if elapsed >= Duration::from_secs(5) {
            let causes: Vec<String> = self.causes.iter().map(|(c, n)| format!("{c} ×{n}")).collect();
            tracing::debug!(
                "window: {} frames in {:.1} s; asked for by {}",
                self.frames,
                elapsed.as_secs_f32(),
                causes.join(", ")
            );
            *self = FrameLog::default();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_session_stops_repainting_after_the_grace_period() {
        let shared = SessionShared::default();
        let mut pulse = Pulse { quiet: GRACE, ..Pulse::default() };
        // Nothing moves: never a repaint.
        assert!((0..10).all(|_| !pulse.tick(Fingerprint::of(&shared))));
        // A counter moves: a repaint, then a few more while the rates settle, then none.
        shared.webdav.bytes_to_guest.fetch_add(10, std::sync::atomic::Ordering::Relaxed);
        assert!(pulse.tick(Fingerprint::of(&shared)));
        let after: Vec<bool> = (0..6).map(|_| pulse.tick(Fingerprint::of(&shared))).collect();
        let grace = (GRACE.as_secs() / PERIOD.as_secs()) as usize;
        assert_eq!(after, [vec![true; grace], vec![false; 6 - grace]].concat());
    }

    #[test]
    fn aging_texts_repaint_when_they_change() {
        use super::super::format::{ago, span};
        let s = Duration::from_secs;
        assert_eq!(until_ago_changes(Duration::from_millis(2300)), Duration::from_millis(7700));
        assert_eq!(until_ago_changes(s(10)), s(50));
        assert_eq!(until_ago_changes(s(125)), s(55));
        assert_eq!(until_span_changes(s(0)), s(60));
        assert_eq!(until_span_changes(s(125)), s(55));
        // The text is the same just before the deadline and differs at it.
        for age in [0, 3, 9, 10, 42, 59, 60, 61, 119, 3599, 3600, 7261] {
            let age = s(age);
            let (a, b) = (until_ago_changes(age), until_span_changes(age));
            let just_before = |d: Duration| age + d - Duration::from_millis(1);
            assert_eq!(ago(just_before(a)), ago(age), "{age:?}");
            // In hours, ago() changes hourly; a repaint a minute is early, never late.
            assert!(age >= s(3540) || ago(age + a) != ago(age), "{age:?}");
            assert_eq!(span(just_before(b)), span(age), "{age:?}");
            assert_ne!(span(age + b), span(age), "{age:?}");
        }
    }
}

//! STREAM_REPORT: playback statistics of the video streams the server asked about (STREAM_ACTIVATE_REPORT), which
//! spice-server's bitrate control acts on. Pure: the caller passes the time and the session's multimedia clock.
//!
//! A report covers a window of frames: it goes out when `max_window_size` frames were received, or at the first
//! moment after `timeout_ms` since the window's first frame. It counts frames received and dropped (a frame that
//! could not be drawn), the multimedia times of the window's first and last frames, and the last frame's delay:
//! its multimedia time minus the session clock's at arrival (ryll draws a frame when it arrives, so that is how
//! early it came; negative is late). A window with no frame sends nothing.

use crate::protocol::display::client::{StreamReport, NO_AUDIO_DELAY};
use crate::protocol::display::StreamActivateReport;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Stream ids the server uses are below this (SPICE_MAX_NUM_STREAMS).
pub const MAX_STREAMS: u32 = 64;
/// The largest window honoured; a larger request is capped (a report at least this often).
pub const MAX_WINDOW: u32 = 10_000;
/// The longest timeout honoured.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
struct Window {
    unique_id: u32,
    max_frames: u32,
    timeout: Duration,
    /// When the window's first frame arrived (None: no frame yet).
    opened: Option<Instant>,
    frames: u32,
    drops: u32,
    start_mm: u32,
    end_mm: u32,
    last_delay: i32,
}

impl Window {
    fn take(&mut self, stream_id: u32) -> StreamReport {
        let report = StreamReport {
            stream_id,
            unique_id: self.unique_id,
            start_frame_mm_time: self.start_mm,
            end_frame_mm_time: self.end_mm,
            num_frames: self.frames,
            num_drops: self.drops,
            last_frame_delay: self.last_delay,
            audio_delay: NO_AUDIO_DELAY,
        };
        self.opened = None;
        self.frames = 0;
        self.drops = 0;
        report
    }
}

/// The windows of every stream the server asked reports for.
#[derive(Debug, Default)]
pub struct StreamReports {
    windows: BTreeMap<u32, Window>,
}

impl StreamReports {
    /// STREAM_ACTIVATE_REPORT: starts (or restarts) reporting on a stream; false if the stream id is out of range.
    pub fn activate(&mut self, a: &StreamActivateReport) -> bool {
        if a.stream_id >= MAX_STREAMS {
            return false;
        }
        let window = Window {
            unique_id: a.unique_id,
            max_frames: a.max_window_size.clamp(1, MAX_WINDOW),
            timeout: Duration::from_millis(a.timeout_ms.into()).min(MAX_TIMEOUT),
            opened: None,
            frames: 0,
            drops: 0,
            start_mm: 0,
            end_mm: 0,
            last_delay: 0,
        };
        self.windows.insert(a.stream_id, window);
        true
    }

    /// A frame of `stream_id` with multimedia time `mm_time` arrived at `now` (session clock `clock_mm`), and was
    /// drawn or dropped; returns the report due, if any.
    pub fn frame(
        &mut self,
        stream_id: u32,
        mm_time: u32,
        drawn: bool,
        clock_mm: Option<u32>,
        now: Instant,
    ) -> Option<StreamReport> {
        let w = self.windows.get_mut(&stream_id)?;
        if w.opened.is_none() {
            w.opened = Some(now);
            w.start_mm = mm_time;
        }
        w.end_mm = mm_time;
        if drawn {
            w.frames += 1;
        } else {
            w.drops += 1;
        }
        w.last_delay = clock_mm.map(|c| mm_time.wrapping_sub(c) as i32).unwrap_or(0);
        let full = w.frames + w.drops >= w.max_frames;
        let late = w.opened.is_some_and(|t| now.duration_since(t) >= w.timeout);
        (full || late).then(|| w.take(stream_id))
    }

    /// Reports whose timeout has passed by `now`.
    pub fn due(&mut self, now: Instant) -> Vec<StreamReport> {
        self.windows
            .iter_mut()
            .filter(|(_, w)| w.opened.is_some_and(|t| now.duration_since(t) >= w.timeout))
            .map(|(id, w)| w.take(*id))
            .collect()
    }

    /// When the next report falls due, if a window has frames.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.windows.values().filter_map(|w| w.opened.map(|t| t + w.timeout)).min()
    }

    /// STREAM_DESTROY: the stream's window goes, unreported (the server forgets the stream too).
    pub fn destroy(&mut self, stream_id: u32) {
        self.windows.remove(&stream_id);
    }

    /// STREAM_DESTROY_ALL.
    pub fn destroy_all(&mut self) {
        self.windows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activate(r: &mut StreamReports, window: u32, timeout_ms: u32) {
        assert!(r.activate(&StreamActivateReport { stream_id: 3, unique_id: 77, max_window_size: window, timeout_ms }));
    }

    #[test]
    fn a_full_window_is_reported_with_its_counts_and_times() {
        let t = Instant::now();
        let mut r = StreamReports::default();
        activate(&mut r, 3, 10_000);
        assert_eq!(r.frame(3, 1000, true, Some(900), t), None);
        assert_eq!(r.frame(3, 1040, false, Some(950), t), None);
        let report = r.frame(3, 1080, true, Some(1100), t).expect("the third frame fills the window");
        assert_eq!(
            (report.stream_id, report.unique_id, report.start_frame_mm_time, report.end_frame_mm_time),
            (3, 77, 1000, 1080)
        );
        assert_eq!((report.num_frames, report.num_drops, report.last_frame_delay), (2, 1, -20));
        assert_eq!(report.audio_delay, NO_AUDIO_DELAY);
        // The next window starts empty.
        assert_eq!(r.next_deadline(), None);
        assert_eq!(r.frame(7, 0, true, None, t), None, "no report for a stream the server did not ask about");
    }

    #[test]
    fn a_window_times_out_and_destroyed_streams_say_nothing() {
        let t = Instant::now();
        let mut r = StreamReports::default();
        activate(&mut r, 100, 500);
        assert!(r.due(t).is_empty(), "no frame, no report");
        r.frame(3, 10, true, None, t);
        assert_eq!(r.next_deadline(), Some(t + Duration::from_millis(500)));
        assert!(r.due(t + Duration::from_millis(499)).is_empty());
        let due = r.due(t + Duration::from_millis(500));
        assert_eq!((due.len(), due[0].num_frames, due[0].last_frame_delay), (1, 1, 0));
        r.frame(3, 20, true, None, t);
        r.destroy(3);
        assert!(r.due(t + Duration::from_secs(5)).is_empty());
        assert!(!r.activate(&StreamActivateReport { stream_id: 64, unique_id: 1, max_window_size: 1, timeout_ms: 1 }));
        activate(&mut r, 0, u32::MAX);
        assert!(r.frame(3, 0, true, None, t).is_some(), "a zero window reports every frame");
        r.destroy_all();
        assert_eq!(r.next_deadline(), None);
    }
}

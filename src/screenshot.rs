//! `--screenshot`: waits until the guest's screen has settled (the server's first full frame, then a quiet period),
//! writes the primary surface as PNG, and says why when it cannot.

use crate::headless::Screenshot;
use crate::protocol::constants::ChannelType;
use crate::session::display::DisplayShared;
use crate::session::{DisplayEvent, SessionEnd, SessionEvent};
use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

/// Where a screenshot run stands.
#[derive(Debug)]
pub enum WaitOutcome {
    /// Not settled yet.
    Waiting,
    /// Written; a one-line summary.
    Written(String),
    /// Given up; why, as one line.
    Failed(String),
}

/// The wait for a settled screen, fed with session events and polled against the shared frame.
#[derive(Debug)]
pub struct ScreenWait {
    options: Screenshot,
    started: Instant,
    offered: bool,
    linked: bool,
    missing: bool,
    last_error: Option<String>,
}

impl ScreenWait {
    /// Starts the clock.
    pub fn new(options: Screenshot) -> Self {
        ScreenWait { options, started: Instant::now(), offered: false, linked: false, missing: false, last_error: None }
    }

    /// Notes what the session reported about display channel 0.
    pub fn observe(&mut self, ev: &SessionEvent) {
        let is_display0 =
            |c: &crate::protocol::main_channel::ChannelId| c.channel_type == ChannelType::Display && c.id == 0;
        match ev {
            SessionEvent::ChannelOffered(c) if is_display0(c) => self.offered = true,
            SessionEvent::ChannelLinked(c) if is_display0(c) => self.linked = true,
            SessionEvent::ChannelFailed { channel, error } if is_display0(channel) => {
                self.last_error = Some(error.clone())
            }
            SessionEvent::ChannelClosed { channel, reason } if is_display0(channel) => {
                self.linked = false;
                self.last_error = Some(reason.clone());
            }
            SessionEvent::Display(DisplayEvent::NoChannel) => self.missing = true,
            _ => {}
        }
    }

    /// Writes the screen if it has settled, gives up if the time is over, or keeps waiting.
    pub fn check(&mut self, display: &DisplayShared) -> WaitOutcome {
        if self.missing {
            return WaitOutcome::Failed("the server offers no display channel".into());
        }
        let (settled, state) = {
            let f = display.lock();
            let quiet = f.last_change.map(|t| t.elapsed());
            let settled = f.marked && f.width > 0 && quiet.is_some_and(|q| q >= self.options.settle);
            let state = if f.width == 0 {
                None
            } else if !f.marked {
                Some(format!("a {}×{} screen arrived but the server's first full frame did not", f.width, f.height))
            } else {
                Some(format!(
                    "the screen kept changing (last change {} ms ago, {} needed)",
                    quiet.unwrap_or_default().as_millis(),
                    self.options.settle.as_millis()
                ))
            };
            (settled, state)
        };
        if settled {
            return self.write(display);
        }
        if self.started.elapsed() < self.options.timeout {
            return WaitOutcome::Waiting;
        }
        let why = match state {
            Some(s) => s,
            None if !self.offered => "the server has not offered a display channel".to_string(),
            None if !self.linked => match &self.last_error {
                Some(e) => format!("the display channel did not link: {e}"),
                None => "the display channel did not link".to_string(),
            },
            None => "the display channel linked but the server sent no screen".to_string(),
        };
        WaitOutcome::Failed(format!("no settled screen after {} s: {why}", self.options.timeout.as_secs()))
    }

    /// Why there is no screenshot when the session ended first.
    pub fn failure_on_end(&self, end: &SessionEnd) -> String {
        format!("the session ended before the screen settled ({end:?})")
    }

    fn write(&self, display: &DisplayShared) -> WaitOutcome {
        let Some(pixels) = display.snapshot() else {
            return WaitOutcome::Failed("the screen went away while being written".into());
        };
        let (draws, frames) = {
            let f = display.lock();
            (f.draws, f.stream_frames)
        };
        let frames = if frames > 0 { format!(", {frames} video frames") } else { String::new() };
        match write_png(&self.options.path, pixels.width, pixels.height, &pixels.data) {
            Ok(()) => WaitOutcome::Written(format!(
                "wrote the {}×{} screen to {} after {:.1} s ({draws} draws{frames})",
                pixels.width,
                pixels.height,
                self.options.path.display(),
                self.started.elapsed().as_secs_f64()
            )),
            Err(e) => WaitOutcome::Failed(format!("cannot write {}: {e}", self.options.path.display())),
        }
    }
}

/// Writes `0xAARRGGBB` pixels as an 8-bit RGB PNG.
pub fn write_png(path: &Path, width: u32, height: u32, pixels: &[u32]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // fdeflate's PNG-tuned mode: a 1920×1080 screen in tens of milliseconds instead of the default's hundreds, at a
    // slightly larger file; the screenshot is on the first-frame path that `make bench-first-frame` times.
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    let rgb: Vec<u8> = pixels.iter().flat_map(|p| [(p >> 16) as u8, (p >> 8) as u8, *p as u8]).collect();
    writer.write_image_data(&rgb).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

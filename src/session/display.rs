//! The guest's screen in the session: the display channel's [`ChannelKind`], its settings, and [`DisplayShared`],
//! the primary surface that front ends read through shared state and a repaint hook (no event queue per frame).

use super::by_channel::{ByChannel, Hooked};
use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use super::{DisplayEvent, SessionEvent};
use crate::canvas::{Area, SessionImages};
use crate::channels::display::{run_display, DisplayContext, RunningDisplays, MAX_DISPLAY_MESSAGE};
use crate::codecs::Pixels;
use crate::protocol::caps::Caps;
use crate::protocol::constants::{
    ChannelType, DISPLAY_CAP_A8_SURFACE, DISPLAY_CAP_CODEC_MJPEG, DISPLAY_CAP_COMPOSITE, DISPLAY_CAP_LZ4_COMPRESSION,
    DISPLAY_CAP_MONITORS_CONFIG, DISPLAY_CAP_MULTI_CODEC, DISPLAY_CAP_SIZED_STREAM, DISPLAY_CAP_STREAM_REPORT,
};
use crate::protocol::display::client::ImageCompression;
use crate::protocol::display::{Head, MAX_MONITORS};
use crate::protocol::main_channel::ChannelId;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Pixmap cache budget announced in DISPLAY_INIT: 20 Mi pixels (80 MiB), as spice-gtk.
pub const PIXMAP_CACHE_PIXELS: u32 = 20 << 20;
/// GLZ dictionary window announced in DISPLAY_INIT: 8 Mi pixels (32 MiB; the server accepts up to 32 Mi).
pub const GLZ_WINDOW_PIXELS: u32 = 8 << 20;
/// Past this many dirty rectangles they merge into their bounding box.
pub const MAX_DIRTY_RECTS: usize = 64;

/// Display settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DisplayConfig {
    /// Link display channels (the window and `--screenshot` do; a headless share does not, so the server spends
    /// nothing on frames nobody sees).
    pub enabled: bool,
    /// The image compression to ask the server for (PREFERRED_COMPRESSION), if any.
    pub compression: Option<ImageCompression>,
    /// The monitor the window shows first (`--monitor`, from 1 in the status bar's order), once there are as many.
    pub monitor: Option<u16>,
}

/// The session's multimedia clock, which video frames are stamped against: the server's time at MAIN_INIT (or at
/// its last MULTI_MEDIA_TIME) plus the time elapsed here since, in milliseconds, wrapping like the server's.
#[derive(Debug, Default)]
pub struct MmClock {
    base: Mutex<Option<(u32, Instant)>>,
}

impl MmClock {
    /// The server says its clock reads `mm` now.
    pub fn set(&self, mm: u32, now: Instant) {
        *self.base.lock().unwrap_or_else(|e| e.into_inner()) = Some((mm, now));
    }

    /// The clock at `now`, once the server has set it.
    pub fn at(&self, now: Instant) -> Option<u32> {
        let base = *self.base.lock().unwrap_or_else(|e| e.into_inner());
        base.map(|(mm, t)| mm.wrapping_add(now.saturating_duration_since(t).as_millis() as u32))
    }
}

/// Called when the primary surface has changed and nobody has looked yet (the window's `request_repaint`).
pub type RepaintHook = Arc<dyn Fn() + Send + Sync>;

/// The primary surface as front ends see it.
#[derive(Debug, Clone, Default)]
pub struct Frame {
    /// The display channel it comes from.
    pub channel: Option<ChannelId>,
    /// Width in pixels (0 before the first surface).
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bumped on every new primary surface (a mode change): a front end re-creates its texture.
    pub generation: u64,
    /// `width × height` pixels, `0xAARRGGBB`, top row first.
    pub pixels: Vec<u32>,
    /// Areas changed since a front end last took them (at most [`MAX_DIRTY_RECTS`]).
    pub dirty: Vec<Area>,
    /// Whether the server's first full image has arrived (MARK) on this surface.
    pub marked: bool,
    /// Draws applied to this surface.
    pub draws: u64,
    /// Messages refused (a bad image, an unsupported op) since the channel linked.
    pub refused: u64,
    /// Video stream frames drawn since the channel linked.
    pub stream_frames: u64,
    /// When the surface last changed.
    pub last_change: Option<Instant>,
    /// The heads of the last MONITORS_CONFIG (at most [`MAX_MONITORS`]), as the server sent them.
    pub heads: Vec<Head>,
}

/// One monitor shown on the primary surface: a head of MONITORS_CONFIG, cut to the surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Monitor {
    /// The head's monitor id.
    pub id: u32,
    /// Its part of the surface.
    pub area: Area,
}

/// The primary's pixels lent to the canvas ([`DisplayShared::lend`]): the frame stays locked until they are back.
pub(crate) struct Lent<'a> {
    frame: MutexGuard<'a, Frame>,
    lent: bool,
}

impl Lent<'_> {
    /// Gives the pixels back (`canvas_pixels`: the canvas' buffer for the same primary surface).
    pub(crate) fn give_back(mut self, canvas_pixels: Option<&mut Vec<u32>>) {
        if let (true, Some(px)) = (self.lent, canvas_pixels) {
            std::mem::swap(px, &mut self.frame.pixels);
        }
    }
}

impl Frame {
    /// The monitors on this surface when there are two or more (heads of MONITORS_CONFIG on it, cut to it, empty
    /// ones left out); empty when the whole surface is the one monitor.
    pub fn monitors(&self) -> Vec<Monitor> {
        let whole = Area::whole(self.width, self.height);
        let on_surface = |h: &Head| {
            let right = h.x.saturating_add(h.width);
            let bottom = h.y.saturating_add(h.height);
            let area = Area { left: h.x, top: h.y, right, bottom }.intersect(&whole);
            (h.surface_id == 0 && !area.is_empty()).then_some(Monitor { id: h.monitor_id, area })
        };
        let monitors: Vec<Monitor> = self.heads.iter().filter_map(on_surface).collect();
        if monitors.len() > 1 {
            monitors
        } else {
            Vec::new()
        }
    }

    fn note_draw(&mut self, area: Area) {
        self.add_dirty(area);
        self.draws += 1;
        self.last_change = Some(Instant::now());
    }

    fn add_dirty(&mut self, area: Area) {
        if self.dirty.len() >= MAX_DIRTY_RECTS {
            let all = self.dirty.iter().fold(area, |acc, a| acc.union(a));
            self.dirty.clear();
            self.dirty.push(all);
        } else {
            self.dirty.push(area);
        }
    }
}

/// The primary surface behind a lock, and the hook that wakes the front end.
#[derive(Default)]
pub struct DisplayShared {
    frame: Mutex<Frame>,
    hook: Mutex<Option<RepaintHook>>,
    changed: tokio::sync::Notify,
}

impl std::fmt::Debug for DisplayShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DisplayShared").finish_non_exhaustive()
    }
}

impl DisplayShared {
    /// Sets the hook called when the dirty list goes from empty to not empty.
    pub fn set_repaint_hook(&self, hook: RepaintHook) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// The frame, locked (keep it short: the display channel waits for it).
    pub fn lock(&self) -> MutexGuard<'_, Frame> {
        self.frame.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Resolves at the next change of the frame (for waiters such as `--screenshot`; the window uses the hook).
    pub async fn changed(&self) {
        self.changed.notified().await
    }

    /// A copy of the primary surface's pixels, if there is one.
    pub fn snapshot(&self) -> Option<Pixels> {
        let f = self.lock();
        (f.width > 0).then(|| Pixels { width: f.width, height: f.height, has_alpha: false, data: f.pixels.clone() })
    }

    /// Changes the frame under the lock; wakes the front end if it had nothing to draw before and now has.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Frame)) {
        let wake = {
            let mut f = self.lock();
            let was_clean = f.dirty.is_empty();
            change(&mut f);
            was_clean && !f.dirty.is_empty()
        };
        self.changed.notify_waiters();
        if wake {
            let hook = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if let Some(hook) = hook {
                hook();
            }
        }
    }

    /// A new primary surface of `width × height` with `pixels`.
    pub(crate) fn new_surface(&self, channel: ChannelId, width: u32, height: u32, pixels: Vec<u32>) {
        self.update(|f| {
            *f = Frame {
                channel: Some(channel),
                width,
                height,
                generation: f.generation + 1,
                pixels,
                dirty: vec![Area::whole(width, height)],
                marked: false,
                draws: 0,
                refused: f.refused,
                stream_frames: f.stream_frames,
                last_change: Some(Instant::now()),
                heads: Vec::new(),
            };
        });
    }

    /// The server's MONITORS_CONFIG: the front end is woken to offer the heads (at most [`MAX_MONITORS`] are kept).
    pub(crate) fn set_heads(&self, heads: &[Head]) {
        self.update(|f| {
            f.heads = heads.iter().take(usize::from(MAX_MONITORS)).copied().collect();
            let whole = Area::whole(f.width, f.height);
            if !whole.is_empty() {
                f.add_dirty(whole);
            }
        });
    }

    /// `area` of the primary changed: copies it from `source` (the canvas' primary, the same size).
    pub(crate) fn draw(&self, area: Area, source: &[u32]) {
        self.update(|f| {
            let w = f.width as usize;
            if source.len() != f.pixels.len() || w == 0 {
                return;
            }
            for y in area.top as usize..area.bottom as usize {
                let (l, r) = (y * w + area.left as usize, y * w + area.right as usize);
                if let (Some(to), Some(from)) = (f.pixels.get_mut(l..r), source.get(l..r)) {
                    to.copy_from_slice(from);
                }
            }
            f.note_draw(area);
        });
    }

    /// `area` of the primary changed in place (the canvas drew on the pixels lent from here, [`Lent`]).
    pub(crate) fn drawn(&self, area: Area) {
        self.update(|f| f.note_draw(area));
    }

    /// Lends the frame's pixels to the canvas for one draw: `canvas_pixels` (the canvas' buffer for the primary,
    /// empty since [`DisplayShared::new_surface`] took it) gets them while the frame stays locked, so a front end
    /// never sees a frame without its pixels, and nothing is copied. Give them back with [`Lent::give_back`].
    /// `size`: the canvas primary's pixel count (the frame's must match).
    pub(crate) fn lend(&self, canvas_pixels: Option<&mut Vec<u32>>, size: usize) -> Lent<'_> {
        let mut frame = self.lock();
        let lent = match canvas_pixels {
            Some(px) if px.is_empty() && size > 0 && frame.pixels.len() == size => {
                std::mem::swap(px, &mut frame.pixels);
                true
            }
            _ => false,
        };
        Lent { frame, lent }
    }

    /// Takes the dirty areas (for a front end about to upload them) with the frame's generation.
    pub fn take_dirty(&self) -> (u64, Vec<Area>) {
        let mut f = self.lock();
        (f.generation, std::mem::take(&mut f.dirty))
    }
}

/// Every display channel's primary surface by channel id: one monitor each (a VM with two qxl devices has display
/// channels 0 and 1). Display channel 0's is also [`super::SessionShared::display`].
pub type Displays = ByChannel<DisplayShared>;

impl Hooked for DisplayShared {
    fn set_repaint_hook(&self, hook: RepaintHook) {
        DisplayShared::set_repaint_hook(self, hook);
    }
}

impl ByChannel<DisplayShared> {
    /// The ids of the display channels that have a surface now, in order.
    pub fn ids(&self) -> Vec<u8> {
        self.all().into_iter().filter(|(_, d)| d.lock().width > 0).map(|(id, _)| id).collect()
    }
}

/// The display channel (type 2). Every display channel draws on its own canvas and publishes its primary surface
/// in [`Displays`] (channel 0's is also [`DisplayShared`] in the session's shared state); the session's pixmap
/// cache and GLZ dictionary are shared by all of them.
pub(crate) struct DisplayKind {
    config: DisplayConfig,
    images: SessionImages,
    displays: Arc<Displays>,
    clock: Arc<MmClock>,
    running: Arc<Mutex<RunningDisplays>>,
}

impl DisplayKind {
    pub(crate) fn new(
        config: DisplayConfig,
        primary: Arc<DisplayShared>,
        displays: Arc<Displays>,
        clock: Arc<MmClock>,
    ) -> Self {
        let images = SessionImages::new(PIXMAP_CACHE_PIXELS.into(), GLZ_WINDOW_PIXELS.into());
        displays.insert(0, primary);
        DisplayKind { config, images, displays, clock, running: Arc::default() }
    }
}

/// The display capabilities ryll advertises: MONITORS_CONFIG, COMPOSITE and A8_SURFACE (every Render operator, with
/// masks and component alpha, checked against pixman in `tests/pixman_composite.rs`), LZ4 images, and MJPEG video
/// streams (MULTI_CODEC with CODEC_MJPEG only, SIZED_STREAM, and STREAM_REPORT: playback statistics for the
/// server's bitrate control, `channels::stream_reports`). Other codecs are not offered: decoding VP8, VP9, H.264 or
/// H.265 needs a video decoder library (GStreamer, libav) that a Rust client cannot rely on, and MJPEG is what
/// spice-server always has.
pub fn display_caps() -> Caps {
    Caps::with(&[
        DISPLAY_CAP_MONITORS_CONFIG,
        DISPLAY_CAP_COMPOSITE,
        DISPLAY_CAP_A8_SURFACE,
        DISPLAY_CAP_LZ4_COMPRESSION,
        DISPLAY_CAP_SIZED_STREAM,
        DISPLAY_CAP_STREAM_REPORT,
        DISPLAY_CAP_MULTI_CODEC,
        DISPLAY_CAP_CODEC_MJPEG,
    ])
}

impl ChannelKind for DisplayKind {
    fn channel_type(&self) -> ChannelType {
        ChannelType::Display
    }

    fn caps(&self) -> Caps {
        display_caps()
    }

    fn max_message(&self) -> u32 {
        MAX_DISPLAY_MESSAGE
    }

    fn missing_event(&self) -> Option<SessionEvent> {
        Some(SessionEvent::Display(DisplayEvent::NoChannel))
    }

    fn run(&self, linked: LinkedChannel, ctx: ChannelContext) -> ChannelFuture {
        let ctx = DisplayContext {
            id: ctx.id,
            events: ctx.events,
            compression: self.config.compression,
            images: self.images.clone(),
            publish: Some(self.displays.entry(ctx.id.id)),
            clock: self.clock.clone(),
            running: self.running.clone(),
        };
        Box::pin(run_display(linked.reader, linked.writer, ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn the_frame_lends_its_pixels_under_its_lock_and_gets_them_back_drawn() {
        let shared = DisplayShared::default();
        let ch = ChannelId { channel_type: ChannelType::Display, id: 0 };
        shared.new_surface(ch, 4, 1, vec![1; 4]);
        let _ = shared.take_dirty();
        let mut canvas = Vec::new();
        let lent = shared.lend(Some(&mut canvas), 4);
        assert_eq!(canvas, [1; 4]);
        assert!(shared.frame.try_lock().is_err(), "a front end waits while the pixels are lent");
        canvas[2] = 9;
        lent.give_back(Some(&mut canvas));
        assert!(canvas.is_empty());
        shared.drawn(Area { left: 2, top: 0, right: 3, bottom: 1 });
        let (_, dirty) = shared.take_dirty();
        assert_eq!((shared.lock().pixels.clone(), dirty.len()), (vec![1, 1, 9, 1], 1));
        // A canvas primary of another size, or one that still has its pixels, borrows nothing.
        shared.lend(Some(&mut canvas), 8).give_back(Some(&mut canvas));
        let mut own = vec![5; 4];
        shared.lend(Some(&mut own), 4).give_back(Some(&mut own));
        assert_eq!((canvas.len(), own, shared.lock().pixels.len()), (0, vec![5; 4], 4));
    }

    #[test]
    fn the_hook_fires_once_per_batch_and_dirty_rects_stay_bounded() {
        let shared = DisplayShared::default();
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        shared.set_repaint_hook(Arc::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        }));
        let ch = ChannelId { channel_type: ChannelType::Display, id: 0 };
        shared.new_surface(ch, 100, 100, vec![0; 100 * 100]);
        let source = vec![7; 100 * 100];
        for i in 0..100 {
            shared.draw(Area { left: i, top: i, right: i + 1, bottom: i + 1 }, &source);
        }
        assert_eq!(wakes.load(Ordering::Relaxed), 1, "one wake until the front end takes the dirty list");
        let (generation, dirty) = shared.take_dirty();
        assert_eq!(generation, 1);
        assert!(dirty.len() <= MAX_DIRTY_RECTS, "{}", dirty.len());
        let f = shared.lock().clone();
        assert_eq!((f.draws, f.pixels[0], f.pixels[101], f.pixels[1]), (100, 7, 7, 0));
        drop(f);
        shared.draw(Area { left: 0, top: 0, right: 1, bottom: 1 }, &source);
        assert_eq!(wakes.load(Ordering::Relaxed), 2);
        assert_eq!(shared.snapshot().map(|p| (p.width, p.height)), Some((100, 100)));
    }
}

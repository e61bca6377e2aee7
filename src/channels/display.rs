//! The display channel: DISPLAY_INIT, then every display message parsed and drawn on a canvas on the channel's
//! own decoding thread, so no decode ever runs on the async runtime that serves the share.
//!
//! The read loop (the shared driver) hands each message to a bounded queue; when the decoder falls behind, the
//! queue fills, the read loop waits, and the server's ACK window throttles the server. A message that cannot be
//! parsed or drawn is refused with a rate-limited log line and costs only itself.

use super::driver::{drive, ChannelEnd, MessageHandler};
use super::io::{MessageReader, Outgoing, RawMessage, WriterHandle};
use super::stream_reports::StreamReports;
use crate::canvas::{Area, Canvas, CanvasError, Change, SessionImages};
use crate::codecs::Limits;
use crate::log_limit::limited;
use crate::protocol::base::Notify;
use crate::protocol::display::client::StreamReport;
use crate::protocol::display::client::{encode_preferred_compression, DisplayInit, ImageCompression};
use crate::protocol::display::image::image_type_name;
use crate::protocol::display::{message_name, parse_display, DisplayMessage, DrawOp};
use crate::protocol::main_channel::ChannelId;
use crate::session::display::{DisplayShared, MmClock, GLZ_WINDOW_PIXELS, PIXMAP_CACHE_PIXELS};
use crate::session::{DisplayEvent, SessionEvent};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// Largest display message: a raw 32-bit BITMAP of 4096 × 4096 and its headers, or a 16384 × 1536 strip.
pub const MAX_DISPLAY_MESSAGE: u32 = (64 << 20) + 4096;
/// Messages queued for the decoding thread before the read loop waits.
const DECODE_QUEUE: usize = 64;

/// What a display channel needs besides its socket.
pub struct DisplayContext {
    /// The channel.
    pub id: ChannelId,
    /// The session's events.
    pub events: mpsc::Sender<SessionEvent>,
    /// The compression to ask for, if any.
    pub compression: Option<ImageCompression>,
    /// The session's pixmap cache and GLZ dictionary.
    pub images: SessionImages,
    /// Where to publish the primary surface (this channel's entry in the session's `Displays`).
    pub publish: Option<Arc<DisplayShared>>,
    /// The display channels that run: the first to link starts the caches afresh on both sides.
    pub running: Arc<Mutex<RunningDisplays>>,
    /// The session's multimedia clock, for stream reports.
    pub clock: Arc<MmClock>,
}

/// The session's running display channels, and the pixmap cache and GLZ dictionary id they announce in
/// DISPLAY_INIT (the same for all of them, as the caches are shared).
///
/// spice-server keeps one pixmap cache and one GLZ dictionary per client and id, for as long as a display channel
/// of that client holds them. A relink that reaches the server before it has let go of the broken channel would
/// find the old ones, full of images the client has just dropped. So a display channel that links while no other
/// runs announces a new id: both sides start empty, however the server's teardown and the relink interleave.
#[derive(Debug, Default)]
pub struct RunningDisplays {
    count: usize,
    cache_id: u8,
}

/// Counts a running display channel for as long as it lives.
struct Running(Arc<Mutex<RunningDisplays>>);

impl Running {
    /// Counts one more; `true` if it is the only one, and the cache id to announce (a new one when alone: 1 to
    /// 255, then 1 again).
    fn enter(displays: &Arc<Mutex<RunningDisplays>>) -> (Self, bool, u8) {
        let mut d = displays.lock().unwrap_or_else(|e| e.into_inner());
        d.count += 1;
        let alone = d.count == 1;
        if alone {
            d.cache_id = d.cache_id % u8::MAX + 1;
        }
        (Running(displays.clone()), alone, d.cache_id)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut d = self.0.lock().unwrap_or_else(|e| e.into_inner());
        d.count = d.count.saturating_sub(1);
    }
}

/// The messages that open a display channel: DISPLAY_INIT with the session's cache id, then
/// PREFERRED_COMPRESSION if one is asked for.
pub fn opening_messages(compression: Option<ImageCompression>, cache_id: u8) -> Vec<Outgoing> {
    let init = DisplayInit {
        pixmap_cache_id: cache_id,
        pixmap_cache_size: PIXMAP_CACHE_PIXELS.into(),
        glz_dictionary_id: cache_id,
        glz_dictionary_window_size: GLZ_WINDOW_PIXELS as i32,
    };
    let mut out = Vec::with_capacity(2);
    if let Ok(pair) = init.encode() {
        out.push(Outgoing::from_pair(pair));
    }
    out.extend(compression.map(|c| Outgoing::from_pair(encode_preferred_compression(c))));
    out
}

/// Runs a linked display channel until it ends.
pub async fn run_display<R: AsyncRead + Unpin + Send>(
    mut reader: MessageReader<R>,
    writer: WriterHandle,
    ctx: DisplayContext,
) -> ChannelEnd {
    let (_running, alone, cache_id) = Running::enter(&ctx.running);
    if alone {
        // A display channel linking with no other one running (a relink, a reconnection) announces a new cache id,
        // so the server starts fresh caches: images kept from before would be found under ids it now uses for
        // others.
        ctx.images.clear();
    }
    for m in opening_messages(ctx.compression, cache_id) {
        if writer.data.send(m).await.is_err() {
            return ChannelEnd::Closed(None);
        }
    }
    let (tx, rx) = mpsc::channel(DECODE_QUEUE);
    let worker = Worker {
        id: ctx.id,
        events: ctx.events.clone(),
        publish: ctx.publish.clone(),
        images: ctx.images,
        clock: ctx.clock.clone(),
        replies: writer.data.clone(),
    };
    let spawned = std::thread::Builder::new().name(format!("ryll-display-{}", ctx.id.id)).spawn(move || worker.run(rx));
    if let Err(e) = spawned {
        return ChannelEnd::Failed(format!("cannot start the display decoder: {e}"));
    }
    let mut handler = DisplayHandler { queue: tx };
    drive(&mut reader, &writer, &mut handler).await
}

/// Hands display messages to the decoding thread.
struct DisplayHandler {
    queue: mpsc::Sender<RawMessage>,
}

impl MessageHandler for DisplayHandler {
    async fn on_message(&mut self, msg: RawMessage, _replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        match self.queue.send(msg).await {
            Ok(()) => None,
            Err(_) => Some(ChannelEnd::Failed("the display decoder stopped".into())),
        }
    }

    async fn on_notice(&mut self, notice: Notify) -> Option<ChannelEnd> {
        tracing::info!("display: server notice: {}", notice.message);
        None
    }
}

/// How many source images of each type the channel's draws carried (for the debug log).
#[derive(Default)]
struct ImageCounts(std::collections::BTreeMap<&'static str, u64>);

impl ImageCounts {
    fn count(&mut self, m: &DisplayMessage<'_>) {
        if matches!(m, DisplayMessage::StreamData(_) | DisplayMessage::StreamDataSized(_)) {
            *self.0.entry("MJPEG stream frame").or_default() += 1;
            return;
        }
        let src = match m {
            DisplayMessage::Draw(d) => match &d.op {
                DrawOp::Copy(c) | DrawOp::Blend(c) => Some(&c.src),
                DrawOp::Opaque(o) => Some(&o.src),
                DrawOp::Rop3(r) => Some(&r.src),
                DrawOp::Transparent(t) => Some(&t.src),
                DrawOp::AlphaBlend(a) => Some(&a.src),
                DrawOp::Composite(c) => Some(&c.src),
                _ => None,
            },
            _ => None,
        };
        if let Some(image) = src {
            *self.0.entry(image_type_name(image.descriptor.image_type)).or_default() += 1;
        }
    }
}

impl std::fmt::Display for ImageCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let parts: Vec<String> = self.0.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// The decoding thread's state: the channel's canvas and where its changes go.
struct Worker {
    id: ChannelId,
    events: mpsc::Sender<SessionEvent>,
    publish: Option<Arc<DisplayShared>>,
    images: SessionImages,
    clock: Arc<MmClock>,
    /// Where STREAM_REPORTs go (the channel's writer).
    replies: mpsc::Sender<Outgoing>,
}

/// How often the decoding thread looks for new messages while a stream report is waiting for its timeout.
const REPORT_POLL: Duration = Duration::from_millis(5);

impl Worker {
    /// The next message; while a stream report has a deadline, wakes up for it and sends what falls due.
    fn next(&self, rx: &mut mpsc::Receiver<RawMessage>, reports: &mut StreamReports) -> Option<RawMessage> {
        loop {
            for r in reports.due(Instant::now()) {
                self.report(r);
            }
            let Some(deadline) = reports.next_deadline() else { return rx.blocking_recv() };
            match rx.try_recv() {
                Ok(m) => return Some(m),
                Err(mpsc::error::TryRecvError::Disconnected) => return None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()).min(REPORT_POLL));
                }
            }
        }
    }

    fn report(&self, r: StreamReport) {
        tracing::debug!(
            "display {}: stream report: stream {} frames {} drops {} delay {} ms",
            self.id,
            r.stream_id,
            r.num_frames,
            r.num_drops,
            r.last_frame_delay
        );
        // A closed writer means the channel is ending; the report no longer matters.
        let _ = self.replies.blocking_send(Outgoing::from_pair(r.encode()));
    }

    fn run(self, mut rx: mpsc::Receiver<RawMessage>) {
        let mut canvas = Canvas::new(self.images.clone(), Limits::default());
        let mut images = ImageCounts::default();
        let mut reports = StreamReports::default();
        while let Some(msg) = self.next(&mut rx, &mut reports) {
            let applied = match parse_display(msg.msg_type, &msg.body) {
                Ok(Some(DisplayMessage::StreamActivateReport(a))) => {
                    if reports.activate(&a) {
                        tracing::debug!("display {}: stream {} asks for reports: {a:?}", self.id, a.stream_id);
                        Ok(None)
                    } else {
                        Err(format!("stream id {} out of range", a.stream_id))
                    }
                }
                Ok(Some(m)) => {
                    images.count(&m);
                    match &m {
                        DisplayMessage::StreamDestroy(id) => reports.destroy(*id),
                        DisplayMessage::StreamDestroyAll => reports.destroy_all(),
                        _ => {}
                    }
                    let applied = self.apply(&mut canvas, &m).map_err(|e| e.to_string());
                    let frame = match &m {
                        DisplayMessage::StreamData(d) => Some((d.id, d.mm_time)),
                        DisplayMessage::StreamDataSized(d) => Some((d.id, d.mm_time)),
                        _ => None,
                    };
                    if let (Some(_), Ok(_), Some(shared)) = (frame, &applied, &self.publish) {
                        shared.update(|f| f.stream_frames += 1);
                    }
                    if let Some((id, mm)) = frame {
                        let now = Instant::now();
                        if let Some(r) = reports.frame(id, mm, applied.is_ok(), self.clock.at(now), now) {
                            self.report(r);
                        }
                    }
                    if matches!(applied, Ok(Some(Change::Mark))) {
                        tracing::debug!("display {}: images so far: {images}", self.id);
                    }
                    applied
                }
                Ok(None) => {
                    tracing::debug!("display {}: {} ignored", self.id, message_name(msg.msg_type));
                    Ok(None)
                }
                Err(e) => Err(e.to_string()),
            };
            match applied {
                Ok(Some(change)) => self.publish(&mut canvas, change),
                Ok(None) => {}
                Err(e) => self.refused(msg.msg_type, &e),
            }
        }
        tracing::debug!("display {}: images in all: {images}", self.id);
    }

    /// `area` of the primary was drawn: on the lent pixels (marked), or on the canvas' own (copied).
    fn drawn(&self, canvas: &Canvas, area: Area) {
        match (&self.publish, canvas.primary()) {
            (Some(shared), Some(p)) if p.pixels.is_empty() => shared.drawn(area),
            (Some(shared), Some(p)) => shared.draw(area, &p.pixels),
            _ => {}
        }
    }

    fn refused(&self, msg_type: u16, error: &str) {
        let name = message_name(msg_type);
        limited("display message refused", |more| {
            tracing::warn!("display {}: {name} ({msg_type}) refused: {error}{more}", self.id)
        });
        if let Some(shared) = &self.publish {
            shared.update(|f| f.refused += 1);
        }
    }

    /// Applies `m`. A message that draws gets the published primary's pixels lent for the call (the published frame
    /// holds the one copy of the primary's pixels, so a draw costs no copy to publish it).
    fn apply(&self, canvas: &mut Canvas, m: &DisplayMessage<'_>) -> Result<Option<Change>, CanvasError> {
        let draws = matches!(
            m,
            DisplayMessage::Draw(_)
                | DisplayMessage::StreamData(_)
                | DisplayMessage::StreamDataSized(_)
                | DisplayMessage::Reset
        );
        let Some(shared) = self.publish.as_ref().filter(|_| draws) else { return canvas.apply(m) };
        let size = canvas.primary().map_or(0, |p| p.width as usize * p.height as usize);
        let lent = shared.lend(canvas.primary_pixels_mut(), size);
        let applied = canvas.apply(m);
        lent.give_back(canvas.primary_pixels_mut());
        applied
    }

    fn publish(&self, canvas: &mut Canvas, change: Change) {
        let event = match change {
            Change::SurfaceCreated { width, height, primary: true, .. } => {
                // The frame takes the new primary's pixels; the canvas borrows them back for each draw.
                if let (Some(shared), Some(px)) = (&self.publish, canvas.primary_pixels_mut()) {
                    shared.new_surface(self.id, width, height, std::mem::take(px));
                }
                Some(DisplayEvent::Surface { channel: self.id, width, height })
            }
            Change::Drawn { surface, area } if Some(surface) == canvas.primary_id() => {
                self.drawn(canvas, area);
                None
            }
            Change::Reset => {
                if let Some(area) = canvas.primary().map(|p| p.area()) {
                    self.drawn(canvas, area);
                }
                None
            }
            Change::Mark => {
                let first = self.publish.as_ref().is_some_and(|s| {
                    let mut f = s.lock();
                    let first = !f.marked && f.width > 0;
                    f.marked = true;
                    first
                });
                first.then_some(DisplayEvent::FirstFrame { channel: self.id })
            }
            Change::SurfaceDestroyed { primary: true, .. } => {
                if let Some(shared) = &self.publish {
                    shared.update(|f| f.marked = false);
                }
                None
            }
            Change::Monitors(m) => {
                tracing::debug!("display {}: monitors {m:?}", self.id);
                if let Some(shared) = &self.publish {
                    shared.set_heads(&m.heads);
                }
                None
            }
            _ => None,
        };
        if let Some(ev) = event {
            let _ = self.events.blocking_send(SessionEvent::Display(ev));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_channel_linking_alone_announces_a_new_cache_id() {
        let displays = Arc::new(Mutex::new(RunningDisplays::default()));
        let (first, alone, id) = Running::enter(&displays);
        assert!(alone);
        assert_eq!(id, 1);
        // A second display channel shares the caches of the first.
        let (second, alone, id) = Running::enter(&displays);
        assert!(!alone);
        assert_eq!(id, 1);
        drop(first);
        drop(second);
        // A relink once none runs: new server-side caches.
        let (again, alone, id) = Running::enter(&displays);
        assert!(alone);
        assert_eq!(id, 2);
        drop(again);
        displays.lock().unwrap().cache_id = u8::MAX;
        assert_eq!(Running::enter(&displays).2, 1, "ids wrap past 255 to 1, never 0");
    }

    #[test]
    fn display_init_carries_the_cache_id() {
        let out = opening_messages(Some(ImageCompression::Lz4), 7);
        assert_eq!(out.len(), 2);
        let init = DisplayInit {
            pixmap_cache_id: 7,
            pixmap_cache_size: PIXMAP_CACHE_PIXELS.into(),
            glz_dictionary_id: 7,
            glz_dictionary_window_size: GLZ_WINDOW_PIXELS as i32,
        };
        let want = Outgoing::from_pair(init.encode().unwrap());
        assert_eq!(format!("{:?}", out[0]), format!("{want:?}"));
    }
}

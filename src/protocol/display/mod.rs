//! Display-channel messages (spice.proto `channel DisplayChannel`): pure, bounded parsers of every server message
//! and encoders of the client's messages.
//!
//! Pointers inside a message (the source image of a draw, a brush's pattern, a mask, a palette, a path, a glyph
//! string) are u32 offsets from the start of the message body, 0 meaning none. Every pointer is checked: it must
//! land inside the body and after the message's fixed part (the data a pointer refers to always follows the fixed
//! part, so an offset into it would make two fields share bytes). Nesting is at most three deep (a pattern brush's
//! image's palette) and never recursive, so no offset can make the parser loop. Pixel and codec data are returned
//! as slices of the body: nothing is copied, and only counts bounded by the `MAX_*` limits below and by the bytes
//! actually present are allocated.
//!
//! What the parsers leave to the canvas: whether a rectangle lies on its surface ([`types::Rect::within`]), whether
//! a surface, stream or cache entry exists, and image sizes (the codecs check those against `codecs::Limits`).
//! Surface sizes are checked here ([`MAX_SURFACE_SIDE`], [`MAX_SURFACE_PIXELS`]) because a surface is allocated
//! as soon as it is created.
//!
//! # Layout
//! - [`types`]: Rect, Point, Clip, DisplayBase, Brush, QMask, ROP descriptor bits.
//! - [`image`]: the image descriptor, each image type's header and data, palettes.
//! - [`draw`]: the draw operations (FILL … COMPOSITE, COPY_BITS), paths, line attributes, glyph strings.
//! - [`surface`]: SURFACE_CREATE / SURFACE_DESTROY, MODE, MONITORS_CONFIG.
//! - [`stream`]: video stream messages.
//! - [`cache`]: INVAL_LIST, INVAL_ALL_PIXMAPS, INVAL_PALETTE.
//! - [`client`]: DISPLAY_INIT, STREAM_REPORT, PREFERRED_COMPRESSION, PREFERRED_VIDEO_CODEC_TYPE, GL_DRAW_DONE.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use super::constants::msg;
use super::wire::Reader;
use super::{ProtocolError, Result};
use std::cell::Cell;

pub mod cache;
pub mod client;
pub mod draw;
pub mod image;
pub mod stream;
pub mod surface;
#[cfg(test)]
mod testenc;
pub mod types;

pub use cache::{ResourceId, WaitForChannel};
pub use draw::{Draw, DrawOp};
pub use image::{Image, ImageData, ImageDescriptor, Palette, PaletteRef};
pub use stream::{StreamActivateReport, StreamClip, StreamCreate, StreamData, StreamDataSized};
pub use surface::{Head, Mode, MonitorsConfig, SurfaceCreate, SurfaceFormat};
pub use types::{Brush, Clip, DisplayBase, Point, QMask, Rect};

/// Largest surface width or height accepted (as `codecs::Limits::default`).
pub const MAX_SURFACE_SIDE: u32 = 16_384;
/// Largest surface area accepted in pixels (64 Mi, 256 MiB at 4 bytes a pixel; as `codecs::Limits::default`).
pub const MAX_SURFACE_PIXELS: u64 = 64 << 20;
/// Most clip rectangles in one clip (a 256 KiB list; guest drivers send a handful).
pub const MAX_CLIP_RECTS: u32 = 16_384;
/// Most palette entries (an 8-bit index).
pub const MAX_PALETTE_ENTRIES: u16 = 256;
/// Most monitors in MONITORS_CONFIG (QXL devices have at most 16 heads).
pub const MAX_MONITORS: u16 = 16;
/// Most resources in one INVAL_LIST (the server frees cache entries for at most a few images per message).
pub const MAX_INVAL_RESOURCES: u16 = 16_384;
/// Most glyphs in one DRAW_TEXT string.
pub const MAX_GLYPHS: u16 = 16_384;
/// Most segments in one DRAW_STROKE path.
pub const MAX_PATH_SEGMENTS: u32 = 65_536;
/// Most points in one path segment.
pub const MAX_PATH_POINTS: u32 = 1 << 20;
/// Video stream ids are below this (SPICE_MAX_NUM_STREAMS).
pub const MAX_STREAMS: u32 = 64;

/// A display-channel message from the server.
///
/// Draws make this enum a few hundred bytes; it is built once per message and consumed at once, so the size is
/// cheaper than a heap allocation per draw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)]
pub enum DisplayMessage<'a> {
    /// MODE (legacy): create a primary surface of this size and depth.
    Mode(Mode),
    /// MARK: the initial image is complete; start showing the display.
    Mark,
    /// RESET: clear the primary surface and the palette cache.
    Reset,
    /// INVAL_LIST: drop these pixmap-cache entries.
    InvalList(Vec<ResourceId>),
    /// INVAL_ALL_PIXMAPS: once the listed channels have processed the listed messages, clear the pixmap cache.
    InvalAllPixmaps(Vec<WaitForChannel>),
    /// INVAL_PALETTE: drop the palette-cache entry with this id.
    InvalPalette(u64),
    /// INVAL_ALL_PALETTES: clear the palette cache.
    InvalAllPalettes,
    /// STREAM_CREATE.
    StreamCreate(StreamCreate),
    /// STREAM_DATA: one frame.
    StreamData(StreamData<'a>),
    /// STREAM_DATA_SIZED: one frame with its own size and destination.
    StreamDataSized(StreamDataSized<'a>),
    /// STREAM_CLIP: a new clip for a stream.
    StreamClip(StreamClip),
    /// STREAM_DESTROY with the stream id.
    StreamDestroy(u32),
    /// STREAM_DESTROY_ALL.
    StreamDestroyAll,
    /// STREAM_ACTIVATE_REPORT.
    StreamActivateReport(StreamActivateReport),
    /// A draw operation or COPY_BITS (all share [`DisplayBase`]).
    Draw(Draw<'a>),
    /// SURFACE_CREATE.
    SurfaceCreate(SurfaceCreate),
    /// SURFACE_DESTROY with the surface id.
    SurfaceDestroy(u32),
    /// MONITORS_CONFIG.
    MonitorsConfig(MonitorsConfig),
}

/// Parses a display-channel server message body. Returns `Ok(None)` for types that are not display messages
/// (the base messages below 101, unknown numbers) and for the GL and quality-indicator messages, which ryll
/// never asks for (they need the GL_SCANOUT capability over a unix socket).
pub fn parse_display(msg_type: u16, body: &[u8]) -> Result<Option<DisplayMessage<'_>>> {
    let b = Body::new(body);
    let mut r = Reader::new(body, message_name(msg_type));
    let parsed = match msg_type {
        msg::DISPLAY_MODE => DisplayMessage::Mode(Mode::parse(&mut r)?),
        msg::DISPLAY_MARK => DisplayMessage::Mark,
        msg::DISPLAY_RESET => DisplayMessage::Reset,
        msg::DISPLAY_INVAL_LIST => DisplayMessage::InvalList(cache::parse_inval_list(&mut r)?),
        msg::DISPLAY_INVAL_ALL_PIXMAPS => DisplayMessage::InvalAllPixmaps(cache::parse_wait_list(&mut r)?),
        msg::DISPLAY_INVAL_PALETTE => DisplayMessage::InvalPalette(r.u64()?),
        msg::DISPLAY_INVAL_ALL_PALETTES => DisplayMessage::InvalAllPalettes,
        msg::DISPLAY_STREAM_CREATE => DisplayMessage::StreamCreate(StreamCreate::parse(&mut r)?),
        msg::DISPLAY_STREAM_DATA => DisplayMessage::StreamData(StreamData::parse(&mut r)?),
        msg::DISPLAY_STREAM_DATA_SIZED => DisplayMessage::StreamDataSized(StreamDataSized::parse(&mut r)?),
        msg::DISPLAY_STREAM_CLIP => DisplayMessage::StreamClip(StreamClip::parse(&mut r)?),
        msg::DISPLAY_STREAM_DESTROY => DisplayMessage::StreamDestroy(r.u32()?),
        msg::DISPLAY_STREAM_DESTROY_ALL => DisplayMessage::StreamDestroyAll,
        msg::DISPLAY_STREAM_ACTIVATE_REPORT => {
            DisplayMessage::StreamActivateReport(StreamActivateReport::parse(&mut r)?)
        }
        msg::DISPLAY_COPY_BITS
        | msg::DISPLAY_DRAW_FILL..=msg::DISPLAY_DRAW_ALPHA_BLEND
        | msg::DISPLAY_DRAW_COMPOSITE => DisplayMessage::Draw(Draw::parse(msg_type, &mut r, &b)?),
        msg::DISPLAY_SURFACE_CREATE => DisplayMessage::SurfaceCreate(SurfaceCreate::parse(&mut r)?),
        msg::DISPLAY_SURFACE_DESTROY => DisplayMessage::SurfaceDestroy(r.u32()?),
        msg::DISPLAY_MONITORS_CONFIG => DisplayMessage::MonitorsConfig(MonitorsConfig::parse(&mut r)?),
        _ => return Ok(None),
    };
    b.check_pointers(r.position())?;
    Ok(Some(parsed))
}

/// The spice.proto name of a display message type, for errors and logs (`"display message"` if unknown).
pub fn message_name(msg_type: u16) -> &'static str {
    match msg_type {
        msg::DISPLAY_MODE => "MODE",
        msg::DISPLAY_MARK => "MARK",
        msg::DISPLAY_RESET => "RESET",
        msg::DISPLAY_COPY_BITS => "COPY_BITS",
        msg::DISPLAY_INVAL_LIST => "INVAL_LIST",
        msg::DISPLAY_INVAL_ALL_PIXMAPS => "INVAL_ALL_PIXMAPS",
        msg::DISPLAY_INVAL_PALETTE => "INVAL_PALETTE",
        msg::DISPLAY_INVAL_ALL_PALETTES => "INVAL_ALL_PALETTES",
        msg::DISPLAY_STREAM_CREATE => "STREAM_CREATE",
        msg::DISPLAY_STREAM_DATA => "STREAM_DATA",
        msg::DISPLAY_STREAM_CLIP => "STREAM_CLIP",
        msg::DISPLAY_STREAM_DESTROY => "STREAM_DESTROY",
        msg::DISPLAY_STREAM_DESTROY_ALL => "STREAM_DESTROY_ALL",
        msg::DISPLAY_DRAW_FILL => "DRAW_FILL",
        msg::DISPLAY_DRAW_OPAQUE => "DRAW_OPAQUE",
        msg::DISPLAY_DRAW_COPY => "DRAW_COPY",
        msg::DISPLAY_DRAW_BLEND => "DRAW_BLEND",
        msg::DISPLAY_DRAW_BLACKNESS => "DRAW_BLACKNESS",
        msg::DISPLAY_DRAW_WHITENESS => "DRAW_WHITENESS",
        msg::DISPLAY_DRAW_INVERS => "DRAW_INVERS",
        msg::DISPLAY_DRAW_ROP3 => "DRAW_ROP3",
        msg::DISPLAY_DRAW_STROKE => "DRAW_STROKE",
        msg::DISPLAY_DRAW_TEXT => "DRAW_TEXT",
        msg::DISPLAY_DRAW_TRANSPARENT => "DRAW_TRANSPARENT",
        msg::DISPLAY_DRAW_ALPHA_BLEND => "DRAW_ALPHA_BLEND",
        msg::DISPLAY_SURFACE_CREATE => "SURFACE_CREATE",
        msg::DISPLAY_SURFACE_DESTROY => "SURFACE_DESTROY",
        msg::DISPLAY_STREAM_DATA_SIZED => "STREAM_DATA_SIZED",
        msg::DISPLAY_MONITORS_CONFIG => "MONITORS_CONFIG",
        msg::DISPLAY_DRAW_COMPOSITE => "DRAW_COMPOSITE",
        msg::DISPLAY_STREAM_ACTIVATE_REPORT => "STREAM_ACTIVATE_REPORT",
        msg::DISPLAY_GL_SCANOUT_UNIX => "GL_SCANOUT_UNIX",
        msg::DISPLAY_GL_DRAW => "GL_DRAW",
        msg::DISPLAY_QUALITY_INDICATOR => "QUALITY_INDICATOR",
        _ => "display message",
    }
}

/// A message body that pointers are resolved against. It remembers the lowest offset followed so that
/// [`Body::check_pointers`] can refuse one that points back into the fixed part.
struct Body<'a> {
    bytes: &'a [u8],
    lowest: Cell<Option<(usize, &'static str)>>,
}

impl<'a> Body<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Body { bytes, lowest: Cell::new(None) }
    }

    /// A reader at `offset`, or `None` for the null pointer. `what` names the field in errors.
    fn pointer(&self, offset: u32, what: &'static str) -> Result<Option<Reader<'a>>> {
        if offset == 0 {
            return Ok(None);
        }
        let at = offset as usize;
        let tail = self.bytes.get(at..).filter(|t| !t.is_empty()).ok_or_else(|| {
            ProtocolError::invalid(what, format!("offset {offset} is outside the {}-byte message", self.bytes.len()))
        })?;
        if self.lowest.get().is_none_or(|(low, _)| at < low) {
            self.lowest.set(Some((at, what)));
        }
        Ok(Some(Reader::new(tail, what)))
    }

    /// Like [`Body::pointer`], for fields that must not be null.
    fn required(&self, offset: u32, what: &'static str) -> Result<Reader<'a>> {
        self.pointer(offset, what)?.ok_or_else(|| ProtocolError::invalid(what, "null pointer"))
    }

    /// Refuses the message if a pointer led into its first `fixed_len` bytes.
    fn check_pointers(&self, fixed_len: usize) -> Result<()> {
        match self.lowest.get() {
            Some((at, what)) if at < fixed_len => Err(ProtocolError::invalid(
                what,
                format!("offset {at} points into the message's {fixed_len}-byte fixed part"),
            )),
            _ => Ok(()),
        }
    }
}

/// Reads a u32 count, refusing more than `max` or more `item_size`-byte items than the reader holds, so that a
/// vector of that many items can be allocated.
fn read_count(r: &mut Reader<'_>, what: &'static str, max: u32, item_size: usize) -> Result<usize> {
    let n = r.u32()?;
    bounded_count(r, what, n, max, item_size)
}

/// Checks a count already read (see [`read_count`]).
fn bounded_count(r: &Reader<'_>, what: &'static str, n: u32, max: u32, item_size: usize) -> Result<usize> {
    ProtocolError::check_max(what, n.into(), max.into())?;
    let n = n as usize;
    let need = n.saturating_mul(item_size);
    if need > r.remaining() {
        return Err(ProtocolError::Truncated {
            what,
            need: r.position().saturating_add(need),
            have: r.position().saturating_add(r.remaining()),
        });
    }
    Ok(n)
}

/// Reads `u32 size` then that many bytes.
fn sized_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8]> {
    let n = r.u32()?;
    r.bytes(n as usize)
}

#[cfg(test)]
mod tests;

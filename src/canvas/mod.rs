//! The display canvas: the surfaces a display channel draws on, and the draw operations over decoded images.
//!
//! Pure and synchronous, with no I/O: the display channel hands each parsed [`DisplayMessage`] to
//! [`Canvas::apply`], which changes surfaces and caches and says what changed ([`Change`]), or refuses the message
//! with a [`CanvasError`] naming why. A refused message changes nothing beyond what it had to decode for the
//! caches (trap 6 of the display facts: cache-bound and GLZ images are decoded even when the draw lands nowhere),
//! and the canvas stays usable: a corrupt image costs that one draw.
//!
//! - [`surface`]: surfaces (`0xAARRGGBB`, every format kept as its bits allow).
//! - [`region`]: box ∩ surface ∩ clip rectangles as disjoint areas.
//! - [`images`]: decoders, the pixmap cache and GLZ dictionary shared by the session ([`SessionImages`]), the
//!   palette cache.
//! - [`mask`]: draw masks (QMask), which further restrict the areas a draw lands on.
//! - [`rop`]: ROP descriptors and ternary ROPs.
//! - [`composite`]: X Render compositing (COMPOSITE), over A8 and colour surfaces; [`render_op`]: its operators.
//! - [`stroke`]: paths of 1-pixel lines; [`text`]: glyph strings.
//! - [`draw`]: the pixel work of each op; [`blend`]: colour keys and alpha (premultiplied OVER).
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod blend;
pub mod composite;
pub mod cursor;
pub mod draw;
pub mod images;
pub mod mask;
pub mod region;
pub mod render_op;
pub mod rop;
pub mod stream;
pub mod stroke;
pub mod surface;
pub mod text;

pub use images::SessionImages;
pub use region::Area;
pub use surface::Surface;

use crate::codecs::{DecodeError, Limits, Pixels};
use crate::protocol::display::draw::{ALPHA_DEST_HAS_ALPHA, ALPHA_SRC_SURFACE_HAS_ALPHA};
use crate::protocol::display::types::{ropd, ScaleMode};
use crate::protocol::display::{Brush, Draw, DrawOp, Image, ImageData, MonitorsConfig, QMask, SurfaceFormat};
use crate::protocol::display::{DisplayMessage, Rect};
use draw::{BrushSource, SourceMap};
use images::PaletteCache;
use rop::Rop;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// The most surfaces one display channel may hold at once (the primary and off-screen ones).
pub const MAX_SURFACES: usize = 1024;

/// The most pixels all surfaces of one canvas may hold together (1 GiB of pixels at 4 bytes each).
pub const MAX_TOTAL_SURFACE_PIXELS: u64 = 256 << 20;

/// What a message changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A surface was created (the primary is the screen: a new size for the window).
    SurfaceCreated {
        /// Its id.
        id: u32,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Whether it is the primary surface.
        primary: bool,
    },
    /// A surface was destroyed.
    SurfaceDestroyed {
        /// Its id.
        id: u32,
        /// Whether it was the primary surface.
        primary: bool,
    },
    /// Pixels of a surface changed within `area`.
    Drawn {
        /// The surface.
        surface: u32,
        /// The bounding area of what changed.
        area: Area,
    },
    /// MARK: the server's first complete image has been sent.
    Mark,
    /// RESET: the primary was cleared and the palette cache dropped.
    Reset,
    /// The server's monitor layout.
    Monitors(MonitorsConfig),
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CanvasError {
    /// An image could not be decoded.
    #[error("image: {0}")]
    Decode(#[from] DecodeError),
    /// A draw or a SURFACE image names a surface that does not exist.
    #[error("no surface {0}")]
    NoSurface(u32),
    /// A stream message names a stream that is not live.
    #[error("no stream {0}")]
    NoStream(u32),
    /// FROM_CACHE names an image the pixmap cache does not hold.
    #[error("image {0} is not in the pixmap cache")]
    CacheMiss(u64),
    /// FROM_CACHE_LOSSLESS names an image held only in its lossy form.
    #[error("image {0} is cached only in lossy form")]
    CacheLossy(u64),
    /// A CACHE_ME image would take the pixmap cache beyond its budget.
    #[error("image {id} of {pixels} pixels does not fit the pixmap cache budget of {budget} pixels")]
    CacheFull {
        /// The image id.
        id: u64,
        /// Its pixels.
        pixels: u64,
        /// The budget announced in DISPLAY_INIT.
        budget: u64,
    },
    /// A palette image refers to a palette the cache does not hold.
    #[error("palette {0} is not in the palette cache")]
    MissingPalette(u64),
    /// Surfaces beyond the bounds of one canvas.
    #[error("{0}")]
    TooManySurfaces(String),
    /// A value that contradicts the canvas' state or the message itself.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An operation or feature this canvas does not draw.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
}

impl CanvasError {
    /// Shorthand for [`CanvasError::Invalid`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        CanvasError::Invalid { what, reason: reason.into() }
    }
}

/// The surfaces and caches of one display channel.
#[derive(Debug)]
pub struct Canvas {
    surfaces: BTreeMap<u32, Surface>,
    primary: Option<u32>,
    palettes: PaletteCache,
    session: SessionImages,
    limits: Limits,
    streams: stream::Streams,
}

impl Canvas {
    /// An empty canvas using the session's shared caches.
    pub fn new(session: SessionImages, limits: Limits) -> Self {
        Canvas {
            surfaces: BTreeMap::new(),
            primary: None,
            palettes: PaletteCache::default(),
            session,
            limits,
            streams: stream::Streams::default(),
        }
    }

    /// The primary surface, once the server created it.
    pub fn primary(&self) -> Option<&Surface> {
        self.primary.and_then(|id| self.surfaces.get(&id))
    }

    /// The primary surface's pixel buffer, which its owner may swap for another of the same size between messages
    /// (the display channel keeps it in the published frame and lends it back for each draw; while lent out it is
    /// empty, and a message drawing on an empty primary changes nothing).
    pub fn primary_pixels_mut(&mut self) -> Option<&mut Vec<u32>> {
        self.primary.and_then(|id| self.surfaces.get_mut(&id)).map(|s| &mut s.pixels)
    }

    /// The id of the primary surface.
    pub fn primary_id(&self) -> Option<u32> {
        self.primary
    }

    /// The surface `id`.
    pub fn surface(&self, id: u32) -> Option<&Surface> {
        self.surfaces.get(&id)
    }

    /// Applies one display message.
    pub fn apply(&mut self, msg: &DisplayMessage<'_>) -> Result<Option<Change>, CanvasError> {
        match msg {
            DisplayMessage::SurfaceCreate(c) => {
                let primary = c.flags & crate::protocol::display::surface::SURFACE_PRIMARY != 0 || c.surface_id == 0;
                self.create_surface(c.surface_id, c.width, c.height, c.format, primary)
            }
            DisplayMessage::Mode(m) => {
                let format = if m.bits == 32 { SurfaceFormat::Xrgb32 } else { SurfaceFormat::Rgb555 };
                self.create_surface(0, m.x_res, m.y_res, format, true)
            }
            DisplayMessage::SurfaceDestroy(id) => Ok(self.surfaces.remove(id).map(|s| {
                self.streams.drop_surface(*id);
                if self.primary == Some(*id) {
                    self.primary = None;
                }
                Change::SurfaceDestroyed { id: *id, primary: s.primary }
            })),
            DisplayMessage::Mark => Ok(Some(Change::Mark)),
            DisplayMessage::Reset => {
                self.palettes.clear();
                let Some(id) = self.primary else { return Ok(Some(Change::Reset)) };
                if let Some(s) = self.surfaces.get_mut(&id) {
                    let clear = s.store(0xff00_0000);
                    s.pixels.fill(clear);
                }
                Ok(Some(Change::Reset))
            }
            DisplayMessage::InvalList(ids) => {
                let mut cache = self.session.pixmaps();
                ids.iter().for_each(|r| cache.remove(r.id));
                Ok(None)
            }
            // With one display channel there is nothing to wait for: its own earlier messages were processed.
            DisplayMessage::InvalAllPixmaps(_) => {
                self.session.pixmaps().clear();
                Ok(None)
            }
            DisplayMessage::InvalPalette(id) => {
                self.palettes.remove(*id);
                Ok(None)
            }
            DisplayMessage::InvalAllPalettes => {
                self.palettes.clear();
                Ok(None)
            }
            DisplayMessage::MonitorsConfig(m) => Ok(Some(Change::Monitors(m.clone()))),
            DisplayMessage::Draw(d) => self.draw(d),
            DisplayMessage::StreamCreate(c) => self.streams.create(c).map(|()| None),
            DisplayMessage::StreamClip(c) => self.streams.clip(c).map(|()| None),
            DisplayMessage::StreamDestroy(id) => {
                self.streams.destroy(*id);
                Ok(None)
            }
            DisplayMessage::StreamDestroyAll => {
                self.streams.destroy_all();
                Ok(None)
            }
            DisplayMessage::StreamData(d) => {
                let frame = self.streams.frame(d.id, None, d.data, &self.limits)?;
                self.draw_frame(frame)
            }
            DisplayMessage::StreamDataSized(d) => {
                let frame = self.streams.frame(d.id, Some((d.width, d.height, d.dest)), d.data, &self.limits)?;
                self.draw_frame(frame)
            }
            // Sent only to a client with the STREAM_REPORT capability, which ryll does not advertise.
            DisplayMessage::StreamActivateReport(_) => Err(CanvasError::Unsupported("stream reports")),
        }
    }

    fn create_surface(
        &mut self,
        id: u32,
        width: u32,
        height: u32,
        format: SurfaceFormat,
        primary: bool,
    ) -> Result<Option<Change>, CanvasError> {
        let others: u64 = self
            .surfaces
            .iter()
            .filter(|(k, _)| **k != id)
            .map(|(_, s)| u64::from(s.width) * u64::from(s.height))
            .sum();
        let others_count = self.surfaces.keys().filter(|k| **k != id).count();
        if others_count >= MAX_SURFACES {
            return Err(CanvasError::TooManySurfaces(format!("more than {MAX_SURFACES} surfaces")));
        }
        if others + u64::from(width) * u64::from(height) > MAX_TOTAL_SURFACE_PIXELS {
            return Err(CanvasError::TooManySurfaces(format!(
                "surface {id} of {width}×{height} would take all surfaces beyond {MAX_TOTAL_SURFACE_PIXELS} pixels"
            )));
        }
        let surface = Surface::new(width, height, format, primary, &self.limits)?;
        if primary {
            if let Some(old) = self.primary.filter(|old| *old != id) {
                self.surfaces.remove(&old);
            }
            self.primary = Some(id);
        } else if self.primary == Some(id) {
            self.primary = None;
        }
        self.surfaces.insert(id, surface);
        Ok(Some(Change::SurfaceCreated { id, width, height, primary }))
    }

    /// Resolves an image to pixels: decoded (and cached as asked), from the pixmap cache, or copied from a surface.
    fn image(&mut self, image: &Image<'_>) -> Result<Arc<Pixels>, CanvasError> {
        let id = image.descriptor.id;
        match &image.data {
            ImageData::FromCache => self.session.pixmaps().get(id).map(|(p, _)| p).ok_or(CanvasError::CacheMiss(id)),
            ImageData::FromCacheLossless => match self.session.pixmaps().get(id) {
                Some((p, false)) => Ok(p),
                Some((_, true)) => Err(CanvasError::CacheLossy(id)),
                None => Err(CanvasError::CacheMiss(id)),
            },
            ImageData::Surface(sid) => {
                let s = self.surfaces.get(sid).ok_or(CanvasError::NoSurface(*sid))?;
                Ok(Arc::new(s.copy_area(&s.area())))
            }
            _ => images::decode(image, &mut self.palettes, &self.session, &self.limits).map(|(p, _)| p),
        }
    }

    /// A brush for drawing on surface `sid`: a solid colour is in the surface's own pixel format.
    fn brush(&mut self, brush: &Brush<'_>, sid: u32) -> Result<BrushSource, CanvasError> {
        let format = self.surfaces.get(&sid).map_or(SurfaceFormat::Xrgb32, |s| s.format);
        Ok(match brush {
            Brush::None => BrushSource::None,
            Brush::Solid(c) => BrushSource::Solid(surface::wire_color(format, *c)),
            Brush::Pattern { image, pos } => BrushSource::Pattern(self.image(image)?, *pos),
        })
    }

    fn draw(&mut self, d: &Draw<'_>) -> Result<Option<Change>, CanvasError> {
        let sid = d.base.surface_id;
        let (w, h) = self.surfaces.get(&sid).map(|s| (s.width, s.height)).ok_or(CanvasError::NoSurface(sid))?;
        let mut areas = region::effective(&d.base.bbox, &d.base.clip, w, h);
        if let (Some(m), false) = (op_mask(&d.op), areas.is_empty()) {
            if let Some(m) = mask::resolve(m, &d.base.bbox, &mut self.palettes, &self.session, &self.limits)? {
                areas = m.restrict(&areas);
            }
        }
        if areas.is_empty() {
            // Trap 6: the caches must still see what this draw would have decoded.
            self.touch(&d.op)?;
            return Ok(None);
        }
        let bbox = &d.base.bbox;
        let changed = match &d.op {
            DrawOp::Copy(c) | DrawOp::Blend(c) => {
                let rop = Rop::from_descriptor(c.rop, ropd::INVERS_SRC)?;
                let src = self.image(&c.src)?;
                let map = SourceMap::new(bbox, &src, &c.src_area, c.scale_mode)?;
                draw::copy(self.target(sid)?, &areas, &map, &src, rop);
                areas
            }
            DrawOp::Opaque(o) => {
                let rop = Rop::from_descriptor(o.rop, ropd::INVERS_BRUSH)?;
                let src = self.image(&o.src)?;
                let brush = self.brush(&o.brush, sid)?;
                let map = SourceMap::new(bbox, &src, &o.src_area, o.scale_mode)?;
                draw::opaque(self.target(sid)?, &areas, &map, &src, &brush, rop);
                areas
            }
            DrawOp::Fill(f) => {
                let rop = Rop::from_descriptor(f.rop, ropd::INVERS_BRUSH)?;
                let brush = self.brush(&f.brush, sid)?;
                draw::fill(self.target(sid)?, &areas, &brush, rop);
                areas
            }
            DrawOp::Blackness(_) | DrawOp::Whiteness(_) | DrawOp::Invers(_) => {
                let bits = match &d.op {
                    DrawOp::Blackness(_) => ropd::OP_BLACKNESS,
                    DrawOp::Whiteness(_) => ropd::OP_WHITENESS,
                    _ => ropd::OP_INVERS,
                };
                draw::fill(self.target(sid)?, &areas, &BrushSource::None, Rop::from_descriptor(bits, 0)?);
                areas
            }
            DrawOp::CopyBits(src_pos) => draw::copy_bits(self.target(sid)?, &areas, bbox, *src_pos),
            DrawOp::Rop3(r) => {
                let src = self.image(&r.src)?;
                let brush = self.brush(&r.brush, sid)?;
                let map = SourceMap::new(bbox, &src, &r.src_area, r.scale_mode)?;
                draw::rop3(self.target(sid)?, &areas, &map, &src, &brush, r.rop3);
                areas
            }
            DrawOp::Stroke(st) => {
                let rop = Rop::from_descriptor(st.fore_mode, ropd::INVERS_BRUSH)?;
                let brush = self.brush(&st.brush, sid)?;
                let pixels = stroke::rasterize(&st.path, &st.style, st.line_flags, &areas)?;
                draw::fill(self.target(sid)?, &pixels, &brush, rop);
                pixels
            }
            DrawOp::Text(t) => {
                let fore = (self.brush(&t.fore_brush, sid)?, Rop::from_descriptor(t.fore_mode, ropd::INVERS_BRUSH)?);
                let back = match &t.back_brush {
                    Brush::None => None,
                    b => Some((self.brush(b, sid)?, Rop::from_descriptor(t.back_mode, ropd::INVERS_BRUSH)?)),
                };
                let back_area = region::clamp(&t.back_area, w, h);
                let how = text::TextPaint { fore, back, back_area };
                text::text(self.target(sid)?, &areas, &t.glyphs, t.string_flags, &how)
            }
            DrawOp::Transparent(t) => {
                let src = self.image(&t.src)?;
                let map = SourceMap::new(bbox, &src, &t.src_area, ScaleMode::Nearest)?;
                blend::transparent(self.target(sid)?, &areas, &map, &src, t.src_color);
                areas
            }
            DrawOp::AlphaBlend(a) => {
                let src = self.image(&a.src)?;
                if a.alpha == 0 {
                    return Ok(None);
                }
                let src_alpha = match a.src.data {
                    ImageData::Surface(_) => a.alpha_flags & ALPHA_SRC_SURFACE_HAS_ALPHA != 0,
                    _ => src.has_alpha,
                };
                let dest_alpha = a.alpha_flags & ALPHA_DEST_HAS_ALPHA != 0;
                let how = blend::AlphaInputs { alpha: a.alpha, src_alpha, dest_alpha };
                // The reference canvas scales an alpha-blended source to the nearest pixel.
                let map = SourceMap::new(bbox, &src, &a.src_area, ScaleMode::Nearest)?;
                blend::alpha_blend(self.target(sid)?, &areas, &map, &src, how);
                areas
            }
            DrawOp::Composite(cp) => {
                let src = self.image(&cp.src)?;
                let mask = cp.mask.as_ref().map(|m| self.image(m)).transpose()?;
                let how = composite::Compositing::of(cp, &src, mask.as_deref(), bbox)?;
                composite::composite(self.target(sid)?, &areas, &how)?;
                areas
            }
        };
        let area = region::bounds(&changed);
        Ok((!area.is_empty()).then_some(Change::Drawn { surface: sid, area }))
    }

    /// Draws a decoded stream frame scaled into its destination, cut by the stream's clip and its surface.
    fn draw_frame(&mut self, frame: stream::Frame) -> Result<Option<Change>, CanvasError> {
        let sid = frame.surface_id;
        let target = self.target(sid)?;
        let areas = stream::frame_areas(&frame, target.width, target.height);
        let whole =
            Rect { top: 0, left: 0, bottom: frame_side(frame.pixels.height), right: frame_side(frame.pixels.width) };
        let map =
            SourceMap::new(&frame.dest, &frame.pixels, &whole, crate::protocol::display::types::ScaleMode::Nearest)?;
        draw::copy(target, &areas, &map, &frame.pixels, Rop::PUT);
        let area = region::bounds(&areas);
        Ok((!area.is_empty()).then_some(Change::Drawn { surface: sid, area }))
    }

    fn target(&mut self, sid: u32) -> Result<&mut Surface, CanvasError> {
        self.surfaces.get_mut(&sid).ok_or(CanvasError::NoSurface(sid))
    }

    /// Decodes the images of a draw that lands nowhere when the caches need them.
    fn touch(&mut self, op: &DrawOp<'_>) -> Result<(), CanvasError> {
        fn pattern<'b, 'a>(b: &'b Brush<'a>) -> Option<&'b Image<'a>> {
            match b {
                Brush::Pattern { image, .. } => Some(image),
                _ => None,
            }
        }
        let images: Vec<&Image<'_>> = match op {
            DrawOp::Copy(c) | DrawOp::Blend(c) => vec![&c.src],
            DrawOp::Opaque(o) => [Some(&o.src), pattern(&o.brush)].into_iter().flatten().collect(),
            DrawOp::Rop3(r) => [Some(&r.src), pattern(&r.brush)].into_iter().flatten().collect(),
            DrawOp::Fill(f) => pattern(&f.brush).into_iter().collect(),
            DrawOp::Transparent(t) => vec![&t.src],
            DrawOp::AlphaBlend(a) => vec![&a.src],
            DrawOp::Composite(c) => [Some(&c.src), c.mask.as_ref()].into_iter().flatten().collect(),
            DrawOp::Stroke(s) => pattern(&s.brush).into_iter().collect(),
            DrawOp::Text(t) => [pattern(&t.fore_brush), pattern(&t.back_brush)].into_iter().flatten().collect(),
            _ => Vec::new(),
        };
        for image in images.into_iter().filter(|i| i.must_decode()) {
            self.image(image)?;
        }
        if let Some(image) = op_mask(op).and_then(|m| m.bitmap.as_ref()).filter(|i| i.must_decode()) {
            mask::bits(image, &mut self.palettes, &self.session, &self.limits)?;
        }
        Ok(())
    }
}

/// A decoded frame's side as a rectangle coordinate (sides are bounded by `Limits`, far below `i32::MAX`).
fn frame_side(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// The mask of a draw op that has one.
fn op_mask<'b, 'a>(op: &'b DrawOp<'a>) -> Option<&'b QMask<'a>> {
    match op {
        DrawOp::Copy(c) | DrawOp::Blend(c) => Some(&c.mask),
        DrawOp::Opaque(o) => Some(&o.mask),
        DrawOp::Fill(f) => Some(&f.mask),
        DrawOp::Rop3(r) => Some(&r.mask),
        DrawOp::Blackness(m) | DrawOp::Whiteness(m) | DrawOp::Invers(m) => Some(m),
        _ => None,
    }
}

/// The wire rectangle of an area (for the window's dirty rectangles).
pub fn area_rect(area: &Area) -> Rect {
    area.to_rect()
}

#[cfg(test)]
mod tests;

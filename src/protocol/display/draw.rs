//! The draw operations: DisplayBase, then an operation-specific body (spice.proto `draw_*` and `copy_bits`).
//!
//! Every source image, pattern, mask, path and glyph string is behind a pointer; see the module docs of
//! [`super`] for how pointers are checked.

use super::image::Image;
use super::types::{Brush, DisplayBase, Point, Point16, QMask, Rect, ScaleMode};
use super::{bounded_count, read_count, Body, MAX_GLYPHS, MAX_PATH_POINTS, MAX_PATH_SEGMENTS};
use crate::protocol::constants::msg;
use crate::protocol::wire::Reader;
use crate::protocol::{ProtocolError, Result};

/// A draw message: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draw<'a> {
    /// Surface, box and clip.
    pub base: DisplayBase,
    /// The operation.
    pub op: DrawOp<'a>,
}

/// The operation of a draw message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DrawOp<'a> {
    /// DRAW_FILL: fill the box with a brush.
    Fill(Fill<'a>),
    /// DRAW_OPAQUE: the source image combined with a brush.
    Opaque(Opaque<'a>),
    /// DRAW_COPY: copy (part of) an image into the box.
    Copy(Copy<'a>),
    /// DRAW_BLEND: as COPY, with the ROP combining source and destination.
    Blend(Copy<'a>),
    /// DRAW_BLACKNESS: set the box to black.
    Blackness(QMask<'a>),
    /// DRAW_WHITENESS: set the box to white.
    Whiteness(QMask<'a>),
    /// DRAW_INVERS: invert the box.
    Invers(QMask<'a>),
    /// DRAW_ROP3: a ternary raster operation of source, brush and destination.
    Rop3(Rop3<'a>),
    /// DRAW_STROKE: a path drawn with a brush.
    Stroke(Stroke<'a>),
    /// DRAW_TEXT: glyphs drawn with a brush over a background.
    Text(Text<'a>),
    /// DRAW_TRANSPARENT: copy an image, skipping pixels of the key colour.
    Transparent(Transparent<'a>),
    /// DRAW_ALPHA_BLEND: blend an image over the destination.
    AlphaBlend(AlphaBlend<'a>),
    /// DRAW_COMPOSITE: Render-style compositing.
    Composite(Composite<'a>),
    /// COPY_BITS: copy the box-sized region at this point of the same surface into the box.
    CopyBits(Point),
}

/// DRAW_FILL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill<'a> {
    /// The brush.
    pub brush: Brush<'a>,
    /// ROP descriptor (see [`super::types::ropd`]).
    pub rop: u16,
    /// Mask.
    pub mask: QMask<'a>,
}

/// DRAW_COPY and DRAW_BLEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy<'a> {
    /// The source image.
    pub src: Image<'a>,
    /// The part of the source drawn into the box (scaled if the sizes differ).
    pub src_area: Rect,
    /// ROP descriptor (see [`super::types::ropd`]).
    pub rop: u16,
    /// Scaling filter.
    pub scale_mode: ScaleMode,
    /// Mask.
    pub mask: QMask<'a>,
}

/// DRAW_OPAQUE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opaque<'a> {
    /// The source image.
    pub src: Image<'a>,
    /// The part of the source drawn into the box.
    pub src_area: Rect,
    /// The brush.
    pub brush: Brush<'a>,
    /// ROP descriptor.
    pub rop: u16,
    /// Scaling filter.
    pub scale_mode: ScaleMode,
    /// Mask.
    pub mask: QMask<'a>,
}

/// DRAW_ROP3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rop3<'a> {
    /// The source image.
    pub src: Image<'a>,
    /// The part of the source drawn into the box.
    pub src_area: Rect,
    /// The brush.
    pub brush: Brush<'a>,
    /// Ternary ROP code (Windows numbering).
    pub rop3: u8,
    /// Scaling filter.
    pub scale_mode: ScaleMode,
    /// Mask.
    pub mask: QMask<'a>,
}

/// Line attribute flag: the line is dashed by `style`.
pub const LINE_STYLED: u8 = 8;
/// Line attribute flag: the dash pattern starts with a gap.
pub const LINE_START_WITH_GAP: u8 = 4;

/// Path segment flag: a new figure begins.
pub const PATH_BEGIN: u8 = 1;
/// Path segment flag: the figure ends.
pub const PATH_END: u8 = 2;
/// Path segment flag: the figure is closed.
pub const PATH_CLOSE: u8 = 8;
/// Path segment flag: the points are Bézier control points.
pub const PATH_BEZIER: u8 = 16;

/// One segment of a path: points in 28.4 fixed point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathSegment {
    /// Flags ([`PATH_BEGIN`], [`PATH_END`], [`PATH_CLOSE`], [`PATH_BEZIER`]).
    pub flags: u8,
    /// Points as (x, y) in 28.4 fixed point.
    pub points: Vec<(i32, i32)>,
}

/// DRAW_STROKE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stroke<'a> {
    /// The path's segments.
    pub path: Vec<PathSegment>,
    /// Line flags ([`LINE_STYLED`], [`LINE_START_WITH_GAP`]).
    pub line_flags: u8,
    /// Dash lengths in 28.4 fixed point (empty unless styled).
    pub style: Vec<i32>,
    /// The brush.
    pub brush: Brush<'a>,
    /// ROP descriptor of the line.
    pub fore_mode: u16,
    /// ROP descriptor of the gaps.
    pub back_mode: u16,
}

/// Glyph string flag: 1 bit per pixel.
pub const STRING_RASTER_A1: u8 = 1;
/// Glyph string flag: 4 bits per pixel.
pub const STRING_RASTER_A4: u8 = 2;
/// Glyph string flag: 8 bits per pixel.
pub const STRING_RASTER_A8: u8 = 4;
/// Glyph string flag: glyph rows are top first.
pub const STRING_RASTER_TOP_DOWN: u8 = 8;

/// One glyph of a text string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glyph<'a> {
    /// Where the glyph's origin goes.
    pub render_pos: Point,
    /// The origin inside the glyph.
    pub glyph_origin: Point,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Alpha rows, each `ceil(width × bpp / 8)` bytes.
    pub data: &'a [u8],
}

/// DRAW_TEXT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text<'a> {
    /// String flags (one of the `STRING_RASTER_A*` depths, maybe [`STRING_RASTER_TOP_DOWN`]).
    pub string_flags: u8,
    /// The glyphs.
    pub glyphs: Vec<Glyph<'a>>,
    /// Area filled with the back brush.
    pub back_area: Rect,
    /// Brush of the glyphs.
    pub fore_brush: Brush<'a>,
    /// Brush of the background.
    pub back_brush: Brush<'a>,
    /// ROP descriptor of the glyphs.
    pub fore_mode: u16,
    /// ROP descriptor of the background.
    pub back_mode: u16,
}

/// DRAW_TRANSPARENT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transparent<'a> {
    /// The source image.
    pub src: Image<'a>,
    /// The part of the source drawn into the box.
    pub src_area: Rect,
    /// Source pixels of this colour are skipped.
    pub src_color: u32,
    /// The key colour in the destination's format.
    pub true_color: u32,
}

/// Alpha-blend flag: the destination has alpha.
pub const ALPHA_DEST_HAS_ALPHA: u8 = 1;
/// Alpha-blend flag: the source surface has alpha.
pub const ALPHA_SRC_SURFACE_HAS_ALPHA: u8 = 2;

/// DRAW_ALPHA_BLEND.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlphaBlend<'a> {
    /// Flags ([`ALPHA_DEST_HAS_ALPHA`], [`ALPHA_SRC_SURFACE_HAS_ALPHA`]).
    pub alpha_flags: u8,
    /// Constant alpha applied to the source.
    pub alpha: u8,
    /// The source image.
    pub src: Image<'a>,
    /// The part of the source drawn into the box.
    pub src_area: Rect,
}

/// Composite flag: a mask image follows the source pointer.
pub const COMPOSITE_HAS_MASK: u32 = 1 << 19;
/// Composite flag: a source transform follows.
pub const COMPOSITE_HAS_SRC_TRANSFORM: u32 = 1 << 20;
/// Composite flag: a mask transform follows.
pub const COMPOSITE_HAS_MASK_TRANSFORM: u32 = 1 << 21;

/// DRAW_COMPOSITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composite<'a> {
    /// Flags: Render operator in bits 0-7, filters, repeats, COMPONENT_ALPHA (bit 18), the `HAS_*` bits, and the
    /// SOURCE/MASK/DEST_OPAQUE overrides (bits 22-24).
    pub flags: u32,
    /// The source image.
    pub src: Image<'a>,
    /// The mask image (with [`COMPOSITE_HAS_MASK`]).
    pub mask: Option<Image<'a>>,
    /// Source transform, a 2×3 matrix of 16.16 fixed point (with [`COMPOSITE_HAS_SRC_TRANSFORM`]).
    pub src_transform: Option<[u32; 6]>,
    /// Mask transform (with [`COMPOSITE_HAS_MASK_TRANSFORM`]).
    pub mask_transform: Option<[u32; 6]>,
    /// Source origin.
    pub src_origin: Point16,
    /// Mask origin.
    pub mask_origin: Point16,
}

impl Composite<'_> {
    /// The Render operator (bits 0-7 of the flags).
    pub fn op(&self) -> u8 {
        (self.flags & 0xff) as u8
    }
}

impl<'a> Draw<'a> {
    /// Parses the draw message `msg_type`; `r` is at the start of the body.
    pub(super) fn parse(msg_type: u16, r: &mut Reader<'a>, body: &Body<'a>) -> Result<Self> {
        let base = DisplayBase::read(r)?;
        let op = match msg_type {
            msg::DISPLAY_COPY_BITS => DrawOp::CopyBits(Point::read(r)?),
            msg::DISPLAY_DRAW_FILL => {
                DrawOp::Fill(Fill { brush: Brush::read(r, body)?, rop: r.u16()?, mask: QMask::read(r, body)? })
            }
            msg::DISPLAY_DRAW_OPAQUE => DrawOp::Opaque(Opaque {
                src: source(r, body)?,
                src_area: Rect::read(r)?,
                brush: Brush::read(r, body)?,
                rop: r.u16()?,
                scale_mode: ScaleMode::read(r)?,
                mask: QMask::read(r, body)?,
            }),
            msg::DISPLAY_DRAW_COPY => DrawOp::Copy(read_copy(r, body)?),
            msg::DISPLAY_DRAW_BLEND => DrawOp::Blend(read_copy(r, body)?),
            msg::DISPLAY_DRAW_BLACKNESS => DrawOp::Blackness(QMask::read(r, body)?),
            msg::DISPLAY_DRAW_WHITENESS => DrawOp::Whiteness(QMask::read(r, body)?),
            msg::DISPLAY_DRAW_INVERS => DrawOp::Invers(QMask::read(r, body)?),
            msg::DISPLAY_DRAW_ROP3 => DrawOp::Rop3(Rop3 {
                src: source(r, body)?,
                src_area: Rect::read(r)?,
                brush: Brush::read(r, body)?,
                rop3: r.u8()?,
                scale_mode: ScaleMode::read(r)?,
                mask: QMask::read(r, body)?,
            }),
            msg::DISPLAY_DRAW_STROKE => DrawOp::Stroke(read_stroke(r, body)?),
            msg::DISPLAY_DRAW_TEXT => DrawOp::Text(read_text(r, body)?),
            msg::DISPLAY_DRAW_TRANSPARENT => DrawOp::Transparent(Transparent {
                src: source(r, body)?,
                src_area: Rect::read(r)?,
                src_color: r.u32()?,
                true_color: r.u32()?,
            }),
            msg::DISPLAY_DRAW_ALPHA_BLEND => DrawOp::AlphaBlend(AlphaBlend {
                alpha_flags: r.u8()?,
                alpha: r.u8()?,
                src: source(r, body)?,
                src_area: Rect::read(r)?,
            }),
            msg::DISPLAY_DRAW_COMPOSITE => DrawOp::Composite(read_composite(r, body)?),
            t => return Err(ProtocolError::invalid("draw message", format!("type {t} is not a draw"))),
        };
        Ok(Draw { base, op })
    }
}

/// A non-null source image pointer and its image.
fn source<'a>(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Image<'a>> {
    let offset = r.u32()?;
    Image::read(body.required(offset, "source image")?, body)
}

fn read_copy<'a>(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Copy<'a>> {
    Ok(Copy {
        src: source(r, body)?,
        src_area: Rect::read(r)?,
        rop: r.u16()?,
        scale_mode: ScaleMode::read(r)?,
        mask: QMask::read(r, body)?,
    })
}

fn read_stroke<'a>(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Stroke<'a>> {
    let path = read_path(body.required(r.u32()?, "stroke path")?)?;
    let line_flags = r.u8()?;
    let mut style = Vec::new();
    if line_flags & LINE_STYLED != 0 {
        let nseg = r.u8()?;
        let offset = r.u32()?;
        if nseg > 0 {
            let mut s = body.required(offset, "line style")?;
            for _ in 0..nseg {
                style.push(s.i32()?);
            }
        }
    }
    Ok(Stroke { path, line_flags, style, brush: Brush::read(r, body)?, fore_mode: r.u16()?, back_mode: r.u16()? })
}

fn read_path(mut r: Reader<'_>) -> Result<Vec<PathSegment>> {
    // A segment takes at least 5 bytes (flags and count).
    let n = read_count(&mut r, "path segments", MAX_PATH_SEGMENTS, 5)?;
    let mut segments = Vec::with_capacity(n);
    for _ in 0..n {
        let flags = r.u8()?;
        let count = read_count(&mut r, "path points", MAX_PATH_POINTS, 8)?;
        let mut points = Vec::with_capacity(count);
        for _ in 0..count {
            points.push((r.i32()?, r.i32()?));
        }
        segments.push(PathSegment { flags, points });
    }
    Ok(segments)
}

fn read_text<'a>(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Text<'a>> {
    let mut s = body.required(r.u32()?, "text string")?;
    let back_area = Rect::read(r)?;
    let fore_brush = Brush::read(r, body)?;
    let back_brush = Brush::read(r, body)?;
    let (fore_mode, back_mode) = (r.u16()?, r.u16()?);
    let length = s.u16()?;
    let string_flags = s.u8()?;
    // A glyph takes at least 20 bytes (positions and size).
    let n = bounded_count(&s, "glyphs", length.into(), MAX_GLYPHS.into(), 20)?;
    let bpp = match string_flags & (STRING_RASTER_A1 | STRING_RASTER_A4 | STRING_RASTER_A8) {
        STRING_RASTER_A1 => 1,
        STRING_RASTER_A4 => 4,
        STRING_RASTER_A8 => 8,
        _ if n == 0 => 0,
        _ => {
            return Err(ProtocolError::invalid(
                "text string flags",
                format!("flags {string_flags:#x} do not name exactly one glyph depth"),
            ))
        }
    };
    let mut glyphs = Vec::with_capacity(n);
    for _ in 0..n {
        let render_pos = Point::read(&mut s)?;
        let glyph_origin = Point::read(&mut s)?;
        let width = s.u16()?;
        let height = s.u16()?;
        let row = (usize::from(width) * bpp).div_ceil(8);
        let data = s.bytes(row * usize::from(height))?;
        glyphs.push(Glyph { render_pos, glyph_origin, width, height, data });
    }
    Ok(Text { string_flags, glyphs, back_area, fore_brush, back_brush, fore_mode, back_mode })
}

fn read_transform(r: &mut Reader<'_>) -> Result<[u32; 6]> {
    let mut t = [0u32; 6];
    for v in &mut t {
        *v = r.u32()?;
    }
    Ok(t)
}

fn read_composite<'a>(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Composite<'a>> {
    let flags = r.u32()?;
    let src = source(r, body)?;
    let mask = if flags & COMPOSITE_HAS_MASK != 0 {
        let offset = r.u32()?;
        match body.pointer(offset, "composite mask")? {
            Some(at) => Some(Image::read(at, body)?),
            None => None,
        }
    } else {
        None
    };
    let src_transform = if flags & COMPOSITE_HAS_SRC_TRANSFORM != 0 { Some(read_transform(r)?) } else { None };
    let mask_transform = if flags & COMPOSITE_HAS_MASK_TRANSFORM != 0 { Some(read_transform(r)?) } else { None };
    Ok(Composite {
        flags,
        src,
        mask,
        src_transform,
        mask_transform,
        src_origin: Point16::read(r)?,
        mask_origin: Point16::read(r)?,
    })
}

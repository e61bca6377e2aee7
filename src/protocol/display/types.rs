//! Structures shared by the display messages: rectangles, points, clips, the DisplayBase every draw starts with,
//! brushes, masks and the ROP descriptor bits.

use super::image::Image;
use super::{read_count, Body, MAX_CLIP_RECTS};
use crate::protocol::wire::Reader;
use crate::protocol::{ProtocolError, Result};

/// A point (`i32 x, i32 y`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Point {
    /// x.
    pub x: i32,
    /// y.
    pub y: i32,
}

impl Point {
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Point { x: r.i32()?, y: r.i32()? })
    }
}

/// A point with 16-bit coordinates (`i16 x, i16 y`), used by DRAW_COMPOSITE.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Point16 {
    /// x.
    pub x: i16,
    /// y.
    pub y: i16,
}

impl Point16 {
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Point16 { x: r.i16()?, y: r.i16()? })
    }
}

/// A rectangle, edges exclusive on the right and bottom. On the wire the order is top, left, bottom, right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rect {
    /// Top edge.
    pub top: i32,
    /// Left edge.
    pub left: i32,
    /// Bottom edge (exclusive).
    pub bottom: i32,
    /// Right edge (exclusive).
    pub right: i32,
}

impl Rect {
    /// Reads the 16 wire bytes.
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(Rect { top: r.i32()?, left: r.i32()?, bottom: r.i32()?, right: r.i32()? })
    }

    /// Whether the edges are ordered (`left <= right`, `top <= bottom`); an empty rectangle is valid.
    pub fn is_valid(&self) -> bool {
        self.left <= self.right && self.top <= self.bottom
    }

    /// Whether the rectangle covers no pixel (including when it is not valid).
    pub fn is_empty(&self) -> bool {
        self.left >= self.right || self.top >= self.bottom
    }

    /// Width (0 if not valid).
    pub fn width(&self) -> u32 {
        u32::try_from(i64::from(self.right) - i64::from(self.left)).unwrap_or(0)
    }

    /// Height (0 if not valid).
    pub fn height(&self) -> u32 {
        u32::try_from(i64::from(self.bottom) - i64::from(self.top)).unwrap_or(0)
    }

    /// Whether the rectangle is valid and lies inside a `width × height` surface.
    pub fn within(&self, width: u32, height: u32) -> bool {
        self.is_valid()
            && self.left >= 0
            && self.top >= 0
            && i64::from(self.right) <= i64::from(width)
            && i64::from(self.bottom) <= i64::from(height)
    }
}

/// Where a draw may change pixels, besides its box.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Clip {
    /// 0: no clipping beyond the box.
    #[default]
    None,
    /// 1: the union of these rectangles (they may extend beyond the box).
    Rects(Vec<Rect>),
}

impl Clip {
    /// Reads `u8 type` and, for RECTS, `u32 count` and the rectangles inline.
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        match r.u8()? {
            0 => Ok(Clip::None),
            1 => {
                let n = read_count(r, "clip rectangles", MAX_CLIP_RECTS, 16)?;
                let mut rects = Vec::with_capacity(n);
                for _ in 0..n {
                    rects.push(Rect::read(r)?);
                }
                Ok(Clip::Rects(rects))
            }
            t => Err(ProtocolError::invalid("clip type", format!("unknown clip type {t}"))),
        }
    }
}

/// The start of every draw message: the target surface, the box drawn into, and the clip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisplayBase {
    /// Target surface (0 is the primary surface).
    pub surface_id: u32,
    /// The destination box; the draw's invalidated area.
    pub bbox: Rect,
    /// Further clipping.
    pub clip: Clip,
}

impl DisplayBase {
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        Ok(DisplayBase { surface_id: r.u32()?, bbox: Rect::read(r)?, clip: Clip::read(r)? })
    }
}

/// What fills a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Brush<'a> {
    /// 0: no brush (the ROP still applies to the destination).
    None,
    /// 1: one colour, `0x00RRGGBB` (bytes B, G, R, X on the wire).
    Solid(u32),
    /// 2: a tiled image.
    Pattern {
        /// The tile.
        image: Image<'a>,
        /// Origin of the tiling.
        pos: Point,
    },
}

impl<'a> Brush<'a> {
    pub(super) fn read(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Self> {
        match r.u8()? {
            0 => Ok(Brush::None),
            1 => Ok(Brush::Solid(r.u32()?)),
            2 => {
                let offset = r.u32()?;
                let pos = Point::read(r)?;
                let image = Image::read(body.required(offset, "brush pattern")?, body)?;
                Ok(Brush::Pattern { image, pos })
            }
            t => Err(ProtocolError::invalid("brush type", format!("unknown brush type {t}"))),
        }
    }
}

/// QMask flag: the mask is inverted.
pub const MASK_INVERS: u8 = 1;

/// A 1-bpp mask that further restricts a draw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QMask<'a> {
    /// Flags ([`MASK_INVERS`]).
    pub flags: u8,
    /// Position of the mask relative to the box.
    pub pos: Point,
    /// The mask image; `None` means no mask.
    pub bitmap: Option<Image<'a>>,
}

impl<'a> QMask<'a> {
    pub(super) fn read(r: &mut Reader<'a>, body: &Body<'a>) -> Result<Self> {
        let flags = r.u8()?;
        let pos = Point::read(r)?;
        let bitmap = match body.pointer(r.u32()?, "mask image")? {
            Some(at) => Some(Image::read(at, body)?),
            None => None,
        };
        Ok(QMask { flags, pos, bitmap })
    }
}

/// Bits of the ROP descriptor (`u16`): exactly one `OP_*` selects the operation, the `INVERS_*` bits invert an
/// input or the result.
pub mod ropd {
    /// Invert the source.
    pub const INVERS_SRC: u16 = 0x1;
    /// Invert the brush.
    pub const INVERS_BRUSH: u16 = 0x2;
    /// Invert the destination.
    pub const INVERS_DEST: u16 = 0x4;
    /// Copy.
    pub const OP_PUT: u16 = 0x8;
    /// Or.
    pub const OP_OR: u16 = 0x10;
    /// And.
    pub const OP_AND: u16 = 0x20;
    /// Xor.
    pub const OP_XOR: u16 = 0x40;
    /// Set to black.
    pub const OP_BLACKNESS: u16 = 0x80;
    /// Set to white.
    pub const OP_WHITENESS: u16 = 0x100;
    /// Invert the destination.
    pub const OP_INVERS: u16 = 0x200;
    /// Invert the result.
    pub const INVERS_RES: u16 = 0x400;
}

/// How a source is scaled when its area differs from the box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleMode {
    /// 0: interpolate.
    Interpolate,
    /// 1: nearest neighbour.
    Nearest,
}

impl ScaleMode {
    pub(super) fn read(r: &mut Reader<'_>) -> Result<Self> {
        match r.u8()? {
            0 => Ok(ScaleMode::Interpolate),
            1 => Ok(ScaleMode::Nearest),
            m => Err(ProtocolError::invalid("scale mode", format!("unknown scale mode {m}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rect_wire_order_and_helpers() {
        let bytes = [1, 0, 0, 0, 2, 0, 0, 0, 11, 0, 0, 0, 22, 0, 0, 0];
        let r = Rect::read(&mut Reader::new(&bytes, "rect")).unwrap();
        assert_eq!(r, Rect { top: 1, left: 2, bottom: 11, right: 22 });
        assert_eq!((r.width(), r.height()), (20, 10));
        assert!(r.is_valid() && !r.is_empty());
        assert!(r.within(22, 11));
        assert!(!r.within(21, 11));
        assert!(!r.within(22, 10));
        let flipped = Rect { top: 5, left: 5, bottom: 4, right: 6 };
        assert!(!flipped.is_valid() && flipped.is_empty() && !flipped.within(100, 100));
        assert_eq!(flipped.height(), 0);
        let negative = Rect { top: -1, left: 0, bottom: 3, right: 3 };
        assert!(negative.is_valid() && !negative.within(100, 100));
        let wide = Rect { top: 0, left: i32::MIN, bottom: 1, right: i32::MAX };
        assert_eq!(wide.width(), u32::MAX);
    }

    #[test]
    fn clip_types() {
        assert_eq!(Clip::read(&mut Reader::new(&[0], "clip")).unwrap(), Clip::None);
        let mut rects = vec![1, 1, 0, 0, 0];
        rects.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0]);
        let clip = Clip::read(&mut Reader::new(&rects, "clip")).unwrap();
        assert_eq!(clip, Clip::Rects(vec![Rect { top: 0, left: 0, bottom: 4, right: 4 }]));
        assert!(Clip::read(&mut Reader::new(&rects[..20], "clip")).is_err());
        assert!(matches!(Clip::read(&mut Reader::new(&[2], "clip")), Err(ProtocolError::Invalid { .. })));
        let huge = [1, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            Clip::read(&mut Reader::new(&huge, "clip")),
            Err(ProtocolError::TooLarge { what: "clip rectangles", .. })
        ));
        let lying = [1, 0, 1, 0, 0];
        assert!(matches!(Clip::read(&mut Reader::new(&lying, "clip")), Err(ProtocolError::Truncated { .. })));
    }
}

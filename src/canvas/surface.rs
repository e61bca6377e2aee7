//! A drawing surface: the primary (the guest's screen) or an off-screen surface used as a source or target.
//!
//! Every format is held as `u32` pixels `0xAARRGGBB`, rows top to bottom, `width` pixels per row. For the 16-bit
//! formats the colours are the 8-bit expansions of what the format can hold; for the alpha-only formats only the
//! alpha byte is meaningful.

use super::region::Area;
use super::CanvasError;
use crate::codecs::{Limits, Pixels};
use crate::protocol::display::SurfaceFormat;

/// One surface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The format the server created it with.
    pub format: SurfaceFormat,
    /// Whether it is the primary surface (the screen).
    pub primary: bool,
    /// `width × height` pixels, `0xAARRGGBB`, top row first.
    pub pixels: Vec<u32>,
}

impl Surface {
    /// A surface of `width × height` cleared to black (opaque for colour formats, transparent for alpha ones),
    /// after checking its size against `limits`.
    pub fn new(
        width: u32,
        height: u32,
        format: SurfaceFormat,
        primary: bool,
        limits: &Limits,
    ) -> Result<Self, CanvasError> {
        let n = limits.check(width, height)?;
        let clear = if format.has_color() { 0xff00_0000 } else { 0 };
        Ok(Surface { width, height, format, primary, pixels: vec![clear; n] })
    }

    /// The whole surface as an area.
    pub fn area(&self) -> Area {
        Area::whole(self.width, self.height)
    }

    /// The pixels of row `y` from column `left` to `right` (empty if outside).
    pub fn span_mut(&mut self, y: u32, left: u32, right: u32) -> &mut [u32] {
        let w = self.width as usize;
        let start = y as usize * w + left as usize;
        let end = y as usize * w + right.min(self.width) as usize;
        self.pixels.get_mut(start..end.max(start)).unwrap_or_default()
    }

    /// The pixels of row `y` from column `left` to `right` (empty if outside).
    pub fn span(&self, y: u32, left: u32, right: u32) -> &[u32] {
        let w = self.width as usize;
        let start = y as usize * w + left as usize;
        let end = y as usize * w + right.min(self.width) as usize;
        self.pixels.get(start..end.max(start)).unwrap_or_default()
    }

    /// A copy of `area` as an image (for SURFACE sources and for the window's frame).
    pub fn copy_area(&self, area: &Area) -> Pixels {
        let area = area.intersect(&self.area());
        let mut data = Vec::with_capacity(area.width() as usize * area.height() as usize);
        for y in area.top..area.bottom {
            data.extend_from_slice(self.span(y, area.left, area.right));
        }
        Pixels { width: area.width(), height: area.height(), has_alpha: self.format.has_alpha(), data }
    }

    /// Stores a computed colour the way the surface's format holds it.
    pub fn store(&self, argb: u32) -> u32 {
        self.format.quantize(argb)
    }
}

/// A colour as the server sends it for a surface of `format` (a solid brush, a colour key), as `0xAARRGGBB`: on
/// the 16-bit surfaces it is a pixel of the surface's own format in the low 16 bits (x555 or 565, as the
/// reference canvas writes it into the surface unconverted); on the others `0xXXRRGGBB`.
pub fn wire_color(format: SurfaceFormat, color: u32) -> u32 {
    let expand5 = |v: u32| ((v & 0x1f) << 3) | ((v & 0x1f) >> 2);
    let expand6 = |v: u32| ((v & 0x3f) << 2) | ((v & 0x3f) >> 4);
    match format {
        SurfaceFormat::Rgb555 => 0xff00_0000 | expand5(color >> 10) << 16 | expand5(color >> 5) << 8 | expand5(color),
        SurfaceFormat::Rgb565 => 0xff00_0000 | expand5(color >> 11) << 16 | expand6(color >> 5) << 8 | expand5(color),
        _ => color,
    }
}

/// What each surface format keeps of a `0xAARRGGBB` value.
pub trait FormatBits {
    /// Whether the format has colour channels.
    fn has_color(&self) -> bool;
    /// Whether the alpha byte is meaningful.
    fn has_alpha(&self) -> bool;
    /// The value reduced to what the format can hold, expanded back to 8 bits per channel.
    fn quantize(&self, argb: u32) -> u32;
}

impl FormatBits for SurfaceFormat {
    fn has_color(&self) -> bool {
        !matches!(self, SurfaceFormat::A1 | SurfaceFormat::A8)
    }

    fn has_alpha(&self) -> bool {
        matches!(self, SurfaceFormat::A1 | SurfaceFormat::A8 | SurfaceFormat::Argb32)
    }

    fn quantize(&self, argb: u32) -> u32 {
        let expand5 = |v: u32| (v << 3) | (v >> 2);
        let expand6 = |v: u32| (v << 2) | (v >> 4);
        let (r, g, b) = ((argb >> 16) & 0xff, (argb >> 8) & 0xff, argb & 0xff);
        match self {
            SurfaceFormat::Xrgb32 => argb | 0xff00_0000,
            SurfaceFormat::Argb32 => argb,
            SurfaceFormat::Rgb555 => 0xff00_0000 | expand5(r >> 3) << 16 | expand5(g >> 3) << 8 | expand5(b >> 3),
            SurfaceFormat::Rgb565 => 0xff00_0000 | expand5(r >> 3) << 16 | expand6(g >> 2) << 8 | expand5(b >> 3),
            SurfaceFormat::A8 => argb & 0xff00_0000,
            SurfaceFormat::A1 => {
                if argb >> 31 != 0 {
                    0xff00_0000
                } else {
                    0
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_surfaces_are_bounded_and_cleared() {
        let s = Surface::new(4, 2, SurfaceFormat::Xrgb32, true, &Limits::default()).unwrap();
        assert_eq!(s.pixels, vec![0xff00_0000; 8]);
        let a = Surface::new(4, 2, SurfaceFormat::A8, false, &Limits::default()).unwrap();
        assert_eq!(a.pixels, vec![0; 8]);
        assert!(Surface::new(65_535, 65_535, SurfaceFormat::Xrgb32, true, &Limits::default()).is_err());
    }

    #[test]
    fn spans_and_copies_stay_inside() {
        let mut s = Surface::new(3, 3, SurfaceFormat::Xrgb32, false, &Limits::default()).unwrap();
        s.span_mut(1, 1, 9).fill(7);
        assert_eq!(s.span(1, 0, 3), &[0xff00_0000, 7, 7]);
        assert!(s.span_mut(5, 0, 3).is_empty());
        let p = s.copy_area(&Area { left: 1, top: 1, right: 10, bottom: 2 });
        assert_eq!((p.width, p.height, p.data), (2, 1, vec![7, 7]));
    }

    #[test]
    fn wire_colours_on_sixteen_bit_surfaces_are_pixels_of_their_format() {
        // x555 0x7c1f: red and blue full, green none.
        assert_eq!(wire_color(SurfaceFormat::Rgb555, 0x7c1f), 0xffff_00ff);
        // 565 0x07e0: green full; 0x0821: the lowest bit of each channel.
        assert_eq!(wire_color(SurfaceFormat::Rgb565, 0x07e0), 0xff00_ff00);
        assert_eq!(wire_color(SurfaceFormat::Rgb565, 0x0821), 0xff08_0408);
        assert_eq!(wire_color(SurfaceFormat::Xrgb32, 0x0012_3456), 0x0012_3456);
    }

    #[test]
    fn sixteen_bit_formats_keep_their_bits() {
        assert_eq!(SurfaceFormat::Rgb555.quantize(0x00ff_8001), 0xffff_8400);
        assert_eq!(SurfaceFormat::Rgb565.quantize(0x0000_ff00), 0xff00_ff00);
        assert_eq!(SurfaceFormat::Xrgb32.quantize(0x0012_3456), 0xff12_3456);
        assert_eq!(SurfaceFormat::A8.quantize(0x8012_3456), 0x8000_0000);
    }
}

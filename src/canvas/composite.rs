//! DRAW_COMPOSITE: X Render compositing, as the guest's Xorg qxl driver sends it.
//!
//! The flags carry the Render operator (bits 0–7), the source and mask filters (bits 8–10, 11–13: Render's
//! nearest 0, bilinear 1; the other filters are drawn bilinear), the repeat modes (bits 14–15, 16–17: none,
//! normal, pad, reflect), component alpha (bit 18), and SOURCE/MASK/DEST_OPAQUE (bits 22–24: that
//! picture's alpha is taken as opaque). Destination pixel `(x, y)` samples the source at
//! `(x − box.left + src_origin.x, y − box.top + src_origin.y)`, that pixel's centre mapped through the source
//! transform (16.16 fixed point) when there is one; the mask likewise. Pixels are premultiplied; the source is
//! multiplied by the mask's alpha, then combined with the destination by the Render operator (`render_op`). With
//! component alpha each colour channel of the source is multiplied by the mask's own channel instead (subpixel
//! text). A8 pictures have only alpha.

use super::draw::paint;
use super::region::Area;
use super::render_op::{Coverage, Operator};
use super::surface::Surface;
use super::CanvasError;
use crate::codecs::Pixels;
use crate::protocol::display::draw::Composite;
use crate::protocol::display::types::Point16;
use crate::protocol::display::Rect;

/// How a picture is read beyond its edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Transparent outside.
    None,
    /// Tiled.
    Normal,
    /// The edge pixels extended.
    Pad,
    /// Tiled with every other tile mirrored.
    Reflect,
}

/// A picture to sample: pixels, filter, repeat, transform and origin.
#[derive(Debug, Clone)]
pub struct Picture<'a> {
    /// The pixels.
    pub pixels: &'a Pixels,
    /// Bilinear (else nearest) filtering.
    pub bilinear: bool,
    /// Beyond the edges.
    pub repeat: Repeat,
    /// The 2×3 transform in 16.16 fixed point, if any.
    pub transform: Option<[u32; 6]>,
    /// The picture position of the box's top-left pixel.
    pub origin: Point16,
    /// Whether its alpha is taken as opaque.
    pub opaque: bool,
}

/// A picture's filter (bilinear or not) and repeat mode from the composite flags at the given bit positions.
pub fn filter_and_repeat(flags: u32, filter_shift: u32, repeat_shift: u32) -> (bool, Repeat) {
    let filter = (flags >> filter_shift) & 7;
    let repeat = match (flags >> repeat_shift) & 3 {
        0 => Repeat::None,
        1 => Repeat::Normal,
        2 => Repeat::Pad,
        _ => Repeat::Reflect,
    };
    (filter != 0, repeat)
}

impl<'a> Picture<'a> {
    /// `pixels` as they are: nearest, no repeat, no transform, at the origin, with their own alpha.
    pub fn plain(pixels: &'a Pixels) -> Self {
        Picture {
            pixels,
            bilinear: false,
            repeat: Repeat::None,
            transform: None,
            origin: Point16::default(),
            opaque: false,
        }
    }
}

impl Picture<'_> {
    /// The pixel at integer picture coordinates, with the repeat mode applied.
    fn fetch(&self, x: i64, y: i64) -> u32 {
        let (w, h) = (i64::from(self.pixels.width), i64::from(self.pixels.height));
        if w == 0 || h == 0 {
            return 0;
        }
        let wrap = |v: i64, n: i64| -> Option<i64> {
            match self.repeat {
                Repeat::None => (0..n).contains(&v).then_some(v),
                Repeat::Normal => Some(v.rem_euclid(n)),
                Repeat::Pad => Some(v.clamp(0, n - 1)),
                Repeat::Reflect => {
                    let m = v.rem_euclid(2 * n);
                    Some(if m < n { m } else { 2 * n - 1 - m })
                }
            }
        };
        let (Some(x), Some(y)) = (wrap(x, w), wrap(y, h)) else { return 0 };
        let p = self.pixels.data.get((y * w + x) as usize).copied().unwrap_or(0);
        if self.opaque {
            p | 0xff00_0000
        } else {
            p
        }
    }

    /// The sample for the picture pixel `(x, y)` (before the transform), in 16.16 fixed point at its centre.
    pub fn sample(&self, x: i64, y: i64) -> u32 {
        let half = 1i128 << 15;
        let (cx, cy) = ((i128::from(x) << 16) + half, (i128::from(y) << 16) + half);
        let (fx, fy) = match self.transform {
            None => (cx, cy),
            Some(t) => {
                let v = |i: usize| i128::from(t.get(i).copied().unwrap_or(0) as i32);
                // 16.16 × 16.16 → 32.32, back to 16.16; the homogeneous row is taken as (0, 0, 1).
                (((v(0) * cx + v(1) * cy) >> 16) + v(2), ((v(3) * cx + v(4) * cy) >> 16) + v(5))
            }
        };
        let clamp = |v: i128| i64::try_from(v.clamp(i128::from(i64::MIN / 4), i128::from(i64::MAX / 4))).unwrap_or(0);
        if !self.bilinear {
            return self.fetch(clamp(fx >> 16), clamp(fy >> 16));
        }
        let (bx, by) = (fx - half, fy - half);
        let (x0, y0) = (clamp(bx >> 16), clamp(by >> 16));
        let (wx, wy) = (((bx >> 8) & 0xff) as u32, ((by >> 8) & 0xff) as u32);
        let p = [self.fetch(x0, y0), self.fetch(x0 + 1, y0), self.fetch(x0, y0 + 1), self.fetch(x0 + 1, y0 + 1)];
        super::blend::bilinear_mix(p, wx, wy)
    }
}

/// What a composite draws with.
#[derive(Debug, Clone)]
pub struct Compositing<'a> {
    /// The Render operator.
    pub op: Operator,
    /// Each colour channel of the source is multiplied by the mask's own channel (subpixel text), not by its alpha.
    pub component_alpha: bool,
    /// The source.
    pub src: Picture<'a>,
    /// The mask, if any (only its alpha is used).
    pub mask: Option<Picture<'a>>,
    /// Whether the destination's alpha is taken as opaque.
    pub dest_opaque: bool,
    /// The box's top-left corner on the surface.
    pub origin: (i64, i64),
}

/// Composite flag: each colour channel has its own mask alpha.
const COMPONENT_ALPHA: u32 = 1 << 18;
/// Composite flags: that picture's alpha is taken as opaque.
const SOURCE_OPAQUE: u32 = 1 << 22;
const MASK_OPAQUE: u32 = 1 << 23;
const DEST_OPAQUE: u32 = 1 << 24;

impl<'a> Compositing<'a> {
    /// The compositing a message asks for, over its resolved source and mask; refuses an operator Render does not
    /// define, and component alpha with an HSL operator (Render gives that no meaning).
    pub fn of(cp: &Composite<'_>, src: &'a Pixels, mask: Option<&'a Pixels>, bbox: &Rect) -> Result<Self, CanvasError> {
        let op = Operator::new(cp.op())?;
        let component_alpha = cp.flags & COMPONENT_ALPHA != 0 && mask.is_some();
        if component_alpha && !op.takes_component_alpha() {
            return Err(CanvasError::Unsupported("composite with component alpha and an HSL operator"));
        }
        let picture = |pixels, (bilinear, repeat), transform, origin, opaque_bit: u32| Picture {
            pixels,
            bilinear,
            repeat,
            transform,
            origin,
            opaque: cp.flags & opaque_bit != 0,
        };
        Ok(Compositing {
            op,
            component_alpha,
            src: picture(src, filter_and_repeat(cp.flags, 8, 14), cp.src_transform, cp.src_origin, SOURCE_OPAQUE),
            mask: mask.map(|m| {
                picture(m, filter_and_repeat(cp.flags, 11, 16), cp.mask_transform, cp.mask_origin, MASK_OPAQUE)
            }),
            dest_opaque: cp.flags & DEST_OPAQUE != 0,
            origin: (bbox.left.into(), bbox.top.into()),
        })
    }
}

/// Composites within `areas`.
pub fn composite(dst: &mut Surface, areas: &[Area], how: &Compositing<'_>) -> Result<(), CanvasError> {
    let at = |o: Point16, x: u32, y: u32| {
        (i64::from(x) - how.origin.0 + i64::from(o.x), i64::from(y) - how.origin.1 + i64::from(o.y))
    };
    paint(dst, areas, |x, y, d| {
        let (sx, sy) = at(how.src.origin, x, y);
        let s = how.src.sample(sx, sy);
        let coverage = match &how.mask {
            None => Coverage::Full,
            Some(m) => {
                let (mx, my) = at(m.origin, x, y);
                let m = m.sample(mx, my);
                if how.component_alpha {
                    Coverage::Component(m)
                } else {
                    Coverage::Alpha(m >> 24)
                }
            }
        };
        let d = if how.dest_opaque { d | 0xff00_0000 } else { d };
        how.op.apply(s, coverage, d)
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::Limits;
    use crate::protocol::display::SurfaceFormat;

    fn pixels(w: u32, h: u32, data: Vec<u32>) -> Pixels {
        Pixels { width: w, height: h, has_alpha: true, data }
    }

    fn picture(p: &Pixels) -> Picture<'_> {
        Picture::plain(p)
    }

    fn surface(format: SurfaceFormat, w: u32, fill: u32) -> Surface {
        let mut s = Surface::new(w, 1, format, false, &Limits::default()).unwrap();
        s.pixels.fill(fill);
        s
    }

    #[test]
    fn a_mask_scales_the_source_and_repeat_modes_extend_it() {
        // A 2×1 source, red then blue, tiled over 4 pixels through a padded mask of alpha 0x80, OVER black.
        let src = pixels(2, 1, vec![0xffff_0000, 0xff00_00ff]);
        let mask = pixels(1, 1, vec![0x8000_0000]);
        let mut dst = surface(SurfaceFormat::Xrgb32, 4, 0xff00_0000);
        let how = Compositing {
            op: Operator::new(3).unwrap(),
            component_alpha: false,
            src: Picture { repeat: Repeat::Normal, ..picture(&src) },
            mask: Some(Picture { repeat: Repeat::Pad, ..picture(&mask) }),
            dest_opaque: true,
            origin: (0, 0),
        };
        composite(&mut dst, &[Area::whole(4, 1)], &how).unwrap();
        assert_eq!(dst.pixels, vec![0xff80_0000, 0xff00_0080, 0xff80_0000, 0xff00_0080]);
        // Repeat none: transparent beyond the edge, so OVER leaves the destination.
        let mut dst = surface(SurfaceFormat::Xrgb32, 4, 0xff00_0000);
        let how = Compositing { mask: None, src: picture(&src), ..how };
        composite(&mut dst, &[Area::whole(4, 1)], &how).unwrap();
        assert_eq!(dst.pixels, vec![0xffff_0000, 0xff00_00ff, 0xff00_0000, 0xff00_0000]);
        // Reflect mirrors every other tile.
        let reflect = Picture { repeat: Repeat::Reflect, ..picture(&src) };
        assert_eq!(
            (reflect.sample(2, 0), reflect.sample(3, 0), reflect.sample(-1, 0)),
            (0xff00_00ff, 0xffff_0000, 0xffff_0000)
        );
    }

    #[test]
    fn transforms_scale_and_bilinear_filters_blend() {
        let src = pixels(2, 1, vec![0xff00_0000, 0xff00_00ff]);
        // x' = x / 2: a 2× enlargement.
        let half = Some([0x8000, 0, 0, 0, 0x1_0000, 0]);
        let p = Picture { transform: half, repeat: Repeat::Pad, ..picture(&src) };
        assert_eq!(
            (0..4).map(|x| p.sample(x, 0)).collect::<Vec<_>>(),
            vec![0xff00_0000, 0xff00_0000, 0xff00_00ff, 0xff00_00ff]
        );
        let b = Picture { bilinear: true, ..p };
        assert_eq!(
            (0..4).map(|x| b.sample(x, 0)).collect::<Vec<_>>(),
            vec![0xff00_0000, 0xff00_0040, 0xff00_00bf, 0xff00_00ff]
        );
        // A hostile transform does not overflow: huge coordinates are clamped, then repeated or transparent.
        let huge = Some([0x7fff_ffff, 0x7fff_ffff, 0x7fff_ffff, 0x8000_0000, 0x8000_0000, 0x8000_0000]);
        let h = Picture { transform: huge, bilinear: true, ..picture(&src) };
        assert_eq!(h.sample(i64::from(i32::MAX), i64::from(i32::MIN)), 0);
        let h = Picture { repeat: Repeat::Normal, ..h };
        let _ = h.sample(i64::from(i32::MAX), i64::from(i32::MIN));
        // An empty picture samples as transparent whatever the repeat mode.
        let empty = pixels(0, 0, vec![]);
        for repeat in [Repeat::None, Repeat::Normal, Repeat::Pad, Repeat::Reflect] {
            assert_eq!(Picture { repeat, ..picture(&empty) }.sample(3, -2), 0);
        }
    }

    #[test]
    fn a8_destinations_keep_alpha_only() {
        let src = pixels(1, 1, vec![0x80ff_ffff]);
        let mut dst = surface(SurfaceFormat::A8, 1, 0x4000_0000);
        let how = Compositing {
            op: Operator::new(12).unwrap(),
            component_alpha: false,
            src: picture(&src),
            mask: None,
            dest_opaque: false,
            origin: (0, 0),
        };
        composite(&mut dst, &[Area::whole(1, 1)], &how).unwrap();
        assert_eq!(dst.pixels, vec![0xc000_0000]);
    }
}

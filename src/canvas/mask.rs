//! Draw masks (QMask): a 1-bpp image that further restricts where a draw lands.
//!
//! The mask's pixel `pos` lies on the box's top-left corner; a surface pixel is drawn when the mask bit under it
//! is set (clear with INVERS). Pixels outside the mask image are never drawn, inverted or not. A mask is a BITMAP
//! of format 1BIT_LE (leftmost pixel in bit 0) or 1BIT_BE (bit 7) whose palette, if any, plays no part, or a
//! FROM_CACHE reference to a mask cached earlier. Masks are held as [`Pixels`] whose colour is white where the
//! bit is set and black where it is clear, so that they share the pixmap cache with images.

use super::images::{codec_bitmap, PaletteCache};
use super::region::Area;
use super::{CanvasError, SessionImages};
use crate::codecs::bitmap::{self, BitmapFormat};
use crate::codecs::{Limits, Pixels};
use crate::protocol::display::image::BITMAP_PAL_CACHE_ME;
use crate::protocol::display::types::MASK_INVERS;
use crate::protocol::display::{Image, ImageData, PaletteRef, Point, QMask, Rect};
use std::sync::Arc;

/// The two colours a mask bit decodes to: clear, set.
const BITS: [u32; 2] = [0, 0x00ff_ffff];

/// A resolved mask, placed on the surface.
#[derive(Debug, Clone)]
pub struct Mask {
    bits: Arc<Pixels>,
    /// Surface column of the mask's column 0.
    left: i64,
    /// Surface row of the mask's row 0.
    top: i64,
    invert: bool,
}

impl Mask {
    /// Whether the mask lets the draw reach surface pixel `(x, y)`.
    pub fn covers(&self, x: u32, y: u32) -> bool {
        let (mx, my) = (i64::from(x) - self.left, i64::from(y) - self.top);
        if mx < 0 || my < 0 || mx >= i64::from(self.bits.width) || my >= i64::from(self.bits.height) {
            return false;
        }
        let set =
            self.bits.data.get((my * i64::from(self.bits.width) + mx) as usize).is_some_and(|p| p & 0xff_ffff != 0);
        set != self.invert
    }

    /// The parts of `areas` the mask lets through, as disjoint areas (runs of covered pixels, joined with the run
    /// right above when they have the same columns). The work is bounded by the pixels of `areas` inside the mask.
    pub fn restrict(&self, areas: &[Area]) -> Vec<Area> {
        let span = |lo: i64, len: u32| -> (u32, u32) {
            let c = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
            (c(lo), c(lo + i64::from(len)))
        };
        let (mask_left, mask_right) = span(self.left, self.bits.width);
        let (mask_top, mask_bottom) = span(self.top, self.bits.height);
        let inside = Area { left: mask_left, top: mask_top, right: mask_right, bottom: mask_bottom };
        let mut out: Vec<Area> = Vec::new();
        for a in areas.iter().map(|a| a.intersect(&inside)).filter(|a| !a.is_empty()) {
            // Indexes into `out` of the runs ending on the row above, and of those ending on this row.
            let (mut above, mut this): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
            for y in a.top..a.bottom {
                let mut x = a.left;
                while x < a.right {
                    if !self.covers(x, y) {
                        x += 1;
                        continue;
                    }
                    let start = x;
                    while x < a.right && self.covers(x, y) {
                        x += 1;
                    }
                    let joined =
                        above.iter().copied().find(|&i| out.get(i).is_some_and(|o| o.left == start && o.right == x));
                    match joined.and_then(|i| out.get_mut(i).map(|o| (i, o))) {
                        Some((i, o)) => {
                            o.bottom = y + 1;
                            this.push(i);
                        }
                        None => {
                            this.push(out.len());
                            out.push(Area { left: start, top: y, right: x, bottom: y + 1 });
                        }
                    }
                }
                std::mem::swap(&mut above, &mut this);
                this.clear();
            }
        }
        out
    }
}

/// Resolves a draw's mask (`None` when it has none): decoded (and cached as its descriptor asks) or taken from
/// the pixmap cache.
pub(super) fn resolve(
    mask: &QMask<'_>,
    bbox: &Rect,
    palettes: &mut PaletteCache,
    session: &SessionImages,
    limits: &Limits,
) -> Result<Option<Mask>, CanvasError> {
    let Some(image) = &mask.bitmap else { return Ok(None) };
    let bits = bits(image, palettes, session, limits)?;
    let Point { x, y } = mask.pos;
    Ok(Some(Mask {
        bits,
        left: i64::from(bbox.left) - i64::from(x),
        top: i64::from(bbox.top) - i64::from(y),
        invert: mask.flags & MASK_INVERS != 0,
    }))
}

/// The bits of a mask image.
pub(super) fn bits(
    image: &Image<'_>,
    palettes: &mut PaletteCache,
    session: &SessionImages,
    limits: &Limits,
) -> Result<Arc<Pixels>, CanvasError> {
    let d = &image.descriptor;
    match &image.data {
        ImageData::FromCache | ImageData::FromCacheLossless => {
            session.pixmaps().get(d.id).map(|(p, _)| p).ok_or(CanvasError::CacheMiss(d.id))
        }
        ImageData::Bitmap(b) => {
            let format = BitmapFormat::from_u8(b.format)?;
            if !matches!(format, BitmapFormat::OneBitLe | BitmapFormat::OneBitBe) {
                return Err(CanvasError::invalid("mask", format!("bitmap format {} is not 1 bit per pixel", b.format)));
            }
            // The palette does not colour a mask, but the server counts on the cache holding it.
            if let (PaletteRef::Inline(p), true) = (&b.palette, b.flags & BITMAP_PAL_CACHE_ME != 0) {
                palettes.insert(p);
            }
            let pixels = Arc::new(bitmap::decode(&codec_bitmap(b, format, Some(&BITS)), limits)?);
            if d.must_cache() {
                session.pixmaps().insert(d.id, Arc::clone(&pixels), false)?;
            }
            Ok(pixels)
        }
        _ => Err(CanvasError::invalid("mask", format!("image type {} is not a bitmap", d.image_type))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::region::pixels_of as pixels;

    fn mask(w: u32, h: u32, set: &[(u32, u32)], left: i64, top: i64, invert: bool) -> Mask {
        let mut data = vec![0; (w * h) as usize];
        for &(x, y) in set {
            data[(y * w + x) as usize] = 0xff_ffff;
        }
        Mask { bits: Arc::new(Pixels { width: w, height: h, has_alpha: false, data }), left, top, invert }
    }

    #[test]
    fn a_mask_keeps_its_set_bits_inside_the_areas() {
        // A 3×2 mask placed at (1, 1): bits (0,0), (1,0), (2,1) set.
        let m = mask(3, 2, &[(0, 0), (1, 0), (2, 1)], 1, 1, false);
        let out = m.restrict(&[Area::whole(10, 10)]);
        assert_eq!(pixels(&out), vec![(1, 1), (2, 1), (3, 2)]);
        // Inverted: the clear bits inside the mask, nothing outside it.
        let inv = mask(3, 2, &[(0, 0), (1, 0), (2, 1)], 1, 1, true);
        assert_eq!(pixels(&inv.restrict(&[Area::whole(10, 10)])), vec![(1, 2), (2, 2), (3, 1)]);
        // Cut by the areas.
        assert_eq!(pixels(&m.restrict(&[Area { left: 2, top: 0, right: 9, bottom: 9 }])), vec![(2, 1), (3, 2)]);
    }

    #[test]
    fn equal_runs_stack_into_one_area() {
        let set: Vec<(u32, u32)> = (0..4).flat_map(|y| [(1, y), (2, y)]).collect();
        let m = mask(4, 4, &set, 0, 0, false);
        assert_eq!(m.restrict(&[Area::whole(4, 4)]), vec![Area { left: 1, top: 0, right: 3, bottom: 4 }]);
    }

    #[test]
    fn masks_far_off_the_surface_cost_nothing() {
        let m = mask(2, 2, &[(0, 0)], i64::from(i32::MIN) * 2, 5, true);
        assert!(m.restrict(&[Area::whole(100, 100)]).is_empty());
        let m = mask(2, 2, &[(0, 0)], i64::from(u32::MAX) + 10, 0, true);
        assert!(m.restrict(&[Area::whole(100, 100)]).is_empty());
    }
}

//! Pixel work of the draw operations, over a surface and the disjoint areas a draw's clip leaves.
//!
//! Sources are resolved before a draw starts (an image is decoded, a cache entry or another surface is copied
//! out), so a draw never reads the surface it writes except through the destination pixel it is given.

use super::region::Area;
use super::rop::Rop;
use super::surface::Surface;
use super::CanvasError;
use crate::codecs::Pixels;
use crate::protocol::display::types::ScaleMode;
use crate::protocol::display::{Point, Rect, SurfaceFormat};

/// Where the source pixel for destination `(x, y)` comes from: the box maps onto `src_area`, scaled when their
/// sizes differ (the nearest pixel, or with `Interpolate` the four nearest weighted by distance, the edges
/// repeated).
#[derive(Debug, Clone, Copy)]
pub struct SourceMap {
    bilinear: bool,
    bbox_left: i64,
    bbox_top: i64,
    src_left: i64,
    src_top: i64,
    box_w: i64,
    box_h: i64,
    src_w: i64,
    src_h: i64,
}

impl SourceMap {
    /// The map for a draw whose box is `bbox` and whose source area of `src` is `src_area`; the source area must be
    /// a non-empty part of the image.
    pub fn new(bbox: &Rect, src: &Pixels, src_area: &Rect, scale: ScaleMode) -> Result<Self, CanvasError> {
        if src_area.is_empty() || !src_area.within(src.width, src.height) {
            return Err(CanvasError::invalid(
                "source area",
                format!("{src_area:?} is not inside the {}×{} source image", src.width, src.height),
            ));
        }
        if bbox.is_empty() {
            return Err(CanvasError::invalid("box", format!("{bbox:?} is empty")));
        }
        Ok(SourceMap {
            bilinear: scale == ScaleMode::Interpolate,
            bbox_left: bbox.left.into(),
            bbox_top: bbox.top.into(),
            src_left: src_area.left.into(),
            src_top: src_area.top.into(),
            box_w: bbox.width().into(),
            box_h: bbox.height().into(),
            src_w: src_area.width().into(),
            src_h: src_area.height().into(),
        })
    }

    fn scaled(&self) -> bool {
        self.box_w != self.src_w || self.box_h != self.src_h
    }

    /// The source pixel for destination `(x, y)`.
    pub fn sample(&self, src: &Pixels, x: u32, y: u32) -> u32 {
        if self.bilinear && self.scaled() {
            return self.bilinear_at(src, x, y);
        }
        src.data.get(self.sy(y) * src.width as usize + self.sx(x)).copied().unwrap_or(0xff00_0000)
    }

    /// Bilinear sampling: the destination pixel's centre mapped into the source area, between the centres of the
    /// four source pixels around it; 8-bit weights, rounded.
    fn bilinear_at(&self, src: &Pixels, x: u32, y: u32) -> u32 {
        // (index, index + 1, weight of the second) along one axis, in 16.16 fixed point, clamped to the area.
        let axis = |d: u32, box_start: i64, box_len: i64, start: i64, len: i64| -> (usize, usize, u32) {
            let off = i128::from(i64::from(d) - box_start);
            let f = (((2 * off + 1) * i128::from(len)) << 16) / (2 * i128::from(box_len)) - (1 << 15);
            let i = i64::try_from(f >> 16).unwrap_or(0);
            let w = ((f >> 8) & 0xff) as u32;
            let at = |i: i64| (start + i.clamp(0, len - 1)) as usize;
            (at(i), at(i.saturating_add(1)), w)
        };
        let (x0, x1, wx) = axis(x, self.bbox_left, self.box_w, self.src_left, self.src_w);
        let (y0, y1, wy) = axis(y, self.bbox_top, self.box_h, self.src_top, self.src_h);
        let w = src.width as usize;
        let px = |x: usize, y: usize| src.data.get(y * w + x).copied().unwrap_or(0xff00_0000);
        super::blend::bilinear_mix([px(x0, y0), px(x1, y0), px(x0, y1), px(x1, y1)], wx, wy)
    }

    /// The source column for destination column `x`.
    fn sx(&self, x: u32) -> usize {
        let off = i64::from(x) - self.bbox_left;
        let off = if self.scaled() { off * self.src_w / self.box_w } else { off };
        (self.src_left + off.clamp(0, self.src_w - 1)) as usize
    }

    /// The source row for destination row `y`.
    fn sy(&self, y: u32) -> usize {
        let off = i64::from(y) - self.bbox_top;
        let off = if self.scaled() { off * self.src_h / self.box_h } else { off };
        (self.src_top + off.clamp(0, self.src_h - 1)) as usize
    }
}

/// Sets every pixel of `areas` to `f(x, y, old)`, kept as the surface's format holds it.
pub fn paint(dst: &mut Surface, areas: &[Area], mut f: impl FnMut(u32, u32, u32) -> u32) {
    let format = dst.format;
    for a in areas {
        for y in a.top..a.bottom {
            for (x, p) in (a.left..).zip(dst.span_mut(y, a.left, a.right).iter_mut()) {
                *p = super::surface::FormatBits::quantize(&format, f(x, y, *p));
            }
        }
    }
}

/// COPY and BLEND: the source image through `rop` onto the destination.
pub fn copy(dst: &mut Surface, areas: &[Area], map: &SourceMap, src: &Pixels, rop: Rop) {
    let w = src.width as usize;
    let plain = rop.is_put()
        && !map.scaled()
        && (dst.format == SurfaceFormat::Argb32 || (dst.format == SurfaceFormat::Xrgb32 && !src.has_alpha));
    if plain {
        for a in areas {
            let (sx, count) = (map.sx(a.left), a.width() as usize);
            for y in a.top..a.bottom {
                let start = map.sy(y) * w + sx;
                if let (Some(from), to) = (src.data.get(start..start + count), dst.span_mut(y, a.left, a.right)) {
                    if to.len() == from.len() {
                        to.copy_from_slice(from);
                    }
                }
            }
        }
        return;
    }
    paint(dst, areas, |x, y, d| rop.apply(map.sample(src, x, y), d));
}

/// A brush resolved for drawing.
#[derive(Debug, Clone)]
pub enum BrushSource {
    /// No brush: the ROP sees a zero source.
    None,
    /// One colour, `0xAARRGGBB`.
    Solid(u32),
    /// A tiled image whose tile origin is `pos` on the surface.
    Pattern(std::sync::Arc<Pixels>, Point),
}

impl BrushSource {
    /// The brush's colour at `(x, y)`.
    pub fn at(&self, x: u32, y: u32) -> u32 {
        match self {
            BrushSource::None => 0xff00_0000,
            BrushSource::Solid(c) => *c | 0xff00_0000,
            BrushSource::Pattern(p, pos) => {
                let (w, h) = (i64::from(p.width.max(1)), i64::from(p.height.max(1)));
                let tx = (i64::from(x) - i64::from(pos.x)).rem_euclid(w);
                let ty = (i64::from(y) - i64::from(pos.y)).rem_euclid(h);
                p.data.get((ty * w + tx) as usize).copied().unwrap_or(0xff00_0000) | 0xff00_0000
            }
        }
    }
}

/// FILL: the brush through `rop` onto the destination.
pub fn fill(dst: &mut Surface, areas: &[Area], brush: &BrushSource, rop: Rop) {
    if let (BrushSource::Solid(c), true) = (brush, rop.is_put()) {
        let c = dst.store(*c | 0xff00_0000);
        for a in areas {
            for y in a.top..a.bottom {
                dst.span_mut(y, a.left, a.right).fill(c);
            }
        }
        return;
    }
    paint(dst, areas, |x, y, d| rop.apply(brush.at(x, y), d));
}

/// OPAQUE: the brush combined through `rop` with the source image, which takes the destination's part; the
/// result replaces the destination.
pub fn opaque(dst: &mut Surface, areas: &[Area], map: &SourceMap, src: &Pixels, brush: &BrushSource, rop: Rop) {
    paint(dst, areas, |x, y, _| rop.apply(brush.at(x, y), map.sample(src, x, y)));
}

/// ROP3: brush, source image and destination combined through the ternary raster op `code`.
pub fn rop3(dst: &mut Surface, areas: &[Area], map: &SourceMap, src: &Pixels, brush: &BrushSource, code: u8) {
    paint(dst, areas, |x, y, d| super::rop::rop3(code, brush.at(x, y), map.sample(src, x, y), d));
}

/// COPY_BITS: the surface's own pixels at `src_pos` moved to the box, as if through a temporary copy (overlap
/// is safe). Parts whose source lies outside the surface are left alone.
pub fn copy_bits(dst: &mut Surface, areas: &[Area], bbox: &Rect, src_pos: Point) -> Vec<Area> {
    let dx = i64::from(bbox.left) - i64::from(src_pos.x);
    let dy = i64::from(bbox.top) - i64::from(src_pos.y);
    let whole = dst.area();
    let shift = |a: &Area, by_x: i64, by_y: i64| -> Option<Area> {
        let c = |v: u32, by: i64| u32::try_from((i64::from(v) + by).max(0)).ok();
        Some(Area {
            left: c(a.left, by_x)?,
            top: c(a.top, by_y)?,
            right: c(a.right, by_x)?,
            bottom: c(a.bottom, by_y)?,
        })
    };
    let mut done = Vec::with_capacity(areas.len());
    let moves: Vec<(Area, Pixels)> = areas
        .iter()
        .filter_map(|a| {
            let from = shift(a, -dx, -dy)?.intersect(&whole);
            let to = shift(&from, dx, dy)?.intersect(a);
            (!to.is_empty()).then(|| (to, dst.copy_area(&shift(&to, -dx, -dy).unwrap_or_default())))
        })
        .collect();
    for (to, pixels) in moves {
        let w = pixels.width as usize;
        for (row, y) in (to.top..to.bottom).enumerate() {
            let target = dst.span_mut(y, to.left, to.right);
            if let Some(from) = pixels.data.get(row * w..row * w + target.len()) {
                target.copy_from_slice(from);
            }
        }
        done.push(to);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::Limits;
    use crate::protocol::display::types::ropd;

    fn surface(w: u32, h: u32) -> Surface {
        Surface::new(w, h, SurfaceFormat::Xrgb32, true, &Limits::default()).unwrap()
    }

    fn rect(left: i32, top: i32, right: i32, bottom: i32) -> Rect {
        Rect { top, left, bottom, right }
    }

    fn numbered(w: u32, h: u32) -> Pixels {
        Pixels { width: w, height: h, has_alpha: false, data: (0..w * h).map(|i| 0xff00_0000 | i).collect() }
    }

    #[test]
    fn copy_maps_the_box_onto_the_source_area() {
        let mut s = surface(4, 4);
        let src = numbered(3, 3);
        let bbox = rect(1, 1, 3, 3);
        let map = SourceMap::new(&bbox, &src, &rect(1, 1, 3, 3), ScaleMode::Nearest).unwrap();
        copy(&mut s, &[Area { left: 1, top: 1, right: 3, bottom: 3 }], &map, &src, Rop::PUT);
        assert_eq!(s.span(1, 0, 4), &[0xff00_0000, 0xff00_0004, 0xff00_0005, 0xff00_0000]);
        assert_eq!(s.span(2, 1, 3), &[0xff00_0007, 0xff00_0008]);
        assert!(SourceMap::new(&bbox, &src, &rect(2, 2, 4, 4), ScaleMode::Nearest).is_err());
    }

    #[test]
    fn copy_scales_when_the_sizes_differ_and_applies_its_rop() {
        let mut s = surface(4, 2);
        let src = numbered(2, 1);
        let map = SourceMap::new(&rect(0, 0, 4, 2), &src, &rect(0, 0, 2, 1), ScaleMode::Nearest).unwrap();
        copy(&mut s, &[Area::whole(4, 2)], &map, &src, Rop::PUT);
        assert_eq!(s.span(1, 0, 4), &[0xff00_0000, 0xff00_0000, 0xff00_0001, 0xff00_0001]);
        let xor = Rop::from_descriptor(ropd::OP_XOR, ropd::INVERS_SRC).unwrap();
        copy(&mut s, &[Area::whole(4, 2)], &map, &src, xor);
        assert_eq!(s.span(0, 0, 4), &[0xff00_0000; 4]);
    }

    #[test]
    fn interpolated_scaling_weighs_the_nearest_source_pixels() {
        // Two pixels, black and blue, stretched over four: centres at −¼, ¼, ¾ and 1¼ of a source pixel.
        let src = Pixels { width: 2, height: 1, has_alpha: false, data: vec![0xff00_0000, 0xff00_00ff] };
        let map = SourceMap::new(&rect(0, 0, 4, 1), &src, &rect(0, 0, 2, 1), ScaleMode::Interpolate).unwrap();
        let mut s = surface(4, 1);
        copy(&mut s, &[Area::whole(4, 1)], &map, &src, Rop::PUT);
        assert_eq!(s.span(0, 0, 4), &[0xff00_0000, 0xff00_0040, 0xff00_00bf, 0xff00_00ff]);
        // Same sizes: no interpolation; a hostile box far left of the surface stays in range.
        let map = SourceMap::new(&rect(i32::MIN, 0, i32::MAX, 1), &src, &rect(0, 0, 2, 1), ScaleMode::Interpolate);
        assert!(map.unwrap().sample(&src, 3, 0) >> 24 == 0xff);
    }

    #[test]
    fn fill_with_solid_and_pattern_brushes() {
        let mut s = surface(3, 2);
        fill(&mut s, &[Area { left: 1, top: 0, right: 3, bottom: 1 }], &BrushSource::Solid(0x12_3456), Rop::PUT);
        assert_eq!(s.span(0, 0, 3), &[0xff00_0000, 0xff12_3456, 0xff12_3456]);
        let tile = std::sync::Arc::new(numbered(2, 1));
        fill(&mut s, &[Area::whole(3, 2)], &BrushSource::Pattern(tile, Point { x: 1, y: 0 }), Rop::PUT);
        assert_eq!(s.span(1, 0, 3), &[0xff00_0001, 0xff00_0000, 0xff00_0001]);
        let inv = Rop::from_descriptor(ropd::OP_INVERS, ropd::INVERS_BRUSH).unwrap();
        fill(&mut s, &[Area::whole(1, 1)], &BrushSource::None, inv);
        assert_eq!(s.span(0, 0, 1), &[0xffff_fffe]);
    }

    #[test]
    fn copy_bits_handles_overlap_and_sources_off_the_surface() {
        let mut s = surface(4, 1);
        paint(&mut s, &[Area::whole(4, 1)], |x, _, _| x);
        // Move columns 0..3 right by one: overlapping, as memmove.
        let done = copy_bits(
            &mut s,
            &[Area { left: 1, top: 0, right: 4, bottom: 1 }],
            &rect(1, 0, 4, 1),
            Point { x: 0, y: 0 },
        );
        assert_eq!(s.span(0, 0, 4), &[0xff00_0000, 0xff00_0000, 0xff00_0001, 0xff00_0002]);
        assert_eq!(done, vec![Area { left: 1, top: 0, right: 4, bottom: 1 }]);
        // A source left of the surface: only the part that has a source moves.
        let done = copy_bits(&mut s, &[Area::whole(2, 1)], &rect(0, 0, 2, 1), Point { x: -1, y: 0 });
        assert_eq!(done, vec![Area { left: 1, top: 0, right: 2, bottom: 1 }]);
        assert_eq!(s.span(0, 0, 4), &[0xff00_0000, 0xff00_0000, 0xff00_0001, 0xff00_0002]);
    }
}

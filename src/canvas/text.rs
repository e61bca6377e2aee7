//! DRAW_TEXT: a string of glyphs drawn with the fore brush, over a back area filled with the back brush.
//!
//! Glyph `g` covers the rectangle at `render_pos + glyph_origin`, `width × height` pixels, rows top first, each
//! row padded to a byte. A1 glyphs are bits (leftmost pixel in bit 7): the pixels they set are drawn with the
//! fore brush through the fore mode (a ROP descriptor). A4 glyphs (high nibble first) and A8 glyphs are coverage:
//! the fore brush is composited OVER the surface through it, as the reference canvas does (the fore mode then
//! plays no part). Overlapping glyphs take the larger coverage. The back area (cut to the box and clip) is filled
//! first with the back brush through the back mode when there is a back brush.

use super::blend::{over, scale};
use super::draw::{fill, paint, BrushSource};
use super::region::{bounds, cut_runs, Area};
use super::rop::Rop;
use super::surface::Surface;
use crate::protocol::display::draw::{Glyph, STRING_RASTER_A1, STRING_RASTER_A4, STRING_RASTER_A8};

/// The coverage of a glyph string over the bounding area of a draw: one byte a pixel, 0 (none) to 255 (full).
#[derive(Debug)]
pub struct Coverage {
    area: Area,
    values: Vec<u8>,
}

impl Coverage {
    /// Renders `glyphs` of depth `flags` (A1, A4 or A8) onto `area`; parts of glyphs outside it are skipped
    /// without being visited, so the work is bounded by the glyph pixels that land in it.
    pub fn render(glyphs: &[Glyph<'_>], flags: u8, area: Area) -> Self {
        let bpp: usize = match flags & (STRING_RASTER_A1 | STRING_RASTER_A4 | STRING_RASTER_A8) {
            STRING_RASTER_A1 => 1,
            STRING_RASTER_A4 => 4,
            _ => 8,
        };
        let (aw, ah) = (area.width() as usize, area.height() as usize);
        let mut values = vec![0u8; aw * ah];
        for g in glyphs {
            let left = i64::from(g.render_pos.x) + i64::from(g.glyph_origin.x) - i64::from(area.left);
            let top = i64::from(g.render_pos.y) + i64::from(g.glyph_origin.y) - i64::from(area.top);
            let row_bytes = (usize::from(g.width) * bpp).div_ceil(8);
            // The glyph's columns and rows that land in the area.
            let range = |start: i64, len: u16, max: usize| {
                let lo = (-start).clamp(0, i64::from(len)) as usize;
                let hi = (max as i64 - start).clamp(0, i64::from(len)) as usize;
                (lo, hi.max(lo))
            };
            let (gx0, gx1) = range(left, g.width, aw);
            let (gy0, gy1) = range(top, g.height, ah);
            for gy in gy0..gy1 {
                let Some(row) = g.data.get(gy * row_bytes..(gy + 1) * row_bytes) else { break };
                let out_row = (top + gy as i64) as usize * aw;
                for gx in gx0..gx1 {
                    let v = sample(row, gx, bpp);
                    if let Some(o) = values.get_mut(out_row + (left + gx as i64) as usize) {
                        *o = (*o).max(v);
                    }
                }
            }
        }
        Coverage { area, values }
    }

    /// The coverage at surface pixel `(x, y)`.
    pub fn at(&self, x: u32, y: u32) -> u8 {
        if x < self.area.left || y < self.area.top {
            return 0;
        }
        let i = (y - self.area.top) as usize * self.area.width() as usize + (x - self.area.left) as usize;
        self.values.get(i).copied().unwrap_or(0)
    }

    /// The covered pixels as runs on rows, sorted.
    fn runs(&self) -> Vec<Area> {
        let mut runs: Vec<Area> = Vec::new();
        let w = self.area.width() as usize;
        for (i, _) in self.values.iter().enumerate().filter(|(_, v)| **v != 0) {
            let (x, y) = (self.area.left + (i % w) as u32, self.area.top + (i / w) as u32);
            match runs.last_mut() {
                Some(r) if r.top == y && r.right == x => r.right += 1,
                _ => runs.push(Area { left: x, top: y, right: x + 1, bottom: y + 1 }),
            }
        }
        runs
    }
}

/// Glyph pixel `x` of a row at `bpp` bits, as coverage.
fn sample(row: &[u8], x: usize, bpp: usize) -> u8 {
    let byte = row.get(x * bpp / 8).copied().unwrap_or(0);
    match bpp {
        1 => {
            if byte & (0x80 >> (x % 8)) != 0 {
                255
            } else {
                0
            }
        }
        4 => {
            let nibble = if x % 2 == 0 { byte >> 4 } else { byte & 0x0f };
            nibble * 17
        }
        _ => byte,
    }
}

/// The area the glyphs cover on the surface (clamped to it; empty if none lands there).
fn glyph_bounds(glyphs: &[Glyph<'_>]) -> Area {
    let c = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    glyphs.iter().fold(Area::default(), |acc, g| {
        let left = i64::from(g.render_pos.x) + i64::from(g.glyph_origin.x);
        let top = i64::from(g.render_pos.y) + i64::from(g.glyph_origin.y);
        let a = Area {
            left: c(left),
            top: c(top),
            right: c(left + i64::from(g.width)),
            bottom: c(top + i64::from(g.height)),
        };
        acc.union(&a)
    })
}

/// What a text draw paints with.
#[derive(Debug)]
pub struct TextPaint {
    /// The fore brush and its mode.
    pub fore: (BrushSource, Rop),
    /// The back brush and its mode, when the back area is filled.
    pub back: Option<(BrushSource, Rop)>,
    /// The back area on the surface.
    pub back_area: Area,
}

/// Draws a glyph string within `areas`; returns the areas changed.
pub fn text(dst: &mut Surface, areas: &[Area], glyphs: &[Glyph<'_>], flags: u8, paint_with: &TextPaint) -> Vec<Area> {
    let mut changed = Vec::new();
    if let Some((brush, rop)) = &paint_with.back {
        let back: Vec<Area> =
            areas.iter().map(|a| a.intersect(&paint_with.back_area)).filter(|a| !a.is_empty()).collect();
        fill(dst, &back, brush, *rop);
        changed.extend(back);
    }
    let coverage = Coverage::render(glyphs, flags, glyph_bounds(glyphs).intersect(&bounds(areas)));
    let (brush, rop) = &paint_with.fore;
    if flags & STRING_RASTER_A1 != 0 {
        let covered = cut_runs(&coverage.runs(), areas);
        fill(dst, &covered, brush, *rop);
        changed.extend(covered);
    } else {
        paint(dst, areas, |x, y, d| match coverage.at(x, y) {
            0 => d,
            c => over(scale(brush.at(x, y), c.into()), d | 0xff00_0000),
        });
        changed.extend_from_slice(areas);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::Limits;
    use crate::protocol::display::{Point, SurfaceFormat};

    fn glyph(x: i32, y: i32, w: u16, h: u16, data: &[u8]) -> Glyph<'_> {
        Glyph { render_pos: Point { x, y }, glyph_origin: Point { x: 1, y: 0 }, width: w, height: h, data }
    }

    fn surface(w: u32, h: u32) -> Surface {
        Surface::new(w, h, SurfaceFormat::Xrgb32, false, &Limits::default()).unwrap()
    }

    #[test]
    fn a1_glyphs_draw_their_bits_with_the_fore_brush_over_the_back_area() {
        let mut s = surface(4, 2);
        // A 3×2 glyph at (0 + 1, 0): row 0 = bits 1,0,1; row 1 = 0,1,0.
        let data = [0b1010_0000, 0b0100_0000];
        let how = TextPaint {
            fore: (BrushSource::Solid(0xff_0000), Rop::PUT),
            back: Some((BrushSource::Solid(0x00_00ff), Rop::PUT)),
            back_area: Area { left: 0, top: 0, right: 4, bottom: 1 },
        };
        text(&mut s, &[Area::whole(4, 2)], &[glyph(0, 0, 3, 2, &data)], STRING_RASTER_A1, &how);
        let rgb: Vec<u32> = s.pixels.iter().map(|p| p & 0xff_ffff).collect();
        assert_eq!(rgb, vec![0xff, 0xff_0000, 0xff, 0xff_0000, 0, 0, 0xff_0000, 0]);
    }

    #[test]
    fn a4_and_a8_glyphs_composite_the_brush_through_their_coverage() {
        let mut s = surface(3, 1);
        // A4: 0xf then 0x8 (8 × 17 = 136): full red, then 136/255 of red over black.
        let how = TextPaint { fore: (BrushSource::Solid(0xff_0000), Rop::PUT), back: None, back_area: Area::default() };
        text(&mut s, &[Area::whole(3, 1)], &[glyph(-1, 0, 2, 1, &[0xf8])], STRING_RASTER_A4, &how);
        assert_eq!(s.pixels, vec![0xffff_0000, 0xff88_0000, 0xff00_0000]);
        text(&mut s, &[Area::whole(3, 1)], &[glyph(0, 0, 2, 1, &[0, 0x80])], STRING_RASTER_A8, &how);
        assert_eq!(s.pixels[2], 0xff80_0000);
    }

    #[test]
    fn glyphs_off_the_area_are_skipped() {
        let data = vec![0xff; 8];
        let far = [glyph(i32::MAX, i32::MAX, 8, 8, &data), glyph(i32::MIN, -5, 8, 8, &data), glyph(-9, 0, 8, 8, &data)];
        let c = Coverage::render(&far, STRING_RASTER_A8, Area::whole(4, 4));
        assert!(c.values.iter().all(|&v| v == 0));
        // A glyph whose data is shorter than its size draws the rows it has.
        let short = [glyph(-1, 0, 2, 3, &[1, 2])];
        let c = Coverage::render(&short, STRING_RASTER_A8, Area::whole(4, 4));
        assert_eq!((c.at(0, 0), c.at(1, 0), c.at(0, 1)), (1, 2, 0));
    }
}

//! DRAW_STROKE: a path of 1-pixel-wide lines, as the reference canvas draws Windows cosmetic lines.
//!
//! Points are fixed 28.4, rounded to whole pixels (a fraction above one half rounds up). A segment with
//! PATH_BEGIN starts a new figure at its first point; its other points extend the figure with lines, or, with
//! PATH_BEZIER, with cubic Béziers (three points each, the figure's last point the first control point),
//! flattened into at most [`MAX_BEZIER_STEPS`] lines; PATH_END ends the figure, PATH_CLOSE first joins it back to
//! its start. Every line includes its first pixel and leaves out its last (the next line starts there; the
//! figure's last point is not drawn, as with X's CapNotLast). A styled line draws only the dashes of its style
//! (lengths in fixed 28.4, the first a dash, or a gap with LINE_START_WITH_GAP), counted in pixels along the
//! figure. The pixels are drawn once each with the brush through the fore mode; the back mode plays no part, as
//! in the reference canvas.
//!
//! Lines are not walked off the box: each is cut to the draw's bounding area before its pixels are computed,
//! so huge coordinates cost nothing, and a stroke that would still produce more than [`MAX_STROKE_PIXELS`]
//! pixels is refused.

use super::region::{bounds, cut_runs, Area};
use super::CanvasError;
use crate::protocol::display::draw::{
    PathSegment, LINE_START_WITH_GAP, LINE_STYLED, PATH_BEGIN, PATH_BEZIER, PATH_CLOSE, PATH_END,
};

/// The most lines one cubic Bézier is flattened into.
pub const MAX_BEZIER_STEPS: i64 = 64;

/// The most pixels (before removing repeats) one stroke may produce.
pub const MAX_STROKE_PIXELS: usize = 1 << 22;

/// A fixed 28.4 coordinate rounded to a pixel.
fn fix_to_int(v: i32) -> i64 {
    let (whole, frac) = (i64::from(v >> 4), v & 0xf);
    if frac > 8 {
        whole + 1
    } else {
        whole
    }
}

/// The dash pattern of a styled line: alternating on and off lengths in pixels.
#[derive(Debug, Clone)]
struct Dashes {
    lengths: Vec<u64>,
    total: u64,
    start_on: bool,
}

impl Dashes {
    fn new(style: &[i32], flags: u8) -> Option<Self> {
        if flags & LINE_STYLED == 0 {
            return None;
        }
        let mut lengths: Vec<u64> = style.iter().map(|&s| u64::try_from(fix_to_int(s)).unwrap_or(0)).collect();
        if lengths.len() % 2 == 1 {
            lengths.extend_from_within(..);
        }
        let total = lengths.iter().sum();
        // A style without length draws a solid line.
        (total > 0).then_some(Dashes { lengths, total, start_on: flags & LINE_START_WITH_GAP == 0 })
    }

    /// Whether the pixel `index` pixels along the figure is drawn.
    fn on(&self, index: u64) -> bool {
        let mut pos = index % self.total;
        for (i, &len) in self.lengths.iter().enumerate() {
            if pos < len {
                return (i % 2 == 0) == self.start_on;
            }
            pos -= len;
        }
        false
    }
}

/// Collects the pixels of a stroke inside `within`.
struct Raster<'a> {
    within: Area,
    dashes: Option<&'a Dashes>,
    /// Pixels along the current figure so far (for the dashes).
    along: u64,
    pixels: Vec<(u32, u32)>,
}

impl Raster<'_> {
    /// The line from `a` to `b`, without `b`.
    fn line(&mut self, a: (i64, i64), b: (i64, i64)) -> Result<(), CanvasError> {
        let (dx, dy) = (i128::from(b.0 - a.0), i128::from(b.1 - a.1));
        let steps = dx.abs().max(dy.abs());
        let along = self.along;
        self.along = self.along.saturating_add(u64::try_from(steps).unwrap_or(u64::MAX));
        if steps == 0 {
            return Ok(());
        }
        let w = &self.within;
        let (x_major, major0, minor0, d_major, d_minor) =
            if dx.abs() >= dy.abs() { (true, a.0, a.1, dx, dy) } else { (false, a.1, a.0, dy, dx) };
        let (lo_major, hi_major, lo_minor, hi_minor) =
            if x_major { (w.left, w.right, w.top, w.bottom) } else { (w.top, w.bottom, w.left, w.right) };
        let sign = d_major.signum();
        // Step k is at major0 + sign·k; keep the steps whose major coordinate lies in [lo, hi).
        let k_for = |m: i128| (m - i128::from(major0)) * sign;
        let (ka, kb) = (k_for(lo_major.into()), k_for(i128::from(hi_major) - 1));
        let (mut k_lo, mut k_hi) = (ka.min(kb).max(0), ka.max(kb).min(steps - 1));
        // And those whose minor coordinate may lie in [lo, hi) (one step of slack either way).
        if d_minor != 0 {
            let k_at = |v: i128| (v - i128::from(minor0)) * steps / d_minor;
            let (ka, kb) = (k_at(lo_minor.into()), k_at(hi_minor.into()));
            k_lo = k_lo.max(ka.min(kb) - 1);
            k_hi = k_hi.min(ka.max(kb) + 1);
        }
        let mut k = k_lo;
        while k <= k_hi {
            let major = i128::from(major0) + sign * k;
            let minor = i128::from(minor0) + (2 * k * d_minor + steps).div_euclid(2 * steps);
            let (x, y) = if x_major { (major, minor) } else { (minor, major) };
            let inside = x >= w.left.into() && x < w.right.into() && y >= w.top.into() && y < w.bottom.into();
            let drawn = self.dashes.is_none_or(|d| d.on(along.wrapping_add(k as u64)));
            if inside && drawn {
                if self.pixels.len() >= MAX_STROKE_PIXELS {
                    return Err(CanvasError::invalid("stroke", format!("more than {MAX_STROKE_PIXELS} pixels")));
                }
                self.pixels.push((y as u32, x as u32));
            }
            k += 1;
        }
        Ok(())
    }
}

/// A point on the cubic Bézier `p` at `t / n`, rounded.
fn bezier(p: [(i64, i64); 4], t: i64, n: i64) -> (i64, i64) {
    let (t, u) = (t as f64 / n as f64, 1.0 - t as f64 / n as f64);
    let w = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
    let c = |f: fn(&(i64, i64)) -> i64| p.iter().zip(w).map(|(q, w)| f(q) as f64 * w).sum::<f64>().round() as i64;
    (c(|q| q.0), c(|q| q.1))
}

/// The pixels of the figures of `path` inside `areas`, as disjoint one-row areas.
pub fn rasterize(
    path: &[PathSegment],
    style: &[i32],
    line_flags: u8,
    areas: &[Area],
) -> Result<Vec<Area>, CanvasError> {
    let dashes = Dashes::new(style, line_flags);
    let mut r = Raster { within: bounds(areas), dashes: dashes.as_ref(), along: 0, pixels: Vec::new() };
    let mut figure: Option<((i64, i64), (i64, i64))> = None; // (start, last)
    for seg in path {
        let mut points = seg.points.iter().map(|&(x, y)| (fix_to_int(x), fix_to_int(y)));
        if seg.flags & PATH_BEGIN != 0 {
            if let Some(p) = points.next() {
                figure = Some((p, p));
                r.along = 0;
            }
        }
        let Some((start, mut last)) = figure else { continue };
        if seg.flags & PATH_BEZIER != 0 {
            let rest: Vec<(i64, i64)> = points.collect();
            for c in rest.chunks_exact(3) {
                let &[c1, c2, end] = c else { continue };
                let span = [last, c1, c2, end]
                    .windows(2)
                    .map(|w| w.first().zip(w.get(1)).map_or(0, |(a, b)| (a.0 - b.0).abs().max((a.1 - b.1).abs())))
                    .fold(0i64, i64::saturating_add);
                let n = (span / 4).clamp(1, MAX_BEZIER_STEPS);
                let mut prev = last;
                for t in 1..=n {
                    let p = if t == n { end } else { bezier([last, c1, c2, end], t, n) };
                    r.line(prev, p)?;
                    prev = p;
                }
                last = end;
            }
        } else {
            for p in points {
                r.line(last, p)?;
                last = p;
            }
        }
        figure = Some((start, last));
        if seg.flags & PATH_END != 0 {
            if seg.flags & PATH_CLOSE != 0 {
                r.line(last, start)?;
            }
            figure = None;
        }
    }
    let mut pixels = r.pixels;
    pixels.sort_unstable();
    pixels.dedup();
    // Runs of neighbouring pixels on a row, then cut to the areas (the clip may be many rectangles).
    let mut runs: Vec<Area> = Vec::new();
    for (y, x) in pixels {
        match runs.last_mut() {
            Some(a) if a.top == y && a.right == x => a.right += 1,
            _ => runs.push(Area { left: x, top: y, right: x + 1, bottom: y + 1 }),
        }
    }
    Ok(cut_runs(&runs, areas))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canvas::region::pixels_of as pixels;

    fn fix(v: i32) -> i32 {
        v << 4
    }

    fn seg(flags: u8, points: &[(i32, i32)]) -> PathSegment {
        PathSegment { flags, points: points.iter().map(|&(x, y)| (fix(x), fix(y))).collect() }
    }

    #[test]
    fn lines_leave_out_their_last_pixel_and_close_back_to_the_start() {
        let all = [Area::whole(10, 10)];
        let open = [seg(PATH_BEGIN | PATH_END, &[(1, 1), (4, 1), (4, 3)])];
        assert_eq!(pixels(&rasterize(&open, &[], 0, &all).unwrap()), vec![(1, 1), (2, 1), (3, 1), (4, 1), (4, 2)]);
        // A line of slope 1/2 (a half pixel rounds to the larger row either way), closed back to its start.
        let closed = [seg(PATH_BEGIN | PATH_END | PATH_CLOSE, &[(0, 0), (4, 2)])];
        let got = pixels(&rasterize(&closed, &[], 0, &all).unwrap());
        assert_eq!(got, vec![(0, 0), (1, 1), (2, 1), (3, 2), (4, 2)]);
        // Rounding of fixed 28.4: 1.5 stays 1, 1.5625 rounds to 2.
        let frac = [PathSegment { flags: PATH_BEGIN | PATH_END, points: vec![(24, 0), (25, 0), (fix(4), 0)] }];
        assert_eq!(pixels(&rasterize(&frac, &[], 0, &all).unwrap()), vec![(1, 0), (2, 0), (3, 0)]);
    }

    #[test]
    fn styles_draw_dashes_counted_along_the_figure() {
        let all = [Area::whole(10, 1)];
        let line = [seg(PATH_BEGIN | PATH_END, &[(0, 0), (9, 0)])];
        let style = [fix(2), fix(1)];
        let x = |v: Vec<(u32, u32)>| v.into_iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(x(pixels(&rasterize(&line, &style, LINE_STYLED, &all).unwrap())), vec![0, 1, 3, 4, 6, 7]);
        let gap = LINE_STYLED | LINE_START_WITH_GAP;
        assert_eq!(x(pixels(&rasterize(&line, &style, gap, &all).unwrap())), vec![2, 5, 8]);
    }

    #[test]
    fn beziers_run_from_the_last_point_to_their_end() {
        let all = [Area::whole(10, 10)];
        let path = [seg(PATH_BEGIN, &[(0, 0)]), seg(PATH_BEZIER | PATH_END, &[(0, 0), (8, 0), (8, 0)])];
        let got = pixels(&rasterize(&path, &[], 0, &all).unwrap());
        assert_eq!(got, (0..8).map(|x| (x, 0)).collect::<Vec<_>>());
    }

    #[test]
    fn huge_coordinates_are_cut_to_the_box_and_the_clip() {
        let areas = [Area { left: 0, top: 0, right: 3, bottom: 1 }, Area { left: 5, top: 0, right: 6, bottom: 1 }];
        let huge = i32::MAX >> 4;
        let path =
            [seg(PATH_BEGIN | PATH_END, &[(-huge, 0), (huge, 0)]), seg(PATH_BEGIN, &[(-huge, -huge), (huge, huge)])];
        let got = pixels(&rasterize(&path, &[], 0, &areas).unwrap());
        assert_eq!(got, vec![(0, 0), (1, 0), (2, 0), (5, 0)]);
        // A steep line that misses the box entirely costs nothing.
        let miss = [seg(PATH_BEGIN | PATH_END, &[(-huge, -huge), (-huge + 1, huge)])];
        assert!(rasterize(&miss, &[], 0, &areas).unwrap().is_empty());
    }
}

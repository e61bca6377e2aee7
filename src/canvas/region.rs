//! Where a draw lands: the box, cut to its surface, and to the union of its clip rectangles, as disjoint bands.
//!
//! A draw's effective region is `box ∩ surface ∩ ⋃ clip rects`. Clip rectangles may overlap, so the union is
//! rebuilt as disjoint rectangles (horizontal bands with merged spans): a ROP such as XOR must touch each pixel
//! exactly once.

use crate::protocol::display::{Clip, Rect};

/// A rectangle with `left ≤ right`, `top ≤ bottom`, all on the surface (so every coordinate is ≥ 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Area {
    /// First column.
    pub left: u32,
    /// First row.
    pub top: u32,
    /// One past the last column.
    pub right: u32,
    /// One past the last row.
    pub bottom: u32,
}

impl Area {
    /// The whole of a `width × height` surface.
    pub fn whole(width: u32, height: u32) -> Self {
        Area { left: 0, top: 0, right: width, bottom: height }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.right.saturating_sub(self.left)
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.bottom.saturating_sub(self.top)
    }

    /// Whether it covers no pixel.
    pub fn is_empty(&self) -> bool {
        self.width() == 0 || self.height() == 0
    }

    /// The smallest area covering both (an empty side is ignored).
    pub fn union(&self, other: &Area) -> Area {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        Area {
            left: self.left.min(other.left),
            top: self.top.min(other.top),
            right: self.right.max(other.right),
            bottom: self.bottom.max(other.bottom),
        }
    }

    /// The overlap of both (empty if none).
    pub fn intersect(&self, other: &Area) -> Area {
        let a = Area {
            left: self.left.max(other.left),
            top: self.top.max(other.top),
            right: self.right.min(other.right),
            bottom: self.bottom.min(other.bottom),
        };
        if a.left >= a.right || a.top >= a.bottom {
            Area::default()
        } else {
            a
        }
    }

    /// The wire rectangle for this area.
    pub fn to_rect(self) -> Rect {
        let c = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Rect { top: c(self.top), left: c(self.left), bottom: c(self.bottom), right: c(self.right) }
    }
}

/// A wire rectangle cut to a `width × height` surface (empty if it misses it or is inverted).
pub fn clamp(rect: &Rect, width: u32, height: u32) -> Area {
    if !rect.is_valid() || rect.is_empty() {
        return Area::default();
    }
    let c = |v: i32, max: u32| u32::try_from(v.max(0)).unwrap_or(0).min(max);
    let a = Area {
        left: c(rect.left, width),
        top: c(rect.top, height),
        right: c(rect.right, width),
        bottom: c(rect.bottom, height),
    };
    if a.left >= a.right || a.top >= a.bottom {
        Area::default()
    } else {
        a
    }
}

/// The effective region of a draw: disjoint areas inside `bbox ∩ surface ∩ clip`, top to bottom.
pub fn effective(bbox: &Rect, clip: &Clip, width: u32, height: u32) -> Vec<Area> {
    let boxed = clamp(bbox, width, height);
    if boxed.is_empty() {
        return Vec::new();
    }
    match clip {
        Clip::None => vec![boxed],
        Clip::Rects(rects) => {
            let parts: Vec<Area> =
                rects.iter().map(|r| clamp(r, width, height).intersect(&boxed)).filter(|a| !a.is_empty()).collect();
            disjoint(parts)
        }
    }
}

/// The union of `parts` as disjoint areas: the rows are cut into bands at every top and bottom edge, and within a
/// band the covering spans are merged.
fn disjoint(mut parts: Vec<Area>) -> Vec<Area> {
    if parts.len() <= 1 {
        return parts;
    }
    let mut edges: Vec<u32> = parts.iter().flat_map(|a| [a.top, a.bottom]).collect();
    edges.sort_unstable();
    edges.dedup();
    parts.sort_unstable_by_key(|a| a.top);
    let mut out: Vec<Area> = Vec::new();
    let mut spans: Vec<(u32, u32)> = Vec::new();
    for band in edges.windows(2) {
        let &[top, bottom] = band else { continue };
        spans.clear();
        // Parts are sorted by top: those starting below this band end the scan.
        for a in parts.iter().take_while(|a| a.top <= top) {
            if a.bottom > top {
                spans.push((a.left, a.right));
            }
        }
        spans.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
        for &(l, r) in &spans {
            match merged.last_mut() {
                Some(last) if l <= last.1 => last.1 = last.1.max(r),
                _ => merged.push((l, r)),
            }
        }
        for (left, right) in merged {
            // Join with the area right above when it has the same columns, to keep the list short.
            let above =
                out.iter_mut().rev().take_while(|o| o.bottom == top).find(|o| o.left == left && o.right == right);
            match above {
                Some(o) => o.bottom = bottom,
                None => out.push(Area { left, top, right, bottom }),
            }
        }
    }
    out
}

/// The bounding area of `areas` (empty if none).
pub fn bounds(areas: &[Area]) -> Area {
    areas.iter().fold(Area::default(), |acc, a| acc.union(a))
}

/// `runs` (one-row areas sorted by row, then column, not overlapping) cut to `areas` (disjoint): the parts of
/// the runs inside the areas, found per area by a binary search on the rows.
pub fn cut_runs(runs: &[Area], areas: &[Area]) -> Vec<Area> {
    let mut out = Vec::new();
    for a in areas {
        let first = runs.partition_point(|r| r.top < a.top);
        let inside = runs.iter().skip(first).take_while(|r| r.top < a.bottom);
        out.extend(inside.map(|r| r.intersect(a)).filter(|r| !r.is_empty()));
    }
    out
}

/// Every pixel of `areas` as `(x, y)`, sorted (for tests).
#[cfg(test)]
pub fn pixels_of(areas: &[Area]) -> Vec<(u32, u32)> {
    let mut v: Vec<(u32, u32)> = areas
        .iter()
        .flat_map(|a| (a.top..a.bottom).flat_map(move |y| (a.left..a.right).map(move |x| (x, y))))
        .collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(left: i32, top: i32, right: i32, bottom: i32) -> Rect {
        Rect { top, left, bottom, right }
    }

    fn pixels(areas: &[Area]) -> u64 {
        areas.iter().map(|a| u64::from(a.width()) * u64::from(a.height())).sum()
    }

    #[test]
    fn the_box_is_cut_to_the_surface() {
        assert_eq!(effective(&rect(-5, -5, 10, 10), &Clip::None, 8, 8), vec![Area::whole(8, 8)]);
        assert!(effective(&rect(9, 0, 20, 5), &Clip::None, 8, 8).is_empty());
        assert!(effective(&rect(5, 5, 2, 2), &Clip::None, 8, 8).is_empty());
        let wide = rect(i32::MIN, i32::MIN, i32::MAX, i32::MAX);
        assert_eq!(effective(&wide, &Clip::None, 3, 4), vec![Area::whole(3, 4)]);
    }

    #[test]
    fn overlapping_clip_rects_become_disjoint_and_stay_inside_the_box() {
        let clip = Clip::Rects(vec![rect(0, 0, 6, 6), rect(4, 4, 10, 10), rect(0, 0, 6, 6), rect(50, 50, 60, 60)]);
        let areas = effective(&rect(1, 1, 9, 9), &clip, 100, 100);
        // 5×5 + 5×5 − 2×2 overlap.
        assert_eq!(pixels(&areas), 25 + 25 - 4);
        for (i, a) in areas.iter().enumerate() {
            assert!(a.left >= 1 && a.top >= 1 && a.right <= 9 && a.bottom <= 9, "{a:?}");
            for b in &areas[i + 1..] {
                assert!(a.intersect(b).is_empty(), "{a:?} overlaps {b:?}");
            }
        }
        assert_eq!(bounds(&areas), Area { left: 1, top: 1, right: 9, bottom: 9 });
    }

    #[test]
    fn stacked_rects_of_equal_columns_are_joined() {
        let clip = Clip::Rects(vec![rect(0, 0, 4, 2), rect(0, 2, 4, 5)]);
        assert_eq!(effective(&rect(0, 0, 10, 10), &clip, 10, 10), vec![Area { left: 0, top: 0, right: 4, bottom: 5 }]);
        assert!(effective(&rect(0, 0, 10, 10), &Clip::Rects(vec![]), 10, 10).is_empty());
    }
}

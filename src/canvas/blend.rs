//! Colour-keyed and alpha-blended copies (TRANSPARENT, ALPHA_BLEND), and the premultiplied arithmetic of
//! Porter–Duff OVER they share with COMPOSITE.
//!
//! Pixels with alpha are premultiplied, as the server sends them and as pixman composites them: OVER is
//! `src + dst × (1 − src.alpha)` per channel, in 8-bit arithmetic rounded the way pixman rounds.

use super::draw::{paint, SourceMap};
use super::region::Area;
use super::surface::Surface;
use crate::codecs::Pixels;

const RGB: u32 = 0x00ff_ffff;

/// `a × b / 255`, rounded.
pub fn mul8(a: u32, b: u32) -> u32 {
    let t = a * b + 0x80;
    ((t >> 8) + t) >> 8
}

/// Each channel of `p` times `m / 255`.
pub fn scale(p: u32, m: u32) -> u32 {
    (0..4).fold(0, |acc, c| acc | (mul8((p >> (c * 8)) & 0xff, m) << (c * 8)))
}

/// The four pixels `[top-left, top-right, bottom-left, bottom-right]` mixed with the 8-bit weights `wx` (of the
/// right column) and `wy` (of the bottom row), rounded.
pub fn bilinear_mix(p: [u32; 4], wx: u32, wy: u32) -> u32 {
    let [p00, p10, p01, p11] = p;
    (0..4).fold(0, |acc, c| {
        let ch = |p: u32| (p >> (c * 8)) & 0xff;
        let top = ch(p00) * (256 - wx) + ch(p10) * wx;
        let bottom = ch(p01) * (256 - wx) + ch(p11) * wx;
        acc | (((top * (256 - wy) + bottom * wy + (1 << 15)) >> 16) << (c * 8))
    })
}

/// `src` OVER `dst`, both premultiplied `0xAARRGGBB`.
pub fn over(src: u32, dst: u32) -> u32 {
    let inv = 255 - (src >> 24);
    (0..4).fold(0, |acc, c| {
        let ch = |p: u32| (p >> (c * 8)) & 0xff;
        acc | ((ch(src) + mul8(ch(dst), inv)).min(255) << (c * 8))
    })
}

/// TRANSPARENT: the source copied except where its colour equals the key `key` (alpha ignored).
pub fn transparent(dst: &mut Surface, areas: &[Area], map: &SourceMap, src: &Pixels, key: u32) {
    paint(dst, areas, |x, y, d| {
        let s = map.sample(src, x, y);
        if s & RGB == key & RGB {
            d
        } else {
            s | 0xff00_0000
        }
    });
}

/// How ALPHA_BLEND reads its inputs.
#[derive(Debug, Clone, Copy)]
pub struct AlphaInputs {
    /// The constant alpha the source is scaled by.
    pub alpha: u8,
    /// Whether the source's alpha bytes take part (else the source is opaque).
    pub src_alpha: bool,
    /// Whether the destination's alpha bytes take part and are written (else it is opaque).
    pub dest_alpha: bool,
}

/// ALPHA_BLEND: the source, scaled by the constant alpha, OVER the destination.
pub fn alpha_blend(dst: &mut Surface, areas: &[Area], map: &SourceMap, src: &Pixels, how: AlphaInputs) {
    let m = u32::from(how.alpha);
    paint(dst, areas, |x, y, d| {
        let s = map.sample(src, x, y);
        let s = if how.src_alpha { s } else { s | 0xff00_0000 };
        let d = if how.dest_alpha { d } else { d | 0xff00_0000 };
        over(scale(s, m), d)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codecs::Limits;
    use crate::protocol::display::types::ScaleMode;
    use crate::protocol::display::{Rect, SurfaceFormat};

    fn surface(format: SurfaceFormat, fill: u32) -> Surface {
        let mut s = Surface::new(2, 1, format, false, &Limits::default()).unwrap();
        s.pixels.fill(fill);
        s
    }

    fn image(data: Vec<u32>) -> Pixels {
        Pixels { width: data.len() as u32, height: 1, has_alpha: true, data }
    }

    fn map(src: &Pixels, w: i32) -> SourceMap {
        let area = Rect { top: 0, left: 0, bottom: 1, right: src.width as i32 };
        SourceMap::new(&Rect { top: 0, left: 0, bottom: 1, right: w }, src, &area, ScaleMode::Nearest).unwrap()
    }

    #[test]
    fn pixman_rounding() {
        assert_eq!((mul8(255, 255), mul8(128, 255), mul8(128, 128), mul8(1, 127)), (255, 128, 64, 0));
        assert_eq!(over(0x8040_2010, 0xff80_8080), 0xff80_6050);
        assert_eq!(scale(0xff80_4020, 0x80), 0x8040_2010);
    }

    #[test]
    fn transparent_skips_the_key_colour() {
        let mut s = surface(SurfaceFormat::Xrgb32, 0xff11_1111);
        let src = image(vec![0x00ab_cdef, 0x0012_3456]);
        transparent(&mut s, &[Area::whole(2, 1)], &map(&src, 2), &src, 0xff12_3456);
        assert_eq!(s.pixels, vec![0xffab_cdef, 0xff11_1111]);
    }

    #[test]
    fn alpha_blend_with_constant_and_per_pixel_alpha() {
        // Opaque source at half alpha over grey: 0xff × 128/255 = 128, then + 0x80 × 127/255 = 64.
        let mut s = surface(SurfaceFormat::Xrgb32, 0xff80_8080);
        let src = image(vec![0x00ff_0000, 0x00ff_0000]);
        let how = AlphaInputs { alpha: 128, src_alpha: false, dest_alpha: false };
        alpha_blend(&mut s, &[Area::whole(2, 1)], &map(&src, 2), &src, how);
        assert_eq!(s.pixels, vec![0xffc0_4040; 2]);
        // A premultiplied half-transparent source at full alpha; an empty source pixel leaves the destination.
        let mut s = surface(SurfaceFormat::Xrgb32, 0xff80_8080);
        let src = image(vec![0x8040_2010, 0]);
        let how = AlphaInputs { alpha: 255, src_alpha: true, dest_alpha: false };
        alpha_blend(&mut s, &[Area::whole(2, 1)], &map(&src, 2), &src, how);
        assert_eq!(s.pixels, vec![0xff80_6050, 0xff80_8080]);
        // With the destination's alpha: a transparent ARGB destination takes the source as it is.
        let mut s = surface(SurfaceFormat::Argb32, 0);
        let how = AlphaInputs { alpha: 255, src_alpha: true, dest_alpha: true };
        alpha_blend(&mut s, &[Area::whole(2, 1)], &map(&src, 2), &src, how);
        assert_eq!(s.pixels, vec![0x8040_2010, 0]);
    }
}

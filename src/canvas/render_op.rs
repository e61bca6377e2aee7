//! The X Render operators of DRAW_COMPOSITE, per pixel, over premultiplied `0xAARRGGBB`.
//!
//! Every operator Render defines is drawn: the Porter–Duff ones (CLEAR … SATURATE, 0x00–0x0d), their disjoint
//! (0x10–0x1b) and conjoint (0x20–0x2b) forms, the separable blend modes (MULTIPLY … EXCLUSION, 0x30–0x3a) and the
//! non-separable HSL ones (0x3b–0x3e), with the formulas of the Render protocol and the PDF blend-mode
//! specification. The source reaching an operator is already multiplied by the mask: by its alpha, or with component
//! alpha by each channel's own mask value, so each channel also carries its own source alpha (`srca`, one byte per
//! channel). The HSL operators need one alpha for all channels and refuse component alpha. The arithmetic is 8-bit
//! with products rounded to the nearest, as pixman (the library servers and other clients composite with) does; a
//! test compares every operator with pixman itself.

use super::blend::mul8;
use super::CanvasError;

/// How much of one input an operator keeps, from that input's own alpha and the other input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Factor {
    Zero,
    One,
    /// The other's alpha.
    Other,
    /// One minus the other's alpha.
    InvOther,
    /// min(1, (1 − other) / own).
    DisjointOut,
    /// max(1 − (1 − other) / own, 0).
    DisjointIn,
    /// min(1, other / own).
    ConjointIn,
    /// max(1 − other / own, 0).
    ConjointOut,
}

/// A separable blend mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blend {
    Multiply,
    Screen,
    Overlay,
    Darken,
    Lighten,
    ColorDodge,
    ColorBurn,
    HardLight,
    SoftLight,
    Difference,
    Exclusion,
}

/// A non-separable (HSL) blend mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hsl {
    Hue,
    Saturation,
    Color,
    Luminosity,
}

/// A Render operator, decoded once per draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator(Kind);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Source and destination factors.
    Factors(Factor, Factor),
    Separable(Blend),
    NonSeparable(Hsl),
}

/// How much of the source reaches the operator at one pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// All of it (no mask).
    Full,
    /// The mask's alpha, for every channel.
    Alpha(u32),
    /// Component alpha: each channel's own mask value (`0xAARRGGBB`).
    Component(u32),
}

impl Operator {
    /// The operator with Render number `op`.
    pub fn new(op: u8) -> Result<Operator, CanvasError> {
        use Factor::*;
        // The twelve operators of each Porter–Duff family, CLEAR … XOR: (source, destination) factor slots, where
        // 'i' is the family's "in part" and 'o' its "out part" (for the basic family: the other's alpha and its
        // complement).
        const SHAPES: [(u8, u8); 12] = [
            (b'0', b'0'),
            (b'1', b'0'),
            (b'0', b'1'),
            (b'1', b'o'),
            (b'o', b'1'),
            (b'i', b'0'),
            (b'0', b'i'),
            (b'o', b'0'),
            (b'0', b'o'),
            (b'i', b'o'),
            (b'o', b'i'),
            (b'o', b'o'),
        ];
        let family = |index: u8, inn: Factor, out: Factor| {
            let slot = |c: u8| match c {
                b'0' => Zero,
                b'1' => One,
                b'i' => inn,
                _ => out,
            };
            SHAPES.get(usize::from(index)).map(|&(s, d)| Kind::Factors(slot(s), slot(d)))
        };
        const BLENDS: [Blend; 11] = [
            Blend::Multiply,
            Blend::Screen,
            Blend::Overlay,
            Blend::Darken,
            Blend::Lighten,
            Blend::ColorDodge,
            Blend::ColorBurn,
            Blend::HardLight,
            Blend::SoftLight,
            Blend::Difference,
            Blend::Exclusion,
        ];
        const HSL: [Hsl; 4] = [Hsl::Hue, Hsl::Saturation, Hsl::Color, Hsl::Luminosity];
        let kind = match op {
            0x00..=0x0b => family(op, Other, InvOther),
            0x0c => Some(Kind::Factors(One, One)),
            0x0d => Some(Kind::Factors(DisjointOut, One)),
            0x10..=0x1b => family(op - 0x10, DisjointIn, DisjointOut),
            0x20..=0x2b => family(op - 0x20, ConjointIn, ConjointOut),
            0x30..=0x3a => BLENDS.get(usize::from(op - 0x30)).map(|b| Kind::Separable(*b)),
            0x3b..=0x3e => HSL.get(usize::from(op - 0x3b)).map(|h| Kind::NonSeparable(*h)),
            _ => None,
        };
        let kind = kind.ok_or(CanvasError::Unsupported("composite operator unknown to Render"))?;
        Ok(Operator(kind))
    }

    /// Whether the operator can take component alpha (the HSL ones cannot).
    pub fn takes_component_alpha(self) -> bool {
        !matches!(self.0, Kind::NonSeparable(_))
    }

    /// The source pixel `s` (premultiplied, before the mask) through `coverage`, combined with `d`.
    pub fn apply(self, s: u32, coverage: Coverage, d: u32) -> u32 {
        match self.0 {
            // The classic Porter–Duff operators in exact 8-bit arithmetic.
            Kind::Factors(fs, fd) if fs.is_basic() && fd.is_basic() => {
                let (s, srca) = masked8(s, coverage);
                (0..4).fold(0, |acc, c| {
                    let (sc, sa, dc, da) = (byte(s, c), byte(srca, c), byte(d, c), d >> 24);
                    acc | ((mul8(sc, fs.basic(da)) + mul8(dc, fd.basic(sa))).min(255) << (c * 8))
                })
            }
            // The others in floating point, as pixman computes them.
            kind => {
                // The HSL operators are unstable near grey (a hue from channels one step apart): their source is
                // masked in 8 bits, as an 8-bit picture would be, so that tiny differences do not pick a new hue.
                let (s, srca) = match kind {
                    Kind::NonSeparable(_) => {
                        let (s, _) = masked8(s, coverage);
                        masked(s, Coverage::Full)
                    }
                    _ => masked(s, coverage),
                };
                let d = unorm(d);
                let out = match kind {
                    Kind::Factors(fs, fd) => {
                        let da = d[3];
                        each(s, srca, d, |_, s, sa, d| s * fs.value(sa, da) + d * fd.value(da, sa))
                    }
                    Kind::Separable(b) => {
                        let da = d[3];
                        each(s, srca, d, |c, s, sa, d| {
                            let mixed = if c == 3 { sa * da } else { separable(b, s, sa, d, da) };
                            (1.0 - sa) * d + (1.0 - da) * s + mixed
                        })
                    }
                    Kind::NonSeparable(h) => non_separable(h, s, srca[3], d),
                };
                pack(out)
            }
        }
    }
}

impl Factor {
    fn is_basic(self) -> bool {
        matches!(self, Factor::Zero | Factor::One | Factor::Other | Factor::InvOther)
    }

    /// A basic factor in 8 bits, from the other input's alpha.
    fn basic(self, other: u32) -> u32 {
        match self {
            Factor::Zero => 0,
            Factor::Other => other,
            Factor::InvOther => 255 - other,
            _ => 255,
        }
    }

    /// The factor from the input's own alpha and the other's, in `[0, 1]`.
    fn value(self, own: f32, other: f32) -> f32 {
        let part = |x: f32| if own == 0.0 { f32::INFINITY } else { x / own };
        match self {
            Factor::Zero => 0.0,
            Factor::One => 1.0,
            Factor::Other => other,
            Factor::InvOther => 1.0 - other,
            Factor::DisjointOut => part(1.0 - other).min(1.0),
            Factor::DisjointIn => (1.0 - part(1.0 - other)).max(0.0),
            Factor::ConjointIn => part(other).min(1.0),
            Factor::ConjointOut => (1.0 - part(other)).max(0.0),
        }
    }
}

fn byte(p: u32, c: u32) -> u32 {
    (p >> (c * 8)) & 0xff
}

/// The source through the coverage in 8 bits, and each channel's source alpha.
fn masked8(s: u32, coverage: Coverage) -> (u32, u32) {
    let per_channel = |p: u32, m: u32| (0..4).fold(0, |acc, c| acc | (mul8(byte(p, c), byte(m, c)) << (c * 8)));
    match coverage {
        Coverage::Full => (s, (s >> 24) * 0x0101_0101),
        Coverage::Alpha(m) => {
            let s = super::blend::scale(s, m);
            (s, (s >> 24) * 0x0101_0101)
        }
        Coverage::Component(m) => (per_channel(s, m), per_channel((s >> 24) * 0x0101_0101, m)),
    }
}

/// A pixel as four values in `[0, 1]`, in the order blue, green, red, alpha.
fn unorm(p: u32) -> [f32; 4] {
    std::array::from_fn(|c| byte(p, c as u32) as f32 / 255.0)
}

/// Four values back to a pixel, clamped and rounded to the nearest.
fn pack(v: [f32; 4]) -> u32 {
    v.iter().enumerate().fold(0, |acc, (c, x)| acc | (((x.clamp(0.0, 1.0) * 255.0 + 0.5) as u32).min(255) << (c * 8)))
}

/// The source through the coverage in floating point, and each channel's source alpha.
fn masked(s: u32, coverage: Coverage) -> ([f32; 4], [f32; 4]) {
    let s = unorm(s);
    let m = match coverage {
        Coverage::Full => [1.0; 4],
        Coverage::Alpha(a) => [a as f32 / 255.0; 4],
        Coverage::Component(m) => unorm(m),
    };
    let sa = s[3];
    (each(s, m, m, |_, s, m, _| s * m), m.map(|m| sa * m))
}

/// `f(channel, a, b, c)` for each channel of three pixels.
fn each(a: [f32; 4], b: [f32; 4], c: [f32; 4], f: impl Fn(usize, f32, f32, f32) -> f32) -> [f32; 4] {
    let mut out = [0.0; 4];
    for (i, (o, ((a, b), c))) in out.iter_mut().zip(a.into_iter().zip(b).zip(c)).enumerate() {
        *o = f(i, a, b, c);
    }
    out
}

/// A separable blend term `αs·αd·B(d/αd, s/αs)` for premultiplied `s`, `d`.
fn separable(b: Blend, s: f32, sa: f32, d: f32, da: f32) -> f32 {
    match b {
        Blend::Multiply => s * d,
        Blend::Screen => s * da + d * sa - s * d,
        Blend::Overlay => hard_light(d, da, s, sa),
        Blend::Darken => (s * da).min(d * sa),
        Blend::Lighten => (s * da).max(d * sa),
        Blend::ColorDodge => {
            if d == 0.0 {
                0.0
            } else if s >= sa {
                sa * da
            } else {
                (d * sa * sa / (sa - s)).min(sa * da)
            }
        }
        Blend::ColorBurn => {
            if d >= da {
                sa * da
            } else if s == 0.0 {
                0.0
            } else {
                (sa * da - sa * sa * (da - d) / s).max(0.0)
            }
        }
        Blend::HardLight => hard_light(s, sa, d, da),
        Blend::SoftLight => soft_light(s, sa, d, da),
        Blend::Difference => (s * da - d * sa).abs(),
        Blend::Exclusion => s * da + d * sa - 2.0 * s * d,
    }
}

/// HARD_LIGHT with `a` the input that decides (the source; OVERLAY is HARD_LIGHT with the inputs swapped).
fn hard_light(a: f32, aa: f32, b: f32, ba: f32) -> f32 {
    if 2.0 * a < aa {
        2.0 * a * b
    } else {
        aa * ba - 2.0 * (ba - b) * (aa - a)
    }
}

fn soft_light(s: f32, sa: f32, d: f32, da: f32) -> f32 {
    if da == 0.0 {
        d * sa
    } else if 2.0 * s < sa {
        d * sa - d * (da - d) * (sa - 2.0 * s) / da
    } else if 4.0 * d <= da {
        d * sa + (2.0 * s - sa) * d * ((16.0 * d / da - 12.0) * d / da + 3.0)
    } else {
        d * sa + ((d * da).sqrt() - d) * (2.0 * s - sa)
    }
}

/// The HSL operators, with one source alpha `sa` for the colour channels.
fn non_separable(h: Hsl, s: [f32; 4], sa: f32, d: [f32; 4]) -> [f32; 4] {
    let da = d[3];
    // Red, green, blue of each input scaled into the blend term's domain: source × αd, destination × αs.
    let sc = [s[2] * da, s[1] * da, s[0] * da];
    let dc = [d[2] * sa, d[1] * sa, d[0] * sa];
    let both = sa * da;
    let mixed = match h {
        Hsl::Hue => set_lum(set_sat(sc, sat(dc)), both, lum(dc)),
        Hsl::Saturation => set_lum(set_sat(dc, sat(sc)), both, lum(dc)),
        Hsl::Color => set_lum(sc, both, lum(dc)),
        Hsl::Luminosity => set_lum(dc, both, lum(sc)),
    };
    let colour = |s: f32, d: f32, mixed: f32| (1.0 - sa) * d + (1.0 - da) * s + mixed;
    [colour(s[0], d[0], mixed[2]), colour(s[1], d[1], mixed[1]), colour(s[2], d[2], mixed[0]), sa + da - sa * da]
}

fn lum(c: [f32; 3]) -> f32 {
    0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]
}

fn sat(c: [f32; 3]) -> f32 {
    c.iter().copied().fold(f32::MIN, f32::max) - c.iter().copied().fold(f32::MAX, f32::min)
}

/// The colour with its luminosity set to `l`, clipped into `[0, alpha]`.
fn set_lum(mut c: [f32; 3], alpha: f32, l: f32) -> [f32; 3] {
    let delta = l - lum(c);
    for v in &mut c {
        *v += delta;
    }
    let l = lum(c);
    let min = c.iter().copied().fold(f32::MAX, f32::min);
    let max = c.iter().copied().fold(f32::MIN, f32::max);
    if min < 0.0 && l - min > 0.0 {
        for v in &mut c {
            *v = l + (*v - l) * l / (l - min);
        }
    }
    if max > alpha && max - l > 0.0 {
        for v in &mut c {
            *v = l + (*v - l) * (alpha - l) / (max - l);
        }
    }
    c
}

/// The colour with its saturation (max − min) set to `s`, keeping the order of its channels: the largest becomes
/// `s`, the smallest 0, the middle one keeps its place between them.
fn set_sat(c: [f32; 3], s: f32) -> [f32; 3] {
    let min = c.iter().copied().fold(f32::MAX, f32::min);
    let max = c.iter().copied().fold(f32::MIN, f32::max);
    if max > min {
        c.map(|v| (v - min) * s / (max - min))
    } else {
        [0.0; 3]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_render_operator_is_known_and_nothing_else() {
        for op in 0..=255u8 {
            let known = matches!(op, 0x00..=0x0d | 0x10..=0x1b | 0x20..=0x2b | 0x30..=0x3e);
            assert_eq!(Operator::new(op).is_ok(), known, "{op:#x}");
        }
    }

    #[test]
    fn porter_duff_basics() {
        let (s, d) = (0x8080_0000, 0xff00_00ff);
        let op = |n| Operator::new(n).unwrap().apply(s, Coverage::Full, d);
        assert_eq!(op(3), 0xff80_007f, "OVER");
        assert_eq!(op(1), s, "SRC");
        assert_eq!(op(0), 0, "CLEAR");
        assert_eq!(op(5), s, "IN an opaque destination");
        assert_eq!(op(12), 0xff80_00ff, "ADD saturates");
        // Disjoint and conjoint OVER onto an opaque destination: the source wins where it is opaque.
        assert_eq!(Operator::new(0x13).unwrap().apply(0xff11_2233, Coverage::Full, d), 0xff11_2233);
        assert_eq!(Operator::new(0x23).unwrap().apply(0xff11_2233, Coverage::Full, d), 0xff11_2233);
    }

    #[test]
    fn blend_modes_with_opaque_inputs_follow_their_definitions() {
        let (s, d) = (0xff40_80c0, 0xff80_8080);
        let op = |n| Operator::new(n).unwrap().apply(s, Coverage::Full, d);
        assert_eq!(op(0x30), 0xff20_4060, "MULTIPLY");
        assert_eq!(op(0x33), 0xff40_8080, "DARKEN");
        assert_eq!(op(0x34), 0xff80_80c0, "LIGHTEN");
        assert_eq!(op(0x39), 0xff40_0040, "DIFFERENCE");
        // Luminosity of a grey source onto a grey destination is the source.
        assert_eq!(Operator::new(0x3e).unwrap().apply(0xff40_4040, Coverage::Full, d), 0xff40_4040);
        assert!(!Operator::new(0x3b).unwrap().takes_component_alpha());
    }
}

//! DRAW_COMPOSITE against pixman itself: the library spice-server's and spice-gtk's canvases composite with. For
//! every Render operator, with and without a mask, with and without component alpha, thousands of premultiplied
//! pixels (random, plus the edge values 0 and 255) go through ryll's canvas and through pixman's
//! `pixman_image_composite32`, loaded at run time from the system's `libpixman-1.so.0` (Debian's libpixman-1-0, in
//! tools/packages.txt). The two must agree to within the stated tolerance per channel.

use libloading::{Library, Symbol};
use ryll::canvas::composite::{composite, Compositing, Picture};
use ryll::canvas::region::Area;
use ryll::canvas::render_op::Operator;
use ryll::canvas::surface::Surface;
use ryll::codecs::{Limits, Pixels};
use ryll::protocol::display::SurfaceFormat;
use std::ffi::{c_int, c_void};

/// PIXMAN_a8r8g8b8.
const A8R8G8B8: u32 = 0x2002_8888;
/// Pixels per case.
const N: usize = 8192;

/// A mask row and whether it is component alpha.
type Mask<'a> = Option<(&'a [u32], bool)>;

type CreateBits = unsafe extern "C" fn(u32, c_int, c_int, *mut u32, c_int) -> *mut c_void;
type Composite32 =
    unsafe extern "C" fn(c_int, *mut c_void, *mut c_void, *mut c_void, i32, i32, i32, i32, i32, i32, i32, i32);
type SetComponentAlpha = unsafe extern "C" fn(*mut c_void, c_int);
type Unref = unsafe extern "C" fn(*mut c_void) -> c_int;

struct Pixman {
    lib: Library,
}

impl Pixman {
    fn load() -> Pixman {
        // SAFETY: loading the system pixman runs no initialisers beyond the library's own.
        let lib = unsafe { Library::new("libpixman-1.so.0") }
            .expect("libpixman-1.so.0 (Debian package libpixman-1-0, installed by tools/deps.sh)");
        Pixman { lib }
    }

    /// `dst` after `op` with `src` and `mask` (one row each), as pixman computes it.
    fn composite(&self, op: u8, src: &[u32], mask: Mask<'_>, dst: &[u32]) -> Vec<u32> {
        let mut src = src.to_vec();
        let mut dst = dst.to_vec();
        let mut mask_bits = mask.map(|(m, _)| m.to_vec());
        let w = dst.len() as c_int;
        let stride = w * 4;
        // SAFETY: the symbols have these C signatures in pixman.h; every image wraps a live Vec of `w` pixels (one
        // row, `stride` bytes) that outlives it, and each image is unreferenced before its Vec goes.
        unsafe {
            let create: Symbol<CreateBits> = self.lib.get(b"pixman_image_create_bits\0").expect("symbol");
            let comp: Symbol<Composite32> = self.lib.get(b"pixman_image_composite32\0").expect("symbol");
            let set_ca: Symbol<SetComponentAlpha> =
                self.lib.get(b"pixman_image_set_component_alpha\0").expect("symbol");
            let unref: Symbol<Unref> = self.lib.get(b"pixman_image_unref\0").expect("symbol");
            let s = create(A8R8G8B8, w, 1, src.as_mut_ptr(), stride);
            let d = create(A8R8G8B8, w, 1, dst.as_mut_ptr(), stride);
            let m = match (&mut mask_bits, mask) {
                (Some(bits), Some((_, ca))) => {
                    let m = create(A8R8G8B8, w, 1, bits.as_mut_ptr(), stride);
                    set_ca(m, c_int::from(ca));
                    m
                }
                _ => std::ptr::null_mut(),
            };
            assert!(!s.is_null() && !d.is_null(), "pixman images");
            comp(c_int::from(op), s, m, d, 0, 0, 0, 0, 0, 0, w, 1);
            unref(s);
            unref(d);
            if !m.is_null() {
                unref(m);
            }
        }
        dst
    }
}

/// ryll's canvas doing the same.
fn ryll(op: u8, src: &[u32], mask: Mask<'_>, dst: &[u32]) -> Vec<u32> {
    let w = dst.len() as u32;
    let src_px = Pixels { width: w, height: 1, has_alpha: true, data: src.to_vec() };
    let mask_px = mask.map(|(m, _)| Pixels { width: w, height: 1, has_alpha: true, data: m.to_vec() });
    let how = Compositing {
        op: Operator::new(op).expect("a Render operator"),
        component_alpha: mask.is_some_and(|(_, ca)| ca),
        src: Picture::plain(&src_px),
        mask: mask_px.as_ref().map(Picture::plain),
        dest_opaque: false,
        origin: (0, 0),
    };
    let mut surface = Surface::new(w, 1, SurfaceFormat::Argb32, false, &Limits::default()).expect("surface");
    surface.pixels.copy_from_slice(dst);
    composite(&mut surface, &[Area::whole(w, 1)], &how).expect("composite");
    surface.pixels
}

/// Premultiplied pixels: random, then every alpha edge case.
fn pixels(seed: u64) -> Vec<u32> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..N)
        .map(|i| {
            let r = next();
            let a = match i % 8 {
                0 => 0,
                1 => 255,
                _ => (r & 0xff) as u32,
            };
            let ch = |k: u32| if a == 0 { 0 } else { ((r >> (8 + 8 * k)) & 0xff) as u32 % (a + 1) };
            a << 24 | ch(0) << 16 | ch(1) << 8 | ch(2)
        })
        .collect()
}

/// The largest channel difference and where.
fn max_diff(a: &[u32], b: &[u32]) -> (u32, usize) {
    let mut worst = (0, 0);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let d = (0..4).map(|c| ((x >> (c * 8)) & 0xff).abs_diff((y >> (c * 8)) & 0xff)).max().unwrap_or(0);
        if d > worst.0 {
            worst = (d, i);
        }
    }
    worst
}

#[test]
fn every_render_operator_matches_pixman() {
    let pixman = Pixman::load();
    let (src, mask, dst) =
        (pixels(0x9e37_79b9_7f4a_7c15), pixels(0xd1b5_4a32_d192_ed03), pixels(0x8cb9_2ba7_2f3d_8dd7));
    let ops: Vec<u8> = (0x00..=0x0d).chain(0x10..=0x1b).chain(0x20..=0x2b).chain(0x30..=0x3e).collect();
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for op in ops {
        let hsl = op >= 0x3b;
        let cases: Vec<(&str, Mask<'_>)> = if hsl {
            vec![("no mask", None), ("mask", Some((&mask[..], false)))]
        } else {
            vec![("no mask", None), ("mask", Some((&mask[..], false))), ("component alpha", Some((&mask[..], true)))]
        };
        for (name, m) in cases {
            let want = match m {
                // pixman's HSL operators mishandle a mask (results brighter than their alpha, in about one pixel
                // in ten); Render defines the mask as multiplying the source first, so pixman does that in two
                // steps here: SRC through the mask, then the operator without one.
                Some((mask, false)) if hsl => {
                    let masked = pixman.composite(1, &src, Some((mask, false)), &vec![0; N]);
                    pixman.composite(op, &masked, None, &dst)
                }
                _ => pixman.composite(op, &src, m, &dst),
            };
            let got = ryll(op, &src, m, &dst);
            let (diff, at) = max_diff(&want, &got);
            // Exact for the classic Porter–Duff operators (8-bit arithmetic on both sides). SATURATE and the
            // disjoint and conjoint families within 1: pixman computes them in floating point, ryll too, and the
            // last bit depends on the order of operations. The blend modes within 2: pixman masks some in 8 bits
            // first and blends others in floating point.
            let tolerance = match op {
                0x00..=0x0c => 0,
                0x0d..=0x2b => 1,
                _ => 2,
            };
            report.push(format!("op {op:#04x} {name}: max diff {diff}"));
            if diff > tolerance {
                failed.push(format!(
                    "op {op:#04x} {name}: diff {diff} at {at}: src {:08x} mask {:08x} dst {:08x}: \
                     pixman {:08x}, ryll {:08x}",
                    src[at], mask[at], dst[at], want[at], got[at]
                ));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(failed.is_empty(), "{} case(s) differ from pixman:\n{}", failed.len(), failed.join("\n"));
}

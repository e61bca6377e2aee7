//! Canvas tests on typed messages: surfaces, draws, caches and hostile values.

use super::*;
use crate::protocol::display::draw::{Copy, Fill};
use crate::protocol::display::image::{BitmapImage, ImageDescriptor, PaletteRef, BITMAP_TOP_DOWN, IMAGE_CACHE_ME};
use crate::protocol::display::types::{Point, ScaleMode};
use crate::protocol::display::{Clip, DisplayBase, ResourceId, SurfaceCreate};

fn canvas() -> Canvas {
    Canvas::new(SessionImages::new(1 << 20, 1 << 20), Limits::default())
}

fn create(id: u32, w: u32, h: u32) -> DisplayMessage<'static> {
    DisplayMessage::SurfaceCreate(SurfaceCreate {
        surface_id: id,
        width: w,
        height: h,
        format: SurfaceFormat::Xrgb32,
        flags: u32::from(id == 0),
    })
}

fn rect(left: i32, top: i32, right: i32, bottom: i32) -> Rect {
    Rect { top, left, bottom, right }
}

fn base(surface_id: u32, bbox: Rect) -> DisplayBase {
    DisplayBase { surface_id, bbox, clip: Clip::None }
}

/// A 32BIT top-down BITMAP image of `w × h` from `0x00RRGGBB` pixels.
fn bitmap<'a>(id: u64, flags: u8, w: u32, h: u32, bytes: &'a [u8]) -> Image<'a> {
    Image {
        descriptor: ImageDescriptor { id, image_type: 0, flags, width: w, height: h },
        data: ImageData::Bitmap(BitmapImage {
            format: 8,
            flags: BITMAP_TOP_DOWN,
            width: w,
            height: h,
            stride: w * 4,
            palette: PaletteRef::None,
            data: bytes,
        }),
    }
}

fn bytes(pixels: &[u32]) -> Vec<u8> {
    pixels.iter().flat_map(|p| p.to_le_bytes()).collect()
}

fn copy<'a>(surface: u32, bbox: Rect, src: Image<'a>, src_area: Rect) -> DisplayMessage<'a> {
    DisplayMessage::Draw(Draw {
        base: base(surface, bbox),
        op: DrawOp::Copy(Copy {
            src,
            src_area,
            rop: ropd::OP_PUT,
            scale_mode: ScaleMode::Nearest,
            mask: QMask::default(),
        }),
    })
}

fn fill(surface: u32, bbox: Rect, clip: Clip, color: u32) -> DisplayMessage<'static> {
    DisplayMessage::Draw(Draw {
        base: DisplayBase { surface_id: surface, bbox, clip },
        op: DrawOp::Fill(Fill { brush: Brush::Solid(color), rop: ropd::OP_PUT, mask: QMask::default() }),
    })
}

fn rgb(c: &Canvas, id: u32) -> Vec<u32> {
    c.surface(id).unwrap().pixels.iter().map(|p| p & 0xff_ffff).collect()
}

#[test]
fn surfaces_are_created_replaced_and_destroyed() {
    let mut c = canvas();
    let created = c.apply(&create(0, 4, 2)).unwrap();
    assert_eq!(created, Some(Change::SurfaceCreated { id: 0, width: 4, height: 2, primary: true }));
    assert_eq!(c.primary().map(|s| (s.width, s.height)), Some((4, 2)));
    c.apply(&create(0, 8, 8)).unwrap();
    assert_eq!(c.primary().map(|s| s.pixels.len()), Some(64));
    c.apply(&create(3, 2, 2)).unwrap();
    assert_eq!(c.primary_id(), Some(0));
    assert_eq!(
        c.apply(&DisplayMessage::SurfaceDestroy(0)).unwrap(),
        Some(Change::SurfaceDestroyed { id: 0, primary: true })
    );
    assert!(c.primary().is_none() && c.surface(3).is_some());
    assert_eq!(c.apply(&DisplayMessage::SurfaceDestroy(9)).unwrap(), None);
}

#[test]
fn fills_respect_the_box_the_clip_and_the_surface() {
    let mut c = canvas();
    c.apply(&create(0, 4, 3)).unwrap();
    let change = c.apply(&fill(0, rect(-2, 1, 9, 3), Clip::None, 0x11)).unwrap();
    assert_eq!(change, Some(Change::Drawn { surface: 0, area: Area { left: 0, top: 1, right: 4, bottom: 3 } }));
    let clip = Clip::Rects(vec![rect(0, 0, 1, 1), rect(3, 2, 10, 10)]);
    c.apply(&fill(0, rect(0, 0, 4, 3), clip, 0x22)).unwrap();
    assert_eq!(rgb(&c, 0), vec![0x22, 0, 0, 0, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x22]);
    assert_eq!(c.apply(&fill(0, rect(5, 5, 9, 9), Clip::None, 0x33)).unwrap(), None);
    assert_eq!(c.apply(&fill(7, rect(0, 0, 1, 1), Clip::None, 0x33)), Err(CanvasError::NoSurface(7)));
}

#[test]
fn copies_decode_cache_and_reuse_images() {
    let mut c = canvas();
    c.apply(&create(0, 3, 2)).unwrap();
    let px = bytes(&[1, 2, 3, 4, 5, 6]);
    c.apply(&copy(0, rect(0, 0, 3, 2), bitmap(77, IMAGE_CACHE_ME, 3, 2, &px), rect(0, 0, 3, 2))).unwrap();
    assert_eq!(rgb(&c, 0), vec![1, 2, 3, 4, 5, 6]);
    // The cached image drawn again, its second column only, at the left.
    let cached = Image {
        descriptor: ImageDescriptor { id: 77, image_type: 103, flags: 0, width: 3, height: 2 },
        data: ImageData::FromCache,
    };
    c.apply(&copy(0, rect(0, 0, 1, 2), cached.clone(), rect(1, 0, 2, 2))).unwrap();
    assert_eq!(rgb(&c, 0), vec![2, 2, 3, 5, 5, 6]);
    c.apply(&DisplayMessage::InvalList(vec![ResourceId { res_type: 1, id: 77 }])).unwrap();
    assert_eq!(c.apply(&copy(0, rect(0, 0, 1, 2), cached, rect(1, 0, 2, 2))), Err(CanvasError::CacheMiss(77)));
}

#[test]
fn clipped_away_cache_images_are_still_decoded() {
    let mut c = canvas();
    c.apply(&create(0, 3, 2)).unwrap();
    let px = bytes(&[9; 4]);
    assert_eq!(
        c.apply(&copy(0, rect(10, 10, 12, 12), bitmap(5, IMAGE_CACHE_ME, 2, 2, &px), rect(0, 0, 2, 2))),
        Ok(None)
    );
    assert!(c.session.pixmaps().get(5).is_some());
}

#[test]
fn a_surface_is_a_source_and_copy_bits_moves_pixels() {
    let mut c = canvas();
    c.apply(&create(0, 4, 1)).unwrap();
    c.apply(&create(1, 2, 1)).unwrap();
    c.apply(&fill(1, rect(0, 0, 2, 1), Clip::None, 0x44)).unwrap();
    let from_surface = Image {
        descriptor: ImageDescriptor { id: 0, image_type: 104, flags: 0, width: 2, height: 1 },
        data: ImageData::Surface(1),
    };
    c.apply(&copy(0, rect(2, 0, 4, 1), from_surface, rect(0, 0, 2, 1))).unwrap();
    assert_eq!(rgb(&c, 0), vec![0, 0, 0x44, 0x44]);
    let bits =
        DisplayMessage::Draw(Draw { base: base(0, rect(0, 0, 2, 1)), op: DrawOp::CopyBits(Point { x: 2, y: 0 }) });
    c.apply(&bits).unwrap();
    assert_eq!(rgb(&c, 0), vec![0x44; 4]);
}

#[test]
fn a_corrupt_image_costs_one_draw() {
    let mut c = canvas();
    c.apply(&create(0, 2, 1)).unwrap();
    let short = bytes(&[1]);
    let bad = Image {
        descriptor: ImageDescriptor { id: 1, image_type: 101, flags: 0, width: 2, height: 1 },
        data: ImageData::LzRgb(&short),
    };
    assert!(matches!(c.apply(&copy(0, rect(0, 0, 2, 1), bad, rect(0, 0, 2, 1))), Err(CanvasError::Decode(_))));
    let px = bytes(&[7, 8]);
    c.apply(&copy(0, rect(0, 0, 2, 1), bitmap(2, 0, 2, 1, &px), rect(0, 0, 2, 1))).unwrap();
    assert_eq!(rgb(&c, 0), vec![7, 8]);
    // A source area outside the image is refused, not read.
    let px = bytes(&[7, 8]);
    let e = c.apply(&copy(0, rect(0, 0, 2, 1), bitmap(3, 0, 2, 1, &px), rect(1, 0, 3, 1)));
    assert!(matches!(e, Err(CanvasError::Invalid { what: "source area", .. })), "{e:?}");
}

#[test]
fn hostile_surface_counts_and_sizes_are_refused() {
    let mut c = canvas();
    let huge = DisplayMessage::SurfaceCreate(SurfaceCreate {
        surface_id: 0,
        width: 65_535,
        height: 65_535,
        format: SurfaceFormat::Xrgb32,
        flags: 1,
    });
    assert!(c.apply(&huge).is_err());
    for id in 1..=4 {
        c.apply(&create(id, 8192, 8192)).unwrap();
    }
    assert!(matches!(c.apply(&create(5, 8192, 8192)), Err(CanvasError::TooManySurfaces(_))));
    // Replacing an existing surface is measured without its old size.
    c.apply(&create(4, 8192, 8192)).unwrap();
}

#[test]
fn reset_clears_the_primary() {
    let mut c = canvas();
    c.apply(&create(0, 2, 1)).unwrap();
    c.apply(&fill(0, rect(0, 0, 2, 1), Clip::None, 0x55)).unwrap();
    assert_eq!(c.apply(&DisplayMessage::Reset).unwrap(), Some(Change::Reset));
    assert_eq!(rgb(&c, 0), vec![0, 0]);
}

/// A 1-bpp mask BITMAP of `w × h`, one byte a row, in format 1BIT_LE (1) or 1BIT_BE (2).
fn mask_image<'a>(id: u64, flags: u8, format: u8, w: u32, h: u32, rows: &'a [u8]) -> Image<'a> {
    Image {
        descriptor: ImageDescriptor { id, image_type: 0, flags, width: w, height: h },
        data: ImageData::Bitmap(BitmapImage {
            format,
            flags: BITMAP_TOP_DOWN,
            width: w,
            height: h,
            stride: 1,
            palette: PaletteRef::None,
            data: rows,
        }),
    }
}

fn masked_fill<'a>(bbox: Rect, clip: Clip, mask: QMask<'a>, color: u32) -> DisplayMessage<'a> {
    DisplayMessage::Draw(Draw {
        base: DisplayBase { surface_id: 0, bbox, clip },
        op: DrawOp::Fill(Fill { brush: Brush::Solid(color), rop: ropd::OP_PUT, mask }),
    })
}

#[test]
fn masks_restrict_draws_in_both_bit_orders_and_inverted() {
    let mut c = canvas();
    c.apply(&create(0, 4, 2)).unwrap();
    // 1BIT_BE: leftmost pixel in bit 7. Row 0: x=0 and x=2 set; row 1: x=1.
    let rows = [0b1010_0000, 0b0100_0000];
    let m = QMask { flags: 0, pos: Point { x: 0, y: 0 }, bitmap: Some(mask_image(1, 0, 2, 3, 2, &rows)) };
    let change = c.apply(&masked_fill(rect(1, 0, 4, 2), Clip::None, m, 0x11)).unwrap();
    assert_eq!(rgb(&c, 0), vec![0, 0x11, 0, 0x11, 0, 0, 0x11, 0]);
    assert_eq!(change, Some(Change::Drawn { surface: 0, area: Area { left: 1, top: 0, right: 4, bottom: 2 } }));
    // 1BIT_LE, inverted, offset by pos (1, 0) and clipped to column 1: mask column 1 lands on surface column 0.
    let rows = [0b0000_0010, 0b0000_0000];
    let m = QMask { flags: 1, pos: Point { x: 1, y: 0 }, bitmap: Some(mask_image(2, 0, 1, 3, 2, &rows)) };
    let clip = Clip::Rects(vec![rect(0, 0, 2, 2)]);
    c.apply(&masked_fill(rect(0, 0, 4, 2), clip, m, 0x22)).unwrap();
    assert_eq!(rgb(&c, 0), vec![0, 0x22, 0, 0x11, 0x22, 0x22, 0x11, 0]);
    // A mask that is not 1 bit per pixel is refused.
    let px = bytes(&[1]);
    let m = QMask { flags: 0, pos: Point::default(), bitmap: Some(bitmap(3, 0, 1, 1, &px)) };
    assert!(matches!(c.apply(&masked_fill(rect(0, 0, 1, 1), Clip::None, m, 0)), Err(CanvasError::Invalid { .. })));
}

#[test]
fn cached_masks_are_decoded_when_clipped_away_and_reused() {
    let mut c = canvas();
    c.apply(&create(0, 2, 1)).unwrap();
    let rows = [0b0100_0000];
    let m = QMask { flags: 0, pos: Point::default(), bitmap: Some(mask_image(9, IMAGE_CACHE_ME, 2, 2, 1, &rows)) };
    assert_eq!(c.apply(&masked_fill(rect(5, 5, 7, 6), Clip::None, m, 0x33)), Ok(None));
    let cached = Image {
        descriptor: ImageDescriptor { id: 9, image_type: 103, flags: 0, width: 2, height: 1 },
        data: ImageData::FromCache,
    };
    let m = QMask { flags: 0, pos: Point::default(), bitmap: Some(cached) };
    c.apply(&masked_fill(rect(0, 0, 2, 1), Clip::None, m, 0x33)).unwrap();
    assert_eq!(rgb(&c, 0), vec![0, 0x33]);
}

#[test]
fn rop3_combines_brush_source_and_destination_within_the_clip() {
    let mut c = canvas();
    c.apply(&create(0, 3, 1)).unwrap();
    c.apply(&fill(0, rect(0, 0, 3, 1), Clip::None, 0x0f_0f0f)).unwrap();
    let px = bytes(&[0x00_ff00, 0x00_00ff, 0x11_1111]);
    let draw = DisplayMessage::Draw(Draw {
        base: DisplayBase { surface_id: 0, bbox: rect(0, 0, 3, 1), clip: Clip::Rects(vec![rect(0, 0, 2, 1)]) },
        op: DrawOp::Rop3(crate::protocol::display::draw::Rop3 {
            src: bitmap(1, 0, 3, 1, &px),
            src_area: rect(0, 0, 3, 1),
            brush: Brush::Solid(0xff_0000),
            rop3: 0x96, // P xor S xor D
            scale_mode: ScaleMode::Nearest,
            mask: QMask::default(),
        }),
    });
    c.apply(&draw).unwrap();
    assert_eq!(rgb(&c, 0), vec![0xf0_f00f, 0xf0_0ff0, 0x0f_0f0f]);
}

#[test]
fn solid_brushes_on_sixteen_bit_surfaces_are_pixels_of_the_surface_format() {
    let mut c = canvas();
    let create16 = |id, format| {
        DisplayMessage::SurfaceCreate(SurfaceCreate { surface_id: id, width: 2, height: 1, format, flags: 0 })
    };
    c.apply(&create16(1, SurfaceFormat::Rgb565)).unwrap();
    c.apply(&create16(2, SurfaceFormat::Rgb555)).unwrap();
    c.apply(&fill(1, rect(0, 0, 2, 1), Clip::None, 0xf800)).unwrap();
    c.apply(&fill(2, rect(0, 0, 2, 1), Clip::None, 0x03e0)).unwrap();
    assert_eq!(rgb(&c, 1), vec![0xff_0000; 2]);
    assert_eq!(rgb(&c, 2), vec![0x00_ff00; 2]);
}

#[test]
fn alpha_blend_and_transparent_draw_through_the_clip() {
    let mut c = canvas();
    c.apply(&create(0, 3, 1)).unwrap();
    c.apply(&fill(0, rect(0, 0, 3, 1), Clip::None, 0x80_8080)).unwrap();
    let px = bytes(&[0xff_0000, 0x12_3456, 0x00_00ff]);
    let blend = |alpha: u8, clip: Clip| {
        DisplayMessage::Draw(Draw {
            base: DisplayBase { surface_id: 0, bbox: rect(0, 0, 3, 1), clip },
            op: DrawOp::AlphaBlend(crate::protocol::display::draw::AlphaBlend {
                alpha_flags: 0,
                alpha,
                src: bitmap(1, 0, 3, 1, &px),
                src_area: rect(0, 0, 3, 1),
            }),
        })
    };
    assert_eq!(c.apply(&blend(0, Clip::None)), Ok(None));
    c.apply(&blend(128, Clip::Rects(vec![rect(0, 0, 1, 1)]))).unwrap();
    assert_eq!(rgb(&c, 0), vec![0xc0_4040, 0x80_8080, 0x80_8080]);
    let key = DisplayMessage::Draw(Draw {
        base: base(0, rect(0, 0, 3, 1)),
        op: DrawOp::Transparent(crate::protocol::display::draw::Transparent {
            src: bitmap(2, 0, 3, 1, &px),
            src_area: rect(0, 0, 3, 1),
            src_color: 0x12_3456,
            true_color: 0,
        }),
    });
    c.apply(&key).unwrap();
    assert_eq!(rgb(&c, 0), vec![0xff_0000, 0x80_8080, 0x00_00ff]);
}

#[test]
fn composite_through_an_a8_surface_mask() {
    let mut c = canvas();
    c.apply(&create(0, 2, 1)).unwrap();
    let a8 = DisplayMessage::SurfaceCreate(SurfaceCreate {
        surface_id: 1,
        width: 2,
        height: 1,
        format: SurfaceFormat::A8,
        flags: 0,
    });
    c.apply(&a8).unwrap();
    // A fill on an A8 surface sets full alpha.
    c.apply(&fill(1, rect(0, 0, 1, 1), Clip::None, 0)).unwrap();
    assert_eq!(c.surface(1).unwrap().pixels, vec![0xff00_0000, 0]);
    let px = bytes(&[0xff_0000]);
    let a8_image = Image {
        descriptor: ImageDescriptor { id: 0, image_type: 104, flags: 0, width: 2, height: 1 },
        data: ImageData::Surface(1),
    };
    let composite = |flags: u32| {
        DisplayMessage::Draw(Draw {
            base: base(0, rect(0, 0, 2, 1)),
            op: DrawOp::Composite(crate::protocol::display::draw::Composite {
                flags,
                src: bitmap(1, 0, 1, 1, &px),
                mask: Some(a8_image.clone()),
                src_transform: None,
                mask_transform: None,
                src_origin: Default::default(),
                mask_origin: Default::default(),
            }),
        })
    };
    // OVER (3), the 1×1 source repeated (normal, bit 14), the mask as it is.
    c.apply(&composite(3 | 1 << 14 | 1 << 19)).unwrap();
    assert_eq!(rgb(&c, 0), vec![0xff_0000, 0]);
    assert!(c.apply(&composite(3 | 1 << 18)).is_ok(), "component alpha is drawn");
    let hsl_ca = Err(CanvasError::Unsupported("composite with component alpha and an HSL operator"));
    assert_eq!(c.apply(&composite(0x3b | 1 << 18)), hsl_ca);
    assert_eq!(c.apply(&composite(0x40)), Err(CanvasError::Unsupported("composite operator unknown to Render")));
}

#[test]
fn a_clip_of_16384_rects_is_drawn_promptly_by_every_op() {
    let mut c = canvas();
    c.apply(&create(0, 2048, 2048)).unwrap();
    // 16384 small rectangles spread over the surface, many overlapping.
    let rects: Vec<Rect> = (0..16_384)
        .map(|i| {
            let (x, y) = ((i * 7) % 2040, (i * 13) % 2040);
            rect(x, y, x + 8, y + 2)
        })
        .collect();
    let start = std::time::Instant::now();
    c.apply(&fill(0, rect(0, 0, 2048, 2048), Clip::Rects(rects.clone()), 0x11)).unwrap();
    let huge = i32::MAX >> 4;
    let stroke = DisplayMessage::Draw(Draw {
        base: DisplayBase { surface_id: 0, bbox: rect(0, 0, 2048, 2048), clip: Clip::Rects(rects) },
        op: DrawOp::Stroke(crate::protocol::display::draw::Stroke {
            path: vec![crate::protocol::display::draw::PathSegment {
                flags: 1 | 2,
                points: vec![(-huge << 4, -huge << 4), (huge << 4, huge << 4), (0, huge << 4)],
            }],
            line_flags: 0,
            style: vec![],
            brush: Brush::Solid(0x22),
            fore_mode: ropd::OP_XOR,
            back_mode: ropd::OP_PUT,
        }),
    });
    c.apply(&stroke).unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(20), "{:?}", start.elapsed());
}

#[test]
fn pattern_brushes_of_strokes_and_text_that_land_nowhere_are_still_cached() {
    let mut c = canvas();
    c.apply(&create(0, 2, 1)).unwrap();
    let px = bytes(&[5]);
    let stroke = DisplayMessage::Draw(Draw {
        base: base(0, rect(10, 10, 20, 20)),
        op: DrawOp::Stroke(crate::protocol::display::draw::Stroke {
            path: vec![],
            line_flags: 0,
            style: vec![],
            brush: Brush::Pattern { image: bitmap(41, IMAGE_CACHE_ME, 1, 1, &px), pos: Point::default() },
            fore_mode: ropd::OP_PUT,
            back_mode: ropd::OP_PUT,
        }),
    });
    assert_eq!(c.apply(&stroke), Ok(None));
    let text = DisplayMessage::Draw(Draw {
        base: base(0, rect(10, 10, 20, 20)),
        op: DrawOp::Text(crate::protocol::display::draw::Text {
            string_flags: 0,
            glyphs: vec![],
            back_area: rect(0, 0, 0, 0),
            fore_brush: Brush::Solid(0),
            back_brush: Brush::Pattern { image: bitmap(42, IMAGE_CACHE_ME, 1, 1, &px), pos: Point::default() },
            fore_mode: ropd::OP_PUT,
            back_mode: ropd::OP_PUT,
        }),
    });
    assert_eq!(c.apply(&text), Ok(None));
    assert!(c.session.pixmaps().get(41).is_some() && c.session.pixmaps().get(42).is_some());
}

/// A 16×8 baseline JPEG (left half red, right half blue, bottom two rows white) made with ImageMagick.
const FRAME_JPEG: &[u8] = include_bytes!("../../tests/fixtures/display/stream/frame.jpg");

fn stream_create(id: u32, flags: u8, dest: Rect, clip: Clip) -> DisplayMessage<'static> {
    use crate::protocol::display::stream::{StreamCreate, VideoCodec};
    DisplayMessage::StreamCreate(StreamCreate {
        surface_id: 0,
        id,
        flags,
        codec: VideoCodec::Mjpeg,
        stamp: 0,
        stream_width: 16,
        stream_height: 8,
        src_width: 16,
        src_height: 8,
        dest,
        clip,
    })
}

#[test]
fn mjpeg_frames_are_drawn_at_their_destination_clipped_and_flipped_when_bottom_up() {
    use crate::protocol::display::stream::{StreamData, STREAM_TOP_DOWN};
    let decoded = crate::codecs::jpeg::decode(FRAME_JPEG, &Limits::default()).unwrap();
    let at = |x: u32, y: u32| decoded.data[(y * 16 + x) as usize] & 0xff_ffff;
    let mut c = canvas();
    c.apply(&create(0, 40, 20)).unwrap();
    // Top-down, at (10, 4), clipped to its left 12 columns.
    c.apply(&stream_create(3, STREAM_TOP_DOWN, rect(10, 4, 26, 12), Clip::Rects(vec![rect(0, 0, 22, 20)]))).unwrap();
    let change = c.apply(&DisplayMessage::StreamData(StreamData { id: 3, mm_time: 0, data: FRAME_JPEG })).unwrap();
    assert_eq!(change, Some(Change::Drawn { surface: 0, area: Area { left: 10, top: 4, right: 22, bottom: 12 } }));
    let px = rgb(&c, 0);
    assert_eq!(px[4 * 40 + 10], at(0, 0));
    assert_eq!(px[11 * 40 + 21], at(11, 7));
    assert_eq!(px[4 * 40 + 22], 0, "clipped away");
    // Bottom-up: the frame's first row is the bottom one.
    c.apply(&stream_create(4, 0, rect(0, 0, 16, 8), Clip::None)).unwrap();
    c.apply(&DisplayMessage::StreamData(StreamData { id: 4, mm_time: 0, data: FRAME_JPEG })).unwrap();
    let px = rgb(&c, 0);
    assert_eq!(px[0], at(0, 7));
    assert_eq!(px[7 * 40 + 15], at(15, 0));
    // Destroyed: its frames are refused, and nothing is drawn.
    c.apply(&DisplayMessage::StreamDestroy(4)).unwrap();
    let again = c.apply(&DisplayMessage::StreamData(StreamData { id: 4, mm_time: 0, data: FRAME_JPEG }));
    assert_eq!(again, Err(CanvasError::NoStream(4)));
}

#[test]
fn sized_frames_use_their_own_destination_and_scale() {
    use crate::protocol::display::stream::{StreamDataSized, STREAM_TOP_DOWN};
    let mut c = canvas();
    c.apply(&create(0, 64, 32)).unwrap();
    c.apply(&stream_create(1, STREAM_TOP_DOWN, rect(0, 0, 16, 8), Clip::None)).unwrap();
    let sized = |w, h, dest| {
        DisplayMessage::StreamDataSized(StreamDataSized {
            id: 1,
            mm_time: 0,
            width: w,
            height: h,
            dest,
            data: FRAME_JPEG,
        })
    };
    // Twice the size: every frame pixel becomes 2×2.
    let change = c.apply(&sized(16, 8, rect(32, 0, 64, 16))).unwrap();
    assert_eq!(change, Some(Change::Drawn { surface: 0, area: Area { left: 32, top: 0, right: 64, bottom: 16 } }));
    let px = rgb(&c, 0);
    assert_eq!(px[32], px[33]);
    assert_eq!(px[32], px[64 + 32]);
    // A frame whose JPEG is not the size the message claims is refused.
    assert!(matches!(c.apply(&sized(8, 8, rect(0, 0, 8, 8))), Err(CanvasError::Invalid { what: "stream frame", .. })));
}

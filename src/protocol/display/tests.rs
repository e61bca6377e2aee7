//! Byte-vector tests of every display message, and hostile inputs.

use super::draw::*;
use super::image::{image_type, BitmapImage};
use super::testenc::{draw_copy, Enc, R};
use super::types::{Point16, ScaleMode};
use super::*;

fn parse(t: u16, body: &[u8]) -> DisplayMessage<'_> {
    parse_display(t, body).unwrap().unwrap()
}

fn draw(t: u16, body: &[u8]) -> Draw<'_> {
    match parse(t, body) {
        DisplayMessage::Draw(d) => d,
        m => panic!("not a draw: {m:?}"),
    }
}

/// Every strict prefix of `body` is refused.
fn every_truncation_fails(t: u16, body: &[u8]) {
    for n in 0..body.len() {
        assert!(parse_display(t, &body[..n]).is_err(), "type {t} truncated to {n} of {} bytes parsed", body.len());
    }
}

fn invalid_what(r: Result<Option<DisplayMessage<'_>>>) -> &'static str {
    match r {
        Err(ProtocolError::Invalid { what, .. }) => what,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn surface_create_and_its_limits() {
    let s = SurfaceCreate { surface_id: 0, width: 640, height: 400, format: SurfaceFormat::Xrgb32, flags: 1 };
    let body = s.encode();
    assert_eq!(&body[..8], &[0, 0, 0, 0, 0x80, 2, 0, 0]);
    assert_eq!(parse(314, &body), DisplayMessage::SurfaceCreate(s));
    assert!(s.is_primary());
    every_truncation_fails(314, &body);
    let sized = |w: u32, h: u32| SurfaceCreate { width: w, height: h, ..s }.encode();
    let hostile = sized(65_535, 65_535);
    assert!(matches!(
        parse_display(314, &hostile),
        Err(ProtocolError::TooLarge { what: "surface side", value: 65_535, max: 16_384 })
    ));
    assert!(matches!(parse_display(314, &sized(16_384, 8_192)), Err(ProtocolError::TooLarge { .. })));
    assert!(parse_display(314, &sized(16_384, 4_096)).is_ok());
    assert_eq!(invalid_what(parse_display(314, &sized(0, 10))), "surface size");
    let mut bad_format = body.clone();
    bad_format[12] = 33;
    assert_eq!(invalid_what(parse_display(314, &bad_format)), "surface format");
    assert_eq!(parse(315, &[3, 0, 0, 0]), DisplayMessage::SurfaceDestroy(3));
    assert!(parse_display(315, &[3, 0, 0]).is_err());
}

#[test]
fn empty_and_small_messages() {
    assert_eq!(parse(102, &[]), DisplayMessage::Mark);
    assert_eq!(parse(103, &[]), DisplayMessage::Reset);
    assert_eq!(parse(108, &[]), DisplayMessage::InvalAllPalettes);
    assert_eq!(parse(126, &[]), DisplayMessage::StreamDestroyAll);
    assert_eq!(parse(107, &[1, 2, 3, 4, 5, 6, 7, 8]), DisplayMessage::InvalPalette(0x0807_0605_0403_0201));
    let mode = [0x20, 3, 0, 0, 0x58, 2, 0, 0, 32, 0, 0, 0];
    assert_eq!(parse(101, &mode), DisplayMessage::Mode(Mode { x_res: 800, y_res: 600, bits: 32 }));
    every_truncation_fails(101, &mode);
    // Base messages, unknown numbers and the GL messages ryll never asks for are not display messages.
    for t in [3, 4, 8, 100, 109, 127, 301, 320, 321, 322, 999] {
        assert_eq!(parse_display(t, &[0; 64]).unwrap(), None, "type {t}");
    }
}

#[test]
fn draw_copy_of_a_bitmap() {
    let body = draw_copy(&[]);
    assert_eq!(body.len(), 21 + 36 + 18 + 18 + 16);
    assert_eq!(&body[21..25], &57u32.to_le_bytes(), "the image follows the 57-byte fixed part");
    let d = draw(304, &body);
    assert_eq!(d.base, DisplayBase { surface_id: 0, bbox: R, clip: Clip::None });
    let DrawOp::Copy(c) = d.op else { panic!("{:?}", d.op) };
    assert_eq!(
        (c.src_area, c.rop, c.scale_mode),
        (Rect { top: 0, left: 0, bottom: 2, right: 2 }, 8, ScaleMode::Interpolate)
    );
    assert_eq!(c.mask, QMask::default());
    assert_eq!(c.src.descriptor, ImageDescriptor { id: 5, image_type: 0, flags: 0, width: 2, height: 2 });
    let ImageData::Bitmap(b) = &c.src.data else { panic!() };
    assert_eq!((b.format, b.width, b.height, b.stride, b.top_down()), (8, 2, 2, 8, true));
    assert_eq!(b.palette, PaletteRef::None);
    assert_eq!(b.data, &(0..16).collect::<Vec<u8>>()[..]);
    assert_eq!(c.src.payload(), b.data);
    assert!(!c.src.must_decode());
    every_truncation_fails(304, &body);
    // DRAW_BLEND has the same layout.
    assert!(matches!(draw(305, &body).op, DrawOp::Blend(_)));
}

#[test]
fn clip_rects_are_inline() {
    let clip = [Rect { top: 0, left: 0, bottom: 5, right: 5 }, Rect { top: 5, left: 5, bottom: 30, right: 40 }];
    let body = draw_copy(&clip);
    let d = draw(304, &body);
    assert_eq!(d.base.clip, Clip::Rects(clip.to_vec()));
    every_truncation_fails(304, &body);
    let mut huge = body.clone();
    huge[21..25].copy_from_slice(&(MAX_CLIP_RECTS + 1).to_le_bytes());
    assert!(matches!(parse_display(304, &huge), Err(ProtocolError::TooLarge { what: "clip rectangles", .. })));
    huge[21..25].copy_from_slice(&1000u32.to_le_bytes());
    assert!(matches!(parse_display(304, &huge), Err(ProtocolError::Truncated { what: "clip rectangles", .. })));
    let mut bad = body;
    bad[20] = 2;
    assert_eq!(invalid_what(parse_display(304, &bad)), "clip type");
}

#[test]
fn pointers_outside_the_body_or_into_the_fixed_part_are_refused() {
    let body = draw_copy(&[]);
    let mut e = body.clone();
    e[21..25].copy_from_slice(&(body.len() as u32).to_le_bytes());
    assert_eq!(invalid_what(parse_display(304, &e)), "source image");
    e[21..25].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(invalid_what(parse_display(304, &e)), "source image");
    e[21..25].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(invalid_what(parse_display(304, &e)), "source image");
    // Pointing back into the DisplayBase: refused whatever the bytes there read as.
    e[21..25].copy_from_slice(&4u32.to_le_bytes());
    assert!(parse_display(304, &e).is_err());
    // Two pointers may share an image: the mask pointer (offset 53) aimed at the source image.
    let mut m = body.clone();
    m[53..57].copy_from_slice(&57u32.to_le_bytes());
    assert!(parse_display(304, &m).is_ok(), "two pointers may share an image");
    let fixed = draw_copy(&[]);
    let mut into_fixed = fixed.clone();
    // Make the bytes at offset 25 (src_area) a FROM_CACHE descriptor and point the source there.
    into_fixed[21..25].copy_from_slice(&25u32.to_le_bytes());
    into_fixed[33] = image_type::FROM_CACHE;
    let err = parse_display(304, &into_fixed).unwrap_err();
    assert!(err.to_string().contains("fixed part"), "{err}");
}

#[test]
fn bitmap_palettes() {
    let pal = [0x00ff_0000, 0x0000_ff00, 0x0000_00ff];
    let mut e = Enc::default();
    e.base(&[]);
    let src = e.slot();
    e.rect(R).u16(8).u8(1).no_mask();
    e.fill(src);
    e.bitmap(5, 1, 4, 2, 4, Some(&pal));
    let body = e.buf;
    let DrawOp::Copy(c) = draw(304, &body).op else { panic!() };
    let ImageData::Bitmap(b) = &c.src.data else { panic!() };
    assert_eq!(b.palette, PaletteRef::Inline(Palette { unique: 7, entries: pal.to_vec() }));
    assert_eq!((b.data.len(), c.scale_mode), (8, ScaleMode::Nearest));
    assert!(c.src.must_decode(), "PAL_CACHE_ME");
    every_truncation_fails(304, &body);
    // Too many entries.
    let mut many = body.clone();
    let at = many.len() - 12 - 2;
    many[at..at + 2].copy_from_slice(&257u16.to_le_bytes());
    assert!(matches!(parse_display(304, &many), Err(ProtocolError::TooLarge { what: "palette entries", .. })));

    let mut e = Enc::default();
    e.base(&[]);
    let src = e.slot();
    e.rect(R).u16(8).u8(0).no_mask();
    e.fill(src);
    e.descriptor(1, 0, 0, 8, 1).u8(1).u8(2).u32(8).u32(1).u32(1).u64(0xabc).u8(0x5a);
    let DrawOp::Copy(c) = draw(304, &e.buf).op else { panic!() };
    let ImageData::Bitmap(BitmapImage { palette, data, .. }) = c.src.data else { panic!() };
    assert_eq!((palette, data), (PaletteRef::FromCache(0xabc), &[0x5a][..]));
}

/// A DRAW_COPY whose source image is written by `image`.
fn copy_with(image: impl FnOnce(&mut Enc)) -> Vec<u8> {
    let mut e = Enc::default();
    e.base(&[]);
    let src = e.slot();
    e.rect(R).u16(8).u8(0).no_mask();
    e.fill(src);
    image(&mut e);
    e.buf
}

fn copy_image(body: &[u8]) -> Result<Image<'_>> {
    match parse_display(304, body)? {
        Some(DisplayMessage::Draw(Draw { op: DrawOp::Copy(c), .. })) => Ok(c.src),
        m => panic!("{m:?}"),
    }
}

#[test]
fn every_image_type() {
    let data = [1u8, 2, 3, 4, 5];
    for (ty, want) in [
        (image_type::QUIC, ImageData::Quic(&data)),
        (image_type::LZ_RGB, ImageData::LzRgb(&data)),
        (image_type::GLZ_RGB, ImageData::GlzRgb(&data)),
        (image_type::JPEG, ImageData::Jpeg(&data)),
        (image_type::LZ4, ImageData::Lz4(&data)),
    ] {
        let body = copy_with(|e| e.sized(ty, &data));
        let img = copy_image(&body).unwrap();
        assert_eq!((img.descriptor.image_type, img.descriptor.width, img.descriptor.height), (ty, 4, 3));
        assert_eq!(img.data, want);
        assert_eq!(img.payload(), &data);
        every_truncation_fails(304, &body);
        let mut lying = body.clone();
        let at = body.len() - data.len() - 4;
        lying[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(copy_image(&lying), Err(ProtocolError::Truncated { .. })));
    }
    assert!(copy_image(&copy_with(|e| e.sized(image_type::GLZ_RGB, &data))).unwrap().must_decode());

    let body = copy_with(|e| {
        e.descriptor(1, image_type::ZLIB_GLZ_RGB, 0, 4, 3).u32(1000).u32(5).bytes(&data);
    });
    assert_eq!(copy_image(&body).unwrap().data, ImageData::ZlibGlzRgb { glz_data_size: 1000, data: &data });
    every_truncation_fails(304, &body);

    let alpha = |jpeg: u32| {
        copy_with(move |e| {
            e.descriptor(1, image_type::JPEG_ALPHA, 0, 4, 3).u8(1).u32(jpeg).u32(5).bytes(&data);
        })
    };
    let body = alpha(3);
    assert_eq!(copy_image(&body).unwrap().data, ImageData::JpegAlpha { flags: 1, jpeg_size: 3, data: &data });
    every_truncation_fails(304, &body);
    assert!(matches!(copy_image(&alpha(6)), Err(ProtocolError::Invalid { what: "JPEG_ALPHA jpeg size", .. })));

    let body = copy_with(|e| {
        e.descriptor(1, image_type::FROM_CACHE, 0, 4, 3);
    });
    let img = copy_image(&body).unwrap();
    assert_eq!((&img.data, img.payload()), (&ImageData::FromCache, &[][..]));
    let body = copy_with(|e| {
        e.descriptor(1, image_type::FROM_CACHE_LOSSLESS, 4, 4, 3);
    });
    let img = copy_image(&body).unwrap();
    assert_eq!(img.data, ImageData::FromCacheLossless);
    assert!(img.must_decode(), "CACHE_REPLACE_ME");
    let body = copy_with(|e| {
        e.descriptor(1, image_type::SURFACE, 0, 4, 3).u32(2);
    });
    assert_eq!(copy_image(&body).unwrap().data, ImageData::Surface(2));
    every_truncation_fails(304, &body);
    for t in [2u8, 99, 110, 255] {
        let body = copy_with(|e| {
            e.descriptor(1, t, 0, 4, 3).u32(0);
        });
        assert!(matches!(copy_image(&body), Err(ProtocolError::Invalid { what: "image type", .. })), "type {t}");
    }
}

#[test]
fn lz_plt_palettes() {
    let data = [9u8; 6];
    let inline = copy_with(|e| {
        e.descriptor(1, image_type::LZ_PLT, 1, 4, 3).u8(1).u32(6);
        let pal = e.slot();
        e.bytes(&data);
        e.fill(pal);
        e.palette(0x77, &[1, 2]);
    });
    let img = copy_image(&inline).unwrap();
    let want_pal = PaletteRef::Inline(Palette { unique: 0x77, entries: vec![1, 2] });
    assert_eq!(img.data, ImageData::LzPlt { flags: 1, palette: want_pal, data: &data });
    every_truncation_fails(304, &inline);
    let cached = copy_with(|e| {
        e.descriptor(1, image_type::LZ_PLT, 0, 4, 3).u8(2).u32(6).u64(0x55).bytes(&data);
    });
    let img = copy_image(&cached).unwrap();
    assert_eq!(img.data, ImageData::LzPlt { flags: 2, palette: PaletteRef::FromCache(0x55), data: &data });
    let null = copy_with(|e| {
        e.descriptor(1, image_type::LZ_PLT, 0, 4, 3).u8(0).u32(6).u32(0).bytes(&data);
    });
    assert!(matches!(copy_image(&null), Err(ProtocolError::Invalid { what: "palette", .. })));
}

#[test]
fn fill_with_each_brush() {
    let solid = {
        let mut e = Enc::default();
        e.base(&[]).u8(1).u32(0x00_12_34_56).u16(8).no_mask();
        e.buf
    };
    let d = draw(302, &solid);
    assert_eq!(d.op, DrawOp::Fill(Fill { brush: Brush::Solid(0x123456), rop: 8, mask: QMask::default() }));
    every_truncation_fails(302, &solid);

    let mut e = Enc::default();
    e.base(&[]).u8(2);
    let pat = e.slot();
    e.point(3, 4).u16(0x40).u8(1).point(-1, -2);
    let mask = e.slot();
    e.fill(pat);
    e.small_bitmap();
    e.fill(mask);
    e.bitmap(1, 4, 8, 2, 1, Some(&[0, 0xffffff]));
    let body = e.buf;
    let DrawOp::Fill(f) = draw(302, &body).op else { panic!() };
    let Brush::Pattern { image, pos } = &f.brush else { panic!("{:?}", f.brush) };
    assert_eq!((*pos, image.descriptor.width, f.rop), (Point { x: 3, y: 4 }, 2, 0x40));
    assert_eq!((f.mask.flags, f.mask.pos), (1, Point { x: -1, y: -2 }));
    let ImageData::Bitmap(m) = &f.mask.bitmap.as_ref().unwrap().data else { panic!() };
    assert_eq!((m.format, m.data.len()), (1, 2));
    every_truncation_fails(302, &body);

    let none = {
        let mut e = Enc::default();
        e.base(&[]).u8(0).u16(0x200).no_mask();
        e.buf
    };
    assert!(matches!(draw(302, &none).op, DrawOp::Fill(Fill { brush: Brush::None, rop: 0x200, .. })));
    let mut bad = none.clone();
    bad[21] = 3;
    assert_eq!(invalid_what(parse_display(302, &bad)), "brush type");
    let null_pattern = {
        let mut e = Enc::default();
        e.base(&[]).u8(2).u32(0).point(0, 0).u16(8).no_mask();
        e.buf
    };
    assert_eq!(invalid_what(parse_display(302, &null_pattern)), "brush pattern");
}

#[test]
fn mask_only_ops_and_copy_bits() {
    let mut e = Enc::default();
    e.base(&[]).no_mask();
    let body = e.buf;
    assert!(matches!(draw(306, &body).op, DrawOp::Blackness(QMask { bitmap: None, .. })));
    assert!(matches!(draw(307, &body).op, DrawOp::Whiteness(_)));
    assert!(matches!(draw(308, &body).op, DrawOp::Invers(_)));
    every_truncation_fails(308, &body);
    let mut e = Enc::default();
    e.base(&[]).point(-5, 7);
    let d = draw(104, &e.buf);
    assert_eq!((d.base.bbox, d.op), (R, DrawOp::CopyBits(Point { x: -5, y: 7 })));
    every_truncation_fails(104, &e.buf);
}

#[test]
fn opaque_rop3_transparent_alpha_blend() {
    let mut e = Enc::default();
    e.base(&[]);
    let src = e.slot();
    e.rect(R).u8(1).u32(0xff).u16(8).u8(1).no_mask();
    e.fill(src);
    e.small_bitmap();
    let DrawOp::Opaque(o) = draw(303, &e.buf).op else { panic!() };
    assert_eq!((o.brush, o.rop, o.scale_mode), (Brush::Solid(0xff), 8, ScaleMode::Nearest));
    every_truncation_fails(303, &e.buf);

    let mut e = Enc::default();
    e.base(&[]);
    let src = e.slot();
    e.rect(R).u8(0).u8(0xca).u8(0).no_mask();
    e.fill(src);
    e.small_bitmap();
    let DrawOp::Rop3(o) = draw(309, &e.buf).op else { panic!() };
    assert_eq!((o.brush, o.rop3), (Brush::None, 0xca));
    every_truncation_fails(309, &e.buf);
    let mut bad = e.buf.clone();
    bad[43] = 2;
    assert_eq!(invalid_what(parse_display(309, &bad)), "scale mode");

    let mut e = Enc::default();
    e.base(&[]);
    let src = e.slot();
    e.rect(R).u32(0xff00ff).u32(0xf81f);
    e.fill(src);
    e.small_bitmap();
    let DrawOp::Transparent(t) = draw(312, &e.buf).op else { panic!() };
    assert_eq!((t.src_area, t.src_color, t.true_color), (R, 0xff00ff, 0xf81f));
    every_truncation_fails(312, &e.buf);

    let mut e = Enc::default();
    e.base(&[]).u8(2).u8(0x80);
    let src = e.slot();
    e.rect(R);
    e.fill(src);
    e.small_bitmap();
    let DrawOp::AlphaBlend(a) = draw(313, &e.buf).op else { panic!() };
    assert_eq!((a.alpha_flags, a.alpha, a.src_area), (2, 0x80, R));
    every_truncation_fails(313, &e.buf);
}

fn stroke(styled: bool, segments: u32) -> Vec<u8> {
    let mut e = Enc::default();
    e.base(&[]);
    let path = e.slot();
    let mut style = None;
    if styled {
        e.u8(LINE_STYLED).u8(2);
        style = Some(e.slot());
    } else {
        e.u8(0);
    }
    e.u8(1).u32(0xabcdef).u16(8).u16(0x40);
    e.fill(path);
    e.u32(segments).u8(PATH_BEGIN).u32(2).point(16, 32).point(48, 64).u8(PATH_END | PATH_CLOSE).u32(1).point(0, 0);
    if let Some(s) = style {
        e.fill(s);
        e.i32(64).i32(32);
    }
    e.buf
}

#[test]
fn stroke_paths_and_styles() {
    let body = stroke(true, 2);
    let DrawOp::Stroke(s) = draw(310, &body).op else { panic!() };
    assert_eq!(s.path.len(), 2);
    assert_eq!(s.path[0], PathSegment { flags: PATH_BEGIN, points: vec![(16, 32), (48, 64)] });
    assert_eq!(s.path[1], PathSegment { flags: PATH_END | PATH_CLOSE, points: vec![(0, 0)] });
    assert_eq!(
        (s.line_flags, s.style, s.brush, s.fore_mode, s.back_mode),
        (8, vec![64, 32], Brush::Solid(0xabcdef), 8, 0x40)
    );
    every_truncation_fails(310, &body);
    let plain = stroke(false, 2);
    let DrawOp::Stroke(s) = draw(310, &plain).op else { panic!() };
    assert!(s.style.is_empty());
    assert!(matches!(parse_display(310, &stroke(false, 3)), Err(ProtocolError::Truncated { .. })));
    assert!(matches!(
        parse_display(310, &stroke(false, MAX_PATH_SEGMENTS + 1)),
        Err(ProtocolError::TooLarge { what: "path segments", .. })
    ));
    assert!(matches!(
        parse_display(310, &stroke(false, 1_000_000)),
        Err(ProtocolError::TooLarge { .. } | ProtocolError::Truncated { .. })
    ));
}

fn text(flags: u8, glyphs: u16) -> Vec<u8> {
    let mut e = Enc::default();
    e.base(&[]);
    let s = e.slot();
    e.rect(R).u8(1).u32(0xffffff).u8(0).u16(8).u16(8);
    e.fill(s);
    e.u16(glyphs).u8(flags);
    // A 9×2 glyph at 1 bpp (2 bytes a row), then a 3×1 one.
    e.point(10, 20).point(0, -2).u16(9).u16(2).bytes(&[0xff, 0x80, 0x01, 0x00]);
    e.point(19, 20).point(0, -1).u16(3).u16(1).bytes(&[0xe0]);
    e.buf
}

#[test]
fn text_glyphs() {
    let body = text(STRING_RASTER_A1 | STRING_RASTER_TOP_DOWN, 2);
    let DrawOp::Text(t) = draw(311, &body).op else { panic!() };
    assert_eq!((t.back_area, t.fore_brush, t.back_brush), (R, Brush::Solid(0xffffff), Brush::None));
    assert_eq!(t.glyphs.len(), 2);
    assert_eq!(
        t.glyphs[0],
        Glyph {
            render_pos: Point { x: 10, y: 20 },
            glyph_origin: Point { x: 0, y: -2 },
            width: 9,
            height: 2,
            data: &[0xff, 0x80, 0x01, 0x00],
        }
    );
    assert_eq!(t.glyphs[1].data, &[0xe0]);
    every_truncation_fails(311, &body);
    // At 4 bpp the same glyphs need more bytes than there are.
    assert!(parse_display(311, &text(STRING_RASTER_A4, 2)).is_err());
    assert_eq!(invalid_what(parse_display(311, &text(STRING_RASTER_A1 | STRING_RASTER_A8, 2))), "text string flags");
    assert_eq!(invalid_what(parse_display(311, &text(0, 1))), "text string flags");
    assert!(matches!(parse_display(311, &text(1, 5000)), Err(ProtocolError::Truncated { what: "glyphs", .. })));
    assert!(matches!(parse_display(311, &text(1, 20_000)), Err(ProtocolError::TooLarge { what: "glyphs", .. })));
}

#[test]
fn composite_with_and_without_optional_parts() {
    let mut e = Enc::default();
    e.base(&[]).u32(3 | COMPOSITE_HAS_MASK | COMPOSITE_HAS_SRC_TRANSFORM | COMPOSITE_HAS_MASK_TRANSFORM);
    let src = e.slot();
    let mask = e.slot();
    for v in 0..12 {
        e.u32(v);
    }
    e.u16(1).u16(2).u16(0xffff).u16(4);
    e.fill(src);
    e.small_bitmap();
    e.fill(mask);
    e.small_bitmap();
    let DrawOp::Composite(c) = draw(318, &e.buf).op else { panic!() };
    assert_eq!(c.op(), 3);
    assert!(c.mask.is_some());
    assert_eq!((c.src_transform, c.mask_transform), (Some([0, 1, 2, 3, 4, 5]), Some([6, 7, 8, 9, 10, 11])));
    assert_eq!((c.src_origin, c.mask_origin), (Point16 { x: 1, y: 2 }, Point16 { x: -1, y: 4 }));
    every_truncation_fails(318, &e.buf);

    let mut e = Enc::default();
    e.base(&[]).u32(12);
    let src = e.slot();
    e.u16(0).u16(0).u16(0).u16(0);
    e.fill(src);
    e.small_bitmap();
    let DrawOp::Composite(c) = draw(318, &e.buf).op else { panic!() };
    assert_eq!((c.mask, c.src_transform, c.mask_transform), (None, None, None));
}

#[test]
fn cache_invalidation() {
    let mut e = Enc::default();
    e.u16(2).u8(1).u64(10).u8(1).u64(11);
    assert_eq!(
        parse(105, &e.buf),
        DisplayMessage::InvalList(vec![ResourceId { res_type: 1, id: 10 }, ResourceId { res_type: 1, id: 11 }])
    );
    every_truncation_fails(105, &e.buf);
    let huge = [0xff, 0xff];
    assert!(matches!(parse_display(105, &huge), Err(ProtocolError::TooLarge { what: "INVAL_LIST resources", .. })));
    let lying = [0x00, 0x10, 1];
    assert!(matches!(parse_display(105, &lying), Err(ProtocolError::Truncated { .. })));

    let mut e = Enc::default();
    e.u8(1).u8(2).u8(0).u64(1234);
    assert_eq!(
        parse(106, &e.buf),
        DisplayMessage::InvalAllPixmaps(vec![WaitForChannel { channel_type: 2, channel_id: 0, message_serial: 1234 }])
    );
    every_truncation_fails(106, &e.buf);
    assert_eq!(parse(106, &[0]), DisplayMessage::InvalAllPixmaps(vec![]));
}

#[test]
fn streams() {
    let mut e = Enc::default();
    e.u32(0).u32(5).u8(1).u8(1).u64(99).u32(320).u32(240).u32(640).u32(480).rect(R).u8(1).u32(1).rect(R);
    let create = e.buf;
    let DisplayMessage::StreamCreate(s) = parse(122, &create) else { panic!() };
    assert_eq!((s.id, s.flags, s.codec, s.stamp), (5, 1, stream::VideoCodec::Mjpeg, 99));
    assert_eq!((s.stream_width, s.stream_height, s.src_width, s.src_height), (320, 240, 640, 480));
    assert_eq!((s.dest, s.clip), (R, Clip::Rects(vec![R])));
    every_truncation_fails(122, &create);
    let mut bad_id = create.clone();
    bad_id[4] = 64;
    assert!(matches!(parse_display(122, &bad_id), Err(ProtocolError::TooLarge { what: "stream id", .. })));

    let data = [0xffu8, 0xd8, 0xff];
    let mut e = Enc::default();
    e.u32(5).u32(1000).u32(3).bytes(&data);
    assert_eq!(parse(123, &e.buf), DisplayMessage::StreamData(StreamData { id: 5, mm_time: 1000, data: &data }));
    every_truncation_fails(123, &e.buf);

    let mut e = Enc::default();
    e.u32(5).u32(1000).u32(32).u32(16).rect(R).u32(3).bytes(&data);
    let want = StreamDataSized { id: 5, mm_time: 1000, width: 32, height: 16, dest: R, data: &data };
    assert_eq!(parse(316, &e.buf), DisplayMessage::StreamDataSized(want));
    every_truncation_fails(316, &e.buf);

    assert_eq!(parse(124, &[5, 0, 0, 0, 0]), DisplayMessage::StreamClip(StreamClip { id: 5, clip: Clip::None }));
    every_truncation_fails(124, &[5, 0, 0, 0, 0]);
    assert_eq!(parse(125, &[5, 0, 0, 0]), DisplayMessage::StreamDestroy(5));
    let mut e = Enc::default();
    e.u32(5).u32(77).u32(30).u32(1000);
    let want = StreamActivateReport { stream_id: 5, unique_id: 77, max_window_size: 30, timeout_ms: 1000 };
    assert_eq!(parse(319, &e.buf), DisplayMessage::StreamActivateReport(want));
    every_truncation_fails(319, &e.buf);
}

#[test]
fn monitors_config() {
    let head = Head { monitor_id: 0, surface_id: 0, width: 1024, height: 768, x: 0, y: 0, flags: 0 };
    let cfg = MonitorsConfig { max_allowed: 1, heads: vec![head] };
    let body = cfg.encode();
    assert_eq!(body.len(), 4 + 28);
    assert_eq!(parse(317, &body), DisplayMessage::MonitorsConfig(cfg));
    every_truncation_fails(317, &body);
    let many = MonitorsConfig { max_allowed: 32, heads: vec![head; 17] }.encode();
    assert!(matches!(parse_display(317, &many), Err(ProtocolError::TooLarge { what: "monitor count", .. })));
    let none = MonitorsConfig { max_allowed: 0, heads: vec![] };
    assert_eq!(parse(317, &none.encode()), DisplayMessage::MonitorsConfig(none));
}

#[test]
fn garbage_never_panics() {
    // A cheap deterministic sweep: every display type over pseudo-random bodies and their prefixes.
    let mut x: u32 = 0x1234_5678;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    for t in (101..=126).chain(302..=322) {
        for _ in 0..200 {
            let len = (next() % 120) as usize;
            let body: Vec<u8> = (0..len).map(|_| (next() % 7) as u8).collect();
            let _ = parse_display(t, &body);
        }
    }
}

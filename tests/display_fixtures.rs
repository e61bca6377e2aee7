//! The display fixtures recorded from QEMU 7.2 (`tests/fixtures/display/`, see its README) replayed onto a canvas
//! and compared with the QMP screendump taken at the end of each recording, pixel for pixel (RGB; QEMU's surface
//! is 32_xRGB, so the X byte is ignored).
//!
//! Only recordings whose every image ryll can decode are replayed: raw BITMAPs (`off`), LZ_RGB (`lz`, `auto_lz`),
//! LZ_RGB and GLZ_RGB (`glz`, `auto_glz`; most GLZ strips reference earlier strips) and QUIC (`quic`, where the
//! server sends BITMAPs for the smallest strips).

mod display_records;

use display_records::{
    image_type, parse_bitmap, parse_draw_copy, parse_records, parse_surface_create, DrawCopy, MSG_DRAW_COPY,
    MSG_SURFACE_CREATE,
};
use ryll::codecs::{quic, Limits};
use std::io::Read;
use std::path::PathBuf;

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/display").join(path)
}

fn load_records(path: &str) -> Vec<display_records::Record> {
    let gz = std::fs::read(fixture(path)).unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw).unwrap();
    parse_records(&raw).unwrap()
}

/// The screendump as `0x00RRGGBB` pixels.
fn load_png(path: &str) -> (u32, u32, Vec<u32>) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(fixture(path)).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{path}: colour type {:?}", info.color_type);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
        .collect();
    (info.width, info.height, pixels)
}

/// A raw BITMAP (32BIT, as QEMU's simple display sends) as `0x00RRGGBB`, top row first.
fn decode_bitmap(d: &DrawCopy) -> Vec<u32> {
    let b = parse_bitmap(d.payload).unwrap();
    assert_eq!(b.format, 8, "32BIT bitmaps only");
    let mut rows: Vec<&[u8]> = b.data.chunks_exact(b.stride as usize).collect();
    if b.flags & 4 == 0 {
        rows.reverse();
    }
    rows.iter()
        .flat_map(|r| r[..b.x as usize * 4].chunks_exact(4).map(|p| u32::from_le_bytes(p.try_into().unwrap())))
        .map(|p| p & 0xff_ffff)
        .collect()
}

/// The primary surface after replaying every message of a recording; `decode` turns an image into pixels.
struct Canvas {
    width: u32,
    height: u32,
    pixels: Vec<u32>,
}

impl Canvas {
    fn draw(&mut self, d: &DrawCopy, image: &[u32]) {
        assert_eq!(image.len(), d.width as usize * d.height as usize);
        assert_eq!(d.clip_rects, 0, "QEMU's simple display does not clip");
        assert_eq!(d.rop, 8, "OP_PUT");
        let (w, h) = (d.dest.right - d.dest.left, d.dest.bottom - d.dest.top);
        assert_eq!((d.src_area.right - d.src_area.left, d.src_area.bottom - d.src_area.top), (w, h), "no scaling");
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (d.dest.left + x, d.dest.top + y);
                if dx < 0 || dy < 0 || dx as u32 >= self.width || dy as u32 >= self.height {
                    continue;
                }
                let (sx, sy) = ((d.src_area.left + x) as usize, (d.src_area.top + y) as usize);
                self.pixels[dy as usize * self.width as usize + dx as usize] =
                    image[sy * d.width as usize + sx] & 0xff_ffff;
            }
        }
    }
}

/// Replays `KIND.bin.gz` of `mode`, counting the images of each type, and compares the result with `KIND.png`.
pub fn replay_and_compare(mode: &str, kind: &str, decode: impl Fn(&DrawCopy) -> Vec<u32>) -> usize {
    let records = load_records(&format!("{mode}/{kind}.bin.gz"));
    let mut canvas = None;
    let mut images = 0;
    for r in &records {
        match r.msg_type {
            MSG_SURFACE_CREATE => {
                let s = parse_surface_create(&r.body).unwrap();
                if s.surface_id == 0 {
                    let n = s.width as usize * s.height as usize;
                    canvas = Some(Canvas { width: s.width, height: s.height, pixels: vec![0; n] });
                }
            }
            MSG_DRAW_COPY => {
                let d = parse_draw_copy(&r.body).unwrap();
                assert_eq!(d.surface_id, 0);
                let image = decode(&d);
                canvas.as_mut().expect("a draw before SURFACE_CREATE").draw(&d, &image);
                images += 1;
            }
            _ => {}
        }
    }
    let canvas = canvas.expect("no primary surface");
    let (w, h, expected) = load_png(&format!("{mode}/{kind}.png"));
    assert_eq!((canvas.width, canvas.height), (w, h), "{mode}/{kind}: surface size");
    let wrong = canvas.pixels.iter().zip(&expected).position(|(a, b)| a != b);
    if let Some(i) = wrong {
        let (x, y) = (i as u32 % w, i as u32 / w);
        let n = canvas.pixels.iter().zip(&expected).filter(|(a, b)| a != b).count();
        panic!("{mode}/{kind}: {n} pixels differ, first at ({x}, {y}): {:06x} ≠ {:06x}", canvas.pixels[i], expected[i]);
    }
    images
}

fn decode_only(types: &[u8], decoders: impl Fn(&DrawCopy) -> Vec<u32>) -> impl Fn(&DrawCopy) -> Vec<u32> {
    let types = types.to_vec();
    move |d| {
        assert!(types.contains(&d.image_type), "unexpected image type {}", d.image_type);
        decoders(d)
    }
}

#[test]
fn off_recordings_match_their_screendumps() {
    for kind in ["initial", "live"] {
        let n = replay_and_compare("off", kind, decode_only(&[image_type::BITMAP], decode_bitmap));
        assert!(n >= 1, "off/{kind}: no image");
    }
}

/// LZ_RGB and GLZ_RGB images through ryll's decoders, one GLZ dictionary per recording (the recorder announced a
/// window of 4 Mi pixels), as `0x00RRGGBB`.
fn lz_glz_decoder() -> impl Fn(&DrawCopy) -> Vec<u32> {
    use ryll::codecs::{glz, lz, Limits};
    let dict = std::cell::RefCell::new(glz::GlzDictionary::new(4 << 20));
    move |d: &DrawCopy| {
        let data = d.sized_data().unwrap();
        let p = match d.image_type {
            image_type::LZ_RGB => std::sync::Arc::new(lz::decode(data, None, &Limits::default()).unwrap()),
            image_type::GLZ_RGB => glz::decode(data, &mut dict.borrow_mut(), &Limits::default()).unwrap(),
            t => panic!("unexpected image type {t}"),
        };
        assert_eq!((p.width, p.height), (d.width, d.height));
        p.data.iter().map(|p| p & 0xff_ffff).collect()
    }
}

#[test]
fn lz_recordings_match_their_screendumps() {
    for mode in ["lz", "auto_lz"] {
        for kind in ["initial", "live"] {
            assert!(replay_and_compare(mode, kind, lz_glz_decoder()) >= 1, "{mode}/{kind}: no image");
        }
    }
}

#[test]
fn glz_recordings_match_their_screendumps() {
    for mode in ["glz", "auto_glz"] {
        for kind in ["initial", "live"] {
            assert!(replay_and_compare(mode, kind, lz_glz_decoder()) >= 1, "{mode}/{kind}: no image");
        }
    }
}

/// A QUIC image as `0x00RRGGBB`, after checking its header against the descriptor.
fn decode_quic(d: &DrawCopy) -> Vec<u32> {
    let data = d.sized_data().unwrap();
    let h = quic::header(data).unwrap();
    assert_eq!((h.image_type, h.width, h.height), (quic::QuicType::Rgb32, d.width, d.height));
    let p = quic::decode(data, &Limits::default()).unwrap();
    assert_eq!((p.width, p.height, p.has_alpha), (d.width, d.height, false));
    assert!(p.data.iter().all(|px| px >> 24 == 0xff), "opaque");
    p.data
}

#[test]
fn quic_recordings_match_their_screendumps() {
    let decode = |d: &DrawCopy| match d.image_type {
        image_type::QUIC => decode_quic(d),
        image_type::BITMAP => decode_bitmap(d),
        t => panic!("unexpected image type {t}"),
    };
    for kind in ["initial", "live"] {
        let n = replay_and_compare("quic", kind, decode);
        assert!(n >= 1, "quic/{kind}: no image");
    }
}

/// Every recording replayed through ryll's own parser and canvas (`protocol::display` + `canvas`), with a fresh
/// session's caches per recording, equals its screendump; every message is applied or deliberately ignored.
#[test]
fn the_canvas_replays_every_recording_to_its_screendump() {
    use ryll::canvas::{Canvas, Change, SessionImages};
    use ryll::protocol::display::parse_display;
    for mode in ["off", "lz", "auto_lz", "glz", "auto_glz", "quic"] {
        for kind in ["initial", "live"] {
            let records = load_records(&format!("{mode}/{kind}.bin.gz"));
            let mut canvas = Canvas::new(SessionImages::new(20 << 20, 4 << 20), Limits::default());
            let (mut drawn, mut marks) = (0, 0);
            for r in &records {
                let Some(msg) = parse_display(r.msg_type, &r.body).unwrap() else { continue };
                match canvas.apply(&msg) {
                    Ok(Some(Change::Drawn { .. })) => drawn += 1,
                    Ok(Some(Change::Mark)) => marks += 1,
                    Ok(_) => {}
                    Err(e) => panic!("{mode}/{kind}: message {} refused: {e}", r.msg_type),
                }
            }
            assert!(drawn >= 1 && marks >= 1, "{mode}/{kind}: {drawn} draws, {marks} marks");
            let primary = canvas.primary().expect("no primary surface");
            let (w, h, expected) = load_png(&format!("{mode}/{kind}.png"));
            assert_eq!((primary.width, primary.height), (w, h), "{mode}/{kind}: surface size");
            let differ = primary.pixels.iter().zip(&expected).filter(|(a, b)| *a & 0xff_ffff != **b).count();
            assert_eq!(differ, 0, "{mode}/{kind}: pixels differ from the screendump");
        }
    }
}

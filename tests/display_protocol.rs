//! Every message of every display recording from QEMU 7.2 (`tests/fixtures/display/*/*.bin.gz`, see its README)
//! parses with `protocol::display::parse_display`, and the image of each DRAW_COPY agrees with the test-only
//! finder in `tests/display_records` (type, size, data bytes).

mod display_records;

use display_records::{image_type, parse_bitmap, parse_draw_copy, parse_records, MSG_DRAW_COPY};
use ryll::protocol::display::{parse_display, DisplayMessage, DrawOp, ImageData};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

fn recordings() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/display");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.is_dir())
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().filter_map(|f| f.ok().map(|f| f.path())))
        .filter(|p| p.to_string_lossy().ends_with(".bin.gz"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_recorded_message_parses_and_draw_copies_agree() {
    let files = recordings();
    assert_eq!(files.len(), 12, "six modes, two recordings each: {files:?}");
    let mut seen: BTreeMap<&'static str, usize> = BTreeMap::new();
    for path in &files {
        let gz = std::fs::read(path).unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw).unwrap();
        let records = parse_records(&raw).unwrap();
        let mut copies = 0;
        for (i, rec) in records.iter().enumerate() {
            let at = format!("{} message {i} (type {})", path.display(), rec.msg_type);
            let parsed = parse_display(rec.msg_type, &rec.body).unwrap_or_else(|e| panic!("{at}: {e}"));
            let Some(msg) = parsed else {
                assert!(rec.msg_type < 101, "{at}: a display message type was not recognised");
                continue;
            };
            *seen.entry(ryll::protocol::display::message_name(rec.msg_type)).or_default() += 1;
            if rec.msg_type != MSG_DRAW_COPY {
                continue;
            }
            copies += 1;
            let want = parse_draw_copy(&rec.body).unwrap();
            let DisplayMessage::Draw(draw) = msg else { panic!("{at}: {msg:?}") };
            let DrawOp::Copy(copy) = draw.op else { panic!("{at}: {:?}", draw.op) };
            assert_eq!(draw.base.surface_id, want.surface_id, "{at}");
            let dest = draw.base.bbox;
            assert_eq!(
                (dest.top, dest.left, dest.bottom, dest.right),
                (want.dest.top, want.dest.left, want.dest.bottom, want.dest.right),
                "{at}"
            );
            assert_eq!(copy.rop, want.rop, "{at}");
            let d = copy.src.descriptor;
            assert_eq!(
                (d.id, d.image_type, d.flags, d.width, d.height),
                (want.image_id, want.image_type, want.image_flags, want.width, want.height),
                "{at}"
            );
            let want_data = match want.image_type {
                image_type::BITMAP => {
                    let b = parse_bitmap(want.payload).unwrap();
                    let ImageData::Bitmap(got) = &copy.src.data else { panic!("{at}: {:?}", copy.src.data) };
                    assert_eq!(
                        (got.format, got.flags, got.width, got.height, got.stride),
                        (b.format, b.flags, b.x, b.y, b.stride),
                        "{at}"
                    );
                    b.data
                }
                _ => want.sized_data().unwrap(),
            };
            assert!(
                copy.src.payload() == want_data,
                "{at}: {} bytes, want {}",
                copy.src.payload().len(),
                want_data.len()
            );
            assert!(draw.base.bbox.within(640, 480) || draw.base.bbox.within(720, 400), "{at}: {:?}", draw.base.bbox);
        }
        assert!(copies > 0, "{}: no DRAW_COPY", path.display());
    }
    for name in ["SURFACE_CREATE", "DRAW_COPY", "MARK", "INVAL_ALL_PALETTES"] {
        assert!(seen.contains_key(name), "no {name} in any recording: {seen:?}");
    }
}

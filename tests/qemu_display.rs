//! `ryll --screenshot` against real QEMU 7.2 SPICE servers: the PNG equals QEMU's own QMP `screendump` pixel for
//! pixel, under every server `image-compression`, for every compression ryll can ask for (LZ4 included), and on
//! the `std`, `qxl` and `virtio-vga` display devices.
//!
//! The guest is the display fixtures' boot sector (`tests/fixtures/display/scene.img`): SeaBIOS, then a still
//! 640×400 picture of grey ramps, colour bands and noise. Each test waits until QEMU's screen is that picture, so
//! the screenshot and the screendump see the same still screen.

mod qemu;

use qemu::{DisplayGuest, Qemu, QemuOptions};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn display_qemu(vga: &'static str, image_compression: &'static str) -> Option<Qemu> {
    let qemu = Qemu::start_with(QemuOptions {
        display: Some(DisplayGuest { vga, image_compression, paused: false }),
        ..QemuOptions::default()
    })?;
    wait_for_scene(&qemu);
    Some(qemu)
}

/// The screendump as `(width, height, 0x00RRGGBB pixels)`.
fn load_png(path: &Path) -> (u32, u32, Vec<u32>) {
    qemu::decode_png(&std::fs::read(path).unwrap())
}

/// Waits until QEMU shows the scene (640×400, after SeaBIOS's 720×400 text screen) and has stopped drawing.
fn wait_for_scene(qemu: &Qemu) {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("wait.png");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = None;
    while Instant::now() < deadline {
        if qemu.screendump(&dump).is_ok() {
            let now = load_png(&dump);
            if now.0 == 640 && last.as_ref() == Some(&now) {
                return;
            }
            last = Some(now);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the guest did not draw its scene within 60 s");
}

/// ryll connects to a paused guest, then the guest boots: SeaBIOS's 720×400 text screen, the mode switch to the
/// 640×400 picture (a new primary surface), and the picture drawn as guest drawables in 32-pixel strips, GLZ_RGB
/// strips referencing earlier ones under auto_glz. The screenshot after all that equals the screendump.
#[test]
fn a_guest_that_boots_and_changes_mode_while_ryll_watches_matches_the_screendump() {
    let Some(qemu) = Qemu::start_with(QemuOptions {
        display: Some(DisplayGuest { vga: "std", image_compression: "auto_glz", paused: true }),
        ..QemuOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let child = Command::new(env!("CARGO_BIN_EXE_ryll"))
        .args(["--direct", &qemu.addr(), "--screenshot"])
        .arg(&shot)
        .args(["--settle-ms", "3000", "--screenshot-timeout", "60"])
        .env_remove("RYLL_PASSWORD")
        .env_remove("SPICE_PROXY")
        .env("RYLL_LOG", "ryll=debug")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The paused machine has no screen: the first frame arrives only once the guest runs.
    std::thread::sleep(Duration::from_millis(1500));
    qemu.cont().unwrap();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // The boot passes through the firmware's text mode (720×400) to the guest's 640×400; on a loaded machine the
    // display may skip that short-lived mode, so what is required is a switch seen while watching, ending there.
    let sizes: Vec<&str> = log.lines().filter_map(|l| l.split("screen is ").nth(1)).collect();
    assert!(sizes.len() >= 2 && sizes.last() == Some(&"640×400"), "a mode switch while ryll watched: {sizes:?} {log}");
    assert!(!log.contains("refused"), "{log}");
    wait_for_scene(&qemu);
    let ours = load_png(&shot);
    let dump = dir.path().join("dump.png");
    qemu.screendump(&dump).unwrap();
    let theirs = load_png(&dump);
    let differ = ours.2.iter().zip(&theirs.2).filter(|(a, b)| a != b).count();
    assert_eq!((ours.0, ours.1, differ), (theirs.0, theirs.1, 0), "{log}");
}

/// Runs `ryll --screenshot` against `qemu` with `extra` arguments; returns the PNG's pixels and the log.
fn screenshot(qemu: &Qemu, extra: &[&str]) -> ((u32, u32, Vec<u32>), String) {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let out = Command::new(env!("CARGO_BIN_EXE_ryll"))
        .args(["--direct", &qemu.addr(), "--screenshot"])
        .arg(&shot)
        .args(["--settle-ms", "300", "--screenshot-timeout", "30"])
        .args(extra)
        .env_remove("RYLL_PASSWORD")
        .env_remove("SPICE_PROXY")
        .env("RYLL_LOG", "ryll=debug")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("screenshot: wrote the 640×400 screen"), "{log}");
    (load_png(&shot), log)
}

/// Takes a screenshot and QEMU's screendump of the same still screen and compares them pixel for pixel.
fn assert_matches_screendump(qemu: &Qemu, extra: &[&str], what: &str) -> String {
    let (ours, log) = screenshot(qemu, extra);
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.png");
    qemu.screendump(&dump).unwrap();
    let theirs = load_png(&dump);
    assert_eq!((ours.0, ours.1), (theirs.0, theirs.1), "{what}: size");
    let differ = ours.2.iter().zip(&theirs.2).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{what}: {differ} pixels differ from QEMU's screendump\n{log}");
    log
}

macro_rules! server_compression_tests {
    ($($name:ident: $mode:literal,)*) => {$(
        #[test]
        fn $name() {
            let Some(qemu) = display_qemu("std", $mode) else { return };
            assert_matches_screendump(&qemu, &[], concat!("image-compression=", $mode));
        }
    )*};
}

server_compression_tests! {
    server_compression_off_matches_the_screendump: "off",
    server_compression_auto_glz_matches_the_screendump: "auto_glz",
    server_compression_auto_lz_matches_the_screendump: "auto_lz",
    server_compression_quic_matches_the_screendump: "quic",
    server_compression_glz_matches_the_screendump: "glz",
    server_compression_lz_matches_the_screendump: "lz",
}

/// One server, one screenshot per compression ryll can ask for: each session is a new client, and the server
/// encodes its first image of the screen as that client asked.
#[test]
fn every_preferred_compression_matches_the_screendump() {
    let Some(qemu) = display_qemu("std", "auto_glz") else { return };
    // What the server sends for this picture's first image under each preference (auto modes judge it not
    // photo-like: LZ).
    let expected = [
        ("off", "BITMAP ×1"),
        ("auto-glz", "LZ_RGB ×1"),
        ("auto-lz", "LZ_RGB ×1"),
        ("quic", "QUIC ×1"),
        ("glz", "LZ_RGB ×1"),
        ("lz", "LZ_RGB ×1"),
        ("lz4", "LZ4 ×1"),
    ];
    for (kind, images) in expected {
        let log = assert_matches_screendump(&qemu, &["--image-compression", kind], kind);
        assert!(log.contains(&format!("images so far: {images}")), "{kind}: {log}");
        assert!(!log.contains("refused"), "{kind}: {log}");
    }
}

#[test]
fn qxl_and_virtio_vga_devices_match_the_screendump() {
    for vga in ["qxl", "virtio"] {
        let Some(qemu) = display_qemu(vga, "auto_glz") else { return };
        // --capture covers the display channel: its pcap holds at least the first image.
        let cap = tempfile::tempdir().unwrap();
        let cap_arg = cap.path().to_str().unwrap();
        assert_matches_screendump(&qemu, &["--capture", cap_arg], vga);
        let pcap = std::fs::metadata(cap.path().join("display-0.pcap")).map(|m| m.len()).unwrap_or(0);
        assert!(pcap > 10_000, "{vga}: display-0.pcap has {pcap} bytes");
    }
}

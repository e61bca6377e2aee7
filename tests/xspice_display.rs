//! `ryll --screenshot` against Xspice: a real X server (Xorg with the `spiceqxl` driver, Debian
//! `xserver-xspice`) that serves its screen over SPICE through the QXL 2D path, with real X clients drawing while
//! ryll is connected (xterm scrolling text, xlogo, xclock, xeyes, a window moved and resized). The screenshot
//! must equal `xwd -root` of the same server pixel for pixel. Recipe: `../shared/docs/spice-display-facts.md` §9.

#[path = "qemu/mod.rs"]
mod qemu;
#[path = "support/xspice.rs"]
mod xspice;

use qemu::decode_png;
use std::process::{Command, Stdio};
use std::time::Duration;
use xspice::Xspice;

/// Connects ryll first, then has the X clients draw while it watches; compares its screenshot with `xwd -root`.
fn live_session_matches_xwd(compression: &str) {
    let Some(mut x) = Xspice::start(compression) else { return };
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let ryll = Command::new(env!("CARGO_BIN_EXE_ryll"))
        .args(["--direct", &format!("127.0.0.1:{}", x.port), "--screenshot"])
        .arg(&shot)
        .args(["--settle-ms", "3000", "--screenshot-timeout", "60"])
        .env("RYLL_LOG", "ryll=debug")
        .env_remove("RYLL_PASSWORD")
        .env_remove("SPICE_PROXY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    x.run("xterm", &["-geometry", "80x24+10+10", "-e", "seq 1 400; ls -l /usr/bin | head -60; sleep 600"]);
    x.run("xlogo", &["-geometry", "200x200+600+100"]);
    x.run("xclock", &["-geometry", "150x150+600+400", "-update", "3600"]);
    x.run("xeyes", &["-geometry", "100x100+850+550"]);
    std::thread::sleep(Duration::from_millis(1500));
    // Moves and a resize: COPY_BITS and redraws of exposed areas.
    x.xdotool(&["search", "--sync", "--name", "xlogo", "windowmove", "300", "450"]);
    x.xdotool(&["search", "--name", "xlogo", "windowsize", "260", "180"]);
    x.xdotool(&["search", "--name", "xclock", "windowmove", "700", "200"]);
    let out = ryll.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("refused"), "{compression}: a display message was refused:\n{log}");
    let draws: u64 = log
        .split("screen to ")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(draws > 100, "{compression}: only {draws} draws: the clients did not draw while ryll watched\n{log}");
    let ours = decode_png(&std::fs::read(&shot).unwrap());
    let theirs = x.xwd();
    assert_eq!((ours.0, ours.1), (theirs.0, theirs.1));
    let differ = ours.2.iter().zip(&theirs.2).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{compression}: {differ} pixels differ from xwd -root\n{log}");
}

#[test]
fn a_live_x_session_matches_xwd_with_auto_glz() {
    live_session_matches_xwd("auto_glz");
}

#[test]
fn a_live_x_session_matches_xwd_with_quic() {
    live_session_matches_xwd("quic");
}

#[test]
fn a_live_x_session_matches_xwd_uncompressed() {
    live_session_matches_xwd("off");
}

/// With `SpiceStreamingVideo "all"`, an animation (ImageMagick's `animate` cycling eight 200×150 frames at 25 per
/// second) becomes an MJPEG video stream: ryll draws its frames (lossy, so not compared) with none refused, and once
/// the animation's window has closed the screen equals `xwd -root` again.
#[test]
fn an_animation_streamed_as_mjpeg_is_drawn_and_the_screen_ends_exact() {
    let Some(x) = Xspice::start_with("auto_glz", "all") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..8 {
        let f = dir.path().join(format!("f{i}.png"));
        let ok = Command::new("convert")
            .args(["-size", "200x150", "xc:gray", "-seed", &i.to_string(), "+noise", "Random"])
            .arg(&f)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "convert could not make a frame");
        frames.push(f);
    }
    let shot = dir.path().join("shot.png");
    let ryll = Command::new(env!("CARGO_BIN_EXE_ryll"))
        .args(["--direct", &format!("127.0.0.1:{}", x.port), "--screenshot"])
        .arg(&shot)
        .args(["--settle-ms", "3000", "--screenshot-timeout", "60"])
        .env("RYLL_LOG", "ryll=debug")
        .env_remove("RYLL_PASSWORD")
        .env_remove("SPICE_PROXY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("timeout")
        .args(["6", "animate", "-delay", "4", "-loop", "0", "-geometry", "+100+100"])
        .args(&frames)
        .env("DISPLAY", &x.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let out = ryll.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("refused"), "{log}");
    let streamed: u64 =
        log.split(" draws, ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(streamed >= 20, "only {streamed} MJPEG frames: the animation was not streamed\n{log}");
    // ryll advertises STREAM_REPORT: the server asked for reports and got them, and spice-server (which logs
    // reports it cannot use) found nothing wrong with them.
    let reports = log.matches("stream report:").count();
    assert!(log.contains("asks for reports") && reports >= 1, "no stream reports were sent\n{log}");
    // Frames are stamped ahead of the session clock (spice-server keeps clients 400 ms behind); a delay far off
    // means the multimedia clock is wrong.
    let delays: Vec<i64> =
        log.split(" delay ").skip(1).filter_map(|s| s.split(' ').next().and_then(|n| n.parse().ok())).collect();
    assert!(delays.iter().all(|d| d.abs() < 5000), "implausible frame delays {delays:?}");
    eprintln!("stream reports: {reports}, delays {delays:?}");
    let server = x.server_log();
    let complaints: Vec<&str> =
        server.lines().filter(|l| l.contains("stream_report") || l.contains("stream report")).collect();
    assert!(complaints.is_empty(), "the server complained about a report:\n{}", complaints.join("\n"));
    let ours = decode_png(&std::fs::read(&shot).unwrap());
    let theirs = x.xwd();
    let differ = ours.2.iter().zip(&theirs.2).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} pixels differ from xwd -root after the stream\n{log}");
}

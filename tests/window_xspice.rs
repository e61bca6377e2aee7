//! The real ryll window (the release binary) under Xvfb against Xspice, a real X server serving SPICE
//! (`tests/support/xspice.rs`): the pointer moved and clicked in ryll's window with xdotool is where
//! `xdotool getmouselocation` says it is in the Xspice session, at 1:1 and in a scaled Fit window, and `xev` in
//! that session sees the clicks at those points; the cursor shapes the X server sets (none over the root window,
//! xterm's I-beam over its text, a double arrow over its scrollbar) are what ryll draws at the pointer. With two
//! heads on Xspice's one display channel (xrandr), `--monitor 2` shows the second head's part of the screen.
//!
//! `make test-window` builds the release binary and runs this (`--ignored`).

#[path = "qemu/mod.rs"]
mod qemu;
#[path = "support/xspice.rs"]
mod xspice;
#[path = "support/xwindow.rs"]
mod xwindow;

use std::time::{Duration, Instant};
use xspice::Xspice;
use xwindow::{window_binary, x_tools_present, RyllWindow, View, Xvfb};

const SIDE_PANEL: u32 = 300;

/// Where `xdotool getmouselocation` puts the Xspice pointer.
fn pointer(x: &Xspice) -> (u32, u32) {
    let out = x.xdotool_out(&["getmouselocation", "--shell"]);
    let get = |k: &str| -> u32 {
        out.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).and_then(|v| v.parse().ok()).unwrap_or(u32::MAX)
    };
    (get("X"), get("Y"))
}

/// Moves the pointer to window pixel `p` of ryll's window and waits until the Xspice pointer is at `want`.
fn move_to(w: &RyllWindow, x: &Xspice, p: (i32, i32), want: (u32, u32)) {
    let (wx, wy, _, _) = w.geometry();
    w.xdotool(&["mousemove", "--sync", &(wx + p.0).to_string(), &(wy + p.1).to_string()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while pointer(x) != want {
        assert!(Instant::now() < deadline, "the Xspice pointer is at {:?}, not {want:?}", pointer(x));
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The pixels of a `2r`×`2r` square of ryll's window centred on window pixel `p`.
fn around(w: &RyllWindow, p: (i32, i32), r: i32) -> Vec<u32> {
    w.grab(p.0 - r, p.1 - r, 2 * r as u32, 2 * r as u32)
}

/// Which pixels of the square differ from the same square with the pointer elsewhere: the cursor's mask.
fn cursor_mask(w: &RyllWindow, x: &Xspice, view: &View, at: (u32, u32), away: (u32, u32)) -> Vec<bool> {
    let p = view.window_pixel(at.0, at.1);
    move_to(w, x, view.window_pixel(away.0, away.1), away);
    std::thread::sleep(Duration::from_millis(500));
    let bare = around(w, p, 24);
    move_to(w, x, p, at);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let shown = around(w, p, 24);
        let mask: Vec<bool> = shown.iter().zip(&bare).map(|(a, b)| a != b).collect();
        if mask.iter().filter(|m| **m).count() >= 20 || Instant::now() > deadline {
            return mask;
        }
    }
}

#[test]
#[ignore = "needs the release window binary, Xvfb and Xspice: make test-window"]
fn the_window_drives_an_xspice_session() {
    if !x_tools_present() || !xspice::tools_present() {
        return;
    }
    let Some(bin) = window_binary() else { return };
    let Some(mut x) = Xspice::start("auto_glz") else { return };
    let dir = tempfile::tempdir().unwrap();
    let xev = dir.path().join("xev.log");
    // A window that reports button presses where they land; xterm for a cursor of its own.
    x.run_logged("stdbuf", &["-oL", "xev", "-geometry", "300x200+500+400", "-event", "button"], &xev);
    x.run("xterm", &["-sb", "-geometry", "40x10+50+400", "-e", "sleep 600"]);
    let vx = Xvfb::start(1400, 1000);
    let w = RyllWindow::start(&bin, &vx.display, x.port, &[]);
    w.wait_log("mouse mode: client", 60);
    w.focus();
    let (sw, sh) = w.view(|_| true).surface;

    for one_to_one in [true, false] {
        let view = if one_to_one { w.resize_one_to_one(SIDE_PANEL) } else { w.resize(SIDE_PANEL + 600, 560) };
        assert_eq!(view.one_to_one(), one_to_one, "{view:?}");
        for aim in [(10, 10), (sw / 2, sh / 3), (sw - 5, sh - 5)] {
            let p = view.window_pixel(aim.0, aim.1);
            let at = view.surface_pixel(p.0, p.1).expect("on the surface");
            if one_to_one {
                assert_eq!(at, aim, "{view:?}");
            }
            move_to(&w, &x, p, at);
        }
        // A click inside xev's window: xev reports it at that root point.
        let p = view.window_pixel(500 + 120, 400 + 70);
        let at = view.surface_pixel(p.0, p.1).expect("on the surface");
        let before = std::fs::read_to_string(&xev).unwrap_or_default().matches("ButtonRelease").count();
        move_to(&w, &x, p, at);
        w.xdotool(&["click", "1"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let log = std::fs::read_to_string(&xev).unwrap_or_default();
            let press = log.split("ButtonPress").last().unwrap_or_default();
            // xev's output reaches the file in pieces: wait for the release's details too.
            if log.matches("ButtonRelease").count() > before && press.matches("button").count() >= 2 {
                let inside = format!("root:({},{})", at.0, at.1);
                assert!(press.contains(&inside) && press.contains("button 1"), "xev saw {inside}?\n{log}");
                break;
            }
            assert!(Instant::now() < deadline, "xev saw no click:\n{log}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    // The cursor: none over the root window (Xorg's default without -retro), xterm's I-beam over its text and a
    // double arrow over its scrollbar, each drawn by ryll at the pointer (the OS pointer is hidden there, and xwd
    // does not show it anyway).
    let view = w.resize_one_to_one(SIDE_PANEL);
    let away = (700, 150);
    let cursor_log =
        || -> String { w.log_text().lines().filter(|l| l.contains("cursor")).collect::<Vec<_>>().join("\n") };
    let count = |m: &[bool]| m.iter().filter(|b| **b).count();
    let on_root = cursor_mask(&w, &x, &view, (300, 150), away);
    assert_eq!(count(&on_root), 0, "a cursor drawn over the root window");
    let on_text = cursor_mask(&w, &x, &view, (150, 450), away);
    let on_bar = cursor_mask(&w, &x, &view, (57, 450), away);
    assert!(count(&on_text) >= 20, "no cursor drawn over xterm's text:\n{}", cursor_log());
    assert!(count(&on_bar) >= 20, "no cursor drawn over xterm's scrollbar:\n{}", cursor_log());
    assert_ne!(on_text, on_bar, "the cursor did not change shape between xterm's text and its scrollbar");
}

/// Two heads on Xspice's one display channel (MONITORS_CONFIG): `--monitor 2` shows the second, cut from the
/// surface, and the pointer moved over it lands in that head's part of the X screen.
#[test]
#[ignore = "needs the release window binary, Xvfb, Xspice and xrandr: make test-window"]
fn the_window_shows_one_head_of_a_display_channel_with_two() {
    if !x_tools_present() || !xspice::tools_present() {
        return;
    }
    let Some(bin) = window_binary() else { return };
    let Some(mut x) = Xspice::start_heads("auto_glz", 2) else { return };
    x.add_head(1, 640, 480);
    // Something to see on the second head only.
    x.run("xlogo", &["-geometry", "300x200+1150+60"]);
    let vx = Xvfb::start(1400, 1000);
    let w = RyllWindow::start(&bin, &vx.display, x.port, &["--monitor", "2"]);
    w.wait_log("mouse mode: client", 60);
    w.wait_log("desktop: monitor 2 shown", 60);
    w.focus();
    w.view(|v| v.surface == (640, 480));
    // Scaled to fit a smaller window, then at 1:1: the pointer lands in the head's part of the X screen.
    for one_to_one in [false, true] {
        let view = if one_to_one { w.resize_one_to_one(SIDE_PANEL) } else { w.resize(SIDE_PANEL + 500, 520) };
        assert_eq!(view.one_to_one(), one_to_one, "{view:?}");
        for aim in [(10, 10), (320, 240), (635, 475)] {
            let p = view.window_pixel(aim.0, aim.1);
            let (sx, sy) = view.surface_pixel(p.0, p.1).expect("on the head");
            move_to(&w, &x, p, (1024 + sx, sy));
        }
    }
    let view = w.view(|v| v.one_to_one());
    // Off xlogo (the root window has no cursor): the view at 1:1 is the head's part of `xwd -root`.
    move_to(&w, &x, view.window_pixel(20, 400), (1024 + 20, 400));
    let (p0, deadline) = (view.window_pixel(0, 0), Instant::now() + Duration::from_secs(30));
    loop {
        let (sw, sh, root) = x.xwd();
        assert!(sw >= 1024 + 640 && sh >= 480, "the X screen is {sw}x{sh}");
        let want: Vec<u32> = (0..480)
            .flat_map(|y| (1024..1024 + 640).map(move |c| (y, c)))
            .map(|(y, c)| root[y * sw as usize + c] & 0xff_ffff)
            .collect();
        let shown: Vec<u32> = w.grab(p0.0, p0.1, 640, 480).iter().map(|p| p & 0xff_ffff).collect();
        let off = want.iter().zip(&shown).filter(|(a, b)| a != b).count();
        if off == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{off} of the head's pixels differ from xwd's");
        std::thread::sleep(Duration::from_millis(500));
    }
}

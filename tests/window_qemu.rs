//! The real ryll window (the release binary) under Xvfb, driven by xdotool through XTEST, against the bundled
//! test VM's `ryll.mode=input` guest under QEMU 7.2, which reports its console's bytes and its input devices'
//! events on serial ports (`tests/support/input_guest.rs`). One boot and one window serve every check:
//! - keys typed in the window: every printable ASCII character, Ctrl, Alt and Shift combinations (Ctrl+C and
//!   Ctrl+X, which egui turns into clipboard events), the arrows, the editing keys, F1-F12 and the keypad keys
//!   egui can tell (`+`) or folds into the main block (digits, `-`, `/`, Enter) reach the guest's console;
//! - Ctrl+V (egui reports no press for it with an empty clipboard) and Shift+F5 reach the guest's keyboard as
//!   their Linux key codes, each modifier released when it is released in the window;
//! - server mouse mode: a click grabs, then relative motion, the left, right and middle buttons and the wheel
//!   reach the guest's PS/2 mouse; Ctrl+Alt releases the grab;
//! - the display area of a window screenshot at 1:1 equals QMP `screendump`;
//! - client mouse mode after a usb-tablet is hot-plugged: clicks land on the surface pixel under the pointer at 1:1
//!   and in a smaller, letterboxed Fit window; a click in the letterbox bar sends nothing.
//!
//! `make test-window` builds the release binary and runs this (`--ignored`); see docs/plans/PLAN-desktop-phase-03.

#[path = "support/input_guest.rs"]
mod input_guest;
mod qemu;
#[path = "support/xwindow.rs"]
mod xwindow;

use input_guest::{tty_bytes, Guest, EV_ABS, EV_KEY, EV_REL, REL_WHEEL};
use xwindow::{window_binary, x_tools_present, RyllWindow, View, Xvfb};

/// The Folders panel is open beside the desktop by default.
const SIDE_PANEL: u32 = 300;

fn keys(ev: &[(u16, u16, i32)]) -> Vec<(u16, i32)> {
    ev.iter().filter(|e| e.0 == EV_KEY && e.2 != 2).map(|e| (e.1, e.2)).collect()
}

/// Clicks at window pixel `p` and returns the window pixel's surface pixel (if it is on the surface).
fn click_at(w: &RyllWindow, view: &View, p: (i32, i32)) -> Option<(u32, u32)> {
    let (wx, wy, _, _) = w.geometry();
    w.xdotool(&["mousemove", "--sync", &(wx + p.0).to_string(), &(wy + p.1).to_string()]);
    w.xdotool(&["click", "1"]);
    view.surface_pixel(p.0, p.1)
}

/// The scaled (Fit) view shows the guest's screen where it should: block by block (16×12), each block's mean
/// colour is the screendump's within a few levels (the bilinear filter blurs edges, so not pixel for pixel).
fn assert_scaled_view_matches(w: &RyllWindow, view: &View, guest: &Guest) {
    let (rx, ry) = (view.rect.0.round() as i32, view.rect.1.round() as i32);
    let (rw, rh) = (view.rect.2.round() as u32, view.rect.3.round() as u32);
    let mean = |px: &[u32], stride: u32, x: (u32, u32), y: (u32, u32)| -> [f64; 3] {
        let mut sum = [0f64; 3];
        for row in y.0..y.1 {
            for col in x.0..x.1 {
                let p = px[(row * stride + col) as usize];
                for (c, s) in sum.iter_mut().enumerate() {
                    *s += f64::from((p >> (16 - 8 * c)) & 0xff);
                }
            }
        }
        let n = f64::from((x.1 - x.0) * (y.1 - y.0)).max(1.0);
        sum.map(|s| s / n)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (dw, dh, dump) = guest.screendump();
        let shown = w.grab(rx, ry, rw, rh);
        let mut worst = 0f64;
        for by in 0..12 {
            for bx in 0..16 {
                let part = |n: u32, k: u32, of: u32| (k * n / of, (k + 1) * n / of);
                let a = mean(&shown, rw, part(rw, bx, 16), part(rh, by, 12));
                let b = mean(&dump, dw, part(dw, bx, 16), part(dh, by, 12));
                worst = a.iter().zip(&b).map(|(a, b)| (a - b).abs()).fold(worst, f64::max);
            }
        }
        if worst < 12.0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "scaled view {view:?}: a block's mean is {worst:.1} levels off");
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

#[test]
#[ignore = "needs the release window binary and Xvfb: make test-window"]
fn the_window_drives_a_real_guest() {
    if !x_tools_present() {
        return;
    }
    let Some(bin) = window_binary() else { return };
    let Some(guest) = Guest::boot() else { return };
    let x = Xvfb::start(1400, 1000);
    guest.wait_console("GUEST INPUT READY", 240);
    let w = RyllWindow::start(&bin, &x.display, guest.port, &[]);
    w.wait_log("mouse mode: server", 60);
    w.wait_log("channel linked: 3:0 (inputs)", 60);
    // Under Xvfb the desktop is drawn into the X server, beside egui's frame (app/x11): every check below
    // sees that path.
    w.wait_log("desktop: drawn straight into the X server", 30);
    w.focus();
    let view = w.view(|_| true);
    let (sw, sh) = view.surface;

    // A click on the desktop gives it the keyboard and grabs the pointer (server mode).
    let before_mouse = input_guest::events(&guest.serial(3)).len();
    let centre = view.window_pixel(sw / 2, sh / 2);
    click_at(&w, &view, centre);
    guest.wait_events(3, before_mouse, 30, |ev| keys(ev).len() >= 2);
    w.wait_log("pointer grabbed", 30);

    // 1. The console: text, combinations, escape sequences.
    let printable: String = (0x20u8..0x7f).map(char::from).filter(|c| *c != '~').collect();
    // Paced: QEMU drops scancodes while its 16-byte PS/2 queue is full (a slow TCG guest drains it late).
    w.xdotool(&["type", "--delay", "120", "--", &printable]);
    let combos: &[(&str, &[u8])] = &[
        ("Return", b"\r"),
        ("ctrl+c", &[3]),
        ("ctrl+x", &[0x18]),
        ("ctrl+a", &[1]),
        ("ctrl+z", &[0x1a]),
        ("alt+x", b"\x1bx"),
        ("shift+a", b"A"),
        ("Up", b"\x1b[A"),
        ("Down", b"\x1b[B"),
        ("Right", b"\x1b[C"),
        ("Left", b"\x1b[D"),
        ("Home", b"\x1b[1~"),
        ("Insert", b"\x1b[2~"),
        ("Delete", b"\x1b[3~"),
        ("End", b"\x1b[4~"),
        ("Prior", b"\x1b[5~"),
        ("Next", b"\x1b[6~"),
        ("F1", b"\x1b[[A"),
        ("F2", b"\x1b[[B"),
        ("F3", b"\x1b[[C"),
        ("F4", b"\x1b[[D"),
        ("F5", b"\x1b[[E"),
        ("F6", b"\x1b[17~"),
        ("F7", b"\x1b[18~"),
        ("F8", b"\x1b[19~"),
        ("F9", b"\x1b[20~"),
        ("F10", b"\x1b[21~"),
        ("F11", b"\x1b[23~"),
        ("F12", b"\x1b[24~"),
        ("KP_Add", b"+"),
        ("KP_Subtract", b"-"),
        ("KP_Divide", b"/"),
        ("KP_End", b"1"),
        ("KP_Enter", b"\r"),
        ("Tab", b"\t"),
        ("BackSpace", &[0x7f]),
        ("Escape", &[0x1b]),
        ("asciitilde", b"~"),
        ("asciitilde", b"~"),
        ("Return", b"\r"),
    ];
    let mut args = vec!["key", "--delay", "150"];
    args.extend(combos.iter().map(|(k, _)| *k));
    w.xdotool(&args);
    guest.wait_console("GUEST TTY DONE", 180);
    let mut expected = printable.into_bytes();
    for (_, bytes) in combos {
        expected.extend_from_slice(bytes);
    }
    let got = tty_bytes(&guest.serial(0));
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&expected), "console bytes");
    assert_eq!(got, expected);

    // 2. The keyboard's Linux key codes: Ctrl+V (egui reports no press for it with an empty clipboard, and
    // xdotool lets go of Ctrl before V), Shift+F5, keypad +.
    for (combo, want) in [
        ("ctrl+v", &[(29, 1), (47, 1), (47, 0), (29, 0)][..]),
        ("shift+F5", &[(42, 1), (63, 1), (42, 0), (63, 0)]),
        ("KP_Add", &[(78, 1), (78, 0)]),
    ] {
        let before = input_guest::events(&guest.serial(2)).len();
        w.xdotool(&["key", combo]);
        let done = |ev: &[(u16, u16, i32)]| keys(ev).windows(want.len()).any(|k| k == want);
        let ev = guest.wait_events(2, before, 60, done);
        assert!(done(&ev), "{combo}: {:?} at the guest's keyboard, want {want:?} in it", keys(&ev));
    }

    // 3. Server mouse mode, grabbed: relative motion, buttons, the wheel.
    let before = input_guest::events(&guest.serial(3)).len();
    w.xdotool(&["mousemove_relative", "--sync", "30", "20"]);
    for b in ["1", "3", "2", "4", "5"] {
        w.xdotool(&["click", b]);
    }
    let ev = guest.wait_events(3, before, 60, |ev| {
        let wheel = |v: i32| ev.iter().filter(|e| e.0 == EV_REL && e.1 == REL_WHEEL && e.2 == v).count();
        keys(ev).len() >= 6 && wheel(-1) >= 1 && wheel(-1) == wheel(1)
    });
    assert_eq!(keys(&ev), vec![(272, 1), (272, 0), (273, 1), (273, 0), (274, 1), (274, 0)], "buttons: {ev:?}");
    assert!(ev.iter().any(|e| e.0 == EV_REL && e.1 <= 1 && e.2 != 0), "no relative motion: {ev:?}");
    let wheel: Vec<i32> = ev.iter().filter(|e| e.0 == EV_REL && e.1 == REL_WHEEL).map(|e| e.2).collect();
    let ups = wheel.iter().take_while(|v| **v == 1).count();
    // winit reports an XTEST wheel button's press and its release as a notch each (real wheels send scroll
    // valuators, whose emulated buttons winit drops), so one xdotool click is one or two notches.
    assert!((1..=2).contains(&ups) && wheel[ups..].iter().all(|v| *v == -1) && wheel.len() == 2 * ups, "{wheel:?}");
    // Ctrl+Alt releases the grab.
    w.xdotool(&["keydown", "ctrl", "keydown", "alt"]);
    w.wait_log("pointer released", 30);
    w.xdotool(&["keyup", "alt", "keyup", "ctrl"]);

    // 4. The display area at 1:1 equals QMP screendump (polled: the VGA text cursor blinks).
    let view = w.resize_one_to_one(SIDE_PANEL);
    w.xdotool(&["mousemove", "--sync", "1395", "995"]);
    let (rx, ry) = (view.rect.0 as i32, view.rect.1 as i32);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let (dw, dh, dump) = guest.screendump();
        assert_eq!((dw, dh), (sw, sh));
        let shown = w.grab(rx, ry, sw, sh);
        let differ = shown.iter().zip(&dump).filter(|(a, b)| a != b).count();
        if differ == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{differ} of {} pixels differ from screendump", sw * sh);
        std::thread::sleep(std::time::Duration::from_millis(300));
    }

    // 5. Client mouse mode after a usb-tablet is hot-plugged: clicks on the pixel under the pointer.
    guest.qmp(r#"{"execute":"device_add","arguments":{"driver":"usb-tablet","bus":"xhci.0","id":"tablet"}}"#);
    guest.wait_console("Tablet", 120);
    w.wait_log("mouse mode: client", 60);
    for one_to_one in [true, false] {
        let view = if one_to_one { w.resize_one_to_one(SIDE_PANEL) } else { w.resize(SIDE_PANEL + 500, 560) };
        assert_eq!(view.one_to_one(), one_to_one, "{view:?}");
        // The guest starts reading a hot-plugged device a moment after it appears (and TCG makes that moment
        // long): move over the surface until the tablet's events arrive, so the first click is not lost.
        if !one_to_one {
            assert_scaled_view_matches(&w, &view, &guest);
        }
        let (wx, wy, _, _) = w.geometry();
        let centre = view.window_pixel(sw / 2, sh / 2);
        let start = input_guest::events(&guest.serial(3)).len();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        for wiggle in (0..).map(|i| i % 2 * 4) {
            if input_guest::events(&guest.serial(3)).len() > start {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "no pointer event from the hot-plugged tablet");
            let (x, y) = (wx + centre.0 + wiggle, wy + centre.1);
            w.xdotool(&["mousemove", "--sync", &x.to_string(), &y.to_string()]);
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let before = input_guest::events(&guest.serial(3)).len();
        let mut aimed = Vec::new();
        for (px, py) in [(100u32, 50u32), (sw - 20, sh - 10), (sw / 3, sh / 2)] {
            let p = view.window_pixel(px, py);
            aimed.push(click_at(&w, &view, p).expect("the point is on the surface"));
        }
        // A letterbox bar (above the surface, or left of it at 1:1): that click reaches nobody. A last aimed
        // click marks the end.
        let (x0, y0) = (view.rect.0 as i32, view.rect.1 as i32);
        let bar = if y0 > view.avail.1 as i32 + 5 { (x0 + 10, y0 - 5) } else { (x0 - 5, y0 + 10) };
        assert!(view.surface_pixel(bar.0, bar.1).is_none() && bar.0 > 0 && bar.1 > 0, "{view:?}");
        click_at(&w, &view, bar);
        aimed.push(click_at(&w, &view, view.window_pixel(sw / 2, sh / 3)).unwrap());
        let ev = guest.wait_events(3, before, 60, |ev| keys(ev).len() >= 2 * aimed.len());
        assert_eq!(keys(&ev).len(), 2 * aimed.len(), "one click per aimed point, none from the bar: {ev:?}");
        let abs = |axis: u16| -> Vec<i32> { ev.iter().filter(|e| e.0 == EV_ABS && e.1 == axis).map(|e| e.2).collect() };
        for (x, y) in aimed {
            let (ax, ay) =
                ((i64::from(x) * 32767 / i64::from(sw)) as i32, (i64::from(y) * 32767 / i64::from(sh)) as i32);
            assert!(abs(0).contains(&ax), "{view:?}: x {x} should be ABS_X {ax}: {:?}", abs(0));
            assert!(abs(1).contains(&ay), "{view:?}: y {y} should be ABS_Y {ay}: {:?}", abs(1));
        }
    }
}

//! Keyboard and mouse through ryll's inputs channel into a real guest: the bundled Linux test VM
//! (`make testvm`, `ryll.mode=input`) under QEMU 7.2 reports the bytes its console receives and the events of its
//! input devices on serial ports. One boot serves every check:
//! - every printable ASCII character, Enter, Ctrl and Alt combinations, the arrow keys, the editing keys, F1-F12
//!   and the keypad keys that ignore Num Lock arrive on the console as the Linux console's own bytes;
//! - every key of the 105-key table arrives at the guest's keyboard as its Linux key code, pressed then released;
//! - in server mouse mode, clicks of every button, the wheel and relative motion reach the PS/2 mouse;
//! - after a usb-tablet is hot-plugged, ryll switches to client mouse mode and clicks land on the surface pixel
//!   asked for (the tablet's absolute axes are the surface scaled to 0..32767).

#[path = "support/input_guest.rs"]
mod input_guest;
mod qemu;

use input_guest::{events, linux_keycode, tty_bytes, Guest, EV_ABS, EV_KEY, EV_REL, REL_WHEEL};
use ryll::input::keymap::KEYS;
use std::time::{Duration, Instant};

#[test]
fn keyboard_and_mouse_reach_a_real_guest() {
    let Some(guest) = Guest::boot() else { return };
    guest.wait_console("GUEST INPUT READY", 240);

    // 1. The console: text, control and escape sequences.
    let printable: String = (0x20u8..0x7f).map(char::from).filter(|c| *c != '~').collect();
    let combos: &[(&str, &[u8])] = &[
        ("enter", b"\r"),
        ("ctrl+c", &[3]),
        ("ctrl+a", &[1]),
        ("ctrl+z", &[0x1a]),
        ("alt+x", b"\x1bx"),
        ("shift+a", b"A"),
        ("up", b"\x1b[A"),
        ("down", b"\x1b[B"),
        ("right", b"\x1b[C"),
        ("left", b"\x1b[D"),
        ("home", b"\x1b[1~"),
        ("insert", b"\x1b[2~"),
        ("delete", b"\x1b[3~"),
        ("end", b"\x1b[4~"),
        ("pgup", b"\x1b[5~"),
        ("pgdn", b"\x1b[6~"),
        ("f1", b"\x1b[[A"),
        ("f2", b"\x1b[[B"),
        ("f3", b"\x1b[[C"),
        ("f4", b"\x1b[[D"),
        ("f5", b"\x1b[[E"),
        ("f6", b"\x1b[17~"),
        ("f7", b"\x1b[18~"),
        ("f8", b"\x1b[19~"),
        ("f9", b"\x1b[20~"),
        ("f10", b"\x1b[21~"),
        ("f11", b"\x1b[23~"),
        ("f12", b"\x1b[24~"),
        ("kp+", b"+"),
        ("kp-", b"-"),
        ("kp*", b"*"),
        ("kp/", b"/"),
        ("kp_enter", b"\r"),
        ("tab", b"\t"),
        ("backspace", &[0x7f]),
        ("esc", &[0x1b]),
    ];
    let mut args: Vec<String> = vec!["--type".into(), printable.clone()];
    for (combo, _) in combos {
        args.extend(["--send-keys".into(), (*combo).to_string()]);
    }
    args.extend(["--type".into(), "~~\n".into()]);
    let log = guest.ryll(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(log.contains("input: script sent"), "{log}");
    guest.wait_console("GUEST TTY DONE", 180);
    let mut expected = printable.into_bytes();
    for (_, bytes) in combos {
        expected.extend_from_slice(bytes);
    }
    expected.extend_from_slice(b"~~\r");
    assert_eq!(tty_bytes(&guest.serial(0)), expected);

    // 2. Every key of the table at the guest's keyboard, by Linux key code.
    let before = events(&guest.serial(2)).len();
    let mut args = Vec::new();
    for (_, name, ..) in KEYS {
        args.extend(["--send-keys", *name]);
    }
    guest.ryll(&args);
    let want: Vec<(u16, i32)> =
        KEYS.iter().flat_map(|(.., make)| [(linux_keycode(make), 1), (linux_keycode(make), 0)]).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let got = loop {
        let got: Vec<(u16, i32)> = events(&guest.serial(2))[before..]
            .iter()
            .filter(|(t, _, v)| *t == EV_KEY && *v != 2)
            .map(|(_, c, v)| (*c, *v))
            .collect();
        if got.len() >= want.len() || Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(got, want, "key events at the guest's keyboard (code, 1 press / 0 release)");

    // 3. Server mouse mode: the PS/2 mouse gets relative motion, every button and the wheel.
    let console = guest.serial(0);
    assert!(console.contains("Mouse"), "no PS/2 mouse event device: {console}");
    let log = guest.ryll(&[
        "--click",
        "100,50",
        "--click",
        "120,60,right",
        "--click",
        "130,70,middle",
        "--click",
        "130,70,up",
        "--click",
        "130,70,down",
    ]);
    assert!(log.contains("mouse mode: server"), "{log}");
    std::thread::sleep(Duration::from_secs(3));
    let ev = events(&guest.serial(3));
    let keys: Vec<(u16, i32)> = ev.iter().filter(|e| e.0 == EV_KEY).map(|e| (e.1, e.2)).collect();
    assert_eq!(keys, vec![(272, 1), (272, 0), (273, 1), (273, 0), (274, 1), (274, 0)], "buttons: {ev:?}");
    assert!(ev.iter().any(|e| e.0 == EV_REL && e.1 <= 1 && e.2 != 0), "no relative motion: {ev:?}");
    let wheel: Vec<i32> = ev.iter().filter(|e| e.0 == EV_REL && e.1 == REL_WHEEL).map(|e| e.2).collect();
    assert_eq!(wheel, vec![1, -1], "wheel up then down");

    // 4. Client mouse mode after a usb-tablet is hot-plugged: clicks on exact surface pixels.
    let (w, h) = guest.screen_size();
    guest.qmp(r#"{"execute":"device_add","arguments":{"driver":"usb-tablet","bus":"xhci.0","id":"tablet"}}"#);
    guest.wait_console("Tablet", 120);
    let before = events(&guest.serial(3)).len();
    let points = [(100u32, 50u32), (w - 20, h - 10)];
    let log = guest.ryll(&[
        "--click",
        &format!("{},{}", points[0].0, points[0].1),
        "--click",
        &format!("{},{}", points[1].0, points[1].1),
    ]);
    assert!(log.contains("mouse mode: client"), "{log}");
    std::thread::sleep(Duration::from_secs(3));
    let ev = events(&guest.serial(3))[before..].to_vec();
    let abs = |axis: u16| -> Vec<i32> { ev.iter().filter(|e| e.0 == EV_ABS && e.1 == axis).map(|e| e.2).collect() };
    for (x, y) in points {
        let (ax, ay) = ((i64::from(x) * 32767 / i64::from(w)) as i32, (i64::from(y) * 32767 / i64::from(h)) as i32);
        assert!(abs(0).contains(&ax), "x {x} of {w} should be ABS_X {ax}: {:?}", abs(0));
        assert!(abs(1).contains(&ay), "y {y} of {h} should be ABS_Y {ay}: {:?}", abs(1));
    }
    let clicks = ev.iter().filter(|e| e.0 == EV_KEY && e.1 == 272).count();
    assert_eq!(clicks, 4, "two clicks on the tablet: {ev:?}");
}

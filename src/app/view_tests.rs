//! The desktop view in the whole window (egui_kittest): where the surface goes in the central area (Fit with
//! letterboxing beside the Folders panel, 1:1 from the status bar's toggle), which surface pixel a pointer event
//! lands on, what keys and clicks send, and the "Send key" menu's sequences.

use super::fixture::{fixture, harness, Fixture};
use super::*;
use crate::input::keymap::{parse_combo, PcKey, Stroke};
use crate::input::motion::Motion;
use crate::protocol::constants::ChannelType;
use crate::protocol::inputs::Button;
use crate::protocol::main_channel::ChannelId;
use crate::session::inputs::InputEvent;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;

/// The window showing a `w`×`h` surface, its inputs channel linked in client (`client`) or server mouse mode; the
/// receiver gets what the view sends.
fn desktop(w: u32, h: u32, client: bool) -> (Harness<'static, Fixture>, mpsc::Receiver<InputEvent>) {
    let f = fixture();
    let display = ChannelId { channel_type: ChannelType::Display, id: 0 };
    f.app.shared.display.new_surface(display, w, h, vec![0xff20_4060; (w * h) as usize]);
    let (tx, rx) = mpsc::channel(256);
    f.app.shared.inputs.attach(Some(tx));
    let mode = if client { 2 } else { 1 };
    f.app.shared.inputs.update(|s| {
        s.linked = true;
        s.supported_mouse_modes = 3;
        s.mouse_mode = mode;
    });
    f.events.send(AppMessage::Session(SessionEvent::MouseMode { supported: 3, current: mode })).unwrap();
    let mut h = harness(f);
    h.run();
    (h, rx)
}

fn sent(rx: &mut mpsc::Receiver<InputEvent>) -> Vec<InputEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

fn click(h: &mut Harness<'_, Fixture>, p: egui::Pos2) {
    h.input_mut().events.push(egui::Event::PointerMoved(p));
    h.run();
    for pressed in [true, false] {
        h.input_mut().events.push(egui::Event::PointerButton {
            pos: p,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: egui::Modifiers::NONE,
        });
        h.run();
    }
}

fn key(k: egui::Key, pressed: bool, modifiers: egui::Modifiers) -> egui::Event {
    egui::Event::Key { key: k, physical_key: Some(k), pressed, repeat: false, modifiers }
}

fn the_map(h: &Harness<'_, Fixture>) -> desktop::ViewMap {
    h.state().app.desktop.map.expect("the desktop is shown")
}

#[test]
fn the_desktop_sends_surface_pixels_buttons_and_keys() {
    let (mut h, mut rx) = desktop(640, 400, true);
    assert!(h.query_by_label("Send key").is_some());
    assert!(h.query_by_label("mouse: client").is_some());
    let map = the_map(&h);
    assert!(map.rect.width() > 600.0 && (map.rect.width() / map.rect.height() - 1.6).abs() < 0.01, "{map:?}");
    click(&mut h, map.to_window(320.5, 200.5));
    for pressed in [true, false] {
        h.input_mut().events.push(key(egui::Key::A, pressed, egui::Modifiers::NONE));
        h.run();
    }
    assert_eq!(
        sent(&mut rx),
        vec![
            InputEvent::Move(Motion::Absolute { x: 320, y: 200, display: 0 }),
            InputEvent::Button { button: Button::Left, pressed: true },
            InputEvent::Button { button: Button::Left, pressed: false },
            InputEvent::Key(Stroke::Press(PcKey::A)),
            InputEvent::Key(Stroke::Release(PcKey::A)),
        ]
    );
    // Outside the surface (the letterbox), nothing is sent.
    h.input_mut().events.push(egui::Event::PointerMoved(map.rect.min - egui::vec2(5.0, 5.0)));
    h.run();
    assert!(rx.try_recv().is_err());
}

#[test]
fn fit_letterboxes_beside_the_folders_panel_and_one_to_one_maps_pixel_for_pixel() {
    // A tall surface: bars left and right of it in the central area left of the Folders panel.
    let (mut h, mut rx) = desktop(400, 800, true);
    let map = the_map(&h);
    let panel = style::SIDE_PANEL_WIDTH;
    assert!(map.rect.max.x <= 1100.0 - panel + 1.0, "the surface stays left of the panel: {map:?}");
    assert!((map.rect.height() / map.rect.width() - 2.0).abs() < 0.01, "aspect kept: {map:?}");
    assert!(map.rect.min.x > 50.0 && map.rect.min.y.abs() < 1.0, "letterboxed left and right: {map:?}");
    let k = map.scale().x;
    assert!(k < 1.0 && (k - map.scale().y).abs() < 1e-4, "scaled down evenly: {k}");
    // A click in the left bar reaches nobody; one on the surface lands on the scaled pixel.
    click(&mut h, egui::pos2(map.rect.min.x - 20.0, map.rect.center().y));
    assert_eq!(sent(&mut rx), vec![]);
    let p = map.rect.min + egui::vec2(100.0, 300.0);
    click(&mut h, p);
    let want = ((100.0 / k).floor() as u32, (300.0 / k).floor() as u32);
    assert_eq!(sent(&mut rx)[0], InputEvent::Move(Motion::Absolute { x: want.0, y: want.1, display: 0 }), "{map:?}");

    // The status bar's toggle: 1:1, one surface pixel per point (the surface scrolls).
    h.get_by_label("Fit").click();
    h.run();
    assert!(h.query_by_label("1:1").is_some());
    let map = the_map(&h);
    assert_eq!(map.rect.size(), egui::vec2(400.0, 800.0));
    assert_eq!(map.scale(), egui::vec2(1.0, 1.0));
    // (Clicking the toggle took the focus from the desktop: its ReleaseAll comes first.)
    click(&mut h, map.to_window(123.5, 45.5));
    let moved = sent(&mut rx).into_iter().find(|e| matches!(e, InputEvent::Move(_)));
    assert_eq!(moved, Some(InputEvent::Move(Motion::Absolute { x: 123, y: 45, display: 0 })));
}

#[test]
fn every_send_key_item_sends_its_sequence() {
    for (label, strokes) in desktop::send_key_items() {
        let (mut h, mut rx) = desktop(640, 400, false);
        h.get_by_label("Send key").click();
        h.run();
        h.get_by_label(&label).click();
        h.run();
        let got = sent(&mut rx);
        assert_eq!(got, strokes.iter().map(|s| InputEvent::Key(*s)).collect::<Vec<_>>(), "{label}");
        assert!(h.query_by_label(&label).is_none(), "the menu closes after {label}");
    }
    let ctrl_alt_del = parse_combo("ctrl+alt+del").unwrap();
    assert_eq!(
        ctrl_alt_del,
        vec![
            Stroke::Press(PcKey::ControlLeft),
            Stroke::Press(PcKey::AltLeft),
            Stroke::Press(PcKey::Delete),
            Stroke::Release(PcKey::Delete),
            Stroke::Release(PcKey::AltLeft),
            Stroke::Release(PcKey::ControlLeft),
        ]
    );
}

#[test]
fn clipboard_shortcuts_and_keys_egui_calls_repeats_reach_the_guest() {
    let (mut h, mut rx) = desktop(640, 400, false);
    let map = the_map(&h);
    click(&mut h, map.rect.center());
    let ctrl = egui::Modifiers { ctrl: true, command: true, ..egui::Modifiers::NONE };
    // egui-winit turns Ctrl+C's press into Copy; Ctrl+V with an empty clipboard leaves only the release.
    h.input_mut().events.push(egui::Event::Copy);
    h.input_mut().events.push(key(egui::Key::C, false, ctrl));
    h.input_mut().events.push(key(egui::Key::V, false, ctrl));
    h.run();
    h.input_mut().events.push(key(egui::Key::A, false, egui::Modifiers::NONE));
    h.run();
    // A press egui flags as a repeat (its logical key still down) of a key the guest has released.
    // The second press, a real auto-repeat of a held key, is not sent again.
    for _ in 0..2 {
        h.input_mut().events.push(egui::Event::Key {
            key: egui::Key::Plus,
            physical_key: Some(egui::Key::Plus),
            pressed: true,
            repeat: true,
            modifiers: egui::Modifiers::NONE,
        });
    }
    h.input_mut().events.push(key(egui::Key::Plus, false, egui::Modifiers::NONE));
    h.run();
    let keys: Vec<InputEvent> = sent(&mut rx).into_iter().filter(|e| matches!(e, InputEvent::Key(_))).collect();
    use Stroke::{Press, Release};
    assert_eq!(
        keys,
        [
            Press(PcKey::ControlLeft),
            Press(PcKey::C),
            Release(PcKey::C),
            Press(PcKey::V),
            Release(PcKey::V),
            Release(PcKey::ControlLeft),
            // The stray release of A (never pressed here) is passed on alone.
            Release(PcKey::A),
            Press(PcKey::NumpadAdd),
            Release(PcKey::NumpadAdd),
        ]
        .map(InputEvent::Key)
    );
}

#[test]
fn a_click_grabs_in_server_mode_and_ctrl_alt_releases() {
    let (mut h, mut rx) = desktop(640, 400, false);
    assert!(h.query_by_label("mouse: server (click to grab)").is_some());
    let map = the_map(&h);
    click(&mut h, map.rect.center());
    assert!(h.state().app.desktop.grabbed);
    assert!(h.query_by_label("mouse: server, grabbed (Ctrl+Alt releases)").is_some());
    sent(&mut rx);
    h.input_mut().events.push(egui::Event::MouseMoved(egui::vec2(10.0, -4.0)));
    h.run();
    let k = map.scale();
    let want = ((10.0 / k.x).round() as i32, (-4.0 / k.y).round() as i32);
    assert_eq!(sent(&mut rx), vec![InputEvent::Move(Motion::Relative { dx: want.0, dy: want.1 })]);
    // Ctrl and Alt held (egui sends no key event for them alone): the grab ends.
    h.input_mut().modifiers = egui::Modifiers { ctrl: true, alt: true, ..egui::Modifiers::NONE };
    h.run();
    assert!(!h.state().app.desktop.grabbed);
    assert!(h.query_by_label("mouse: server (click to grab)").is_some());
}

#[test]
fn a_second_monitor_is_picked_in_the_status_bar_and_gets_its_own_clicks() {
    let (mut h, mut rx) = desktop(640, 400, true);
    assert!(h.query_by_label("monitor:").is_none(), "one monitor: no choice shown");
    let shared = h.state().app.shared.clone();
    shared.displays.insert(0, shared.display.clone());
    let second = Arc::new(crate::session::display::DisplayShared::default());
    let channel = ChannelId { channel_type: ChannelType::Display, id: 1 };
    second.new_surface(channel, 800, 600, vec![0xff00_ff00; 800 * 600]);
    shared.displays.insert(1, second);
    h.run();
    assert!(h.query_by_label("monitor:").is_some());
    assert_eq!(the_map(&h).size, (640, 400));
    h.get_by_label("2").click();
    h.run();
    h.run();
    assert_eq!(the_map(&h).size, (800, 600), "monitor 2 shown");
    let _ = sent(&mut rx);
    let at = the_map(&h).to_window(700.5, 500.5);
    click(&mut h, at);
    let moved = sent(&mut rx).into_iter().find(|e| matches!(e, InputEvent::Move(_)));
    assert_eq!(moved, Some(InputEvent::Move(Motion::Absolute { x: 700, y: 500, display: 1 })));
    h.get_by_label("1").click();
    h.run();
    h.run();
    assert_eq!(the_map(&h).size, (640, 400), "back to monitor 1");
}

#[test]
fn heads_of_one_display_channel_are_monitors_cropped_from_its_surface() {
    use crate::protocol::display::Head;
    let (mut h, mut rx) = desktop(1664, 768, true);
    let shared = h.state().app.shared.clone();
    shared.displays.insert(0, shared.display.clone());
    let head = |monitor_id, width, height, x| Head { monitor_id, surface_id: 0, width, height, x, y: 0, flags: 0 };
    // The server's MONITORS_CONFIG, with a head past the surface's edge (cut) and an empty one (left out).
    shared.display.set_heads(&[head(0, 1024, 768, 0), head(1, 900, 480, 1024), head(2, 0, 0, 0)]);
    h.run();
    h.run();
    assert!(h.query_by_label("monitor:").is_some(), "two heads: a choice");
    assert!(h.query_by_label("3").is_none(), "the empty head is not offered");
    assert_eq!(the_map(&h).size, (1024, 768), "the first head is shown at first");
    h.get_by_label("2").click();
    h.run();
    h.run();
    assert_eq!(the_map(&h).size, (640, 480), "the second head, cut to the surface");
    let t = h.state().app.desktop.target().expect("a target for the presenter");
    let k = f64::from(t.window.2) / 640.0;
    assert_eq!(t.surface_size, (1664, 768));
    assert_eq!(t.offset.0, (1024.0 * k).round() as i32, "the presenter looks at the head's corner");
    assert_eq!(t.scaled.0, (1664.0 * k).round() as u32);
    let _ = sent(&mut rx);
    let at = the_map(&h).to_window(100.5, 50.5);
    click(&mut h, at);
    let moved = sent(&mut rx).into_iter().find(|e| matches!(e, InputEvent::Move(_)));
    assert_eq!(moved, Some(InputEvent::Move(Motion::Absolute { x: 1124, y: 50, display: 0 })), "surface coordinates");
    // Back to one head: the whole surface again.
    shared.display.set_heads(&[head(0, 1664, 768, 0)]);
    h.run();
    h.run();
    assert!(h.query_by_label("monitor:").is_none());
    assert_eq!(the_map(&h).size, (1664, 768));
}

#[test]
fn a_menu_over_the_desktop_takes_it_back_from_the_x_server_and_the_view_says_where_to_draw() {
    let (mut h, _rx) = desktop(640, 400, true);
    let rect = h.state().app.desktop.visible_rect().expect("the desktop is shown");
    let ctx = h.ctx.clone();
    assert!(!x11::covered(&ctx, rect), "nothing is over the desktop yet");
    let t = h.state().app.desktop.target().expect("a target for the presenter");
    assert_eq!((t.surface_size, t.monitor, t.client_mouse, t.offset), ((640, 400), 0, true, (0, 0)));
    let m = the_map(&h);
    assert_eq!(t.window, (m.rect.min.x as i32, m.rect.min.y as i32, m.rect.width() as u32, m.rect.height() as u32));
    assert_eq!(t.scaled, (t.window.2, t.window.3));
    // The "Send key" menu opens upward from the status bar, over the surface.
    h.get_by_label("Send key").click();
    h.run();
    assert!(h.query_by_label("Ctrl+Alt+Del").is_some());
    assert!(x11::covered(&ctx, rect), "the open menu covers the desktop");
    h.key_press(egui::Key::Escape);
    h.run();
    h.run();
    assert!(h.query_by_label("Ctrl+Alt+Del").is_none());
}

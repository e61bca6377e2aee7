//! The desktop view: the guest's primary surface in the central area, the guest cursor over it, and the window's
//! keyboard and pointer turned into input events for the session.
//!
//! The texture is updated from the dirty areas only (`set_partial`); a new surface (a mode change) uploads it
//! whole. Nothing here repaints on a timer: the display and cursor repaint hooks wake the window.

use super::keys::{modifier_strokes, pc_key};
use super::x11::Target;
use crate::canvas::Area;
use crate::input::keymap::{PcKey, Stroke};
use crate::input::motion::Motion;
use crate::protocol::inputs::Button;
use crate::session::display::DisplayShared;
use crate::session::inputs::{InputEvent, InputsShared};
use crate::session::SessionShared;
use eframe::egui::{self, Color32, ColorImage, Modifiers, Pos2, Rect, Sense, TextureHandle, TextureOptions, Vec2};
use std::sync::Arc;

/// Keys the view tracks as held at once; more are forgotten oldest first (their releases still reach the guest).
const MAX_HELD: usize = 16;

/// How the surface fills the central area.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scaling {
    /// Scaled to fit, aspect kept (letterboxed).
    #[default]
    Fit,
    /// One surface pixel per screen pixel, scrolled when larger.
    Native,
}

/// Where the surface is drawn: maps window points to surface pixels and back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ViewMap {
    /// The surface's rectangle in window points.
    pub rect: Rect,
    /// Surface width and height in pixels.
    pub size: (u32, u32),
}

impl ViewMap {
    /// The surface placed in `avail` (window points) under `scaling`; `ppp` is the window's pixels per point.
    pub fn place(avail: Rect, size: (u32, u32), scaling: Scaling, ppp: f32) -> ViewMap {
        let native = Vec2::new(size.0 as f32, size.1 as f32) / ppp.max(0.01);
        let shown = match scaling {
            Scaling::Native => native,
            Scaling::Fit => {
                let k = (avail.width() / native.x).min(avail.height() / native.y);
                if k.is_finite() && k > 0.0 {
                    native * k
                } else {
                    native
                }
            }
        };
        let min = match scaling {
            Scaling::Fit => avail.center() - shown / 2.0,
            Scaling::Native => avail.min,
        };
        ViewMap { rect: Rect::from_min_size(min.round(), shown), size }
    }

    /// The surface pixel under window point `p`, or `None` outside the surface (in the letterbox bars).
    pub fn to_surface(&self, p: Pos2) -> Option<(u32, u32)> {
        if !self.rect.contains(p) || self.rect.width() <= 0.0 || self.rect.height() <= 0.0 {
            return None;
        }
        let x = ((p.x - self.rect.min.x) / self.rect.width() * self.size.0 as f32).floor();
        let y = ((p.y - self.rect.min.y) / self.rect.height() * self.size.1 as f32).floor();
        Some(((x as u32).min(self.size.0.saturating_sub(1)), (y as u32).min(self.size.1.saturating_sub(1))))
    }

    /// The window point of surface pixel `(x, y)`'s top-left corner.
    pub fn to_window(&self, x: f32, y: f32) -> Pos2 {
        let k = self.scale();
        Pos2::new(self.rect.min.x + x * k.x, self.rect.min.y + y * k.y)
    }

    /// Window points per surface pixel.
    pub fn scale(&self) -> Vec2 {
        Vec2::new(self.rect.width() / self.size.0.max(1) as f32, self.rect.height() / self.size.1.max(1) as f32)
    }
}

/// A monitor the status bar offers: a display channel, and one head of its MONITORS_CONFIG when it has several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MonitorChoice {
    /// The display channel id.
    pub channel: u8,
    /// The head's monitor id (`None`: the channel's first head, or its whole surface).
    pub head: Option<u32>,
}

impl MonitorChoice {
    /// Every monitor of the session: each display channel's heads, or the channel itself when it has one.
    pub fn all(shared: &SessionShared) -> Vec<MonitorChoice> {
        let mut out = Vec::new();
        for channel in shared.displays.ids() {
            let Some(d) = shared.displays.get(channel) else { continue };
            let heads = d.lock().monitors();
            if heads.is_empty() {
                out.push(MonitorChoice { channel, head: None });
            }
            out.extend(heads.iter().map(|m| MonitorChoice { channel, head: Some(m.id) }));
        }
        out
    }
}

/// The desktop view's own state between frames.
#[derive(Default)]
pub struct DesktopView {
    texture: Option<TextureHandle>,
    generation: u64,
    /// The guest cursor's texture, and the monitor and generation it was made from.
    cursor: Option<((u8, u64), TextureHandle)>,
    /// How the surface is shown.
    pub scaling: Scaling,
    /// The monitor picked in the status bar (display channel 0's first one unless the user picks another).
    pub monitor: MonitorChoice,
    /// The monitor to pick once the session has that many (`--monitor`, from 1).
    pub wanted: Option<u16>,
    /// The display channel the texture holds.
    shown: u8,
    /// The part of that channel's surface shown (a head of MONITORS_CONFIG, or the whole surface), this frame.
    area: Area,
    /// Modifiers at the last key event, to turn changes into strokes.
    modifiers: Modifiers,
    /// The last absolute position sent (moves within one pixel are not sent again).
    last_position: Option<(u32, u32)>,
    /// The pointer is grabbed (server mouse mode): relative motion goes to the guest.
    pub grabbed: bool,
    focused: bool,
    /// Keys pressed in the guest by this view and not released yet (a few at a time).
    held: Vec<PcKey>,
    /// The map of the last frame (for tests and the status bar).
    pub map: Option<ViewMap>,
    /// The map and area last written to the log (the window tests read where the surface is from it).
    logged: Option<(ViewMap, Rect)>,
    /// The X11 presenter shows the surface this frame.
    direct: bool,
    /// Where the presenter should show it (set each frame).
    target: Option<Target>,
}

impl DesktopView {
    /// A view that shows monitor `wanted` (from 1) once the session has that many.
    pub fn showing(wanted: Option<u16>) -> Self {
        DesktopView { wanted, ..DesktopView::default() }
    }

    /// Whether there is a surface to show.
    pub fn has_surface(&self, shared: &SessionShared) -> bool {
        self.surface(shared).1.lock().width > 0
    }

    /// The chosen monitor's surface and its id, or display channel 0's while that monitor has none.
    fn surface(&self, shared: &SessionShared) -> (u8, Arc<DisplayShared>) {
        let channel = self.monitor.channel;
        match shared.displays.get(channel) {
            Some(d) if channel != 0 && d.lock().width > 0 => (channel, d),
            _ => (0, shared.display.clone()),
        }
    }

    /// The monitor shown, and its part of the surface: the chosen head, the channel's first head while the chosen
    /// one is gone, or the whole surface when the channel has one monitor.
    pub fn shown_monitor(&self, shared: &SessionShared) -> (MonitorChoice, Area) {
        let (channel, display) = self.surface(shared);
        let f = display.lock();
        let heads = f.monitors();
        let head = heads.iter().find(|m| Some(m.id) == self.monitor.head).or(heads.first());
        match head {
            Some(m) => (MonitorChoice { channel, head: Some(m.id) }, m.area),
            None => (MonitorChoice { channel, head: None }, Area::whole(f.width, f.height)),
        }
    }

    /// Draws the desktop and handles its input. With `direct`, the X11 presenter shows the surface (nothing is
    /// uploaded or painted here) and [`DesktopView::target`] says where.
    pub fn ui(&mut self, ui: &mut egui::Ui, shared: &SessionShared, direct: bool) {
        self.direct = direct;
        self.target = None;
        let size = if direct { self.size_only(shared) } else { self.upload(ui.ctx(), shared) };
        let Some(whole) = size else { return };
        let area = self.shown_monitor(shared).1;
        self.area = if area.is_empty() { Area::whole(whole.0, whole.1) } else { area };
        let size = (self.area.width(), self.area.height());
        let ppp = ui.ctx().pixels_per_point();
        let avail = ui.available_rect_before_wrap();
        let map = ViewMap::place(avail, size, self.scaling, ppp);
        let response = match self.scaling {
            Scaling::Fit => self.draw(ui, map),
            Scaling::Native => {
                let mut out = None;
                egui::ScrollArea::both().auto_shrink([false, false]).show(ui, |ui| {
                    let origin = ui.cursor().min;
                    let m = ViewMap { rect: Rect::from_min_size(origin, map.rect.size()), size };
                    ui.allocate_rect(m.rect, Sense::hover());
                    out = Some((self.draw(ui, m), m));
                });
                let Some((r, m)) = out else { return };
                self.map = Some(m);
                r
            }
        };
        if self.scaling == Scaling::Fit {
            self.map = Some(map);
        }
        let Some(map) = self.map else { return };
        if self.logged != Some((map, avail)) {
            self.logged = Some((map, avail));
            let (r, a) = (map.rect, avail);
            tracing::debug!(
                "desktop view: {}x{} surface at {},{} size {}x{} points in {},{} {}x{} ({:?}, {ppp} px/pt)",
                size.0,
                size.1,
                r.min.x,
                r.min.y,
                r.width(),
                r.height(),
                a.min.x,
                a.min.y,
                a.width(),
                a.height(),
                self.scaling
            );
        }
        // Scrolled (larger than the area at 1:1): egui draws it, under its scroll bars.
        let fits = avail.expand(0.5).contains_rect(map.rect);
        self.target = if fits { self.target_of(ui, shared, map, whole) } else { None };
        if !direct {
            self.cursor_sprite(ui, shared, map, &response);
        } else if shared.inputs.client_mouse() && response.hovered() && shared.cursor_view(self.shown).shape.is_some() {
            // The presenter draws the guest's cursor at the pointer.
            ui.ctx().set_cursor_icon(egui::CursorIcon::None);
        }
        self.input(ui, &shared.inputs, map, &response);
    }

    /// Where the X11 presenter should show the surface this frame: the visible part of `map`, in window pixels. A
    /// head is shown as the whole surface scaled alike, seen from the head's corner (`offset`).
    fn target_of(&self, ui: &egui::Ui, shared: &SessionShared, map: ViewMap, size: (u32, u32)) -> Option<Target> {
        let visible = map.rect.intersect(ui.clip_rect());
        if visible.width() < 1.0 || visible.height() < 1.0 {
            return None;
        }
        let ppp = ui.ctx().pixels_per_point();
        let px = |v: f32| (v * ppp).round() as i32;
        let (monitor, display) = self.surface(shared);
        let shown = (px(map.rect.width()).max(1) as u32, px(map.rect.height()).max(1) as u32);
        let a = self.area;
        let (kx, ky) =
            (f64::from(shown.0) / f64::from(a.width().max(1)), f64::from(shown.1) / f64::from(a.height().max(1)));
        let at = |v: u32, k: f64| (f64::from(v) * k).round() as i32;
        Some(Target {
            display,
            monitor,
            surface_size: size,
            window: (
                px(visible.min.x),
                px(visible.min.y),
                px(visible.width()).max(1) as u32,
                px(visible.height()).max(1) as u32,
            ),
            offset: (
                px(visible.min.x - map.rect.min.x) + at(a.left, kx),
                px(visible.min.y - map.rect.min.y) + at(a.top, ky),
            ),
            scaled: (at(size.0, kx).max(1) as u32, at(size.1, ky).max(1) as u32),
            client_mouse: shared.inputs.client_mouse(),
        })
    }

    /// The surface's size without uploading it (the presenter shows it); the texture is dropped.
    fn size_only(&mut self, shared: &SessionShared) -> Option<(u32, u32)> {
        let (monitor, display) = self.surface(shared);
        self.texture = None;
        self.shown = monitor;
        let f = display.lock();
        (f.width > 0 && f.height > 0).then_some((f.width, f.height))
    }

    /// Where the presenter should draw, from the last frame (`None`: no surface shown).
    pub fn target(&self) -> Option<Target> {
        self.target.clone()
    }

    /// The surface's rectangle in window points, from the last frame.
    pub fn visible_rect(&self) -> Option<Rect> {
        self.map.map(|m| m.rect)
    }

    /// Uploads what changed; the surface size, if there is one.
    fn upload(&mut self, ctx: &egui::Context, shared: &SessionShared) -> Option<(u32, u32)> {
        let (monitor, display) = self.surface(shared);
        let (generation, dirty) = display.take_dirty();
        let frame = display.lock();
        let (w, h) = (frame.width, frame.height);
        if w == 0 || h == 0 {
            return None;
        }
        let whole = Area::whole(w, h);
        // Another monitor, or a new surface on this one: the whole surface.
        let fresh = self.texture.is_none() || generation != self.generation || monitor != self.shown;
        let areas: Vec<Area> = if fresh { vec![whole] } else { dirty };
        for a in areas {
            let (aw, ah) = ((a.right - a.left) as usize, (a.bottom - a.top) as usize);
            if aw == 0 || ah == 0 {
                continue;
            }
            let mut px = Vec::with_capacity(aw * ah);
            for y in a.top..a.bottom {
                let row = (y * w + a.left) as usize;
                if let Some(src) = frame.pixels.get(row..row + aw) {
                    px.extend(src.iter().map(|&p| Color32::from_rgb((p >> 16) as u8, (p >> 8) as u8, p as u8)));
                }
            }
            if px.len() != aw * ah {
                continue;
            }
            let image = ColorImage::new([aw, ah], px);
            match (&mut self.texture, a == whole || fresh) {
                (Some(t), false) => t.set_partial([a.left as usize, a.top as usize], image, TextureOptions::LINEAR),
                _ => self.texture = Some(ctx.load_texture("ryll-desktop", image, TextureOptions::LINEAR)),
            }
        }
        self.generation = generation;
        self.shown = monitor;
        Some((w, h))
    }

    fn draw(&self, ui: &mut egui::Ui, map: ViewMap) -> egui::Response {
        let response = ui.interact(map.rect, ui.id().with("ryll-desktop"), Sense::click_and_drag());
        if let Some(t) = self.texture.as_ref().filter(|_| !self.direct) {
            let [w, h] = t.size().map(|v| v.max(1) as f32);
            let a = self.area;
            let uv = Rect::from_min_max(
                Pos2::new(a.left as f32 / w, a.top as f32 / h),
                Pos2::new(a.right as f32 / w, a.bottom as f32 / h),
            );
            ui.painter().image(t.id(), map.rect, uv, Color32::WHITE);
        }
        response
    }

    /// The guest cursor at its hot spot: at the local pointer in client mode, where the server says otherwise.
    fn cursor_sprite(&mut self, ui: &egui::Ui, shared: &SessionShared, map: ViewMap, response: &egui::Response) {
        let view = shared.cursor_view(self.shown);
        let Some(shape) = view.shape.as_ref().filter(|_| view.visible) else { return };
        let client = shared.inputs.client_mouse();
        let at = if client {
            response.hover_pos().and_then(|p| map.to_surface(p)).map(|(x, y)| (x as f32, y as f32))
        } else {
            let (left, top) = (self.area.left as f32, self.area.top as f32);
            view.position.map(|(x, y)| (x as f32 - left, y as f32 - top))
        };
        let Some((x, y)) = at else { return };
        let key = (self.shown, view.generation);
        if self.cursor.as_ref().is_none_or(|(k, _)| *k != key) {
            let px = &shape.pixels;
            let image = ColorImage::new(
                [px.width as usize, px.height as usize],
                px.data
                    .iter()
                    .map(|&p| {
                        Color32::from_rgba_unmultiplied((p >> 16) as u8, (p >> 8) as u8, p as u8, (p >> 24) as u8)
                    })
                    .collect(),
            );
            self.cursor = Some((key, ui.ctx().load_texture("ryll-cursor", image, TextureOptions::NEAREST)));
        }
        let Some((_, tex)) = &self.cursor else { return };
        let min = map.to_window(x - shape.hot_x as f32, y - shape.hot_y as f32);
        let k = map.scale();
        let rect =
            Rect::from_min_size(min, Vec2::new(shape.pixels.width as f32 * k.x, shape.pixels.height as f32 * k.y));
        ui.painter().with_clip_rect(map.rect).image(
            tex.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
        if client && response.hovered() {
            ui.ctx().set_cursor_icon(egui::CursorIcon::None);
        }
    }

    fn input(&mut self, ui: &egui::Ui, inputs: &InputsShared, map: ViewMap, response: &egui::Response) {
        let ctx = ui.ctx();
        let client = inputs.client_mouse();
        if response.clicked() || response.drag_started() {
            response.request_focus();
            if !client && inputs.state().linked && !self.grabbed {
                self.grab(ctx, true);
            }
        }
        let focused = response.has_focus() || self.grabbed;
        if focused {
            let filter = egui::EventFilter { tab: true, horizontal_arrows: true, vertical_arrows: true, escape: true };
            ctx.memory_mut(|m| m.set_focus_lock_filter(response.id, filter));
        }
        if self.focused && !focused {
            inputs.send(InputEvent::ReleaseAll);
            self.modifiers = Modifiers::NONE;
            self.held.clear();
        }
        self.focused = focused;
        // egui has no events for modifier keys alone: the release combo is seen in the frame's modifier state.
        let now = ctx.input(|i| i.modifiers);
        if self.grabbed && now.ctrl && now.alt {
            self.grab(ctx, false);
        }
        let events = ctx.input(|i| i.events.clone());
        for ev in events {
            match ev {
                egui::Event::WindowFocused(false) => {
                    inputs.send(InputEvent::ReleaseAll);
                    self.modifiers = Modifiers::NONE;
                    self.held.clear();
                    self.grab(ctx, false);
                }
                // egui-winit turns the presses of Ctrl+C, Ctrl+X and Ctrl+V into clipboard events (no key event;
                // for Ctrl+V none at all when the clipboard is empty): the guest gets the key's press here, or
                // just before its release.
                egui::Event::Copy | egui::Event::Cut | egui::Event::Paste(_) if focused => {
                    self.modifiers_to(inputs, Modifiers { ctrl: true, ..self.modifiers });
                    let k = match ev {
                        egui::Event::Copy => PcKey::C,
                        egui::Event::Cut => PcKey::X,
                        _ => PcKey::V,
                    };
                    self.key(inputs, k, true);
                }
                // egui's `repeat` follows the logical key, which can differ between a press and its release
                // (Shift released first), and then marks the next press of that key a repeat: the view's own
                // held set, by physical key, decides instead.
                egui::Event::Key { physical_key, key, pressed, modifiers, .. } if focused => {
                    self.modifiers_to(inputs, modifiers);
                    if let Some(k) = pc_key(physical_key.unwrap_or(key)) {
                        self.key(inputs, k, pressed);
                    }
                }
                egui::Event::PointerMoved(p) if client => {
                    // Surface coordinates: the tablet ignores the display id, and the agent places display 0's
                    // positions from its first monitor's corner, the surface's.
                    if let Some((x, y)) = map.to_surface(p) {
                        let pos = (x + self.area.left, y + self.area.top);
                        if self.last_position != Some(pos) {
                            self.last_position = Some(pos);
                            inputs.send(InputEvent::Move(Motion::Absolute { x: pos.0, y: pos.1, display: self.shown }));
                        }
                    }
                }
                egui::Event::MouseMoved(d) if self.grabbed && !client => {
                    let k = map.scale();
                    let (dx, dy) = ((d.x / k.x.max(0.01)).round() as i32, (d.y / k.y.max(0.01)).round() as i32);
                    if dx != 0 || dy != 0 {
                        inputs.send(InputEvent::Move(Motion::Relative { dx, dy }));
                    }
                }
                egui::Event::PointerButton { pos, button, pressed, modifiers }
                    if self.grabbed || map.to_surface(pos).is_some() =>
                {
                    self.modifiers_to(inputs, modifiers);
                    let b = match button {
                        egui::PointerButton::Primary => Button::Left,
                        egui::PointerButton::Secondary => Button::Right,
                        egui::PointerButton::Middle => Button::Middle,
                        egui::PointerButton::Extra1 => Button::Side,
                        egui::PointerButton::Extra2 => Button::Extra,
                    };
                    if client || self.grabbed {
                        inputs.send(InputEvent::Button { button: b, pressed });
                    }
                }
                egui::Event::MouseWheel { delta, .. } if (client && response.hovered()) || self.grabbed => {
                    let notches = delta.y.round() as i32;
                    let b = if notches > 0 { Button::WheelUp } else { Button::WheelDown };
                    for _ in 0..notches.unsigned_abs().min(10) {
                        inputs.send(InputEvent::Button { button: b, pressed: true });
                        inputs.send(InputEvent::Button { button: b, pressed: false });
                    }
                }
                _ => {}
            }
        }
        // A modifier released after the frame's last key event is released in the guest now, not at the next key.
        if focused {
            self.modifiers_to(inputs, now);
        }
    }

    /// Sends a press or a release. A press of a key already held (auto-repeat) is not sent again; a clipboard key's
    /// release comes with the press egui did not report.
    fn key(&mut self, inputs: &InputsShared, k: PcKey, pressed: bool) {
        let held = self.held.iter().position(|h| *h == k);
        match (pressed, held) {
            (true, Some(_)) => return,
            (true, None) => {
                if self.held.len() >= MAX_HELD {
                    self.held.remove(0);
                }
                self.held.push(k);
            }
            (false, Some(i)) => {
                self.held.remove(i);
            }
            // Only a clipboard key loses its press, and egui-winit swallows it only while Ctrl is down, though
            // Ctrl may be up again by the release (xdotool lets go of it first): the guest gets the whole
            // Ctrl+key. Any other stray release (a key pressed before the view had focus) is passed on alone.
            (false, None) if matches!(k, PcKey::C | PcKey::X | PcKey::V) => {
                let ctrl = !self.modifiers.ctrl;
                let mut strokes = vec![Stroke::Press(k), Stroke::Release(k)];
                if ctrl {
                    strokes.insert(0, Stroke::Press(PcKey::ControlLeft));
                    strokes.push(Stroke::Release(PcKey::ControlLeft));
                }
                for s in strokes {
                    inputs.send(InputEvent::Key(s));
                }
                return;
            }
            (false, None) => {}
        }
        inputs.send(InputEvent::Key(if pressed { Stroke::Press(k) } else { Stroke::Release(k) }));
    }

    fn modifiers_to(&mut self, inputs: &InputsShared, now: Modifiers) {
        for s in modifier_strokes(self.modifiers, now) {
            inputs.send(InputEvent::Key(s));
        }
        self.modifiers = now;
    }

    /// Grabs (server mouse mode) or releases the pointer.
    pub fn grab(&mut self, ctx: &egui::Context, on: bool) {
        if self.grabbed == on {
            return;
        }
        self.grabbed = on;
        if on {
            tracing::info!("pointer grabbed ({RELEASE_COMBO} releases it)");
        } else {
            tracing::info!("pointer released");
        }
        let grab = if on { egui::CursorGrab::Locked } else { egui::CursorGrab::None };
        ctx.send_viewport_cmd(egui::ViewportCommand::CursorGrab(grab));
        ctx.send_viewport_cmd(egui::ViewportCommand::CursorVisible(!on));
    }
}

/// Keys the "Send key" menu offers, with their strokes.
pub fn send_key_items() -> Vec<(String, Vec<Stroke>)> {
    use crate::input::keymap::parse_combo;
    let mut items: Vec<String> = vec!["ctrl+alt+del".into()];
    items.extend((1..=12).map(|n| format!("ctrl+alt+f{n}")));
    items.extend(["print", "pause", "capslock", "numlock", "scrolllock", "super"].map(String::from));
    items.into_iter().filter_map(|c| parse_combo(&c).ok().map(|s| (label(&c), s))).collect()
}

fn label(combo: &str) -> String {
    combo
        .split('+')
        .map(|k| match k {
            "ctrl" => "Ctrl".to_string(),
            "alt" => "Alt".to_string(),
            "del" => "Del".to_string(),
            "print" => "PrintScreen".to_string(),
            "capslock" => "Caps Lock".to_string(),
            "numlock" => "Num Lock".to_string(),
            "scrolllock" => "Scroll Lock".to_string(),
            "super" => "Super".to_string(),
            fkey if fkey.starts_with('f') && fkey[1..].chars().all(|c| c.is_ascii_digit()) => fkey.to_uppercase(),
            other => other[..1].to_uppercase() + &other[1..],
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// Sends a menu item's strokes.
pub fn send_strokes(inputs: &InputsShared, strokes: &[Stroke]) {
    for s in strokes {
        inputs.send(InputEvent::Key(*s));
    }
}

/// The keys that release a grabbed pointer, as the status bar names them.
pub const RELEASE_COMBO: &str = "Ctrl+Alt";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_letterboxes_and_maps_back_to_surface_pixels() {
        let avail = Rect::from_min_size(Pos2::new(0.0, 20.0), Vec2::new(1000.0, 400.0));
        let map = ViewMap::place(avail, (640, 400), Scaling::Fit, 1.0);
        assert_eq!(map.rect, Rect::from_min_size(Pos2::new(180.0, 20.0), Vec2::new(640.0, 400.0)));
        assert_eq!(map.to_surface(Pos2::new(100.0, 100.0)), None, "the bar left of the surface");
        assert_eq!(map.to_surface(Pos2::new(180.0, 20.0)), Some((0, 0)));
        assert_eq!(map.to_surface(Pos2::new(819.9, 419.9)), Some((639, 399)));
        let big = ViewMap::place(avail, (1280, 800), Scaling::Fit, 1.0);
        assert_eq!(big.rect.size(), Vec2::new(640.0, 400.0));
        assert_eq!(big.to_surface(Pos2::new(500.0, 220.0)), Some((640, 400)));
    }

    #[test]
    fn native_is_one_pixel_per_screen_pixel_on_hidpi() {
        let avail = Rect::from_min_size(Pos2::ZERO, Vec2::new(300.0, 200.0));
        let map = ViewMap::place(avail, (800, 600), Scaling::Native, 2.0);
        assert_eq!(map.rect.size(), Vec2::new(400.0, 300.0));
        assert_eq!(map.to_surface(Pos2::new(10.0, 10.0)), Some((20, 20)));
        assert_eq!(map.to_window(20.0, 20.0), Pos2::new(10.0, 10.0));
    }

    #[test]
    fn the_send_key_menu_has_ctrl_alt_del_and_every_console_switch() {
        let items = send_key_items();
        assert_eq!(items[0].0, "Ctrl+Alt+Del");
        assert_eq!(items.len(), 1 + 12 + 6);
        assert!(items.iter().any(|(l, s)| l == "Ctrl+Alt+F12" && s.len() == 6));
        assert!(items
            .iter()
            .any(|(l, s)| l == "Pause" && s == &[Stroke::Press(PcKey::Pause), Stroke::Release(PcKey::Pause)]));
    }
}

//! The window's look: spacing, text sizes, status colours and a few small widgets used by every panel.

use eframe::egui;
use eframe::egui::{Color32, FontFamily, FontId, RichText, Stroke, TextStyle, Ui};

/// Width of a side panel (Folders, USB), fixed so numbers changing never resize it.
pub const SIDE_PANEL_WIDTH: f32 = 300.0;

/// Status colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Working as it should.
    Good,
    /// Waiting for something, or needs a step from the user.
    Waiting,
    /// Broken.
    Bad,
    /// Nothing to report.
    Neutral,
}

impl Tone {
    /// The colour for this tone, readable on the current theme.
    pub fn color(self, ui: &Ui) -> Color32 {
        let dark = ui.visuals().dark_mode;
        match (self, dark) {
            (Tone::Good, true) => Color32::from_rgb(0x5c, 0xc8, 0x6b),
            (Tone::Good, false) => Color32::from_rgb(0x1e, 0x7d, 0x32),
            (Tone::Waiting, true) => Color32::from_rgb(0xf0, 0xb4, 0x3c),
            (Tone::Waiting, false) => Color32::from_rgb(0x9a, 0x62, 0x00),
            (Tone::Bad, _) => ui.visuals().error_fg_color,
            (Tone::Neutral, _) => ui.visuals().weak_text_color(),
        }
    }
}

/// Sets spacing and text sizes once at start-up. Sizes are in points, so 200 % scaling doubles them evenly.
pub fn apply(ctx: &egui::Context) {
    ctx.all_styles_mut(|style| {
        style.text_styles = [
            (TextStyle::Heading, FontId::new(17.0, FontFamily::Proportional)),
            (TextStyle::Body, FontId::new(13.5, FontFamily::Proportional)),
            (TextStyle::Button, FontId::new(13.5, FontFamily::Proportional)),
            (TextStyle::Monospace, FontId::new(12.5, FontFamily::Monospace)),
            (TextStyle::Small, FontId::new(12.0, FontFamily::Proportional)),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(8.0, 6.0);
        style.spacing.button_padding = egui::vec2(10.0, 4.0);
        style.spacing.interact_size.y = 22.0;
        style.spacing.window_margin = egui::Margin::same(12);
    });
}

/// A section title inside a panel.
pub fn section(ui: &mut Ui, text: &str) {
    ui.add_space(4.0);
    ui.label(RichText::new(text).strong());
}

/// A small filled circle in the tone's colour (drawn, so it does not depend on a font having the glyph).
pub fn dot(ui: &mut Ui, tone: Tone) {
    let size = ui.text_style_height(&TextStyle::Body);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(size * 0.7, size), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), size * 0.3, tone.color(ui));
}

/// A coloured dot followed by a bold line: the head of a status block.
pub fn status_line(ui: &mut Ui, tone: Tone, text: &str) {
    ui.horizontal(|ui| {
        dot(ui, tone);
        ui.label(RichText::new(text).strong());
    });
}

/// A small framed label, such as "read-only".
pub fn badge(ui: &mut Ui, text: &str, tone: Tone) {
    let color = tone.color(ui);
    egui::Frame::new()
        .stroke(Stroke::new(1.0, color))
        .corner_radius(4.0)
        .inner_margin(egui::Margin::symmetric(6, 1))
        .show(ui, |ui| ui.label(RichText::new(text).small().color(color)));
}

/// Selectable monospace text with a Copy button, for configuration snippets.
pub fn snippet(ui: &mut Ui, id: &str, text: &str) {
    ui.push_id(id, |ui| {
        // No wrapping: long lines scroll sideways, so what is selected and copied looks like what is shown.
        egui::Frame::new()
            .fill(ui.visuals().extreme_bg_color)
            .corner_radius(4.0)
            .inner_margin(egui::Margin::same(6))
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                egui::ScrollArea::horizontal().show(ui, |ui| {
                    ui.add(egui::Label::new(RichText::new(text).monospace()).extend());
                });
            });
        if ui.small_button("Copy").on_hover_text("Copy to the clipboard").clicked() {
            ui.ctx().copy_text(text.to_owned());
        }
    });
}

/// A label in the monospace font (for numbers that must not change width).
pub fn mono(text: impl Into<String>) -> RichText {
    RichText::new(text).monospace()
}

/// An error in a red frame with Dismiss and "Report bug…"; true when Dismiss was clicked. `id` keeps the buttons of
/// several boxes apart.
pub fn error_box(ui: &mut Ui, id: impl std::hash::Hash, text: &str) -> bool {
    let mut dismissed = false;
    ui.add_space(4.0);
    let red = Tone::Bad.color(ui);
    egui::Frame::new().stroke(Stroke::new(1.0, red)).corner_radius(4.0).inner_margin(egui::Margin::same(6)).show(
        ui,
        |ui| {
            ui.set_width(ui.available_width());
            ui.add(egui::Label::new(RichText::new(text).color(red)).wrap());
            ui.push_id(id, |ui| {
                ui.horizontal(|ui| {
                    dismissed = ui.small_button("Dismiss").clicked();
                    super::report::button(ui, text);
                });
            });
        },
    );
    dismissed
}

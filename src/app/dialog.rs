//! Modal confirmations ("Stop sharing while uploads are in flight?").

use eframe::egui;
use eframe::egui::{Id, Modal, RichText};

/// What the user chose in a confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Go ahead.
    Confirm,
    /// Do not.
    Cancel,
}

/// Shows a modal with a title, an explanation and two buttons; returns the choice once made. Escape or a click
/// outside cancels.
pub fn confirm(ctx: &egui::Context, id: &str, title: &str, text: &str, yes: &str, no: &str) -> Option<Choice> {
    let mut choice = None;
    let response = Modal::new(Id::new(id)).show(ctx, |ui| {
        ui.set_max_width(360.0);
        ui.label(RichText::new(title).heading());
        ui.add_space(4.0);
        ui.label(text);
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            if ui.button(RichText::new(yes).strong()).clicked() {
                choice = Some(Choice::Confirm);
            }
            if ui.button(no).clicked() {
                choice = Some(Choice::Cancel);
            }
        });
    });
    if choice.is_none() && response.should_close() {
        choice = Some(Choice::Cancel);
    }
    choice
}

//! The status bar along the bottom: toggles for the side panels, the connection state and the byte counters.

use super::format;
use super::state::{Connection, SessionState, ShareLayer};
use super::style::{self, Tone};
use eframe::egui;
use eframe::egui::Ui;

/// Which side panels are open. One field per panel: "Folders" now, "USB" and "Traffic" later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelToggles {
    /// The Shared Folders panel.
    pub folders: bool,
}

impl Default for PanelToggles {
    fn default() -> Self {
        PanelToggles { folders: true }
    }
}

/// Draws the status bar's content. `totals` is (received, sent) over all channels.
pub fn ui(ui: &mut Ui, toggles: &mut PanelToggles, state: &SessionState, totals: (u64, u64)) {
    ui.horizontal(|ui| {
        ui.toggle_value(&mut toggles.folders, "Folders").on_hover_text("Show or hide the Shared Folders panel");
        ui.separator();
        let tone = match &state.connection {
            Connection::Ended(end) if !end.is_clean() => Tone::Bad,
            Connection::Ended(_) => Tone::Neutral,
            Connection::Connected { .. } => Tone::Good,
            Connection::Starting | Connection::Connecting(_) => Tone::Waiting,
        };
        style::dot(ui, tone);
        ui.label(state.connection_summary());
        if state.share_layer() == ShareLayer::Sharing {
            ui.separator();
            ui.label("sharing");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(style::mono(format::bytes(totals.1))).on_hover_text("Bytes sent to the server over all channels");
            ui.label(egui::RichText::new("sent").weak());
            ui.label(style::mono(format::bytes(totals.0)))
                .on_hover_text("Bytes received from the server over all channels");
            ui.label(egui::RichText::new("received").weak());
        });
    });
}

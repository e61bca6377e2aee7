//! The central area until the guest's screen arrives: the session (server, connection state, server notices) and,
//! when the session could not start or ended, why, in the same words as headless mode. Once the screen is shown,
//! this view is the Session window over it. The channels and their traffic are in the Traffic panel.

use super::state::{Connection, SessionState};
use super::style::{self, Tone};
use crate::session::SessionEnd;
use eframe::egui;
use eframe::egui::{RichText, Ui};

/// Widest the view's column gets, so lines stay readable in a large window.
const MAX_WIDTH: f32 = 640.0;

/// Draws the session view (the channels and their traffic are in the Traffic panel).
pub fn ui(ui: &mut Ui, state: &SessionState) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.vertical_centered(|ui| {
            // Never wider than the central area: with both side panels open it is narrower than MAX_WIDTH, and a
            // wider centred column would be cut on both sides.
            ui.set_max_width(MAX_WIDTH.min(ui.available_width()));
            ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                ui.add_space(16.0);
                header(ui, state);
                ui.add_space(8.0);
                connection(ui, state);
                ui.add_space(12.0);
                notices(ui, state);
                ui.add_space(16.0);
                ui.label(
                    RichText::new(
                        "The guest's screen appears here once the server sends it. The Traffic panel lists the \
                         channels; folder sharing and USB disks are in their side panels.",
                    )
                    .weak(),
                );
            });
        });
    });
}

fn header(ui: &mut Ui, state: &SessionState) {
    ui.label(RichText::new(state.display_name()).heading().strong());
    let mut details = Vec::new();
    if let Some(addr) = state.server.as_ref().filter(|a| **a != state.display_name()) {
        details.push(addr.clone());
    }
    if let Some(uuid) = &state.vm_uuid {
        details.push(format!("UUID {uuid}"));
    }
    if !details.is_empty() {
        ui.label(RichText::new(details.join("   ·   ")).weak());
    }
}

fn connection(ui: &mut Ui, state: &SessionState) {
    match &state.connection {
        Connection::Starting | Connection::Connecting(_) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(state.connection_summary());
            });
        }
        Connection::Connected { session_id } => {
            style::status_line(ui, Tone::Good, &format!("Connected (session {session_id:#x})"));
        }
        Connection::Ended(SessionEnd::UserRequested) => style::status_line(ui, Tone::Neutral, "Disconnected"),
        Connection::Ended(end) => {
            let red = Tone::Bad.color(ui);
            egui::Frame::new()
                .stroke(egui::Stroke::new(1.0, red))
                .corner_radius(4.0)
                .inner_margin(egui::Margin::same(10))
                .show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    style::status_line(ui, Tone::Bad, "The session ended");
                    ui.add(egui::Label::new(RichText::new(end.to_string()).color(red)).wrap());
                    ui.label("Close the window, fix the cause and start ryll again.");
                    super::report::button(ui, &end.to_string());
                });
        }
    }
}

fn notices(ui: &mut Ui, state: &SessionState) {
    if state.notices.is_empty() {
        return;
    }
    style::section(ui, "Server notices");
    for n in &state.notices {
        ui.label(n);
    }
}

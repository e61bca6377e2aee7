//! The central area until the display channel arrives: the session (server, channels offered and linked,
//! connection state, traffic) and, when the session could not start or ended, why, in the same words as
//! headless mode. When ryll renders the guest's screen, the display takes this area and this view moves into a
//! side panel.

use super::format;
use super::state::{ChannelStatus, Connection, SessionState};
use super::style::{self, Tone};
use crate::protocol::constants::ChannelType;
use crate::protocol::main_channel::ChannelId;
use crate::session::SessionEnd;
use eframe::egui;
use eframe::egui::{RichText, Ui};

/// Widest the view's column gets, so lines stay readable in a large window.
const MAX_WIDTH: f32 = 640.0;

/// Draws the session view. `traffic` holds each linked channel's (received, sent) bytes.
pub fn ui(ui: &mut Ui, state: &SessionState, traffic: &[(ChannelId, (u64, u64))]) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.set_max_width(MAX_WIDTH);
            ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
                ui.add_space(16.0);
                header(ui, state);
                ui.add_space(8.0);
                connection(ui, state);
                ui.add_space(12.0);
                channels(ui, state, traffic);
                notices(ui, state);
                ui.add_space(16.0);
                ui.label(
                    RichText::new(
                        "The guest's screen will appear here once ryll handles the display channel. Folder sharing \
                         works now: see the Shared Folders panel.",
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
                });
        }
    }
}

fn channels(ui: &mut Ui, state: &SessionState, traffic: &[(ChannelId, (u64, u64))]) {
    if state.channels.is_empty() && !matches!(state.connection, Connection::Connected { .. }) {
        return;
    }
    style::section(ui, "Channels");
    egui::Grid::new("channels").num_columns(4).striped(true).spacing([24.0, 4.0]).show(ui, |ui| {
        for head in ["Channel", "State", "Received", "Sent"] {
            ui.label(RichText::new(head).weak());
        }
        ui.end_row();
        let main = ChannelId { channel_type: ChannelType::Main, id: 0 };
        let main_status = matches!(state.connection, Connection::Connected { .. }).then_some(ChannelStatus::Linked);
        let rows =
            main_status.map(|s| (main, s)).into_iter().chain(state.channels.iter().map(|(c, s)| (*c, s.clone())));
        for (channel, status) in rows {
            ui.label(format!("{} {}", channel.channel_type, channel.id));
            let tone = match status {
                ChannelStatus::Linked => Tone::Good,
                ChannelStatus::Offered | ChannelStatus::Relinking(_) => Tone::Waiting,
                ChannelStatus::NotHandled => Tone::Neutral,
                ChannelStatus::Failed(_) | ChannelStatus::Closed(_) => Tone::Bad,
            };
            let label = ui.label(RichText::new(status.label()).color(tone.color(ui)));
            if let ChannelStatus::Failed(why) | ChannelStatus::Closed(why) | ChannelStatus::Relinking(why) = &status {
                label.on_hover_text(why);
            }
            let (rx, tx) = traffic.iter().find(|(c, _)| *c == channel).map(|(_, t)| *t).unwrap_or_default();
            ui.label(style::mono(format::bytes(rx)));
            ui.label(style::mono(format::bytes(tx)));
            ui.end_row();
        }
    });
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

//! The status bar along the bottom: toggles for the side panels, the connection state and the byte counters.

use super::desktop::{send_key_items, send_strokes, MonitorChoice, Scaling, RELEASE_COMBO};
use super::format;
use super::state::{Connection, SessionState, ShareLayer};
use super::style::{self, Tone};
use crate::session::inputs::{InputsShared, MOUSE_MODE_CLIENT, MOUSE_MODE_SERVER};
use eframe::egui;
use eframe::egui::Ui;

/// Which side panels and windows are open. One field per panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanelToggles {
    /// The Shared Folders panel.
    pub folders: bool,
    /// The USB Devices panel.
    pub usb: bool,
    /// The Traffic panel: bytes and messages per channel.
    pub traffic: bool,
    /// The session details (a window over the desktop).
    pub details: bool,
}

impl Default for PanelToggles {
    fn default() -> Self {
        PanelToggles { folders: true, usb: false, traffic: false, details: false }
    }
}

/// The keyboard and mouse part of the status bar.
pub struct InputStatus<'a> {
    /// The inputs channel's state and queue.
    pub inputs: &'a InputsShared,
    /// Whether the desktop holds the pointer (server mouse mode).
    pub grabbed: bool,
    /// Fit or 1:1.
    pub scaling: &'a mut Scaling,
    /// The monitors (each display channel's heads, or the channel) in the order offered.
    pub monitors: Vec<MonitorChoice>,
    /// The monitor shown.
    pub shown: MonitorChoice,
    /// The monitor picked (set on a click).
    pub monitor: &'a mut MonitorChoice,
}

/// Draws the status bar's content. `totals` is (received, sent) over all channels.
pub fn ui(ui: &mut Ui, toggles: &mut PanelToggles, state: &SessionState, totals: (u64, u64), input: InputStatus<'_>) {
    ui.horizontal(|ui| {
        ui.toggle_value(&mut toggles.folders, "Folders").on_hover_text("Show or hide the Shared Folders panel");
        ui.toggle_value(&mut toggles.usb, "USB").on_hover_text("Show or hide the USB Devices panel (disk images)");
        ui.toggle_value(&mut toggles.traffic, "Traffic").on_hover_text("Bytes and messages per channel");
        ui.toggle_value(&mut toggles.details, "Session").on_hover_text("The server, the connection and its notices");
        ui.separator();
        input_ui(ui, state, input);
        ui.separator();
        let tone = match &state.connection {
            Connection::Ended(end) if !end.is_clean() => Tone::Bad,
            Connection::Ended(_) => Tone::Neutral,
            Connection::Connected { .. } => Tone::Good,
            Connection::Starting | Connection::Connecting(_) => Tone::Waiting,
        };
        style::dot(ui, tone);
        // The channel count goes to the tooltip: with every toggle and the input status the bar is full, and the
        // byte counters on the right must not be overdrawn.
        let summary = state.connection_summary();
        let short = summary.split(", ").next().unwrap_or(&summary).to_string();
        ui.label(short).on_hover_text(summary);
        if state.share_layer() == ShareLayer::Sharing {
            ui.separator();
            ui.label("sharing");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(style::mono(format!("↓ {}  ↑ {}", format::bytes(totals.0), format::bytes(totals.1))))
                .on_hover_text("Bytes received from and sent to the server over all channels");
        });
    });
}

/// Mouse mode, grab state, guest resolution, scaling and the "Send key" menu.
fn input_ui(ui: &mut Ui, state: &SessionState, input: InputStatus<'_>) {
    let inputs = input.inputs.state();
    if !inputs.linked {
        return;
    }
    ui.menu_button("Send key", |ui| {
        for (label, strokes) in send_key_items() {
            if ui.button(&label).clicked() {
                send_strokes(input.inputs, &strokes);
                ui.close();
            }
        }
    });
    let mouse = match (state.mouse_mode, input.grabbed) {
        (MOUSE_MODE_CLIENT, _) => "mouse: client".to_string(),
        (MOUSE_MODE_SERVER, true) => format!("mouse: server, grabbed ({RELEASE_COMBO} releases)"),
        (MOUSE_MODE_SERVER, false) => "mouse: server (click to grab)".to_string(),
        _ => "mouse: …".to_string(),
    };
    ui.label(mouse).on_hover_text(
        "Client mode sends absolute positions (a usb-tablet or guest agent); server mode sends relative motion",
    );
    if let Some((w, h)) = state.guest_resolution {
        ui.label(style::mono(format!("{w}×{h}"))).on_hover_text("The guest's resolution");
    }
    if input.monitors.len() > 1 {
        ui.label("monitor:");
        for (n, m) in input.monitors.iter().enumerate() {
            let what = match m.head {
                Some(head) => format!("display channel {}, head {head}", m.channel),
                None => format!("display channel {}", m.channel),
            };
            if ui
                .selectable_label(input.shown == *m, format!("{}", n + 1))
                .on_hover_text(format!("Show the guest's monitor {} ({what})", n + 1))
                .clicked()
            {
                *input.monitor = *m;
            }
        }
    }
    let fit = *input.scaling == Scaling::Fit;
    if ui
        .selectable_label(fit, if fit { "Fit" } else { "1:1" })
        .on_hover_text("Scale to fit, or 1:1 with scrolling")
        .clicked()
    {
        *input.scaling = if fit { Scaling::Native } else { Scaling::Fit };
    }
}

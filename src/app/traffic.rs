//! The Traffic side panel: every channel the server offered, its state, and the bytes and messages it moves (totals
//! and rates per second). The numbers come from the session's counters through [`TrafficMeter`]; this file only
//! draws them.

use super::format;
use super::state::{ChannelStatus, Connection, SessionState};
use super::style::{self, Tone};
use crate::protocol::constants::ChannelType;
use crate::protocol::main_channel::ChannelId;
use crate::session::traffic::ChannelTraffic;
use eframe::egui;
use eframe::egui::{RichText, Ui};

/// The panel's width: four columns of fixed-width numbers.
pub const WIDTH: f32 = 420.0;

/// Draws the panel from the channel states in `state` and the counters in `rows`.
pub fn ui(ui: &mut Ui, state: &SessionState, rows: &[ChannelTraffic]) {
    ui.add_space(8.0);
    ui.label(RichText::new("Traffic").heading().strong());
    ui.label(RichText::new("Per channel, since it last linked. Rates are over the last 2 seconds.").weak());
    ui.add_space(8.0);
    if state.channels.is_empty() && !matches!(state.connection, Connection::Connected { .. }) {
        ui.label(state.connection_summary());
        return;
    }
    egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
        egui::Grid::new("traffic").num_columns(4).striped(true).spacing([16.0, 4.0]).show(ui, |ui| {
            for head in ["Channel", "Received", "Sent", "Messages in / out"] {
                ui.label(RichText::new(head).weak());
            }
            ui.end_row();
            for (channel, status) in channel_rows(state) {
                row(ui, channel, &status, rows.iter().find(|r| r.channel == channel));
            }
        });
    });
}

/// The main channel (linked while connected) and then every offered channel, in the order the server listed them.
fn channel_rows(state: &SessionState) -> Vec<(ChannelId, ChannelStatus)> {
    let main = ChannelId { channel_type: ChannelType::Main, id: 0 };
    let main_status = matches!(state.connection, Connection::Connected { .. }).then_some(ChannelStatus::Linked);
    main_status.map(|s| (main, s)).into_iter().chain(state.channels.iter().map(|(c, s)| (*c, s.clone()))).collect()
}

fn row(ui: &mut Ui, channel: ChannelId, status: &ChannelStatus, traffic: Option<&ChannelTraffic>) {
    let tone = match status {
        ChannelStatus::Linked => Tone::Good,
        ChannelStatus::Offered | ChannelStatus::Relinking(_) => Tone::Waiting,
        ChannelStatus::NotHandled => Tone::Neutral,
        ChannelStatus::Failed(_) | ChannelStatus::Closed(_) => Tone::Bad,
    };
    ui.vertical(|ui| {
        ui.label(format!("{} {}", channel.channel_type, channel.id));
        let label = ui.label(RichText::new(status.label()).small().color(tone.color(ui)));
        if let ChannelStatus::Failed(why) | ChannelStatus::Closed(why) | ChannelStatus::Relinking(why) = status {
            label.on_hover_text(why);
        }
        if let ChannelStatus::Failed(why) | ChannelStatus::Closed(why) = status {
            ui.push_id(channel, |ui| {
                super::report::button(ui, &format!("{} {} {}: {why}", channel.channel_type, channel.id, status.label()))
            });
        }
    });
    let Some(t) = traffic else {
        ui.end_row();
        return;
    };
    for (total, rate) in [(t.counts.bytes_in, t.rates[0]), (t.counts.bytes_out, t.rates[1])] {
        ui.vertical(|ui| {
            ui.label(style::mono(format::bytes(total)));
            ui.label(style::mono(format::rate(rate)).weak());
        });
    }
    ui.vertical(|ui| {
        ui.label(style::mono(format!(
            "{} / {}",
            format::count(t.counts.messages_in),
            format::count(t.counts.messages_out)
        )));
        ui.label(
            style::mono(format!("{} / {}", format::per_second(t.rates[2]), format::per_second(t.rates[3]))).weak(),
        );
    });
    ui.end_row();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::traffic::ChannelCounts;
    use crate::session::SessionEvent;
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;
    use std::time::Instant;

    #[test]
    fn the_panel_shows_totals_rates_and_a_report_button_for_a_failed_channel() {
        let now = Instant::now();
        let display = ChannelId { channel_type: ChannelType::Display, id: 0 };
        let usb = ChannelId { channel_type: ChannelType::Usbredir, id: 0 };
        let mut state = SessionState::default();
        state.apply(SessionEvent::Connecting("h:1".into()), now);
        state.apply(SessionEvent::Connected { session_id: 7 }, now);
        for ch in [display, usb] {
            state.apply(SessionEvent::ChannelOffered(ch), now);
        }
        state.apply(SessionEvent::ChannelLinked(display), now);
        state.apply(SessionEvent::ChannelFailed { channel: usb, error: "link refused".into() }, now);
        let counts = ChannelCounts { bytes_in: 2 * 1024 * 1024, bytes_out: 512, messages_in: 42, messages_out: 3 };
        let rows = vec![ChannelTraffic { channel: display, counts, rates: [4096.0, 0.0, 12.5, 0.5] }];
        let mut h = Harness::builder().with_size(egui::vec2(WIDTH, 400.0)).build_state(
            move |ctx, _: &mut ()| {
                egui::CentralPanel::default().show(ctx, |ui| super::ui(ui, &state, &rows));
            },
            (),
        );
        h.run();
        for want in ["display 0", "  2.0 MiB", "  4.0 KiB/s", "     42 /       3", "  12.5/s /    0.5/s", "usbredir 0"]
        {
            assert!(h.query_by_label(want).is_some(), "no label {want:?}");
        }
        assert!(h.query_by_label(super::super::report::BUTTON).is_some(), "the failed channel offers a report");
    }
}

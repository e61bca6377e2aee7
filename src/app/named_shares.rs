//! The Folders panel's "Named shares" section: one row per named share (its folder in the guest, the path, a
//! read-only box and Remove) and a name field that adds the folder of the panel's form as a new named share.
//!
//! Like the rest of the panel it holds only the name being typed; every click becomes a [`SessionCommand`] the
//! panel sends (or confirms first), and the rows come from [`SessionState::shares`].

use super::state::SessionState;
use super::style::{self, Tone};
use crate::session::SessionCommand;
use crate::webdav::named::{check_share_name, NamedShare};
use eframe::egui;
use eframe::egui::{Label, RichText, Ui};

/// A name for a new share from its folder: the folder's last component, or "share".
pub fn default_name(path: &str) -> String {
    let name = std::path::Path::new(path.trim()).file_name().and_then(|n| n.to_str()).unwrap_or("share");
    if check_share_name(name).is_ok() {
        name.to_string()
    } else {
        "share".to_string()
    }
}

/// Draws the section; returns the command a click asked for. `ready`: the WebDAV channel is up. `new_share` builds
/// the share to add from the typed name (the folder, read-only box and protection are the panel form's); its
/// error is shown as the panel's errors are.
pub fn section(
    ui: &mut Ui,
    state: &mut SessionState,
    name: &mut String,
    ready: bool,
    new_share: impl FnOnce(&str) -> Result<NamedShare, String>,
) -> Option<SessionCommand> {
    let mut command = None;
    style::section(ui, "Named shares");
    if state.shares.is_empty() {
        ui.label(
            RichText::new("Share several folders at once: the guest then sees one folder per share at its root.")
                .small(),
        );
    }
    for share in state.shares.clone() {
        ui.horizontal(|ui| {
            ui.label(style::mono(format!("/{}/", share.name)));
            let mut read_only = share.read_only;
            if ui.checkbox(&mut read_only, "Read-only").changed() {
                command = Some(SessionCommand::SetShareReadOnly { name: share.name.clone(), read_only });
            }
            if ui.button("Remove").on_hover_text(format!("Stop sharing /{}/", share.name)).clicked() {
                command = Some(SessionCommand::RemoveShare(share.name.clone()));
            }
            if share.read_only {
                style::badge(ui, "read-only", Tone::Waiting);
            }
        });
        ui.add(Label::new(style::mono(share.root.display().to_string()).small()).wrap());
    }
    ui.horizontal(|ui| {
        ui.label("Name");
        ui.add(egui::TextEdit::singleline(name).hint_text("docs").desired_width(120.0));
        let valid = check_share_name(name.trim()).is_ok();
        let add = ui.add_enabled(ready && valid && state.share.is_none(), egui::Button::new("Add Named Share"));
        let add = if state.share.is_some() {
            add.on_disabled_hover_text("Stop the share at the root first")
        } else if !ready {
            add.on_disabled_hover_text("Available once the WebDAV channel is linked")
        } else {
            add.on_disabled_hover_text("Type a name: no '/', '\\', '..' or control characters")
        };
        if add.clicked() {
            match new_share(name.trim()) {
                Ok(share) => command = Some(SessionCommand::AddShare(share)),
                Err(e) => state.push_error(e),
            }
        }
    });
    command
}

//! The "Shared Folders" side panel: what blocks sharing and what to do about it, the folder to share, the active
//! share, live statistics, requests in flight and errors.
//!
//! The panel turns clicks into [`SessionCommand`]s; it holds only the form's state (the path being typed, the
//! read-only box, a pending confirmation). Everything it shows comes from [`SessionState`] and [`LiveShare`].

use super::dialog::{self, Choice};
use super::format;
use super::named_shares;
use super::picker::Picker;
use super::state::{uploads_in_flight, LiveShare, SessionState, ShareLayer};
use super::style::{self, Tone};
use super::{Clock, CommandSink};
use crate::session::SessionCommand;
use crate::webdav::named::NamedShare;
use crate::webdav::protect::Protection;
use crate::webdav::server::ShareConfig;
use crate::webdav::share_dir;
use crate::webdav::windows::SIZE_LIMIT_FIX;
use eframe::egui;
use eframe::egui::{Label, RichText, Ui};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The QEMU options that add the WebDAV port.
pub const QEMU_SNIPPET: &str = "-device virtio-serial-pci \\\n\
     -chardev spiceport,name=org.spice-space.webdav.0,id=webdav0 \\\n\
     -device virtserialport,chardev=webdav0,name=org.spice-space.webdav.0";

/// The libvirt domain XML (inside `<devices>`) that adds the WebDAV port.
pub const LIBVIRT_SNIPPET: &str = "<channel type='spiceport'>\n  \
     <source channel='org.spice-space.webdav.0'/>\n  \
     <target type='virtio' name='org.spice-space.webdav.0'/>\n</channel>";

/// How to install spice-webdavd in a Linux guest.
pub const LINUX_SNIPPET: &str = "sudo apt install spice-webdavd\nsudo dnf install spice-webdavd";

/// Where the share appears inside the guest.
pub const GUEST_URL: &str = "http://127.0.0.1:9843/";

/// Most requests listed in flight; the rest are counted.
const MAX_LISTED: usize = 8;

/// A step the user has to confirm first.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    /// Sharing a very broad folder (`/` or the home folder): the command (StartSharing or AddShare) and a
    /// description.
    Broad(SessionCommand, String),
    /// A command that cuts off uploads in flight (stopping or replacing the share), and how many.
    CutsUploads(SessionCommand, usize),
}

/// The Folders panel's own state.
pub struct FoldersPanel {
    /// The folder field.
    pub path: String,
    /// The "Read-only" box.
    pub read_only: bool,
    /// Create files readable by the user only (from `--share-private`; no control in the panel).
    pub private: bool,
    /// What shares started here protect (from `--share-exclude`, `--share-protect`, `--share-unprotected`).
    pub protection: Protection,
    /// The user's home folder, for the "share your whole home?" check.
    pub home: Option<PathBuf>,
    /// The name field of the named shares section.
    pub share_name: String,
    picker: Picker,
    pending: Option<Pending>,
}

impl Default for FoldersPanel {
    fn default() -> Self {
        Self::new(None, Protection::defaults())
    }
}

impl FoldersPanel {
    /// A panel pre-filled from the command line's share, if any.
    pub fn new(initial: Option<&ShareConfig>, protection: Protection) -> Self {
        FoldersPanel {
            path: initial.map(|c| c.root.display().to_string()).unwrap_or_default(),
            read_only: initial.is_some_and(|c| c.read_only),
            private: initial.is_some_and(|c| c.private),
            protection,
            home: std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from),
            share_name: String::new(),
            picker: Picker::default(),
            pending: None,
        }
    }

    /// Whether a confirmation is showing.
    pub fn confirming(&self) -> bool {
        self.pending.is_some()
    }

    /// Draws the panel's content.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        state: &mut SessionState,
        live: &LiveShare,
        commands: &CommandSink,
        clock: Clock,
    ) {
        if let Some(path) = self.picker.poll() {
            self.path = path.display().to_string();
            self.share_name = named_shares::default_name(&self.path);
        }
        ui.add_space(6.0);
        ui.heading("Shared Folders");
        ui.separator();
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            self.status(ui, state, live, clock);
            self.errors(ui, state);
            windows(ui, state);
            ui.separator();
            self.form(ui, state, live, commands);
            ui.separator();
            self.named(ui, state, commands);
            self.remember(ui, state, commands);
            self.protected(ui);
            if let Some(share) = &state.share {
                ui.separator();
                style::section(ui, "Active share");
                ui.add(Label::new(style::mono(share.root.display().to_string())).wrap());
                ui.horizontal(|ui| {
                    if share.read_only {
                        style::badge(ui, "read-only", Tone::Waiting);
                    } else {
                        style::badge(ui, "read-write", Tone::Good);
                    }
                    let age = clock.now.saturating_duration_since(share.since);
                    ui.label(format!("shared for {}", format::span(age)));
                });
            }
            if state.channel_ready() || state.sharing() {
                ui.separator();
                self.statistics(ui, live);
                self.in_flight(ui, live, clock);
            }
        });
        self.confirmation(ui.ctx(), state, commands);
    }

    fn status(&self, ui: &mut Ui, state: &SessionState, live: &LiveShare, clock: Clock) {
        match state.share_layer() {
            ShareLayer::Connecting => {
                style::status_line(ui, Tone::Waiting, "Connecting…");
                ui.label("Folder sharing becomes available once the session is up.");
            }
            ShareLayer::Disconnected => {
                style::status_line(ui, Tone::Bad, "Not connected");
                ui.label("Sharing ended with the session. Start ryll again to reconnect.");
            }
            ShareLayer::NoWebdavPort => {
                style::status_line(ui, Tone::Bad, "The VM has no WebDAV port");
                ui.label(
                    "Folder sharing needs a virtio-serial port named org.spice-space.webdav.0 in the VM. Add it, \
                     restart the VM and connect again.",
                );
                ui.label(RichText::new("QEMU command line:").small());
                style::snippet(ui, "qemu-snippet", QEMU_SNIPPET);
                ui.label(RichText::new("libvirt (virsh edit, inside <devices>):").small());
                style::snippet(ui, "libvirt-snippet", LIBVIRT_SNIPPET);
            }
            ShareLayer::Linking => {
                style::status_line(ui, Tone::Waiting, "Linking the WebDAV channel…");
                ui.label("The VM has a WebDAV port; ryll is connecting to it.");
            }
            ShareLayer::ChannelDown(reason) => {
                style::status_line(ui, Tone::Bad, "The WebDAV channel is down");
                ui.label(reason);
                ui.label("Reconnect to share folders again.");
            }
            ShareLayer::WaitingForGuest => {
                style::status_line(ui, Tone::Waiting, "Waiting for spice-webdavd in the guest");
                ui.label(
                    "The WebDAV channel is up, but the guest has not opened the port. Install and start \
                     spice-webdavd in the guest:",
                );
                ui.label(
                    RichText::new("Linux, with apt (Debian, Ubuntu) or dnf (Fedora); it starts by itself:").small(),
                );
                style::snippet(ui, "linux-snippet", LINUX_SNIPPET);
                ui.label(
                    RichText::new(
                        "Windows: install the spice-webdavd MSI from the SPICE download page and keep the WebClient \
                         service running.",
                    )
                    .small(),
                );
                if state.sharing() {
                    ui.label("Your folder is served as soon as the guest opens the port.");
                }
            }
            ShareLayer::Ready => {
                style::status_line(ui, Tone::Good, "The guest is ready");
                ui.label("Choose a folder below and press Share.");
            }
            ShareLayer::Sharing => {
                style::status_line(ui, Tone::Good, "Sharing active");
                ui.label(format!("The guest sees the folder at {GUEST_URL} (on Windows: a mapped drive)."));
                let last = live.activity.last_request_unix_ms;
                let text = if last == 0 {
                    "No request from the guest yet.".to_string()
                } else {
                    let ago = Duration::from_millis(clock.unix_ms.saturating_sub(last));
                    format!("Last request from the guest: {}.", format::ago(ago))
                };
                ui.label(text);
            }
        }
    }

    fn errors(&self, ui: &mut Ui, state: &mut SessionState) {
        let mut dismissed = None;
        for error in &state.errors {
            if style::error_box(ui, error.id, &error.text) {
                dismissed = Some(error.id);
            }
        }
        if let Some(id) = dismissed {
            state.dismiss_error(id);
        }
    }

    fn form(&mut self, ui: &mut Ui, state: &mut SessionState, live: &LiveShare, commands: &CommandSink) {
        style::section(ui, "Folder to share");
        ui.add(egui::TextEdit::singleline(&mut self.path).hint_text("/path/to/folder").desired_width(f32::INFINITY));
        ui.horizontal(|ui| {
            let picking = self.picker.is_open();
            if ui.add_enabled(!picking, egui::Button::new("Select Directory…")).clicked() {
                let start = Some(PathBuf::from(self.path.trim())).filter(|p| p.is_dir()).or_else(|| self.home.clone());
                self.picker.open(ui.ctx(), start);
            }
            if picking {
                ui.spinner();
            }
            ui.checkbox(&mut self.read_only, "Read-only")
                .on_hover_text("The guest can read the folder but not change, create or delete anything");
        });
        ui.horizontal(|ui| {
            let ready = state.channel_ready();
            let can_share = ready && !self.path.trim().is_empty();
            let share = ui.add_enabled(can_share, egui::Button::new(RichText::new("Share").strong()));
            let share = if ready {
                share.on_disabled_hover_text("Choose a folder first")
            } else {
                share.on_disabled_hover_text("Available once the WebDAV channel is linked")
            };
            if share.clicked() {
                self.share_clicked(state, live, commands);
            }
            let can_stop = state.sharing() && !state.ended();
            if ui.add_enabled(can_stop, egui::Button::new("Stop Sharing")).clicked() {
                self.request(SessionCommand::StopSharing, state, live, commands);
            }
        });
    }

    fn share_clicked(&mut self, state: &mut SessionState, live: &LiveShare, commands: &CommandSink) {
        let root = match share_dir::check(Path::new(self.path.trim())) {
            Ok(root) => root,
            Err(e) => return state.push_error(e.to_string()),
        };
        let cfg =
            ShareConfig { root, read_only: self.read_only, private: self.private, protection: self.protection.clone() };
        if let Some(what) = self.broad(&cfg.root) {
            self.pending = Some(Pending::Broad(SessionCommand::StartSharing(cfg), what));
        } else {
            self.request(SessionCommand::StartSharing(cfg), state, live, commands);
        }
    }

    /// The named shares and the field that adds one. Adding, removing and read-only affect one share only (the
    /// others' requests go on), so only a very broad folder asks first.
    fn named(&mut self, ui: &mut Ui, state: &mut SessionState, commands: &CommandSink) {
        let mut name = std::mem::take(&mut self.share_name);
        let (path, read_only, private, protection) =
            (self.path.clone(), self.read_only, self.private, self.protection.clone());
        let ready = state.channel_ready();
        let cmd = named_shares::section(ui, state, &mut name, ready, |name| {
            let root = share_dir::check(Path::new(path.trim())).map_err(|e| e.to_string())?;
            let mut share = NamedShare::new(name, root, read_only, protection);
            share.config.private = private;
            Ok(share)
        });
        self.share_name = name;
        match cmd {
            Some(SessionCommand::AddShare(share)) => match self.broad(&share.config.root) {
                Some(what) => self.pending = Some(Pending::Broad(SessionCommand::AddShare(share), what)),
                None => send(commands, SessionCommand::AddShare(share), state),
            },
            Some(cmd) => send(commands, cmd, state),
            None => {}
        }
    }

    /// Sends `cmd`, or asks first when it would cut off uploads in flight.
    fn request(&mut self, cmd: SessionCommand, state: &mut SessionState, live: &LiveShare, commands: &CommandSink) {
        let uploads = if state.sharing() { uploads_in_flight(&live.in_flight) } else { 0 };
        if uploads > 0 {
            self.pending = Some(Pending::CutsUploads(cmd, uploads));
        } else {
            send(commands, cmd, state);
        }
    }

    /// Describes `root` if it is too broad to share without asking.
    fn broad(&self, root: &Path) -> Option<String> {
        if root.parent().is_none() {
            return Some("the whole filesystem (/)".into());
        }
        let home = self.home.as_ref().and_then(|h| std::fs::canonicalize(h).ok());
        (home.as_deref() == Some(root)).then(|| format!("your whole home folder ({})", root.display()))
    }

    fn confirmation(&mut self, ctx: &egui::Context, state: &mut SessionState, commands: &CommandSink) {
        let Some(pending) = &self.pending else { return };
        let choice = match pending {
            Pending::Broad(cmd, what) => {
                let read_only = match cmd {
                    SessionCommand::StartSharing(cfg) => cfg.read_only,
                    SessionCommand::AddShare(share) => share.config.read_only,
                    _ => false,
                };
                let access = if read_only { "read" } else { "read, change and delete" };
                let text = format!(
                    "You are about to share {what}. The guest will be able to {access} every file in it, \
                     including private keys and passwords stored there. Share a smaller folder unless you \
                     really mean this."
                );
                dialog::confirm(ctx, "confirm-broad", "Share everything?", &text, "Share Anyway", "Cancel")
            }
            Pending::CutsUploads(cmd, n) => {
                let (title, yes) = match cmd {
                    SessionCommand::StopSharing => ("Stop sharing during uploads?", "Stop Sharing Anyway"),
                    _ => ("Change the share during uploads?", "Change Anyway"),
                };
                let text = format!(
                    "The guest is writing to the shared folder ({n} request(s) in flight). Going ahead cuts them \
                     off and can leave partly written files."
                );
                dialog::confirm(ctx, "confirm-uploads", title, &text, yes, "Keep Sharing")
            }
        };
        let Some(choice) = choice else { return };
        let Some(pending) = self.pending.take() else { return };
        if choice == Choice::Confirm {
            let cmd = match pending {
                Pending::Broad(cmd, _) => cmd,
                Pending::CutsUploads(cmd, _) => cmd,
            };
            send(commands, cmd, state);
        }
    }

    /// The "Remember for this VM" box and what remembering did at connect. The box shows the session's state; a
    /// click asks the session, which saves or forgets and reports back.
    fn remember(&self, ui: &mut Ui, state: &mut SessionState, commands: &CommandSink) {
        let view = &state.remember;
        for notice in &view.notices {
            ui.add(Label::new(RichText::new(notice).color(Tone::Good.color(ui))).wrap());
        }
        if !view.available {
            return;
        }
        let mut on = view.remembering;
        let enabled = on || state.share.is_some();
        let hover = "Share this folder again when ryll next connects to this VM (stored in \
                     ~/.config/ryll/remembered-shares.toml; --no-remember turns remembering off)";
        let box_ = ui.add_enabled(enabled, egui::Checkbox::new(&mut on, "Remember for this VM")).on_hover_text(hover);
        let box_ = box_.on_disabled_hover_text("Share a folder first");
        if box_.changed() {
            send(commands, SessionCommand::Remember(on), state);
        }
    }

    /// What the guest cannot read or change, folded away by default.
    fn protected(&self, ui: &mut Ui) {
        let p = &self.protection;
        if p.is_empty() {
            ui.label(
                RichText::new("Protection is off (--share-unprotected): keys and login files are exposed.").weak(),
            );
            return;
        }
        let title = format!("Protected: {} hidden, {} read-only", p.hidden().count(), p.read_only().count());
        egui::CollapsingHeader::new(title).id_salt("share-protected").show(ui, |ui| {
            ui.label(RichText::new("Hidden (never listed, read or written):").weak());
            ui.add(Label::new(style::mono(p.hidden().collect::<Vec<_>>().join("  "))).wrap());
            ui.label(RichText::new("Read-only (login and autostart files):").weak());
            ui.add(Label::new(style::mono(p.read_only().collect::<Vec<_>>().join("  "))).wrap());
        });
    }

    fn statistics(&self, ui: &mut Ui, live: &LiveShare) {
        style::section(ui, "Activity");
        let a = &live.activity;
        egui::Grid::new("share-stats").num_columns(2).spacing([16.0, 4.0]).show(ui, |ui| {
            let rows = [
                ("To the guest", format::bytes(a.bytes_to_guest)),
                ("From the guest", format::bytes(a.bytes_from_guest)),
                ("Rate to guest", format::rate(live.rate.to_guest)),
                ("Rate from guest", format::rate(live.rate.from_guest)),
                ("Open connections", format::count(a.open_connections as u64)),
                ("Requests served", format::count(a.requests_served)),
            ];
            for (name, value) in rows {
                ui.label(name);
                ui.label(style::mono(value));
                ui.end_row();
            }
            ui.label("Compression");
            ui.add(egui::Label::new(a.compression()).wrap())
                .on_hover_text("LZ4 on the WebDAV channel (--share-compression; see docs/performance.md)");
            ui.end_row();
        });
    }

    fn in_flight(&self, ui: &mut Ui, live: &LiveShare, clock: Clock) {
        style::section(ui, &format!("Requests in flight: {}", live.in_flight.len()));
        if live.in_flight.is_empty() {
            ui.label(RichText::new("None right now.").weak());
            return;
        }
        for p in live.in_flight.iter().take(MAX_LISTED) {
            ui.horizontal(|ui| {
                ui.label(style::mono(format!("{:<9}", p.request.method)));
                let running = format::clock(clock.now.saturating_duration_since(p.request.started));
                let hover = format!("{} {}\nrunning for {}", p.request.method, p.request.path, running.trim_start());
                let bytes_width = 80.0;
                let path_width = (ui.available_width() - bytes_width).max(40.0);
                ui.add_sized([path_width, ui.spacing().interact_size.y], Label::new(&p.request.path).truncate())
                    .on_hover_text(hover);
                ui.label(style::mono(format::bytes(p.bytes)));
            });
        }
        if live.in_flight.len() > MAX_LISTED {
            ui.label(RichText::new(format!("and {} more", live.in_flight.len() - MAX_LISTED)).weak());
        }
    }
}

/// What a Windows guest tripped over: the size limit's registry fix, and the names it cannot show.
fn windows(ui: &mut Ui, state: &SessionState) {
    let w = &state.windows;
    if let Some(hit) = &w.size_limit {
        ui.add_space(4.0);
        style::status_line(ui, Tone::Waiting, "Windows guest: file size limit");
        ui.add(Label::new(format!("{}.", hit.summary())).wrap());
        ui.add(Label::new(RichText::new(SIZE_LIMIT_FIX).small()).wrap());
    }
    if w.names.is_empty() && w.more == 0 {
        return;
    }
    ui.add_space(4.0);
    let total = (w.names.len() as u64).saturating_add(w.more);
    let title = format!("Windows guest cannot show {total}{} name(s)", if w.more_at_least { "+" } else { "" });
    egui::CollapsingHeader::new(RichText::new(title).color(Tone::Waiting.color(ui))).id_salt("windows-names").show(
        ui,
        |ui| {
            ui.label(RichText::new("Rename these on the host to use them from Windows:").weak());
            for (path, problem) in &w.names {
                ui.add(Label::new(style::mono(path.as_str())).truncate()).on_hover_text(format!("has {problem}"));
            }
            if w.more > 0 {
                ui.label(RichText::new(format!("and {} more", w.more)).weak());
            }
        },
    );
}

fn send(commands: &CommandSink, cmd: SessionCommand, state: &mut SessionState) {
    if let Err(e) = commands.send(cmd) {
        state.push_error(e);
    }
}

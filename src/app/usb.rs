//! The "USB Devices" side panel, beside the Folders panel and in its style: whether the VM has usbredir channels,
//! the disk image to attach (native file picker, Read-only), and per channel the attached disk with its elapsed
//! time and I/O counters, Attach and Detach, and errors with Dismiss. Detaching while the guest writes, or while it
//! has locked the medium in, asks first.
//!
//! The panel holds only its form (the path, the box, a pending confirmation); what it shows comes from
//! [`SessionState`] (channel status) and [`UsbShared`] (the disks), and clicks go to [`UsbShared`].

use super::dialog::{self, Choice};
use super::format;
use super::picker::{Pick, Picker};
use super::state::{ChannelStatus, SessionState};
use super::style::{self, Tone};
use super::Clock;
use crate::channels::usbredir::{Speed, UsbDisk};
use crate::protocol::constants::ChannelType;
use crate::session::usb::{UsbShared, UsbView};
use eframe::egui;
use eframe::egui::{Label, RichText, Ui};
use std::path::{Path, PathBuf};

/// The QEMU options that add a USB controller and one usbredir channel.
pub const QEMU_SNIPPET: &str = "-device qemu-xhci \\\n\
     -chardev spicevmc,name=usbredir,id=usbredir1 \\\n\
     -device usb-redir,chardev=usbredir1";

/// The libvirt domain XML (inside `<devices>`) that adds them.
pub const LIBVIRT_SNIPPET: &str = "<controller type='usb' model='qemu-xhci'/>\n<redirdev bus='usb' type='spicevmc'/>";

/// The USB panel's own state.
#[derive(Debug, Default)]
pub struct UsbPanel {
    /// The image field.
    pub path: String,
    /// The "Read-only" box.
    pub read_only: bool,
    /// The "USB 2.0" box: attach at high speed (for a VM without a USB 3 controller).
    pub usb2: bool,
    picker: Picker,
    /// A detach of this channel waits for the user's answer.
    pending: Option<u8>,
    /// Why the last Attach was refused before it reached the channel.
    refused: Option<String>,
}

impl UsbPanel {
    /// A panel whose image field starts with the first `--usb-disk`, if any.
    pub fn new(first: Option<&UsbDisk>) -> Self {
        UsbPanel {
            path: first.map(|d| d.path.display().to_string()).unwrap_or_default(),
            read_only: first.is_some_and(|d| d.read_only),
            usb2: first.is_some_and(|d| d.speed == Speed::High),
            picker: Picker::new(Pick::DiskImage),
            pending: None,
            refused: None,
        }
    }

    /// Draws the panel's content.
    pub fn ui(&mut self, ui: &mut Ui, state: &SessionState, usb: &UsbShared, clock: Clock) {
        if let Some(path) = self.picker.poll() {
            self.path = path.display().to_string();
        }
        ui.add_space(6.0);
        ui.heading("USB Devices");
        ui.separator();
        let channels: Vec<(u8, &ChannelStatus)> = state
            .channels
            .iter()
            .filter(|(id, _)| id.channel_type == ChannelType::Usbredir)
            .map(|(id, status)| (id.id, status))
            .collect();
        let views = usb.views();
        egui::ScrollArea::vertical().id_salt("usb-scroll").auto_shrink([false, false]).show(ui, |ui| {
            if !status(ui, state, channels.is_empty()) {
                return;
            }
            self.form(ui);
            if let Some(why) = self.refused.clone() {
                if style::error_box(ui, "usb-refused", &why) {
                    self.refused = None;
                }
            }
            for (id, status) in &channels {
                ui.separator();
                let view = views.get(id).cloned().unwrap_or_default();
                self.channel(ui, *id, status, &view, usb, clock);
            }
        });
        self.confirmation(ui.ctx(), &views, usb);
    }

    fn form(&mut self, ui: &mut Ui) {
        style::section(ui, "Disk image");
        ui.add(egui::TextEdit::singleline(&mut self.path).hint_text("/path/to/stick.img").desired_width(f32::INFINITY));
        ui.horizontal(|ui| {
            let picking = self.picker.is_open();
            if ui.add_enabled(!picking, egui::Button::new("Select Image…")).clicked() {
                let current = PathBuf::from(self.path.trim());
                let start = current.parent().filter(|p| p.is_dir()).map(Path::to_path_buf);
                self.picker.open(ui.ctx(), start.or_else(|| std::env::var_os("HOME").map(PathBuf::from)));
            }
            if picking {
                ui.spinner();
            }
            ui.checkbox(&mut self.read_only, "Read-only")
                .on_hover_text("The image is opened read-only and the guest sees a write-protected disk");
            ui.checkbox(&mut self.usb2, "USB 2.0").on_hover_text(
                "Attach at USB 2.0 high speed, for a VM without a USB 3 controller (qemu-xhci); slower than the \
                 default USB 3",
            );
        });
        ui.label(
            RichText::new("A raw image (dd, mkfs.vfat, qemu-img convert -O raw); the guest sees a USB stick.").small(),
        );
    }

    fn channel(&mut self, ui: &mut Ui, id: u8, status: &ChannelStatus, v: &UsbView, usb: &UsbShared, clock: Clock) {
        let linked = *status == ChannelStatus::Linked && v.linked;
        ui.horizontal(|ui| {
            style::dot(ui, if linked { Tone::Good } else { Tone::Waiting });
            ui.label(RichText::new(format!("usbredir channel {id}")).strong());
            ui.label(match status {
                ChannelStatus::Linked => "linked".to_string(),
                ChannelStatus::Offered | ChannelStatus::NotHandled => "linking…".to_string(),
                ChannelStatus::Failed(e) | ChannelStatus::Closed(e) | ChannelStatus::Relinking(e) => e.clone(),
            });
        });
        ui.push_id(("usb-channel", id), |ui| {
            match &v.image {
                Some(image) => self.attached(ui, id, image, v, clock),
                None => {
                    ui.label("No disk attached.");
                    let can = linked && !self.path.trim().is_empty();
                    let attach = ui.add_enabled(can, egui::Button::new(RichText::new("Attach").strong()));
                    let attach = if linked {
                        attach.on_disabled_hover_text("Choose a disk image first")
                    } else {
                        attach.on_disabled_hover_text("Available once the channel is linked")
                    };
                    if attach.clicked() {
                        self.attach(id, usb);
                    }
                }
            }
            if let Some(e) = &v.error {
                if style::error_box(ui, "usb-error", e) {
                    usb.dismiss(id);
                }
            }
        });
    }

    fn attached(&mut self, ui: &mut Ui, id: u8, image: &Path, v: &UsbView, clock: Clock) {
        ui.add(Label::new(style::mono(image.display().to_string())).wrap());
        ui.horizontal(|ui| {
            if v.read_only {
                style::badge(ui, "read-only", Tone::Waiting);
            } else {
                style::badge(ui, "read-write", Tone::Good);
            }
            ui.label(if v.speed == Speed::High { "USB 2.0" } else { "USB 3" });
            ui.label(style::mono(format::bytes(v.blocks.saturating_mul(512)).trim_start().to_string()));
            if let Some(at) = v.attached_at {
                let age = clock.now.saturating_duration_since(at);
                ui.label(format!("for {}", format::span(age)));
            }
        });
        egui::Grid::new(("usb-stats", id)).num_columns(2).striped(true).show(ui, |ui| {
            for (name, value) in [
                ("Read", format::bytes(v.stats.read)),
                ("Written", format::bytes(v.stats.written)),
                ("Commands", format::count(v.stats.commands)),
                ("Failed", format::count(v.stats.failed)),
            ] {
                ui.label(name);
                ui.label(style::mono(value));
                ui.end_row();
            }
        });
        if v.stats.writing {
            style::status_line(ui, Tone::Waiting, "The guest is writing");
        } else if v.removal_prevented {
            style::status_line(ui, Tone::Waiting, "The guest has locked the disk in (mounted)");
        }
        if ui.button("Detach").on_hover_text("Unplug the disk; the image is flushed and closed").clicked() {
            self.pending = Some(id);
        }
    }

    fn attach(&mut self, id: u8, usb: &UsbShared) {
        self.refused = None;
        let speed = if self.usb2 { Speed::High } else { Speed::Super };
        let asked = UsbDisk::check(Path::new(self.path.trim()), self.read_only)
            .and_then(|d| usb.attach(id, UsbDisk { speed, ..d }));
        if let Err(e) = asked {
            self.refused = Some(e);
        }
    }

    /// Detach: at once when the disk is idle, after a confirmation when the guest is writing or has it locked in.
    fn confirmation(&mut self, ctx: &egui::Context, views: &std::collections::BTreeMap<u8, UsbView>, usb: &UsbShared) {
        let Some(id) = self.pending else { return };
        let busy = views.get(&id).is_some_and(UsbView::busy);
        let choice = if busy {
            let text = "The guest is using this disk (writing, or it has it mounted). Unplugging it now can lose \
                        what it has not written yet and leave the filesystem damaged. Unmount or eject it in the \
                        guest first.";
            dialog::confirm(ctx, "confirm-usb-detach", "Detach a disk in use?", text, "Detach Anyway", "Keep It")
        } else {
            Some(Choice::Confirm)
        };
        match choice {
            Some(Choice::Confirm) => {
                self.pending = None;
                if let Err(e) = usb.detach(id) {
                    self.refused = Some(e);
                }
            }
            Some(Choice::Cancel) => self.pending = None,
            None => {}
        }
    }
}

/// The panel's status line; false when there is nothing more to show (no session, or no usbredir channel).
fn status(ui: &mut Ui, state: &SessionState, none: bool) -> bool {
    if state.ended() {
        style::status_line(ui, Tone::Bad, "Not connected");
        ui.label("USB redirection ended with the session.");
        return false;
    }
    if !state.channel_list_seen {
        style::status_line(ui, Tone::Waiting, "Connecting…");
        ui.label("USB disks can be attached once the session is up.");
        return false;
    }
    if none {
        style::status_line(ui, Tone::Bad, "The VM has no usbredir channel");
        ui.label(
            "A USB disk needs a USB controller and a usbredir channel in the VM. Add them, restart the VM and \
             connect again.",
        );
        ui.label(RichText::new("QEMU command line:").small());
        style::snippet(ui, "usb-qemu-snippet", QEMU_SNIPPET);
        ui.label(RichText::new("libvirt (virsh edit, inside <devices>):").small());
        style::snippet(ui, "usb-libvirt-snippet", LIBVIRT_SNIPPET);
        return false;
    }
    style::status_line(ui, Tone::Good, "USB redirection available");
    ui.label("Choose a disk image and press Attach: the guest sees a USB stick.");
    true
}

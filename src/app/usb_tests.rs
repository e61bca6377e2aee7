//! The USB Devices panel through egui's accessibility tree (egui_kittest): the no-channel layer with its setup
//! lines, Attach sending the checked disk, Detach at once when idle and after a confirmation while the guest
//! writes, and errors with Dismiss.

use super::state::SessionState;
use super::usb::UsbPanel;
use super::Clock;
use crate::channels::usbredir::{Speed, UsbChannel, UsbCommand, UsbDisk};
use crate::protocol::constants::ChannelType;
use crate::protocol::main_channel::ChannelId;
use crate::session::usb::UsbShared;
use crate::session::SessionEvent;
use crate::usb::device::IoStats;
use eframe::egui;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;

struct Panel {
    panel: UsbPanel,
    state: SessionState,
    usb: Arc<UsbShared>,
    commands: mpsc::Receiver<UsbCommand>,
}

impl Panel {
    fn sent(&mut self) -> Vec<UsbCommand> {
        std::iter::from_fn(|| self.commands.try_recv().ok()).collect()
    }
}

const USB0: ChannelId = ChannelId { channel_type: ChannelType::Usbredir, id: 0 };

/// A session whose channel list holds `channels`, each linked; the USB side has channel 0 registered.
fn panel(channels: &[ChannelId]) -> Harness<'static, Panel> {
    let mut state = SessionState::default();
    let now = Instant::now();
    state.apply(SessionEvent::Connected { session_id: 1 }, now);
    state.apply(SessionEvent::ChannelOffered(ChannelId { channel_type: ChannelType::Main, id: 0 }), now);
    for ch in channels {
        state.apply(SessionEvent::ChannelOffered(*ch), now);
        state.apply(SessionEvent::ChannelLinked(*ch), now);
    }
    let usb = Arc::new(UsbShared::default());
    let (tx, commands) = mpsc::channel(8);
    usb.linked(&UsbChannel { id: 0, name: "9:0 (usbredir)".into() }, tx);
    let p = Panel { panel: UsbPanel::new(None), state, usb, commands };
    let mut h = Harness::builder().with_size(egui::vec2(300.0, 900.0)).build_ui_state(
        |ui, p: &mut Panel| {
            let clock = Clock::now();
            p.panel.ui(ui, &p.state, &p.usb, clock);
        },
        p,
    );
    h.run();
    h
}

fn image(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("stick.img");
    std::fs::write(&path, vec![0u8; 4096]).expect("image");
    path
}

#[test]
fn a_vm_without_a_usbredir_channel_gets_the_lines_to_add_one() {
    let h = panel(&[]);
    assert!(h.query_by_label("The VM has no usbredir channel").is_some());
    assert!(h.query_all_by_label_contains("usb-redir,chardev=usbredir1").next().is_some());
    assert!(h.query_by_label("Attach").is_none());
}

#[test]
fn attach_sends_the_checked_disk_and_a_bad_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    let mut h = panel(&[USB0]);
    assert!(h.query_by_label("USB redirection available").is_some());
    assert!(h.query_by_label("No disk attached.").is_some());
    h.state_mut().panel.path = dir.path().join("missing.img").display().to_string();
    h.run();
    h.get_by_label("Attach").click();
    h.run();
    assert!(h.query_all_by_label_contains("No such file").next().is_some(), "the refusal says why");
    assert!(h.state_mut().sent().is_empty());
    h.get_by_label("Dismiss").click();
    h.run();

    h.state_mut().panel.path = path.display().to_string();
    h.state_mut().panel.read_only = true;
    h.run();
    h.get_by_label("Attach").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [UsbCommand::Attach(UsbDisk { path, read_only: true, speed: Speed::Super })]);
}

#[test]
fn detach_asks_first_only_while_the_guest_uses_the_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = image(&dir);
    let mut h = panel(&[USB0]);
    let usb = h.state().usb.clone();
    usb.attached(0, &UsbDisk { path: path.clone(), read_only: false, speed: Speed::Super }, 8);
    let busy = IoStats { commands: 12, read: 3 * 1024 * 1024, written: 4096, failed: 1, writing: true };
    usb.stats(0, busy, false);
    h.run();
    assert!(h.query_all_by_label_contains("stick.img").next().is_some());
    assert!(h.query_by_label("read-write").is_some());
    assert!(h.query_by_label("The guest is writing").is_some());
    assert!(h.query_all_by_label_contains("3.0 MiB").next().is_some(), "bytes read");
    h.get_by_label("Detach").click();
    h.run();
    assert!(h.query_by_label("Detach a disk in use?").is_some());
    h.get_by_label("Keep It").click();
    h.run();
    assert!(h.state_mut().sent().is_empty(), "kept");

    h.get_by_label("Detach").click();
    h.run();
    h.get_by_label("Detach Anyway").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [UsbCommand::Detach]);

    usb.stats(0, IoStats { writing: false, ..busy }, false);
    h.run();
    h.get_by_label("Detach").click();
    h.run();
    assert!(h.query_by_label("Detach a disk in use?").is_none(), "an idle disk detaches at once");
    assert_eq!(h.state_mut().sent(), [UsbCommand::Detach]);
}

#[test]
fn a_channel_error_shows_until_dismissed() {
    let mut h = panel(&[USB0]);
    let usb = h.state().usb.clone();
    usb.failed(0, "cannot open the USB disk image /x.img: Permission denied".into());
    h.run();
    assert!(h.query_all_by_label_contains("Permission denied").next().is_some());
    h.get_by_label("Dismiss").click();
    h.run();
    assert!(h.query_all_by_label_contains("Permission denied").next().is_none());
    assert_eq!(usb.view(0).and_then(|v| v.error), None);
}

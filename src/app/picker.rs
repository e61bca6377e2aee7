//! The native folder and file pickers, run off the UI thread.
//!
//! `rfd` asks the desktop's file chooser portal over D-Bus (falling back to zenity); both block until the user
//! chooses, so the dialog runs on its own thread and hands the answer back through a channel, waking the UI with
//! `request_repaint`. The window keeps drawing (and the session keeps running) meanwhile.

use eframe::egui;
use std::path::PathBuf;
use std::sync::mpsc;

/// What a picker chooses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Pick {
    /// A folder to share.
    #[default]
    Folder,
    /// A disk image file for a USB disk.
    DiskImage,
}

/// A folder or file picker that may be open.
#[derive(Debug, Default)]
pub struct Picker {
    /// What it chooses.
    pub pick: Pick,
    answer: Option<mpsc::Receiver<Option<PathBuf>>>,
}

impl Picker {
    /// A closed picker for `pick`.
    pub fn new(pick: Pick) -> Self {
        Picker { pick, answer: None }
    }

    /// Whether the dialog is open.
    pub fn is_open(&self) -> bool {
        self.answer.is_some()
    }

    /// Opens the dialog (if it is not open already), starting in `start`.
    pub fn open(&mut self, ctx: &egui::Context, start: Option<PathBuf>) {
        if self.answer.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let pick = self.pick;
        let spawned = std::thread::Builder::new().name("picker".into()).spawn(move || {
            let title = match pick {
                Pick::Folder => "Choose a folder to share with the guest",
                Pick::DiskImage => "Choose a raw disk image to give the guest as a USB disk",
            };
            let mut dialog = rfd::FileDialog::new().set_title(title);
            if let Some(dir) = start {
                dialog = dialog.set_directory(dir);
            }
            let choice = match pick {
                Pick::Folder => dialog.pick_folder(),
                Pick::DiskImage => dialog
                    .add_filter("Disk images", &["img", "raw", "bin", "iso"])
                    .add_filter("All files", &["*"])
                    .pick_file(),
            };
            let _ = tx.send(choice);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.answer = Some(rx),
            Err(e) => tracing::warn!("cannot start the picker: {e}"),
        }
    }

    /// The chosen folder, once the dialog has closed with one.
    pub fn poll(&mut self) -> Option<PathBuf> {
        let rx = self.answer.as_ref()?;
        match rx.try_recv() {
            Ok(choice) => {
                self.answer = None;
                if choice.is_none() {
                    tracing::debug!("picker closed without a choice (or no picker is available)");
                }
                choice
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                self.answer = None;
                None
            }
        }
    }
}

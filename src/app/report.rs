//! "Report this as a bug": the button every error in a panel carries, and the window that shows where the bundle
//! was saved. A button only records the request (in egui's temporary data, so panels need no extra parameters);
//! [`Reporter`] picks it up once per frame and has [`crate::bug_report`] write the bundle on a worker thread.

use super::state::SessionState;
use crate::bug_report::{write_bundle, RecentLog, ReportSetup};
use eframe::egui;
use eframe::egui::{RichText, Ui};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The button's label.
pub const BUTTON: &str = "Report this as a bug";

fn request_id() -> egui::Id {
    egui::Id::new("ryll-bug-report-request")
}

/// Draws the button for `error`; a click asks for a report of it.
pub fn button(ui: &mut Ui, error: &str) {
    let clicked = ui
        .small_button(BUTTON)
        .on_hover_text(
            "Save a bundle to attach to a bug report: version, OS, server, recent log, capture. No passwords.",
        )
        .clicked();
    if clicked {
        let text = error.to_string();
        ui.ctx().data_mut(|d| d.insert_temp(request_id(), text));
    }
}

/// Where a report stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportStatus {
    /// Being written.
    Writing,
    /// Saved at this path.
    Saved(PathBuf),
    /// Not written, and why.
    Failed(String),
}

/// Writes the reports the buttons ask for and shows the outcome.
pub struct Reporter {
    setup: ReportSetup,
    status: Arc<Mutex<Option<ReportStatus>>>,
    open: bool,
}

impl Reporter {
    /// A reporter for the session `setup` describes.
    pub fn new(setup: ReportSetup) -> Self {
        Reporter { setup, status: Arc::new(Mutex::new(None)), open: false }
    }

    /// The last report's status, for tests.
    pub fn status(&self) -> Option<ReportStatus> {
        self.status.lock().ok().and_then(|s| s.clone())
    }

    /// Starts a report if a button asked for one this frame, and shows the last report's outcome.
    pub fn ui(&mut self, ctx: &egui::Context, state: &SessionState) {
        if let Some(error) = ctx.data_mut(|d| d.remove_temp::<String>(request_id())) {
            self.start(ctx, state, error);
        }
        if !self.open {
            return;
        }
        let status = self.status();
        egui::Window::new("Bug report").open(&mut self.open).collapsible(false).show(ctx, |ui| match status {
            Some(ReportStatus::Saved(path)) => {
                ui.label("Saved. Attach this file to your bug report:");
                let shown = path.display().to_string();
                ui.horizontal(|ui| {
                    ui.label(RichText::new(&shown).monospace());
                    if ui.small_button("Copy").clicked() {
                        ui.ctx().copy_text(shown.clone());
                    }
                });
                ui.label(
                    RichText::new("It holds ryll's version, the OS, the server, the recent log and any capture.")
                        .weak(),
                );
            }
            Some(ReportStatus::Failed(why)) => {
                ui.label(
                    RichText::new(format!("The report could not be saved: {why}")).color(ui.visuals().error_fg_color),
                );
            }
            Some(ReportStatus::Writing) | None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Saving the report…");
                });
            }
        });
    }

    fn start(&mut self, ctx: &egui::Context, state: &SessionState, error: String) {
        if let Ok(mut s) = self.status.lock() {
            if *s == Some(ReportStatus::Writing) {
                return;
            }
            *s = Some(ReportStatus::Writing);
        }
        self.open = true;
        let info = state.report_info(error);
        let setup = self.setup.clone();
        let status = self.status.clone();
        let ctx = ctx.clone();
        let work = move || {
            let result = match write_bundle(&setup, &info, &RecentLog::global().lines()) {
                Ok(path) => {
                    tracing::info!("bug report saved: {}", path.display());
                    ReportStatus::Saved(path)
                }
                Err(e) => {
                    tracing::warn!("bug report not saved: {e}");
                    ReportStatus::Failed(e.to_string())
                }
            };
            if let Ok(mut s) = status.lock() {
                *s = Some(result);
            }
            ctx.request_repaint();
        };
        if let Err(e) = std::thread::Builder::new().name("bug-report".into()).spawn(work) {
            if let Ok(mut s) = self.status.lock() {
                *s = Some(ReportStatus::Failed(format!("cannot start the writer thread: {e}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bug_report::Secrets;
    use crate::connect::password::Password;
    use crate::session::{SessionConfig, SessionEnd, SessionEvent};
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;
    use std::time::{Duration, Instant};

    struct Fixture {
        reporter: Reporter,
        state: SessionState,
    }

    #[test]
    fn the_button_saves_a_bundle_without_the_password_and_shows_its_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SessionConfig { password: Password::new("s3cret-ticket"), ..SessionConfig::default() };
        let setup = ReportSetup { secrets: Secrets::of(&cfg), capture_dir: None, out_dir: dir.path().join("reports") };
        let mut state = SessionState::new(Some("vm".into()));
        let why = "the server refused the password s3cret-ticket".to_string();
        state.apply(SessionEvent::Ended(SessionEnd::Failed(why.clone())), Instant::now());
        let f = Fixture { reporter: Reporter::new(setup), state };
        let mut h = Harness::builder().with_size(egui::vec2(800.0, 600.0)).build_state(
            move |ctx, f: &mut Fixture| {
                egui::CentralPanel::default().show(ctx, |ui| button(ui, &why));
                f.reporter.ui(ctx, &f.state);
            },
            f,
        );
        h.run();
        h.get_by_label(BUTTON).click();
        let deadline = Instant::now() + Duration::from_secs(30);
        let path = loop {
            // Steps, not runs: the spinner repaints while the bundle is written.
            h.step();
            match h.state().reporter.status() {
                Some(ReportStatus::Saved(p)) => break p,
                Some(ReportStatus::Failed(why)) => panic!("not saved: {why}"),
                _ if Instant::now() > deadline => panic!("the report was not written"),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        h.run();
        assert!(h.query_by_label(&path.display().to_string()).is_some(), "the window shows the path");
        let bytes = std::fs::read(&path).expect("read the bundle");
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut text).expect("gunzip");
        assert!(!text.windows(13).any(|w| w == b"s3cret-ticket"), "the password is in the bundle");
        assert!(String::from_utf8_lossy(&text).contains("the server refused the password [redacted]"));
    }
}

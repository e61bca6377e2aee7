//! The desktop front end: the ryll window (egui/eframe).
//!
//! The window drives the same session core as the headless runner ([`crate::session`]): a tokio task forwards
//! each [`SessionEvent`] into the app and wakes the UI with `request_repaint`, clicks become
//! [`SessionCommand`]s, and live counters are read from [`SessionShared`]. No protocol or sharing logic lives
//! here. The UI repaints only on events, input, guest draws, and when a number or an aging text it shows changes
//! ([`pulse`]): an idle session does not repaint.
//!
//! # Layout
//! - [`state`]: the window's model of the session, updated from events (pure, unit-tested).
//! - [`desktop`]: the guest's screen in the central area, the guest cursor, keyboard and pointer ([`keys`]).
//! - [`session_view`]: the session details (the central area until the guest's first surface, then a window).
//! - [`status_bar`]: panel toggles, connection state, byte counters.
//! - [`folders`]: the Shared Folders side panel.
//! - [`usb`]: the USB Devices side panel (disk images on the usbredir channels).
//! - [`traffic`]: the Traffic side panel (bytes and messages per channel).
//! - [`picker`]: the native folder and file pickers, off the UI thread.
//! - [`report`]: the "Report this as a bug" button and where the bundle went.
//! - [`remembered`]: the model of the remembered shares (the "Remember for this VM" box, notices).
//! - [`pulse`]: when to repaint while the guest draws nothing.
//! - [`dialog`], [`style`], [`format`]: confirmations, look, fixed-width numbers.

pub mod desktop;
pub mod dialog;
pub mod folders;
pub mod format;
pub mod keys;
pub mod named_shares;
pub mod picker;
pub mod pulse;
pub mod remembered;
pub mod report;
pub mod session_view;
pub mod state;
pub mod status_bar;
pub mod style;
pub mod traffic;
pub mod usb;
pub mod x11;

use crate::session::traffic::TrafficMeter;
use crate::session::{self, SessionCommand, SessionConfig, SessionEnd, SessionEvent, SessionShared};
use eframe::egui;
use folders::FoldersPanel;
use state::{uploads_in_flight, LiveShare, Rate, RateMeter, SessionState};
use status_bar::PanelToggles;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use usb::UsbPanel;

/// How long to wait for the session to close its channels after the window closes.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(3);

/// The time a frame is drawn at, passed down so panels stay testable.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic now.
    pub now: Instant,
    /// Wall-clock now, in ms since the Unix epoch.
    pub unix_ms: u64,
}

impl Clock {
    /// The current time.
    pub fn now() -> Self {
        let unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        Clock { now: Instant::now(), unix_ms }
    }
}

/// Where the UI sends [`SessionCommand`]s: the session's bounded command queue (or a test's receiver).
#[derive(Debug, Clone)]
pub struct CommandSink(mpsc::Sender<SessionCommand>);

impl CommandSink {
    /// Wraps the session's command sender.
    pub fn new(tx: mpsc::Sender<SessionCommand>) -> Self {
        CommandSink(tx)
    }

    /// Queues a command without blocking the UI; the error is one line for the user.
    pub fn send(&self, cmd: SessionCommand) -> Result<(), String> {
        self.0.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => "the session is busy and did not take the command; try again".into(),
            mpsc::error::TrySendError::Closed(_) => "the session has ended; start ryll again to share".into(),
        })
    }
}

/// What reaches the UI thread from the async side.
#[derive(Debug)]
pub enum AppMessage {
    /// A session event.
    Session(SessionEvent),
    /// SIGINT or SIGTERM: close the window without asking.
    Quit,
}

/// The ryll window.
pub struct RyllApp {
    state: SessionState,
    live: LiveShare,
    rate: RateMeter,
    traffic: TrafficMeter,
    shared: Arc<SessionShared>,
    commands: CommandSink,
    inbox: std::sync::mpsc::Receiver<AppMessage>,
    toggles: PanelToggles,
    folders: FoldersPanel,
    usb: UsbPanel,
    reporter: report::Reporter,
    desktop: desktop::DesktopView,
    /// Closing was asked for while uploads were in flight; the user has not answered yet.
    confirm_quit: Option<usize>,
    /// The user (or a signal) said the window may close.
    quit_allowed: bool,
    /// How the session ended, for the process exit code.
    outcome: Arc<Mutex<Option<SessionEnd>>>,
    frames: pulse::FrameLog,
    /// Draws the desktop straight into the X server (X11 only; `None` in tests and on Wayland).
    presenter: Option<Arc<x11::Presenter>>,
}

/// What [`RyllApp::new`] needs.
pub struct AppParts {
    /// The session's title from the connection source.
    pub title: Option<String>,
    /// The share given on the command line (pre-fills the panel; the session starts it itself).
    pub initial_share: Option<crate::webdav::server::ShareConfig>,
    /// What shares started from the window protect.
    pub protection: crate::webdav::protect::Protection,
    /// The first `--usb-disk` (pre-fills the USB panel; the session attaches it itself).
    pub usb_disk: Option<crate::channels::usbredir::UsbDisk>,
    /// Live counters.
    pub shared: Arc<SessionShared>,
    /// Commands to the session.
    pub commands: CommandSink,
    /// Events and signals.
    pub inbox: std::sync::mpsc::Receiver<AppMessage>,
    /// Where the session's end is stored for the exit code.
    pub outcome: Arc<Mutex<Option<SessionEnd>>>,
    /// What bug reports of this session hold and where they go.
    pub report: crate::bug_report::ReportSetup,
    /// The X11 presenter, if it started.
    pub presenter: Option<Arc<x11::Presenter>>,
    /// The monitor to show first (`--monitor`).
    pub monitor: Option<u16>,
}

impl RyllApp {
    /// Builds the app around a running session.
    pub fn new(parts: AppParts) -> Self {
        RyllApp {
            state: SessionState::new(parts.title),
            live: LiveShare::default(),
            rate: RateMeter::default(),
            traffic: TrafficMeter::default(),
            shared: parts.shared,
            commands: parts.commands,
            inbox: parts.inbox,
            // The USB panel starts open when the command line gave a disk.
            toggles: PanelToggles { usb: parts.usb_disk.is_some(), ..PanelToggles::default() },
            folders: FoldersPanel::new(parts.initial_share.as_ref(), parts.protection),
            usb: UsbPanel::new(parts.usb_disk.as_ref()),
            reporter: report::Reporter::new(parts.report),
            desktop: desktop::DesktopView::showing(parts.monitor),
            confirm_quit: None,
            quit_allowed: false,
            outcome: parts.outcome,
            frames: pulse::FrameLog::default(),
            presenter: parts.presenter,
        }
    }

    /// The model, for tests.
    pub fn state(&self) -> &SessionState {
        &self.state
    }

    fn drain_events(&mut self, ctx: &egui::Context, clock: Clock) {
        while let Ok(msg) = self.inbox.try_recv() {
            match msg {
                AppMessage::Session(ev) => {
                    if let SessionEvent::Ended(end) = &ev {
                        if let Ok(mut o) = self.outcome.lock() {
                            *o = Some(end.clone());
                        }
                    }
                    self.state.apply(ev, clock.now);
                }
                AppMessage::Quit => {
                    self.quit_allowed = true;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
            }
        }
    }

    fn refresh_live(&mut self, clock: Clock) {
        let activity = self.shared.share_activity();
        self.live.rate = self.rate.update(clock.now, activity.bytes_to_guest, activity.bytes_from_guest);
        self.live.activity = activity;
        self.live.in_flight = self.shared.current_share().map(|s| s.stats().in_flight_progress()).unwrap_or_default();
    }

    /// Closing the window while uploads are in flight asks first.
    fn handle_close_request(&mut self, ctx: &egui::Context) {
        if !ctx.input(|i| i.viewport().close_requested()) || self.quit_allowed {
            return;
        }
        let uploads = uploads_in_flight(&self.live.in_flight);
        if uploads > 0 {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.confirm_quit = Some(uploads);
        }
    }

    fn status_bar(&mut self, ctx: &egui::Context) {
        let totals = self.shared.total_bytes();
        let monitors = desktop::MonitorChoice::all(&self.shared);
        if let Some(n) = self.desktop.wanted {
            if let Some(m) = monitors.get(usize::from(n).saturating_sub(1)) {
                tracing::info!("desktop: monitor {n} shown ({m:?})");
                self.desktop.monitor = *m;
                self.desktop.wanted = None;
            }
        }
        let shown = self.desktop.shown_monitor(&self.shared).0;
        let input = status_bar::InputStatus {
            inputs: &self.shared.inputs,
            grabbed: self.desktop.grabbed,
            scaling: &mut self.desktop.scaling,
            monitors,
            shown,
            monitor: &mut self.desktop.monitor,
        };
        egui::TopBottomPanel::bottom("status-bar").show(ctx, |ui| {
            status_bar::ui(ui, &mut self.toggles, &self.state, totals, input);
        });
    }

    fn folders_panel(&mut self, ctx: &egui::Context, clock: Clock) {
        egui::SidePanel::right("folders").resizable(false).exact_width(style::SIDE_PANEL_WIDTH).show_animated(
            ctx,
            self.toggles.folders,
            |ui| {
                self.folders.ui(ui, &mut self.state, &self.live, &self.commands, clock);
            },
        );
    }

    fn usb_panel(&mut self, ctx: &egui::Context, clock: Clock) {
        egui::SidePanel::right("usb").resizable(false).exact_width(style::SIDE_PANEL_WIDTH).show_animated(
            ctx,
            self.toggles.usb,
            |ui| {
                self.usb.ui(ui, &self.state, &self.shared.usb, clock);
            },
        );
    }

    fn traffic_panel(&mut self, ctx: &egui::Context, clock: Clock) {
        if !self.toggles.traffic {
            return;
        }
        let rows = self.traffic.update(clock.now, &self.shared.channel_counts());
        egui::SidePanel::right("traffic").resizable(false).exact_width(traffic::WIDTH).show(ctx, |ui| {
            traffic::ui(ui, &self.state, &rows);
        });
    }

    fn central(&mut self, ctx: &egui::Context) {
        if !self.desktop.has_surface(&self.shared) {
            egui::CentralPanel::default().show(ctx, |ui| session_view::ui(ui, &self.state));
            return;
        }
        // No fill: the frame is cleared to black (clear_color) and the surface covers the rest.
        let frame = egui::Frame::central_panel(&ctx.style()).inner_margin(0.0).fill(egui::Color32::TRANSPARENT);
        egui::CentralPanel::default().frame(frame).show(ctx, |ui| {
            let direct = self.presenter.as_ref().is_some_and(|p| p.active());
            self.desktop.ui(ui, &self.shared, direct);
        });
        egui::Window::new("Session").open(&mut self.toggles.details).default_width(560.0).show(ctx, |ui| {
            session_view::ui(ui, &self.state);
        });
    }

    fn quit_dialog(&mut self, ctx: &egui::Context) {
        let Some(n) = self.confirm_quit else { return };
        let text = format!(
            "The guest is writing to the shared folder ({n} request(s) in flight). Quitting now cuts them off and \
             can leave partly written files."
        );
        match dialog::confirm(ctx, "confirm-quit", "Quit during uploads?", &text, "Quit Anyway", "Keep Running") {
            Some(dialog::Choice::Confirm) => {
                self.confirm_quit = None;
                self.quit_allowed = true;
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            Some(dialog::Choice::Cancel) => self.confirm_quit = None,
            None => {}
        }
    }

    /// Events, input and draws repaint the window, and [`pulse::watch`] does when a counter changes. Here: a
    /// repaint when a text that ages would change ("just now", "shared for 5 min", a request's running time), or
    /// while a shown rate has not yet fallen to zero. Nothing else repaints an idle session.
    fn schedule_repaint(&self, ctx: &egui::Context, clock: Clock) {
        if self.state.ended() {
            return;
        }
        let mut due: Option<Duration> = None;
        let mut soon = |d: Duration| due = Some(due.map_or(d, |x| x.min(d)));
        if self.toggles.folders && self.state.sharing() {
            if let Some(share) = &self.state.share {
                soon(pulse::until_span_changes(clock.now.saturating_duration_since(share.since)));
            }
            let last = self.live.activity.last_request_unix_ms;
            if last != 0 {
                soon(pulse::until_ago_changes(Duration::from_millis(clock.unix_ms.saturating_sub(last))));
            }
            if !self.live.in_flight.is_empty() || self.live.rate != Rate::default() {
                soon(pulse::PERIOD);
            }
        }
        if self.toggles.usb {
            for v in self.shared.usb.views().values() {
                if let Some(at) = v.attached_at.filter(|_| v.image.is_some()) {
                    soon(pulse::until_span_changes(clock.now.saturating_duration_since(at)));
                }
            }
        }
        if let Some(d) = due {
            ctx.request_repaint_after(d);
        }
    }
}

impl eframe::App for RyllApp {
    fn update(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.ui(ctx);
    }

    /// Black: the desktop's letterbox bars are the cleared frame itself, not a filled rectangle drawn over it
    /// (with software OpenGL every pixel drawn twice costs).
    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        [0.0, 0.0, 0.0, 1.0]
    }
}

impl RyllApp {
    /// Draws one frame (what [`eframe::App::update`] does; separate so tests can drive it without a window).
    pub fn ui(&mut self, ctx: &egui::Context) {
        let clock = Clock::now();
        self.frames.frame(ctx.repaint_causes());
        self.drain_events(ctx, clock);
        self.refresh_live(clock);
        self.handle_close_request(ctx);
        self.status_bar(ctx);
        self.folders_panel(ctx, clock);
        self.usb_panel(ctx, clock);
        self.traffic_panel(ctx, clock);
        self.central(ctx);
        self.reporter.ui(ctx, &self.state);
        self.quit_dialog(ctx);
        self.present(ctx);
        self.schedule_repaint(ctx, clock);
    }

    /// Hands the desktop to the X11 presenter, or takes it back while egui draws something over it (a menu, a
    /// tooltip, a window): then this frame is drawn again at once with the desktop as egui's texture.
    fn present(&mut self, ctx: &egui::Context) {
        let Some(p) = &self.presenter else { return };
        let target =
            self.desktop.target().filter(|_| !self.desktop.visible_rect().is_some_and(|r| x11::covered(ctx, r)));
        let was = p.active();
        let on = target.is_some();
        p.set(target);
        if was && !on {
            ctx.request_discard("the desktop goes back to egui's texture");
        }
    }
}

/// Forwards session events to the UI thread, logs them as the headless runner does, and wakes the UI.
async fn forward_events(
    mut events: mpsc::Receiver<SessionEvent>,
    inbox: std::sync::mpsc::Sender<AppMessage>,
    ctx: egui::Context,
) {
    while let Some(ev) = events.recv().await {
        crate::event_log::log_event(&ev);
        if inbox.send(AppMessage::Session(ev)).is_err() {
            return;
        }
        ctx.request_repaint();
    }
}

/// Closes the window on SIGINT or SIGTERM.
async fn forward_signals(inbox: std::sync::mpsc::Sender<AppMessage>, ctx: egui::Context) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted; closing the window"),
        _ = term => tracing::info!("terminated; closing the window"),
    }
    let _ = inbox.send(AppMessage::Quit);
    ctx.request_repaint();
}

/// Opens the window on a new session and runs until it closes. Exit code 0 when the user closed the window of a
/// session that was running (or that the user ended), 1 when the session failed or the window cannot open.
pub fn run(config: SessionConfig) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ryll: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let title = config.title.clone();
    let initial_share = config.share.clone();
    let protection = config.webdav.protection.clone();
    let usb_disk = config.usb.first().cloned();
    let monitor = config.display.monitor;
    let report = crate::bug_report::ReportSetup {
        secrets: crate::bug_report::Secrets::of(&config),
        capture_dir: config.capture_dir.clone(),
        out_dir: crate::bug_report::default_dir(),
    };
    let mut handle = {
        let _guard = runtime.enter();
        session::start(config)
    };
    let events = std::mem::replace(&mut handle.events, mpsc::channel(1).1);
    let outcome = Arc::new(Mutex::new(None));
    let parts_outcome = outcome.clone();
    let shared = handle.shared.clone();
    let commands = CommandSink::new(handle.commands.clone());
    let rt = runtime.handle().clone();
    let window_title = match &title {
        Some(t) => format!("{t} – ryll"),
        None => "ryll".to_string(),
    };
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(window_title)
            .with_app_id("ryll")
            .with_inner_size([1100.0, 720.0])
            .with_min_inner_size([640.0, 420.0]),
        renderer: eframe::Renderer::Glow,
        // No dithering noise in the fragment shader: the guest's pixels reach the screen unchanged, and each
        // pixel costs less where OpenGL is software (llvmpipe).
        dithering: false,
        ..Default::default()
    };
    let result = eframe::run_native(
        "ryll",
        options,
        Box::new(move |cc| {
            style::apply(&cc.egui_ctx);
            let (tx, inbox) = std::sync::mpsc::channel();
            let presenter = match x11::Presenter::start(cc, shared.cursors.clone()) {
                Ok(p) => Some(Arc::new(p)),
                Err(why) => {
                    tracing::info!("desktop: drawn by egui (OpenGL textures): {why}");
                    None
                }
            };
            // Guest draws and cursor changes wake the presenter while it shows the desktop, egui otherwise.
            let wake = |ctx: egui::Context, p: Option<Arc<x11::Presenter>>| -> session::display::RepaintHook {
                Arc::new(move || match &p {
                    Some(p) if p.active() => p.wake(),
                    _ => ctx.request_repaint(),
                })
            };
            shared.displays.set_repaint_hook(wake(cc.egui_ctx.clone(), presenter.clone()));
            shared.cursors.set_repaint_hook(wake(cc.egui_ctx.clone(), presenter.clone()));
            rt.spawn(forward_events(events, tx.clone(), cc.egui_ctx.clone()));
            rt.spawn(forward_signals(tx, cc.egui_ctx.clone()));
            let repaint = cc.egui_ctx.clone();
            rt.spawn(pulse::watch(shared.clone(), move || repaint.request_repaint()));
            Ok(Box::new(RyllApp::new(AppParts {
                title,
                initial_share,
                protection,
                usb_disk,
                shared,
                commands,
                inbox,
                outcome: parts_outcome,
                report,
                presenter,
                monitor,
            })))
        }),
    );
    runtime.block_on(async {
        handle.disconnect().await;
        if tokio::time::timeout(SHUTDOWN_WAIT, handle.join()).await.is_err() {
            tracing::warn!("the session did not close within {SHUTDOWN_WAIT:?}");
        }
    });
    if let Err(e) = result {
        eprintln!("ryll: cannot open the window ({e}); run with --headless to share without one");
        return ExitCode::FAILURE;
    }
    let end = outcome.lock().ok().and_then(|o| o.clone());
    match end {
        Some(end) if !end.is_clean() => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    }
}

#[cfg(test)]
mod usb_tests;
#[cfg(test)]
mod view_tests;

/// The whole window in an egui_kittest harness, for the tests here and in [`view_tests`].
#[cfg(test)]
pub(crate) mod fixture {
    use super::*;

    pub(crate) struct Fixture {
        pub app: RyllApp,
        pub events: std::sync::mpsc::Sender<AppMessage>,
        pub _commands: mpsc::Receiver<SessionCommand>,
    }

    pub(crate) fn fixture() -> Fixture {
        let (events, inbox) = std::sync::mpsc::channel();
        let (tx, _commands) = mpsc::channel(8);
        let app = RyllApp::new(AppParts {
            title: Some("test vm".into()),
            initial_share: None,
            protection: Default::default(),
            usb_disk: None,
            shared: Arc::new(SessionShared::default()),
            commands: CommandSink::new(tx),
            inbox,
            outcome: Arc::new(Mutex::new(None)),
            report: crate::bug_report::ReportSetup::default(),
            presenter: None,
            monitor: None,
        });
        Fixture { app, events, _commands }
    }

    pub(crate) fn harness(f: Fixture) -> egui_kittest::Harness<'static, Fixture> {
        egui_kittest::Harness::builder()
            .with_size(egui::vec2(1100.0, 720.0))
            .build_state(|ctx, f: &mut Fixture| f.app.ui(ctx), f)
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{fixture, harness, Fixture};
    use super::*;
    use crate::channels::webdav::WebdavEvent;
    use crate::protocol::constants::ChannelType;
    use crate::protocol::main_channel::ChannelId;
    use crate::webdav::server::{ShareConfig, ShareServer};
    use egui_kittest::kittest::Queryable;
    use egui_kittest::Harness;

    /// Queues [`sharing_events`] for the app, as the session would send them.
    fn queue_sharing_events(f: &Fixture, root: &std::path::Path) {
        for ev in sharing_events(root) {
            f.events.send(AppMessage::Session(ev)).unwrap();
        }
    }

    fn sharing_events(root: &std::path::Path) -> Vec<SessionEvent> {
        let webdav = ChannelId { channel_type: ChannelType::Webdav, id: 0 };
        vec![
            SessionEvent::Connecting("127.0.0.1:5900".into()),
            SessionEvent::Connected { session_id: 1 },
            SessionEvent::ServerName("vm-under-test".into()),
            SessionEvent::ChannelOffered(webdav),
            SessionEvent::ChannelLinked(webdav),
            SessionEvent::Webdav(WebdavEvent::PortOpened),
            SessionEvent::SharingStarted { root: root.to_path_buf(), read_only: false },
        ]
    }

    fn request_close(h: &mut Harness<'_, Fixture>) {
        let id = egui::ViewportId::ROOT;
        h.input_mut().viewports.entry(id).or_default().events.push(egui::ViewportEvent::Close);
    }

    fn close_cancelled(h: &Harness<'_, Fixture>) -> bool {
        h.output().viewport_output.values().any(|v| v.commands.contains(&egui::ViewportCommand::CancelClose))
    }

    #[test]
    fn events_reach_the_panels_and_the_status_bar() {
        let dir = tempfile::tempdir().unwrap();
        let f = fixture();
        queue_sharing_events(&f, dir.path());
        let mut h = harness(f);
        h.run();
        assert!(h.query_all_by_label_contains("vm-under-test").next().is_some());
        assert!(h.query_by_label("Sharing active").is_some());
        assert!(h.query_all_by_label_contains("connected to vm-under-test").next().is_some());
    }

    #[test]
    fn a_failed_session_shows_the_headless_message() {
        let f = fixture();
        let text = "connection refused by 127.0.0.1:5900: is the SPICE server running and is the port right?";
        f.events.send(AppMessage::Session(SessionEvent::Ended(SessionEnd::Failed(text.into())))).unwrap();
        let mut h = harness(f);
        h.run();
        assert!(h.query_by_label(text).is_some());
        assert_eq!(*h.state().app.outcome.lock().unwrap(), Some(SessionEnd::Failed(text.into())));
    }

    #[test]
    fn closing_during_an_upload_asks_first() {
        let dir = tempfile::tempdir().unwrap();
        let f = fixture();
        let cfg = ShareConfig {
            root: dir.path().to_path_buf(),
            read_only: false,
            private: false,
            protection: Default::default(),
        };
        let server = ShareServer::new(cfg).unwrap();
        let upload = server.stats().begin_request("PUT", "/big.iso".into());
        *f.app.shared.share.write().unwrap() = Some(server);
        queue_sharing_events(&f, dir.path());
        let mut h = harness(f);
        h.run();
        request_close(&mut h);
        h.step();
        assert!(close_cancelled(&h), "the close was held back");
        h.run();
        assert!(h.query_by_label("Quit during uploads?").is_some());
        h.get_by_label("Keep Running").click();
        h.run();
        assert!(h.query_by_label("Quit during uploads?").is_none());

        request_close(&mut h);
        h.run();
        h.get_by_label("Quit Anyway").click();
        h.run();
        assert!(h.state().app.quit_allowed);
        drop(upload);
    }

    #[test]
    fn closing_without_uploads_does_not_ask() {
        let dir = tempfile::tempdir().unwrap();
        let f = fixture();
        queue_sharing_events(&f, dir.path());
        let mut h = harness(f);
        h.run();
        request_close(&mut h);
        h.step();
        assert!(!close_cancelled(&h));
        h.run();
        assert!(h.query_by_label("Quit during uploads?").is_none());
    }
}

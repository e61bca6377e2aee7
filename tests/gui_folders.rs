//! The Shared Folders panel, driven headlessly through egui's accessibility tree (egui_kittest): each status
//! layer shows its text and next step, clicks send the right session commands, errors dismiss, and risky steps
//! ask first.
#![cfg(feature = "gui")]

use eframe::egui;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use ryll::app::folders::FoldersPanel;
use ryll::app::state::{LiveShare, SessionState};
use ryll::app::{Clock, CommandSink};
use ryll::channels::webdav::WebdavEvent;
use ryll::protocol::constants::ChannelType;
use ryll::protocol::main_channel::ChannelId;
use ryll::session::{SessionCommand, SessionEnd, SessionEvent, ShareActivity};
use ryll::webdav::server::{InFlightProgress, InFlightRequest, ShareConfig};
use std::path::PathBuf;
use std::time::Instant;
use tokio::sync::mpsc;

/// What the harness renders: the panel with its inputs, and the receiving end of its commands.
struct Panel {
    panel: FoldersPanel,
    state: SessionState,
    live: LiveShare,
    sink: CommandSink,
    commands: mpsc::Receiver<SessionCommand>,
    clock: Clock,
}

impl Panel {
    fn new(state: SessionState) -> Self {
        let (tx, commands) = mpsc::channel(8);
        let mut panel = FoldersPanel::default();
        panel.home = None;
        Panel { panel, state, live: LiveShare::default(), sink: CommandSink::new(tx), commands, clock: Clock::now() }
    }

    fn sent(&mut self) -> Vec<SessionCommand> {
        std::iter::from_fn(|| self.commands.try_recv().ok()).collect()
    }
}

fn harness(panel: Panel) -> Harness<'static, Panel> {
    Harness::builder().with_size(egui::vec2(300.0, 1000.0)).build_ui_state(
        |ui, p: &mut Panel| {
            let clock = p.clock;
            p.panel.ui(ui, &mut p.state, &p.live, &p.sink, clock);
        },
        panel,
    )
}

fn webdav() -> ChannelId {
    ChannelId { channel_type: ChannelType::Webdav, id: 0 }
}

fn events(list: Vec<SessionEvent>) -> SessionState {
    let mut state = SessionState::default();
    for ev in list {
        state.apply(ev, Instant::now());
    }
    state
}

fn connected() -> Vec<SessionEvent> {
    vec![SessionEvent::Connecting("127.0.0.1:5900".into()), SessionEvent::Connected { session_id: 1 }]
}

fn linked() -> Vec<SessionEvent> {
    let mut list = connected();
    list.extend([SessionEvent::ChannelOffered(webdav()), SessionEvent::ChannelLinked(webdav())]);
    list
}

fn guest_ready() -> Vec<SessionEvent> {
    let mut list = linked();
    list.push(SessionEvent::Webdav(WebdavEvent::PortInit { name: "org.spice-space.webdav.0".into(), opened: true }));
    list
}

fn sharing(root: PathBuf) -> Vec<SessionEvent> {
    let mut list = guest_ready();
    list.push(SessionEvent::SharingStarted { root, read_only: false });
    list
}

fn has_text(h: &Harness<'_, Panel>, text: &str) -> bool {
    h.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn no_webdav_port_shows_the_qemu_and_libvirt_snippets() {
    let mut list = connected();
    list.push(SessionEvent::NoWebdavChannel);
    let mut h = harness(Panel::new(events(list)));
    h.run();
    assert!(has_text(&h, "The VM has no WebDAV port"));
    assert!(has_text(&h, "-chardev spiceport,name=org.spice-space.webdav.0,id=webdav0"), "QEMU snippet");
    assert!(has_text(&h, "<target type='virtio' name='org.spice-space.webdav.0'/>"), "libvirt snippet");
    assert!(h.get_by_label("Share").accesskit_node().is_disabled(), "nothing to share with");
}

#[test]
fn closed_port_says_how_to_start_spice_webdavd() {
    let mut list = linked();
    list.push(SessionEvent::Webdav(WebdavEvent::PortInit { name: "org.spice-space.webdav.0".into(), opened: false }));
    let mut h = harness(Panel::new(events(list)));
    h.run();
    assert!(has_text(&h, "Waiting for spice-webdavd in the guest"));
    assert!(has_text(&h, "sudo apt install spice-webdavd"));
    assert!(has_text(&h, "Windows: install the spice-webdavd MSI"));
}

#[test]
fn active_share_shows_path_badge_and_last_request() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let mut list = sharing(root.clone());
    list.push(SessionEvent::SharingStarted { root: root.clone(), read_only: true });
    let mut p = Panel::new(events(list));
    p.live.activity = ShareActivity {
        bytes_to_guest: 5 << 20,
        requests_served: 42,
        last_request_unix_ms: p.clock.unix_ms - 3_000,
        ..Default::default()
    };
    let mut h = harness(p);
    h.run();
    assert!(has_text(&h, "Sharing active"));
    assert!(has_text(&h, "Last request from the guest: just now."));
    assert!(has_text(&h, &root.display().to_string()));
    assert!(h.query_by_label("read-only").is_some());
    assert!(has_text(&h, "5.0 MiB"));
    assert!(has_text(&h, "42"));
}

#[test]
fn connecting_and_disconnected_layers() {
    let mut h = harness(Panel::new(events(vec![SessionEvent::Connecting("h:1".into())])));
    h.run();
    assert!(has_text(&h, "Connecting"));
    let mut h = harness(Panel::new(events(vec![SessionEvent::Ended(SessionEnd::ServerClosed)])));
    h.run();
    assert!(has_text(&h, "Not connected"));
}

#[test]
fn share_sends_start_sharing_with_the_read_only_box() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Panel::new(events(guest_ready()));
    p.panel.path = dir.path().display().to_string();
    let mut h = harness(p);
    h.run();
    assert!(has_text(&h, "The guest is ready"));
    h.get_by_label("Share").click();
    h.run();
    let root = dir.path().canonicalize().unwrap();
    let want = ShareConfig { root: root.clone(), read_only: false, private: false, protection: Default::default() };
    assert_eq!(h.state_mut().sent(), [SessionCommand::StartSharing(want)]);

    h.get_by_label("Read-only").click();
    h.run();
    h.get_by_label("Share").click();
    h.run();
    let want = ShareConfig { root, read_only: true, private: false, protection: Default::default() };
    assert_eq!(h.state_mut().sent(), [SessionCommand::StartSharing(want)]);
}

#[test]
fn share_waits_for_a_folder_and_a_linked_channel() {
    let mut p = Panel::new(events(guest_ready()));
    p.panel.path.clear();
    let mut h = harness(p);
    h.run();
    assert!(h.get_by_label("Share").accesskit_node().is_disabled(), "no folder chosen");
    let dir = tempfile::tempdir().unwrap();
    let mut p = Panel::new(events(connected()));
    p.panel.path = dir.path().display().to_string();
    let mut h = harness(p);
    h.run();
    assert!(h.get_by_label("Share").accesskit_node().is_disabled(), "channel not linked");
}

#[test]
fn a_bad_folder_is_an_error_that_dismisses() {
    let mut p = Panel::new(events(guest_ready()));
    p.panel.path = "/definitely/not/here".into();
    let mut h = harness(p);
    h.run();
    h.get_by_label("Share").click();
    h.run();
    assert!(h.state_mut().sent().is_empty());
    assert!(has_text(&h, "/definitely/not/here: cannot open it"));
    h.get_by_label("Dismiss").click();
    h.run();
    assert!(!has_text(&h, "cannot open it"));
    assert!(h.state().state.errors.is_empty());
}

#[test]
fn session_errors_show_and_dismiss_one_at_a_time() {
    let mut list = guest_ready();
    list.push(SessionEvent::ShareError("first problem".into()));
    list.push(SessionEvent::ShareError("second problem".into()));
    let mut h = harness(Panel::new(events(list)));
    h.run();
    assert!(has_text(&h, "cannot share: first problem") && has_text(&h, "cannot share: second problem"));
    h.get_all_by_label("Dismiss").next().unwrap().click();
    h.run();
    assert!(!has_text(&h, "first problem") && has_text(&h, "second problem"));
}

#[test]
fn stop_sharing_sends_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Panel::new(events(sharing(dir.path().to_path_buf()))));
    h.run();
    h.get_by_label("Stop Sharing").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::StopSharing]);
}

#[test]
fn the_remember_box_asks_the_session_and_shows_the_notice() {
    use ryll::remember::RememberedShare;
    use ryll::session::remember::RememberEvent;
    let dir = tempfile::tempdir().unwrap();
    // Remembering off (--no-remember): no box at all.
    let mut h = harness(Panel::new(events(sharing(dir.path().to_path_buf()))));
    h.run();
    assert!(h.query_by_label("Remember for this VM").is_none());

    let mut list = guest_ready();
    list.push(SessionEvent::Remember(RememberEvent::Identified { key: "uuid:x".into(), remembering: false }));
    let mut h = harness(Panel::new(events(list.clone())));
    h.run();
    assert!(h.get_by_label("Remember for this VM").accesskit_node().is_disabled(), "nothing shared yet");

    let share = RememberedShare::for_folder(dir.path().to_path_buf(), false);
    list.push(SessionEvent::Remember(RememberEvent::Restored(share.clone())));
    list.push(SessionEvent::SharingStarted { root: dir.path().to_path_buf(), read_only: false });
    let mut h = harness(Panel::new(events(list.clone())));
    h.run();
    assert!(has_text(&h, &format!("Sharing {} again, remembered for this VM", dir.path().display())));
    h.get_by_label("Remember for this VM").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::Remember(true)]);
    // The box follows the session's answer, not the click.
    list.push(SessionEvent::Remember(RememberEvent::Saved(vec![share])));
    let mut h = harness(Panel::new(events(list)));
    h.run();
    h.get_by_label("Remember for this VM").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::Remember(false)]);
}

fn request(method: &str, path: &str, bytes: u64) -> InFlightProgress {
    InFlightProgress {
        request: InFlightRequest { method: method.into(), path: path.into(), started: Instant::now() },
        bytes,
    }
}

#[test]
fn stopping_during_an_upload_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Panel::new(events(sharing(dir.path().to_path_buf())));
    p.live.in_flight = vec![request("GET", "/movie.mkv", 1 << 20), request("PUT", "/backup.tar", 3 << 20)];
    let mut h = harness(p);
    h.run();
    assert!(has_text(&h, "Requests in flight: 2"));
    assert!(has_text(&h, "/backup.tar") && has_text(&h, "3.0 MiB"), "method, path and bytes so far");

    h.get_by_label("Stop Sharing").click();
    h.run();
    assert!(h.state_mut().sent().is_empty(), "nothing sent before the answer");
    assert!(has_text(&h, "Stop sharing during uploads?"));
    h.get_by_label("Keep Sharing").click();
    h.run();
    assert!(h.state_mut().sent().is_empty());
    assert!(!has_text(&h, "Stop sharing during uploads?"));

    h.get_by_label("Stop Sharing").click();
    h.run();
    h.get_by_label("Stop Sharing Anyway").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::StopSharing]);
    assert!(!h.state().panel.confirming());
}

#[test]
fn downloads_alone_do_not_ask() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Panel::new(events(sharing(dir.path().to_path_buf())));
    p.live.in_flight = vec![request("GET", "/movie.mkv", 1 << 20), request("PROPFIND", "/", 0)];
    let mut h = harness(p);
    h.run();
    h.get_by_label("Stop Sharing").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::StopSharing]);
}

#[test]
fn sharing_the_home_folder_or_root_asks_first() {
    let home = tempfile::tempdir().unwrap();
    let mut p = Panel::new(events(guest_ready()));
    p.panel.home = Some(home.path().to_path_buf());
    p.panel.path = home.path().display().to_string();
    let mut h = harness(p);
    h.run();
    h.get_by_label("Share").click();
    h.run();
    assert!(h.state_mut().sent().is_empty());
    assert!(has_text(&h, "Share everything?") && has_text(&h, "your whole home folder"));
    h.get_by_label("Cancel").click();
    h.run();
    assert!(h.state_mut().sent().is_empty());

    h.state_mut().panel.path = "/".into();
    h.run();
    h.get_by_label("Share").click();
    h.run();
    assert!(has_text(&h, "the whole filesystem (/)"));
    h.get_by_label("Share Anyway").click();
    h.run();
    let want = ShareConfig { root: "/".into(), read_only: false, private: false, protection: Default::default() };
    assert_eq!(h.state_mut().sent(), [SessionCommand::StartSharing(want)]);
}

#[test]
fn a_full_command_queue_is_reported_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, _rx) = mpsc::channel(1);
    tx.try_send(SessionCommand::StopSharing).unwrap();
    let mut p = Panel::new(events(sharing(dir.path().to_path_buf())));
    p.sink = CommandSink::new(tx);
    let mut h = harness(p);
    h.run();
    h.get_by_label("Stop Sharing").click();
    h.run();
    assert!(has_text(&h, "the session is busy"));
}

#[test]
fn the_panel_shows_what_is_protected_and_when_protection_is_off() {
    let mut h = harness(Panel::new(events(guest_ready())));
    h.run();
    let hidden = ryll::webdav::protect::DEFAULT_HIDDEN.len();
    let read_only = ryll::webdav::protect::DEFAULT_READ_ONLY.len();
    let title = format!("Protected: {hidden} hidden, {read_only} read-only");
    assert!(has_text(&h, &title), "{title}");
    h.get_by_label(&title).click();
    h.run();
    assert!(has_text(&h, ".ssh"), "the hidden list unfolds");
    assert!(has_text(&h, ".config/autostart"), "the read-only list unfolds");

    let mut panel = Panel::new(events(guest_ready()));
    panel.panel.protection = ryll::webdav::protect::Protection::none();
    let mut h = harness(panel);
    h.run();
    assert!(has_text(&h, "Protection is off"));
}

#[test]
fn named_shares_are_listed_and_each_row_adds_removes_or_sets_read_only() {
    use ryll::webdav::named::{NamedShare, ShareInfo};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let mut list = guest_ready();
    let info = |name: &str, read_only| ShareInfo { name: name.into(), root: root.clone(), read_only };
    list.push(SessionEvent::SharesChanged(vec![info("docs", false), info("music", true)]));
    let mut p = Panel::new(events(list));
    p.panel.path = dir.path().display().to_string();
    let mut h = harness(p);
    h.run();
    assert!(has_text(&h, "Sharing active"), "named shares are sharing");
    assert!(has_text(&h, "/docs/") && has_text(&h, "/music/"));
    let removes: Vec<_> = h.query_all_by_label("Remove").collect();
    assert_eq!(removes.len(), 2);
    removes[1].click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::RemoveShare("music".into())]);
    // The form's box comes first, then one per row.
    h.query_all_by_label("Read-only").nth(1).expect("docs' box").click();
    h.run();
    assert_eq!(h.state_mut().sent(), [SessionCommand::SetShareReadOnly { name: "docs".into(), read_only: true }]);

    h.state_mut().panel.share_name = "new one".into();
    h.run();
    h.get_by_label("Add Named Share").click();
    h.run();
    let want = NamedShare::new("new one", root, false, Default::default());
    assert_eq!(h.state_mut().sent(), [SessionCommand::AddShare(want)]);
    h.state_mut().panel.share_name = "a/b".into();
    h.run();
    assert!(h.get_by_label("Add Named Share").accesskit_node().is_disabled(), "a bad name cannot be added");
}

#[test]
fn windows_hints_show_the_registry_fix_and_the_names() {
    use ryll::webdav::windows::{Direction, NamesUpdate, SizeLimitHit};
    use ryll::webdav::winnames::NameProblem;
    let dir = tempfile::tempdir().unwrap();
    let mut list = sharing(dir.path().canonicalize().unwrap());
    let hit = SizeLimitHit { direction: Direction::Download, path: "/big.iso".into(), size: Some(6), moved: 5 };
    list.push(SessionEvent::WindowsSizeLimit(hit));
    let new = vec![("/CON".to_string(), NameProblem::Reserved), ("/a?b".to_string(), NameProblem::Character('?'))];
    list.push(SessionEvent::WindowsNames(NamesUpdate { new, more: 3, more_at_least: false }));
    let mut h = harness(Panel::new(events(list)));
    h.run();
    assert!(has_text(&h, "Windows guest: file size limit"));
    assert!(has_text(&h, "FileSizeLimitInBytes"), "the registry fix");
    assert!(has_text(&h, "Windows guest cannot show 5 name(s)"));
}

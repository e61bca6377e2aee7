//! Remembered shares against the fake SPICE server (which sends MAIN_NAME and MAIN_UUID): a first session
//! remembers its share for the VM, a second one with no share shares the folder again and reports it; a vanished
//! folder is reported and skipped; a share given by the front end wins; the window's box saves and forgets; a zero
//! UUID keys the VM by name and address. Every store is a temporary file, never the user's config.

mod support;

use ryll::remember::store::Store;
use ryll::remember::{RememberedShare, VmKey};
use ryll::session::remember::{RememberConfig, RememberEvent, RememberMode};
use ryll::session::{SessionCommand, SessionEvent};
use support::http::get;
use support::{FakeServerConfig, Sharing};

fn remember(store: &Store, mode: RememberMode) -> Option<RememberConfig> {
    Some(RememberConfig { store: store.clone(), mode })
}

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("ryll").join(ryll::remember::FILE_NAME));
    (dir, store)
}

async fn wait_remember(s: &mut Sharing, what: &str, pred: impl Fn(&RememberEvent) -> bool) -> RememberEvent {
    match s.session.wait_for(what, |e| matches!(e, SessionEvent::Remember(r) if pred(r))).await {
        SessionEvent::Remember(r) => r,
        _ => unreachable!(),
    }
}

/// A remember event that came while the session started (before [`Sharing::start_with`] returned).
fn at_start(s: &Sharing, pred: impl Fn(&RememberEvent) -> bool) -> RememberEvent {
    let found = s.session.events().into_iter().find_map(|e| match e {
        SessionEvent::Remember(r) if pred(&r) => Some(r),
        _ => None,
    });
    found.unwrap_or_else(|| panic!("no such remember event at the start: {:#?}", s.session.events()))
}

fn fake_uuid_key() -> VmKey {
    VmKey::new(Some(&FakeServerConfig::default().uuid), None, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remembered_share_is_shared_again_at_the_next_connect() {
    let (_cfg, store) = temp_store();
    let mut first = Sharing::start_with(FakeServerConfig::default(), &[("hello.txt", b"remembered")], |c| {
        c.remember = remember(&store, RememberMode::Save);
    })
    .await;
    let saved = at_start(&first, |r| matches!(r, RememberEvent::Saved(_)));
    let root = std::fs::canonicalize(first.dir.path()).unwrap();
    assert_eq!(saved, RememberEvent::Saved(vec![RememberedShare::for_folder(root.clone(), false)]));
    assert_eq!(store.load(&fake_uuid_key()).unwrap(), vec![RememberedShare::for_folder(root.clone(), false)]);
    // The folder outlives the first session.
    let dir = std::mem::replace(&mut first.dir, tempfile::tempdir().unwrap());
    first.finish().await;

    let second = Sharing::start_with(FakeServerConfig::default(), &[], |c| {
        c.share = None;
        c.remember = remember(&store, RememberMode::Restore);
    })
    .await;
    let events = second.session.events();
    let restored = events
        .iter()
        .position(|e| {
            *e == SessionEvent::Remember(RememberEvent::Restored(RememberedShare::for_folder(root.clone(), false)))
        })
        .expect("the remembered share is reported");
    let started = events
        .iter()
        .position(|e| *e == SessionEvent::SharingStarted { root: root.clone(), read_only: false })
        .expect("the remembered share is started");
    let linked = events.iter().position(|e| matches!(e, SessionEvent::ChannelLinked(c) if *c == support::WEBDAV));
    assert!(restored < started && Some(started) < linked, "started before the WebDAV channel links: {events:#?}");
    assert!(events.contains(&SessionEvent::Remember(RememberEvent::Identified {
        key: fake_uuid_key().to_string(),
        remembering: true
    })));
    let resp = second.guest.connect().request(&get("/hello.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "remembered"));
    second.finish().await;
    drop(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_folder_is_skipped_and_the_command_line_wins() {
    let (cfg_dir, store) = temp_store();
    let gone = cfg_dir.path().join("gone");
    let kept = tempfile::tempdir().unwrap();
    let kept_root = std::fs::canonicalize(kept.path()).unwrap();
    let list = [RememberedShare::for_folder(gone.clone(), false), RememberedShare::for_folder(kept_root.clone(), true)];
    store.save(&fake_uuid_key(), "fake", &list).unwrap();

    let s = Sharing::start_with(FakeServerConfig::default(), &[], |c| {
        c.share = None;
        c.remember = remember(&store, RememberMode::Restore);
    })
    .await;
    let skipped = at_start(&s, |r| matches!(r, RememberEvent::Skipped { .. }));
    let RememberEvent::Skipped { share, reason } = skipped else { unreachable!() };
    assert_eq!(share.path, gone);
    assert!(reason.starts_with("cannot open it"), "{reason}");
    assert!(s.session.saw(|e| *e == SessionEvent::SharingStarted { root: kept_root.clone(), read_only: true }));
    s.finish().await;
    assert_eq!(store.load(&fake_uuid_key()).unwrap(), list, "a skipped folder stays remembered");

    // A share from the command line: the remembered ones are neither started nor changed.
    let mut s = Sharing::start_with(FakeServerConfig::default(), &[], |c| {
        c.remember = remember(&store, RememberMode::Restore);
    })
    .await;
    at_start(&s, |r| *r == RememberEvent::Overridden(2));
    assert!(!s.session.saw(|e| matches!(e, SessionEvent::Remember(RememberEvent::Restored(_)))));
    assert_eq!(store.load(&fake_uuid_key()).unwrap(), list);

    // The window's box: tick saves what is shared now, untick forgets.
    s.session.commands.send(SessionCommand::Remember(true)).await.unwrap();
    let own = RememberedShare::for_folder(std::fs::canonicalize(s.dir.path()).unwrap(), false);
    wait_remember(&mut s, "the box to save", |r| matches!(r, RememberEvent::Saved(_))).await;
    assert_eq!(store.load(&fake_uuid_key()).unwrap(), vec![own]);
    // With the box on, a new share is remembered too.
    let cfg = ryll::webdav::server::ShareConfig { root: kept_root.clone(), ..s.share_config() };
    s.session.commands.send(SessionCommand::StartSharing(cfg)).await.unwrap();
    wait_remember(&mut s, "the new share to be saved", |r| matches!(r, RememberEvent::Saved(_))).await;
    assert_eq!(store.load(&fake_uuid_key()).unwrap(), vec![RememberedShare::for_folder(kept_root, false)]);
    s.session.commands.send(SessionCommand::Remember(false)).await.unwrap();
    wait_remember(&mut s, "the box to forget", |r| *r == RememberEvent::Forgotten).await;
    assert_eq!(store.load(&fake_uuid_key()).unwrap(), vec![]);
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_uuid_keys_the_vm_by_name_and_address_and_no_remember_writes_nothing() {
    let (_cfg, store) = temp_store();
    let server_cfg = FakeServerConfig { uuid: [0; 16], vm_name: "zero-vm".into(), ..FakeServerConfig::default() };
    let s = Sharing::start_with(server_cfg.clone(), &[], |c| c.remember = remember(&store, RememberMode::Save)).await;
    at_start(&s, |r| matches!(r, RememberEvent::Saved(_)));
    let key = VmKey::new(None, Some("zero-vm"), &s.server.addr());
    assert!(s
        .session
        .saw(|e| *e == SessionEvent::Remember(RememberEvent::Identified { key: key.to_string(), remembering: true })));
    assert_eq!(store.load(&key).unwrap().len(), 1);
    s.finish().await;

    // Without a remember config (--no-remember), nothing is read: the session shares nothing and reports nothing.
    let mut s = Sharing::start_with(server_cfg, &[], |c| c.share = None).await;
    s.session.commands.send(SessionCommand::Remember(true)).await.unwrap();
    let failed = wait_remember(&mut s, "the refusal", |r| matches!(r, RememberEvent::Failed(_))).await;
    assert!(matches!(failed, RememberEvent::Failed(e) if e.contains("--no-remember")));
    assert!(!s.session.saw(|e| matches!(e, SessionEvent::SharingStarted { .. })));
    s.finish().await;
}

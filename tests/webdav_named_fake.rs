//! Named shares through the session and the WebDAV channel against a fake guest: `--share` at start, then adding,
//! making read-only and removing a share while a kept-alive guest connection to another share goes on, on one
//! link.

mod support;

use ryll::session::{SessionCommand, SessionEvent};
use ryll::webdav::named::NamedShare;
use ryll::webdav::protect::Protection;
use support::http::{get, propfind, put};
use support::Sharing;

fn names(ev: &SessionEvent) -> Option<Vec<String>> {
    match ev {
        SessionEvent::SharesChanged(list) => Some(list.iter().map(|s| s.name.clone()).collect()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shares_come_and_go_while_a_connection_to_another_share_keeps_working() {
    let mut s = Sharing::start_with(Default::default(), &[("a.txt", b"first")], |c| {
        let root = c.share.take().expect("the fixture's share").root;
        c.shares = vec![NamedShare::new("one", root, false, Protection::defaults())];
    })
    .await;
    let conn = s.guest.connect();
    let resp = conn.request(&get("/one/a.txt")).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"first"[..]));
    let listed = conn.request(&propfind("/", "1")).await;
    assert_eq!(listed.status, 207);
    assert!(String::from_utf8_lossy(&listed.body).contains("/one/"));

    let other = support::share_dir(&[("b.txt", b"second")]);
    s.session
        .command(SessionCommand::AddShare(NamedShare::new("two", other.path(), false, Protection::defaults())))
        .await;
    s.session.wait_for("two shares", |e| names(e).is_some_and(|n| n == ["one", "two"])).await;
    let resp = conn.request(&get("/two/b.txt")).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"second"[..]), "the new share, same connection");
    let resp = conn.request(&put("/one/new.txt", b"kept")).await;
    assert_eq!(resp.status, 201);

    s.session.command(SessionCommand::SetShareReadOnly { name: "two".into(), read_only: true }).await;
    s.session
        .wait_for("two read-only", |e| matches!(e, SessionEvent::SharesChanged(l) if l.iter().any(|s| s.read_only)))
        .await;
    assert_eq!(conn.request(&put("/two/b.txt", b"x")).await.status, 403);
    assert_eq!(std::fs::read(other.path().join("b.txt")).expect("read"), b"second");

    s.session.command(SessionCommand::RemoveShare("two".into())).await;
    s.session.wait_for("one share", |e| names(e).is_some_and(|n| n == ["one"])).await;
    assert_eq!(conn.request(&get("/two/b.txt")).await.status, 404);
    let resp = conn.request(&get("/one/new.txt")).await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"kept"[..]));
    assert_eq!(conn.with_state(|st| st.stream(conn.id()).closes), 0, "the connection was never closed");

    // Unknown names and a share at the root are refused with an error event; nothing changes.
    s.session.command(SessionCommand::RemoveShare("nope".into())).await;
    s.session.wait_for("an error", |e| matches!(e, SessionEvent::ShareError(t) if t.contains("nope"))).await;
    s.session
        .command(SessionCommand::AddShare(NamedShare::new("one", other.path(), false, Protection::defaults())))
        .await;
    s.session.wait_for("a duplicate", |e| matches!(e, SessionEvent::ShareError(t) if t.contains("one"))).await;

    // Removing the last share stops sharing.
    s.session.command(SessionCommand::RemoveShare("one".into())).await;
    s.session.wait_for("sharing to stop", |e| *e == SessionEvent::SharingStopped).await;
    s.session.wait_for("no shares", |e| names(e).is_some_and(|n| n.is_empty())).await;
    assert_eq!(s.server.state().webdav_links, 1, "share changes must not relink the channel");
    s.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn named_shares_wait_for_the_root_share_to_stop() {
    let mut s = Sharing::start(&[("a.txt", b"root share")]).await;
    let other = support::share_dir(&[]);
    let share = NamedShare::new("two", other.path(), false, Protection::defaults());
    s.session.command(SessionCommand::AddShare(share.clone())).await;
    s.session.wait_for("a refusal", |e| matches!(e, SessionEvent::ShareError(t) if t.contains("root"))).await;
    assert_eq!(s.guest.connect().request(&get("/a.txt")).await.status, 200, "the root share stays");
    s.session.command(SessionCommand::StopSharing).await;
    s.session.wait_for("sharing to stop", |e| *e == SessionEvent::SharingStopped).await;
    s.session.command(SessionCommand::AddShare(share)).await;
    s.session.wait_for("the named share", |e| names(e).is_some_and(|n| n == ["two"])).await;
    assert_eq!(s.guest.connect().request(&get("/two/")).await.status, 200);
    s.finish().await;
}

//! A fake server plus a ryll session that shares a temporary folder: the starting point of the WebDAV tests.

use super::{init_tracing, share_dir, within, FakeGuest, FakeServer, FakeServerConfig, RunningSession};
use ryll::channels::webdav::WebdavEvent;
use ryll::session::{SessionConfig, SessionEnd, SessionEvent};
use ryll::webdav::server::ShareConfig;
use std::path::PathBuf;

/// A session linked to a fake server, with its WebDAV channel up.
pub struct Sharing {
    /// The fake server.
    pub server: FakeServer,
    /// ryll's session.
    pub session: RunningSession,
    /// The guest side of the WebDAV channel.
    pub guest: FakeGuest,
    /// The shared folder.
    pub dir: tempfile::TempDir,
}

impl Sharing {
    /// Shares a folder holding `files`, with default server and session settings, and waits for the open port.
    pub async fn start(files: &[(&str, &[u8])]) -> Sharing {
        Sharing::start_with(FakeServerConfig::default(), files, |_| {}).await
    }

    /// Like [`start`](Self::start) with a server config and a tweak of the session config (which starts out
    /// sharing the folder read-write).
    pub async fn start_with(
        server_cfg: FakeServerConfig,
        files: &[(&str, &[u8])],
        tweak: impl FnOnce(&mut SessionConfig),
    ) -> Sharing {
        init_tracing();
        let dir = share_dir(files);
        let opened = server_cfg.port_opened;
        let server = FakeServer::start(server_cfg).await;
        let mut cfg = SessionConfig {
            addr: server.addr(),
            share: Some(ShareConfig {
                root: dir.path().to_path_buf(),
                read_only: false,
                private: false,
                protection: Default::default(),
            }),
            ..SessionConfig::default()
        };
        tweak(&mut cfg);
        let mut session = RunningSession::start(cfg);
        session.wait_for("PORT_INIT", |e| matches!(e, SessionEvent::Webdav(WebdavEvent::PortInit { .. }))).await;
        if opened {
            session.wait_for("the port to open", |e| matches!(e, SessionEvent::Webdav(WebdavEvent::PortOpened))).await;
        }
        server.wait_webdav_links(1).await;
        let guest = server.guest();
        Sharing { server, session, guest, dir }
    }

    /// The share configuration of this folder.
    pub fn share_config(&self) -> ShareConfig {
        ShareConfig {
            root: self.dir.path().to_path_buf(),
            read_only: false,
            private: false,
            protection: Default::default(),
        }
    }

    /// A path inside the shared folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Waits for a WebDAV event after the previous match.
    pub async fn wait_webdav(&mut self, what: &str, pred: impl Fn(&WebdavEvent) -> bool) -> WebdavEvent {
        match self.session.wait_for(what, |e| matches!(e, SessionEvent::Webdav(w) if pred(w))).await {
            SessionEvent::Webdav(w) => w,
            _ => unreachable!(),
        }
    }

    /// Disconnects, checks the session ended cleanly and the client kept to the protocol, and waits until the
    /// share serves no connection (so no WebDAV task is still running when the test's runtime shuts down).
    pub async fn finish(self) {
        let Sharing { server, session, .. } = self;
        assert!(!session.ended(), "the session ended early: {:#?}", session.events());
        let share = session.shared.current_share().map(|s| s.stats());
        assert_eq!(session.disconnect().await, SessionEnd::UserRequested);
        if let Some(stats) = share {
            within("the share's connections to end", async {
                while stats.snapshot().connections_open > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            })
            .await;
        }
        server.assert_no_problems();
        assert!(server.state().max_frame_payload <= ryll::webdav::mux::MAX_FRAME_PAYLOAD);
    }
}

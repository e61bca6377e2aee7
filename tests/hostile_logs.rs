//! A hostile server floods the WebDAV channel with PORT_EVENT open/close pairs. Before, every pair cost eight log
//! lines (94 MB for 100 000 pairs); now lines a peer can trigger are rate-limited, and the next line after a flood
//! says how many were left out. This file holds one test because it installs the process's tracing subscriber.

mod support;

use ryll::channels::webdav::WebdavEvent;
use ryll::protocol::vmc::PortEvent;
use ryll::session::SessionEvent;
use std::io::Write;
use std::sync::{Arc, Mutex};
use support::http::get;
use support::Sharing;

/// Collects every formatted log line.
#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const PAIRS: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_port_event_flood_is_summarised_not_logged_line_by_line() {
    let lines = Lines::default();
    let writer = lines.clone();
    tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_writer(move || writer.clone()).init();
    let s = Sharing::start(&[("a.txt", b"still here")]).await;
    for _ in 0..PAIRS {
        s.guest.port_event(PortEvent::Closed);
        s.guest.port_event(PortEvent::Opened);
    }
    s.guest.ping(77);
    s.guest.wait_pong(77).await;
    let resp = s.guest.connect().request(&get("/a.txt")).await;
    assert_eq!((resp.status, resp.text().as_str()), (200, "still here"));
    let closes = |e: &SessionEvent| matches!(e, SessionEvent::Webdav(WebdavEvent::PortClosed));
    support::within("every port event to reach the front end", async {
        while s.session.events().iter().filter(|e| closes(e)).count() < PAIRS {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    // The front ends log every event through event_log, as headless does.
    for ev in s.session.events() {
        ryll::event_log::log_event(&ev);
    }
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let count = text.lines().count();
    eprintln!("{count} log lines for {PAIRS} pairs");
    assert!(count < 60, "{count} log lines for {PAIRS} open/close pairs:\n{}", &text[..text.len().min(4000)]);
    s.finish().await;
}

//! `ryll --screenshot` when there is no screen to take, against the in-process fake server: it exits 1 with the
//! reason, and a display message it cannot parse is refused with a log line while the channel stays up.

mod support;

use ryll::protocol::constants::ChannelType;
use ryll::protocol::main_channel::ChannelId;
use std::process::{Command, Stdio};
use support::{FakeServer, FakeServerConfig, WEBDAV};

const DISPLAY: ChannelId = ChannelId { channel_type: ChannelType::Display, id: 0 };

/// Runs `ryll --screenshot` against `addr`; returns (exit code, log, whether the file exists).
async fn screenshot(addr: String, timeout: &'static str) -> (Option<i32>, String, bool) {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let shot = dir.path().join("shot.png");
        let out = Command::new(env!("CARGO_BIN_EXE_ryll"))
            .args(["--direct", &addr, "--screenshot"])
            .arg(&shot)
            .args(["--screenshot-timeout", timeout])
            .env_remove("RYLL_PASSWORD")
            .env_remove("SPICE_PROXY")
            .env("RYLL_LOG", "ryll=debug")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned(), shot.exists())
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_server_without_a_display_channel_is_named_at_once() {
    let server = FakeServer::start(FakeServerConfig::default()).await;
    let (code, log, written) = screenshot(server.addr(), "30").await;
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("screenshot: the server offers no display channel"), "{log}");
    assert!(!written);
}

#[tokio::test]
async fn a_display_channel_that_sends_no_screen_times_out_with_the_reason() {
    let server = FakeServer::start(FakeServerConfig::default().channels(&[DISPLAY, WEBDAV])).await;
    let (code, log, written) = screenshot(server.addr(), "10").await;
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("channel linked: 2:0 (display)"), "{log}");
    // The fake's one channel message is type 101, an empty MODE: refused, and the channel stays.
    assert!(log.contains("MODE (101) refused"), "{log}");
    assert!(
        log.contains("no settled screen after 10 s: the display channel linked but the server sent no screen"),
        "{log}"
    );
    assert!(!written);
}

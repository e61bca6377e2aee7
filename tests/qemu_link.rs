//! ryll against a real QEMU SPICE server with no guest OS: link, channel list, WebDAV PORT_INIT, passwords,
//! the headless binary's exit codes and messages, and captures that tshark decodes.

mod qemu;

use qemu::{events_until, Qemu};
use ryll::channels::webdav::WebdavEvent;
use ryll::connect::password::Password;
use ryll::protocol::constants::ChannelType;
use ryll::protocol::main_channel::ChannelId;
use ryll::session::{self, SessionConfig, SessionEnd, SessionEvent};
use std::process::{Command, Stdio};
use std::time::Duration;

const WEBDAV: ChannelId = ChannelId { channel_type: ChannelType::Webdav, id: 0 };

fn config(addr: String, password: &str) -> SessionConfig {
    SessionConfig { addr, password: Password::new(password), ..Default::default() }
}

#[tokio::test]
async fn links_main_and_webdav_and_reads_port_init() {
    let Some(qemu) = Qemu::start(None, true) else { return };
    let mut handle = session::start(config(qemu.addr(), ""));
    let seen = events_until(&mut handle, |e| matches!(e, SessionEvent::Webdav(WebdavEvent::PortInit { .. }))).await;
    assert!(seen.iter().any(|e| matches!(e, SessionEvent::Connected { session_id } if *session_id != 0)), "{seen:?}");
    assert!(seen.contains(&SessionEvent::ChannelOffered(WEBDAV)), "{seen:?}");
    assert!(seen.contains(&SessionEvent::ChannelLinked(WEBDAV)), "{seen:?}");
    // QEMU without -uuid sends a UUID of zeros (the remembered shares' key is then the name and address).
    assert!(seen.contains(&SessionEvent::ServerUuid("00000000-0000-0000-0000-000000000000".into())), "{seen:?}");
    assert_eq!(
        seen.last(),
        Some(&SessionEvent::Webdav(WebdavEvent::PortInit { name: "org.spice-space.webdav.0".into(), opened: false }))
    );
    // Channels ryll does not handle are listed, not linked.
    let inputs = ChannelId { channel_type: ChannelType::Inputs, id: 0 };
    assert!(seen.contains(&SessionEvent::ChannelNotHandled(inputs)), "{seen:?}");
    assert!(!seen.contains(&SessionEvent::ChannelLinked(inputs)));
    handle.disconnect().await;
    let rest = events_until(&mut handle, |_| false).await;
    assert_eq!(rest.last(), Some(&SessionEvent::Ended(SessionEnd::UserRequested)));
}

#[tokio::test]
async fn the_right_password_links_and_a_wrong_one_is_refused() {
    let Some(qemu) = Qemu::start(Some("secret"), true) else { return };
    let mut good = session::start(config(qemu.addr(), "secret"));
    let seen = events_until(&mut good, |e| matches!(e, SessionEvent::ChannelLinked(c) if *c == WEBDAV)).await;
    assert!(seen.contains(&SessionEvent::ChannelLinked(WEBDAV)), "{seen:?}");
    good.disconnect().await;
    events_until(&mut good, |_| false).await;

    let mut bad = session::start(config(qemu.addr(), "wrong"));
    let seen = events_until(&mut bad, |_| false).await;
    match seen.last() {
        Some(SessionEvent::Ended(SessionEnd::Failed(msg))) => {
            assert!(msg.contains("PERMISSION_DENIED") && msg.contains("password"), "{msg}")
        }
        other => panic!("expected a wrong-password failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_without_the_webdav_port_is_reported_and_the_session_stays_up() {
    let Some(qemu) = Qemu::start(None, false) else { return };
    let mut handle = session::start(config(qemu.addr(), ""));
    let seen = events_until(&mut handle, |e| *e == SessionEvent::NoWebdavChannel).await;
    assert_eq!(seen.last(), Some(&SessionEvent::NoWebdavChannel));
    // Still connected: nothing else happens until we disconnect.
    assert!(tokio::time::timeout(Duration::from_millis(500), handle.events.recv()).await.is_err());
    handle.disconnect().await;
}

fn ryll() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ryll"));
    cmd.env_remove("RYLL_PASSWORD").env("RYLL_LOG", "ryll=info").stdin(Stdio::null());
    // Never the user's remembered shares.
    cmd.env("XDG_CONFIG_HOME", "/nonexistent/ryll-test-config");
    cmd
}

#[test]
fn headless_binary_logs_channels_and_exits_0_on_sigterm() {
    let Some(qemu) = Qemu::start(None, true) else { return };
    let share = tempfile::tempdir().unwrap();
    let captures = tempfile::tempdir().unwrap();
    let child = ryll()
        .args(["--direct", &qemu.addr(), "--headless", "--capture"])
        .arg(captures.path())
        .arg("--share-dir")
        .arg(share.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    unsafe_sigterm(child.id());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("server name: QEMU"), "{log}");
    assert!(log.contains("channel offered: 11:0 (webdav)"), "{log}");
    assert!(log.contains("channel linked: 11:0 (webdav)"), "{log}");
    let canonical = share.path().canonicalize().unwrap();
    assert!(log.contains(&format!("sharing {} (read-write)", canonical.display())), "{log}");

    // The captures decode as SPICE in tshark, when it is installed.
    let main_pcap = captures.path().join("main-0.pcap");
    assert!(main_pcap.exists() && captures.path().join("webdav-0.pcap").exists());
    match Command::new("tshark")
        .arg("-r")
        .arg(&main_pcap)
        .args(["-d", &format!("tcp.port=={},spice", qemu.port)])
        .output()
    {
        Ok(t) => {
            let text = String::from_utf8_lossy(&t.stdout);
            assert!(text.contains("Client link message") && text.contains("Server INIT"), "{text}");
        }
        Err(_) => eprintln!("tshark not installed; capture decoding not checked"),
    }
}

#[test]
fn headless_binary_exits_1_with_the_reason_when_the_server_goes_away() {
    let Some(mut qemu) = Qemu::start(None, true) else { return };
    let child = ryll().args(["--direct", &qemu.addr(), "--headless"]).stderr(Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    qemu.kill();
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("session ended: the server closed the connection"), "{log}");
}

#[test]
fn headless_binary_explains_refused_connections_and_wrong_passwords() {
    let port = qemu::free_port();
    let out = ryll().args(["--direct", &format!("127.0.0.1:{port}"), "--headless"]).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("connection refused by 127.0.0.1"), "{log}");

    let Some(qemu) = Qemu::start(Some("secret"), false) else { return };
    let out = ryll().args(["--direct", &qemu.addr(), "--headless"]).env("RYLL_PASSWORD", "nope").output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("PERMISSION_DENIED") && log.contains("RYLL_PASSWORD"), "{log}");
    assert!(!log.contains("nope"), "the password must never be logged: {log}");
}

fn unsafe_sigterm(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

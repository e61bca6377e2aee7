//! ryll against a real QEMU SPICE server with TLS (certificates generated here with rcgen): every channel over
//! TLS, certificate errors, host subjects, the NEED_SECURED retry, and the binary with `.vv` files and URIs.

mod qemu;

use qemu::{
    events_until, openssl_available, OpensslPki, Qemu, QemuOptions, TestPki, OPENSSL_SERVER_SUBJECT, SERVER_SUBJECT,
};
use ryll::channels::webdav::WebdavEvent;
use ryll::connect::dial::{TlsEndpoint, Transport};
use ryll::connect::password::Password;
use ryll::connect::target::SecureChannels;
use ryll::connect::tls::{TlsConfig, TlsOptions};
use ryll::protocol::constants::ChannelType;
use ryll::protocol::main_channel::ChannelId;
use ryll::session::{self, SessionConfig, SessionEnd, SessionEvent};
use std::process::{Command, Stdio};
use std::time::Duration;

const WEBDAV: ChannelId = ChannelId { channel_type: ChannelType::Webdav, id: 0 };

fn tls_endpoint(host: &str, port: u16, ca_pem: &str, host_subject: Option<&str>) -> TlsEndpoint {
    let opts = TlsOptions {
        ca_pem: Some(ca_pem.to_string()),
        host_subject: host_subject.map(str::to_string),
        ..TlsOptions::default()
    };
    TlsEndpoint { host: host.into(), port, config: TlsConfig::new(host, &opts).expect("TLS config") }
}

fn tls_config(addr: String, tls: TlsEndpoint) -> SessionConfig {
    SessionConfig { addr, transport: Transport { tls: Some(tls), ..Transport::default() }, ..SessionConfig::default() }
}

fn tls_server(pki: &TestPki, tls_only: bool, tls_channels: &[&str]) -> Option<Qemu> {
    tls_server_in(pki.dir(), tls_only, tls_channels)
}

fn tls_server_in(dir: &std::path::Path, tls_only: bool, tls_channels: &[&str]) -> Option<Qemu> {
    Qemu::start_with(QemuOptions {
        webdav: true,
        tls_dir: Some(dir.to_path_buf()),
        tls_only,
        tls_channels: tls_channels.iter().map(|c| c.to_string()).collect(),
        ..QemuOptions::default()
    })
}

/// Runs a session until the WebDAV PORT_INIT (or the end) and checks main and WebDAV both linked.
async fn assert_links_webdav(config: SessionConfig) {
    let mut handle = session::start(config);
    let seen = events_until(&mut handle, |e| matches!(e, SessionEvent::Webdav(WebdavEvent::PortInit { .. }))).await;
    assert!(seen.iter().any(|e| matches!(e, SessionEvent::Connected { .. })), "{seen:?}");
    assert!(seen.contains(&SessionEvent::ChannelLinked(WEBDAV)), "{seen:?}");
    assert!(matches!(seen.last(), Some(SessionEvent::Webdav(WebdavEvent::PortInit { .. }))), "{seen:?}");
    handle.disconnect().await;
    let rest = events_until(&mut handle, |_| false).await;
    assert_eq!(rest.last(), Some(&SessionEvent::Ended(SessionEnd::UserRequested)));
}

/// Runs a session that must fail, and returns its one-line error.
async fn failure(config: SessionConfig) -> String {
    let mut handle = session::start(config);
    let seen = events_until(&mut handle, |_| false).await;
    match seen.last() {
        Some(SessionEvent::Ended(SessionEnd::Failed(msg))) => msg.clone(),
        other => panic!("expected a failure, got {other:?} after {seen:?}"),
    }
}

#[tokio::test]
async fn every_channel_links_over_tls_including_webdav() {
    let pki = TestPki::new(&["127.0.0.1", "spice.test"]);
    // A TLS-only server: nothing can link in plain text.
    let Some(qemu) = tls_server(&pki, true, &[]) else { return };
    let tls = tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, None);
    assert_links_webdav(tls_config(String::new(), tls)).await;
}

#[tokio::test]
async fn a_matching_host_subject_is_accepted_even_when_the_host_name_is_not_in_the_certificate() {
    let pki = TestPki::new(&["spice.test"]);
    let Some(qemu) = tls_server(&pki, true, &[]) else { return };
    let subject = "C=XX, L=test city,O=ryll  tests,CN=SPICE.test";
    let tls = tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, Some(subject));
    assert_links_webdav(tls_config(String::new(), tls)).await;
}

#[tokio::test]
async fn certificate_errors_are_one_clear_line() {
    let pki = TestPki::new(&["spice.test"]);
    let Some(qemu) = tls_server(&pki, true, &[]) else { return };
    let port = qemu.tls_port();

    let other_ca = TestPki::new(&["spice.test"]);
    let msg = failure(tls_config(String::new(), tls_endpoint("127.0.0.1", port, &other_ca.ca_pem, None))).await;
    assert!(msg.contains("not trusted") && msg.contains("--ca-file"), "{msg}");

    let wrong = "C=XX,L=Test City,O=ryll tests,CN=other.test";
    let msg = failure(tls_config(String::new(), tls_endpoint("127.0.0.1", port, &pki.ca_pem, Some(wrong)))).await;
    assert!(msg.contains(&format!("has the subject \"{SERVER_SUBJECT}\"")), "{msg}");
    assert!(msg.contains(wrong) && msg.contains("--host-subject"), "{msg}");

    let msg = failure(tls_config(String::new(), tls_endpoint("127.0.0.1", port, &pki.ca_pem, None))).await;
    assert!(msg.contains("not valid for 127.0.0.1") && msg.contains("spice.test"), "{msg}");

    // TLS to the plain port of another server is a handshake failure that names the likely mix-up.
    let Some(plain) = Qemu::start(None, false) else { return };
    let msg = failure(tls_config(String::new(), tls_endpoint("127.0.0.1", plain.port, &pki.ca_pem, None))).await;
    assert!(msg.contains("TLS handshake") && msg.contains("tls-port"), "{msg}");
}

#[tokio::test]
async fn need_secured_on_the_plain_port_is_retried_over_tls() {
    let pki = TestPki::new(&["127.0.0.1"]);
    // Main must use TLS; WebDAV may stay plain.
    let Some(qemu) = tls_server(&pki, false, &["main"]) else { return };
    let tls = tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, None);
    assert_links_webdav(tls_config(qemu.addr(), tls)).await;

    // Without a TLS port the plain link's NEED_SECURED is the error, with the next step.
    let msg = failure(SessionConfig { addr: qemu.addr(), ..SessionConfig::default() }).await;
    assert!(msg.contains("NEED_SECURED") && msg.contains("TLS_PORT"), "{msg}");
}

#[tokio::test]
async fn every_channel_is_retried_over_tls_when_the_server_secures_all_of_them() {
    let pki = TestPki::new(&["127.0.0.1"]);
    let Some(qemu) = tls_server(&pki, false, &["default"]) else { return };
    let tls = tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, None);
    assert_links_webdav(tls_config(qemu.addr(), tls.clone())).await;
    // The policy can also send every channel straight to the TLS port.
    let mut config = tls_config(qemu.addr(), tls);
    config.transport.secure_channels = SecureChannels::All;
    config.password = Password::new("");
    assert_links_webdav(config).await;
}

fn ryll() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ryll"));
    cmd.env_remove("RYLL_PASSWORD").env_remove("SPICE_PROXY").env("RYLL_LOG", "ryll=debug").stdin(Stdio::null());
    // Never the user's remembered shares.
    cmd.env("XDG_CONFIG_HOME", "/nonexistent/ryll-test-config");
    cmd
}

/// Runs the binary for a while, stops it with SIGTERM, and returns (exit code, log).
fn run_for(mut cmd: Command, secs: u64) -> (Option<i32>, String) {
    let child = cmd.stderr(Stdio::piped()).spawn().expect("spawn ryll");
    std::thread::sleep(Duration::from_secs(secs));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let out = child.wait_with_output().expect("ryll output");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_binary_connects_with_a_vv_file_and_deletes_it() {
    let pki = TestPki::new(&["spice.test"]);
    let Some(qemu) = Qemu::start_with(QemuOptions {
        password: Some("vv-ticket".into()),
        webdav: true,
        tls_dir: Some(pki.dir().to_path_buf()),
        tls_only: true,
        ..QemuOptions::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let vv = dir.path().join("console.vv");
    let ca_escaped = pki.ca_pem.replace('\n', "\\n");
    std::fs::write(
        &vv,
        format!(
            "[virt-viewer]\ntype=spice\nhost=127.0.0.1\ntls-port={}\npassword=vv-ticket\nca={ca_escaped}\n\
             host-subject={SERVER_SUBJECT}\nsecure-channels=main;webdav\ntitle=Test VM\ndelete-this-file=1\n\
             toggle-fullscreen=shift+f11\n",
            qemu.tls_port()
        ),
    )
    .unwrap();
    let mut cmd = ryll();
    cmd.arg(&vv).arg("--headless");
    let (code, log) = run_for(cmd, 3);
    assert_eq!(code, Some(0), "{log}");
    assert!(!vv.exists(), "delete-this-file=1 must delete the file");
    assert!(log.contains("session: Test VM"), "{log}");
    assert!(log.contains("channel linked: 11:0 (webdav)"), "{log}");
    assert!(log.contains("main channel linked over TLS") && log.contains("webdav channel linked over TLS"), "{log}");
    assert!(!log.contains("vv-ticket"), "the password must never be logged: {log}");
}

#[test]
fn the_binary_connects_with_a_tls_uri_and_explains_a_missing_ca() {
    let pki = TestPki::new(&["127.0.0.1"]);
    let Some(qemu) = tls_server(&pki, true, &[]) else { return };
    let uri = format!("spice+tls://127.0.0.1:{}", qemu.tls_port());
    let mut cmd = ryll();
    cmd.arg(&uri).arg("--ca-file").arg(pki.ca_file()).arg("--headless");
    let (code, log) = run_for(cmd, 3);
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("channel linked: 11:0 (webdav)"), "{log}");

    // Without --ca-file the system trust store does not know the test CA.
    let out = ryll().args([&uri, "--headless"]).env("SSL_CERT_FILE", pki.ca_file().with_extension("none")).output();
    let out = out.unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("--ca-file"), "{log}");
}

/// A TLS-only QEMU serving `pki`'s certificates, or None (skipped) without openssl or QEMU.
fn openssl_server(pki: &OpensslPki) -> Option<Qemu> {
    tls_server_in(pki.dir(), true, &[])
}

/// The certificate with one bit of its signature flipped (the signature is the last field of the DER).
fn tamper_signature(pem: &str) -> String {
    use base64::Engine;
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut der = base64::engine::general_purpose::STANDARD.decode(b64).expect("certificate base64");
    if let Some(last) = der.last_mut() {
        *last ^= 0x01;
    }
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

#[tokio::test]
async fn an_x509_v1_certificate_made_the_spice_manual_way_is_accepted() {
    if !openssl_available() {
        return;
    }
    let pki = OpensslPki::new("ryll test CA", 1095);
    assert!(std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(pki.dir().join("server-cert.pem"))
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("Version: 1 (0x0)")));
    let Some(qemu) = openssl_server(&pki) else { return };
    // The host name matches the CN (a v1 certificate has no subjectAltName) ...
    let tls = tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, None);
    assert_links_webdav(tls_config(String::new(), tls)).await;
    // ... and the host subject matches the subject.
    let tls = tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, Some(OPENSSL_SERVER_SUBJECT));
    assert_links_webdav(tls_config(String::new(), tls)).await;
    // The identity rules still apply to v1 certificates.
    let wrong = "C=XX,L=Test City,O=ryll tests,CN=other";
    let msg =
        failure(tls_config(String::new(), tls_endpoint("127.0.0.1", qemu.tls_port(), &pki.ca_pem, Some(wrong)))).await;
    assert!(msg.contains("--host-subject") && msg.contains(OPENSSL_SERVER_SUBJECT), "{msg}");
    let msg = failure(tls_config(String::new(), tls_endpoint("localhost", qemu.tls_port(), &pki.ca_pem, None))).await;
    assert!(msg.contains("not valid for localhost") && msg.contains("CN=127.0.0.1"), "{msg}");
}

#[tokio::test]
async fn x509_v1_certificates_are_refused_for_a_wrong_ca_an_expiry_and_a_tampered_signature() {
    if !openssl_available() {
        return;
    }
    let pki = OpensslPki::new("ryll test CA", 1095);
    let Some(qemu) = openssl_server(&pki) else { return };
    let port = qemu.tls_port();

    // Another CA: the certificate's issuer is not among the CAs given.
    let other = OpensslPki::new("another CA", 1095);
    let msg = failure(tls_config(String::new(), tls_endpoint("127.0.0.1", port, &other.ca_pem, None))).await;
    assert!(msg.contains("not trusted") && msg.contains("X.509 v1") && msg.contains("issued by"), "{msg}");
    assert!(msg.contains("CN=ryll test CA") && msg.contains("CN=another CA") && msg.contains("--ca-file"), "{msg}");

    // Another CA under the same name: the signature does not verify with its key.
    let twin = OpensslPki::new("ryll test CA", 1095);
    let msg = failure(tls_config(String::new(), tls_endpoint("127.0.0.1", port, &twin.ca_pem, None))).await;
    assert!(msg.contains("not trusted") && msg.contains("signature does not verify"), "{msg}");

    // Expired.
    let expired = OpensslPki::new("ryll test CA", -1);
    let Some(expired_qemu) = openssl_server(&expired) else { return };
    let tls = tls_endpoint("127.0.0.1", expired_qemu.tls_port(), &expired.ca_pem, None);
    let msg = failure(tls_config(String::new(), tls)).await;
    assert!(msg.contains("has expired") && msg.contains("renew"), "{msg}");

    // A tampered signature, from the right CA.
    let tampered = OpensslPki::new("ryll test CA", 1095);
    tampered.set_server_pem(&tamper_signature(&tampered.server_pem()));
    let Some(tampered_qemu) = openssl_server(&tampered) else { return };
    let tls = tls_endpoint("127.0.0.1", tampered_qemu.tls_port(), &tampered.ca_pem, None);
    let msg = failure(tls_config(String::new(), tls)).await;
    assert!(msg.contains("signature does not verify") && msg.contains("altered"), "{msg}");
}

use super::*;
use crate::connect::password::Password;
use crate::connect::proxy::ProxyUrl;
use crate::session::SessionConfig;
use flate2::read::GzDecoder;
use std::io::Read;

const PASSWORD: &str = "kerbside-token-5f2c9a";
const PROXY_PASSWORD: &str = "hunter2pw";

fn entries(path: &Path) -> Vec<(String, Vec<u8>, u32)> {
    let mut archive = tar::Archive::new(GzDecoder::new(fs::File::open(path).expect("open the bundle")));
    let mut out = Vec::new();
    for e in archive.entries().expect("entries") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").display().to_string();
        let mode = e.header().mode().expect("mode");
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).expect("read");
        out.push((name, bytes, mode));
    }
    out
}

fn config() -> SessionConfig {
    let mut cfg = SessionConfig { password: Password::new(PASSWORD), ..SessionConfig::default() };
    cfg.transport.proxy = Some(ProxyUrl::parse(&format!("http://alice:{PROXY_PASSWORD}@proxy:3128")).expect("url"));
    cfg
}

#[test]
fn a_bundle_holds_the_report_the_log_and_the_capture_and_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = dir.path().join("capture");
    fs::create_dir(&capture).expect("capture dir");
    let secrets = Secrets::of(&config());
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("alice:{PROXY_PASSWORD}"));
    let mut pcap = b"\xd4\xc3\xb2\xa1 header ".to_vec();
    pcap.extend_from_slice(PASSWORD.as_bytes());
    pcap.extend_from_slice(format!(" Proxy-Authorization: Basic {basic}").as_bytes());
    fs::write(capture.join("main-0.pcap"), &pcap).expect("write capture");
    let setup = ReportSetup { secrets, capture_dir: Some(capture), out_dir: dir.path().join("reports") };
    let info = ReportInfo {
        error: format!("the server refused the ticket {PASSWORD}"),
        server: Some("vm.example:5900".into()),
        vm_name: Some("test-vm".into()),
        connection: "ended".into(),
        channels: vec!["display 0: linked".into()],
        ..ReportInfo::default()
    };
    let log = vec![format!("INFO connecting with password {PASSWORD}"), "INFO second line".to_string()];
    let path = write_bundle(&setup, &info, &log).expect("write the bundle");
    assert!(path.starts_with(dir.path().join("reports")), "{}", path.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    }
    let files = entries(&path);
    let names: Vec<&str> = files.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["ryll-bug-report/report.txt", "ryll-bug-report/log.txt", "ryll-bug-report/capture/main-0.pcap"]);
    for (name, bytes, mode) in &files {
        for secret in [PASSWORD, PROXY_PASSWORD, basic.as_str()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in {name}");
        }
        assert_eq!(*mode, 0o600, "{name}");
    }
    let report = String::from_utf8_lossy(&files[0].1);
    for want in [env!("CARGO_PKG_VERSION"), "vm.example:5900", "test-vm", "display 0: linked", REDACTED, "secret(s)"] {
        assert!(report.contains(want), "report lacks {want}:\n{report}");
    }
    assert!(report.contains(&os_description()), "{report}");
    let log_text = String::from_utf8_lossy(&files[1].1);
    assert!(log_text.contains("INFO second line") && log_text.contains("password [redacted]"), "{log_text}");
    assert_eq!(files[2].1.len(), pcap.len(), "masking keeps the capture's sizes");
    // No partial file is left behind.
    let left: Vec<_> = fs::read_dir(dir.path().join("reports")).expect("list").collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn a_capture_over_the_limit_is_named_not_copied() {
    let dir = tempfile::tempdir().expect("tempdir");
    let capture = dir.path().join("capture");
    fs::create_dir(&capture).expect("capture dir");
    let big = fs::File::create(capture.join("display-0.pcap")).expect("create");
    big.set_len(MAX_CAPTURE_BYTES + 1).expect("sparse file");
    let setup = ReportSetup { capture_dir: Some(capture), out_dir: dir.path().to_path_buf(), ..ReportSetup::default() };
    let path = write_bundle(&setup, &ReportInfo::default(), &[]).expect("write the bundle");
    let files = entries(&path);
    assert_eq!(files.len(), 2, "report and log only");
    assert!(String::from_utf8_lossy(&files[0].1).contains("not included"));
}

#[test]
fn the_default_directory_follows_xdg_state_home() {
    let dir = default_dir();
    assert!(dir.ends_with("ryll/bug-reports") || dir.ends_with("ryll-bug-reports"), "{}", dir.display());
}

//! Starts a real QEMU SPICE server (no guest OS) for integration tests.
//!
//! Tests that need it call [`Qemu::start`]; when `qemu-system-x86_64` is missing the test is skipped with a note,
//! unless `CI` is set, in which case it fails (CI installs QEMU, so a missing binary is a broken setup).
//!
//! [`Qemu::start_with`] adds TLS: a TLS port with certificates from a [`TestPki`] (generated with rcgen), optionally
//! no plain port, and `tls-channel=` policies that make the server answer NEED_SECURED on the plain port.
#![allow(dead_code)]

#[path = "../skips/mod.rs"]
pub mod skips;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Qemu {
    child: Child,
    /// The QMP socket's directory, when the guest runs a display.
    qmp_dir: Option<tempfile::TempDir>,
    /// The plain port (0 when QEMU has none).
    pub port: u16,
    /// The TLS port, when TLS is on.
    pub tls_port: Option<u16>,
}

/// What [`Qemu::start_with`] starts.
#[derive(Debug, Clone, Default)]
pub struct QemuOptions {
    /// Turns ticketing on with this password.
    pub password: Option<String>,
    /// Adds the WebDAV port device.
    pub webdav: bool,
    /// Opens a TLS port with the certificates in this directory (ca-cert.pem, server-cert.pem, server-key.pem).
    pub tls_dir: Option<PathBuf>,
    /// No plain port (TLS only).
    pub tls_only: bool,
    /// `tls-channel=` values: channel names or `default` (every channel).
    pub tls_channels: Vec<String>,
    /// Boot a guest that draws (instead of a paused machine with no guest), with a QMP socket for screendumps.
    pub display: Option<DisplayGuest>,
}

/// A guest that draws: the display fixtures' boot sector (`tests/fixtures/display/scene.img`: SeaBIOS, then a
/// still 640×400 picture), on a display device, with a SPICE image compression and every lossy mode off.
#[derive(Debug, Clone)]
pub struct DisplayGuest {
    /// `std`, `qxl` or `virtio` (`-device virtio-vga`).
    pub vga: &'static str,
    /// `-spice image-compression=` value.
    pub image_compression: &'static str,
    /// Start paused (`-S`): the guest runs after [`Qemu::cont`].
    pub paused: bool,
}

/// The display fixtures' boot sector.
pub fn scene_image() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/display/scene.img")
}

/// Whether QEMU is installed; skips (returns false) with a note, or fails when `CI` is set.
pub fn qemu_available() -> bool {
    skips::tool_present("qemu-system-x86_64", "--version", "qemu-system-x86")
}

impl Qemu {
    /// QEMU with a SPICE server on a free loopback port and the WebDAV port device. `password` turns ticketing on.
    pub fn start(password: Option<&str>, with_webdav: bool) -> Option<Qemu> {
        Qemu::start_with(QemuOptions {
            password: password.map(str::to_string),
            webdav: with_webdav,
            ..QemuOptions::default()
        })
    }

    /// QEMU with the given SPICE options.
    pub fn start_with(opts: QemuOptions) -> Option<Qemu> {
        if !qemu_available() {
            return None;
        }
        // A port found free can be taken again before QEMU binds it (by another test's connection, as its local
        // port); QEMU then exits, and a fresh pair of ports is tried.
        for _ in 0..START_ATTEMPTS {
            let mut qemu = Self::spawn(&opts)?;
            if qemu.wait_listening() {
                return Some(qemu);
            }
        }
        panic!("QEMU did not start listening after {START_ATTEMPTS} attempts");
    }

    fn spawn(opts: &QemuOptions) -> Option<Qemu> {
        let port = if opts.tls_only { 0 } else { free_port() };
        let tls_port = opts.tls_dir.as_ref().map(|_| free_port());
        let mut spice = vec!["addr=127.0.0.1".to_string()];
        if port != 0 {
            spice.push(format!("port={port}"));
        }
        if let (Some(dir), Some(tls)) = (&opts.tls_dir, tls_port) {
            spice.push(format!("tls-port={tls}"));
            spice.push(format!("x509-dir={}", dir.display()));
            spice.extend(opts.tls_channels.iter().map(|c| format!("tls-channel={c}")));
        }
        spice.push(match opts.password {
            Some(_) => "password-secret=spicepw".to_string(),
            None => "disable-ticketing=on".to_string(),
        });
        let qmp_dir = match &opts.display {
            Some(d) => {
                spice.push(format!("image-compression={}", d.image_compression));
                spice.extend(
                    ["jpeg-wan-compression=never", "zlib-glz-wan-compression=never", "streaming-video=off"]
                        .map(String::from),
                );
                Some(tempfile::tempdir().ok()?)
            }
            None => None,
        };
        let mut cmd = Command::new("qemu-system-x86_64");
        match (&opts.display, &qmp_dir) {
            (Some(d), Some(qmp)) => {
                cmd.args(["-machine", "pc", "-accel", "tcg", "-display", "none", "-nodefaults", "-m", "64"]);
                if d.paused {
                    cmd.arg("-S");
                }
                match d.vga {
                    "virtio" => cmd.args(["-device", "virtio-vga"]),
                    vga => cmd.args(["-vga", vga]),
                };
                let drive = format!("file={},format=raw,if=ide,snapshot=on", scene_image().display());
                cmd.args(["-drive", &drive]);
                cmd.args(["-qmp", &format!("unix:{},server=on,wait=off", qmp.path().join("qmp.sock").display())]);
            }
            _ => {
                cmd.args(["-machine", "q35", "-accel", "tcg", "-display", "none", "-nodefaults", "-S", "-m", "64"]);
            }
        }
        if let Some(p) = &opts.password {
            cmd.args(["-object", &format!("secret,id=spicepw,data={p}")]);
        }
        cmd.args(["-spice", &spice.join(",")]);
        if opts.webdav {
            cmd.args([
                "-device",
                "virtio-serial-pci",
                "-chardev",
                "spiceport,name=org.spice-space.webdav.0,id=webdav0",
                "-device",
                "virtserialport,chardev=webdav0,name=org.spice-space.webdav.0",
            ]);
        }
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
        Some(Qemu { child, qmp_dir, port, tls_port })
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The TLS port (panics when TLS is off).
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("QEMU was started without TLS")
    }

    /// Waits until QEMU listens on all its ports: `false` if it exits first (a port was taken), panics after 20 s.
    fn wait_listening(&mut self) -> bool {
        let ports: Vec<u16> = [self.port].into_iter().chain(self.tls_port).filter(|&p| p != 0).collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            // Looked up in /proc rather than probed: a bare connect would be a failed SPICE link, and a port that
            // cannot be bound may be some other socket's local port. Only QEMU's own sockets count: another test's
            // server listening on a port this one also picked must not pass for this QEMU.
            let listening = listening_ports();
            let own = socket_inodes(self.child.id());
            if ports.iter().all(|p| listening.iter().any(|(port, inode)| port == p && own.contains(inode))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("QEMU did not start listening on ports {ports:?}");
    }

    /// Writes QEMU's own view of the screen (QMP `screendump`, PNG) to `path`. Needs [`QemuOptions::display`].
    pub fn screendump(&self, path: &Path) -> Result<(), String> {
        let dump =
            format!(r#"{{"execute":"screendump","arguments":{{"filename":"{}","format":"png"}}}}"#, path.display());
        self.qmp(&dump)
    }

    /// Lets a guest started with [`DisplayGuest::paused`] run (QMP `cont`).
    pub fn cont(&self) -> Result<(), String> {
        self.qmp(r#"{"execute":"cont"}"#)
    }

    /// Runs one QMP command and waits for its answer.
    fn qmp(&self, command: &str) -> Result<(), String> {
        let dir = self.qmp_dir.as_ref().ok_or("QEMU was started without a display guest")?;
        qmp_command(&dir.path().join("qmp.sock"), command)
    }

    /// Kills QEMU now (the server "goes away").
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one QMP command on the socket at `path` and waits for its answer.
pub fn qmp_command(path: &Path, command: &str) -> Result<(), String> {
    use std::io::{BufRead, BufReader, Write};
    let sock = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(20))).map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(sock.try_clone().map_err(|e| e.to_string())?);
    let mut w = sock;
    let mut line = String::new();
    reader.read_line(&mut line).map_err(|e| e.to_string())?;
    for cmd in [r#"{"execute":"qmp_capabilities"}"#, command] {
        writeln!(w, "{cmd}").map_err(|e| e.to_string())?;
        // Skip events until the command's answer.
        loop {
            line.clear();
            reader.read_line(&mut line).map_err(|e| e.to_string())?;
            if line.contains("\"return\"") {
                break;
            }
            if line.contains("\"error\"") || line.is_empty() {
                return Err(format!("QMP: {line}"));
            }
        }
    }
    Ok(())
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
    }
}

/// How often [`Qemu::start_with`] tries fresh ports.
const START_ATTEMPTS: usize = 3;

/// The inodes of the sockets process `pid` holds open, from its `/proc/PID/fd` links (`socket:[INODE]`).
pub fn socket_inodes(pid: u32) -> Vec<u64> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return Vec::new() };
    dir.filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?.to_string();
            target.parse().ok()
        })
        .collect()
}

/// The local TCP ports in the LISTEN state (IPv4 and IPv6) with their socket inodes, from `/proc/net/tcp*`.
pub fn listening_ports() -> Vec<(u16, u64)> {
    let mut ports = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // fields[1] is "ADDR:PORT" in hex, fields[3] the state (0A = LISTEN), fields[9] the inode.
            if fields.get(3) != Some(&"0A") {
                continue;
            }
            let port = fields.get(1).and_then(|a| a.rsplit(':').next()).and_then(|h| u16::from_str_radix(h, 16).ok());
            let inode = fields.get(9).and_then(|i| i.parse().ok());
            if let (Some(port), Some(inode)) = (port, inode) {
                ports.push((port, inode));
            }
        }
    }
    ports
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A test CA and a server certificate signed by it, written where QEMU's `x509-dir` expects them.
pub struct TestPki {
    dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca_pem: String,
}

/// The server certificate's subject, in the host-subject syntax.
pub const SERVER_SUBJECT: &str = "C=XX,L=Test City,O=ryll tests,CN=spice.test";

impl TestPki {
    /// A CA and a server certificate for `names` (DNS names or IP addresses) with the subject
    /// [`SERVER_SUBJECT`].
    pub fn new(names: &[&str]) -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        ca.distinguished_name.push(DnType::CommonName, "ryll test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().expect("server key");
        let mut server =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("server params");
        server.distinguished_name = rcgen::DistinguishedName::new();
        server.distinguished_name.push(DnType::CountryName, "XX");
        server.distinguished_name.push(DnType::LocalityName, "Test City");
        server.distinguished_name.push(DnType::OrganizationName, "ryll tests");
        server.distinguished_name.push(DnType::CommonName, "spice.test");
        let server_cert = server.signed_by(&key, &issuer).expect("server certificate");

        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ca-cert.pem"), ca_cert.pem()).expect("write CA");
        std::fs::write(dir.path().join("server-cert.pem"), server_cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("server-key.pem"), key.serialize_pem()).expect("write key");
        TestPki { dir, ca_pem: ca_cert.pem() }
    }

    /// The directory for `x509-dir`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate file.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca-cert.pem")
    }
}

/// The next session event; panics after 20 s or if the stream ends.
pub async fn next_event(handle: &mut ryll::session::SessionHandle) -> ryll::session::SessionEvent {
    tokio::time::timeout(Duration::from_secs(20), handle.events.recv())
        .await
        .expect("no session event within 20 s")
        .expect("event stream ended without Ended")
}

/// Collects events until `stop` matches one (returned last) or the session ends.
pub async fn events_until(
    handle: &mut ryll::session::SessionHandle,
    stop: impl Fn(&ryll::session::SessionEvent) -> bool,
) -> Vec<ryll::session::SessionEvent> {
    let mut seen = Vec::new();
    loop {
        let ev = next_event(handle).await;
        let done = stop(&ev) || matches!(ev, ryll::session::SessionEvent::Ended(_));
        seen.push(ev);
        if done {
            return seen;
        }
    }
}

/// Certificates made the SPICE manual's way with the `openssl` command: a self-signed CA (`req -x509`), and a
/// server certificate from a CSR signed with `openssl x509 -req` and no extensions file, which makes an **X.509
/// v1** certificate (no extensions: no subjectAltName, no key usage). Written where QEMU's `x509-dir` expects them.
pub struct OpensslPki {
    dir: tempfile::TempDir,
    /// The CA certificate (PEM).
    pub ca_pem: String,
}

/// The subject of [`OpensslPki`]'s server certificate (its CN is the address QEMU listens on).
pub const OPENSSL_SERVER_SUBJECT: &str = "C=XX,L=Test City,O=ryll tests,CN=127.0.0.1";

/// Whether the `openssl` command is installed; skips (returns false) with a note, or fails when `CI` is set.
pub fn openssl_available() -> bool {
    skips::tool_present("openssl", "version", "openssl")
}

impl OpensslPki {
    /// A CA named `ca_cn` and a v1 server certificate valid for `days` (negative: expired since then).
    pub fn new(ca_cn: &str, days: i32) -> OpensslPki {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let run = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(d).output().expect("run openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        run(&["genrsa", "-out", "ca-key.pem", "2048"]);
        let ca_subject = format!("/C=XX/O=ryll tests/CN={ca_cn}");
        run(&[
            "req",
            "-new",
            "-x509",
            "-days",
            "1095",
            "-key",
            "ca-key.pem",
            "-out",
            "ca-cert.pem",
            "-subj",
            &ca_subject,
        ]);
        run(&["genrsa", "-out", "server-key.pem", "2048"]);
        run(&[
            "req",
            "-new",
            "-key",
            "server-key.pem",
            "-out",
            "server-key.csr",
            "-subj",
            "/C=XX/L=Test City/O=ryll tests/CN=127.0.0.1",
        ]);
        let days = days.to_string();
        run(&[
            "x509",
            "-req",
            "-days",
            &days,
            "-in",
            "server-key.csr",
            "-CA",
            "ca-cert.pem",
            "-CAkey",
            "ca-key.pem",
            "-set_serial",
            "01",
            "-out",
            "server-cert.pem",
        ]);
        let ca_pem = std::fs::read_to_string(d.join("ca-cert.pem")).expect("read CA");
        OpensslPki { dir, ca_pem }
    }

    /// The directory for `x509-dir`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server certificate (PEM).
    pub fn server_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server-cert.pem")).expect("read server certificate")
    }

    /// Replaces the server certificate (PEM).
    pub fn set_server_pem(&self, pem: &str) {
        std::fs::write(self.dir.path().join("server-cert.pem"), pem).expect("write server certificate");
    }
}

/// A PNG as `(width, height, 0x00RRGGBB pixels)`.
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u32>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
        .collect();
    (info.width, info.height, pixels)
}

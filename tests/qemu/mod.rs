//! Starts a real QEMU SPICE server (no guest OS) for integration tests.
//!
//! Tests that need it call [`Qemu::start`]; when `qemu-system-x86_64` is missing the test is skipped with a note,
//! unless `CI` is set, in which case it fails (CI installs QEMU, so a missing binary is a broken setup).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Qemu {
    child: Child,
    pub port: u16,
}

impl Qemu {
    /// QEMU with a SPICE server on a free loopback port and the WebDAV port device. `password` turns ticketing on.
    pub fn start(password: Option<&str>, with_webdav: bool) -> Option<Qemu> {
        if Command::new("qemu-system-x86_64").arg("--version").stdout(Stdio::null()).status().is_err() {
            assert!(std::env::var_os("CI").is_none(), "qemu-system-x86_64 is required in CI");
            eprintln!("skipping: qemu-system-x86_64 is not installed");
            return None;
        }
        let port = free_port();
        let auth = match password {
            Some(_) => "password-secret=spicepw".to_string(),
            None => "disable-ticketing=on".to_string(),
        };
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-machine", "q35", "-accel", "tcg", "-display", "none", "-nodefaults", "-S", "-m", "64"]);
        if let Some(p) = password {
            cmd.args(["-object", &format!("secret,id=spicepw,data={p}")]);
        }
        cmd.args(["-spice", &format!("port={port},addr=127.0.0.1,{auth}")]);
        if with_webdav {
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
        let qemu = Qemu { child, port };
        qemu.wait_listening();
        Some(qemu)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Probe without connecting (a bare connect would be a failed SPICE link): try to bind the port.
            if TcpListener::bind(("127.0.0.1", self.port)).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("QEMU did not start listening on port {}", self.port);
    }

    /// Kills QEMU now (the server "goes away").
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

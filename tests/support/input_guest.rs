//! The bundled Linux test VM in its `ryll.mode=input` (`tests/vm/guest/input.sh`) under QEMU 7.2: it reports the
//! bytes its console receives and the events of its input devices on serial ports. Shared by `tests/qemu_input.rs`
//! (headless `--type`, `--send-keys`, `--click`) and `tests/window_qemu.rs` (the real window driven by xdotool).
//! Include it with `#[path = "support/input_guest.rs"] mod input_guest;` next to `mod qemu;`.
#![allow(dead_code)]

use crate::qemu::{self, decode_png, free_port, listening_ports, qmp_command, skips, socket_inodes};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Linux input event types and codes the checks use.
pub const EV_KEY: u16 = 1;
pub const EV_REL: u16 = 2;
pub const EV_ABS: u16 = 3;
pub const REL_WHEEL: u16 = 8;

/// A booted input guest: its QEMU, serial logs and QMP socket in a temporary directory, and its SPICE port.
pub struct Guest {
    child: Child,
    dir: tempfile::TempDir,
    /// The SPICE port on 127.0.0.1.
    pub port: u16,
}

impl Guest {
    pub fn boot() -> Option<Guest> {
        if !qemu::qemu_available() {
            return None;
        }
        let vm = std::env::var_os("RYLL_VM_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/testvm"));
        if !vm.join("vmlinux").is_file() || !vm.join("initramfs.cpio").is_file() {
            skips::skip(&format!("no test VM image in {} (make testvm builds it)", vm.display()));
            return None;
        }
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let serial = |n: usize| format!("file:{}", dir.path().join(format!("ttyS{n}.log")).display());
            let qmp = format!("unix:{},server=on,wait=off", dir.path().join("qmp.sock").display());
            #[rustfmt::skip]
            let child = Command::new("qemu-system-x86_64")
                .args(["-nodefaults", "-no-user-config", "-accel", "tcg,thread=multi", "-cpu", "max", "-m", "512",
                    "-smp", "2", "-display", "none", "-monitor", "none", "-no-reboot", "-vga", "std",
                    "-device", "qemu-xhci,id=xhci", "-device", "virtio-serial-pci",
                    "-chardev", "spiceport,name=org.spice-space.webdav.0,id=webdav0",
                    "-device", "virtserialport,chardev=webdav0,name=org.spice-space.webdav.0"])
                .arg("-kernel").arg(vm.join("vmlinux"))
                .arg("-initrd").arg(vm.join("initramfs.cpio"))
                .args(["-append", "console=ttyS0 quiet panic=1 ryll.mode=input ryll.timeout=900"])
                .args(["-serial", &serial(0), "-serial", &serial(1), "-serial", &serial(2), "-serial", &serial(3)])
                .args(["-qmp", &qmp])
                .args(["-spice", &format!("port={port},addr=127.0.0.1,disable-ticketing=on")])
                .stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null())
                .spawn()
                .expect("qemu-system-x86_64 runs");
            let guest = Guest { child, dir, port };
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline && guest.running() {
                let own = socket_inodes(guest.child.id());
                if listening_ports().iter().any(|(p, inode)| *p == port && own.contains(inode)) {
                    return Some(guest);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("QEMU did not start listening");
    }

    pub fn running(&self) -> bool {
        // `try_wait` needs `&mut`; /proc says as much.
        Path::new(&format!("/proc/{}/fd", self.child.id())).exists()
    }

    pub fn serial(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("ttyS{n}.log"))).unwrap_or_default()
    }

    /// Waits until the console log contains `needle`.
    pub fn wait_console(&self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.serial(0).contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("the guest never printed {needle:?}; console:\n{}", self.serial(0));
    }

    pub fn qmp(&self, command: &str) {
        qmp_command(&self.dir.path().join("qmp.sock"), command).unwrap();
    }

    /// The screen's size, from QMP `screendump`.
    pub fn screen_size(&self) -> (u32, u32) {
        let (w, h, _) = self.screendump();
        (w, h)
    }

    /// QMP `screendump` as `(width, height, 0x00RRGGBB pixels)`.
    pub fn screendump(&self) -> (u32, u32, Vec<u32>) {
        let path = self.dir.path().join("screen.png");
        self.qmp(&format!(
            r#"{{"execute":"screendump","arguments":{{"filename":"{}","format":"png"}}}}"#,
            path.display()
        ));
        decode_png(&std::fs::read(&path).unwrap())
    }

    /// Waits until the events on serial port `n` after the first `before` satisfy `done`; returns them.
    pub fn wait_events(
        &self,
        n: usize,
        before: usize,
        secs: u64,
        done: impl Fn(&[(u16, u16, i32)]) -> bool,
    ) -> Vec<(u16, u16, i32)> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let all = events(&self.serial(n));
            let new = all.get(before..).unwrap_or_default().to_vec();
            if done(&new) || Instant::now() > deadline {
                return new;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Runs ryll headless with `args` and returns its log; panics if it fails.
    pub fn ryll(&self, args: &[&str]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_ryll"))
            .args(["--direct", &format!("127.0.0.1:{}", self.port), "--headless"])
            .args(args)
            .env("RYLL_LOG", "ryll=info")
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "ryll {args:?} failed:\n{log}");
        log
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bytes the guest's console received (its `TTY xx` lines), in order.
pub fn tty_bytes(console: &str) -> Vec<u8> {
    console
        .lines()
        .filter_map(|l| l.strip_prefix("TTY "))
        .filter_map(|h| u8::from_str_radix(h.trim(), 16).ok())
        .collect()
}

/// `(type, code, value)` of each `struct input_event` line od printed.
pub fn events(log: &str) -> Vec<(u16, u16, i32)> {
    log.lines()
        .filter_map(|l| {
            let b: Vec<u8> = l.split_whitespace().filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
            (b.len() == 24).then(|| {
                let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
                (u16_at(16), u16_at(18), i32::from_le_bytes([b[20], b[21], b[22], b[23]]))
            })
        })
        .collect()
}

/// The Linux key code of each key of ryll's table (`linux/input-event-codes.h`): the set-1 code for one-byte keys,
/// the kernel's own numbers for the E0/E1 ones.
pub fn linux_keycode(make: &[u8]) -> u16 {
    match make {
        [code] => (*code).into(),
        [0xe1, 0x1d, 0x45] => 119,
        [0xe0, code] => match code {
            0x1c => 96,
            0x1d => 97,
            0x35 => 98,
            0x37 => 99,
            0x38 => 100,
            0x47 => 102,
            0x48 => 103,
            0x49 => 104,
            0x4b => 105,
            0x4d => 106,
            0x4f => 107,
            0x50 => 108,
            0x51 => 109,
            0x52 => 110,
            0x53 => 111,
            0x5b => 125,
            0x5c => 126,
            0x5d => 127,
            other => panic!("no Linux key code for E0 {other:02x}"),
        },
        other => panic!("no Linux key code for {other:02x?}"),
    }
}

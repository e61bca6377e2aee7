//! Xspice: a real X server (Xorg with the `spiceqxl` driver, Debian `xserver-xspice`) serving its screen, pointer
//! and keyboard over SPICE, with X clients run in it. Shared by `tests/xspice_display.rs` (screenshots against
//! `xwd -root`) and `tests/window_xspice.rs` (the real window's pointer and the X cursor). Include it with
//! `#[path = "support/xspice.rs"] mod xspice;` next to `mod qemu;`. Recipe: `../shared/docs/spice-display-facts.md` §9.
#![allow(dead_code)]

use crate::qemu::{self, decode_png, skips};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Xspice and the X clients started in it.
pub struct Xspice {
    xorg: Child,
    clients: Vec<Child>,
    /// Its X display, `:N`.
    pub display: String,
    /// Its SPICE port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Xspice {
    /// What the X server (and spice-server inside it) wrote to stderr so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Xspice {
    fn drop(&mut self) {
        for c in self.clients.iter_mut().chain(std::iter::once(&mut self.xorg)) {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Whether `file` exists, else records the skip naming `package`.
fn file_present(file: &str, package: &str) -> bool {
    Path::new(file).exists() || {
        skips::skip(&format!("{file} is missing (Debian package {package})"));
        false
    }
}

pub fn tools_present() -> bool {
    [("Xorg", "-version", "xserver-xspice"), ("xterm", "-version", "xterm"), ("xdotool", "--version", "xdotool")]
        .iter()
        .all(|(tool, arg, package)| skips::tool_present(tool, arg, package))
        && skips::tool_present("convert", "-version", "imagemagick")
        // The X11 apps have no option that exits 0.
        && ["xlogo", "xclock", "xeyes", "xwd"].iter().all(|t| file_present(&format!("/usr/bin/{t}"), "x11-apps"))
        && file_present("/usr/lib/xorg/modules/drivers/spiceqxl_drv.so", "xserver-xspice")
}

const CONFIG: &str = r#"
Section "Device"
    Identifier "XSPICE"
    Driver "spiceqxl"
    Option "SpiceDisableTicketing" "True"
    Option "SpicePort" "@PORT@"
    Option "SpiceAddr" "127.0.0.1"
    Option "NumHeads" "@HEADS@"
    Option "FrameBufferSize" "16"
    Option "CommandBufferSize" "128"
    Option "SurfaceBufferSize" "128"
    Option "SpiceImageCompression" "@COMPRESSION@"
    Option "SpiceJpegWanCompression" "never"
    Option "SpiceZlibGlzWanCompression" "never"
    Option "SpiceStreamingVideo" "@STREAMING@"
EndSection
Section "InputDevice"
    Identifier "XSPICEPOINTER"
    Driver "xspice pointer"
EndSection
Section "InputDevice"
    Identifier "XSPICEKEYBOARD"
    Driver "xspice keyboard"
EndSection
Section "Monitor"
    Identifier "Monitor"
EndSection
Section "Screen"
    Identifier "Screen"
    Monitor "Monitor"
    Device "XSPICE"
    DefaultDepth 24
    SubSection "Display"
        Virtual @VIRTUAL@
    EndSubSection
EndSection
Section "ServerLayout"
    Identifier "Layout"
    Screen "Screen"
    InputDevice "XSPICEKEYBOARD"
    InputDevice "XSPICEPOINTER"
EndSection
Section "ServerFlags"
    Option "AutoAddDevices" "False"
EndSection
"#;

impl Xspice {
    pub fn start(compression: &str) -> Option<Xspice> {
        Xspice::start_with(compression, "off")
    }

    /// Xspice with `SpiceImageCompression` and `SpiceStreamingVideo` (`off`, `filter` or `all`).
    pub fn start_with(compression: &str, streaming: &str) -> Option<Xspice> {
        Xspice::start_full(compression, streaming, 1)
    }

    /// Xspice whose one display channel has `heads` monitors, all but the first off until
    /// [`Xspice::add_head`] turns one on (`None` without xrandr, the skip recorded).
    pub fn start_heads(compression: &str, heads: u32) -> Option<Xspice> {
        // xrandr has no option that exits 0 without an X display.
        if !file_present("/usr/bin/xrandr", "x11-xserver-utils") {
            return None;
        }
        Xspice::start_full(compression, "off", heads)
    }

    /// Turns on head `n` (from 0) at `width × height`, right of head `n - 1`: the X screen grows, and the server
    /// sends MONITORS_CONFIG with both heads on the one surface.
    pub fn add_head(&self, n: u32, width: u32, height: u32) {
        let mode = format!("ryll-{width}x{height}");
        // A mode line for the size (the clock and blanking only matter to real monitors).
        let timing = [width, width + 16, width + 112, width + 160, height, height + 10, height + 12, height + 45];
        let mut newmode = vec!["--newmode".to_string(), mode.clone(), "25.175".into()];
        newmode.extend(timing.iter().map(u32::to_string));
        let output = format!("qxl-{n}");
        let left = format!("qxl-{}", n.saturating_sub(1));
        let steps: [Vec<String>; 3] = [
            newmode,
            vec!["--addmode".into(), output.clone(), mode.clone()],
            vec!["--output".into(), output, "--mode".into(), mode, "--right-of".into(), left],
        ];
        for args in steps {
            let st = Command::new("xrandr").args(&args).env("DISPLAY", &self.display).status().unwrap();
            assert!(st.success(), "xrandr {args:?} failed");
        }
    }

    fn start_full(compression: &str, streaming: &str, heads: u32) -> Option<Xspice> {
        if !tools_present() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = qemu::free_port();
        // A display number nobody uses: from the port, in a range of its own.
        let number = 40 + u32::from(port) % 400;
        let conf = dir.path().join("xorg.conf");
        std::fs::write(
            &conf,
            CONFIG
                .replace("@PORT@", &port.to_string())
                .replace("@COMPRESSION@", compression)
                .replace("@STREAMING@", streaming)
                .replace("@HEADS@", &heads.to_string())
                .replace("@VIRTUAL@", if heads > 1 { "2048 768" } else { "1024 768" }),
        )
        .unwrap();
        let xorg = Command::new("Xorg")
            .arg("-config")
            .arg(&conf)
            .args(["-noreset", "-nolisten", "tcp", "-logfile"])
            .arg(dir.path().join("xorg.log"))
            .arg(format!(":{number}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("server.log")).ok()?)
            .spawn()
            .ok()?;
        let x = Xspice { xorg, clients: Vec::new(), display: format!(":{number}"), port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Command::new("xdotool")
            .arg("getdisplaygeometry")
            .env("DISPLAY", &x.display)
            .output()
            .map_or(true, |o| !o.status.success())
        {
            assert!(Instant::now() < deadline, "Xspice did not start on {}", x.display);
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(x)
    }

    pub fn run(&mut self, cmd: &str, args: &[&str]) {
        let child = Command::new(cmd)
            .args(args)
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.clients.push(child);
    }

    pub fn xdotool(&self, args: &[&str]) {
        let _ = Command::new("xdotool").args(args).env("DISPLAY", &self.display).status();
    }

    /// `xdotool args` in the Xspice display, its stdout.
    pub fn xdotool_out(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool").args(args).env("DISPLAY", &self.display).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `cmd args` in the Xspice display with its stdout written to `log`.
    pub fn run_logged(&mut self, cmd: &str, args: &[&str], log: &Path) {
        let child = Command::new(cmd)
            .args(args)
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.clients.push(child);
    }

    /// `xwd -root` as `(width, height, 0x00RRGGBB pixels)`.
    pub fn xwd(&self) -> (u32, u32, Vec<u32>) {
        let cmd = format!("xwd -root -silent -display {} | convert xwd:- png24:-", self.display);
        let out = Command::new("sh").args(["-c", &cmd]).output().unwrap();
        assert!(out.status.success(), "xwd: {}", String::from_utf8_lossy(&out.stderr));
        decode_png(&out.stdout)
    }
}

//! The real ryll window under an X server, driven by `xdotool` (XTEST: the events are the server's own, as from a
//! real keyboard and mouse, not `XSendEvent`'s synthetic ones, which winit ignores).
//!
//! - [`Xvfb`]: a private X server with no window manager. Without one nothing gives the window keyboard focus, so
//!   [`RyllWindow::focus`] sets it (`xdotool windowfocus`), and windows have no decorations (`xdotool windowsize`
//!   sets the inner size).
//! - [`RyllWindow`]: the release `ryll` binary (`RYLL_WINDOW_BIN`, else `target/release/ryll`) connected with
//!   `--direct`; its debug log says where the desktop view put the surface (`desktop view: ...`), which is how
//!   the tests know which window pixel shows which surface pixel.
//!
//! Include it with `#[path = "support/xwindow.rs"] mod xwindow;` next to `mod qemu;`.
#![allow(dead_code)]

use crate::qemu::{self, skips};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The window binary, or `None` (recorded as a skip) when it has not been built.
pub fn window_binary() -> Option<PathBuf> {
    let bin = std::env::var_os("RYLL_WINDOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/ryll"));
    if bin.is_file() {
        Some(bin)
    } else {
        skips::skip(&format!("no window binary at {} (cargo build --release builds it)", bin.display()));
        None
    }
}

/// Whether the X tools the window tests use are installed (missing ones are recorded as skips).
pub fn x_tools_present() -> bool {
    [("Xvfb", "-help", "xvfb"), ("xdotool", "--version", "xdotool"), ("convert", "-version", "imagemagick")]
        .iter()
        .all(|(tool, arg, package)| skips::tool_present(tool, arg, package))
        && Path::new("/usr/bin/xwd").exists()
}

/// Runs `xdotool args` on `display`; its stdout, or a panic naming the command.
pub fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool").args(args).env("DISPLAY", display).output().expect("xdotool runs");
    assert!(out.status.success(), "xdotool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `xwd -root` of `display` as `(width, height, 0x00RRGGBB pixels)`.
pub fn xwd_root(display: &str) -> (u32, u32, Vec<u32>) {
    let cmd = format!("xwd -root -silent -display {display} | convert xwd:- png24:-");
    let out = Command::new("sh").args(["-c", &cmd]).output().unwrap();
    assert!(out.status.success(), "xwd: {}", String::from_utf8_lossy(&out.stderr));
    qemu::decode_png(&out.stdout)
}

/// A private Xvfb.
pub struct Xvfb {
    child: Child,
    /// `:N`.
    pub display: String,
}

impl Xvfb {
    /// Xvfb with one `w`×`h` screen on a display number derived from a free port.
    pub fn start(w: u32, h: u32) -> Xvfb {
        for _ in 0..5 {
            let number = 500 + u32::from(qemu::free_port()) % 400;
            if Path::new(&format!("/tmp/.X11-unix/X{number}")).exists() {
                continue;
            }
            let child = Command::new("Xvfb")
                .arg(format!(":{number}"))
                .args(["-screen", "0", &format!("{w}x{h}x24"), "-nolisten", "tcp"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb runs");
            let x = Xvfb { child, display: format!(":{number}") };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                let up = Command::new("xdotool")
                    .arg("getdisplaygeometry")
                    .env("DISPLAY", &x.display)
                    .output()
                    .is_ok_and(|o| o.status.success());
                if up {
                    return x;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        panic!("Xvfb did not start");
    }

    pub fn xdotool(&self, args: &[&str]) -> String {
        xdotool(&self.display, args)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the desktop view drew the surface, from ryll's `desktop view:` log line (window points; 1 px/pt here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Surface width and height.
    pub surface: (u32, u32),
    /// The surface's rectangle: x, y, width, height.
    pub rect: (f32, f32, f32, f32),
    /// The central area it was placed in: x, y, width, height.
    pub avail: (f32, f32, f32, f32),
}

impl View {
    fn parse(line: &str) -> Option<View> {
        let rest = line.split("desktop view: ").nth(1)?;
        let nums: Vec<f32> = rest
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
            .filter(|s| !s.is_empty() && *s != "-" && *s != ".")
            .filter_map(|s| s.parse().ok())
            .collect();
        // WxH surface at X,Y size WxH points in X,Y WxH (...)
        (nums.len() >= 10).then(|| View {
            surface: (nums[0] as u32, nums[1] as u32),
            rect: (nums[2], nums[3], nums[4], nums[5]),
            avail: (nums[6], nums[7], nums[8], nums[9]),
        })
    }

    /// The surface pixel under the pointer at window pixel `(x, y)` (winit reports the pointer at the pixel's
    /// corner), as ryll's `ViewMap::to_surface` computes it.
    pub fn surface_pixel(&self, x: i32, y: i32) -> Option<(u32, u32)> {
        let (rx, ry, rw, rh) = self.rect;
        let (px, py) = (x as f32, y as f32);
        if px < rx || py < ry || px >= rx + rw || py >= ry + rh {
            return None;
        }
        let sx = ((px - rx) / rw * self.surface.0 as f32).floor() as u32;
        let sy = ((py - ry) / rh * self.surface.1 as f32).floor() as u32;
        Some((sx.min(self.surface.0 - 1), sy.min(self.surface.1 - 1)))
    }

    /// The first window pixel at or after surface pixel `(x, y)`'s corner: on that pixel when the surface is shown
    /// 1:1 or larger; when it is scaled down, on it or (if no window pixel starts inside it) its neighbour.
    pub fn window_pixel(&self, x: u32, y: u32) -> (i32, i32) {
        let (rx, ry, rw, rh) = self.rect;
        let kx = rw / self.surface.0 as f32;
        let ky = rh / self.surface.1 as f32;
        ((rx + x as f32 * kx).ceil() as i32, (ry + y as f32 * ky).ceil() as i32)
    }

    /// Whether the surface is shown one surface pixel per window pixel.
    pub fn one_to_one(&self) -> bool {
        self.rect.2 == self.surface.0 as f32 && self.rect.3 == self.surface.1 as f32
    }
}

/// The ryll window, connected to a SPICE server.
pub struct RyllWindow {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
    /// The X display it runs on.
    pub display: String,
    /// Its X window id.
    pub id: String,
}

impl RyllWindow {
    /// Starts `bin --direct 127.0.0.1:port` on `display` and waits for its window and the guest's first frame.
    pub fn start(bin: &Path, display: &str, port: u16, extra: &[&str]) -> RyllWindow {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ryll.log");
        let child = Command::new(bin)
            .args(["--direct", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("RYLL_PASSWORD")
            .env_remove("SPICE_PROXY")
            .env("RYLL_LOG", "ryll=debug,dav_server=warn,hyper=warn")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.path().join("ryll.err")).unwrap())
            .spawn()
            .expect("the window binary runs");
        let mut w = RyllWindow { child, log, _dir: dir, display: display.to_string(), id: String::new() };
        w.wait_log("first full frame", 120);
        let deadline = Instant::now() + Duration::from_secs(60);
        while w.id.is_empty() {
            let out = Command::new("xdotool")
                .args(["search", "--onlyvisible", "--name", "^ryll$"])
                .env("DISPLAY", display)
                .output()
                .unwrap();
            w.id = String::from_utf8_lossy(&out.stdout).lines().next().unwrap_or("").trim().to_string();
            assert!(Instant::now() < deadline, "no ryll window on {display}:\n{}", w.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
        w.view(|_| true);
        w
    }

    /// ryll's log so far (stderr and stdout).
    pub fn log_text(&self) -> String {
        let mut s = std::fs::read_to_string(&self.log).unwrap_or_default();
        s.push_str(&std::fs::read_to_string(self.log.with_extension("err")).unwrap_or_default());
        s
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !self.log_text().contains(needle) {
            assert!(Instant::now() < deadline, "ryll never logged {needle:?}:\n{}", self.log_text());
            assert!(Path::new(&format!("/proc/{}/fd", self.child.id())).exists(), "ryll exited:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The latest view the log reports, once it satisfies `want`.
    pub fn view(&self, want: impl Fn(&View) -> bool) -> View {
        self.view_after(0, want)
    }

    /// The latest view logged after the first `offset` bytes of the log, once it satisfies `want`.
    fn view_after(&self, offset: usize, want: impl Fn(&View) -> bool) -> View {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.log_text();
            let new = text.get(offset..).unwrap_or_default();
            if let Some(v) = new.lines().rev().find_map(View::parse).filter(|v| want(v)) {
                return v;
            }
            assert!(Instant::now() < deadline, "no matching desktop view in the log:\n{text}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn xdotool(&self, args: &[&str]) -> String {
        xdotool(&self.display, args)
    }

    /// Gives the window the keyboard focus (no window manager does it under Xvfb).
    pub fn focus(&self) {
        self.xdotool(&["windowfocus", "--sync", &self.id]);
    }

    /// The window's position on the screen and its inner size.
    pub fn geometry(&self) -> (i32, i32, u32, u32) {
        let out = self.xdotool(&["getwindowgeometry", "--shell", &self.id]);
        let get = |k: &str| -> i64 {
            out.lines().find_map(|l| l.strip_prefix(&format!("{k}="))).and_then(|v| v.parse().ok()).unwrap()
        };
        (get("X") as i32, get("Y") as i32, get("WIDTH") as u32, get("HEIGHT") as u32)
    }

    /// Resizes the window and waits until the desktop view has been laid out in the new size.
    pub fn resize(&self, w: u32, h: u32) -> View {
        let (_, _, cw, ch) = self.geometry();
        if (cw, ch) == (w, h) {
            return self.view(|_| true);
        }
        let offset = self.log_text().len();
        self.xdotool(&["windowsize", "--sync", &self.id, &w.to_string(), &h.to_string()]);
        let v = self.view_after(offset, |v| v.avail.1 + v.avail.3 <= h as f32);
        // The status bar's height can change over the next frame or two: take the latest line once it is quiet.
        let mut last = v;
        loop {
            std::thread::sleep(Duration::from_millis(800));
            let now = self.view(|_| true);
            if now == last {
                return now;
            }
            last = now;
        }
    }

    /// Resizes the window so that the surface is shown 1:1 (the central area exactly as high as the surface).
    pub fn resize_one_to_one(&self, side_panels: u32) -> View {
        let v = self.view(|_| true);
        let (_, _, _, win_h) = self.geometry();
        let mut h = v.surface.1 + (win_h - v.avail.3 as u32);
        let w = v.surface.0 + side_panels + 100;
        for _ in 0..5 {
            let v = self.resize(w, h);
            if v.one_to_one() {
                return v;
            }
            // The status bar's height settles over a frame or two; correct by what is left.
            h = (h as f32 + v.surface.1 as f32 - v.avail.3) as u32;
        }
        panic!("could not size the window for 1:1: {:?}\n{}", self.view(|_| true), self.log_text());
    }

    /// The window's pixels `(x, y, w, h)` (window coordinates) from `xwd -root`.
    pub fn grab(&self, x: i32, y: i32, w: u32, h: u32) -> Vec<u32> {
        let (wx, wy, _, _) = self.geometry();
        let (sw, _, px) = xwd_root(&self.display);
        let mut out = Vec::with_capacity((w * h) as usize);
        for row in 0..h as i32 {
            for col in 0..w as i32 {
                let (sx, sy) = (wx + x + col, wy + y + row);
                out.push(px.get((sy * sw as i32 + sx) as usize).copied().unwrap_or(0xff00ff));
            }
        }
        out
    }
}

impl Drop for RyllWindow {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

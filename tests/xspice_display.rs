//! `ryll --screenshot` against Xspice: a real X server (Xorg with the `spiceqxl` driver, Debian
//! `xserver-xspice`) that serves its screen over SPICE through the QXL 2D path, with real X clients drawing while
//! ryll is connected (xterm scrolling text, xlogo, xclock, xeyes, a window moved and resized). The screenshot
//! must equal `xwd -root` of the same server pixel for pixel. Recipe: `../shared/docs/spice-display-facts.md` §9.

#[path = "qemu/mod.rs"]
mod qemu;

use qemu::skips;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Xspice {
    xorg: Child,
    clients: Vec<Child>,
    display: String,
    port: u16,
    _dir: tempfile::TempDir,
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

fn tools_present() -> bool {
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
    Option "NumHeads" "1"
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
        Virtual 1024 768
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
    fn start(compression: &str) -> Option<Xspice> {
        Xspice::start_with(compression, "off")
    }

    /// Xspice with `SpiceImageCompression` and `SpiceStreamingVideo` (`off`, `filter` or `all`).
    fn start_with(compression: &str, streaming: &str) -> Option<Xspice> {
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
                .replace("@STREAMING@", streaming),
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
            .stderr(Stdio::null())
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

    fn run(&mut self, cmd: &str, args: &[&str]) {
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

    fn xdotool(&self, args: &[&str]) {
        let _ = Command::new("xdotool").args(args).env("DISPLAY", &self.display).status();
    }

    /// `xwd -root` as `(width, height, 0x00RRGGBB pixels)`.
    fn xwd(&self) -> (u32, u32, Vec<u32>) {
        let cmd = format!("xwd -root -silent -display {} | convert xwd:- png24:-", self.display);
        let out = Command::new("sh").args(["-c", &cmd]).output().unwrap();
        assert!(out.status.success(), "xwd: {}", String::from_utf8_lossy(&out.stderr));
        decode_png(&out.stdout)
    }
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u32>) {
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

/// Connects ryll first, then has the X clients draw while it watches; compares its screenshot with `xwd -root`.
fn live_session_matches_xwd(compression: &str) {
    let Some(mut x) = Xspice::start(compression) else { return };
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.png");
    let ryll = Command::new(env!("CARGO_BIN_EXE_ryll"))
        .args(["--direct", &format!("127.0.0.1:{}", x.port), "--screenshot"])
        .arg(&shot)
        .args(["--settle-ms", "3000", "--screenshot-timeout", "60"])
        .env("RYLL_LOG", "ryll=debug")
        .env_remove("RYLL_PASSWORD")
        .env_remove("SPICE_PROXY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    x.run("xterm", &["-geometry", "80x24+10+10", "-e", "seq 1 400; ls -l /usr/bin | head -60; sleep 600"]);
    x.run("xlogo", &["-geometry", "200x200+600+100"]);
    x.run("xclock", &["-geometry", "150x150+600+400", "-update", "3600"]);
    x.run("xeyes", &["-geometry", "100x100+850+550"]);
    std::thread::sleep(Duration::from_millis(1500));
    // Moves and a resize: COPY_BITS and redraws of exposed areas.
    x.xdotool(&["search", "--sync", "--name", "xlogo", "windowmove", "300", "450"]);
    x.xdotool(&["search", "--name", "xlogo", "windowsize", "260", "180"]);
    x.xdotool(&["search", "--name", "xclock", "windowmove", "700", "200"]);
    let out = ryll.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("refused"), "{compression}: a display message was refused:\n{log}");
    let draws: u64 = log
        .split("screen to ")
        .nth(1)
        .and_then(|s| s.split('(').nth(1))
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(draws > 100, "{compression}: only {draws} draws: the clients did not draw while ryll watched\n{log}");
    let ours = decode_png(&std::fs::read(&shot).unwrap());
    let theirs = x.xwd();
    assert_eq!((ours.0, ours.1), (theirs.0, theirs.1));
    let differ = ours.2.iter().zip(&theirs.2).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{compression}: {differ} pixels differ from xwd -root\n{log}");
}

#[test]
fn a_live_x_session_matches_xwd_with_auto_glz() {
    live_session_matches_xwd("auto_glz");
}

#[test]
fn a_live_x_session_matches_xwd_with_quic() {
    live_session_matches_xwd("quic");
}

#[test]
fn a_live_x_session_matches_xwd_uncompressed() {
    live_session_matches_xwd("off");
}

/// With `SpiceStreamingVideo "all"`, an animation (ImageMagick's `animate` cycling eight 200×150 frames at 25 per
/// second) becomes an MJPEG video stream: ryll draws its frames (lossy, so not compared) with none refused, and once
/// the animation's window has closed the screen equals `xwd -root` again.
#[test]
fn an_animation_streamed_as_mjpeg_is_drawn_and_the_screen_ends_exact() {
    let Some(x) = Xspice::start_with("auto_glz", "all") else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut frames = Vec::new();
    for i in 0..8 {
        let f = dir.path().join(format!("f{i}.png"));
        let ok = Command::new("convert")
            .args(["-size", "200x150", "xc:gray", "-seed", &i.to_string(), "+noise", "Random"])
            .arg(&f)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "convert could not make a frame");
        frames.push(f);
    }
    let shot = dir.path().join("shot.png");
    let ryll = Command::new(env!("CARGO_BIN_EXE_ryll"))
        .args(["--direct", &format!("127.0.0.1:{}", x.port), "--screenshot"])
        .arg(&shot)
        .args(["--settle-ms", "3000", "--screenshot-timeout", "60"])
        .env("RYLL_LOG", "ryll=debug")
        .env_remove("RYLL_PASSWORD")
        .env_remove("SPICE_PROXY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("timeout")
        .args(["6", "animate", "-delay", "4", "-loop", "0", "-geometry", "+100+100"])
        .args(&frames)
        .env("DISPLAY", &x.display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let out = ryll.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("refused"), "{log}");
    let streamed: u64 =
        log.split(" draws, ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(streamed >= 20, "only {streamed} MJPEG frames: the animation was not streamed\n{log}");
    let ours = decode_png(&std::fs::read(&shot).unwrap());
    let theirs = x.xwd();
    let differ = ours.2.iter().zip(&theirs.2).filter(|(a, b)| a != b).count();
    assert_eq!(differ, 0, "{differ} pixels differ from xwd -root after the stream\n{log}");
}

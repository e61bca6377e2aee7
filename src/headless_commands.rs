//! `--commands`: the headless front end reads commands from standard input, one per line, and answers each with
//! one line on standard output (`ok ...` or `error: ...`). For scripts that drive a running session, as the
//! window's panels do:
//!
//! ```text
//! usb-attach CHANNEL PATH [ro] [high]
//!                                attach the raw image PATH to usbredir channel CHANNEL (read-only with ro; at
//!                                USB 2.0 high speed with high, for a VM without a USB 3 controller)
//! usb-detach CHANNEL             detach that channel's disk (flushed and closed)
//! usb-status                     one line per usbredir channel
//! screenshot PATH [DISPLAY]      write the guest's screen as it is now to PATH (PNG), settled or not; DISPLAY is
//!                                the display channel (monitor) id, 0 by default
//! quit                           disconnect and exit
//! ```
//!
//! A path may not hold spaces. Parsing ([`parse`]) is pure; [`run`] carries a command out on the session.

use crate::channels::usbredir::{Speed, UsbDisk};
use crate::session::display::DisplayShared;
use crate::session::usb::UsbView;
use crate::session::SessionShared;
use std::path::PathBuf;

/// The longest command line read; longer lines are refused.
pub const MAX_LINE: usize = 4096;

/// Reads standard input line by line on a thread of its own (a blocking read there never holds up the runtime's
/// shutdown, as tokio's stdin would); each line, or the reason it could not be read, arrives on the receiver,
/// which closes at end of input. A line longer than [`MAX_LINE`] arrives cut, and [`parse`] refuses it.
pub fn read_stdin() -> tokio::sync::mpsc::Receiver<Result<String, String>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let spawned = std::thread::Builder::new().name("commands".into()).spawn(move || {
        use std::io::{BufRead, Read};
        let mut stdin = std::io::stdin().lock();
        loop {
            let mut line = Vec::new();
            let read = (&mut stdin).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line);
            let sent = match read {
                Ok(0) => return,
                Ok(_) => {
                    let long = line.len() > MAX_LINE && line.last() != Some(&b'\n');
                    // Skip the rest of a long line, a bounded piece at a time.
                    let mut more = long;
                    while more {
                        let mut rest = Vec::new();
                        let n = (&mut stdin).take(MAX_LINE as u64).read_until(b'\n', &mut rest).unwrap_or(0);
                        more = n > 0 && rest.last() != Some(&b'\n');
                    }
                    let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
                    tx.blocking_send(Ok(text))
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(format!("reading standard input: {e}")));
                    return;
                }
            };
            if sent.is_err() {
                return;
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("--commands: cannot start the reader thread: {e}");
    }
    rx
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `usb-attach CHANNEL PATH [ro]`.
    UsbAttach(u8, UsbDisk),
    /// `usb-detach CHANNEL`.
    UsbDetach(u8),
    /// `usb-status`.
    UsbStatus,
    /// `screenshot PATH [DISPLAY]`.
    Screenshot(PathBuf, u8),
    /// `quit`.
    Quit,
}

/// Parses one line; `Ok(None)` for a blank line or a `#` comment.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    if line.len() > MAX_LINE {
        return Err(format!("a command line of over {MAX_LINE} bytes"));
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let channel = |w: Option<&&str>| -> Result<u8, String> {
        let w = w.ok_or("a usbredir channel id is missing")?;
        w.parse().map_err(|_| format!("{w:?} is not a usbredir channel id (0-255)"))
    };
    let command = match words.as_slice() {
        [] => return Ok(None),
        [w, ..] if w.starts_with('#') => return Ok(None),
        ["usb-attach", id, path, flags @ ..] if flags.len() <= 2 => {
            let mut disk = UsbDisk { path: PathBuf::from(path), read_only: false, speed: Speed::Super };
            for flag in flags {
                match *flag {
                    "ro" => disk.read_only = true,
                    "high" => disk.speed = Speed::High,
                    other => return Err(format!("usb-attach: {other:?} is neither ro nor high")),
                }
            }
            Command::UsbAttach(channel(Some(id))?, disk)
        }
        ["usb-attach", ..] => return Err("usage: usb-attach CHANNEL PATH [ro] [high]".into()),
        ["usb-detach", id] => Command::UsbDetach(channel(Some(id))?),
        ["usb-detach", ..] => return Err("usage: usb-detach CHANNEL".into()),
        ["usb-status"] => Command::UsbStatus,
        ["screenshot", path] => Command::Screenshot(PathBuf::from(path), 0),
        ["screenshot", path, id] => {
            let id = id.parse().map_err(|_| format!("{id:?} is not a display channel id (0-255)"))?;
            Command::Screenshot(PathBuf::from(path), id)
        }
        ["screenshot", ..] => return Err("usage: screenshot PATH [DISPLAY]".into()),
        ["quit"] => Command::Quit,
        [w, ..] => return Err(format!("unknown command {w:?} (usb-attach, usb-detach, usb-status, screenshot, quit)")),
    };
    Ok(Some(command))
}

/// Carries out a command on the session; the answer line. `Quit` is the caller's.
pub fn run(command: &Command, shared: &SessionShared) -> String {
    let usb = &shared.usb;
    let asked = |r: Result<(), String>, what: String| match r {
        Ok(()) => format!("ok {what}"),
        Err(e) => format!("error: {e}"),
    };
    match command {
        Command::UsbAttach(id, disk) => match UsbDisk::check(&disk.path, disk.read_only) {
            Ok(checked) => {
                let disk = UsbDisk { speed: disk.speed, ..checked };
                let what = format!("attaching {} to channel {id}", disk.path.display());
                asked(usb.attach(*id, disk), what)
            }
            Err(e) => format!("error: {e}"),
        },
        Command::UsbDetach(id) => asked(usb.detach(*id), format!("detaching channel {id}")),
        Command::UsbStatus => {
            let views = usb.views();
            if views.is_empty() {
                return "ok no usbredir channel".into();
            }
            let lines: Vec<String> = views.iter().map(|(id, v)| status_line(*id, v)).collect();
            format!("ok {}", lines.join("; "))
        }
        Command::Screenshot(path, id) => match shared.displays.get(*id) {
            Some(display) => screenshot(path, &display),
            None if *id == 0 => screenshot(path, &shared.display),
            None => format!("error: there is no display channel {id} (linked: {:?})", shared.displays.ids()),
        },
        Command::Quit => "ok quitting".into(),
    }
}

/// Writes the primary surface as it is now: `ok wrote PATH (WxH, N draws, M video frames)`, or why not.
fn screenshot(path: &std::path::Path, display: &DisplayShared) -> String {
    let (width, height, pixels, draws, stream_frames) = {
        let f = display.lock();
        if f.width == 0 || f.height == 0 {
            return "error: there is no guest screen yet (no display channel, or no surface drawn)".into();
        }
        (f.width, f.height, f.pixels.clone(), f.draws, f.stream_frames)
    };
    match crate::screenshot::write_png(path, width, height, &pixels) {
        Ok(()) => {
            format!("ok wrote {} ({width}x{height}, {draws} draws, {stream_frames} video frames)", path.display())
        }
        Err(e) => format!("error: cannot write {}: {e}", path.display()),
    }
}

/// One channel's state in one line: `usb 0 linked image=PATH ro=0 speed=super blocks=N read=B written=B
/// commands=N failed=N`, or `usb 0 linked no-disk`, and `error=...` when something went wrong.
pub fn status_line(id: u8, v: &UsbView) -> String {
    let mut s = format!("usb {id} {}", if v.linked { "linked" } else { "unlinked" });
    match &v.image {
        Some(p) => {
            s += &format!(
                " image={} ro={} speed={} blocks={} read={} written={} commands={} failed={}",
                p.display(),
                u8::from(v.read_only),
                if v.speed == Speed::High { "high" } else { "super" },
                v.blocks,
                v.stats.read,
                v.stats.written,
                v.stats.commands,
                v.stats.failed
            )
        }
        None => s += " no-disk",
    }
    if let Some(e) = &v.error {
        s += &format!(" error={e}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_and_bad_ones_are_named() {
        let disk = |p: &str, read_only, speed| UsbDisk { path: PathBuf::from(p), read_only, speed };
        let want = disk("/tmp/a.img", false, Speed::Super);
        assert_eq!(parse("usb-attach 0 /tmp/a.img"), Ok(Some(Command::UsbAttach(0, want))));
        let want = disk("b.img", true, Speed::Super);
        assert_eq!(parse("  usb-attach 2 b.img ro "), Ok(Some(Command::UsbAttach(2, want))));
        let want = disk("c.img", true, Speed::High);
        assert_eq!(parse("usb-attach 1 c.img high ro"), Ok(Some(Command::UsbAttach(1, want))));
        assert_eq!(parse("usb-detach 1"), Ok(Some(Command::UsbDetach(1))));
        assert_eq!(parse("usb-status"), Ok(Some(Command::UsbStatus)));
        assert_eq!(parse("quit"), Ok(Some(Command::Quit)));
        assert_eq!(parse("screenshot /tmp/s.png"), Ok(Some(Command::Screenshot("/tmp/s.png".into(), 0))));
        assert_eq!(parse("screenshot s.png 1"), Ok(Some(Command::Screenshot("s.png".into(), 1))));
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("# a comment"), Ok(None));
        for (line, want) in [
            ("usb-attach 300 a.img", "not a usbredir channel id"),
            ("usb-attach x a.img", "not a usbredir channel id"),
            ("usb-attach 0", "usage"),
            ("usb-attach 0 a.img rw", "neither ro nor high"),
            ("usb-attach 0 a.img ro high x", "usage"),
            ("usb-detach", "usage"),
            ("screenshot", "usage"),
            ("screenshot a b", "not a display channel id"),
            ("screenshot a 1 2", "usage"),
            ("format c:", "unknown command"),
        ] {
            let err = parse(line).unwrap_err();
            assert!(err.contains(want), "{line}: {err}");
        }
        assert!(parse(&"x".repeat(MAX_LINE + 1)).unwrap_err().contains("over"));
    }

    #[test]
    fn commands_on_a_session_without_the_channel_say_why() {
        let shared = SessionShared::default();
        let r = run(&Command::UsbDetach(0), &shared);
        assert!(r.starts_with("error:") && r.contains("not linked"), "{r}");
        let disk = UsbDisk { path: "/nonexistent.img".into(), read_only: false, speed: Speed::Super };
        let r = run(&Command::UsbAttach(0, disk), &shared);
        assert!(r.starts_with("error: /nonexistent.img"), "{r}");
        assert_eq!(run(&Command::UsbStatus, &shared), "ok no usbredir channel");
        let r = run(&Command::Screenshot("/tmp/never.png".into(), 0), &shared);
        assert!(r.starts_with("error: there is no guest screen"), "{r}");
        let r = run(&Command::Screenshot("/tmp/never.png".into(), 1), &shared);
        assert!(r.starts_with("error: there is no display channel 1"), "{r}");
        let v = UsbView { linked: true, error: Some("boom".into()), ..UsbView::default() };
        assert_eq!(status_line(3, &v), "usb 3 linked no-disk error=boom");
    }
}

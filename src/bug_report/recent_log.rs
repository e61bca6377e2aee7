//! The session's recent log lines, kept in memory for bug reports: a bounded ring that a second `tracing` output
//! writes into (plain text, no colours), beside the terminal's.

use std::collections::VecDeque;
use std::io;
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;

/// Lines kept.
pub const MAX_LINES: usize = 2000;
/// Longest line kept; longer ones are cut (at a character boundary) and marked.
pub const MAX_LINE: usize = 4096;

/// The last [`MAX_LINES`] log lines.
#[derive(Debug, Default)]
pub struct RecentLog {
    inner: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    lines: VecDeque<String>,
    /// A line written in several pieces, until its newline.
    partial: Vec<u8>,
}

impl RecentLog {
    /// The process's log, which `main` feeds.
    pub fn global() -> &'static RecentLog {
        static LOG: OnceLock<RecentLog> = OnceLock::new();
        LOG.get_or_init(RecentLog::default)
    }

    /// Adds log output; complete lines are kept, a trailing piece waits for the rest of its line.
    pub fn push(&self, bytes: &[u8]) {
        let Ok(mut ring) = self.inner.lock() else { return };
        for piece in bytes.split_inclusive(|b| *b == b'\n') {
            if ring.partial.len() < MAX_LINE + 4 {
                let room = MAX_LINE + 4 - ring.partial.len();
                ring.partial.extend_from_slice(&piece[..piece.len().min(room)]);
            }
            if piece.ends_with(b"\n") {
                let raw = std::mem::take(&mut ring.partial);
                let line = String::from_utf8_lossy(&raw).trim_end_matches('\n').to_string();
                ring.lines.push_back(cut(line));
                while ring.lines.len() > MAX_LINES {
                    ring.lines.pop_front();
                }
            }
        }
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.inner.lock().map(|r| r.lines.iter().cloned().collect()).unwrap_or_default()
    }
}

fn cut(mut line: String) -> String {
    if line.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
        line.push_str(" [cut]");
    }
    line
}

/// A writer into a [`RecentLog`], for `tracing_subscriber::fmt::layer().with_writer(..)`.
#[derive(Debug, Clone, Copy)]
pub struct RecentLogWriter(pub &'static RecentLog);

impl io::Write for RecentLogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for RecentLogWriter {
    type Writer = RecentLogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_last_lines_whole_and_bounded() {
        let log = RecentLog::default();
        log.push(b"first ");
        log.push(b"line\nsecond\n");
        assert_eq!(log.lines(), ["first line", "second"]);
        for i in 0..MAX_LINES + 10 {
            log.push(format!("n{i}\n").as_bytes());
        }
        let lines = log.lines();
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines.last().map(String::as_str), Some(format!("n{}", MAX_LINES + 9).as_str()));
        log.push(&vec![b'\xc3'; 3 * MAX_LINE]);
        log.push(b"\n");
        let long = log.lines().pop().unwrap_or_default();
        assert!(long.len() <= MAX_LINE + 8 && long.ends_with("[cut]"), "{}", long.len());
    }
}

//! "Report this as a bug": one `.tar.gz` a user can attach to an issue. It holds `report.txt` (ryll's version, the
//! OS, the server as far as the session knows it, the error being reported and the session's state), `log.txt`
//! (the session's recent log lines, [`RecentLog`]) and, when `--capture` is on, the capture files. Every text has
//! the session's secrets replaced and every capture byte that matches one masked ([`Secrets`]); the bundle is
//! checked for them again before it is kept, and refused if one is still there.

mod recent_log;
mod redact;

pub use recent_log::{RecentLog, RecentLogWriter};
pub use redact::{Secrets, REDACTED};

use flate2::write::GzEncoder;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Captures larger than this in total are named in the report instead of copied into it.
pub const MAX_CAPTURE_BYTES: u64 = 64 * 1024 * 1024;

/// What the report says about the session; the front end fills it from its model.
#[derive(Debug, Clone, Default)]
pub struct ReportInfo {
    /// The error being reported, in the words the user saw.
    pub error: String,
    /// The server's address as given (no credentials: those are never in the address).
    pub server: Option<String>,
    /// The VM name the server sent.
    pub vm_name: Option<String>,
    /// The VM UUID the server sent.
    pub vm_uuid: Option<String>,
    /// The connection state, one line.
    pub connection: String,
    /// One line per channel: type, id, state.
    pub channels: Vec<String>,
}

/// What goes with every report of a session: its secrets and its capture directory.
#[derive(Debug, Clone, Default)]
pub struct ReportSetup {
    /// What must not appear in the bundle.
    pub secrets: Secrets,
    /// `--capture`'s directory, if on.
    pub capture_dir: Option<PathBuf>,
    /// Where bundles go ([`default_dir`] unless a test says otherwise).
    pub out_dir: PathBuf,
}

/// Where bug reports are saved: `$XDG_STATE_HOME/ryll/bug-reports` (by default `~/.local/state/ryll/...`), or the
/// temporary directory when there is no home.
pub fn default_dir() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")));
    match state {
        Some(dir) => dir.join("ryll").join("bug-reports"),
        None => std::env::temp_dir().join("ryll-bug-reports"),
    }
}

/// The text of `report.txt` (before redaction).
pub fn report_text(info: &ReportInfo) -> String {
    let mut t = String::new();
    let line = |t: &mut String, k: &str, v: &str| t.push_str(&format!("{k:<12} {v}\n"));
    line(&mut t, "ryll", concat!(env!("CARGO_PKG_VERSION"), " (", env!("CARGO_PKG_NAME"), ")"));
    line(&mut t, "os", &os_description());
    line(&mut t, "server", info.server.as_deref().unwrap_or("(not known yet)"));
    line(&mut t, "vm name", info.vm_name.as_deref().unwrap_or("(not sent)"));
    line(&mut t, "vm uuid", info.vm_uuid.as_deref().unwrap_or("(not sent)"));
    line(&mut t, "connection", &info.connection);
    t.push_str("\nerror:\n");
    t.push_str(&info.error);
    t.push_str("\n\nchannels:\n");
    for c in &info.channels {
        t.push_str(&format!("  {c}\n"));
    }
    t
}

/// The OS: the distribution's name from `/etc/os-release`, the kernel and the architecture.
pub fn os_description() -> String {
    let distro = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').chars().take(100).collect()))
        })
        .unwrap_or_else(|| std::env::consts::OS.to_string());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    format!("{distro}, kernel {kernel}, {}", std::env::consts::ARCH).replace(", kernel ,", ",")
}

/// Writes the bundle for `info` with `log` into `setup.out_dir`; returns its path.
pub fn write_bundle(setup: &ReportSetup, info: &ReportInfo, log: &[String]) -> io::Result<PathBuf> {
    create_private_dir(&setup.out_dir)?;
    let secrets = &setup.secrets;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    let path = setup.out_dir.join(format!("ryll-bug-report-{stamp}.tar.gz"));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut report = report_text(info);
    let mut log_text = log.join("\n");
    log_text.push('\n');
    let captures = capture_files(setup.capture_dir.as_deref());
    match &captures {
        Ok(list) if list.iter().map(|(_, n)| n).sum::<u64>() > MAX_CAPTURE_BYTES => {
            report.push_str(&format!(
                "\ncapture: {} file(s) over {} MiB in total, not included: attach them from {} if you can\n",
                list.len(),
                MAX_CAPTURE_BYTES >> 20,
                setup.capture_dir.as_deref().map(|p| p.display().to_string()).unwrap_or_default()
            ));
        }
        Ok(list) => {
            for (p, _) in list {
                let mut bytes = fs::read(p)?;
                let masked = secrets.mask_bytes(&mut bytes);
                let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                if masked > 0 {
                    report.push_str(&format!("\ncapture {name}: {masked} secret(s) masked with X\n"));
                }
                files.push((format!("capture/{name}"), bytes));
            }
        }
        Err(e) => report.push_str(&format!("\ncapture: cannot read the capture directory: {e}\n")),
    }
    files.insert(0, ("report.txt".into(), secrets.redact_text(&report).into_bytes()));
    files.insert(1, ("log.txt".into(), secrets.redact_text(&log_text).into_bytes()));
    if let Some((name, _)) = files.iter().find(|(_, b)| secrets.found_in(b)) {
        return Err(io::Error::other(format!("{name} still holds a secret after redaction; no report written")));
    }
    let tmp = setup.out_dir.join(format!(".ryll-bug-report-{stamp}.partial"));
    let result = write_tar_gz(&tmp, &files).and_then(|()| fs::rename(&tmp, &path));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| path)
}

/// The capture directory's regular files with their sizes, sorted by name.
fn capture_files(dir: Option<&Path>) -> io::Result<Vec<(PathBuf, u64)>> {
    let Some(dir) = dir else { return Ok(Vec::new()) };
    let mut list = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_file() {
            list.push((entry.path(), meta.len()));
        }
    }
    list.sort();
    Ok(list)
}

fn write_tar_gz(path: &Path, files: &[(String, Vec<u8>)]) -> io::Result<()> {
    let file = private_file(path)?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, flate2::Compression::default()));
    let mtime = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        header.set_cksum();
        tar.append_data(&mut header, format!("ryll-bug-report/{name}"), bytes.as_slice())?;
    }
    let gz = tar.into_inner()?;
    let mut file = gz.finish()?;
    file.flush()?;
    file.sync_all()
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn private_file(path: &Path) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests;

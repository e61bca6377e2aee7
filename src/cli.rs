//! Command-line arguments.

use crate::channels::link::Password;
use crate::channels::webdav::WebdavConfig;
use crate::session::SessionConfig;
use crate::webdav::server::ShareConfig;
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// ryll: a SPICE client that shares a local folder with the virtual machine.
#[derive(Debug, Parser)]
#[command(
    name = "ryll",
    version,
    about = "A SPICE client that shares a local folder with the virtual machine over WebDAV",
    after_help = "Examples:\n  ryll --direct vmhost:5900 --headless --share-dir ~/Documents\n  \
                  RYLL_PASSWORD=secret ryll --direct 127.0.0.1:5930 --headless --share-dir ./build --share-dir-ro\n\n\
                  The guest needs spice-webdavd (Linux: package spice-webdavd; Windows: spice-webdavd installer);\n\
                  the share then appears at http://127.0.0.1:9843/ inside the guest."
)]
pub struct Cli {
    /// SPICE server to connect to, as HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub direct: String,

    /// Run without a window: log to stderr and run until SIGINT/SIGTERM or until the server ends the session.
    #[arg(long)]
    pub headless: bool,

    /// Read the SPICE password from the first line of FILE (the RYLL_PASSWORD environment variable also works).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// More logging: -v for debug, -vv for trace.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Write one pcap file per channel into DIR (decode with: tshark -r FILE -d tcp.port==PORT,spice).
    #[arg(long, value_name = "DIR")]
    pub capture: Option<PathBuf>,

    /// Share the directory PATH with the guest (served by the guest's spice-webdavd at http://127.0.0.1:9843/).
    #[arg(long, value_name = "PATH")]
    pub share_dir: Option<PathBuf>,

    /// Make the share read-only: the guest can read but not change, create or delete anything.
    #[arg(long, requires = "share_dir")]
    pub share_dir_ro: bool,

    /// Most guest connections served at once; more get "503 Service Unavailable".
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_guest_connections: u16,

    /// Seconds a guest connection may accept no data before it is dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_limit: u64,

    /// Use LZ4 compression on the WebDAV channel (off by default: see docs/performance.md).
    #[arg(long)]
    pub webdav_lz4: bool,
}

/// A configuration error worth one clear line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The password file cannot be read.
    #[error("cannot read the password file {path}: {source}")]
    PasswordFile {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The shared directory is unusable.
    #[error("--share-dir {path}: {reason}")]
    ShareDir {
        /// The path given.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The address is not HOST:PORT.
    #[error("--direct {0}: expected HOST:PORT, for example 127.0.0.1:5900")]
    Address(String),
}

impl Cli {
    /// Builds the session configuration, reading the password and checking the share directory.
    pub fn session_config(&self) -> Result<SessionConfig, ConfigError> {
        let password = match &self.password_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::PasswordFile { path: path.display().to_string(), source })?;
                Password::new(text.lines().next().unwrap_or_default())
            }
            None => Password::new(std::env::var("RYLL_PASSWORD").unwrap_or_default()),
        };
        let share = match &self.share_dir {
            Some(path) => Some(ShareConfig { root: check_share_dir(path)?, read_only: self.share_dir_ro }),
            None => None,
        };
        Ok(SessionConfig {
            addr: check_addr(&self.direct)?,
            password,
            capture_dir: self.capture.clone(),
            share,
            webdav: WebdavConfig {
                max_clients: self.max_guest_connections.into(),
                stall_limit: Duration::from_secs(self.stall_limit),
                lz4: self.webdav_lz4,
            },
        })
    }
}

fn check_addr(addr: &str) -> Result<String, ConfigError> {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0) => Ok(addr.to_string()),
        _ => Err(ConfigError::Address(addr.to_string())),
    }
}

/// Checks that `path` exists and is a directory, and returns its canonical absolute form.
pub fn check_share_dir(path: &std::path::Path) -> Result<PathBuf, ConfigError> {
    let err = |reason: String| ConfigError::ShareDir { path: path.display().to_string(), reason };
    let canonical = std::fs::canonicalize(path).map_err(|e| err(format!("cannot open it ({e})")))?;
    if !canonical.is_dir() {
        return Err(err("not a directory".into()));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ryll").chain(args.iter().copied()))
    }

    #[test]
    fn parses_a_headless_share() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let cli = parse(&["--direct", "127.0.0.1:5900", "--headless", "--share-dir", d, "--share-dir-ro"]).unwrap();
        let cfg = cli.session_config().unwrap();
        let share = cfg.share.unwrap();
        assert!(share.read_only);
        assert!(share.root.is_absolute());
        assert_eq!(cfg.webdav.max_clients, 256);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&["--direct", "h:1", "--share-dir-ro"]).is_err(), "--share-dir-ro needs --share-dir");
        assert!(parse(&[]).is_err());
        let cli = parse(&["--direct", "nohost"]).unwrap();
        assert!(matches!(cli.session_config(), Err(ConfigError::Address(_))));
        let cli = parse(&["--direct", "h:1", "--share-dir", "/definitely/not/here"]).unwrap();
        assert!(matches!(cli.session_config(), Err(ConfigError::ShareDir { .. })));
        let file = tempfile::NamedTempFile::new().unwrap();
        let cli = parse(&["--direct", "h:1", "--share-dir", file.path().to_str().unwrap()]).unwrap();
        assert!(matches!(cli.session_config(), Err(ConfigError::ShareDir { .. })));
    }

    #[test]
    fn password_file_first_line_only() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, b"s3cret\nignored\n").unwrap();
        let cli = parse(&["--direct", "h:1", "--password-file", file.path().to_str().unwrap()]).unwrap();
        assert_eq!(cli.session_config().unwrap().password.expose(), b"s3cret");
        assert!(!format!("{:?}", cli.session_config().unwrap()).contains("s3cret"));
    }
}

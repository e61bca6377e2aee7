//! Command-line arguments.

use crate::channels::compression::ShareCompression;
use crate::channels::usbredir::{Speed, UsbDisk};
use crate::channels::webdav::WebdavConfig;
use crate::connect::addr::format_addr;
use crate::connect::dial::{TlsEndpoint, Transport};
use crate::connect::password::Password;
use crate::connect::proxy::{ProxyUrl, ProxyUrlError};
use crate::connect::target::{ConnectTarget, SecureChannels};
use crate::connect::tls::{TlsConfig, TlsOptions, TlsSetupError};
use crate::connect::uri::{self, UriError};
use crate::connect::vv::{self, VvError};
use crate::headless::{HeadlessOptions, Screenshot};
use crate::input::script::InputAction;
use crate::protocol::display::client::ImageCompression;
use crate::session::display::DisplayConfig;
use crate::session::remember::{RememberConfig, RememberMode};
use crate::session::SessionConfig;
use crate::webdav::named::{check_shares, parse_share_spec, NamedShare};
use crate::webdav::protect::{PatternError, Protection};
use crate::webdav::server::ShareConfig;
use crate::webdav::share_dir::{self, ShareDirError};
use clap::Parser;
use std::path::PathBuf;
use std::time::Duration;

/// ryll: a SPICE client that shares a local folder with the virtual machine.
#[derive(Debug, Parser)]
#[command(
    name = "ryll",
    version,
    group(clap::ArgGroup::new("any_share").args(["share_dir", "shares"]).multiple(true)),
    about = "A SPICE client that shares a local folder with the virtual machine over WebDAV",
    after_help = "Examples:\n  ryll --direct vmhost:5900 --headless --share-dir ~/Documents\n  \
                  RYLL_PASSWORD=secret ryll --direct 127.0.0.1:5930 --headless --share-dir ./build --share-dir-ro\n  \
                  ryll console.vv --headless --share-dir ~/Documents\n  \
                  ryll console.vv --headless --share docs=$HOME/Documents --share music=$HOME/Music:ro\n  \
                  ryll spice+tls://vmhost:5901 --ca-file ca-cert.pem --headless --share-dir ~/Documents\n\n\
                  Connecting (TLS, .vv files, URIs, proxies): docs/configuration.md.\n\
                  The guest needs spice-webdavd (Linux: package spice-webdavd; Windows: spice-webdavd installer);\n\
                  the share then appears at http://127.0.0.1:9843/ inside the guest."
)]
pub struct Cli {
    /// A virt-viewer connection file (.vv), or a spice://HOST:PORT or spice+tls://HOST:TLS_PORT URI.
    #[arg(value_name = "FILE.vv|URI")]
    pub target: Option<String>,

    /// SPICE server to connect to: HOST:PORT, HOST:PORT:TLS_PORT or HOST::TLS_PORT (IPv6 in brackets).
    #[arg(long, value_name = "HOST:PORT[:TLS_PORT]")]
    pub direct: Option<String>,

    /// Read the connection from a virt-viewer connection file (.vv), as remote-viewer does.
    #[arg(long, value_name = "FILE.vv")]
    pub file: Option<PathBuf>,

    /// The CA certificate(s) (PEM) that signed the server's TLS certificate (default: the .vv file's ca=, else
    /// the system trust store).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Require this TLS certificate subject, e.g. "C=XX,L=city,O=org,CN=host" (default: the .vv file's
    /// host-subject=, else the certificate must name the host).
    #[arg(long, value_name = "SUBJECT")]
    pub host_subject: Option<String>,

    /// Channels that must use TLS: all, or a comma-separated list such as main,webdav (default: the .vv file's
    /// secure-channels=, else none; a channel the server says needs TLS is retried over TLS anyway).
    #[arg(long, value_name = "all|CHANNEL,...")]
    pub secure_channels: Option<String>,

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

    /// Share the directory PATH as the folder NAME (repeatable): the guest's root then holds one folder per
    /// share, and cannot itself be changed. `:ro` makes that share read-only. Cannot be combined with --share-dir.
    #[arg(long = "share", value_name = "NAME=PATH[:ro]", conflicts_with = "share_dir")]
    pub shares: Vec<String>,

    /// Create files and folders in the share readable by you only (0600/0700) instead of following your umask.
    #[arg(long)]
    pub share_private: bool,

    /// Give the guest the raw disk image PATH as a USB stick (repeatable: one disk per usbredir channel the server
    /// offers, in channel order). The VM needs a usbredir channel (see docs/usage.md).
    #[arg(long = "usb-disk", value_name = "PATH")]
    pub usb_disks: Vec<PathBuf>,

    /// Attach the USB disks read-only: the image is opened read-only and the guest sees a write-protected disk.
    #[arg(long, requires = "usb_disks")]
    pub usb_disk_ro: bool,

    /// The speed the guest sees the USB disks at: super (USB 3, the default: needs a USB 3 controller such as
    /// qemu-xhci, and is several times faster) or high (USB 2.0, for VMs with only EHCI).
    #[arg(long, value_name = "SPEED", default_value = "super", value_parser = ["super", "high"])]
    pub usb_speed: String,

    /// Headless: read commands from standard input, one per line, and answer each on standard output
    /// (usb-attach CHANNEL PATH [ro], usb-detach CHANNEL, usb-status, screenshot PATH, quit; see docs/usage.md).
    /// Links the display channel, so that screenshot can write the guest's screen at any moment.
    #[arg(long)]
    pub commands: bool,

    /// Hide GLOB from the guest as a credential store: never listed, read, written, moved or locked (repeatable;
    /// adds to the defaults in docs/security.md; a GLOB without a leading / matches at any depth).
    #[arg(long, value_name = "GLOB")]
    pub share_exclude: Vec<String>,

    /// Make GLOB read-only for the guest even in a read-write share, like the default login and autostart files
    /// (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub share_protect: Vec<String>,

    /// Drop the default protection (credential stores hidden, login files read-only): a guest given your home
    /// folder can then read your keys and make your next login run its code.
    #[arg(long)]
    pub share_unprotected: bool,

    /// Remember the share for this VM (keyed by its UUID, or its name and the server address): later connects
    /// without a share flag share the folder again. Stored in $XDG_CONFIG_HOME/ryll/remembered-shares.toml.
    #[arg(long, requires = "any_share", conflicts_with_all = ["no_remember", "forget"])]
    pub remember: bool,

    /// Neither read nor write the remembered shares: share only what the command line says.
    #[arg(long, conflicts_with = "forget")]
    pub no_remember: bool,

    /// Forget the shares remembered for this VM (once it is known) and share none of them.
    #[arg(long)]
    pub forget: bool,

    /// Most guest connections served at once; more get "503 Service Unavailable".
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_guest_connections: u16,

    /// Seconds a guest connection may accept no data before it is dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub stall_limit: u64,

    /// LZ4 on the WebDAV channel: `auto` uses it where the link, not the CPU, limits a transfer and the data
    /// compresses (see docs/performance.md); `always` and `never` force it.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ShareCompressionArg::Auto)]
    pub share_compression: ShareCompressionArg,

    /// The same as `--share-compression always` (kept for older scripts).
    #[arg(long, hide = true)]
    pub webdav_lz4: bool,

    /// Connect, wait until the guest's screen has settled (its first full frame, then --settle-ms without a
    /// change), write it to FILE as PNG and exit 0; exit 1 with the reason if it cannot. Implies --headless.
    #[arg(long, value_name = "FILE.png")]
    pub screenshot: Option<PathBuf>,

    /// The monitor the window shows first: 1 is the first display channel's first head, and so on in the order
    /// the status bar's "monitor:" choice lists them (each display channel's MONITORS_CONFIG heads, or the channel).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub monitor: Option<u16>,

    /// How long --screenshot waits for a settled screen before giving up.
    #[arg(long, value_name = "SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub screenshot_timeout: u64,

    /// Milliseconds without a screen change after which --screenshot counts the screen as settled.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub settle_ms: u64,

    /// Ask the server for this image compression on the display channel (default: the server's setting).
    #[arg(long, value_enum, value_name = "KIND")]
    pub image_compression: Option<CompressionArg>,

    /// Type TEXT into the guest with key strokes of a US keyboard once the inputs channel is linked, then exit 0
    /// (after --screenshot, if given). Repeatable; runs in command-line order with --send-keys and --click.
    #[arg(long = "type", value_name = "TEXT")]
    pub type_text: Vec<String>,

    /// Press a key combination, such as ctrl+alt+del, ctrl+alt+f2, print or pause (key names: docs/usage.md).
    /// Repeatable.
    #[arg(long, value_name = "COMBO")]
    pub send_keys: Vec<String>,

    /// Click at X,Y of the guest's screen (surface pixels), with BUTTON left (default), middle, right, up, down,
    /// side or extra. Exact in client mouse mode (a usb-tablet or a guest agent). Repeatable.
    #[arg(long, value_name = "X,Y[,BUTTON]")]
    pub click: Vec<String>,

    /// Milliseconds between the key strokes and clicks of --type, --send-keys and --click.
    #[arg(long, value_name = "MS", default_value_t = 20)]
    pub input_delay_ms: u64,

    /// --type, --send-keys and --click values in command-line order (filled by [`Cli::parse_ordered`]).
    #[arg(skip)]
    pub input_order: Vec<(InputFlag, String)>,
}

/// Which input flag a scripted step came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFlag {
    /// `--type`.
    Type,
    /// `--send-keys`.
    SendKeys,
    /// `--click`.
    Click,
}

/// `--share-compression` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShareCompressionArg {
    /// Decide from the measured link rate and how well the data compresses.
    Auto,
    /// Offer LZ4 and compress every frame that gets smaller.
    Always,
    /// No LZ4.
    Never,
}

impl From<ShareCompressionArg> for ShareCompression {
    fn from(a: ShareCompressionArg) -> Self {
        match a {
            ShareCompressionArg::Auto => ShareCompression::Auto,
            ShareCompressionArg::Always => ShareCompression::Always,
            ShareCompressionArg::Never => ShareCompression::Never,
        }
    }
}

/// `--image-compression` values (SpiceImageCompression).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressionArg {
    /// Raw bitmaps.
    Off,
    /// GLZ or QUIC, the server's choice.
    AutoGlz,
    /// LZ or QUIC, the server's choice.
    AutoLz,
    /// QUIC.
    Quic,
    /// GLZ.
    Glz,
    /// LZ.
    Lz,
    /// LZ4.
    Lz4,
}

impl From<CompressionArg> for ImageCompression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::Off => ImageCompression::Off,
            CompressionArg::AutoGlz => ImageCompression::AutoGlz,
            CompressionArg::AutoLz => ImageCompression::AutoLz,
            CompressionArg::Quic => ImageCompression::Quic,
            CompressionArg::Glz => ImageCompression::Glz,
            CompressionArg::Lz => ImageCompression::Lz,
            CompressionArg::Lz4 => ImageCompression::Lz4,
        }
    }
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
    /// A `--share-exclude` or `--share-protect` pattern is refused.
    #[error("--share-exclude/--share-protect: {0}")]
    Protection(#[from] PatternError),
    /// The shared directory is unusable.
    #[error("--share-dir {0}")]
    ShareDir(#[from] ShareDirError),
    /// A `--share` value is unusable.
    #[error("--share {0}")]
    NamedShare(String),
    /// `--share-private` without a share.
    #[error("--share-private needs --share-dir or --share")]
    PrivateWithoutShare,
    /// A `--usb-disk` image is unusable.
    #[error("--usb-disk {0}")]
    UsbDisk(String),
    /// Not exactly one connection source.
    #[error(
        "{0}: give exactly one of --direct HOST:PORT[:TLS_PORT], --file FILE.vv, or a .vv file or spice:// URI \
         as the argument"
    )]
    Source(String),
    /// `--direct` or a URI is malformed.
    #[error("{0}")]
    Uri(#[from] UriError),
    /// A `.vv` file is unusable.
    #[error("{0}")]
    Vv(#[from] VvError),
    /// `SPICE_PROXY` is malformed.
    #[error("SPICE_PROXY: {0}")]
    Proxy(ProxyUrlError),
    /// `--secure-channels` is malformed.
    #[error("--secure-channels: {0}")]
    SecureChannels(String),
    /// The target cannot be connected to as given.
    #[error("{0}")]
    Target(String),
    /// TLS cannot be set up.
    #[error("{0}")]
    Tls(#[from] TlsSetupError),
    /// `--type`, `--send-keys` or `--click` is malformed.
    #[error("{0}")]
    Input(String),
}

impl Cli {
    /// Parses the process arguments like `Cli::parse`, keeping the order of the input flags.
    pub fn parse_ordered() -> Cli {
        Self::parse_ordered_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first is the program name), keeping the order of the input flags.
    pub fn parse_ordered_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let matches = Cli::command().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        let mut order = Vec::new();
        for (id, flag) in
            [("type_text", InputFlag::Type), ("send_keys", InputFlag::SendKeys), ("click", InputFlag::Click)]
        {
            let (Some(idx), Some(values)) = (matches.indices_of(id), matches.get_many::<String>(id)) else { continue };
            order.extend(idx.zip(values).map(|(i, v)| (i, flag, v.clone())));
        }
        order.sort_by_key(|(i, ..)| *i);
        cli.input_order = order.into_iter().map(|(_, f, v)| (f, v)).collect();
        Ok(cli)
    }

    /// The input script of --type, --send-keys and --click, in command-line order.
    pub fn input_actions(&self) -> Result<Vec<InputAction>, ConfigError> {
        let listed: Vec<(InputFlag, String)> = if self.input_order.is_empty() {
            let typed = self.type_text.iter().map(|v| (InputFlag::Type, v.clone()));
            let keys = self.send_keys.iter().map(|v| (InputFlag::SendKeys, v.clone()));
            typed.chain(keys).chain(self.click.iter().map(|v| (InputFlag::Click, v.clone()))).collect()
        } else {
            self.input_order.clone()
        };
        listed
            .iter()
            .map(|(flag, v)| match flag {
                InputFlag::Type => InputAction::typed(v).map_err(|e| format!("--type: {e}")),
                InputFlag::SendKeys => InputAction::combo(v).map_err(|e| format!("--send-keys: {e}")),
                InputFlag::Click => InputAction::click(v),
            })
            .collect::<Result<_, _>>()
            .map_err(ConfigError::Input)
    }

    /// Builds the session configuration: resolves the connection source, reads the password, loads the TLS
    /// settings and checks the share directory.
    pub fn session_config(&self) -> Result<SessionConfig, ConfigError> {
        self.session_config_with_env(&|name| std::env::var(name).ok())
    }

    /// The connection target from exactly one source, before the command-line overrides.
    pub fn connect_target(&self) -> Result<ConnectTarget, ConfigError> {
        let mut given = Vec::new();
        if self.direct.is_some() {
            given.push("--direct");
        }
        if self.file.is_some() {
            given.push("--file");
        }
        if let Some(t) = &self.target {
            given.push(if uri::looks_like_uri(t) { "a URI" } else { "a .vv file argument" });
        }
        match given.as_slice() {
            [] => return Err(ConfigError::Source("no server given".into())),
            [_] => {}
            many => return Err(ConfigError::Source(format!("{} given together", many.join(" and ")))),
        }
        if let Some(direct) = &self.direct {
            return Ok(uri::parse_direct(direct)?);
        }
        if let Some(path) = &self.file {
            return Ok(vv::read_file(path)?.target);
        }
        match &self.target {
            Some(t) if uri::looks_like_uri(t) => {
                let target = uri::parse_uri(t)?;
                if target.password.is_some() {
                    tracing::warn!(
                        "the password in the URI is visible to other users of this machine in the process list; \
                         prefer --password-file, RYLL_PASSWORD or a .vv file"
                    );
                }
                Ok(target)
            }
            Some(path) => Ok(vv::read_file(std::path::Path::new(path))?.target),
            None => Err(ConfigError::Source("no server given".into())),
        }
    }

    /// [`Cli::session_config`] with the environment given as a function (for tests).
    pub fn session_config_with_env(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<SessionConfig, ConfigError> {
        let mut target = self.connect_target()?;
        if let Some(subject) = &self.host_subject {
            target.host_subject = Some(subject.clone());
        }
        if let Some(list) = &self.secure_channels {
            target.secure_channels = Some(SecureChannels::parse(list).map_err(ConfigError::SecureChannels)?);
        }
        if target.proxy.is_none() {
            if let Some(url) = env("SPICE_PROXY").filter(|u| !u.trim().is_empty()) {
                target.proxy = Some(ProxyUrl::parse(&url).map_err(ConfigError::Proxy)?);
            }
        }
        target.check().map_err(ConfigError::Target)?;
        // --password-file, then the source's password (a .vv ticket), then RYLL_PASSWORD.
        let password = match &self.password_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::PasswordFile { path: path.display().to_string(), source })?;
                Password::new(text.lines().next().unwrap_or_default())
            }
            None => match target.password.take() {
                Some(p) => p,
                None => Password::new(env("RYLL_PASSWORD").unwrap_or_default()),
            },
        };
        let tls = match target.tls_port {
            Some(port) => {
                let opts = TlsOptions {
                    ca_pem: target.ca.clone(),
                    ca_file: self.ca_file.clone(),
                    host_subject: target.host_subject.clone(),
                };
                Some(TlsEndpoint { host: target.host.clone(), port, config: TlsConfig::new(&target.host, &opts)? })
            }
            None => {
                if self.ca_file.is_some() || self.host_subject.is_some() {
                    tracing::warn!("--ca-file and --host-subject are ignored: no TLS port is known");
                }
                None
            }
        };
        let protection = Protection::from_flags(self.share_unprotected, &self.share_exclude, &self.share_protect)?;
        if self.share_unprotected {
            tracing::warn!(
                "--share-unprotected: the guest can read your keys and change your login files in a shared home \
                 folder"
            );
        }
        let share = match &self.share_dir {
            Some(path) => Some(ShareConfig {
                root: share_dir::check(path)?,
                read_only: self.share_dir_ro,
                private: self.share_private,
                protection: protection.clone(),
            }),
            None => None,
        };
        let shares = self.named_shares(&protection)?;
        if self.share_private && share.is_none() && shares.is_empty() {
            return Err(ConfigError::PrivateWithoutShare);
        }
        tracing::debug!("connection target: {}", target.describe());
        let has_input = !self.input_actions()?.is_empty();
        Ok(SessionConfig {
            addr: target.port.map(|p| format_addr(&target.host, p)).unwrap_or_default(),
            password,
            transport: Transport {
                tls,
                secure_channels: target.secure_channels.clone().unwrap_or_default(),
                proxy: target.proxy.clone(),
            },
            title: target.title.clone(),
            capture_dir: self.capture.clone(),
            share,
            shares,
            webdav: WebdavConfig {
                max_clients: self.max_guest_connections.into(),
                stall_limit: Duration::from_secs(self.stall_limit),
                compression: if self.webdav_lz4 { ShareCompression::Always } else { self.share_compression.into() },
                protection,
            },
            inputs: !self.runs_headless() || has_input,
            remember: self.remember_config(),
            usb: self.usb_disks()?,
            display: DisplayConfig {
                enabled: self.screenshot.is_some() || self.commands || !self.runs_headless(),
                compression: self.image_compression.map(ImageCompression::from),
                monitor: self.monitor,
            },
        })
    }

    /// The `--usb-disk` images: regular files of at least one 512-byte block, opened as the channel links.
    fn usb_disks(&self) -> Result<Vec<UsbDisk>, ConfigError> {
        let mut out = Vec::with_capacity(self.usb_disks.len());
        for path in &self.usb_disks {
            let disk = UsbDisk::check(path, self.usb_disk_ro).map_err(ConfigError::UsbDisk)?;
            let speed = Speed::parse(&self.usb_speed).unwrap_or_default();
            out.push(UsbDisk { speed, ..disk });
        }
        Ok(out)
    }

    /// The `--share NAME=PATH[:ro]` shares: names checked and unique, paths existing directories.
    fn named_shares(&self, protection: &Protection) -> Result<Vec<NamedShare>, ConfigError> {
        let mut out = Vec::with_capacity(self.shares.len());
        for spec in &self.shares {
            let (name, path, read_only) = parse_share_spec(spec).map_err(|e| ConfigError::NamedShare(e.to_string()))?;
            let root = share_dir::check(&path).map_err(|e| ConfigError::NamedShare(format!("{name}: {e}")))?;
            let mut share = NamedShare::new(name, root, read_only, protection.clone());
            share.config.private = self.share_private;
            out.push(share);
        }
        check_shares(out.iter().map(|s| s.name.as_str())).map_err(|e| ConfigError::NamedShare(e.to_string()))?;
        Ok(out)
    }

    /// The remembered shares' file and mode: `None` with `--no-remember` or when there is no config directory.
    fn remember_config(&self) -> Option<RememberConfig> {
        if self.no_remember {
            return None;
        }
        let Some(file) = crate::remember::default_file() else {
            tracing::warn!("remembered shares are off: no config directory (set HOME or XDG_CONFIG_HOME)");
            return None;
        };
        let mode = match (self.remember, self.forget) {
            (true, _) => RememberMode::Save,
            (false, true) => RememberMode::Forget,
            (false, false) => RememberMode::Restore,
        };
        Some(RememberConfig { store: crate::remember::store::Store::new(file), mode })
    }

    /// Whether to run without a window (`--headless`, `--commands`, `--screenshot`, or an input script).
    pub fn runs_headless(&self) -> bool {
        self.headless
            || self.commands
            || self.screenshot.is_some()
            || !self.type_text.is_empty()
            || !self.send_keys.is_empty()
            || !self.click.is_empty()
    }

    /// What the headless front end does besides running the session.
    pub fn headless_options(&self) -> HeadlessOptions {
        HeadlessOptions {
            input: self.input_actions().unwrap_or_default(),
            input_delay: Duration::from_millis(self.input_delay_ms),
            commands: self.commands,
            screenshot: self.screenshot.clone().map(|path| Screenshot {
                path,
                timeout: Duration::from_secs(self.screenshot_timeout),
                settle: Duration::from_millis(self.settle_ms),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("ryll").chain(args.iter().copied()))
    }

    #[test]
    fn usb_disks_are_checked_and_take_the_read_only_flag() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("a.img");
        std::fs::write(&img, [0u8; 1024]).unwrap();
        let tiny = dir.path().join("tiny.img");
        std::fs::write(&tiny, [0u8; 10]).unwrap();
        let (i, t) = (img.to_str().unwrap(), tiny.to_str().unwrap());
        let cfg = parse(&["--direct", "h:1", "--headless", "--usb-disk", i, "--usb-disk", i, "--usb-disk-ro"])
            .unwrap()
            .session_config()
            .unwrap();
        assert_eq!(cfg.usb.len(), 2);
        assert!(cfg.usb.iter().all(|d| d.read_only && d.path == img && d.speed == Speed::Super));
        let cfg =
            parse(&["--direct", "h:1", "--usb-disk", i, "--usb-speed", "high"]).unwrap().session_config().unwrap();
        assert_eq!(cfg.usb[0].speed, Speed::High);
        assert!(parse(&["--direct", "h:1", "--usb-disk", i, "--usb-speed", "full"]).is_err());
        let err = parse(&["--direct", "h:1", "--usb-disk", t]).unwrap().session_config().unwrap_err().to_string();
        assert!(err.contains("--usb-disk") && err.contains("at least 512 bytes"), "{err}");
        let missing = dir.path().join("none.img");
        let err = parse(&["--direct", "h:1", "--usb-disk", missing.to_str().unwrap()]).unwrap().session_config();
        assert!(err.is_err());
        assert!(parse(&["--direct", "h:1", "--usb-disk-ro"]).is_err(), "--usb-disk-ro needs --usb-disk");
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
    fn protection_flags_add_to_or_drop_the_defaults() {
        use crate::webdav::protect::Access;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let cfg = parse(&["--direct", "h:1", "--share-dir", d]).unwrap().session_config().unwrap();
        let share = cfg.share.unwrap();
        assert_eq!(share.protection.access(b"/.ssh/id_rsa"), Access::Hidden);
        assert_eq!(share.protection, cfg.webdav.protection);
        let args = ["--direct", "h:1", "--share-dir", d, "--share-exclude", "*.kdbx", "--share-protect", "/bin"];
        let cfg = parse(&args).unwrap().session_config().unwrap();
        let p = cfg.share.unwrap().protection;
        assert_eq!(p.access(b"/vault/pw.KDBX"), Access::Hidden);
        assert_eq!(p.access(b"/bin/ls"), Access::ReadOnly);
        assert_eq!(p.access(b"/.bashrc"), Access::ReadOnly);
        let cfg = parse(&["--direct", "h:1", "--share-unprotected", "--share-exclude", "/x"]).unwrap();
        let p = cfg.session_config().unwrap().webdav.protection;
        assert_eq!((p.access(b"/.ssh/id_rsa"), p.access(b"/x/y")), (Access::Open, Access::Hidden));
        let bad = parse(&["--direct", "h:1", "--share-exclude", "**"]).unwrap().session_config();
        assert!(matches!(bad, Err(ConfigError::Protection(_))), "{bad:?}");
    }

    #[test]
    fn parses_named_shares() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a_arg, b_arg) = (format!("docs={}", a.path().display()), format!("music={}:ro", b.path().display()));
        let args = ["--direct", "h:1", "--share", &a_arg, "--share", &b_arg, "--share-private"];
        let cfg = parse(&args).unwrap().session_config().unwrap();
        assert!(cfg.share.is_none());
        let got: Vec<(&str, bool, bool)> =
            cfg.shares.iter().map(|s| (s.name.as_str(), s.config.read_only, s.config.private)).collect();
        assert_eq!(got, [("docs", false, true), ("music", true, true)]);
        assert!(cfg.shares.iter().all(|s| s.config.root.is_absolute()));
        assert_eq!(cfg.shares[0].config.protection, cfg.webdav.protection);

        let dir = a.path().display();
        let with_dir = ["--direct", "h:1", "--share", &a_arg, "--share-dir", &dir.to_string()];
        assert!(parse(&with_dir).is_err(), "--share and --share-dir do not mix");
        for bad in [format!("a/b={dir}"), format!("..={dir}"), format!("={dir}"), "docs=".into(), dir.to_string()] {
            let cli = parse(&["--direct", "h:1", "--share", &bad]).unwrap();
            assert!(matches!(cli.session_config(), Err(ConfigError::NamedShare(_))), "{bad}");
        }
        let dup = parse(&["--direct", "h:1", "--share", &a_arg, "--share", &a_arg]).unwrap().session_config();
        assert!(matches!(&dup, Err(ConfigError::NamedShare(e)) if e.contains("two shares")), "{dup:?}");
        let missing = parse(&["--direct", "h:1", "--share", "x=/definitely/not/here"]).unwrap().session_config();
        assert!(matches!(&missing, Err(ConfigError::NamedShare(e)) if e.starts_with("x: ")), "{missing:?}");
        let private = parse(&["--direct", "h:1", "--share-private"]).unwrap().session_config();
        assert!(matches!(private, Err(ConfigError::PrivateWithoutShare)));
    }

    #[test]
    fn remember_flags() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let mode = |args: &[&str]| parse(args).unwrap().remember_config().map(|c| c.mode);
        assert_eq!(mode(&["--direct", "h:1"]), Some(RememberMode::Restore));
        assert_eq!(mode(&["--direct", "h:1", "--share-dir", d, "--remember"]), Some(RememberMode::Save));
        assert_eq!(mode(&["--direct", "h:1", "--forget"]), Some(RememberMode::Forget));
        assert_eq!(mode(&["--direct", "h:1", "--no-remember"]), None);
        let file = parse(&["--direct", "h:1"]).unwrap().remember_config().unwrap().store.file().to_path_buf();
        assert!(file.ends_with("ryll/remembered-shares.toml"), "{}", file.display());
        assert!(parse(&["--direct", "h:1", "--remember"]).is_err(), "--remember needs a share");
        assert!(parse(&["--direct", "h:1", "--share-dir", d, "--remember", "--no-remember"]).is_err());
        assert!(parse(&["--direct", "h:1", "--forget", "--no-remember"]).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&["--direct", "h:1", "--share-dir-ro"]).is_err(), "--share-dir-ro needs --share-dir");
        let cli = parse(&["--direct", "nohost"]).unwrap();
        assert!(matches!(cli.session_config(), Err(ConfigError::Uri(_))));
        let cli = parse(&["--direct", "h:1", "--share-dir", "/definitely/not/here"]).unwrap();
        assert!(matches!(cli.session_config(), Err(ConfigError::ShareDir { .. })));
        let file = tempfile::NamedTempFile::new().unwrap();
        let cli = parse(&["--direct", "h:1", "--share-dir", file.path().to_str().unwrap()]).unwrap();
        assert!(matches!(cli.session_config(), Err(ConfigError::ShareDir { .. })));
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn exactly_one_connection_source() {
        let dir = tempfile::tempdir().unwrap();
        let vv = dir.path().join("c.vv");
        std::fs::write(&vv, "[virt-viewer]\ntype=spice\nhost=h\nport=1\n").unwrap();
        let vv = vv.to_str().unwrap();
        for args in [&[][..], &["--headless"][..]] {
            let e = parse(args).unwrap().session_config_with_env(&no_env).unwrap_err().to_string();
            assert!(e.contains("no server given") && e.contains("exactly one"), "{e}");
        }
        for (args, want) in [
            (&["--direct", "h:1", "spice://h:1"][..], "--direct and a URI given together"),
            (&["--direct", "h:1", "--file", vv][..], "--direct and --file given together"),
            (&["--file", vv, vv][..], "--file and a .vv file argument given together"),
        ] {
            let e = parse(args).unwrap().session_config_with_env(&no_env).unwrap_err().to_string();
            assert!(e.contains(want), "{args:?}: {e}");
        }
        for args in [&["--direct", "h:1"][..], &["--file", vv][..], &[vv][..], &["spice://h:1"][..]] {
            let cfg = parse(args).unwrap().session_config_with_env(&no_env).unwrap();
            assert_eq!(cfg.addr, "h:1", "{args:?}");
            assert!(cfg.transport.tls.is_none() && cfg.transport.proxy.is_none());
        }
    }

    fn ca_file(dir: &std::path::Path) -> std::path::PathBuf {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![]).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let path = dir.join("ca.pem");
        std::fs::write(&path, params.self_signed(&key).unwrap().pem()).unwrap();
        path
    }

    #[test]
    fn tls_ports_policy_and_ca() {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca_file(dir.path());
        let ca = ca.to_str().unwrap();
        let cfg = parse(&["--direct", "[::1]::5901", "--ca-file", ca, "--secure-channels", "main,webdav"])
            .unwrap()
            .session_config_with_env(&no_env)
            .unwrap();
        assert_eq!(cfg.addr, "");
        let tls = cfg.transport.tls.unwrap();
        assert_eq!((tls.host.as_str(), tls.port), ("::1", 5901));
        assert!(cfg.transport.secure_channels.requires(crate::protocol::constants::ChannelType::Webdav));
        let cfg = parse(&["spice://h?port=1&tls-port=2", "--ca-file", ca]).unwrap();
        assert_eq!(cfg.session_config_with_env(&no_env).unwrap().addr, "h:1");

        let e = parse(&["--direct", "h:1", "--secure-channels", "all"]).unwrap();
        assert!(e.session_config_with_env(&no_env).unwrap_err().to_string().contains("no TLS port is known"));
        let e = parse(&["--direct", "h:1:2", "--secure-channels", "mian"]).unwrap();
        assert!(e.session_config_with_env(&no_env).unwrap_err().to_string().contains("--secure-channels"));
        let e = parse(&["--direct", "h::2", "--ca-file", "/definitely/not/here.pem"]).unwrap();
        assert!(matches!(e.session_config_with_env(&no_env), Err(ConfigError::Tls(_))));
        let e = parse(&["--direct", "h::2", "--ca-file", ca, "--host-subject", "CN"]).unwrap();
        assert!(e.session_config_with_env(&no_env).unwrap_err().to_string().contains("invalid host subject"));
    }

    #[test]
    fn vv_file_with_overrides_proxy_and_password_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let vv = dir.path().join("c.vv");
        let text = "[virt-viewer]\ntype=spice\nhost=vm\nport=5900\npassword=ticket\ntitle=My VM\n\
                    secure-channels=main\n";
        std::fs::write(&vv, text).unwrap();
        let vv = vv.to_str().unwrap();
        // The .vv file wants TLS for main but has no TLS port.
        assert!(matches!(parse(&[vv]).unwrap().session_config_with_env(&no_env), Err(ConfigError::Target(_))));
        let cli = parse(&[vv, "--secure-channels", ""]).unwrap();
        let env = |name: &str| match name {
            "SPICE_PROXY" => Some("http://alice:hunter2@proxy:8080".to_string()),
            "RYLL_PASSWORD" => Some("from-env".to_string()),
            _ => None,
        };
        let cfg = cli.session_config_with_env(&env).unwrap();
        assert_eq!(cfg.password.expose(), b"ticket", "the .vv ticket beats RYLL_PASSWORD");
        assert_eq!(cfg.title.as_deref(), Some("My VM"));
        let proxy = cfg.transport.proxy.clone().unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("proxy", 8080));
        assert!(!format!("{cfg:?}").contains("hunter2") && !format!("{cfg:?}").contains("ticket"));

        let cfg = parse(&["--direct", "vm:1"]).unwrap().session_config_with_env(&env).unwrap();
        assert_eq!(cfg.password.expose(), b"from-env");
        let bad_env = |name: &str| (name == "SPICE_PROXY").then(|| "socks5://alice:hunter2@p:1".to_string());
        let e = parse(&["--direct", "vm:1"]).unwrap().session_config_with_env(&bad_env).unwrap_err().to_string();
        assert!(e.starts_with("SPICE_PROXY: ") && !e.contains("hunter2"), "{e}");
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

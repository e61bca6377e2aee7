//! virt-viewer connection files (`.vv`), as remote-viewer reads them.
//!
//! The format is a GLib key file: `[group]` lines, `key=value` lines, `#` comments and blank lines; leading
//! whitespace is ignored, the value's leading whitespace is dropped, and values use the escapes `\n`, `\t`, `\r`,
//! `\s` (space) and `\\`. ryll reads the `[virt-viewer]` group. A small hand-written parser is used instead of an
//! INI crate because the escapes, the list syntax (`main;inputs`) and the "line N" error messages are GLib's, not
//! any crate's, and the format is a few dozen lines to parse.
//!
//! Keys used: `type` (must be `spice`), `host`, `port`, `tls-port`, `password`, `ca` (inline PEM), `host-subject`,
//! `secure-channels`, `proxy`, `title`, `delete-this-file`. Other keys and groups are ignored (logged at debug).

use super::addr::check_host;
use super::password::Password;
use super::proxy::ProxyUrl;
use super::target::{ConnectTarget, SecureChannels};
use std::io::Read;
use std::path::Path;

/// The largest `.vv` file ryll reads.
pub const MAX_VV_SIZE: u64 = 1024 * 1024;

/// What a `.vv` file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VvFile {
    /// The connection target.
    pub target: ConnectTarget,
    /// `delete-this-file=1`: delete the file once read (it usually holds a one-time password).
    pub delete_this_file: bool,
}

/// Why a `.vv` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VvError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Larger than [`MAX_VV_SIZE`].
    #[error("{path} is larger than 1 MiB; a virt-viewer connection file is a few kilobytes: is it the right file?")]
    TooLarge {
        /// The file.
        path: String,
    },
    /// Not UTF-8.
    #[error("{path} is not a text file (not UTF-8): is it a virt-viewer connection file?")]
    NotText {
        /// The file.
        path: String,
    },
    /// A syntax or value error on one line.
    #[error("{path} line {line}: {reason}")]
    Line {
        /// The file (empty when parsing text).
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Something is missing or inconsistent.
    #[error("{path}: {reason}")]
    Content {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

impl VvError {
    fn with_path(self, p: &str) -> Self {
        match self {
            VvError::Line { line, reason, .. } => VvError::Line { path: p.into(), line, reason },
            VvError::Content { reason, .. } => VvError::Content { path: p.into(), reason },
            other => other,
        }
    }
}

/// Reads and parses a `.vv` file (at most [`MAX_VV_SIZE`] bytes), deleting it afterwards when it says
/// `delete-this-file=1` (as remote-viewer does), even when it is malformed.
pub fn read_file(path: &Path) -> Result<VvFile, VvError> {
    let shown = path.display().to_string();
    let read_err = |source| VvError::Read { path: shown.clone(), source };
    let file = std::fs::File::open(path).map_err(read_err)?;
    if file.metadata().map_err(read_err)?.len() > MAX_VV_SIZE {
        return Err(VvError::TooLarge { path: shown });
    }
    let mut bytes = Vec::new();
    file.take(MAX_VV_SIZE + 1).read_to_end(&mut bytes).map_err(read_err)?;
    if bytes.len() as u64 > MAX_VV_SIZE {
        return Err(VvError::TooLarge { path: shown });
    }
    let text = String::from_utf8(bytes).map_err(|_| VvError::NotText { path: shown.clone() })?;
    let parsed = parse(&text);
    let delete = match &parsed {
        Ok(vv) => vv.delete_this_file,
        Err(_) => wants_delete(&text),
    };
    if delete {
        match std::fs::remove_file(path) {
            Ok(()) => tracing::debug!("deleted {shown} (delete-this-file)"),
            Err(e) => tracing::warn!("cannot delete {shown} as it asks (delete-this-file): {e}"),
        }
    }
    parsed.map_err(|e| e.with_path(&shown))
}

/// Best effort for a malformed file: does any line say `delete-this-file=1`?
fn wants_delete(text: &str) -> bool {
    text.lines().any(|l| {
        l.trim_start().split_once('=').is_some_and(|(k, v)| k.trim() == "delete-this-file" && parse_flag(v.trim()))
    })
}

fn parse_flag(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "yes") || v.parse::<i64>().is_ok_and(|n| n != 0)
}

/// Parses the text of a `.vv` file.
pub fn parse(text: &str) -> Result<VvFile, VvError> {
    let line_err = |line: usize, reason: String| VvError::Line { path: String::new(), line, reason };
    let mut group: Option<String> = None;
    let mut seen_group = false;
    let mut target = ConnectTarget::default();
    let mut kind: Option<String> = None;
    let mut delete_this_file = false;
    for (i, raw) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .trim_end()
                .strip_suffix(']')
                .filter(|g| !g.is_empty() && !g.contains(['[', ']']))
                .ok_or_else(|| line_err(n, "a group line must look like [virt-viewer]".into()))?;
            seen_group = true;
            if name != "virt-viewer" {
                tracing::debug!(".vv line {n}: ignoring group [{name}]");
            }
            group = Some(name.to_string());
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| line_err(n, "expected key=value, a [group] line or a # comment".into()))?;
        let key = key.trim_end();
        if key.is_empty() {
            return Err(line_err(n, "a key is missing before =".into()));
        }
        if !seen_group {
            return Err(line_err(n, "key=value before the [virt-viewer] group line".into()));
        }
        if group.as_deref() != Some("virt-viewer") {
            continue;
        }
        let value = unescape(value.trim_start()).map_err(|r| line_err(n, format!("{key}: {r}")))?;
        let value_err = |r: String| line_err(n, format!("{key}: {r}"));
        match key {
            "type" => kind = Some(value),
            "host" => {
                check_host(&value).map_err(value_err)?;
                target.host = value;
            }
            "port" => target.port = vv_port(&value).map_err(value_err)?,
            "tls-port" => target.tls_port = vv_port(&value).map_err(value_err)?,
            "password" => target.password = Some(Password::new(value)),
            "ca" => target.ca = Some(value).filter(|v| !v.trim().is_empty()),
            "host-subject" => target.host_subject = Some(value).filter(|v| !v.trim().is_empty()),
            "secure-channels" => target.secure_channels = Some(SecureChannels::parse(&value).map_err(value_err)?),
            "proxy" => {
                target.proxy = match value.trim() {
                    "" => None,
                    v => Some(ProxyUrl::parse(v).map_err(|e| value_err(e.to_string()))?),
                }
            }
            "title" => target.title = Some(value).filter(|v| !v.is_empty()),
            "delete-this-file" => {
                delete_this_file = match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "yes" => true,
                    "false" | "no" => false,
                    v => v.parse::<i64>().map(|x| x != 0).map_err(|_| value_err(format!("{v:?} is not 0 or 1")))?,
                }
            }
            other => tracing::debug!(".vv line {n}: ignoring key {other}"),
        }
    }
    let content = |reason: String| VvError::Content { path: String::new(), reason };
    if !seen_group || group.is_none() {
        return Err(content("no [virt-viewer] group: is this a virt-viewer connection file?".into()));
    }
    match kind.as_deref() {
        Some("spice") => {}
        Some(other) => {
            let other: String = other.chars().take(40).collect();
            return Err(content(format!("type={other}: ryll connects only to SPICE servers (type=spice)")));
        }
        None => return Err(content("no type=spice key: is this a SPICE connection file?".into())),
    }
    if target.host.is_empty() {
        return Err(content("no host= key".into()));
    }
    if target.port.is_none() && target.tls_port.is_none() {
        return Err(content("no port= or tls-port= key".into()));
    }
    Ok(VvFile { target, delete_this_file })
}

/// A `.vv` port: an integer; 0 or negative (what some generators write for "none") means no port.
fn vv_port(v: &str) -> Result<Option<u16>, String> {
    let n: i64 = v.trim().parse().map_err(|_| format!("{:?} is not a port number", short(v)))?;
    match n {
        ..=0 => Ok(None),
        1..=65535 => Ok(Some(n as u16)),
        _ => Err(format!("{n} is not a port number (1-65535)")),
    }
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

/// GLib key-file escapes.
fn unescape(v: &str) -> Result<String, String> {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some(other) => return Err(format!("invalid escape \\{other} (use \\n, \\t, \\r, \\s or \\\\)")),
            None => return Err("a value ends with a lone backslash".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::ChannelType;

    const PROXMOX_LIKE: &str = "[virt-viewer]\n\
        secure-attention=Ctrl+Alt+Ins\n\
        delete-this-file=1\n\
        proxy=http://192.0.2.10:3128\n\
        type=spice\n\
        ca=-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\n\
        toggle-fullscreen=Shift+F11\n\
        title=VM 100 - web\n\
        host=pvespiceproxy:5f3a:100:node1::b7c0\n\
        password=ticket-secret\n\
        host-subject=OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=node1.example\n\
        release-cursor=Ctrl+Alt+R\n\
        tls-port=61000\n";

    #[test]
    fn parses_a_proxmox_style_file() {
        let vv = parse(PROXMOX_LIKE).unwrap();
        assert!(vv.delete_this_file);
        let t = vv.target;
        assert_eq!(t.host, "pvespiceproxy:5f3a:100:node1::b7c0");
        assert_eq!((t.port, t.tls_port), (None, Some(61000)));
        assert_eq!(t.password.unwrap().expose(), b"ticket-secret");
        assert_eq!(t.ca.as_deref(), Some("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"));
        assert_eq!(
            t.host_subject.as_deref(),
            Some("OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=node1.example")
        );
        let proxy = t.proxy.unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("192.0.2.10", 3128));
        assert_eq!(t.title.as_deref(), Some("VM 100 - web"));
    }

    #[test]
    fn comments_groups_escapes_and_lists() {
        let text =
            "# generated\r\n\r\n  [ovirt]\nhost=ignored\n[virt-viewer]\r\ntype=spice\nhost = vm1\ntitle=\\sa\\tb\\\\\n\
                    port=5900\ntls-port=-1\nsecure-channels=main;inputs;\nunknown-key=whatever\nfullscreen=0\n";
        let t = parse(text).unwrap().target;
        assert_eq!(t.host, "vm1");
        assert_eq!(t.title.as_deref(), Some(" a\tb\\"));
        assert_eq!((t.port, t.tls_port), (Some(5900), None));
        assert_eq!(t.secure_channels, Some(SecureChannels::Only(vec![ChannelType::Main, ChannelType::Inputs])));
        assert!(!parse(text).unwrap().delete_this_file);
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases = [
            ("[virt-viewer]\ntype=spice\nhost=h\nport=59x0\n", "line 4: port: \"59x0\" is not a port number"),
            ("[virt-viewer]\ntype=spice\njust some words\n", "line 3: expected key=value"),
            ("type=spice\n[virt-viewer]\n", "line 1: key=value before the [virt-viewer] group"),
            ("[virt-viewer\ntype=spice\n", "line 1: a group line"),
            ("[virt-viewer]\n=spice\n", "line 2: a key is missing"),
            ("[virt-viewer]\ntype=spice\nhost=h\npassword=a\\qb\n", "line 4: password: invalid escape \\q"),
            ("[virt-viewer]\ntype=spice\nhost=h\nport=70000\n", "line 4: port: 70000 is not a port number"),
            ("[virt-viewer]\ntype=spice\nhost=h\nport=1\nsecure-channels=main;bogus\n", "line 5: secure-channels"),
            ("[virt-viewer]\ntype=spice\nhost=h\nport=1\nproxy=socks5://p:1\n", "line 5: proxy"),
            ("[virt-viewer]\ntype=spice\nhost=h\nport=1\ndelete-this-file=maybe\n", "line 5: delete-this-file"),
            ("[virt-viewer]\ntype=spice\nhost=a b\nport=1\n", "line 3: host"),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn missing_or_wrong_content() {
        let cases = [
            ("", "no [virt-viewer] group"),
            ("# nothing\n", "no [virt-viewer] group"),
            ("[virt-viewer]\nhost=h\nport=1\n", "no type=spice"),
            ("[virt-viewer]\ntype=vnc\nhost=h\nport=1\n", "type=vnc: ryll connects only to SPICE"),
            ("[virt-viewer]\ntype=spice\nport=1\n", "no host="),
            ("[virt-viewer]\ntype=spice\nhost=h\n", "no port= or tls-port="),
            ("[virt-viewer]\ntype=spice\nhost=h\nport=0\ntls-port=-1\n", "no port= or tls-port="),
        ];
        for (text, want) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn errors_never_echo_the_password() {
        let e = parse("[virt-viewer]\ntype=spice\nhost=h\npassword=hunter2\n").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let vv = parse("[virt-viewer]\ntype=spice\nhost=h\nport=1\npassword=hunter2\n").unwrap();
        assert!(!format!("{vv:?}").contains("hunter2"));
    }

    #[test]
    fn read_file_bounds_size_and_deletes_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.vv");
        std::fs::write(&big, vec![b'#'; MAX_VV_SIZE as usize + 1]).unwrap();
        assert!(matches!(read_file(&big), Err(VvError::TooLarge { .. })));

        let keep = dir.path().join("keep.vv");
        std::fs::write(&keep, "[virt-viewer]\ntype=spice\nhost=h\nport=1\n").unwrap();
        assert_eq!(read_file(&keep).unwrap().target.port, Some(1));
        assert!(keep.exists());

        let once = dir.path().join("once.vv");
        std::fs::write(&once, "[virt-viewer]\ntype=spice\nhost=h\nport=1\ndelete-this-file=1\n").unwrap();
        assert!(read_file(&once).is_ok());
        assert!(!once.exists(), "delete-this-file=1 must delete the file");

        let bad = dir.path().join("bad.vv");
        std::fs::write(&bad, "[virt-viewer]\ndelete-this-file=1\npassword=x\ngarbage\n").unwrap();
        let e = read_file(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.vv line 4"), "{e}");
        assert!(!bad.exists(), "a malformed file that asks to be deleted is deleted too");

        let binary = dir.path().join("bin.vv");
        std::fs::write(&binary, [0xffu8, 0xfe, 0]).unwrap();
        assert!(matches!(read_file(&binary), Err(VvError::NotText { .. })));
        assert!(matches!(read_file(&dir.path().join("none.vv")), Err(VvError::Read { .. })));
    }
}

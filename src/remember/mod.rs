//! Remembered shares: the folders to share again when ryll next connects to the same VM.
//!
//! [`VmKey`] names a VM (its UUID, or its name plus the SPICE server's address when the UUID is all zeros);
//! [`store`] keeps the shares of every VM in one small TOML file in the XDG config directory
//! (`$XDG_CONFIG_HOME/ryll/remembered-shares.toml`). Nothing here knows about sessions or front ends: the session
//! core (`session::remember`) decides when to read and write.

pub mod store;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The file name inside `$XDG_CONFIG_HOME/ryll`.
pub const FILE_NAME: &str = "remembered-shares.toml";

/// One remembered share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RememberedShare {
    /// The share's name (today the folder's base name; with several named shares, the name the guest sees).
    pub name: String,
    /// The folder on this machine (absolute).
    pub path: PathBuf,
    /// The guest may only read.
    #[serde(default)]
    pub read_only: bool,
    /// Served as `/NAME/` under the guest's virtual root (a `--share NAME=PATH` share), not at the root.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
}

impl RememberedShare {
    /// A share of `path` at the guest's root, named after its last component (`/` for the root).
    pub fn for_folder(path: PathBuf, read_only: bool) -> Self {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "/".into());
        RememberedShare { name, path, read_only, named: false }
    }

    /// A named share (`/NAME/` under the guest's root).
    pub fn named(name: impl Into<String>, path: PathBuf, read_only: bool) -> Self {
        RememberedShare { name: name.into(), path, read_only, named: true }
    }
}

impl std::fmt::Display for RememberedShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ro = if self.read_only { " (read-only)" } else { "" };
        if self.named {
            write!(f, "{} as /{}/{ro}", self.path.display(), self.name)
        } else {
            write!(f, "{}{ro}", self.path.display())
        }
    }
}

/// What a VM's remembered shares are filed under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VmKey(String);

impl VmKey {
    /// The key for a VM: `uuid:<uuid>` when the server sent a UUID that is not all zeros (QEMU sends zeros without
    /// `-uuid`), else `name:<name>@<host>` from MAIN_NAME (empty when none came) and the SPICE server's address
    /// as ryll dialled it (HOST:PORT).
    pub fn new(uuid: Option<&[u8; 16]>, name: Option<&str>, host: &str) -> Self {
        match uuid.filter(|u| u.iter().any(|&b| b != 0)) {
            Some(u) => VmKey(format!("uuid:{}", format_uuid(u))),
            None => VmKey(format!("name:{}@{}", name.unwrap_or_default(), host)),
        }
    }

    /// The key as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from the file.
    #[cfg(test)]
    pub(crate) fn from_stored(s: String) -> Self {
        VmKey(s)
    }
}

impl std::fmt::Display for VmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The usual 8-4-4-4-12 hex form of a UUID.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let hex: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The remembered-shares file in the user's XDG config directory (`$XDG_CONFIG_HOME/ryll/`, by default
/// `~/.config/ryll/`), or `None` when there is no home directory to put it in.
pub fn default_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("ryll").join(FILE_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uuid_wins_unless_it_is_all_zeros() {
        let uuid = *b"\x12\x34\x56\x78\x9a\xbc\xde\xf0\x0f\xed\xcb\xa9\x87\x65\x43\x21";
        let k = VmKey::new(Some(&uuid), Some("vm"), "h:5900");
        assert_eq!(k.as_str(), "uuid:12345678-9abc-def0-0fed-cba987654321");
        assert_eq!(VmKey::new(Some(&uuid), None, "other:1"), k, "the same VM through another address");
        assert_eq!(VmKey::new(Some(&[0; 16]), Some("vm"), "h:5900").as_str(), "name:vm@h:5900");
        assert_eq!(VmKey::new(None, Some("vm"), "h:5900").as_str(), "name:vm@h:5900");
        assert_eq!(VmKey::new(None, None, "[::1]:5900").as_str(), "name:@[::1]:5900");
        assert_ne!(VmKey::new(None, Some("vm"), "h:5900"), VmKey::new(None, Some("vm"), "h:5901"));
    }

    #[test]
    fn a_share_is_named_after_its_folder() {
        let s = RememberedShare::for_folder("/home/u/Documents".into(), true);
        assert_eq!((s.name.as_str(), s.read_only), ("Documents", true));
        assert_eq!(s.to_string(), "/home/u/Documents (read-only)");
        assert_eq!(RememberedShare::for_folder("/".into(), false).name, "/");
    }
}

//! The remembered-shares file: one TOML file holding every VM's shares, read with bounds and written atomically.
//!
//! ```toml
//! version = 1
//!
//! [[vm]]
//! key = "uuid:12345678-9abc-def0-0fed-cba987654321"
//! label = "fedora-desktop"
//! updated = 1767225600
//!
//! [[vm.share]]
//! name = "Documents"
//! path = "/home/alice/Documents"
//! read_only = false
//! ```
//!
//! A save reads the file, replaces one VM's entry and writes the whole file to a temporary file (mode 0600) in the
//! same directory, then renames it over the old one, under an exclusive lock on a `.lock` file beside it: two ryll
//! processes saving different VMs at once keep both, and a crash leaves the old file or the new one, never half.
//! A file that is too large, malformed or of a newer version is refused (with a message naming it) for reading and
//! for saving, so nothing in it is lost.

use super::{RememberedShare, VmKey};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Largest file read (a full file of [`MAX_VMS`] entries is far smaller).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Most VMs kept; saving one more drops the one updated longest ago.
pub const MAX_VMS: usize = 512;
/// Most shares remembered for one VM.
pub const MAX_SHARES: usize = 64;
/// Longest path or name accepted, in bytes.
pub const MAX_TEXT: usize = 4096;
/// The file format written and understood.
pub const VERSION: u32 = 1;

/// Why the file could not be read or written; one line naming the file and the next step.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading failed.
    #[error("cannot read the remembered shares in {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a regular file or is too large.
    #[error("{path}: {reason}; ryll neither reads nor rewrites it (move it away to start afresh)")]
    Refused {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The file does not parse or breaks a bound.
    #[error("{path} is not a valid remembered-shares file ({reason}); fix it or move it away")]
    Malformed {
        /// The file.
        path: String,
        /// What is wrong, with the TOML parser's position when it has one.
        reason: String,
    },
    /// A share cannot be stored (a path that is not UTF-8, too long, or too many shares).
    #[error("cannot remember {what}: {reason}")]
    Unstorable {
        /// The share or list.
        what: String,
        /// Why.
        reason: String,
    },
    /// Writing failed.
    #[error("cannot save the remembered shares to {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The whole file's content: every VM's entry.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileData {
    version: u32,
    #[serde(default, rename = "vm")]
    vms: Vec<VmEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct VmEntry {
    key: String,
    /// For people reading the file: the VM's name and where it was reached.
    #[serde(default)]
    label: String,
    /// Unix seconds of the last save.
    #[serde(default)]
    updated: u64,
    #[serde(default, rename = "share")]
    shares: Vec<RememberedShare>,
}

/// The remembered-shares file at one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Store {
    file: PathBuf,
}

impl Store {
    /// The store in `file` (see [`super::default_file`]); nothing is read until asked.
    pub fn new(file: PathBuf) -> Self {
        Store { file }
    }

    /// The file.
    pub fn file(&self) -> &Path {
        &self.file
    }

    fn path_text(&self) -> String {
        self.file.display().to_string()
    }

    /// The shares remembered for `key`; none when the file does not exist.
    pub fn load(&self, key: &VmKey) -> Result<Vec<RememberedShare>, StoreError> {
        let data = self.read()?;
        Ok(data.vms.into_iter().find(|v| v.key == key.as_str()).map(|v| v.shares).unwrap_or_default())
    }

    /// Remembers `shares` for `key` (replacing what was remembered for it), keeping every other VM's entry.
    /// An empty list forgets the VM. `label` is written beside the key for people reading the file.
    pub fn save(&self, key: &VmKey, label: &str, shares: &[RememberedShare]) -> Result<(), StoreError> {
        check_storable(shares)?;
        let _lock = self.lock()?;
        let mut data = self.read()?;
        data.version = VERSION;
        let existing = data.vms.iter().position(|v| v.key == key.as_str());
        match (existing, shares.is_empty()) {
            (Some(i), true) => {
                data.vms.remove(i);
            }
            (None, true) => return Ok(()),
            (Some(i), false) => {
                if let Some(entry) = data.vms.get_mut(i) {
                    entry.label = bounded_label(label);
                    entry.updated = unix_now();
                    entry.shares = shares.to_vec();
                }
            }
            (None, false) => {
                while data.vms.len() >= MAX_VMS {
                    let oldest = data.vms.iter().enumerate().min_by_key(|(_, v)| v.updated).map(|(i, _)| i);
                    let Some(i) = oldest else { break };
                    data.vms.remove(i);
                }
                let entry = VmEntry {
                    key: key.as_str().to_string(),
                    label: bounded_label(label),
                    updated: unix_now(),
                    shares: shares.to_vec(),
                };
                data.vms.push(entry);
            }
        }
        self.write(&data)
    }

    /// Forgets `key`'s shares; returns whether any were remembered.
    pub fn forget(&self, key: &VmKey) -> Result<bool, StoreError> {
        let had = !self.load(key)?.is_empty();
        if had {
            self.save(key, "", &[])?;
        }
        Ok(had)
    }

    /// Reads and checks the whole file (empty when it does not exist).
    fn read(&self) -> Result<FileData, StoreError> {
        let path = self.path_text();
        let meta = match std::fs::metadata(&self.file) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileData::default()),
            Err(source) => return Err(StoreError::Read { path, source }),
        };
        // Checked before opening: a FIFO or a device would block or never end.
        if !meta.is_file() {
            return Err(StoreError::Refused { path, reason: "not a regular file".into() });
        }
        let too_large =
            || StoreError::Refused { path: path.clone(), reason: format!("larger than {MAX_FILE_BYTES} bytes") };
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_large());
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        std::fs::File::open(&self.file)
            .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|source| StoreError::Read { path: path.clone(), source })?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large());
        }
        parse(&bytes).map_err(|reason| StoreError::Malformed { path, reason })
    }

    fn lock(&self) -> Result<std::fs::File, StoreError> {
        let write_err = |source| StoreError::Write { path: self.path_text(), source };
        let dir = self.file.parent().unwrap_or(Path::new("."));
        create_private_dir(dir).map_err(write_err)?;
        let mut lock_name = self.file.file_name().unwrap_or_default().to_os_string();
        lock_name.push(".lock");
        let lock = private_options().truncate(false).open(dir.join(lock_name)).map_err(write_err)?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| write_err(e.into()))?;
        Ok(lock)
    }

    /// Writes `data` to a temporary file beside the store and renames it into place.
    fn write(&self, data: &FileData) -> Result<(), StoreError> {
        let write_err = |source| StoreError::Write { path: self.path_text(), source };
        let text = data.to_text().map_err(|e| write_err(std::io::Error::other(e)))?;
        let dir = self.file.parent().unwrap_or(Path::new("."));
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(self.file.file_name().unwrap_or_default());
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let tmp = dir.join(tmp_name);
        let written = private_options().truncate(true).open(&tmp).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        });
        let renamed = written.and_then(|()| std::fs::rename(&tmp, &self.file));
        if let Err(e) = renamed {
            let _ = std::fs::remove_file(&tmp);
            return Err(write_err(e));
        }
        // The rename is durable once the directory is synced; failing that only risks the old file after a crash.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl FileData {
    /// Parses and checks a file's bytes (the reason, with a line number when the TOML parser gives one).
    pub fn parse(bytes: &[u8]) -> Result<FileData, String> {
        parse(bytes)
    }

    /// The file's text as ryll writes it.
    pub fn to_text(&self) -> Result<String, String> {
        let mut text = String::from("# Folders ryll shares again when it connects to these VMs (see docs/usage.md).\n");
        text.push_str(&toml::to_string(self).map_err(|e| e.to_string())?);
        Ok(text)
    }
}

/// Parses and checks the file's text.
fn parse(bytes: &[u8]) -> Result<FileData, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if text.trim().is_empty() {
        return Ok(FileData { version: VERSION, vms: Vec::new() });
    }
    let data: FileData = toml::from_str(text).map_err(|e| e.message().to_string() + &at_line(text, e.span()))?;
    if data.version != VERSION {
        return Err(format!("version {} (this ryll understands version {VERSION})", data.version));
    }
    if data.vms.len() > MAX_VMS {
        return Err(format!("{} VMs (at most {MAX_VMS})", data.vms.len()));
    }
    for vm in &data.vms {
        if vm.key.len() > MAX_TEXT || vm.label.len() > MAX_TEXT {
            return Err(format!("a key or label longer than {MAX_TEXT} bytes"));
        }
        check_storable(&vm.shares).map_err(|e| format!("VM {}: {e}", vm.key))?;
    }
    Ok(data)
}

fn at_line(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(s) => format!(" at line {}", text.get(..s.start).unwrap_or(text).lines().count().max(1)),
        None => String::new(),
    }
}

/// The bounds every stored list keeps: few shares, absolute UTF-8 paths, short names.
fn check_storable(shares: &[RememberedShare]) -> Result<(), StoreError> {
    if shares.len() > MAX_SHARES {
        return Err(StoreError::Unstorable {
            what: format!("{} shares", shares.len()),
            reason: format!("at most {MAX_SHARES} per VM"),
        });
    }
    for s in shares {
        let unstorable =
            |reason: &str| StoreError::Unstorable { what: s.path.display().to_string(), reason: reason.into() };
        let Some(text) = s.path.to_str() else { return Err(unstorable("its path is not valid UTF-8")) };
        if text.len() > MAX_TEXT || s.name.len() > MAX_TEXT {
            return Err(unstorable("its path or name is too long"));
        }
        if !s.path.is_absolute() {
            return Err(unstorable("its path is not absolute"));
        }
    }
    Ok(())
}

fn bounded_label(label: &str) -> String {
    label.chars().filter(|c| !c.is_control()).take(256).collect()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Options for a file only the user can read or write (0600).
fn private_options() -> std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).mode(0o600);
    o
}

/// Creates `dir` and its missing parents; a directory ryll creates is 0700.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;

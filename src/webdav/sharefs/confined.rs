//! Names and confined lookups.
//!
//! Two independent layers keep the guest inside the share:
//! 1. **Names**: every path the guest sends is split into segments and each one is checked
//!    ([`check_name`]): no `.`/`..`, no backslash, no NUL or control byte, no name longer than
//!    the host allows, none of our own temporary files. The result ([`RelPath`]) only ever holds
//!    plain relative components.
//! 2. **Handles**: every lookup goes through the share root's capability handle (a cap-std
//!    [`Dir`]). cap-std resolves each path inside that directory (with `openat2(RESOLVE_BENEATH)`
//!    on Linux, component by component with `O_NOFOLLOW` elsewhere) and fails any path — a `..`, an
//!    absolute or relative symlink — that would leave it. This is what confines the share; the
//!    name checks only give clearer answers.
//!
//! On top of that, only directories and regular files with a single link are served
//! ([`Entry`]): FIFOs, sockets and device nodes could block or have side effects when opened, and
//! a hard link can make a file from anywhere on the same filesystem appear inside the share.
//! Symlinks that resolve inside the share behave like their target; the others are invisible.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use cap_std::fs::{Dir, File, Metadata, MetadataExt, OpenOptions, OpenOptionsExt};
use dav_server::davpath::DavPath;
use dav_server::fs::{FsError, FsResult};
use rustix::fs::OFlags;

/// Prefix of the temporary files uploads are written to; such names are never listed or served.
pub const TEMP_PREFIX: &[u8] = b".ryll-upload-";
/// Longest file name (bytes) we accept; the common host limit (`NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest path (bytes, decoded) we accept (`PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;
/// Most path segments we accept.
pub const MAX_SEGMENTS: usize = 256;

/// Why a path or name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The path does not start with `/`.
    #[error("the path is not absolute")]
    NotAbsolute,
    /// A `.` or `..` segment.
    #[error("the path has a dot segment")]
    DotSegment,
    /// A backslash, which Windows guests treat as a separator.
    #[error("the name contains a backslash")]
    Backslash,
    /// NUL, another control byte, or DEL.
    #[error("the name contains a control character")]
    ControlByte,
    /// A name of ryll's own temporary files.
    #[error("the name is reserved")]
    Reserved,
    /// A name, path or depth over the limits.
    #[error("the name or path is too long")]
    TooLong,
}

impl NameError {
    /// The filesystem error dav-server turns into the HTTP status.
    pub fn fs_error(self) -> FsError {
        match self {
            NameError::Reserved => FsError::NotFound,
            NameError::TooLong => FsError::PathTooLong,
            _ => FsError::Forbidden,
        }
    }
}

/// Check one decoded path segment (a file name).
pub fn check_name(name: &[u8]) -> Result<(), NameError> {
    if name == b"." || name == b".." {
        return Err(NameError::DotSegment);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    if name.contains(&b'\\') {
        return Err(NameError::Backslash);
    }
    if name.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'/') {
        return Err(NameError::ControlByte);
    }
    if name.starts_with(TEMP_PREFIX) {
        return Err(NameError::Reserved);
    }
    Ok(())
}

/// Check a raw request path (still percent-encoded, as in the request line or a `Destination`),
/// segment by segment: a dot segment, an encoded slash or any byte [`check_name`] refuses is an
/// error, also where dav-server would have normalised it away.
pub fn check_raw_path(raw: &str) -> Result<(), NameError> {
    let path = raw.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(NameError::NotAbsolute);
    }
    if path.len() > MAX_PATH_BYTES.saturating_mul(3) {
        return Err(NameError::TooLong);
    }
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode(segment.as_bytes());
        if decoded.contains(&b'/') {
            return Err(NameError::ControlByte);
        }
        match check_name(&decoded) {
            Ok(()) | Err(NameError::Reserved) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Percent-decode; an invalid escape stays as it is (dav-server refuses it later).
pub(crate) fn percent_decode(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&b) = raw.get(i) {
        if b == b'%' {
            let hex = raw.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

/// A checked path below the share root: only plain components, no `.`/`..`, never absolute.
/// The root itself is the empty path (shown to the OS as `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelPath(PathBuf);

impl RelPath {
    /// The share root.
    pub fn root() -> Self {
        RelPath(PathBuf::new())
    }

    /// Check the (decoded) path dav-server hands to the filesystem.
    pub fn from_dav(path: &DavPath) -> FsResult<Self> {
        Self::from_bytes(path.as_bytes()).map_err(NameError::fs_error)
    }

    /// Check a decoded path that starts with `/`; empty segments (`//`, a trailing `/`) are skipped.
    /// The empty path is the root too (dav-server's `DavPath::parent` of a top-level entry).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NameError> {
        if bytes.is_empty() {
            return Ok(RelPath::root());
        }
        if bytes.first() != Some(&b'/') {
            return Err(NameError::NotAbsolute);
        }
        if bytes.len() > MAX_PATH_BYTES {
            return Err(NameError::TooLong);
        }
        let mut path = PathBuf::new();
        let mut count = 0usize;
        for segment in bytes.split(|&b| b == b'/').filter(|s| !s.is_empty()) {
            check_name(segment)?;
            count += 1;
            if count > MAX_SEGMENTS {
                return Err(NameError::TooLong);
            }
            path.push(OsStr::from_bytes(segment));
        }
        Ok(RelPath(path))
    }

    /// The path's bytes (`a/b`; empty for the root), as the protection matcher reads them.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_os_str().as_bytes()
    }

    /// Whether this is the share root.
    pub fn is_root(&self) -> bool {
        self.0.as_os_str().is_empty()
    }

    /// The path to hand to cap-std (`.` for the root).
    pub fn as_path(&self) -> &Path {
        if self.is_root() {
            Path::new(".")
        } else {
            &self.0
        }
    }

    /// The parent (as a cap-std path) and the last component; `None` for the root.
    pub fn split(&self) -> Option<(&Path, &OsStr)> {
        let name = self.0.file_name()?;
        let parent = self.0.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Some((parent, name))
    }

    /// This path with one more (already checked) component.
    pub fn join(&self, name: &OsStr) -> RelPath {
        RelPath(self.0.join(name))
    }

    /// Rebuild from a path cap-std returned (e.g. `canonicalize`): accepted only if every component
    /// is a plain name that passes [`check_name`].
    pub(super) fn from_resolved(path: &Path) -> FsResult<Self> {
        let mut out = PathBuf::new();
        for component in path.components() {
            match component {
                std::path::Component::CurDir => {}
                std::path::Component::Normal(name) => {
                    check_name(name.as_bytes()).map_err(NameError::fs_error)?;
                    out.push(name);
                }
                _ => return Err(FsError::Forbidden),
            }
        }
        Ok(RelPath(out))
    }
}

/// An entry we serve: a directory, or a regular file with exactly one link.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A directory.
    Dir(Metadata),
    /// A regular file with one link.
    File(Metadata),
}

impl Entry {
    /// Classify metadata: `None` for anything we never serve (special files, hard links).
    pub fn classify(meta: Metadata) -> Option<Entry> {
        if meta.is_dir() {
            Some(Entry::Dir(meta))
        } else if meta.is_file() && meta.nlink() == 1 {
            Some(Entry::File(meta))
        } else {
            None
        }
    }

    /// The metadata.
    pub fn meta(&self) -> &Metadata {
        match self {
            Entry::Dir(m) | Entry::File(m) => m,
        }
    }
}

/// Whether cap-std refused a path because it would leave the root (its "a path led outside of
/// the filesystem" error carries no OS error code).
pub fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()
}

/// Map an I/O error to the filesystem error dav-server turns into a status. A path that would
/// leave the root is "not found": outside the share nothing exists.
pub fn fs_error(e: &io::Error) -> FsError {
    use rustix::io::Errno;
    if is_escape(e) {
        return FsError::NotFound;
    }
    let Some(raw) = e.raw_os_error() else {
        return match e.kind() {
            io::ErrorKind::NotFound => FsError::NotFound,
            io::ErrorKind::PermissionDenied => FsError::Forbidden,
            _ => FsError::GeneralFailure,
        };
    };
    match Errno::from_raw_os_error(raw) {
        Errno::NOENT => FsError::NotFound,
        Errno::EXIST | Errno::NOTEMPTY => FsError::Exists,
        Errno::ACCESS
        | Errno::PERM
        | Errno::ROFS
        | Errno::ISDIR
        | Errno::NOTDIR
        | Errno::INVAL
        | Errno::ILSEQ
        | Errno::BUSY
        | Errno::TXTBSY
        | Errno::AGAIN => FsError::Forbidden,
        Errno::NOSPC | Errno::DQUOT | Errno::MLINK => FsError::InsufficientStorage,
        Errno::FBIG => FsError::TooLarge,
        Errno::NAMETOOLONG => FsError::PathTooLong,
        Errno::LOOP => FsError::LoopDetected,
        Errno::XDEV => FsError::IsRemote,
        Errno::NOSYS | Errno::OPNOTSUPP => FsError::NotImplemented,
        _ => FsError::GeneralFailure,
    }
}

/// Like [`fs_error`], but a path that would leave the root is forbidden: for the targets of
/// writes, so that an existing symlink pointing outside is never replaced or written through.
pub fn write_error(e: &io::Error) -> FsError {
    if is_escape(e) {
        FsError::Forbidden
    } else {
        fs_error(e)
    }
}

/// Metadata of `rel`, following symlinks that stay inside the share; `NotFound` for anything
/// outside it and for entries we do not serve.
pub fn stat(root: &Dir, rel: &RelPath) -> FsResult<Entry> {
    let meta = if rel.is_root() { root.dir_metadata() } else { root.metadata(rel.as_path()) };
    let meta = meta.map_err(|e| fs_error(&e))?;
    Entry::classify(meta).ok_or(FsError::NotFound)
}

/// What is at a path without following a final symlink.
#[derive(Debug, Clone)]
pub enum Link {
    /// A directory or a regular file with one link.
    Plain(Entry),
    /// A symlink that resolves to a served entry inside the share (its own metadata).
    Symlink(Metadata),
}

/// Like [`stat`], but a final symlink is reported as such (with its target, which must resolve
/// inside the share; any other symlink is `NotFound`).
pub fn lstat(root: &Dir, rel: &RelPath) -> FsResult<Link> {
    if rel.is_root() {
        return stat(root, rel).map(Link::Plain);
    }
    let meta = root.symlink_metadata(rel.as_path()).map_err(|e| fs_error(&e))?;
    if meta.is_symlink() {
        stat(root, rel)?;
        return Ok(Link::Symlink(meta));
    }
    Entry::classify(meta).map(Link::Plain).ok_or(FsError::NotFound)
}

/// Flags for every open of an existing file: never block on a FIFO, never become a controlling
/// terminal. Types are checked before (stat) and after (fstat) opening.
fn guard_flags() -> i32 {
    // The flag bits fit in an i32 on every Unix.
    i32::try_from((OFlags::NONBLOCK | OFlags::NOCTTY).bits()).unwrap_or(0)
}

/// Open the regular file at `rel` for reading (following symlinks inside the share).
///
/// The entry is checked with `stat` before opening (so a FIFO or device is never opened), opened
/// with `O_NONBLOCK | O_NOCTTY`, and checked again with `fstat`: it must still be the same
/// single-link regular file.
pub fn open_read(root: &Dir, rel: &RelPath) -> FsResult<(File, Metadata)> {
    let before = match stat(root, rel)? {
        Entry::File(meta) => meta,
        Entry::Dir(_) => return Err(FsError::Forbidden),
    };
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(guard_flags());
    let file = root.open_with(rel.as_path(), &options).map_err(|e| fs_error(&e))?;
    let after = file.metadata().map_err(|e| fs_error(&e))?;
    check_same_file(&before, &after)?;
    Ok((file, after))
}

/// Open the regular file `name` in `dir` for reading without following a symlink; same checks
/// as [`open_read`].
pub fn open_read_in(dir: &Dir, name: &OsStr) -> FsResult<(File, Metadata)> {
    let before = dir.symlink_metadata(name).map_err(|e| fs_error(&e))?;
    if !before.is_file() || before.nlink() != 1 {
        return Err(FsError::Forbidden);
    }
    let mut options = OpenOptions::new();
    options.read(true).custom_flags(guard_flags() | nofollow_flag());
    let file = dir.open_with(name, &options).map_err(|e| fs_error(&e))?;
    let after = file.metadata().map_err(|e| fs_error(&e))?;
    check_same_file(&before, &after)?;
    Ok((file, after))
}

fn nofollow_flag() -> i32 {
    i32::try_from(OFlags::NOFOLLOW.bits()).unwrap_or(0)
}

/// The opened file must be the single-link regular file we looked at before opening it.
fn check_same_file(before: &Metadata, after: &Metadata) -> FsResult<()> {
    if !after.is_file() || after.nlink() != 1 || after.dev() != before.dev() || after.ino() != before.ino() {
        tracing::warn!("a shared file changed while it was being opened; refusing it");
        return Err(FsError::Forbidden);
    }
    Ok(())
}

/// Open the directory at `rel` (following symlinks inside the share) as a readable file handle,
/// for what needs a real descriptor (extended attributes, `fsync`): cap-std's `Dir` handles are
/// `O_PATH` on Linux.
pub fn open_dir_file(root: &Dir, rel: &RelPath) -> FsResult<File> {
    match stat(root, rel)? {
        Entry::Dir(_) => {}
        Entry::File(_) => return Err(FsError::Forbidden),
    }
    dir_file(root, rel.as_path()).map_err(|e| fs_error(&e))
}

/// `path` below `dir` (which must be a directory) opened read-only as a file handle.
pub fn dir_file(dir: &Dir, path: &Path) -> io::Result<File> {
    use cap_fs_ext::OpenOptionsMaybeDirExt;
    let mut options = OpenOptions::new();
    let flags = OFlags::DIRECTORY | OFlags::NONBLOCK | OFlags::NOCTTY;
    options.read(true).maybe_dir(true).custom_flags(i32::try_from(flags.bits()).unwrap_or(0));
    dir.open_with(path, &options)
}

/// Open the directory at `rel` (following symlinks inside the share).
pub fn open_dir(root: &Dir, rel: &RelPath) -> FsResult<Dir> {
    match stat(root, rel)? {
        Entry::Dir(_) => {}
        Entry::File(_) => return Err(FsError::Forbidden),
    }
    root.open_dir(rel.as_path()).map_err(|e| fs_error(&e))
}

/// Where a write to `rel` lands: the real parent directory, the real name in it, and what is
/// there now (`None` if nothing).
#[derive(Debug)]
pub struct Target {
    /// The directory holding the target.
    pub dir: Dir,
    /// The target's name in `dir` (never a symlink at lookup time).
    pub name: OsString,
    /// The regular file there now, if any.
    pub existing: Option<Metadata>,
}

/// Find where a new or replaced file at `rel` goes.
///
/// A final symlink that resolves to a regular file inside the share is written through (the link
/// stays, its target gets the new content); any other symlink, a directory, a special file and a
/// hard link are refused with `Forbidden`, so nothing outside the share is ever replaced. A
/// missing parent is `NotFound` (HTTP 409 for PUT).
pub fn write_target(root: &Dir, rel: &RelPath) -> FsResult<Target> {
    let mut rel = rel.clone();
    for _ in 0..2 {
        let (parent, name) = rel.split().ok_or(FsError::Forbidden)?;
        match root.symlink_metadata(rel.as_path()) {
            Ok(meta) if meta.is_symlink() => {
                // A dangling link is not replaced either: we cannot tell where it meant to point.
                let real = root.canonicalize(rel.as_path()).map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => FsError::Forbidden,
                    _ => write_error(&e),
                })?;
                rel = RelPath::from_resolved(&real)?;
                continue;
            }
            Ok(meta) => {
                if !meta.is_file() || meta.nlink() != 1 {
                    return Err(FsError::Forbidden);
                }
                let dir = root.open_dir(parent).map_err(|e| write_error(&e))?;
                let now = dir.symlink_metadata(name).map_err(|e| write_error(&e))?;
                if !now.is_file() || now.nlink() != 1 || now.ino() != meta.ino() || now.dev() != meta.dev() {
                    return Err(FsError::Forbidden);
                }
                return Ok(Target { dir, name: name.to_owned(), existing: Some(now) });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let dir = root.open_dir(parent).map_err(|e| write_error(&e))?;
                return match dir.symlink_metadata(name) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        Ok(Target { dir, name: name.to_owned(), existing: None })
                    }
                    _ => Err(FsError::Forbidden),
                };
            }
            Err(e) => return Err(write_error(&e)),
        }
    }
    // A symlink resolved to another symlink: the tree changed under us.
    Err(FsError::Forbidden)
}

/// Where a new directory at `rel` goes: the parent directory (inside the share) and the name.
pub fn new_entry_parent(root: &Dir, rel: &RelPath) -> FsResult<(Dir, OsString)> {
    let (parent, name) = rel.split().ok_or(FsError::Exists)?;
    let dir = root.open_dir(parent).map_err(|e| write_error(&e))?;
    Ok((dir, name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_dots_backslashes_controls_or_our_prefix_are_refused() {
        assert_eq!(check_name(b"a.txt"), Ok(()));
        assert_eq!(check_name("ünïcødé 🎉 ?#%&\"'".as_bytes()), Ok(()));
        assert_eq!(check_name(b".hidden"), Ok(()));
        assert_eq!(check_name(b"..."), Ok(()));
        assert_eq!(check_name(b"."), Err(NameError::DotSegment));
        assert_eq!(check_name(b".."), Err(NameError::DotSegment));
        assert_eq!(check_name(b"a\\b"), Err(NameError::Backslash));
        assert_eq!(check_name(b"a\0b"), Err(NameError::ControlByte));
        assert_eq!(check_name(b"a\nb"), Err(NameError::ControlByte));
        assert_eq!(check_name(b"a\x7fb"), Err(NameError::ControlByte));
        assert_eq!(check_name(b".ryll-upload-1234"), Err(NameError::Reserved));
        assert_eq!(check_name(&[b'x'; 255]), Ok(()));
        assert_eq!(check_name(&[b'x'; 256]), Err(NameError::TooLong));
    }

    #[test]
    fn raw_paths_are_checked_after_percent_decoding() {
        assert_eq!(check_raw_path("/a/b%20c.txt"), Ok(()));
        assert_eq!(check_raw_path("/"), Ok(()));
        assert_eq!(check_raw_path("/a/?x=../y"), Ok(()));
        assert_eq!(check_raw_path("/a/../b"), Err(NameError::DotSegment));
        assert_eq!(check_raw_path("/a/%2e%2E/b"), Err(NameError::DotSegment));
        assert_eq!(check_raw_path("/a/./b"), Err(NameError::DotSegment));
        assert_eq!(check_raw_path("/a%2fb"), Err(NameError::ControlByte));
        assert_eq!(check_raw_path("/a%5cb"), Err(NameError::Backslash));
        assert_eq!(check_raw_path("/a%00"), Err(NameError::ControlByte));
        assert_eq!(check_raw_path("/a%0d%0a"), Err(NameError::ControlByte));
        assert_eq!(check_raw_path("a/b"), Err(NameError::NotAbsolute));
        assert_eq!(check_raw_path("*"), Err(NameError::NotAbsolute));
    }

    #[test]
    fn rel_paths_hold_only_plain_components() {
        let p = RelPath::from_bytes(b"/a//b/").unwrap_or_else(|_| RelPath::root());
        assert_eq!(p.as_path(), Path::new("a/b"));
        assert_eq!(p.split(), Some((Path::new("a"), OsStr::new("b"))));
        let top = RelPath::from_bytes(b"/x").unwrap_or_else(|_| RelPath::root());
        assert_eq!(top.split(), Some((Path::new("."), OsStr::new("x"))));
        assert!(RelPath::from_bytes(b"/").is_ok_and(|p| p.is_root() && p.as_path() == Path::new(".")));
        assert_eq!(RelPath::from_bytes(b"/a/../b"), Err(NameError::DotSegment));
        assert_eq!(RelPath::from_bytes(b"a"), Err(NameError::NotAbsolute));
        let deep = b"/a".repeat(MAX_SEGMENTS + 1);
        assert_eq!(RelPath::from_bytes(&deep), Err(NameError::TooLong));
    }
}

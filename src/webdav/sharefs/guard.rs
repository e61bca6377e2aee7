//! The protection of a share applied to real paths: the access to a path is the stricter of the path the guest
//! asked for and the path it resolves to inside the share (through symlinks the host user put there), so no
//! spelling and no symlink leads to a hidden or read-only entry ([`Protection`](crate::webdav::protect)).

use std::io;

use cap_std::fs::Dir;
use dav_server::fs::{FsError, FsResult};

use super::confined::RelPath;
use super::FsInner;
use crate::webdav::protect::Access;

/// Most entries looked at below a directory before it may be moved; a larger tree is refused.
pub const MAX_MOVE_WALK: usize = 100_000;

/// Where `rel` resolves inside the share: the canonical path of the entry, or of its parent plus the name when
/// the entry does not exist yet; `None` if neither resolves (the operation then fails on its own).
pub(super) fn resolve(root: &Dir, rel: &RelPath) -> Option<RelPath> {
    if rel.is_root() {
        return Some(RelPath::root());
    }
    match root.canonicalize(rel.as_path()) {
        Ok(real) => RelPath::from_resolved(&real).ok(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let (parent, name) = rel.split()?;
            let real = if parent == std::path::Path::new(".") {
                std::path::PathBuf::new()
            } else {
                root.canonicalize(parent).ok()?
            };
            RelPath::from_resolved(&real).ok().map(|p| p.join(name))
        }
        Err(_) => None,
    }
}

/// The access to `rel` (asked for and resolved).
pub(super) fn access(fs: &FsInner, rel: &RelPath) -> Access {
    let asked = fs.protection.access(rel.as_bytes());
    if asked == Access::Hidden || fs.protection.is_empty() {
        return asked;
    }
    match resolve(&fs.root, rel) {
        Some(real) if real != *rel => asked.max(fs.protection.access(real.as_bytes())),
        _ => asked,
    }
}

/// Refuse reading a hidden path: it does not exist.
pub(super) fn readable(fs: &FsInner, rel: &RelPath) -> FsResult<()> {
    match access(fs, rel) {
        Access::Hidden => Err(FsError::NotFound),
        _ => Ok(()),
    }
}

/// Refuse changing a hidden or read-only path.
pub(super) fn writable(fs: &FsInner, rel: &RelPath) -> FsResult<()> {
    match access(fs, rel) {
        Access::Open => Ok(()),
        _ => {
            tracing::debug!("share: refused a change to a protected path");
            Err(FsError::Forbidden)
        }
    }
}

/// Refuse moving the directory `rel` if anything below it is protected (it would leave its protected place), or
/// if the tree is too large to check ([`MAX_MOVE_WALK`]). Symlinks below are not followed: they move as links.
pub(super) fn movable_tree(fs: &FsInner, rel: &RelPath) -> FsResult<()> {
    if fs.protection.is_empty() {
        return Ok(());
    }
    let real = resolve(&fs.root, rel).unwrap_or_else(|| rel.clone());
    let mut pending = vec![real];
    let mut seen = 0usize;
    while let Some(dir_rel) = pending.pop() {
        let dir = match fs.root.open_dir(dir_rel.as_path()) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => continue,
            Err(e) => return Err(super::confined::fs_error(&e)),
        };
        for entry in dir.entries().map_err(|e| super::confined::fs_error(&e))? {
            let entry = entry.map_err(|e| super::confined::fs_error(&e))?;
            seen += 1;
            if seen > MAX_MOVE_WALK {
                tracing::warn!("share: refused to move a folder with over {MAX_MOVE_WALK} entries");
                return Err(FsError::Forbidden);
            }
            let child = dir_rel.join(&entry.file_name());
            if fs.protection.access(child.as_bytes()) != Access::Open {
                tracing::debug!("share: refused to move a folder holding a protected entry");
                return Err(FsError::Forbidden);
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(child);
            }
        }
    }
    Ok(())
}

/// Whether the listed entry `name` of the directory `dir_rel` (whose resolved path is `dir_real`) is hidden;
/// a symlink is also judged by where it leads.
pub(super) fn listed_hidden(
    fs: &FsInner,
    dir_rel: &RelPath,
    dir_real: Option<&RelPath>,
    name: &std::ffi::OsStr,
    symlink: bool,
) -> bool {
    if fs.protection.is_empty() {
        return false;
    }
    let child = dir_rel.join(name);
    if fs.protection.access(child.as_bytes()) == Access::Hidden {
        return true;
    }
    if dir_real.is_some_and(|real| fs.protection.access(real.join(name).as_bytes()) == Access::Hidden) {
        return true;
    }
    symlink && resolve(&fs.root, &child).is_some_and(|real| fs.protection.access(real.as_bytes()) == Access::Hidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_through_symlinks_and_missing_leaves() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join(".ssh")).unwrap();
        std::os::unix::fs::symlink(".ssh", tmp.path().join("keys")).unwrap();
        let root = Dir::open_ambient_dir(tmp.path(), cap_std::ambient_authority()).unwrap();
        let rel = |s: &str| RelPath::from_bytes(s.as_bytes()).unwrap();
        assert_eq!(resolve(&root, &rel("/keys/new")), Some(rel("/.ssh/new")));
        assert_eq!(resolve(&root, &rel("/keys")), Some(rel("/.ssh")));
        assert_eq!(resolve(&root, &rel("/top")), Some(rel("/top")));
        assert_eq!(resolve(&root, &rel("/missing/x")), None);
        assert_eq!(resolve(&root, &RelPath::root()), Some(RelPath::root()));
    }
}

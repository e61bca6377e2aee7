//! Several named shares behind one read-only virtual root: `/NAME/rest` is `rest` of the share `NAME`'s
//! [`ShareFs`] (its own read-only flag, protection and quota); the root itself is a directory listing one folder
//! per share, and every change at the root is refused.
//!
//! A [`MultiFs`] is a snapshot of the share table (the server swaps the table as shares come and go; a request
//! keeps the snapshot it started with) plus the share whose quota PROPFIND reports: dav-server's `get_quota` has
//! no path, so the server builds one `MultiFs` per request with the share of the request path.
//!
//! COPY and MOVE between two shares cannot be one `rename`: a file is copied into the destination share through a
//! temporary file that is synced and renamed into place, and for MOVE its source is removed only after that. A
//! failure half way leaves every file in at least one place.

use std::sync::Arc;
use std::time::SystemTime;

use cap_std::fs::{DirBuilder, DirBuilderExt};
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsStream, OpenOptions, ReadDirMeta,
};
use futures_util::{stream, FutureExt};
use http::StatusCode;

use super::confined::{self, write_error, Entry, Link, RelPath};
use super::guard::{self, MAX_MOVE_WALK};
use super::{blocking, copy_between, FsInner, ShareFs};
use crate::webdav::protect::Access;

/// One share of a [`MultiFs`]: its name (one path segment) and filesystem.
#[derive(Clone, Debug)]
pub struct Mount {
    /// The folder name the guest sees.
    pub name: String,
    /// The canonical path of the shared directory.
    pub root: std::path::PathBuf,
    /// The share's filesystem.
    pub fs: ShareFs,
}

/// The virtual root over named shares; cheap to clone.
#[derive(Clone, Debug)]
pub struct MultiFs {
    mounts: Arc<Vec<Mount>>,
    /// Index of the share whose quota `get_quota` reports (`None`: the root, which has no quota).
    quota: Option<usize>,
    /// The root's modification time: when the table was made.
    made: SystemTime,
}

/// Where a path of the virtual tree leads.
enum Route {
    /// The virtual root.
    Root,
    /// A name at the root that is no share.
    Unknown,
    /// The share at this index, and the path inside it.
    Share(usize, DavPath),
}

impl MultiFs {
    /// A virtual root over `mounts` (names already checked and unique).
    pub fn new(mounts: Arc<Vec<Mount>>) -> Self {
        MultiFs { mounts, quota: None, made: SystemTime::now() }
    }

    /// The shares, in the order they are listed.
    pub fn mounts(&self) -> &Arc<Vec<Mount>> {
        &self.mounts
    }

    /// The same tree, reporting the quota of the share holding the decoded path `path`.
    pub fn for_request(&self, path: &[u8]) -> Self {
        let (name, _) = split(path);
        let quota = self.mounts.iter().position(|m| m.name.as_bytes() == name);
        MultiFs { mounts: Arc::clone(&self.mounts), quota, made: self.made }
    }

    /// The share holding the decoded path `path` (`None` at the root and for unknown names).
    pub fn share_of(&self, path: &[u8]) -> Option<&Mount> {
        let (name, _) = split(path);
        self.mounts.iter().find(|m| m.name.as_bytes() == name)
    }

    /// What the guest may do with the decoded path `path`: the root and names at the root are read-only (or
    /// hidden when no share has that name); inside a share, that share's protection decides.
    pub async fn access(&self, path: &[u8]) -> Access {
        let (name, rest) = split(path);
        if name.is_empty() {
            return Access::ReadOnly;
        }
        match self.share_of(path) {
            Some(m) => m.fs.access(rest).await,
            None => Access::Hidden,
        }
    }

    fn route(&self, path: &DavPath) -> Result<Route, FsError> {
        let (name, rest) = split(path.as_bytes());
        if name.is_empty() {
            return Ok(Route::Root);
        }
        let Some(index) = self.mounts.iter().position(|m| m.name.as_bytes() == name) else {
            return Ok(Route::Unknown);
        };
        let inner = DavPath::new(&encode(rest)).map_err(|_| FsError::Forbidden)?;
        Ok(Route::Share(index, inner))
    }

    /// Whether the decoded path `path` is the root or a share's folder at the root (which cannot be removed,
    /// moved or replaced).
    pub fn is_top(path: &[u8]) -> bool {
        let (_, rest) = split(path);
        rest == b"/"
    }

    fn fs(&self, index: usize) -> &ShareFs {
        &self.mounts[index].fs
    }
}

/// Split a decoded path `/NAME/rest` into `NAME` and `/rest` (`/` when nothing follows the name).
fn split(path: &[u8]) -> (&[u8], &[u8]) {
    let trimmed = path.strip_prefix(b"/").unwrap_or(path);
    match trimmed.iter().position(|&b| b == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, b"/"),
    }
}

/// Percent-encode a decoded path so that [`DavPath::new`] gives it back unchanged (slashes stay).
fn encode(path: &[u8]) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The virtual root's metadata: an empty directory.
#[derive(Debug, Clone)]
struct RootMeta(SystemTime);

impl DavMetaData for RootMeta {
    fn len(&self) -> u64 {
        0
    }
    fn modified(&self) -> dav_server::fs::FsResult<SystemTime> {
        Ok(self.0)
    }
    fn is_dir(&self) -> bool {
        true
    }
}

/// A share listed at the root, with the metadata of the share's directory.
struct MountEntry {
    name: Vec<u8>,
    meta: Box<dyn DavMetaData>,
}

impl DavDirEntry for MountEntry {
    fn name(&self) -> Vec<u8> {
        self.name.clone()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        futures_util::future::ready(Ok(self.meta.clone())).boxed()
    }
}

fn root_meta(time: SystemTime) -> Box<dyn DavMetaData> {
    Box::new(RootMeta(time))
}

impl DavFileSystem for MultiFs {
    fn open<'a>(&'a self, path: &'a DavPath, options: OpenOptions) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).open(&inner, options).await,
                Route::Unknown if !options.write && !options.create && !options.create_new => Err(FsError::NotFound),
                Route::Root | Route::Unknown => Err(FsError::Forbidden),
            }
        }
        .boxed()
    }

    fn read_dir<'a>(&'a self, path: &'a DavPath, meta: ReadDirMeta) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).read_dir(&inner, meta).await,
                Route::Unknown => Err(FsError::NotFound),
                Route::Root => {
                    let root = DavPath::new("/").map_err(|_| FsError::GeneralFailure)?;
                    let mut entries = Vec::with_capacity(self.mounts.len());
                    for m in self.mounts.iter() {
                        let meta = m.fs.metadata(&root).await.unwrap_or_else(|_| root_meta(self.made));
                        let entry = MountEntry { name: m.name.as_bytes().to_vec(), meta };
                        entries.push(Ok(Box::new(entry) as Box<dyn DavDirEntry>));
                    }
                    let listed: FsStream<Box<dyn DavDirEntry>> = Box::pin(stream::iter(entries));
                    Ok(listed)
                }
            }
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).metadata(&inner).await,
                Route::Unknown => Err(FsError::NotFound),
                Route::Root => Ok(root_meta(self.made)),
            }
        }
        .boxed()
    }

    fn symlink_metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).symlink_metadata(&inner).await,
                Route::Unknown => Err(FsError::NotFound),
                Route::Root => Ok(root_meta(self.made)),
            }
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).create_dir(&inner).await,
                Route::Root | Route::Unknown => Err(FsError::Forbidden),
            }
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).remove_dir(&inner).await,
                Route::Root | Route::Unknown => Err(FsError::Forbidden),
            }
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).remove_file(&inner).await,
                Route::Root | Route::Unknown => Err(FsError::Forbidden),
            }
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (Route::Share(a, from), Route::Share(b, to)) = (self.route(from)?, self.route(to)?) else {
                return Err(FsError::Forbidden);
            };
            if a == b {
                return self.fs(a).rename(&from, &to).await;
            }
            let src = self.fs(a).writable()?;
            let dst = self.fs(b).writable()?;
            let (from, to) = (RelPath::from_dav(&from)?, RelPath::from_dav(&to)?);
            blocking(move || move_across(&src, &from, &dst, &to)).await
        }
        .boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (Route::Share(a, from), Route::Share(b, to)) = (self.route(from)?, self.route(to)?) else {
                return Err(FsError::Forbidden);
            };
            if a == b {
                return self.fs(a).copy(&from, &to).await;
            }
            let src = Arc::clone(&self.fs(a).inner);
            let dst = self.fs(b).writable()?;
            let (from, to) = (RelPath::from_dav(&from)?, RelPath::from_dav(&to)?);
            blocking(move || copy_between(&src, &from, &dst, &to)).await
        }
        .boxed()
    }

    fn have_props<'a>(
        &'a self,
        path: &'a DavPath,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            match self.route(path) {
                Ok(Route::Share(i, inner)) => self.fs(i).have_props(&inner).await,
                _ => false,
            }
        })
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).patch_props(&inner, patch).await,
                Route::Root | Route::Unknown => Err(FsError::Forbidden),
            }
        }
        .boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).get_props(&inner, do_content).await,
                Route::Root => Ok(Vec::new()),
                Route::Unknown => Err(FsError::NotFound),
            }
        }
        .boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        async move {
            match self.route(path)? {
                Route::Share(i, inner) => self.fs(i).get_prop(&inner, prop).await,
                Route::Root | Route::Unknown => Err(FsError::NotFound),
            }
        }
        .boxed()
    }

    fn get_quota(&self) -> FsFuture<'_, (u64, Option<u64>)> {
        async move {
            match self.quota {
                Some(i) => self.fs(i).get_quota().await,
                None => Err(FsError::NotImplemented),
            }
        }
        .boxed()
    }
}

/// One entry of a tree being moved to another share.
enum Step {
    /// Create this folder in the destination.
    Dir(RelPath, RelPath),
    /// Copy this file (or a symlink to a file inside the share) and remove its source.
    File(RelPath, RelPath),
}

/// Move `from` of the share `src` to `to` in the share `dst`: copy every file through a temporary file and remove
/// its source only after the copy is committed, then remove the emptied source folders. The whole tree is checked
/// first (protection, at most [`MAX_MOVE_WALK`] entries, no symlinked folders, nothing but files and folders), so
/// what cannot move is refused before anything moves; a failure half way stops the move with every file in at least
/// one place.
fn move_across(src: &FsInner, from: &RelPath, dst: &FsInner, to: &RelPath) -> dav_server::fs::FsResult<()> {
    if from.is_root() || to.is_root() {
        return Err(FsError::Forbidden);
    }
    guard::writable(src, from)?;
    guard::writable(dst, to)?;
    let steps = match confined::lstat(&src.root, from)? {
        Link::Plain(Entry::Dir(_)) => {
            guard::movable_tree(src, from)?;
            plan_tree(src, from, to)?
        }
        Link::Plain(Entry::File(_)) => vec![Step::File(from.clone(), to.clone())],
        Link::Symlink(_) => match confined::stat(&src.root, from)? {
            Entry::File(_) => vec![Step::File(from.clone(), to.clone())],
            Entry::Dir(_) => return Err(FsError::Forbidden),
        },
    };
    let mut dirs = Vec::new();
    for step in steps {
        match step {
            Step::Dir(s, d) => {
                guard::writable(dst, &d)?;
                let (parent, name) = confined::new_entry_parent(&dst.root, &d)?;
                let mut builder = DirBuilder::new();
                builder.mode(dst.dir_mode());
                parent.create_dir_with(&name, &builder).map_err(|e| write_error(&e))?;
                dirs.push(s);
            }
            Step::File(s, d) => {
                copy_between(src, &s, dst, &d)?;
                src.root.remove_file(s.as_path()).map_err(|e| write_error(&e))?;
            }
        }
    }
    // Deepest first: a folder is removed after everything below it.
    for dir in dirs.iter().rev() {
        src.root.remove_dir(dir.as_path()).map_err(|e| write_error(&e))?;
    }
    Ok(())
}

/// The steps that move the folder `from` to `to`, parents before children; refuses (before anything moves) a tree
/// over [`MAX_MOVE_WALK`] entries, a symlink to a folder and anything the share does not serve.
fn plan_tree(src: &FsInner, from: &RelPath, to: &RelPath) -> dav_server::fs::FsResult<Vec<Step>> {
    use std::os::unix::ffi::OsStrExt;
    let mut steps = vec![Step::Dir(from.clone(), to.clone())];
    let mut pending = vec![(from.clone(), to.clone())];
    while let Some((s, d)) = pending.pop() {
        let dir = confined::open_dir(&src.root, &s)?;
        for entry in dir.entries().map_err(|e| confined::fs_error(&e))? {
            let entry = entry.map_err(|e| confined::fs_error(&e))?;
            if steps.len() > MAX_MOVE_WALK {
                tracing::warn!("share: refused to move a folder with over {MAX_MOVE_WALK} entries to another share");
                return Err(FsError::Forbidden);
            }
            let name = entry.file_name();
            if super::check_name(name.as_bytes()).is_err() {
                // Not served (our temporary files, unservable names): it stays, and so does its folder.
                continue;
            }
            let (cs, cd) = (s.join(&name), d.join(&name));
            match confined::lstat(&src.root, &cs)? {
                Link::Plain(Entry::Dir(_)) => {
                    steps.push(Step::Dir(cs.clone(), cd.clone()));
                    pending.push((cs, cd));
                }
                Link::Plain(Entry::File(_)) => steps.push(Step::File(cs, cd)),
                Link::Symlink(_) => match confined::stat(&src.root, &cs) {
                    Ok(Entry::File(_)) => steps.push(Step::File(cs, cd)),
                    _ => return Err(FsError::Forbidden),
                },
            }
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_at_the_share_name() {
        assert_eq!(split(b"/"), (&b""[..], &b"/"[..]));
        assert_eq!(split(b"/docs"), (&b"docs"[..], &b"/"[..]));
        assert_eq!(split(b"/docs/"), (&b"docs"[..], &b"/"[..]));
        assert_eq!(split(b"/docs/a/b.txt"), (&b"docs"[..], &b"/a/b.txt"[..]));
    }

    #[test]
    fn encoded_paths_decode_unchanged() {
        for raw in [&b"/a b/%41/\xc3\xa4?#.txt"[..], b"/", b"/x/"] {
            let back = DavPath::new(&encode(raw)).unwrap();
            assert_eq!(back.as_bytes(), raw);
        }
    }
}

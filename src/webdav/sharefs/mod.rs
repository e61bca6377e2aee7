//! The share's filesystem: a dav-server [`DavFileSystem`] the guest cannot escape and cannot use to
//! corrupt a file.
//!
//! # Guarantees
//! - **Confinement** ([`confined`]): every file is reached through a capability handle to the share
//!   root (cap-std [`Dir`]), so no path or symlink leads outside it; symlinks that stay inside work
//!   like their targets, the others are invisible. Names with `.`/`..`, backslashes or control
//!   bytes are refused. FIFOs, sockets, devices and hard-linked files are never opened.
//! - **Loss-free writes** ([`file`]): uploads go to a hidden temporary file that replaces the
//!   target only after the complete body was written and synced (the HTTP layer reports the body's
//!   end through [`UploadBody`]); anything else leaves the old file untouched and removes the
//!   temporary.
//! - **Protection** ([`guard`], over [`protect`](crate::webdav::protect)): hidden paths (credential stores) are
//!   never listed and do not exist for any method; read-only paths (login and autostart files) are never
//!   changed, created, removed or moved, also as a COPY/MOVE destination and through a symlink in the share. A
//!   folder holding a protected entry cannot be moved.
//! - **Read-only shares** open nothing for writing and change nothing, whatever the HTTP layer lets
//!   through.
//! - **Properties** ([`props`]): dead properties in `user.ryll.*` extended attributes (all or
//!   nothing per PROPPATCH; 403 with an explanation where the filesystem has none); the quota is
//!   the share filesystem's used and available space (`fstatvfs`).
//! - **Permissions**: new files and directories get `0666`/`0777` minus the umask, like any local
//!   program, or `0600`/`0700` for a private share; a replaced file keeps its permission bits.
//!
//! # Blocking
//! File I/O runs on the share's own threads ([`io_pool`]: [`MAX_FILE_OPS`] for the process), one job per
//! metadata lookup, read or write chunk; a request waiting for its turn holds no thread, and the runtime's
//! workers never wait for the disk.

mod confined;
mod file;
mod guard;
mod io_pool;
mod multi;
mod props;

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt, Metadata, MetadataExt, PermissionsExt, ReadDir};
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream, OpenOptions,
    ReadDirMeta,
};
use futures_util::{stream, FutureExt, StreamExt};
use http::StatusCode;

pub use crate::webdav::protect::Access;
use crate::webdav::protect::Protection;

pub(crate) use confined::percent_decode;
pub use confined::{check_name, check_raw_path, NameError, RelPath, TEMP_PREFIX};
use confined::{fs_error, write_error, Entry, Link};
pub use file::UploadBody;
use file::{ShareFile, TempFile};
pub use io_pool::{MAX_FILE_OPS, THREAD_NAME as IO_THREAD_NAME};
pub use multi::{Mount, MultiFs};

/// Directory entries read per blocking call when listing.
const LIST_BATCH: usize = 256;

/// How a share is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShareFsOptions {
    /// Open nothing for writing and change nothing.
    pub read_only: bool,
    /// Create files `0600` and directories `0700` instead of following the umask.
    pub private: bool,
}

/// The share's filesystem; cheap to clone.
#[derive(Clone)]
pub struct ShareFs {
    inner: Arc<FsInner>,
}

pub(crate) struct FsInner {
    root: Dir,
    options: ShareFsOptions,
    protection: Protection,
}

impl FsInner {
    /// Mode for new files (the umask applies).
    fn file_mode(&self) -> u32 {
        if self.options.private {
            0o600
        } else {
            0o666
        }
    }

    /// Mode for new directories (the umask applies).
    fn dir_mode(&self) -> u32 {
        if self.options.private {
            0o700
        } else {
            0o777
        }
    }
}

impl std::fmt::Debug for ShareFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareFs").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

impl ShareFs {
    /// Open the directory `root` as a share. `root` itself may be reached through symlinks;
    /// nothing below it can lead out.
    /// The default protection applies ([`Protection::defaults`]).
    pub fn open(root: &Path, options: ShareFsOptions) -> io::Result<Self> {
        Self::open_protected(root, options, Protection::defaults())
    }

    /// Open the directory `root` as a share with the given protection.
    pub fn open_protected(root: &Path, options: ShareFsOptions, protection: Protection) -> io::Result<Self> {
        let root = Dir::open_ambient_dir(root, ambient_authority())?;
        Ok(ShareFs { inner: Arc::new(FsInner { root, options, protection }) })
    }

    /// What the guest may do with the decoded share path `path` (`/a/b`), after resolving symlinks inside the
    /// share: for the HTTP layer's own checks (LOCK).
    pub async fn access(&self, path: &[u8]) -> Access {
        let Ok(rel) = RelPath::from_bytes(path) else { return Access::Hidden };
        let fs = Arc::clone(&self.inner);
        blocking(move || Ok(guard::access(&fs, &rel))).await.unwrap_or(Access::Hidden)
    }

    /// The options the share was opened with.
    pub fn options(&self) -> ShareFsOptions {
        self.inner.options
    }

    fn writable(&self) -> FsResult<Arc<FsInner>> {
        if self.inner.options.read_only {
            Err(FsError::Forbidden)
        } else {
            Ok(Arc::clone(&self.inner))
        }
    }
}

/// Run blocking file I/O on the share's I/O threads ([`io_pool`]).
pub(crate) async fn blocking<F, T>(f: F) -> FsResult<T>
where
    F: FnOnce() -> FsResult<T> + Send + 'static,
    T: Send + 'static,
{
    io_pool::run(f).await.unwrap_or_else(|| {
        tracing::error!("a share file operation failed to run");
        Err(FsError::GeneralFailure)
    })
}

fn ready<'a, T: Send + 'a>(result: FsResult<T>) -> FsFuture<'a, T> {
    futures_util::future::ready(result).boxed()
}

/// Metadata of a served entry.
#[derive(Debug, Clone)]
pub(crate) struct ShareMeta {
    len: u64,
    modified: Option<SystemTime>,
    accessed: Option<SystemTime>,
    created: Option<SystemTime>,
    changed: Option<SystemTime>,
    is_dir: bool,
    is_symlink: bool,
    executable: bool,
    ino: u64,
}

impl ShareMeta {
    /// From cap-std metadata; `is_symlink` for the metadata of a symlink itself.
    pub(crate) fn new(meta: &Metadata, is_symlink: bool) -> Self {
        ShareMeta {
            len: meta.len(),
            modified: meta.modified().ok().map(|t| t.into_std()),
            accessed: meta.accessed().ok().map(|t| t.into_std()),
            created: meta.created().ok().map(|t| t.into_std()),
            changed: unix_time(meta.ctime(), meta.ctime_nsec()),
            is_dir: meta.is_dir(),
            is_symlink,
            executable: meta.is_file() && meta.permissions().mode() & 0o100 != 0,
            ino: meta.ino(),
        }
    }
}

fn unix_time(secs: i64, nanos: i64) -> Option<SystemTime> {
    let secs = u64::try_from(secs).ok()?;
    let nanos = u32::try_from(nanos).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

impl DavMetaData for ShareMeta {
    fn len(&self) -> u64 {
        self.len
    }

    fn modified(&self) -> FsResult<SystemTime> {
        self.modified.ok_or(FsError::GeneralFailure)
    }

    fn is_dir(&self) -> bool {
        self.is_dir
    }

    fn is_symlink(&self) -> bool {
        self.is_symlink
    }

    /// Inode, size and modification time (µs): a replaced file (new inode) gets a new tag even
    /// if size and time happen to match.
    fn etag(&self) -> Option<String> {
        let micros = self.modified?.duration_since(UNIX_EPOCH).ok()?.as_micros();
        if self.is_dir {
            Some(format!("{:x}-{micros:x}", self.ino))
        } else {
            Some(format!("{:x}-{:x}-{micros:x}", self.ino, self.len))
        }
    }

    fn accessed(&self) -> FsResult<SystemTime> {
        self.accessed.ok_or(FsError::NotImplemented)
    }

    fn created(&self) -> FsResult<SystemTime> {
        self.created.ok_or(FsError::NotImplemented)
    }

    fn status_changed(&self) -> FsResult<SystemTime> {
        self.changed.ok_or(FsError::NotImplemented)
    }

    fn executable(&self) -> FsResult<bool> {
        if self.is_dir {
            Err(FsError::NotImplemented)
        } else {
            Ok(self.executable)
        }
    }
}

/// One listed entry, with its metadata read while listing.
struct ShareDirEntry {
    name: Vec<u8>,
    meta: ShareMeta,
}

impl DavDirEntry for ShareDirEntry {
    fn name(&self) -> Vec<u8> {
        self.name.clone()
    }

    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        ready(Ok(Box::new(self.meta.clone()) as Box<dyn DavMetaData>))
    }
}

type DirItem = FsResult<Box<dyn DavDirEntry>>;

/// A directory being listed in batches.
struct Lister {
    fs: Arc<FsInner>,
    rel: RelPath,
    /// Where `rel` resolves (symlinks inside the share), for the protection of its entries.
    real: Option<RelPath>,
    entries: ReadDir,
    /// Report a symlink with its target's metadata (`ReadDirMeta::Data`) instead of its own.
    follow: bool,
    /// A Windows client's listing: where to report its names, and the listed path.
    windows: Option<(Arc<crate::webdav::windows::WindowsHints>, Vec<u8>)>,
}

impl Lister {
    /// The next batch of served entries; `None` at the end.
    fn next_batch(&mut self) -> Option<Vec<DirItem>> {
        let mut out = Vec::new();
        for _ in 0..LIST_BATCH {
            let Some(next) = self.entries.next() else {
                return if out.is_empty() { None } else { Some(out) };
            };
            match next {
                Ok(entry) => {
                    if let Some(item) = self.entry(&entry) {
                        out.push(Ok(Box::new(item) as Box<dyn DavDirEntry>));
                    }
                }
                Err(e) => {
                    tracing::warn!("cannot list a shared directory: {e}");
                    out.push(Err(fs_error(&e)));
                    return Some(out);
                }
            }
        }
        Some(out)
    }

    /// An entry as served, or `None` for what we hide: our temporary files, names the guest could
    /// not ask for, special files, hard links, and symlinks that do not resolve inside the share.
    fn entry(&self, entry: &cap_std::fs::DirEntry) -> Option<ShareDirEntry> {
        use std::os::unix::ffi::OsStrExt;
        let name = entry.file_name();
        // Names with a backslash or a control byte cannot be asked for, so they are not served; a Windows client
        // is told about them rather than have them vanish.
        let unaskable = match check_name(name.as_bytes()) {
            Ok(()) => false,
            Err(NameError::Backslash | NameError::ControlByte) if self.windows.is_some() => true,
            Err(_) => return None,
        };
        let own = entry.metadata().ok()?;
        if guard::listed_hidden(&self.fs, &self.rel, self.real.as_ref(), &name, own.is_symlink()) {
            return None;
        }
        if let Some((hints, dir)) = &self.windows {
            hints.listed(dir, name.as_bytes());
        }
        if unaskable {
            return None;
        }
        let meta = if own.is_symlink() {
            let target = confined::stat(&self.fs.root, &self.rel.join(&name)).ok()?;
            if self.follow {
                ShareMeta::new(target.meta(), false)
            } else {
                ShareMeta::new(&own, true)
            }
        } else {
            ShareMeta::new(Entry::classify(own)?.meta(), false)
        };
        Some(ShareDirEntry { name: name.as_bytes().to_vec(), meta })
    }
}

/// Open the served file or directory at `rel` (following symlinks inside the share) to reach its
/// extended attributes.
fn open_node(root: &Dir, rel: &RelPath) -> FsResult<cap_std::fs::File> {
    match confined::stat(root, rel)? {
        Entry::Dir(_) => confined::open_dir_file(root, rel),
        Entry::File(_) => confined::open_read(root, rel).map(|(file, _)| file),
    }
}

impl DavFileSystem for ShareFs {
    fn open<'a>(&'a self, path: &'a DavPath, options: OpenOptions) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let writes = options.write || options.append || options.truncate || options.create || options.create_new;
            let fs = if writes { self.writable()? } else { Arc::clone(&self.inner) };
            let body = UploadBody::current();
            let file = blocking(move || {
                if writes {
                    guard::writable(&fs, &rel)?;
                    file::begin_upload(&fs, &rel, &options, body)
                } else {
                    guard::readable(&fs, &rel)?;
                    let (file, _) = confined::open_read(&fs.root, &rel)?;
                    Ok(ShareFile::Read(Arc::new(file)))
                }
            })
            .await?;
            Ok(Box::new(file) as Box<dyn DavFile>)
        }
        .boxed()
    }

    fn read_dir<'a>(&'a self, path: &'a DavPath, meta: ReadDirMeta) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = Arc::clone(&self.inner);
            // A Windows client's listing: its names are checked for what Windows cannot show (`webdav::windows`).
            let windows = crate::webdav::windows::listing_watch().map(|h| (h, path.as_bytes().to_vec()));
            let lister = blocking(move || {
                guard::readable(&fs, &rel)?;
                let dir = confined::open_dir(&fs.root, &rel)?;
                let entries = dir.entries().map_err(|e| fs_error(&e))?;
                let real = guard::resolve(&fs.root, &rel).filter(|real| *real != rel);
                Ok(Lister { fs, rel, real, entries, follow: meta == ReadDirMeta::Data, windows })
            })
            .await?;
            let batches = stream::unfold(Some(lister), |state| async move {
                let mut lister = state?;
                let batch = blocking(move || Ok(lister.next_batch().map(|batch| (batch, lister)))).await;
                match batch {
                    Ok(Some((batch, lister))) => Some((batch, Some(lister))),
                    Ok(None) => None,
                    Err(e) => Some((vec![Err(e)], None)),
                }
            });
            let entries: FsStream<Box<dyn DavDirEntry>> = Box::pin(batches.flat_map(stream::iter));
            Ok(entries)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = Arc::clone(&self.inner);
            let entry = blocking(move || {
                guard::readable(&fs, &rel)?;
                confined::stat(&fs.root, &rel)
            })
            .await?;
            Ok(Box::new(ShareMeta::new(entry.meta(), false)) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn symlink_metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = Arc::clone(&self.inner);
            let link = blocking(move || {
                guard::readable(&fs, &rel)?;
                confined::lstat(&fs.root, &rel)
            });
            let meta = match link.await? {
                Link::Plain(entry) => ShareMeta::new(entry.meta(), false),
                Link::Symlink(own) => ShareMeta::new(&own, true),
            };
            Ok(Box::new(meta) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = self.writable()?;
            blocking(move || {
                guard::writable(&fs, &rel)?;
                let (dir, name) = confined::new_entry_parent(&fs.root, &rel)?;
                let mut builder = DirBuilder::new();
                builder.mode(fs.dir_mode());
                dir.create_dir_with(&name, &builder).map_err(|e| write_error(&e))
            })
            .await
        }
        .boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = self.writable()?;
            blocking(move || {
                if rel.is_root() {
                    return Err(FsError::Forbidden);
                }
                guard::writable(&fs, &rel)?;
                match confined::lstat(&fs.root, &rel)? {
                    Link::Plain(Entry::Dir(_)) => fs.root.remove_dir(rel.as_path()).map_err(|e| write_error(&e)),
                    _ => Err(FsError::Forbidden),
                }
            })
            .await
        }
        .boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = self.writable()?;
            blocking(move || {
                // A symlink is removed itself (unlink never follows the last component). One that leads to a
                // protected entry is refused all the same: judged by where it leads, it is that entry.
                guard::writable(&fs, &rel)?;
                match confined::lstat(&fs.root, &rel)? {
                    Link::Plain(Entry::File(_)) | Link::Symlink(_) => {
                        fs.root.remove_file(rel.as_path()).map_err(|e| write_error(&e))
                    }
                    Link::Plain(Entry::Dir(_)) => Err(FsError::Forbidden),
                }
            })
            .await
        }
        .boxed()
    }

    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let from = RelPath::from_dav(from)?;
            let to = RelPath::from_dav(to)?;
            let fs = self.writable()?;
            blocking(move || {
                if from.is_root() || to.is_root() {
                    return Err(FsError::Forbidden);
                }
                guard::writable(&fs, &from)?;
                guard::writable(&fs, &to)?;
                // The source must be something we serve (a symlink moves as a link).
                if let Link::Plain(Entry::Dir(_)) = confined::lstat(&fs.root, &from)? {
                    guard::movable_tree(&fs, &from)?;
                }
                // Whatever is at the destination must be something we serve, too.
                match confined::lstat(&fs.root, &to) {
                    Ok(_) => {}
                    Err(FsError::NotFound) => {
                        confined::new_entry_parent(&fs.root, &to)?;
                        if fs.root.symlink_metadata(to.as_path()).is_ok() {
                            return Err(FsError::Forbidden);
                        }
                    }
                    Err(e) => return Err(e),
                }
                fs.root.rename(from.as_path(), &fs.root, to.as_path()).map_err(|e| write_error(&e))
            })
            .await
        }
        .boxed()
    }

    fn have_props<'a>(&'a self, _path: &'a DavPath) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(futures_util::future::ready(true))
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = self.writable()?;
            blocking(move || {
                guard::writable(&fs, &rel)?;
                Ok(props::patch(open_node(&fs.root, &rel)?, patch))
            })
            .await
        }
        .boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, do_content: bool) -> FsFuture<'a, Vec<DavProp>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = Arc::clone(&self.inner);
            blocking(move || {
                guard::readable(&fs, &rel)?;
                props::get_all(open_node(&fs.root, &rel)?, do_content)
            })
            .await
        }
        .boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        async move {
            let rel = RelPath::from_dav(path)?;
            let fs = Arc::clone(&self.inner);
            blocking(move || {
                guard::readable(&fs, &rel)?;
                props::get_one(open_node(&fs.root, &rel)?, &prop)
            })
            .await
        }
        .boxed()
    }

    fn get_quota(&self) -> FsFuture<'_, (u64, Option<u64>)> {
        let fs = Arc::clone(&self.inner);
        blocking(move || props::quota(&fs.root)).boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let from = RelPath::from_dav(from)?;
            let to = RelPath::from_dav(to)?;
            let fs = self.writable()?;
            blocking(move || copy_file(&fs, &from, &to)).await
        }
        .boxed()
    }
}

/// Copy the regular file `from` to `to` through a temporary file: the destination appears
/// complete or not at all.
fn copy_file(fs: &FsInner, from: &RelPath, to: &RelPath) -> FsResult<()> {
    copy_between(fs, from, fs, to)
}

/// Copy the regular file `from` of the share `src` to `to` in the share `dst` (the same share or another one)
/// through a temporary file in the destination's folder: the destination appears complete or not at all.
fn copy_between(src: &FsInner, from: &RelPath, dst: &FsInner, to: &RelPath) -> FsResult<()> {
    if dst.options.read_only {
        return Err(FsError::Forbidden);
    }
    guard::readable(src, from)?;
    guard::writable(dst, to)?;
    let (source, meta) = confined::open_read(&src.root, from)?;
    let target = confined::write_target(&dst.root, to)?;
    let dir = Arc::new(target.dir);
    if target.existing.is_some() {
        file::check_writable(&dir, &target.name)?;
    }
    // Like cp: the source's permission bits minus the umask (private shares: 0600).
    let mode = if dst.options.private { 0o600 } else { meta.permissions().mode() & 0o777 };
    let mut temp = TempFile::create(dir, mode)?;
    props::copy_all(&source, &**temp.file());
    let mut out = &**temp.file();
    std::io::copy(&mut &source, &mut out).map_err(|e| write_error(&e))?;
    temp.commit(&target.name, false)
}

//! Open files: reads, and uploads that replace their target only once they are complete.
//!
//! An upload never writes into the file it replaces. [`begin_upload`] creates a hidden temporary
//! file (`.ryll-upload-<random>`, never listed or served) in the target's directory and the body
//! is written there. Only `flush()` can replace the target, and only when the HTTP layer says the
//! request body is complete ([`UploadBody`]): it ended cleanly, every byte it yielded was written,
//! and the count matches the announced size. Then the temporary is synced to disk and renamed
//! over the target. A temporary that was not committed is removed when the file is dropped, so
//! an aborted, short or failed upload leaves the old file as it was and no trace of the attempt.
//!
//! Why the filesystem needs the HTTP layer's word: dav-server's `handle_put` calls `flush()`
//! after its body loop, and that loop also ends early (without an error) when a body overruns
//! `X-Expected-Entity-Length`. hyper, for its part, never ends a body early: a connection that
//! closes before the announced length or the last chunk yields an error, and dav-server returns
//! before `flush()`.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{Buf, Bytes};
use cap_std::fs::{Dir, File, OpenOptions, OpenOptionsExt, PermissionsExt};
use dav_server::fs::{DavFile, DavMetaData, FsError, FsFuture, FsResult, OpenOptions as DavOpenOptions};
use futures_util::FutureExt;
use rustix::fs::{Access, AtFlags, OFlags, RenameFlags};

use super::confined::{self, fs_error, RelPath, TEMP_PREFIX};
use super::{blocking, props, FsInner, ShareMeta};

/// Most bytes one `read_bytes` call returns (dav-server asks for its read buffer size).
const MAX_READ: usize = 1024 * 1024;
/// Attempts at a fresh temporary name before giving up.
const TEMP_ATTEMPTS: usize = 16;

tokio::task_local! {
    static UPLOAD_BODY: Arc<UploadBody>;
}

/// What the HTTP layer knows about the body of the upload being served: the filesystem commits
/// an upload only when this says the body is complete.
///
/// The server wraps a PUT/PATCH request body so that it calls [`received`](Self::received) for
/// every data frame, [`ended`](Self::ended) when the body ends cleanly and
/// [`failed`](Self::failed) on an error, and runs dav-server's handler inside
/// [`scope`](Self::scope). Without a scope the filesystem writes no content at all.
#[derive(Debug, Default)]
pub struct UploadBody {
    received: AtomicU64,
    writes: AtomicU64,
    ended: AtomicBool,
    failed: AtomicBool,
    refused: AtomicBool,
}

impl UploadBody {
    /// A record for one request body.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// The body yielded `bytes` more data bytes.
    pub fn received(&self, bytes: u64) {
        self.received.fetch_add(bytes, Ordering::SeqCst);
    }

    /// Data bytes the body has yielded so far.
    pub fn received_bytes(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Writes made to the file so far.
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// The body ended cleanly (its stream returned the end, not an error).
    pub fn ended(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    /// The body failed (connection lost, malformed chunk, short body).
    pub fn failed(&self) {
        self.failed.store(true, Ordering::SeqCst);
    }

    /// The total body size if the body ended cleanly.
    pub fn complete(&self) -> Option<u64> {
        let done = self.ended.load(Ordering::SeqCst) && !self.failed.load(Ordering::SeqCst);
        done.then(|| self.received.load(Ordering::SeqCst))
    }

    /// Whether the filesystem refused to commit an upload because the body was not complete.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    /// Run `future` (dav-server's handling of the request) with this record visible to the
    /// filesystem.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        UPLOAD_BODY.scope(self, future).await
    }

    /// The record of the request being served, if any.
    pub(crate) fn current() -> Option<Arc<Self>> {
        UPLOAD_BODY.try_with(Arc::clone).ok()
    }
}

/// A file opened through the share.
pub(crate) enum ShareFile {
    /// A regular file opened for reading.
    Read(Arc<File>),
    /// An upload in progress (see the module docs).
    Upload(Box<Upload>),
    /// An empty file just created (LOCK on an unmapped URL); it takes no writes.
    Created(Box<ShareMeta>),
    /// An upload whose commit was interrupted; it takes nothing any more.
    Closed,
}

impl fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShareFile::Read(_) => f.write_str("ShareFile::Read"),
            ShareFile::Upload(u) => f
                .debug_struct("ShareFile::Upload")
                .field("target", &u.target)
                .field("written", &u.written)
                .field("committed", &u.committed)
                .finish_non_exhaustive(),
            ShareFile::Created(_) => f.write_str("ShareFile::Created"),
            ShareFile::Closed => f.write_str("ShareFile::Closed"),
        }
    }
}

/// A hidden temporary file in the target's directory; removed on drop unless committed.
pub(crate) struct TempFile {
    dir: Arc<Dir>,
    name: OsString,
    file: Arc<File>,
    done: bool,
}

impl TempFile {
    /// Create a fresh temporary file in `dir` with `mode` (the umask applies).
    pub(crate) fn create(dir: Arc<Dir>, mode: u32) -> FsResult<Self> {
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(i32::try_from(OFlags::NOFOLLOW.bits()).unwrap_or(0));
        for _ in 0..TEMP_ATTEMPTS {
            let mut name = OsString::from(OsStr::new(std::str::from_utf8(TEMP_PREFIX).unwrap_or(".ryll-upload-")));
            name.push(format!("{:016x}", rand::random::<u64>()));
            match dir.open_with(&name, &options) {
                Ok(file) => return Ok(TempFile { dir, name, file: Arc::new(file), done: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    tracing::warn!("cannot create a temporary file for an upload: {e}");
                    return Err(confined::write_error(&e));
                }
            }
        }
        Err(FsError::GeneralFailure)
    }

    /// The open temporary file.
    pub(crate) fn file(&self) -> &Arc<File> {
        &self.file
    }

    /// Flush the data to disk and rename the temporary over `target` in the same directory
    /// (`no_replace`: fail if `target` exists by then). The directory is synced too, so the
    /// new name survives a crash.
    pub(crate) fn commit(&mut self, target: &OsStr, no_replace: bool) -> FsResult<()> {
        if self.done {
            return Err(FsError::GeneralFailure);
        }
        if let Err(e) = self.file.sync_all() {
            tracing::warn!("cannot sync an upload to disk: {e}");
            self.discard();
            return Err(fs_error(&e));
        }
        let renamed = if no_replace {
            rename_no_replace(&self.dir, &self.name, target)
        } else {
            self.dir.rename(&self.name, &self.dir, target)
        };
        if let Err(e) = renamed {
            self.discard();
            return Err(confined::write_error(&e));
        }
        self.done = true;
        // Make the rename durable (best effort: some filesystems refuse fsync on directories).
        if let Err(e) = confined::dir_file(&self.dir, Path::new(".")).and_then(|d| d.sync_all()) {
            tracing::debug!("cannot sync a shared directory after an upload: {e}");
        }
        Ok(())
    }

    /// Remove the temporary (if it was not committed).
    pub(crate) fn discard(&mut self) {
        if !self.done {
            self.done = true;
            if let Err(e) = self.dir.remove_file(&self.name) {
                tracing::warn!("cannot remove the temporary file {:?}: {e}", self.name);
            }
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.discard();
    }
}

/// `rename` that fails if the target exists (`renameat2(RENAME_NOREPLACE)`), with a check-then-
/// rename fallback on filesystems without it.
fn rename_no_replace(dir: &Dir, from: &OsStr, to: &OsStr) -> io::Result<()> {
    match rustix::fs::renameat_with(dir, from, dir, to, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => match dir.symlink_metadata(to) {
            Ok(_) => Err(io::Error::from(rustix::io::Errno::EXIST)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => dir.rename(from, dir, to),
            Err(e) => Err(e),
        },
        Err(e) => Err(e.into()),
    }
}

/// An upload: the temporary file, the target's name next to it, and the byte count.
pub(crate) struct Upload {
    temp: TempFile,
    target: OsString,
    /// Body bytes written.
    written: u64,
    /// Body size announced by the request, if any.
    expected: Option<u64>,
    /// `If-None-Match: *`: the target must not exist when the upload completes.
    no_replace: bool,
    /// Append every write at the end (PATCH with `X-Update-Range: append`).
    append: bool,
    committed: bool,
    /// The HTTP layer's record of the request body.
    body: Arc<UploadBody>,
}

/// Open `rel` for writing: start an upload into a temporary file (see the module docs).
///
/// dav-server opens with `truncate` for a plain PUT; without `truncate` (a partial update by
/// `Content-Range` or PATCH) the temporary starts as a copy of the current file, so the update is
/// applied to the copy and the original is replaced only when the whole update succeeded.
///
/// Without an upload `body` record (outside a PUT/PATCH) nothing is written: the only such open
/// is LOCK on an unmapped URL, which gets an empty file.
pub(crate) fn begin_upload(
    fs: &FsInner,
    rel: &RelPath,
    oo: &DavOpenOptions,
    body: Option<Arc<UploadBody>>,
) -> FsResult<ShareFile> {
    let target = confined::write_target(&fs.root, rel)?;
    if target.existing.is_some() && oo.create_new {
        return Err(FsError::Exists);
    }
    if target.existing.is_none() && !oo.create {
        return Err(FsError::NotFound);
    }
    let Some(body) = body else {
        if target.existing.is_none() && !oo.truncate {
            return create_empty(fs, &target.dir, &target.name);
        }
        tracing::warn!("refusing to write {:?} outside an upload", target.name);
        return Err(FsError::Forbidden);
    };
    let partial = !oo.truncate;
    let dir = Arc::new(target.dir);
    let Some(existing) = target.existing else {
        let temp = TempFile::create(Arc::clone(&dir), fs.file_mode())?;
        return Ok(new_upload(temp, target.name, oo, body));
    };
    check_writable(&dir, &target.name)?;
    let temp = TempFile::create(Arc::clone(&dir), 0o600)?;
    // The replacement keeps the file's permission bits (not set-id bits).
    let mode = existing.permissions().mode() & 0o777;
    temp.file().set_permissions(cap_std::fs::Permissions::from_mode(mode)).map_err(|e| fs_error(&e))?;
    match confined::open_read_in(&dir, &target.name) {
        Ok((old, _)) => {
            // The replacement keeps the file's properties and other user attributes.
            props::copy_all(&old, &**temp.file());
            if partial {
                let mut out = &**temp.file();
                io::copy(&mut &old, &mut out).map_err(|e| fs_error(&e))?;
                out.seek(SeekFrom::Start(0)).map_err(|e| fs_error(&e))?;
            }
        }
        Err(e) if partial => return Err(e),
        Err(e) => tracing::debug!("cannot read {:?} to keep its properties: {e:?}", target.name),
    }
    Ok(new_upload(temp, target.name, oo, body))
}

/// Replacing a file needs permission to write the file itself, not just its directory: a file the
/// user made read-only stays as it is.
pub(crate) fn check_writable(dir: &Dir, name: &OsStr) -> FsResult<()> {
    rustix::fs::accessat(dir, name, Access::WRITE_OK, AtFlags::empty()).map_err(|e| fs_error(&e.into()))
}

fn new_upload(temp: TempFile, target: OsString, oo: &DavOpenOptions, body: Arc<UploadBody>) -> ShareFile {
    ShareFile::Upload(Box::new(Upload {
        temp,
        target,
        written: 0,
        expected: oo.size,
        no_replace: oo.create_new,
        append: oo.append,
        committed: false,
        body,
    }))
}

/// Create the empty file `name` in `dir` (it must not exist).
fn create_empty(fs: &FsInner, dir: &Dir, name: &OsStr) -> FsResult<ShareFile> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true).mode(fs.file_mode());
    let file = dir.open_with(name, &options).map_err(|e| confined::write_error(&e))?;
    let meta = file.metadata().map_err(|e| fs_error(&e))?;
    Ok(ShareFile::Created(Box::new(ShareMeta::new(&meta, false))))
}

impl Upload {
    /// Commit if the upload is complete: the body ended cleanly, every byte it yielded was
    /// written, and that is the size the request announced (if it announced one).
    fn commit(&mut self) -> FsResult<()> {
        if self.committed {
            return Ok(());
        }
        let body = self.body.complete();
        let complete = body == Some(self.written) && self.expected.is_none_or(|n| n == self.written);
        if !complete {
            tracing::warn!(
                "upload of {:?} incomplete (wrote {} bytes, body {:?}, announced {:?}); the old file is kept",
                self.target,
                self.written,
                body,
                self.expected
            );
            self.body.refused.store(true, Ordering::SeqCst);
            self.temp.discard();
            return Err(FsError::GeneralFailure);
        }
        self.temp.commit(&self.target, self.no_replace)?;
        self.committed = true;
        Ok(())
    }
}

impl DavFile for ShareFile {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let file = match self {
            ShareFile::Read(file) => Arc::clone(file),
            ShareFile::Upload(up) => Arc::clone(up.temp.file()),
            ShareFile::Created(meta) => {
                let meta: Box<dyn DavMetaData> = meta.clone();
                return futures_util::future::ready(Ok(meta)).boxed();
            }
            ShareFile::Closed => return futures_util::future::ready(Err(FsError::GeneralFailure)).boxed(),
        };
        blocking(move || {
            let meta = file.metadata().map_err(|e| fs_error(&e))?;
            Ok(Box::new(ShareMeta::new(&meta, false)) as Box<dyn DavMetaData>)
        })
        .boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        self.write_bytes(bytes)
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        async move {
            let ShareFile::Upload(up) = self else {
                return Err(FsError::Forbidden);
            };
            if up.committed {
                return Err(FsError::GeneralFailure);
            }
            let len = u64::try_from(buf.len()).unwrap_or(u64::MAX);
            if up.expected.is_some_and(|n| up.written.saturating_add(len) > n) {
                return Err(FsError::TooLarge);
            }
            let file = Arc::clone(up.temp.file());
            let append = up.append;
            blocking(move || {
                let mut out = &*file;
                if append {
                    out.seek(SeekFrom::End(0)).map_err(|e| fs_error(&e))?;
                }
                out.write_all(&buf).map_err(|e| fs_error(&e))
            })
            .await?;
            up.written = up.written.saturating_add(len);
            up.body.writes.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        .boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        let ShareFile::Read(file) = self else {
            return futures_util::future::ready(Err(FsError::Forbidden)).boxed();
        };
        let file = Arc::clone(file);
        blocking(move || {
            let mut buf = vec![0u8; count.min(MAX_READ)];
            let mut filled = 0;
            let mut input = &*file;
            while let Some(rest) = buf.get_mut(filled..).filter(|r| !r.is_empty()) {
                match input.read(rest) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(fs_error(&e)),
                }
            }
            buf.truncate(filled);
            Ok(Bytes::from(buf))
        })
        .boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let file = match self {
            ShareFile::Read(file) => Arc::clone(file),
            ShareFile::Upload(up) => Arc::clone(up.temp.file()),
            _ => return futures_util::future::ready(Err(FsError::Forbidden)).boxed(),
        };
        blocking(move || (&*file).seek(pos).map_err(|e| fs_error(&e))).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        async move {
            let ShareFile::Upload(mut up) = std::mem::replace(self, ShareFile::Closed) else {
                return Ok(());
            };
            // If this future is dropped, the upload is dropped with the blocking task's result,
            // which removes an uncommitted temporary; `self` stays closed.
            let (up, result) = blocking(move || {
                let result = up.commit();
                Ok((up, result))
            })
            .await?;
            *self = ShareFile::Upload(up);
            result
        }
        .boxed()
    }
}

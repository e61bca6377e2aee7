//! Request paths against the share's filesystem: whatever the path and the operation, nothing
//! outside the share root is read, created, changed or removed.
//!
//! A temp directory holds the share and, next to it, a secret file and a directory; the share
//! holds symlinks out of it (relative, absolute, to a directory, to the parent), a symlink that
//! stays inside, a FIFO and a hard link to the secret. Each input picks an operation and one or
//! two paths, given to the filesystem both as dav-server normalises them and raw (undecoded, as
//! `DavPath::from_uri` keeps them). After every input the outside is compared with its first
//! state, and no read or listing may return the secret or a trap.
#![no_main]

use std::io::SeekFrom;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dav_server::davpath::DavPath;
use dav_server::fs::{DavFileSystem, OpenOptions, ReadDirMeta};
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use ryll::webdav::sharefs::{ShareFs, ShareFsOptions, UploadBody};

const SECRET: &[u8] = b"FUZZ-SECRET";

struct Fixture {
    base: PathBuf,
    runtime: tokio::runtime::Runtime,
    outside: Vec<(PathBuf, Vec<u8>, i64, i64)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("ryll-fuzz-share-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("outside")).expect("mkdir");
        std::fs::write(base.join("secret.txt"), SECRET).expect("write");
        std::fs::write(base.join("outside/inner.txt"), SECRET).expect("write");
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let mut fixture = Fixture { base, runtime, outside: Vec::new() };
        fixture.outside = outside_state(&fixture.base);
        fixture
    })
}

/// Names, contents and mtimes of everything outside the share.
fn outside_state(base: &Path) -> Vec<(PathBuf, Vec<u8>, i64, i64)> {
    let mut out = Vec::new();
    for dir in [base.to_path_buf(), base.join("outside")] {
        let mut names: Vec<_> = std::fs::read_dir(&dir).expect("read_dir").map(|e| e.expect("entry").path()).collect();
        names.sort();
        for path in names {
            if path.ends_with("share") {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let content = if meta.is_file() { std::fs::read(&path).expect("read") } else { Vec::new() };
            out.push((path, content, meta.mtime(), meta.mtime_nsec()));
        }
    }
    out
}

/// Every name in the share with its content (regular files) or link target (symlinks).
fn tree_state(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let content = if meta.is_file() {
                std::fs::read(&path).expect("read")
            } else if meta.is_symlink() {
                std::fs::read_link(&path).expect("readlink").into_os_string().into_encoded_bytes()
            } else {
                if meta.is_dir() {
                    stack.push(path.clone());
                }
                Vec::new()
            };
            out.push((path, content));
        }
    }
    out.sort();
    out
}

/// A fresh share with its traps.
fn reset_share(base: &Path) -> PathBuf {
    let share = base.join("share");
    let _ = std::fs::remove_dir_all(&share);
    std::fs::create_dir_all(share.join("sub")).expect("mkdir");
    std::fs::write(share.join("a.txt"), b"hello").expect("write");
    std::fs::write(share.join("sub/b.txt"), b"bee").expect("write");
    symlink("../secret.txt", share.join("out")).expect("symlink");
    symlink(base.join("secret.txt"), share.join("abs")).expect("symlink");
    symlink("../outside", share.join("dirout")).expect("symlink");
    symlink("..", share.join("up")).expect("symlink");
    symlink("a.txt", share.join("in")).expect("symlink");
    std::fs::hard_link(base.join("secret.txt"), share.join("hard")).expect("hard link");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        share.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .expect("mkfifo");
    share
}

/// Both views of a path: as dav-server normalises it, and raw.
fn paths(text: &str) -> Vec<DavPath> {
    let mut out = Vec::new();
    if let Ok(p) = DavPath::new(text) {
        out.push(p);
    }
    if let Ok(uri) = text.parse::<http::Uri>() {
        if let Ok(p) = DavPath::from_uri(&uri) {
            out.push(p);
        }
    }
    out
}

fn assert_clean(bytes: &[u8], what: &str) {
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET), "{what} returned the secret");
}

async fn exercise(fs: &ShareFs, op: u8, a: &DavPath, b: &DavPath, data: &[u8]) {
    match op % 10 {
        0 => {
            let _ = fs.metadata(a).await;
            let _ = fs.symlink_metadata(a).await;
        }
        1 => {
            if let Ok(mut f) = fs.open(a, OpenOptions { read: true, ..OpenOptions::default() }).await {
                let _ = f.seek(SeekFrom::Start(0)).await;
                if let Ok(bytes) = f.read_bytes(4096).await {
                    assert_clean(&bytes, "read");
                }
            }
        }
        2 => {
            for mode in [ReadDirMeta::Data, ReadDirMeta::DataSymlink] {
                if let Ok(mut entries) = fs.read_dir(a, mode).await {
                    while let Some(Ok(entry)) = entries.next().await {
                        let name = entry.name();
                        assert_clean(&name, "read_dir");
                        for trap in [&b"out"[..], b"abs", b"dirout", b"up", b"hard", b"fifo"] {
                            assert_ne!(name, trap, "read_dir listed a trap");
                        }
                    }
                }
            }
        }
        3 => {
            let options = OpenOptions {
                write: true,
                create: true,
                truncate: data.first().is_none_or(|b| b & 1 == 0),
                size: Some(data.len() as u64),
                ..OpenOptions::default()
            };
            // The HTTP layer's record of the body: complete, or not (then nothing may change).
            let record = UploadBody::new();
            let complete = data.first().is_none_or(|b| b & 2 == 0);
            let before = (!complete).then(|| tree_state(&fixture().base.join("share")));
            Arc::clone(&record)
                .scope(async {
                    if let Ok(mut f) = fs.open(a, options).await {
                        record.received(data.len() as u64);
                        if complete {
                            record.ended();
                        }
                        if f.write_bytes(bytes::Bytes::copy_from_slice(data)).await.is_ok() {
                            let _ = f.flush().await;
                        }
                    }
                })
                .await;
            if let Some(before) = before {
                assert_eq!(tree_state(&fixture().base.join("share")), before, "an incomplete upload changed the share");
            }
        }
        4 => {
            let _ = fs.create_dir(a).await;
        }
        5 => {
            let _ = fs.remove_file(a).await;
        }
        6 => {
            let _ = fs.remove_dir(a).await;
        }
        7 => {
            let _ = fs.rename(a, b).await;
        }
        8 => {
            let _ = fs.copy(a, b).await;
        }
        _ => {
            let _ = fs.have_props(a).await;
            let _ = fs.get_props(a, true).await;
        }
    }
}

fuzz_target!(|input: (u8, String, String, Vec<u8>)| {
    let (op, first, second, data) = input;
    let fixture = fixture();
    let share = reset_share(&fixture.base);
    let fs = ShareFs::open(&share, ShareFsOptions::default()).expect("open share");
    let mut seconds = paths(&second);
    if seconds.is_empty() {
        seconds.push(DavPath::new("/moved").expect("path"));
    }
    fixture.runtime.block_on(async {
        for a in paths(&first) {
            for b in &seconds {
                exercise(&fs, op, &a, b, &data).await;
            }
        }
    });
    assert_eq!(outside_state(&fixture.base), fixture.outside, "something outside the share changed");
});

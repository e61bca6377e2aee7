//! Adversarial tests: a guest that tries to leave the shared folder.
//!
//! Each test shares `<tmp>/share` while traps sit around and inside it: a secret file and a
//! directory next to the share, symlinks (relative, absolute, to a directory, to the parent,
//! dangling) that lead out, a FIFO, a hard link to the secret, a socket and a device node. Every
//! WebDAV method is aimed at every trap, directly and as a COPY/MOVE `Destination`, with raw,
//! percent-encoded and backslash tricks; no request may succeed, the secret must never appear in
//! a response and nothing outside the share may change. Symlinks that stay inside the share
//! keep working.

mod common;

use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{connect, hrefs, share, share_with, tree, Resp, LOCKINFO};
use rustix::fs::{FileType, Mode, CWD};
use ryll::webdav::server::{ShareConfig, ShareServer};

const SECRET: &[u8] = b"TOP-SECRET-CONTENT";
const OUTSIDE: &[u8] = b"OUTSIDE-CONTENT";
const HELLO: &[u8] = b"hello, world";

/// A temp dir holding the share and the traps around it.
struct Traps {
    tmp: tempfile::TempDir,
    /// Whether a device node could be created (needs CAP_MKNOD).
    has_device: bool,
}

impl Traps {
    fn new() -> Traps {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path();
        std::fs::write(base.join("secret.txt"), SECRET).expect("write");
        std::fs::create_dir(base.join("outside")).expect("mkdir");
        std::fs::write(base.join("outside/inner.txt"), OUTSIDE).expect("write");
        let share = base.join("share");
        std::fs::create_dir(&share).expect("mkdir");
        std::fs::write(share.join("a.txt"), HELLO).expect("write");
        std::fs::create_dir(share.join("sub")).expect("mkdir");
        std::fs::write(share.join("sub/b.txt"), b"bee").expect("write");
        // Symlinks that lead out.
        symlink("../secret.txt", share.join("link-out")).expect("symlink");
        symlink(base.join("secret.txt"), share.join("link-abs")).expect("symlink");
        symlink("../outside", share.join("dir-out")).expect("symlink");
        symlink("..", share.join("up")).expect("symlink");
        symlink("../../secret.txt", share.join("sub/deep-out")).expect("symlink");
        symlink("../share/a.txt", share.join("out-and-back")).expect("symlink");
        symlink("nothing-here", share.join("dangling")).expect("symlink");
        // Symlinks that stay inside.
        symlink("a.txt", share.join("link-in")).expect("symlink");
        symlink("../a.txt", share.join("sub/link-up-in")).expect("symlink");
        symlink("sub", share.join("dir-in")).expect("symlink");
        // Special files and a hard link.
        rustix::fs::mknodat(CWD, share.join("fifo"), FileType::Fifo, Mode::from_raw_mode(0o644), 0).expect("mkfifo");
        std::fs::hard_link(base.join("secret.txt"), share.join("hard")).expect("hard link");
        let _socket = std::os::unix::net::UnixListener::bind(share.join("sock")).expect("socket");
        // /dev/zero's numbers: reading it would never end.
        let dev = rustix::fs::makedev(1, 5);
        let has_device =
            rustix::fs::mknodat(CWD, share.join("dev"), FileType::CharacterDevice, Mode::from_raw_mode(0o666), dev)
                .is_ok();
        Traps { tmp, has_device }
    }

    fn base(&self) -> &Path {
        self.tmp.path()
    }

    fn share(&self) -> PathBuf {
        self.tmp.path().join("share")
    }

    fn server(&self) -> ShareServer {
        share(&self.share(), false)
    }

    /// Everything outside the share (contents, modes, times).
    fn outside_state(&self) -> Vec<(PathBuf, Vec<u8>, u32, i64, i64)> {
        ["secret.txt", "outside/inner.txt", "outside"]
            .iter()
            .map(|name| {
                let path = self.base().join(name);
                let meta = std::fs::symlink_metadata(&path).expect("metadata");
                let content = if meta.is_file() { std::fs::read(&path).expect("read") } else { Vec::new() };
                (path, content, meta.mode(), meta.mtime(), meta.mtime_nsec())
            })
            .chain(std::iter::once({
                let names: Vec<_> = std::fs::read_dir(self.base().join("outside"))
                    .expect("read_dir")
                    .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                    .collect();
                (PathBuf::from(names.join("/")), Vec::new(), 0, 0, 0)
            }))
            .collect()
    }

    /// The names of the traps inside the share (relative URL paths).
    fn trap_paths(&self) -> Vec<&'static str> {
        let mut paths = vec![
            "/link-out",
            "/link-abs",
            "/dir-out/inner.txt",
            "/dir-out/",
            "/up/secret.txt",
            "/up/",
            "/sub/deep-out",
            "/out-and-back",
            "/dangling",
            "/fifo",
            "/hard",
            "/sock",
        ];
        if self.has_device {
            paths.push("/dev");
        }
        paths
    }
}

/// Encoded and raw path tricks aimed at the secret next to the share.
const PATH_TRICKS: &[&str] = &[
    "/../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/sub/../../secret.txt",
    "/sub/%2e%2e/%2e%2e/secret.txt",
    "/..%2fsecret.txt",
    "/%2e%2e%2fsecret.txt",
    "/..%5csecret.txt",
    "/sub/..%5c..%5csecret.txt",
    "/./../secret.txt",
    "/a.txt%00",
    "/a%00.txt",
    "/a%0a.txt",
    "/a%1b.txt",
    "/a%7f.txt",
];

/// The request failed: an error status, or a multistatus whose every entry failed.
fn assert_refused(what: &str, resp: &Resp) {
    let text = resp.text();
    assert!(!resp.body.windows(SECRET.len()).any(|w| w == SECRET), "{what}: the secret leaked: {text}");
    assert!(!resp.body.windows(OUTSIDE.len()).any(|w| w == OUTSIDE), "{what}: outside content leaked: {text}");
    if resp.status == 207 {
        assert!(!text.contains(" 2"), "{what}: a multistatus entry succeeded: {text}");
    } else {
        assert!(resp.status >= 400, "{what}: answered {} {text}", resp.status);
    }
}

async fn one(server: &ShareServer, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut c = connect(server);
    tokio::time::timeout(Duration::from_secs(20), c.request(method, path, headers, body))
        .await
        .unwrap_or_else(|_| panic!("{method} {path} hung"))
}

const PROPPATCH: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:pwned xmlns:x="urn:x">1</x:pwned></D:prop></D:set>
</D:propertyupdate>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_method_reaches_a_trap() {
    let traps = Traps::new();
    let before = traps.outside_state();
    let server = traps.server();
    let depth0 = [("Depth", "0")];
    for path in traps.trap_paths().into_iter().chain(PATH_TRICKS.iter().copied()) {
        for (method, headers, body) in [
            ("GET", &[][..], &b""[..]),
            ("HEAD", &[][..], &b""[..]),
            ("PUT", &[][..], &b"PWNED"[..]),
            ("PROPFIND", &depth0[..], &b""[..]),
            ("PROPPATCH", &[][..], PROPPATCH),
            ("DELETE", &[][..], &b""[..]),
            ("LOCK", &[][..], LOCKINFO),
            ("MKCOL", &[][..], &b""[..]),
        ] {
            let resp = one(&server, method, path, headers, body).await;
            if method == "MKCOL" && matches!(path, "/dir-out/" | "/up/") {
                // The name exists in the share (as a symlink): MKCOL must fail all the same.
                assert!(resp.status >= 400, "MKCOL {path}: {}", resp.status);
                continue;
            }
            assert_refused(&format!("{method} {path}"), &resp);
        }
        let new_dir = format!("{}/new", path.trim_end_matches('/'));
        assert_refused(&format!("MKCOL {new_dir}"), &one(&server, "MKCOL", &new_dir, &[], b"").await);
        let dest = format!("http://localhost{path}");
        for method in ["COPY", "MOVE"] {
            let into = one(&server, method, "/sub/b.txt", &[("Destination", &dest)], b"").await;
            assert_refused(&format!("{method} /sub/b.txt -> {path}"), &into);
            let out = one(&server, method, path, &[("Destination", "/stolen.txt")], b"").await;
            assert_refused(&format!("{method} {path} -> /stolen.txt"), &out);
        }
    }
    assert_eq!(traps.outside_state(), before, "something outside the share changed");
    assert_eq!(std::fs::read(traps.share().join("sub/b.txt")).expect("read"), b"bee");
    assert!(!traps.share().join("stolen.txt").exists());
    for link in ["link-out", "link-abs", "dir-out", "up", "dangling"] {
        assert!(std::fs::symlink_metadata(traps.share().join(link)).is_ok_and(|m| m.is_symlink()), "{link}");
    }
    assert_eq!(std::fs::metadata(traps.share().join("hard")).expect("hard").nlink(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_show_inside_symlinks_and_hide_every_trap() {
    let traps = Traps::new();
    let server = traps.server();
    let resp = one(&server, "PROPFIND", "/", &[("Depth", "1")], b"").await;
    assert_eq!(resp.status, 207);
    let mut listed = hrefs(&resp.text());
    listed.sort();
    assert_eq!(listed, ["/", "/a.txt", "/dir-in/", "/link-in", "/sub/"]);

    let sub = one(&server, "PROPFIND", "/dir-in/", &[("Depth", "1")], b"").await;
    let mut listed = hrefs(&sub.text());
    listed.sort();
    assert_eq!(listed, ["/dir-in/", "/dir-in/b.txt", "/dir-in/link-up-in"]);

    let index = one(&server, "GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    let html = index.text();
    for hidden in ["link-out", "link-abs", "dir-out", "up/", "dangling", "fifo", "hard", "sock", "deep-out"] {
        assert!(!html.contains(hidden), "{hidden} in the index: {html}");
    }
    assert!(html.contains("link-in") && html.contains("dir-in"), "{html}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_inside_the_share_work_like_their_targets() {
    let traps = Traps::new();
    let server = traps.server();
    for path in ["/link-in", "/sub/link-up-in", "/dir-in/link-up-in"] {
        let resp = one(&server, "GET", path, &[], b"").await;
        assert_eq!((resp.status, resp.body.as_slice()), (200, HELLO), "GET {path}");
    }
    let resp = one(&server, "GET", "/dir-in/b.txt", &[], b"").await;
    assert_eq!((resp.status, resp.body.as_slice()), (200, &b"bee"[..]));

    // Writing through an inside symlink changes the target and keeps the link.
    assert_eq!(one(&server, "PUT", "/link-in", &[], b"new content").await.status, 204);
    assert_eq!(std::fs::read(traps.share().join("a.txt")).expect("read"), b"new content");
    assert!(std::fs::symlink_metadata(traps.share().join("link-in")).expect("link").is_symlink());
    assert_eq!(one(&server, "PUT", "/dir-in/c.txt", &[], b"sea").await.status, 201);
    assert_eq!(std::fs::read(traps.share().join("sub/c.txt")).expect("read"), b"sea");

    // DELETE and MOVE act on the link itself, never on what it points to.
    let moved = one(&server, "MOVE", "/dir-in", &[("Destination", "/dir-in-2")], b"").await;
    assert_eq!(moved.status, 201, "{}", moved.text());
    assert!(std::fs::symlink_metadata(traps.share().join("dir-in-2")).expect("link").is_symlink());
    assert_eq!(one(&server, "DELETE", "/dir-in-2", &[], b"").await.status, 204);
    assert!(traps.share().join("sub/b.txt").exists(), "the link's target was deleted");
    assert_eq!(one(&server, "DELETE", "/link-in", &[], b"").await.status, 204);
    assert!(traps.share().join("a.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_is_never_opened() {
    // Opening a FIFO for reading blocks until a writer appears; any request touching it would hang.
    let traps = Traps::new();
    let server = traps.server();
    for method in ["GET", "PUT", "PROPFIND", "LOCK", "COPY"] {
        let headers = [("Destination", "/copied"), ("Depth", "0")];
        let body: &[u8] = if method == "LOCK" { LOCKINFO } else { b"" };
        let resp = one(&server, method, "/fifo", &headers, body).await;
        assert!(resp.status >= 400, "{method} /fifo: {}", resp.status);
    }
    assert!(!traps.share().join("copied").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_share_changes_nothing_through_the_filesystem_either() {
    use dav_server::davpath::DavPath;
    use dav_server::fs::{DavFileSystem, FsError, OpenOptions};
    use ryll::webdav::sharefs::{ShareFs, ShareFsOptions};

    let traps = Traps::new();
    let before = tree(&traps.share());
    let fs = ShareFs::open(&traps.share(), ShareFsOptions { read_only: true, private: false }).expect("open");
    let path = |p: &str| DavPath::new(p).expect("path");
    let write_opens = [
        OpenOptions { write: true, create: true, truncate: true, ..OpenOptions::default() },
        OpenOptions { write: true, ..OpenOptions::default() },
        OpenOptions { append: true, ..OpenOptions::default() },
        OpenOptions { read: true, truncate: true, ..OpenOptions::default() },
        OpenOptions { create_new: true, ..OpenOptions::default() },
    ];
    for options in write_opens {
        for p in ["/a.txt", "/new.txt"] {
            let result = fs.open(&path(p), options.clone()).await;
            assert_eq!(result.err(), Some(FsError::Forbidden), "{p} {options:?}");
        }
    }
    assert_eq!(fs.create_dir(&path("/newdir")).await, Err(FsError::Forbidden));
    assert_eq!(fs.remove_file(&path("/a.txt")).await, Err(FsError::Forbidden));
    assert_eq!(fs.remove_dir(&path("/sub")).await, Err(FsError::Forbidden));
    assert_eq!(fs.rename(&path("/a.txt"), &path("/b.txt")).await, Err(FsError::Forbidden));
    assert_eq!(fs.copy(&path("/a.txt"), &path("/b.txt")).await, Err(FsError::Forbidden));
    // Reading still works.
    assert!(fs.open(&path("/a.txt"), OpenOptions { read: true, ..OpenOptions::default() }).await.is_ok());
    assert_eq!(tree(&traps.share()), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_filesystem_refuses_unnormalised_paths_on_its_own() {
    use dav_server::davpath::DavPath;
    use dav_server::fs::{DavFileSystem, OpenOptions};
    use ryll::webdav::sharefs::{ShareFs, ShareFsOptions};

    let traps = Traps::new();
    let fs = ShareFs::open(&traps.share(), ShareFsOptions::default()).expect("open");
    // `DavPath::from_uri` keeps the raw path: nothing is decoded or normalised before the filesystem.
    // "/./a.txt" exists once normalised; the filesystem must still refuse the dot segment itself.
    for raw in ["/../secret.txt", "/sub/../../secret.txt", "/sub/../a.txt", "/./a.txt", "/.ryll-upload-x"] {
        let uri: http::Uri = raw.parse().expect("uri");
        let path = DavPath::from_uri(&uri).expect("path");
        assert!(fs.metadata(&path).await.is_err(), "{raw}");
        assert!(fs.open(&path, OpenOptions { read: true, ..OpenOptions::default() }).await.is_err(), "{raw}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_files_follow_the_umask_or_the_private_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let umask = current_umask();
    let normal = share(dir.path(), false);
    assert_eq!(one(&normal, "PUT", "/f.txt", &[], b"x").await.status, 201);
    assert_eq!(one(&normal, "MKCOL", "/d", &[], b"").await.status, 201);
    let mode = |name: &str| std::fs::metadata(dir.path().join(name)).expect("meta").permissions().mode() & 0o777;
    if let Some(umask) = umask {
        assert_eq!(mode("f.txt"), 0o666 & !umask);
        assert_eq!(mode("d"), 0o777 & !umask);
    }
    // A replaced file keeps its permission bits.
    std::fs::set_permissions(dir.path().join("f.txt"), std::fs::Permissions::from_mode(0o640)).expect("chmod");
    assert_eq!(one(&normal, "PUT", "/f.txt", &[], b"y").await.status, 204);
    assert_eq!(mode("f.txt"), 0o640);

    let private = share_with(ShareConfig {
        root: dir.path().to_path_buf(),
        read_only: false,
        private: true,
        protection: Default::default(),
    });
    assert_eq!(one(&private, "PUT", "/p.txt", &[], b"x").await.status, 201);
    assert_eq!(one(&private, "MKCOL", "/pd", &[], b"").await.status, 201);
    assert_eq!(one(&private, "COPY", "/p.txt", &[("Destination", "/pd/copy.txt")], b"").await.status, 201);
    assert_eq!(mode("p.txt"), 0o600);
    assert_eq!(mode("pd"), 0o700);
    assert_eq!(mode("pd/copy.txt"), 0o600);
}

/// The process umask, from /proc (reading it with umask(2) would change it for a moment).
fn current_umask() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
    u32::from_str_radix(line.trim(), 8).ok()
}

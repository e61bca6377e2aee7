//! Named shares behind the read-only virtual root: listing the root, reading and writing in each share, refusals
//! at the root and in a read-only share, COPY and MOVE across shares (files and trees, byte for byte), the quota
//! per share, and adding or removing a share while a connection to another one stays open and keeps working.

mod common;

use std::path::Path;

use common::{connect, hrefs, tree, Client, LOCKINFO};
use ryll::webdav::named::NamedShare;
use ryll::webdav::protect::Protection;
use ryll::webdav::server::{ShareError, ShareServer};

fn named(name: &str, dir: &Path, read_only: bool) -> NamedShare {
    NamedShare::new(name, dir, read_only, Protection::defaults())
}

/// `docs` (read-write, a.txt and sub/b.txt) and `music` (read-only, song.ogg).
struct Two {
    docs: tempfile::TempDir,
    music: tempfile::TempDir,
    server: ShareServer,
}

fn two() -> Two {
    let docs = common::populated_dir();
    let music = tempfile::tempdir().expect("tempdir");
    std::fs::write(music.path().join("song.ogg"), b"la la la").expect("write");
    let server =
        ShareServer::named(vec![named("docs", docs.path(), false), named("music", music.path(), true)]).expect("share");
    Two { docs, music, server }
}

async fn status(c: &mut Client, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    c.request(method, path, headers, body).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_lists_one_folder_per_share() {
    let t = two();
    let mut c = connect(&t.server);
    let resp = c.request("PROPFIND", "/", &[("Depth", "0")], b"").await;
    assert_eq!(resp.status, 207, "{}", resp.text());
    assert_eq!(hrefs(&resp.text()), ["/"]);
    assert!(resp.text().contains("collection"), "{}", resp.text());
    let resp = c.request("PROPFIND", "/", &[("Depth", "1")], b"").await;
    assert_eq!(resp.status, 207, "{}", resp.text());
    assert_eq!(hrefs(&resp.text()), ["/", "/docs/", "/music/"]);
    // No Depth means 1, as for one share.
    assert_eq!(hrefs(&c.request("PROPFIND", "/", &[], b"").await.text()), ["/", "/docs/", "/music/"]);
    let resp = c.request("PROPFIND", "/docs/", &[("Depth", "1")], b"").await;
    let mut listed = hrefs(&resp.text());
    listed.sort();
    assert_eq!(listed, ["/docs/", "/docs/a.txt", "/docs/empty/", "/docs/sub/"]);
    let index = c.request("GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    assert!(index.text().contains("docs") && index.text().contains("music"), "{}", index.text());
    assert_eq!(status(&mut c, "GET", "/nothing/", &[], b"").await, 404);
    assert_eq!(status(&mut c, "PROPFIND", "/nothing", &[("Depth", "0")], b"").await, 404);
    let options = c.request("OPTIONS", "/", &[], b"").await;
    assert_eq!(options.header("allow"), Some("OPTIONS, GET, HEAD, PROPFIND"));
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_share_is_read_and_written_on_its_own_terms() {
    let t = two();
    let mut c = connect(&t.server);
    assert_eq!(c.request("GET", "/docs/a.txt", &[], b"").await.text(), "hello, world");
    assert_eq!(c.request("GET", "/music/song.ogg", &[], b"").await.text(), "la la la");
    assert_eq!(status(&mut c, "PUT", "/docs/new.txt", &[], b"fresh").await, 201);
    assert_eq!(std::fs::read(t.docs.path().join("new.txt")).expect("read"), b"fresh");
    // A read-only share refuses every change, also LOCK and PROPPATCH, and keeps the connection.
    let before = tree(t.music.path());
    for (method, path, body) in [
        ("PUT", "/music/song.ogg", &b"x"[..]),
        ("PUT", "/music/new", b"x"),
        ("DELETE", "/music/song.ogg", b""),
        ("MKCOL", "/music/d", b""),
        ("LOCK", "/music/song.ogg", LOCKINFO),
        ("PROPPATCH", "/music/song.ogg", b"<x/>"),
        ("MOVE", "/music/song.ogg", b""),
    ] {
        let resp = c.request(method, path, &[("Destination", "/music/moved")], body).await;
        assert_eq!(resp.status, 403, "{method} {path}: {}", resp.text());
        assert!(!resp.closes(), "{method} {path}");
    }
    assert_eq!(tree(t.music.path()), before);
    let options = c.request("OPTIONS", "/music/", &[], b"").await;
    assert_eq!(options.header("allow"), Some("OPTIONS, GET, HEAD, PROPFIND"));
    let options = c.request("OPTIONS", "/docs/", &[], b"").await;
    assert!(options.header("allow").is_some_and(|a| a.contains("MOVE")), "{:?}", options.header("allow"));
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_and_the_share_folders_refuse_every_change() {
    let t = two();
    let (docs, music) = (tree(t.docs.path()), tree(t.music.path()));
    let mut c = connect(&t.server);
    for (method, path, dest) in [
        ("PUT", "/x.txt", None),
        ("MKCOL", "/newshare", None),
        ("DELETE", "/docs/", None),
        ("DELETE", "/docs", None),
        ("DELETE", "/", None),
        ("MOVE", "/docs/", Some("/other/")),
        ("MOVE", "/docs/a.txt", Some("/a.txt")),
        ("COPY", "/docs/a.txt", Some("/a.txt")),
        ("COPY", "/docs/a.txt", Some("/music/")),
        ("COPY", "/docs/sub/", Some("/docs/")),
        ("COPY", "/", Some("/docs/all/")),
        ("PROPPATCH", "/", None),
        ("LOCK", "/", None),
        ("LOCK", "/newname", None),
    ] {
        let headers: Vec<(&str, &str)> = dest.map(|d| ("Destination", d)).into_iter().collect();
        let body: &[u8] = match method {
            "LOCK" => LOCKINFO,
            "PROPPATCH" => b"<x/>",
            _ => b"",
        };
        let resp = c.request(method, path, &headers, body).await;
        assert!((403..=405).contains(&resp.status), "{method} {path} {dest:?}: {} {}", resp.status, resp.text());
        assert!(!resp.closes(), "{method} {path}");
    }
    assert_eq!(tree(t.docs.path()), docs);
    assert_eq!(tree(t.music.path()), music);
    assert_eq!(c.request("GET", "/docs/a.txt", &[], b"").await.text(), "hello, world");
    c.finish().await.expect("clean close");
}

fn write_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let files: Vec<(String, Vec<u8>)> = vec![
        ("t/one.bin".into(), (0..70_000u32).map(|i| (i * 7) as u8).collect()),
        ("t/deep/two.txt".into(), b"two".to_vec()),
        ("t/deep/er/three".into(), vec![0, 255, 1, 254]),
        ("t/empty.txt".into(), Vec::new()),
    ];
    std::fs::create_dir_all(root.join("t/deep/er")).expect("mkdir");
    std::fs::create_dir(root.join("t/hollow")).expect("mkdir");
    for (name, data) in &files {
        std::fs::write(root.join(name), data).expect("write");
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_and_move_across_shares_lose_nothing() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let ro = tempfile::tempdir().expect("tempdir");
    let files = write_tree(a.path());
    std::fs::write(ro.path().join("r.txt"), b"read me").expect("write");
    let server = ShareServer::named(vec![
        named("a", a.path(), false),
        named("b", b.path(), false),
        named("ro", ro.path(), true),
    ])
    .expect("share");
    let mut c = connect(&server);
    // A file and a tree copied to the other share.
    assert_eq!(status(&mut c, "COPY", "/a/t/one.bin", &[("Destination", "/b/one.bin")], b"").await, 201);
    assert_eq!(std::fs::read(b.path().join("one.bin")).expect("read"), files[0].1);
    let resp = c.request("COPY", "/a/t/", &[("Destination", "http://localhost/b/copy/")], b"").await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    for (name, data) in &files {
        let copied = name.replacen("t/", "copy/", 1);
        assert_eq!(&std::fs::read(b.path().join(&copied)).expect(&copied), data, "{copied}");
        assert_eq!(&std::fs::read(a.path().join(name)).expect(name), data, "{name} stays");
    }
    assert!(b.path().join("copy/hollow").is_dir());
    // Out of a read-only share is fine; into it is not.
    assert_eq!(status(&mut c, "COPY", "/ro/r.txt", &[("Destination", "/a/r.txt")], b"").await, 201);
    assert_eq!(std::fs::read(a.path().join("r.txt")).expect("read"), b"read me");
    assert_eq!(status(&mut c, "COPY", "/a/r.txt", &[("Destination", "/ro/r2.txt")], b"").await, 403);
    assert_eq!(status(&mut c, "MOVE", "/a/r.txt", &[("Destination", "/ro/r2.txt")], b"").await, 403);
    assert_eq!(status(&mut c, "MOVE", "/ro/r.txt", &[("Destination", "/a/r3.txt")], b"").await, 403);
    assert!(a.path().join("r.txt").exists() && ro.path().join("r.txt").exists() && !ro.path().join("r2.txt").exists());
    // A file and a tree moved: at the destination byte for byte, gone from the source.
    assert_eq!(status(&mut c, "MOVE", "/a/t/empty.txt", &[("Destination", "/b/empty.txt")], b"").await, 201);
    assert!(!a.path().join("t/empty.txt").exists() && b.path().join("empty.txt").is_file());
    let resp = c.request("MOVE", "/a/t/", &[("Destination", "/b/moved/")], b"").await;
    assert_eq!(resp.status, 201, "{}", resp.text());
    assert!(!a.path().join("t").exists(), "the source tree is gone");
    for (name, data) in files.iter().filter(|(n, _)| n != "t/empty.txt") {
        let moved = name.replacen("t/", "moved/", 1);
        assert_eq!(&std::fs::read(b.path().join(&moved)).expect(&moved), data, "{moved}");
    }
    assert!(b.path().join("moved/hollow").is_dir());
    // Overwrite: F keeps the destination, the default replaces it.
    std::fs::write(a.path().join("n.txt"), b"new").expect("write");
    let f = [("Destination", "/b/one.bin"), ("Overwrite", "F")];
    assert_eq!(status(&mut c, "MOVE", "/a/n.txt", &f, b"").await, 412);
    assert_eq!(status(&mut c, "MOVE", "/a/n.txt", &[("Destination", "/b/one.bin")], b"").await, 204);
    assert_eq!(std::fs::read(b.path().join("one.bin")).expect("read"), b"new");
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moves_across_shares_respect_protection() {
    let home = tempfile::tempdir().expect("tempdir");
    let other = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(home.path().join("proj/.ssh")).expect("mkdir");
    std::fs::write(home.path().join("proj/.ssh/id_rsa"), b"SECRET").expect("write");
    std::fs::write(home.path().join("proj/readme"), b"r").expect("write");
    std::fs::write(other.path().join("evil"), b"run me").expect("write");
    let server =
        ShareServer::named(vec![named("home", home.path(), false), named("other", other.path(), false)]).expect("ok");
    let mut c = connect(&server);
    let (h, o) = (tree(home.path()), tree(other.path()));
    // A folder holding a hidden entry does not move; a login file cannot be a destination.
    assert_eq!(status(&mut c, "MOVE", "/home/proj/", &[("Destination", "/other/proj/")], b"").await, 403);
    assert_eq!(status(&mut c, "COPY", "/other/evil", &[("Destination", "/home/.bashrc")], b"").await, 403);
    assert_eq!(status(&mut c, "MOVE", "/other/evil", &[("Destination", "/home/.profile")], b"").await, 403);
    assert_eq!(status(&mut c, "COPY", "/home/proj/.ssh/id_rsa", &[("Destination", "/other/k")], b"").await, 404);
    assert_eq!((tree(home.path()), tree(other.path())), (h, o));
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_is_that_of_each_shares_filesystem() {
    let disk = tempfile::tempdir().expect("tempdir");
    let shm = Path::new("/dev/shm");
    let other_fs = shm.is_dir()
        && rustix::fs::stat(shm).ok().map(|s| s.st_dev) != rustix::fs::stat(disk.path()).ok().map(|s| s.st_dev);
    let mem =
        if other_fs { tempfile::tempdir_in(shm).expect("tempdir") } else { tempfile::tempdir().expect("tempdir") };
    let server =
        ShareServer::named(vec![named("disk", disk.path(), false), named("mem", mem.path(), false)]).expect("ok");
    let mut c = connect(&server);
    let body =
        br#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/></D:prop></D:propfind>"#;
    let avail = |xml: String| -> Option<u64> {
        let start = xml.find("quota-available-bytes>")? + "quota-available-bytes>".len();
        xml[start..].split('<').next()?.parse().ok()
    };
    let on_disk = avail(c.request("PROPFIND", "/disk/", &[("Depth", "0")], body).await.text()).expect("disk quota");
    let in_mem = avail(c.request("PROPFIND", "/mem/", &[("Depth", "0")], body).await.text()).expect("mem quota");
    let at_root = avail(c.request("PROPFIND", "/", &[("Depth", "0")], body).await.text());
    assert_eq!(at_root, None, "the virtual root has no quota of its own");
    let statvfs = |p: &Path| rustix::fs::statvfs(p).map(|s| s.f_blocks * s.f_frsize).expect("statvfs");
    assert!(on_disk <= statvfs(disk.path()) && in_mem <= statvfs(mem.path()), "{on_disk} {in_mem}");
    if other_fs {
        assert_ne!(on_disk, in_mem, "two filesystems, two quotas");
        assert!(
            in_mem <= statvfs(shm)
                && in_mem * 2 > rustix::fs::statvfs(shm).map(|s| s.f_bavail * s.f_frsize).unwrap_or(0)
        );
    }
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_and_removing_a_share_keeps_the_other_shares_connections() {
    let t = two();
    let mut c = connect(&t.server);
    assert_eq!(c.request("GET", "/docs/a.txt", &[], b"").await.text(), "hello, world");
    let extra = tempfile::tempdir().expect("tempdir");
    std::fs::write(extra.path().join("e.txt"), b"extra").expect("write");
    let list = t
        .server
        .change_shares(|s| {
            s.push(named("extra", extra.path(), false));
            Ok(())
        })
        .expect("add");
    assert_eq!(list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["docs", "music", "extra"]);
    // The same connection goes on and sees the new share.
    let resp = c.request("GET", "/docs/a.txt", &[], b"").await;
    assert_eq!((resp.status, resp.text().as_str(), resp.closes()), (200, "hello, world", false));
    assert_eq!(c.request("GET", "/extra/e.txt", &[], b"").await.text(), "extra");
    assert_eq!(hrefs(&c.request("PROPFIND", "/", &[("Depth", "1")], b"").await.text()).len(), 4);
    // Read-only on, then the share removed: the others stay.
    t.server
        .change_shares(|s| {
            s.iter_mut().filter(|s| s.name == "extra").for_each(|s| s.config.read_only = true);
            Ok(())
        })
        .expect("read-only");
    assert_eq!(status(&mut c, "PUT", "/extra/e.txt", &[], b"x").await, 403);
    t.server
        .change_shares(|s| {
            s.retain(|s| s.name != "music");
            Ok(())
        })
        .expect("remove");
    assert_eq!(status(&mut c, "GET", "/music/song.ogg", &[], b"").await, 404);
    assert_eq!(c.request("GET", "/docs/a.txt", &[], b"").await.text(), "hello, world");
    assert_eq!(status(&mut c, "PUT", "/docs/after.txt", &[], b"after").await, 201);
    // Bad changes are refused and change nothing.
    let dup = t.server.change_shares(|s| {
        s.push(named("docs", extra.path(), false));
        Ok(())
    });
    assert!(matches!(dup, Err(ShareError::Name(_))), "{dup:?}");
    let missing = t.server.change_shares(|s| {
        s.push(named("gone", Path::new("/definitely/not/here"), false));
        Ok(())
    });
    assert!(matches!(missing, Err(ShareError::Root { .. })), "{missing:?}");
    assert_eq!(t.server.shares().expect("named").len(), 2);
    assert!(ShareServer::new(ryll::webdav::server::ShareConfig {
        root: t.docs.path().to_path_buf(),
        read_only: false,
        private: false,
        protection: Protection::defaults(),
    })
    .expect("single")
    .change_shares(|_| Ok(()))
    .is_err());
    c.finish().await.expect("clean close");
}

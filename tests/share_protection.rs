//! Adversarial tests: a guest given the user's whole home folder, read-write, tries to read the user's keys or
//! make the next login run its code.
//!
//! The share is a home-like tree with credential stores (`.ssh`, `.gnupg`, `.docker/config.json`, ...), login
//! files (`.bashrc`, `.config/autostart/`, systemd user units) and symlinks the user made that lead to them. Every
//! WebDAV method is aimed at every protected path, directly, through the symlinks, percent-encoded, in other
//! letter cases, with doubled slashes, as a COPY/MOVE `Destination` and with LOCK. Nothing secret may appear in
//! any answer, nothing protected may be listed, and every file of the tree must stay byte-for-byte (and mode and
//! time) unchanged. Ordinary files keep working, and `Protection::none()` really turns the defaults off.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{connect, hrefs, share_with, Resp, LOCKINFO};
use ryll::webdav::protect::Protection;
use ryll::webdav::server::{ShareConfig, ShareServer};

const KEY: &[u8] = b"-----BEGIN OPENSSH PRIVATE KEY----- SECRET-KEY";
const BASHRC: &[u8] = b"# the user's own bashrc\n";

/// Files of the home-like tree: (path, content).
const FILES: &[(&str, &[u8])] = &[
    (".ssh/id_ed25519", KEY),
    (".ssh/authorized_keys", b"ssh-ed25519 AAAA user@host SECRET-KEY\n"),
    (".gnupg/private-keys-v1.d/k.key", b"SECRET-KEY gpg"),
    (".docker/config.json", b"{\"auths\":\"SECRET-KEY\"}"),
    (".docker/other.json", b"{}"),
    (".netrc", b"machine x password SECRET-KEY"),
    (".aws/credentials", b"aws_secret_access_key=SECRET-KEY"),
    (".local/share/keyrings/login.keyring", b"SECRET-KEY keyring"),
    (".bashrc", BASHRC),
    (".profile", b"# profile\n"),
    (".config/autostart/user.desktop", b"[Desktop Entry]\n"),
    (".config/systemd/user/user.service", b"[Unit]\n"),
    (".config/app.conf", b"ordinary"),
    ("Documents/notes.txt", b"notes"),
];

/// Symlinks the user made: (link, target).
const LINKS: &[(&str, &str)] = &[
    ("keys", ".ssh"),
    ("key-file", ".ssh/id_ed25519"),
    ("rc", ".bashrc"),
    ("cfg", ".config"),
    ("Documents/home", ".."),
];

/// Paths that must behave as if they did not exist.
const HIDDEN: &[&str] = &[
    "/.ssh/",
    "/.ssh",
    "/.ssh/id_ed25519",
    "/.ssh/authorized_keys",
    "/.ssh/new",
    "/%2essh/id_ed25519",
    "/%2Essh/%69d_ed25519",
    "//.ssh//id_ed25519",
    "/.SSH/id_ed25519",
    "/keys/id_ed25519",
    "/keys/",
    "/key-file",
    "/Documents/home/.ssh/id_ed25519",
    "/Documents/home/keys/authorized_keys",
    "/.gnupg/private-keys-v1.d/k.key",
    "/.docker/config.json",
    "/.netrc",
    "/.aws/credentials",
    "/.local/share/keyrings/login.keyring",
];

/// Paths that may be read but never changed.
const READ_ONLY: &[&str] = &[
    "/.bashrc",
    "/rc",
    "/%2ebashrc",
    "/Documents/home/.bashrc",
    "/.profile",
    "/.config/autostart/user.desktop",
    "/cfg/autostart/user.desktop",
    "/.config/autostart/evil.desktop",
    "/cfg/autostart/evil.desktop",
    "/.config/systemd/user/user.service",
    "/.config/systemd/user/evil.service",
    "/.zshrc",
    "/.xprofile",
];

const PROPPATCH: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:pwned xmlns:x="urn:x">1</x:pwned></D:prop></D:set>
</D:propertyupdate>"#;

/// The Windows mini-redirector's PROPPATCH, which dav-server would answer with a pretended success.
const WIN_PROPPATCH: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes></D:prop></D:set></D:propertyupdate>"#;

struct Home {
    tmp: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (path, content) in FILES {
            let full = tmp.path().join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(full, content).expect("write");
        }
        for (link, target) in LINKS {
            symlink(target, tmp.path().join(link)).expect("symlink");
        }
        Home { tmp }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn server(&self, protection: Protection) -> ShareServer {
        share_with(ShareConfig { root: self.root().to_path_buf(), read_only: false, private: false, protection })
    }

    /// Every entry of the tree: content (files), link target (symlinks), mode and modification time.
    fn state(&self) -> BTreeMap<PathBuf, (Vec<u8>, u32, i64, i64)> {
        let mut out = BTreeMap::new();
        let mut pending = vec![self.root().to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("read_dir") {
                let path = entry.expect("entry").path();
                let meta = std::fs::symlink_metadata(&path).expect("metadata");
                let content = if meta.is_symlink() {
                    std::fs::read_link(&path).expect("readlink").into_os_string().into_encoded_bytes()
                } else if meta.is_file() {
                    std::fs::read(&path).expect("read")
                } else {
                    pending.push(path.clone());
                    Vec::new()
                };
                let rel = path.strip_prefix(self.root()).expect("prefix").to_path_buf();
                out.insert(rel, (content, meta.mode(), meta.mtime(), meta.mtime_nsec()));
            }
        }
        out
    }
}

async fn one(server: &ShareServer, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut c = connect(server);
    tokio::time::timeout(Duration::from_secs(20), c.request(method, path, headers, body))
        .await
        .unwrap_or_else(|_| panic!("{method} {path} hung"))
}

/// Failed, and nothing secret in the answer.
fn assert_refused(what: &str, resp: &Resp) {
    let text = resp.text();
    assert!(!text.contains("SECRET-KEY"), "{what}: a secret leaked: {text}");
    if resp.status == 207 {
        assert!(!text.contains(" 2"), "{what}: a multistatus entry succeeded: {text}");
    } else {
        assert!(resp.status >= 400, "{what}: answered {} {text}", resp.status);
    }
}

/// Every changing method, aimed at `path` directly and as a destination.
async fn attack_writes(server: &ShareServer, path: &str) {
    for (method, body) in [
        ("PUT", &b"PWNED"[..]),
        ("PROPPATCH", PROPPATCH),
        ("PROPPATCH", WIN_PROPPATCH),
        ("DELETE", b""),
        ("LOCK", LOCKINFO),
        ("UNLOCK", b""),
        ("MKCOL", b""),
    ] {
        let resp = one(server, method, path, &[], body).await;
        assert_refused(&format!("{method} {path}"), &resp);
    }
    let new_dir = format!("{}/new", path.trim_end_matches('/'));
    assert_refused(&format!("MKCOL {new_dir}"), &one(server, "MKCOL", &new_dir, &[], b"").await);
    let dest = format!("http://localhost{path}");
    for method in ["COPY", "MOVE"] {
        for source in ["/Documents/notes.txt", "/Documents/"] {
            let into = one(server, method, source, &[("Destination", &dest), ("Overwrite", "T")], b"").await;
            assert_refused(&format!("{method} {source} -> {path}"), &into);
        }
    }
    let out = one(server, "MOVE", path, &[("Destination", "/Documents/stolen")], b"").await;
    assert_refused(&format!("MOVE {path} -> /Documents/stolen"), &out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hidden_paths_do_not_exist_for_any_method() {
    let home = Home::new();
    let before = home.state();
    let server = home.server(Protection::defaults());
    for path in HIDDEN {
        for (method, headers) in [("GET", &[][..]), ("HEAD", &[][..]), ("PROPFIND", &[("Depth", "1")][..])] {
            assert_refused(&format!("{method} {path}"), &one(&server, method, path, headers, b"").await);
        }
        let copy = one(&server, "COPY", path, &[("Destination", "/Documents/stolen")], b"").await;
        assert_refused(&format!("COPY {path} -> /Documents/stolen"), &copy);
        attack_writes(&server, path).await;
    }
    assert_eq!(home.state(), before, "something in the home folder changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_files_are_readable_but_never_change() {
    let home = Home::new();
    let before = home.state();
    let server = home.server(Protection::defaults());
    for path in ["/.bashrc", "/rc", "/Documents/home/.bashrc"] {
        let resp = one(&server, "GET", path, &[], b"").await;
        assert_eq!((resp.status, resp.body.as_slice()), (200, BASHRC), "GET {path}");
    }
    for path in READ_ONLY {
        attack_writes(&server, path).await;
    }
    // A folder holding protected entries cannot be moved away or emptied.
    for dir in ["/.config/", "/.config/systemd/", "/Documents/home/.config/"] {
        let moved = one(&server, "MOVE", dir, &[("Destination", "/Documents/moved/")], b"").await;
        assert_refused(&format!("MOVE {dir}"), &moved);
    }
    let deleted = one(&server, "DELETE", "/.config/", &[], b"").await;
    assert!(deleted.status >= 400 || deleted.status == 207, "DELETE /.config/: {}", deleted.status);
    // DELETE of the folder may remove its ordinary files (changing the folder's time); everything protected stays.
    let (mut before, mut after) = (before, home.state());
    for changed in [".config", ".config/app.conf"] {
        before.remove(Path::new(changed));
        after.remove(Path::new(changed));
    }
    assert_eq!(after, before, "a protected file changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_hide_credential_stores_and_links_to_them() {
    let home = Home::new();
    let server = home.server(Protection::defaults());
    let resp = one(&server, "PROPFIND", "/", &[("Depth", "1")], b"").await;
    assert_eq!(resp.status, 207);
    let mut listed = hrefs(&resp.text());
    listed.sort();
    assert_eq!(
        listed,
        ["/", "/.bashrc", "/.config/", "/.docker/", "/.local/", "/.profile", "/Documents/", "/cfg/", "/rc"],
        "{}",
        resp.text()
    );
    let docker = one(&server, "PROPFIND", "/.docker/", &[("Depth", "1")], b"").await;
    assert_eq!(hrefs(&docker.text()), ["/.docker/", "/.docker/other.json"]);
    let through = one(&server, "PROPFIND", "/Documents/home/", &[("Depth", "1")], b"").await;
    assert!(!through.text().contains(".ssh") && !through.text().contains("keys"), "{}", through.text());
    assert!(through.text().contains("/Documents/home/.bashrc"), "{}", through.text());
    let index = one(&server, "GET", "/", &[], b"").await;
    assert_eq!(index.status, 200);
    for hidden in [".ssh", ".gnupg", ".netrc", ".aws", "keys", "key-file"] {
        assert!(!index.text().contains(hidden), "{hidden} in the index: {}", index.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_files_keep_working_and_unprotected_shares_serve_everything() {
    let home = Home::new();
    let server = home.server(Protection::defaults());
    assert_eq!(one(&server, "PUT", "/Documents/new.txt", &[], b"new").await.status, 201);
    assert_eq!(one(&server, "PUT", "/.config/app.conf", &[], b"changed").await.status, 204);
    let moved = one(&server, "MOVE", "/Documents/new.txt", &[("Destination", "/Documents/moved.txt")], b"").await;
    assert_eq!(moved.status, 201);
    assert_eq!(std::fs::read(home.root().join("Documents/moved.txt")).expect("read"), b"new");
    let lock = one(&server, "LOCK", "/Documents/notes.txt", &[], LOCKINFO).await;
    assert_eq!(lock.status, 200, "{}", lock.text());

    let open = home.server(Protection::none());
    let key = one(&open, "GET", "/.ssh/id_ed25519", &[], b"").await;
    assert_eq!((key.status, key.body.as_slice()), (200, KEY));

    let mut custom = Protection::none();
    custom.add_hidden("/Documents/notes.txt").expect("pattern");
    custom.add_read_only("*.conf").expect("pattern");
    let server = home.server(custom);
    assert_eq!(one(&server, "GET", "/Documents/notes.txt", &[], b"").await.status, 404);
    assert_eq!(one(&server, "GET", "/.ssh/id_ed25519", &[], b"").await.status, 200);
    assert_eq!(one(&server, "PUT", "/.config/app.conf", &[], b"x").await.status, 403);
    assert_eq!(std::fs::read(home.root().join(".config/app.conf")).expect("read"), b"changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guest_sequence_of_attacks_on_one_path_moves_nothing() {
    let home = Home::new();
    let before = home.state();
    let server = home.server(Protection::defaults());
    let dest = "http://127.0.0.1:9843/.ssh/authorized_keys";
    let over = [("Destination", dest), ("Overwrite", "T")];
    let copy = one(&server, "COPY", "/Documents/notes.txt", &over, b"").await;
    assert_refused("COPY into", &copy);
    let moved = one(&server, "MOVE", "/Documents/notes.txt", &over, b"").await;
    assert_refused("MOVE into", &moved);
    let out = [("Destination", "http://127.0.0.1:9843/Documents/moved-1")];
    let moved = one(&server, "MOVE", "/.ssh/authorized_keys", &out, b"").await;
    assert_refused("MOVE out", &moved);
    assert_eq!(home.state(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_given_the_home_folder_cannot_change_the_remembered_shares() {
    use ryll::remember::{store::Store, RememberedShare, VmKey};
    let home = Home::new();
    // Written by the real store, where ryll keeps it for a user whose XDG config directory is ~/.config.
    let file = home.root().join(".config/ryll").join(ryll::remember::FILE_NAME);
    let share = RememberedShare::for_folder(home.root().join("Documents"), true);
    Store::new(file.clone()).save(&VmKey::new(Some(&[7; 16]), None, ""), "vm", &[share]).expect("save");
    let before = home.state();
    let server = home.server(Protection::defaults());
    let path = format!("/.config/ryll/{}", ryll::remember::FILE_NAME);
    attack_writes(&server, &path).await;
    attack_writes(&server, "/.config/ryll/").await;
    let added = one(&server, "PUT", "/.config/ryll/other.toml", &[], b"version = 1\n").await;
    assert_refused("PUT /.config/ryll/other.toml", &added);
    assert_eq!(home.state(), before, "the remembered shares changed");
}

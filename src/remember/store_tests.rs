use super::*;
use std::os::unix::fs::PermissionsExt;

fn share(path: &str, ro: bool) -> RememberedShare {
    RememberedShare::for_folder(path.into(), ro)
}

fn key(n: u8) -> VmKey {
    VmKey::new(Some(&[n; 16]), None, "h:1")
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::new(dir.path().join("config").join("ryll").join(super::super::FILE_NAME));
    (dir, s)
}

#[test]
fn round_trip_private_file_and_forget() {
    let (_dir, s) = store();
    assert_eq!(s.load(&key(1)).unwrap(), vec![], "no file: nothing remembered");
    let shares = vec![share("/home/u/Documents", false), share("/srv/Ro Data", true)];
    s.save(&key(1), "vm one @ h:1", &shares).unwrap();
    assert_eq!(s.load(&key(1)).unwrap(), shares);
    assert_eq!(s.load(&key(2)).unwrap(), vec![]);
    let mode = std::fs::metadata(s.file()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(s.file().parent().unwrap()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    let text = std::fs::read_to_string(s.file()).unwrap();
    assert!(text.contains("version = 1") && text.contains("[[vm.share]]") && text.contains("Ro Data"), "{text}");
    let leftovers: Vec<_> = std::fs::read_dir(s.file().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(s.forget(&key(1)).unwrap());
    assert!(!s.forget(&key(1)).unwrap());
    assert_eq!(s.load(&key(1)).unwrap(), vec![]);
}

#[test]
fn saving_one_vm_keeps_the_others() {
    let (_dir, s) = store();
    s.save(&key(1), "one", &[share("/a", false)]).unwrap();
    s.save(&key(2), "two", &[share("/b", true)]).unwrap();
    s.save(&key(1), "one", &[share("/c", false)]).unwrap();
    assert_eq!(s.load(&key(1)).unwrap(), vec![share("/c", false)]);
    assert_eq!(s.load(&key(2)).unwrap(), vec![share("/b", true)]);
    // Two processes' worth of writers at once: every VM's entry survives (the lock serialises read-modify-write).
    let threads: Vec<_> = (10..26u8)
        .map(|n| {
            let s = s.clone();
            std::thread::spawn(move || s.save(&key(n), "", &[share(&format!("/vm{n}"), false)]).unwrap())
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for n in 10..26u8 {
        assert_eq!(s.load(&key(n)).unwrap(), vec![share(&format!("/vm{n}"), false)], "vm {n}");
    }
    assert_eq!(s.load(&key(2)).unwrap(), vec![share("/b", true)]);
}

#[test]
fn the_oldest_vm_makes_room() {
    let (_dir, s) = store();
    let mut data = FileData { version: VERSION, vms: Vec::new() };
    for i in 0..MAX_VMS {
        data.vms.push(VmEntry {
            key: format!("name:vm{i}@h:1"),
            label: String::new(),
            updated: 1000 + i as u64,
            shares: vec![share("/x", false)],
        });
    }
    data.vms[7].updated = 1;
    s.lock().unwrap();
    s.write(&data).unwrap();
    s.save(&key(1), "", &[share("/new", false)]).unwrap();
    assert_eq!(s.load(&key(1)).unwrap(), vec![share("/new", false)]);
    assert_eq!(s.load(&VmKey::from_stored("name:vm7@h:1".into())).unwrap(), vec![], "the oldest went");
    assert_eq!(s.load(&VmKey::from_stored("name:vm8@h:1".into())).unwrap(), vec![share("/x", false)]);
}

#[test]
fn corrupt_huge_or_newer_files_are_refused_and_kept() {
    let (_dir, s) = store();
    s.save(&key(1), "", &[share("/a", false)]).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"version = 1\n[[vm]]\nkey = \"k\"\nshare = 5\n".to_vec(), "at line"),
        (b"version = 1\n[[vm]\n".to_vec(), "not a valid remembered-shares file"),
        (b"version = 2\n".to_vec(), "version 2"),
        (b"version = 1\nsurprise = true\n".to_vec(), "unknown field"),
        (b"version = 1\n[[vm]]\nkey = \"k\"\n[[vm.share]]\nname = \"r\"\npath = \"relative\"\n".to_vec(), "absolute"),
        (vec![0xff, 0xfe, 0x00], "not UTF-8"),
        (vec![b'#'; MAX_FILE_BYTES as usize + 1], "larger than"),
    ];
    for (bytes, want) in cases {
        std::fs::write(s.file(), &bytes).unwrap();
        let e = s.load(&key(1)).unwrap_err().to_string();
        assert!(e.contains(want) && e.contains(&s.file().display().to_string()), "{want}: {e}");
        let e = s.save(&key(2), "", &[share("/b", false)]).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
        assert_eq!(std::fs::read(s.file()).unwrap(), bytes, "{want}: the file is left as it was");
    }
    let many: String = std::iter::once("version = 1\n".to_string())
        .chain((0..=MAX_VMS).map(|i| format!("[[vm]]\nkey = \"k{i}\"\n")))
        .collect();
    std::fs::write(s.file(), many).unwrap();
    assert!(s.load(&key(1)).unwrap_err().to_string().contains("VMs (at most"));
    std::fs::write(s.file(), " \n").unwrap();
    assert_eq!(s.load(&key(1)).unwrap(), vec![], "an empty file is an empty store");
    std::fs::remove_file(s.file()).unwrap();
    std::fs::create_dir(s.file()).unwrap();
    assert!(s.load(&key(1)).unwrap_err().to_string().contains("not a regular file"));
}

#[test]
fn unstorable_shares_are_refused_before_writing() {
    use std::os::unix::ffi::OsStrExt;
    let (_dir, s) = store();
    let bad = RememberedShare {
        name: "x".into(),
        path: PathBuf::from(std::ffi::OsStr::from_bytes(b"/tmp/\xff")),
        read_only: false,
        named: false,
    };
    assert!(s.save(&key(1), "", &[bad]).unwrap_err().to_string().contains("not valid UTF-8"));
    let many: Vec<_> = (0..=MAX_SHARES).map(|i| share(&format!("/s{i}"), false)).collect();
    assert!(s.save(&key(1), "", &many).unwrap_err().to_string().contains("per VM"));
    assert!(!s.file().exists());
}

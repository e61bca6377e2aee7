//! File names round-trip: whatever valid Unicode name a guest uses for a file, it can write it,
//! see it listed under the same name, and read it back; names the host cannot store get a clear
//! status.

mod common;

use common::{connect, hrefs, share};

/// Names guests use in practice, including the characters URLs and XML treat specially.
const NAMES: &[&str] = &[
    "plain.txt",
    "with space.txt",
    "question?.txt",
    "hash#tag.txt",
    "100% sure.txt",
    "%41 not an escape.txt",
    "tom & jerry.txt",
    "quote\" and 'apostrophe'.txt",
    "<angle> brackets.txt",
    "a+b=c;d,e@f$g!h.txt",
    "[brackets] {braces} (parens).txt",
    "~tilde`grave^caret|pipe.txt",
    "emoji 🎉🦀.txt",
    "ünïcødé.txt",
    "caf\u{e9} NFC.txt",
    "cafe\u{301} NFD.txt",
    "文件名.txt",
    "Ελληνικά.txt",
    "עברית.txt",
    "trailing dot.",
    "trailing space ",
    ".hidden",
    "...",
    "no-extension",
];

/// Percent-encode every byte except unreserved characters.
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn decode(href: &str) -> Vec<u8> {
    let bytes = href.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            if let Some(v) = href.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// An XML text value with the five predefined entities (and numeric ones) expanded.
fn unescape_xml(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let Some(semi) = rest[amp..].find(';') else {
            out.push_str(&rest[amp..]);
            return out;
        };
        let entity = &rest[amp + 1..amp + semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&rest[amp..=amp + semi]),
        }
        rest = &rest[amp + semi + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_name_round_trips_through_put_propfind_and_get() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    for (i, name) in NAMES.iter().enumerate() {
        let content = format!("content {i}: {name}");
        let path = format!("/sub/{}", encode(name));
        let put = c.request("PUT", &path, &[], content.as_bytes()).await;
        assert_eq!(put.status, 201, "PUT {name:?}: {}", put.text());
        // Stored under exactly these bytes (no normalisation, no escaping).
        assert_eq!(std::fs::read(dir.path().join("sub").join(name)).expect("on disk"), content.as_bytes(), "{name:?}");

        let get = c.request("GET", &path, &[], b"").await;
        assert_eq!((get.status, get.body.as_slice()), (200, content.as_bytes()), "GET {name:?}");
        let one = c.request("PROPFIND", &path, &[("Depth", "0")], b"").await;
        assert_eq!(one.status, 207, "PROPFIND {name:?}");
        let listed: Vec<Vec<u8>> = hrefs(&one.text()).iter().map(|h| decode(&unescape_xml(h))).collect();
        assert_eq!(listed, [format!("/sub/{name}").into_bytes()], "PROPFIND {name:?}: {}", one.text());
    }
    // The listing names every file exactly once, NFC and NFD apart.
    let list = c.request("PROPFIND", "/sub/", &[("Depth", "1")], b"").await;
    let mut listed: Vec<Vec<u8>> = hrefs(&list.text()).iter().map(|h| decode(&unescape_xml(h))).collect();
    listed.sort();
    let mut expected: Vec<Vec<u8>> =
        NAMES.iter().map(|n| format!("/sub/{n}").into_bytes()).chain([b"/sub/".to_vec()]).collect();
    expected.sort();
    assert_eq!(listed, expected);

    // MOVE and COPY to such names work too.
    let dest = format!("http://localhost/{}", encode("moved 🎉 #1?.txt"));
    let moved = c.request("MOVE", &format!("/sub/{}", encode("plain.txt")), &[("Destination", &dest)], b"").await;
    assert_eq!(moved.status, 201);
    assert!(dir.path().join("moved 🎉 #1?.txt").is_file());
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_the_host_cannot_store_get_a_clear_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    // 255 bytes is the limit of common filesystems: 85 three-byte characters fit, 86 do not.
    let fits = "文".repeat(85);
    assert_eq!(c.request("PUT", &format!("/{}", encode(&fits)), &[], b"x").await.status, 201);
    let too_long = "文".repeat(86);
    let resp = c.request("PUT", &format!("/{}", encode(&too_long)), &[], b"x").await;
    assert_eq!(resp.status, 414, "{}", resp.text());
    assert_eq!(c.request("MKCOL", &format!("/{}", encode(&too_long)), &[], b"").await.status, 414);
    // Names with a backslash or a control character are refused before they reach the disk.
    for bad in ["back\\slash.txt", "tab\there.txt", "new\nline.txt"] {
        let resp = c.request("PUT", &format!("/{}", encode(bad)), &[], b"x").await;
        assert_eq!(resp.status, 400, "{bad:?}");
    }
    let names: Vec<_> =
        std::fs::read_dir(dir.path()).expect("read_dir").map(|e| e.expect("entry").file_name()).collect();
    assert_eq!(names.len(), 1, "{names:?}");
    c.finish().await.expect("clean close");
}

//! Live and dead properties of the share: quota, etags and dates, PROPPATCH stored in extended
//! attributes (all or nothing, kept across PUT, COPY and MOVE), Windows' Win32 properties.

mod common;

use common::{connect, share, Client};

const NS: &str = "http://example.com/ryll-test/";

fn proppatch(set: &[(&str, &str)], remove: &[&str]) -> Vec<u8> {
    let mut body =
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propertyupdate xmlns:D=\"DAV:\" xmlns:t=\"{NS}\">");
    for (name, value) in set {
        body.push_str(&format!("<D:set><D:prop><t:{name}>{value}</t:{name}></D:prop></D:set>"));
    }
    for name in remove {
        body.push_str(&format!("<D:remove><D:prop><t:{name}/></D:prop></D:remove>"));
    }
    body.push_str("</D:propertyupdate>");
    body.into_bytes()
}

fn propfind(names: &[&str]) -> Vec<u8> {
    let mut body =
        format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propfind xmlns:D=\"DAV:\" xmlns:t=\"{NS}\"><D:prop>");
    for name in names {
        body.push_str(&format!("<{name}/>"));
    }
    body.push_str("</D:prop></D:propfind>");
    body.into_bytes()
}

/// The text content of the first element whose local name is `local` (any prefix), if it has one.
fn value_of(xml: &str, local: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(lt) = rest.find('<') {
        let tag = &rest[lt + 1..];
        let end = tag.find('>')?;
        let name = tag[..end].split_whitespace().next().unwrap_or("");
        let name_local = name.rsplit(':').next().unwrap_or(name);
        if !name.starts_with('/') && !name.ends_with('/') && name_local == local {
            let content = &tag[end + 1..];
            return Some(content[..content.find('<')?].to_owned());
        }
        rest = &tag[end..];
    }
    None
}

async fn props_of(c: &mut Client, path: &str, names: &[&str]) -> String {
    let resp = c.request("PROPFIND", path, &[("Depth", "0")], &propfind(names)).await;
    assert_eq!(resp.status, 207, "{}", resp.text());
    resp.text()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quota_reports_the_filesystem_space() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let xml = props_of(&mut c, "/", &["D:quota-available-bytes", "D:quota-used-bytes"]).await;
    let available: u64 = value_of(&xml, "quota-available-bytes").and_then(|v| v.parse().ok()).expect(&xml);
    let used: u64 = value_of(&xml, "quota-used-bytes").and_then(|v| v.parse().ok()).expect(&xml);
    let stat = rustix::fs::statvfs(dir.path()).expect("statvfs");
    let total = stat.f_blocks * stat.f_frsize;
    assert!(available > 0 && available <= total, "{available} of {total}");
    assert!(used > 0 && used <= total, "{used} of {total}");
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_and_dates_follow_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("f.txt"), b"one").expect("write");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let xml = props_of(&mut c, "/f.txt", &["D:getetag", "D:getlastmodified", "D:creationdate"]).await;
    let etag = value_of(&xml, "getetag").expect(&xml);
    let get = c.request("GET", "/f.txt", &[], b"").await;
    assert_eq!(get.header("etag").map(|e| e.trim_matches('"')), Some(etag.trim_matches('"')), "{xml}");
    assert!(value_of(&xml, "getlastmodified").is_some_and(|v| v.ends_with("GMT")), "{xml}");
    assert!(value_of(&xml, "creationdate").is_some_and(|v| v.len() >= 20 && v.contains('T')), "{xml}");

    // Same size, new content: a new etag (the file was replaced).
    assert_eq!(c.request("PUT", "/f.txt", &[], b"two").await.status, 204);
    let xml = props_of(&mut c, "/f.txt", &["D:getetag"]).await;
    assert_ne!(value_of(&xml, "getetag"), Some(etag));
    let stale = c.request("PUT", "/f.txt", &[("If-Match", &format!("\"{}\"", "0-0-0"))], b"three").await;
    assert_eq!(stale.status, 412);
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_properties_are_stored_and_travel_with_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("f.txt"), b"data").expect("write");
    std::fs::create_dir(dir.path().join("d")).expect("mkdir");
    let server = share(dir.path(), false);
    let mut c = connect(&server);

    for path in ["/f.txt", "/d/", "/"] {
        let resp = c.request("PROPPATCH", path, &[], &proppatch(&[("color", "blue"), ("size", "XL")], &[])).await;
        assert_eq!(resp.status, 207, "{}", resp.text());
        assert!(resp.text().contains("200 OK") && !resp.text().contains("403"), "{}", resp.text());
        let xml = props_of(&mut c, path, &["t:color", "t:size"]).await;
        assert_eq!(value_of(&xml, "color").as_deref(), Some("blue"), "{path}: {xml}");
        assert_eq!(value_of(&xml, "size").as_deref(), Some("XL"), "{path}: {xml}");
    }
    // Stored durably: a new server (same folder) sees them.
    let again = share(dir.path(), false);
    let mut c2 = connect(&again);
    let xml = props_of(&mut c2, "/f.txt", &["t:color"]).await;
    assert_eq!(value_of(&xml, "color").as_deref(), Some("blue"));
    let names = c2
        .request(
            "PROPFIND",
            "/f.txt",
            &[("Depth", "0")],
            b"<?xml version=\"1.0\"?><D:propfind xmlns:D=\"DAV:\"><D:propname/></D:propfind>",
        )
        .await;
    assert!(names.text().contains("color") && names.text().contains("size"), "{}", names.text());
    c2.finish().await.expect("clean close");

    // Kept when PUT replaces the file, copied by COPY, moved by MOVE.
    assert_eq!(c.request("PUT", "/f.txt", &[], b"new data").await.status, 204);
    let xml = props_of(&mut c, "/f.txt", &["t:color"]).await;
    assert_eq!(value_of(&xml, "color").as_deref(), Some("blue"), "after PUT: {xml}");
    assert_eq!(c.request("COPY", "/f.txt", &[("Destination", "/g.txt")], b"").await.status, 201);
    let xml = props_of(&mut c, "/g.txt", &["t:color"]).await;
    assert_eq!(value_of(&xml, "color").as_deref(), Some("blue"), "after COPY: {xml}");
    assert_eq!(c.request("MOVE", "/g.txt", &[("Destination", "/h.txt")], b"").await.status, 201);
    let xml = props_of(&mut c, "/h.txt", &["t:color"]).await;
    assert_eq!(value_of(&xml, "color").as_deref(), Some("blue"), "after MOVE: {xml}");

    // Removal.
    let resp = c.request("PROPPATCH", "/f.txt", &[], &proppatch(&[], &["color"])).await;
    assert!(resp.text().contains("200 OK"), "{}", resp.text());
    let xml = props_of(&mut c, "/f.txt", &["t:color", "t:size"]).await;
    assert_eq!(value_of(&xml, "color"), None, "{xml}");
    assert_eq!(value_of(&xml, "size").as_deref(), Some("XL"), "{xml}");
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proppatch_applies_all_changes_or_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("f.txt"), b"data").expect("write");
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    assert!(c.request("PROPPATCH", "/f.txt", &[], &proppatch(&[("keep", "old")], &[])).await.text().contains("200"));

    // A value bigger than most filesystems' attribute space (ext4 without ea_inode: one block).
    let huge = "x".repeat(60_000);
    let resp = c.request("PROPPATCH", "/f.txt", &[], &proppatch(&[("keep", "new"), ("huge", &huge)], &[])).await;
    assert_eq!(resp.status, 207);
    let xml = props_of(&mut c, "/f.txt", &["t:keep", "t:huge"]).await;
    if resp.text().contains("507") {
        assert!(resp.text().contains("424"), "the other change is reported as failed: {}", resp.text());
        assert_eq!(value_of(&xml, "keep").as_deref(), Some("old"), "the other change was rolled back: {xml}");
        assert_eq!(value_of(&xml, "huge"), None);
    } else {
        // This filesystem has room for it: both applied.
        assert_eq!(value_of(&xml, "keep").as_deref(), Some("new"), "{}", resp.text());
    }
    c.finish().await.expect("clean close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_properties_are_accepted_and_read_only_shares_refuse_proppatch() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("f.txt"), b"data").expect("write");
    let body = br#"<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>
<Z:Win32CreationTime>Sat, 21 Nov 2026 08:00:00 GMT</Z:Win32CreationTime>
<Z:Win32LastAccessTime>Sat, 21 Nov 2026 08:00:00 GMT</Z:Win32LastAccessTime>
<Z:Win32LastModifiedTime>Sat, 21 Nov 2026 08:00:00 GMT</Z:Win32LastModifiedTime>
<Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>
</D:prop></D:set></D:propertyupdate>"#;
    let server = share(dir.path(), false);
    let mut c = connect(&server);
    let resp = c.request("PROPPATCH", "/f.txt", &[("User-Agent", "Microsoft-WebDAV-MiniRedir/10.0")], body).await;
    assert_eq!(resp.status, 207);
    assert!(resp.text().contains("200 OK") && !resp.text().contains("40"), "{}", resp.text());
    c.finish().await.expect("clean close");

    let ro = share(dir.path(), true);
    let mut c = connect(&ro);
    assert_eq!(c.request("PROPPATCH", "/f.txt", &[], &proppatch(&[("a", "b")], &[])).await.status, 403);
    c.finish().await.expect("clean close");
}

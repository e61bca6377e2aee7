//! Path policy of a share: request paths and COPY/MOVE `Destination`s with dot segments, encoded slashes,
//! backslashes or control bytes are refused, as are tree operations on the root or onto an ancestor of the source;
//! and request paths decoded for display.

use dav_server::davpath::DavPath;
use http::header::HeaderValue;
use http::{Request, StatusCode};

use super::sharefs::{check_raw_path, percent_decode, MultiFs, NameError};

/// Refuse a request path or COPY/MOVE `Destination` with a dot segment, an encoded slash, a
/// backslash or a control byte (see [`check_raw_path`]) with 400, a name or path longer than the
/// host can store with 414, and a `Destination` that is not an http(s) URL or an absolute path
/// with 400.
pub(super) fn check_paths<B>(req: &Request<B>) -> Option<(StatusCode, &'static str)> {
    const TOO_LONG: &str = "A file name or path is longer than the host can store.\n";
    let refusal = |e: NameError, text: &'static str| match e {
        NameError::TooLong => (StatusCode::URI_TOO_LONG, TOO_LONG),
        _ => (StatusCode::BAD_REQUEST, text),
    };
    let path = req.uri().path();
    if path != "*" {
        if let Err(e) = check_raw_path(path) {
            return Some(refusal(e, "Invalid request path: no dot segments, backslashes or control characters.\n"));
        }
    }
    if matches!(req.method().as_str(), "COPY" | "MOVE") {
        const BAD_DEST: &str = "Invalid Destination header.\n";
        let value = req.headers().get("destination")?;
        let Some(dest) = value.to_str().ok().and_then(destination_raw_path) else {
            return Some((StatusCode::BAD_REQUEST, BAD_DEST));
        };
        if let Err(e) = check_raw_path(dest) {
            return Some(refusal(e, BAD_DEST));
        }
    }
    None
}

/// The raw (still encoded) path of a `Destination`: the value itself if it starts with `/`,
/// otherwise the path of an http or https URL.
fn destination_raw_path(text: &str) -> Option<&str> {
    if text.starts_with('/') {
        return Some(text);
    }
    let (scheme, rest) = text.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    Some(rest.find('/').map_or("/", |i| &rest[i..]))
}

/// Refuse DELETE or MOVE of the share root, and COPY or MOVE onto the root or onto an ancestor
/// of (or the same resource as) the source.
///
/// dav-server 0.11 deletes an existing destination before a COPY/MOVE with overwrite. With the
/// root as target that empties the whole share (the source included) and then removes the
/// share directory itself; `DELETE /` does the same. Both then panic in `MemLs::delete`
/// (`tree.rs` unwraps the root's missing parent), which poisons the lock table's mutex, so
/// every later lock operation on the share would panic too. An ancestor as destination deletes
/// the source before copying it. Apache mod_dav answers 403 for these; so do we.
///
/// A `Destination` we cannot parse gets 400; dav-server's parser (the `url` crate) is more
/// lenient and could resolve such a value to the root.
///
/// With named shares (`named`), each share's folder (`/NAME`) is a root too, and the virtual root above them
/// cannot be copied either.
pub(super) fn check_tree_operation<B>(req: &Request<B>, named: bool) -> Option<(StatusCode, &'static str)> {
    const ROOT_TEXT: &str = "The root of the shared folder cannot be deleted, moved or replaced.\n";
    let method = req.method().as_str();
    if !matches!(method, "DELETE" | "MOVE" | "COPY") {
        return None;
    }
    let is_root = |p: &[u8]| p.is_empty() || (named && MultiFs::is_top(p));
    // A target dav-server cannot parse is refused by dav-server itself.
    let source = normalized_path(req.uri().path())?;
    if (is_root(&source) && method != "COPY") || (named && source.is_empty()) {
        return Some((StatusCode::FORBIDDEN, ROOT_TEXT));
    }
    if method == "DELETE" {
        return None;
    }
    // A missing Destination is answered by dav-server (400).
    let value = req.headers().get("destination")?;
    let Some(dest) = destination_path(value) else {
        return Some((StatusCode::BAD_REQUEST, "Invalid Destination header.\n"));
    };
    let dest_contains_source = source == dest || source.starts_with(&[dest.as_slice(), b"/"].concat());
    if is_root(&dest) || dest_contains_source {
        return Some((StatusCode::FORBIDDEN, ROOT_TEXT));
    }
    None
}

/// The `Destination` header as a normalised path (see [`normalized_path`]). Like dav-server,
/// take a value starting with `/` as a path and otherwise use the path of the absolute URI.
/// The decoded, normalised path of a request's `Destination` header (no trailing slash), if it has a valid one.
pub(super) fn destination<B>(req: &Request<B>) -> Option<Vec<u8>> {
    destination_path(req.headers().get("destination")?)
}

fn destination_path(value: &HeaderValue) -> Option<Vec<u8>> {
    let text = value.to_str().ok()?;
    if text.starts_with('/') {
        normalized_path(text)
    } else {
        let uri = text.parse::<http::Uri>().ok()?;
        uri.scheme()?;
        normalized_path(uri.path())
    }
}

/// A request path percent-decoded and normalised the way dav-server does it (`.`/`..` and
/// repeated slashes resolved), without its trailing slash; the root is the empty string.
pub(super) fn normalized_path(raw: &str) -> Option<Vec<u8>> {
    let path = DavPath::new(raw).ok()?;
    let bytes = path.as_bytes();
    Some(bytes.strip_suffix(b"/").unwrap_or(bytes).to_vec())
}

/// Percent-decode a request path for display; invalid UTF-8 is replaced.
pub(super) fn display_path(raw: &str) -> String {
    String::from_utf8_lossy(&percent_decode(raw.as_bytes())).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_path_decodes_percent_escapes() {
        assert_eq!(display_path("/a%20b/%C3%A4.txt"), "/a b/ä.txt");
        assert_eq!(display_path("/100%"), "/100%");
        assert_eq!(display_path("/%zz%4"), "/%zz%4");
        assert_eq!(display_path("/%ff"), "/\u{fffd}");
    }

    fn tree_check(method: &str, path: &str, dest: Option<&str>) -> Option<StatusCode> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(d) = dest {
            req = req.header("destination", d);
        }
        let req = req.body(()).unwrap_or_default();
        check_tree_operation(&req, false).map(|(status, _)| status)
    }

    #[test]
    fn tree_operations_on_the_root_or_an_ancestor_are_refused() {
        let forbidden = Some(StatusCode::FORBIDDEN);
        assert_eq!(tree_check("DELETE", "/", None), forbidden);
        assert_eq!(tree_check("DELETE", "/a/%2e%2e/", None), forbidden);
        assert_eq!(tree_check("DELETE", "/a/", None), None);
        assert_eq!(tree_check("MOVE", "/", Some("/x/")), forbidden);
        assert_eq!(tree_check("COPY", "/", Some("/x/")), None);
        assert_eq!(tree_check("COPY", "/a/b", Some("http://h:8080")), forbidden);
        assert_eq!(tree_check("COPY", "/a/b", Some("http://h/a")), forbidden);
        assert_eq!(tree_check("COPY", "/a/b", Some("/a/b/")), forbidden);
        assert_eq!(tree_check("COPY", "/a/b", Some("/ab")), None);
        assert_eq!(tree_check("MOVE", "/a/b", Some("http://h/a/c?x")), None);
        assert_eq!(tree_check("MOVE", "/a/b", Some("a/c")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(tree_check("MOVE", "/a/b", Some("/../")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(tree_check("MOVE", "/a/b", None), None);
        assert_eq!(tree_check("GET", "/", None), None);
    }
}

//! Method policy of a share: which HTTP methods a read-only and a writable share serve, which change the share,
//! which are known but unsupported, dav-server's own method filter, and the `Allow` header of an OPTIONS answer.

use dav_server::body::Body as DavBody;
use dav_server::{DavMethod, DavMethodSet};
use http::header::{HeaderValue, ALLOW};
use http::Response;

/// Methods a read-only share serves, in `Allow` order.
pub(super) const READ_METHODS: &[&str] = &["OPTIONS", "GET", "HEAD", "PROPFIND"];
/// Methods a writable share serves, in `Allow` order.
pub(super) const ALL_METHODS: &[&str] = &[
    "OPTIONS",
    "GET",
    "HEAD",
    "PROPFIND",
    "PUT",
    "PATCH",
    "DELETE",
    "MKCOL",
    "COPY",
    "MOVE",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
];
/// Methods that change the share (or, for LOCK on an unmapped URL, create a file).
pub const WRITE_METHODS: &[&str] = &["PUT", "PATCH", "DELETE", "MKCOL", "COPY", "MOVE", "PROPPATCH", "LOCK", "UNLOCK"];
/// Methods we recognise but do not implement: 405 rather than 501.
pub(super) const KNOWN_UNSUPPORTED: &[&str] =
    &["POST", "TRACE", "CONNECT", "REPORT", "MKCALENDAR", "MKADDRESSBOOK", "SEARCH"];

/// Whether `method` (in any case) changes the share, as [`WRITE_METHODS`] lists them.
pub fn is_write_method(method: &str) -> bool {
    WRITE_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method))
}

/// The methods a share serves, in `Allow` order: [`READ_METHODS`] when it is read-only, else [`ALL_METHODS`].
pub(super) fn allowed_methods(read_only: bool) -> &'static [&'static str] {
    if read_only {
        READ_METHODS
    } else {
        ALL_METHODS
    }
}

/// dav-server's own method filter: the read methods for a read-only share (defence in depth;
/// the wrapper refuses writes first), otherwise everything we serve.
pub(super) fn dav_methods(read_only: bool) -> DavMethodSet {
    let mut set = DavMethodSet::none();
    let read = [DavMethod::Options, DavMethod::Get, DavMethod::Head, DavMethod::PropFind];
    let write = [
        DavMethod::Put,
        DavMethod::Patch,
        DavMethod::Delete,
        DavMethod::MkCol,
        DavMethod::Copy,
        DavMethod::Move,
        DavMethod::PropPatch,
        DavMethod::Lock,
        DavMethod::Unlock,
    ];
    for m in read {
        set.add(m);
    }
    if !read_only {
        for m in write {
            set.add(m);
        }
    }
    set
}

/// Keep only the share's methods in an OPTIONS `Allow`; add GET and HEAD for collections, which
/// dav-server leaves out even though its autoindex serves them.
pub(super) fn fix_allow_header(response: &mut Response<DavBody>, allowed: &[&str]) {
    let Some(value) = response.headers().get(ALLOW).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let listed: Vec<&str> = value.split(',').map(str::trim).collect();
    let is_collection = listed.contains(&"PROPFIND") && !listed.contains(&"GET");
    let ordered: Vec<&'static str> = ALL_METHODS
        .iter()
        .copied()
        .filter(|m| allowed.contains(m))
        .filter(|m| listed.contains(m) || (is_collection && matches!(*m, "GET" | "HEAD")))
        .collect();
    match HeaderValue::from_str(&ordered.join(", ")) {
        Ok(v) => {
            response.headers_mut().insert(ALLOW, v);
        }
        Err(_) => {
            response.headers_mut().remove(ALLOW);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_header_is_filtered_for_read_only_and_collections_get_get() {
        let mut r = Response::new(DavBody::empty());
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("OPTIONS,PROPFIND,COPY,LOCK,UNLOCK"));
        fix_allow_header(&mut r, READ_METHODS);
        assert_eq!(r.headers()[ALLOW], "OPTIONS, GET, HEAD, PROPFIND");

        let mut r = Response::new(DavBody::empty());
        r.headers_mut().insert(ALLOW, HeaderValue::from_static("HEAD,GET,PATCH,PUT,OPTIONS,PROPFIND,MOVE,DELETE"));
        fix_allow_header(&mut r, ALL_METHODS);
        assert_eq!(r.headers()[ALLOW], "OPTIONS, GET, HEAD, PROPFIND, PUT, PATCH, DELETE, MOVE");
    }

    #[test]
    fn read_only_method_set_is_webdav_ro() {
        let ro = dav_methods(true);
        assert!(ro.contains(DavMethod::PropFind) && ro.contains(DavMethod::Get));
        assert!(!ro.contains(DavMethod::Put) && !ro.contains(DavMethod::Lock));
        let rw = dav_methods(false);
        assert!(rw.contains(DavMethod::Lock) && !rw.contains(DavMethod::Report));
    }
}

//! Dead properties (PROPPATCH) stored in user extended attributes, and the share's quota.
//!
//! A property `{namespace}name` lives in the attribute `user.ryll.<namespace>#<name>` of the
//! file or directory (or `user.ryll.h-<sha1>` when that name would be over the 255-byte limit);
//! its value is `namespace NUL name NUL prefix NUL xml`, so a listing needs nothing but the
//! attributes. The attributes travel with the file: MOVE keeps them, COPY and a PUT that replaces
//! the file copy them.
//!
//! Where the filesystem has no user extended attributes (some network and FUSE filesystems,
//! tmpfs before Linux 6.6, ext4 mounted without `user_xattr`), PROPPATCH answers each property
//! with 403 and one warning says why; a property the attribute store has no room for gets 507.
//! A PROPPATCH applies all its changes or none.

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};

use dav_server::fs::{DavProp, FsError, FsResult};
use http::StatusCode;
use rustix::fs::XattrFlags;
use rustix::io::Errno;
use sha1::{Digest, Sha1};

/// Prefix of every attribute we store.
pub const XATTR_PREFIX: &str = "user.ryll.";
/// Longest attribute name Linux accepts.
const MAX_XATTR_NAME: usize = 255;
/// Largest attribute value Linux accepts (`XATTR_SIZE_MAX`).
const MAX_VALUE: usize = 64 * 1024;
/// Largest attribute name list Linux returns (`XATTR_LIST_MAX`).
const MAX_LIST: usize = 64 * 1024;
/// Most properties listed for one resource.
const MAX_PROPS: usize = 1024;

/// Whether we already explained that the share's filesystem cannot store properties.
static UNSUPPORTED_LOGGED: AtomicBool = AtomicBool::new(false);

/// The attribute name for a property.
pub fn key(namespace: Option<&str>, name: &str) -> String {
    let readable = format!("{XATTR_PREFIX}{}#{name}", namespace.unwrap_or(""));
    if readable.len() <= MAX_XATTR_NAME && !readable.contains('\0') {
        return readable;
    }
    let mut hash = Sha1::new();
    hash.update(namespace.unwrap_or("").as_bytes());
    hash.update(b"#");
    hash.update(name.as_bytes());
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    format!("{XATTR_PREFIX}h-{hex}")
}

/// The stored value of a property.
fn encode(prop: &DavProp) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(prop.namespace.as_deref().unwrap_or("").as_bytes());
    out.push(0);
    out.extend_from_slice(prop.name.as_bytes());
    out.push(0);
    out.extend_from_slice(prop.prefix.as_deref().unwrap_or("").as_bytes());
    out.push(0);
    out.extend_from_slice(prop.xml.as_deref().unwrap_or_default());
    out
}

/// A property from its stored value (`None` if it is not one of ours).
fn decode(value: &[u8], with_xml: bool) -> Option<DavProp> {
    let mut parts = value.splitn(4, |&b| b == 0);
    let namespace = std::str::from_utf8(parts.next()?).ok()?;
    let name = std::str::from_utf8(parts.next()?).ok()?;
    let prefix = std::str::from_utf8(parts.next()?).ok()?;
    let xml = parts.next()?;
    if name.is_empty() {
        return None;
    }
    Some(DavProp {
        name: name.to_owned(),
        prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
        namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
        xml: with_xml.then(|| xml.to_vec()),
    })
}

/// The same property without its value (how PROPPATCH reports results).
fn bare(prop: &DavProp) -> DavProp {
    DavProp { name: prop.name.clone(), prefix: prop.prefix.clone(), namespace: prop.namespace.clone(), xml: None }
}

/// One attribute's value, `None` if it does not exist.
fn read_attr<Fd: AsFd>(fd: Fd, key: &str) -> Result<Option<Vec<u8>>, Errno> {
    let size = match rustix::fs::fgetxattr_query(fd.as_fd(), key) {
        Ok(size) => size,
        Err(Errno::NODATA) => return Ok(None),
        Err(e) => return Err(e),
    };
    if size > MAX_VALUE {
        return Err(Errno::TOOBIG);
    }
    let mut buf = vec![0u8; size.max(1)];
    match rustix::fs::fgetxattr(fd.as_fd(), key, &mut buf[..]) {
        Ok(n) => {
            buf.truncate(n);
            Ok(Some(buf))
        }
        Err(Errno::NODATA) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The names of the user attributes of a file (all of them if `ours_only` is false).
fn list_attrs<Fd: AsFd>(fd: Fd, ours_only: bool) -> Result<Vec<String>, Errno> {
    let size = rustix::fs::flistxattr_query(fd.as_fd())?;
    if size == 0 {
        return Ok(Vec::new());
    }
    let mut buf = vec![0u8; size.min(MAX_LIST)];
    let n = rustix::fs::flistxattr(fd.as_fd(), &mut buf[..])?;
    buf.truncate(n);
    let prefix = if ours_only { XATTR_PREFIX } else { "user." };
    Ok(buf
        .split(|&b| b == 0)
        .filter_map(|name| std::str::from_utf8(name).ok())
        .filter(|name| name.starts_with(prefix))
        .take(MAX_PROPS)
        .map(str::to_owned)
        .collect())
}

fn note_unsupported() {
    if !UNSUPPORTED_LOGGED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the shared folder's filesystem does not support user extended attributes; \
             WebDAV properties (PROPPATCH) cannot be stored and are refused with 403"
        );
    }
}

/// The PROPPATCH status for an attribute error.
fn status_for(e: Errno) -> StatusCode {
    match e {
        Errno::OPNOTSUPP | Errno::NOSYS => {
            note_unsupported();
            StatusCode::FORBIDDEN
        }
        Errno::NOSPC | Errno::TOOBIG | Errno::RANGE | Errno::DQUOT => StatusCode::INSUFFICIENT_STORAGE,
        Errno::ACCESS | Errno::PERM | Errno::ROFS => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn fs_error_for(e: Errno) -> FsError {
    match e {
        Errno::NODATA => FsError::NotFound,
        Errno::OPNOTSUPP | Errno::NOSYS => FsError::NotImplemented,
        Errno::ACCESS | Errno::PERM => FsError::Forbidden,
        _ => FsError::GeneralFailure,
    }
}

/// Apply a PROPPATCH to the open file or directory `fd`: all changes or none.
pub fn patch<Fd: AsFd>(fd: Fd, patch: Vec<(bool, DavProp)>) -> Vec<(StatusCode, DavProp)> {
    let fd = fd.as_fd();
    let mut results = Vec::with_capacity(patch.len());
    let mut undo: Vec<(String, Option<Vec<u8>>)> = Vec::new();
    let mut failed = false;
    for (set, prop) in patch {
        if failed {
            results.push((StatusCode::FAILED_DEPENDENCY, bare(&prop)));
            continue;
        }
        let key = key(prop.namespace.as_deref(), &prop.name);
        let applied = read_attr(fd, &key).and_then(|old| {
            if set {
                let value = encode(&prop);
                if value.len() > MAX_VALUE {
                    return Err(Errno::TOOBIG);
                }
                rustix::fs::fsetxattr(fd, key.as_str(), &value, XattrFlags::empty())?;
            } else {
                match rustix::fs::fremovexattr(fd, key.as_str()) {
                    Ok(()) | Err(Errno::NODATA) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(old)
        });
        match applied {
            Ok(old) => {
                undo.push((key, old));
                results.push((StatusCode::OK, bare(&prop)));
            }
            Err(e) => {
                tracing::debug!("cannot store the property {}: {e}", prop.name);
                failed = true;
                results.push((status_for(e), bare(&prop)));
            }
        }
    }
    if failed {
        for (key, old) in undo.into_iter().rev() {
            let restored = match old {
                Some(value) => rustix::fs::fsetxattr(fd, key.as_str(), &value, XattrFlags::empty()),
                None => rustix::fs::fremovexattr(fd, key.as_str()).or_else(|e| match e {
                    Errno::NODATA => Ok(()),
                    e => Err(e),
                }),
            };
            if let Err(e) = restored {
                tracing::warn!("cannot roll back the property attribute {key}: {e}");
            }
        }
        for (status, _) in &mut results {
            if *status == StatusCode::OK {
                *status = StatusCode::FAILED_DEPENDENCY;
            }
        }
    }
    results
}

/// All our properties of `fd` (with their XML if `with_xml`).
pub fn get_all<Fd: AsFd>(fd: Fd, with_xml: bool) -> FsResult<Vec<DavProp>> {
    let fd = fd.as_fd();
    let names = match list_attrs(fd, true) {
        Ok(names) => names,
        Err(Errno::OPNOTSUPP) => return Ok(Vec::new()),
        Err(e) => return Err(fs_error_for(e)),
    };
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Ok(Some(value)) = read_attr(fd, &name) {
            if let Some(prop) = decode(&value, with_xml) {
                out.push(prop);
            }
        }
    }
    Ok(out)
}

/// The XML of one property of `fd`.
pub fn get_one<Fd: AsFd>(fd: Fd, prop: &DavProp) -> FsResult<Vec<u8>> {
    let key = key(prop.namespace.as_deref(), &prop.name);
    let value = read_attr(fd, &key).map_err(fs_error_for)?.ok_or(FsError::NotFound)?;
    decode(&value, true).and_then(|p| p.xml).ok_or(FsError::NotFound)
}

/// Copy every `user.` attribute (our properties and the user's own tags) from `from` to `to`;
/// best effort: a filesystem without attributes copies nothing.
pub fn copy_all<A: AsFd, B: AsFd>(from: A, to: B) {
    let names = match list_attrs(from.as_fd(), false) {
        Ok(names) => names,
        Err(Errno::OPNOTSUPP) => return,
        Err(e) => {
            tracing::debug!("cannot list extended attributes to copy: {e}");
            return;
        }
    };
    for name in names {
        let copied = read_attr(from.as_fd(), &name).and_then(|value| match value {
            Some(value) => rustix::fs::fsetxattr(to.as_fd(), name.as_str(), &value, XattrFlags::empty()),
            None => Ok(()),
        });
        if let Err(e) = copied {
            tracing::debug!("cannot copy the extended attribute {name}: {e}");
        }
    }
}

/// Used and total bytes of the filesystem holding `fd` (for quota-used-bytes and
/// quota-available-bytes; dav-server derives "available" as total minus used).
pub fn quota<Fd: AsFd>(fd: Fd) -> FsResult<(u64, Option<u64>)> {
    let stat = rustix::fs::fstatvfs(fd).map_err(fs_error_for)?;
    let unit = if stat.f_frsize > 0 { stat.f_frsize } else { stat.f_bsize };
    let used = stat.f_blocks.saturating_sub(stat.f_bfree).saturating_mul(unit);
    let available = stat.f_bavail.saturating_mul(unit);
    Ok((used, Some(used.saturating_add(available))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prop(ns: Option<&str>, name: &str, xml: &str) -> DavProp {
        DavProp {
            name: name.to_owned(),
            prefix: Some("x".to_owned()),
            namespace: ns.map(str::to_owned),
            xml: Some(xml.as_bytes().to_vec()),
        }
    }

    #[test]
    fn keys_are_readable_or_hashed_when_too_long() {
        assert_eq!(key(Some("DAV:"), "displayname"), "user.ryll.DAV:#displayname");
        assert_eq!(key(None, "plain"), "user.ryll.#plain");
        let long = "n".repeat(300);
        let hashed = key(Some("urn:x"), &long);
        assert!(hashed.starts_with("user.ryll.h-") && hashed.len() == "user.ryll.h-".len() + 40, "{hashed}");
        assert_ne!(key(Some("urn:a"), &long), key(Some("urn:b"), &long));
    }

    #[test]
    fn values_round_trip() {
        let p = prop(Some("http://example.com/neon/litmus/"), "prop0", "<x:prop0 xmlns:x=\"u\">v</x:prop0>");
        let back = decode(&encode(&p), true).expect("decode");
        assert_eq!((back.name, back.namespace, back.prefix), (p.name.clone(), p.namespace.clone(), p.prefix));
        assert_eq!(back.xml, p.xml);
        let no_ns = decode(&encode(&prop(None, "a", "")), false).expect("decode");
        assert_eq!((no_ns.namespace, no_ns.xml), (None, None));
        assert!(decode(b"no separators", true).is_none());
        assert!(decode(b"ns\0\0\0xml", true).is_none());
    }
}

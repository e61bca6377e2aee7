//! `spice://` and `spice+tls://` URIs and `--direct HOST:PORT[:TLS_PORT]` (HOST:PORT itself is in `addr`).
//!
//! Accepted URIs (as spice-gtk's `spice_uri_parse` accepts them, minus `spice+unix://`):
//! - `spice://HOST:PORT` — the plain port;
//! - `spice+tls://HOST:TLS_PORT` — the TLS port;
//! - `spice://HOST?port=P&tls-port=T&password=SECRET` — any mix of the query keys `port`, `tls-port` and
//!   `password`, with percent-decoding (`%40` is `@`; `+` stays a plus sign).
//!
//! IPv6 literals go in brackets: `spice://[2001:db8::1]:5900`. A port given twice is an error, as is an unknown
//! query key, so a typo never silently connects somewhere else.

use super::addr::{check_host, parse_port};
use super::password::Password;
use super::percent::{decode_utf8, has_malformed_escape};
use super::target::ConnectTarget;
use std::net::Ipv6Addr;

/// The longest URI or `--direct` value accepted.
pub const MAX_URI_LEN: usize = 8 * 1024;

/// Why a URI or a `--direct` value cannot be used. The text names the problem and shows the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Not `spice://` or `spice+tls://`.
    #[error("unsupported URI scheme {0:?}: use spice://HOST:PORT or spice+tls://HOST:TLS_PORT")]
    Scheme(String),
    /// Something in the URI is malformed.
    #[error("invalid SPICE URI: {0}")]
    Invalid(String),
    /// `--direct` is malformed.
    #[error("--direct {value}: {reason}; expected HOST:PORT, HOST:PORT:TLS_PORT or HOST::TLS_PORT")]
    Direct {
        /// What was given (never holds a password: `--direct` has none).
        value: String,
        /// What is wrong.
        reason: String,
    },
}

/// Whether `s` looks like a URI (has a scheme) rather than a file path.
pub fn looks_like_uri(s: &str) -> bool {
    match s.split_once("://") {
        Some((scheme, _)) => {
            !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// Splits `[v6]:rest` or `host:rest` into the host and what follows the first separating colon (if any).
fn split_host(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = s.strip_prefix('[') {
        let (host, rest) = inner.split_once(']').ok_or("an IPv6 address opened with [ is not closed with ]")?;
        if host.parse::<Ipv6Addr>().is_err() {
            return Err(format!("[{host}] is not an IPv6 address"));
        }
        match rest {
            "" => Ok((host, None)),
            _ => match rest.strip_prefix(':') {
                Some(ports) => Ok((host, Some(ports))),
                None => Err(format!("unexpected {rest:?} after [{host}]")),
            },
        }
    } else {
        match s.split_once(':') {
            Some((host, ports)) => Ok((host, Some(ports))),
            None => Ok((s, None)),
        }
    }
}

/// Parses `--direct`: `HOST:PORT`, `HOST:PORT:TLS_PORT`, `HOST::TLS_PORT` or `HOST:PORT:` (IPv6 in brackets).
pub fn parse_direct(value: &str) -> Result<ConnectTarget, UriError> {
    let err = |reason: String| UriError::Direct { value: value.chars().take(200).collect(), reason };
    if value.len() > MAX_URI_LEN {
        return Err(err("too long".into()));
    }
    let (host, ports) = split_host(value).map_err(err)?;
    check_host(host).map_err(err)?;
    let ports = ports.ok_or_else(|| err("no port".into()))?;
    let (plain, tls) = match ports.split_once(':') {
        Some((p, t)) => (p, t),
        None => (ports, ""),
    };
    let port = match plain {
        "" => None,
        p => Some(parse_port(p).ok_or_else(|| err(format!("{p:?} is not a port number (1-65535)")))?),
    };
    let tls_port = match tls {
        "" => None,
        t => Some(parse_port(t).ok_or_else(|| err(format!("{t:?} is not a port number (1-65535)")))?),
    };
    if port.is_none() && tls_port.is_none() {
        return Err(err("no port".into()));
    }
    Ok(ConnectTarget { host: host.to_string(), port, tls_port, ..ConnectTarget::default() })
}

/// Parses a `spice://` or `spice+tls://` URI.
pub fn parse_uri(uri: &str) -> Result<ConnectTarget, UriError> {
    let invalid = |s: String| UriError::Invalid(s);
    if uri.len() > MAX_URI_LEN {
        return Err(invalid("longer than 8 KiB".into()));
    }
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| invalid("no scheme (spice://...)".into()))?;
    let tls_scheme = match scheme.to_ascii_lowercase().as_str() {
        "spice" => false,
        "spice+tls" => true,
        _ => return Err(UriError::Scheme(scheme.chars().take(40).collect())),
    };
    let (rest, fragment) = rest.split_once('#').map_or((rest, None), |(r, f)| (r, Some(f)));
    if fragment.is_some() {
        return Err(invalid("a #fragment is not allowed".into()));
    }
    let (rest, query) = rest.split_once('?').map_or((rest, None), |(r, q)| (r, Some(q)));
    let authority = match rest.split_once('/') {
        Some((a, "")) => a,
        Some((_, path)) => return Err(invalid(format!("unexpected path /{path}"))),
        None => rest,
    };
    if authority.contains('@') {
        return Err(invalid(
            "user names are not supported; give the password with ?password= or --password-file".into(),
        ));
    }
    let (host, port_text) = split_host(authority).map_err(invalid)?;
    let host = decode(host, "the host")?;
    check_host(&host).map_err(invalid)?;
    let mut target = ConnectTarget { host, ..ConnectTarget::default() };
    match port_text {
        None | Some("") => {}
        Some(p) => {
            let port = parse_port(p).ok_or_else(|| invalid(format!("{p:?} is not a port number (1-65535)")))?;
            if tls_scheme {
                target.tls_port = Some(port);
            } else {
                target.port = Some(port);
            }
        }
    }
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key, "a query key")?;
        let value = decode(value, "a query value")?;
        match key.as_str() {
            "port" | "tls-port" => {
                let port = parse_port(&value)
                    .ok_or_else(|| invalid(format!("{key}={value:?} is not a port number (1-65535)")))?;
                let slot = if key == "port" { &mut target.port } else { &mut target.tls_port };
                if slot.is_some() {
                    return Err(invalid(format!("the {key} is given twice")));
                }
                *slot = Some(port);
            }
            "password" => {
                if target.password.is_some() {
                    return Err(invalid("the password is given twice".into()));
                }
                target.password = Some(Password::new(value));
            }
            other => {
                return Err(invalid(format!("unknown query key {:?} (known: port, tls-port, password)", short(other))))
            }
        }
    }
    if target.port.is_none() && target.tls_port.is_none() {
        return Err(invalid("no port: use spice://HOST:PORT, spice+tls://HOST:TLS_PORT or ?port=/?tls-port=".into()));
    }
    Ok(target)
}

fn short(s: &str) -> String {
    s.chars().take(40).collect()
}

fn decode(s: &str, what: &str) -> Result<String, UriError> {
    // Reject malformed escapes rather than passing them through as the decoder would.
    if has_malformed_escape(s) {
        return Err(UriError::Invalid(format!("{what} has a malformed %-escape")));
    }
    decode_utf8(s).ok_or_else(|| UriError::Invalid(format!("{what} is not UTF-8 after %-decoding")))
}

/// A URI safe to log: the `password` query value replaced by `<redacted>`.
pub fn redact(uri: &str) -> String {
    let Some((base, query)) = uri.split_once('?') else { return uri.to_string() };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=<redacted>"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{base}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(host: &str, port: Option<u16>, tls_port: Option<u16>) -> ConnectTarget {
        ConnectTarget { host: host.into(), port, tls_port, ..ConnectTarget::default() }
    }

    #[test]
    fn direct_forms() {
        assert_eq!(parse_direct("vmhost:5900").unwrap(), t("vmhost", Some(5900), None));
        assert_eq!(parse_direct("vmhost:5900:5901").unwrap(), t("vmhost", Some(5900), Some(5901)));
        assert_eq!(parse_direct("vmhost::5901").unwrap(), t("vmhost", None, Some(5901)));
        assert_eq!(parse_direct("vmhost:5900:").unwrap(), t("vmhost", Some(5900), None));
        assert_eq!(parse_direct("[::1]:5900:5901").unwrap(), t("::1", Some(5900), Some(5901)));
        assert_eq!(parse_direct("[2001:db8::7]::5901").unwrap(), t("2001:db8::7", None, Some(5901)));
    }

    #[test]
    fn direct_errors() {
        for bad in ["nohost", ":5900", "h:", "h::", "h:0", "h:70000", "h:59x0", "h:1:2:3", "[::1", "[zz]:1", "[::1]x"] {
            let e = parse_direct(bad).unwrap_err();
            assert!(matches!(e, UriError::Direct { .. }), "{bad}: {e}");
            assert!(e.to_string().contains("expected HOST:PORT"), "{e}");
        }
        assert!(parse_direct("h:1:2:3").unwrap_err().to_string().contains("\"2:3\""));
    }

    #[test]
    fn uri_forms() {
        assert_eq!(parse_uri("spice://vmhost:5900").unwrap(), t("vmhost", Some(5900), None));
        assert_eq!(parse_uri("spice://vmhost:5900/").unwrap(), t("vmhost", Some(5900), None));
        assert_eq!(parse_uri("spice+tls://vmhost:5901").unwrap(), t("vmhost", None, Some(5901)));
        assert_eq!(parse_uri("SPICE+TLS://vmhost:5901").unwrap(), t("vmhost", None, Some(5901)));
        assert_eq!(parse_uri("spice://[2001:db8::1]:5900").unwrap(), t("2001:db8::1", Some(5900), None));
        assert_eq!(parse_uri("spice://[::1]?tls-port=5901").unwrap(), t("::1", None, Some(5901)));
        let full = parse_uri("spice://vmhost?port=5900&tls-port=5901&password=a%40b%26c+d").unwrap();
        assert_eq!((full.port, full.tls_port), (Some(5900), Some(5901)));
        assert_eq!(full.password.unwrap().expose(), b"a@b&c+d");
        let both = parse_uri("spice://vmhost:5900/?tls-port=5901").unwrap();
        assert_eq!((both.port, both.tls_port), (Some(5900), Some(5901)));
        assert_eq!(parse_uri("spice://v%6Dhost:1").unwrap().host, "vmhost");
    }

    #[test]
    fn uri_errors() {
        let cases = [
            ("vnc://h:5900", "unsupported URI scheme"),
            ("spice://h", "no port"),
            ("spice://:5900", "host is empty"),
            ("spice://h:0", "not a port number"),
            ("spice://h:5900?port=5901", "port is given twice"),
            ("spice://h?port=1&port=2", "port is given twice"),
            ("spice://h:1?password=a&password=b", "password is given twice"),
            ("spice://h:1?tls_port=2", "unknown query key \"tls_port\""),
            ("spice://h:1/path", "unexpected path"),
            ("spice://user@h:1", "user names are not supported"),
            ("spice://h:1?password=%zz", "malformed %-escape"),
            ("spice://h:1?password=%ff", "not UTF-8"),
            ("spice://h%20x:1", "spaces or control characters"),
            ("spice://[::1:5900", "not closed"),
            ("spice://h:1#frag", "fragment"),
        ];
        for (uri, want) in cases {
            let e = parse_uri(uri).unwrap_err().to_string();
            assert!(e.contains(want), "{uri}: {e}");
        }
        assert!(parse_uri(&format!("spice://{}:1", "a".repeat(MAX_URI_LEN))).is_err());
    }

    #[test]
    fn error_messages_never_echo_the_password() {
        let e = parse_uri("spice://h:1?password=hunter2&bogus=1").unwrap_err().to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert_eq!(redact("spice://h:1?port=2&password=hunter2"), "spice://h:1?port=2&password=<redacted>");
        assert_eq!(redact("spice://h:1"), "spice://h:1");
    }

    #[test]
    fn helpers() {
        assert!(looks_like_uri("spice://h:1") && looks_like_uri("spice+tls://h:1"));
        assert!(!looks_like_uri("./file.vv") && !looks_like_uri("C:\\x.vv") && !looks_like_uri("://x"));
    }
}

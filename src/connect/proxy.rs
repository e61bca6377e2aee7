//! HTTP CONNECT proxies: `http://[user:password@]host[:port]` (the `.vv` file's `proxy=` key or `SPICE_PROXY`).
//!
//! Each channel opens its own tunnel: `CONNECT host:port HTTP/1.1`, with `Proxy-Authorization: Basic ...` when the
//! URL has credentials. Any 2xx answer opens the tunnel; anything else is reported with the proxy's status line
//! (never the credentials). The answer's header block is read byte by byte, so nothing past it is consumed, and is
//! bounded to [`MAX_REPLY_HEAD`].

use super::addr::{check_host, format_addr, parse_port};
use super::error::ConnectError;
use super::password::Password;
use super::percent::decode_utf8;
use super::tcp::{connect_tcp, CONNECT_TIMEOUT};
use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The port used when the proxy URL has none (spice-gtk's default, Squid's and tinyproxy's usual port).
pub const DEFAULT_PROXY_PORT: u16 = 3128;
/// The longest proxy reply header block accepted.
pub const MAX_REPLY_HEAD: usize = 16 * 1024;

/// An HTTP proxy. `Debug` and `Display` never show the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    /// Proxy host (IPv6 without brackets).
    pub host: String,
    /// Proxy port.
    pub port: u16,
    /// User name for Basic authentication.
    pub user: Option<String>,
    /// Password for Basic authentication.
    pub password: Option<Password>,
}

/// Why a proxy URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid proxy URL {shown}: {reason}; expected http://[user:password@]host[:port]")]
pub struct ProxyUrlError {
    /// The URL with any credentials removed.
    pub shown: String,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &(self.user.is_some() || self.password.is_some()))
            .finish()
    }
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}", format_addr(&self.host, self.port))?;
        if self.user.is_some() || self.password.is_some() {
            f.write_str(" (with credentials)")?;
        }
        Ok(())
    }
}

impl ProxyUrl {
    /// Parses `http://[user:password@]host[:port][/]`; a missing scheme means `http://`.
    pub fn parse(url: &str) -> Result<ProxyUrl, ProxyUrlError> {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s, r),
            None => ("http", url),
        };
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, rest),
        };
        let shown = format!("{scheme}://{}", hostport.chars().take(200).collect::<String>());
        let err = |reason: &str| ProxyUrlError { shown: shown.clone(), reason: reason.into() };
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(err("only http:// proxies (HTTP CONNECT) are supported"));
        }
        let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
        if hostport.contains(['/', '?', '#']) {
            return Err(err("a proxy URL has no path or query"));
        }
        let (host, port) = if let Some(inner) = hostport.strip_prefix('[') {
            let (h, tail) = inner.split_once(']').ok_or_else(|| err("an IPv6 address opened with [ is not closed"))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(err("the bracketed host is not an IPv6 address"));
            }
            match tail {
                "" => (h, None),
                t => (h, Some(t.strip_prefix(':').ok_or_else(|| err("unexpected text after ]"))?)),
            }
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        check_host(host).map_err(|r| err(&r))?;
        let port = match port {
            None => DEFAULT_PROXY_PORT,
            Some(p) => parse_port(p).ok_or_else(|| err("the port is not a number from 1 to 65535"))?,
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (u, p) = info.split_once(':').unwrap_or((info, ""));
                let decode =
                    |s: &str| decode_utf8(s).ok_or_else(|| err("the credentials are not UTF-8 after %-decoding"));
                (Some(decode(u)?), Some(Password::new(decode(p)?)))
            }
        };
        Ok(ProxyUrl { host: host.to_string(), port, user, password })
    }

    /// HOST:PORT of the proxy.
    pub fn addr(&self) -> String {
        format_addr(&self.host, self.port)
    }

    /// The CONNECT request for `target` (HOST:PORT, IPv6 in brackets).
    pub fn connect_request(&self, target: &str) -> Vec<u8> {
        let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
        if self.user.is_some() || self.password.is_some() {
            let mut creds = self.user.clone().unwrap_or_default().into_bytes();
            creds.push(b':');
            creds.extend_from_slice(self.password.as_ref().map(|p| p.expose()).unwrap_or_default());
            let encoded = base64::engine::general_purpose::STANDARD.encode(&creds);
            req.push_str(&format!("Proxy-Authorization: Basic {encoded}\r\n"));
        }
        req.push_str("\r\n");
        req.into_bytes()
    }
}

/// The proxy's answer to CONNECT: status code and status line (printable ASCII, at most 200 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectReply {
    /// The status code.
    pub status: u16,
    /// The status line, e.g. `HTTP/1.1 407 Proxy Authentication Required`.
    pub status_line: String,
}

/// Parses the reply header block (everything up to and including the blank line).
pub fn parse_connect_reply(head: &[u8]) -> Result<ConnectReply, String> {
    let end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    let first = head.get(..end).unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    let line: String =
        first.iter().map(|b| if b.is_ascii_graphic() || *b == b' ' { *b as char } else { '?' }).take(200).collect();
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(format!("the reply does not start with HTTP/1.x ({line:?})"));
    }
    let code = parts.next().unwrap_or_default();
    let status = match code.parse::<u16>() {
        Ok(s) if code.len() == 3 && (100..=599).contains(&s) => s,
        _ => return Err(format!("no status code in {line:?}")),
    };
    Ok(ConnectReply { status, status_line: line })
}

/// What to tell the user for a refused CONNECT.
pub fn refusal_hint(status: u16) -> &'static str {
    match status {
        // 407 is the standard answer; some proxies (tinyproxy 1.11) answer CONNECT with 401.
        401 | 407 => {
            "the proxy wants credentials, or refused the ones given: put them in the proxy URL \
               (http://user:password@host:port)"
        }
        403 => "the proxy does not allow tunnels to this host and port: ask its administrator to allow the SPICE ports",
        400 | 405 | 501 => "the proxy does not support HTTP CONNECT tunnels",
        502..=504 => "the proxy could not reach the SPICE server: check the host and port as the proxy sees them",
        _ => "check the proxy settings (the .vv file's proxy= key or SPICE_PROXY)",
    }
}

/// Opens a tunnel through `proxy` to `host:port`.
pub async fn connect(proxy: &ProxyUrl, host: &str, port: u16) -> Result<TcpStream, ConnectError> {
    let target = format_addr(host, port);
    let proxy_shown = proxy.to_string();
    let mut stream = match connect_tcp(&proxy.addr()).await {
        Ok(s) => s,
        Err(e) => {
            let reason = match e {
                ConnectError::Refused { .. } => "connection refused".to_string(),
                ConnectError::Timeout { .. } => "timed out".to_string(),
                ConnectError::Connect { source, .. } => source.to_string(),
                other => other.to_string(),
            };
            return Err(ConnectError::ProxyUnreachable { proxy: proxy_shown, reason });
        }
    };
    let exchange = async {
        stream.write_all(&proxy.connect_request(&target)).await?;
        let mut head = Vec::with_capacity(256);
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
            if head.len() >= MAX_REPLY_HEAD {
                return Ok(Err("the reply headers are longer than 16 KiB".to_string()));
            }
            if stream.read(&mut byte).await? == 0 {
                return Ok(Err(if head.is_empty() {
                    "it closed the connection without answering".to_string()
                } else {
                    "it closed the connection in the middle of its reply".to_string()
                }));
            }
            head.push(byte[0]);
        }
        Ok::<_, std::io::Error>(parse_connect_reply(&head))
    };
    let reply = match tokio::time::timeout(CONNECT_TIMEOUT, exchange).await {
        Err(_) => return Err(ConnectError::ProxyProtocol { proxy: proxy_shown, reason: "no reply in time".into() }),
        Ok(Err(e)) => return Err(ConnectError::ProxyProtocol { proxy: proxy_shown, reason: e.to_string() }),
        Ok(Ok(Err(reason))) => return Err(ConnectError::ProxyProtocol { proxy: proxy_shown, reason }),
        Ok(Ok(Ok(reply))) => reply,
    };
    if !(200..300).contains(&reply.status) {
        return Err(ConnectError::ProxyRefused {
            proxy: proxy_shown,
            target,
            status_line: reply.status_line,
            hint: refusal_hint(reply.status),
        });
    }
    tracing::debug!("proxy {proxy_shown}: tunnel to {target} open ({})", reply.status_line);
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proxy_urls() {
        let p = ProxyUrl::parse("http://proxy.example:8080").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.user.is_none()), ("proxy.example", 8080, true));
        let p = ProxyUrl::parse("proxy.example").unwrap();
        assert_eq!(p.port, DEFAULT_PROXY_PORT);
        let p = ProxyUrl::parse("HTTP://us%40er:p%3Ass@[::1]:3128/").unwrap();
        assert_eq!((p.host.as_str(), p.user.as_deref()), ("::1", Some("us@er")));
        assert_eq!(p.password.as_ref().unwrap().expose(), b"p:ss");
        assert_eq!(p.addr(), "[::1]:3128");
        let p = ProxyUrl::parse("http://user:p@ss@host:1").unwrap();
        assert_eq!((p.host.as_str(), p.password.unwrap().expose()), ("host", &b"p@ss"[..]));
    }

    #[test]
    fn rejects_bad_proxy_urls_without_showing_credentials() {
        for (url, want) in [
            ("socks5://user:hunter2@h:1080", "only http://"),
            ("https://h:1", "only http://"),
            ("http://user:hunter2@h:0", "port"),
            ("http://user:hunter2@:3128", "host is empty"),
            ("http://h:1/path", "no path"),
            ("http://[::1:1", "not closed"),
        ] {
            let e = ProxyUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn display_and_debug_hide_credentials() {
        let p = ProxyUrl::parse("http://alice:hunter2@proxy:3128").unwrap();
        assert_eq!(p.to_string(), "http://proxy:3128 (with credentials)");
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("hunter2") && !dbg.contains("alice"), "{dbg}");
    }

    #[test]
    fn builds_connect_requests() {
        let p = ProxyUrl::parse("http://proxy:3128").unwrap();
        assert_eq!(p.connect_request("vm:5900"), b"CONNECT vm:5900 HTTP/1.1\r\nHost: vm:5900\r\n\r\n");
        let p = ProxyUrl::parse("http://Aladdin:open%20sesame@proxy:3128").unwrap();
        let req = String::from_utf8(p.connect_request("[::1]:5901")).unwrap();
        assert!(req.starts_with("CONNECT [::1]:5901 HTTP/1.1\r\n"), "{req}");
        assert!(req.contains("Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n"), "{req}");
    }

    #[test]
    fn parses_connect_replies() {
        let ok = parse_connect_reply(b"HTTP/1.0 200 Connection established\r\nProxy-agent: x\r\n\r\n").unwrap();
        assert_eq!(ok.status, 200);
        let no = parse_connect_reply(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").unwrap();
        assert_eq!((no.status, no.status_line.as_str()), (407, "HTTP/1.1 407 Proxy Authentication Required"));
        assert_eq!(parse_connect_reply(b"HTTP/1.1 502\n\n").unwrap().status, 502);
        assert_eq!(parse_connect_reply(b"HTTP/1.1 403 Bad\x01\xff\r\n\r\n").unwrap().status_line, "HTTP/1.1 403 Bad??");
        for bad in [&b"SSH-2.0-OpenSSH\r\n\r\n"[..], b"HTTP/1.1 abc x\r\n\r\n", b"HTTP/1.1 99 x\r\n\r\n", b""] {
            assert!(parse_connect_reply(bad).is_err(), "{bad:?}");
        }
        assert!(refusal_hint(407).contains("credentials") && refusal_hint(401).contains("credentials"));
        assert!(refusal_hint(403).contains("allow"));
    }

    async fn fake_proxy(reply: &'static [u8]) -> (String, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.ends_with(b"\r\n\r\n") {
                let n = s.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(reply).await.unwrap();
            req
        });
        (format!("http://u:hunter2@{addr}"), task)
    }

    #[tokio::test]
    async fn tunnels_and_refusals() {
        let (url, task) = fake_proxy(b"HTTP/1.1 200 OK\r\n\r\n").await;
        let proxy = ProxyUrl::parse(&url).unwrap();
        assert!(connect(&proxy, "vm", 5900).await.is_ok());
        let req = String::from_utf8(task.await.unwrap()).unwrap();
        assert!(req.starts_with("CONNECT vm:5900 HTTP/1.1\r\n") && req.contains("Proxy-Authorization: Basic "));

        let (url, _task) = fake_proxy(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n").await;
        let e = connect(&ProxyUrl::parse(&url).unwrap(), "vm", 5900).await.unwrap_err().to_string();
        assert!(e.contains("HTTP/1.1 407 Proxy Authentication Required") && e.contains("credentials"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");

        let (url, _task) = fake_proxy(b"garbage\r\n\r\n").await;
        let e = connect(&ProxyUrl::parse(&url).unwrap(), "vm", 5900).await.unwrap_err().to_string();
        assert!(e.contains("invalid reply"), "{e}");

        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let proxy = ProxyUrl::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let e = connect(&proxy, "vm", 5900).await.unwrap_err().to_string();
        assert!(e.contains("cannot reach the HTTP proxy") && e.contains("refused"), "{e}");
    }
}

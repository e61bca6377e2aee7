//! Opening one channel's byte stream: TCP (directly or through an HTTP CONNECT tunnel), then TLS when asked.

use super::addr::format_addr;
use super::error::ConnectError;
use super::proxy::{self, ProxyUrl};
use super::target::SecureChannels;
use super::tcp::connect_tcp;
use super::tls::TlsConfig;
use std::net::SocketAddr;
use tokio::io::{AsyncRead, AsyncWrite};

/// Any byte stream a channel can run on (TCP, a proxy tunnel, TLS over either).
pub trait ChannelStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ChannelStream for T {}

/// A boxed channel stream.
pub type BoxStream = Box<dyn ChannelStream>;

/// The server's TLS port and the client that checks its certificate.
#[derive(Debug, Clone)]
pub struct TlsEndpoint {
    /// Host name or address (IPv6 without brackets), also the name checked against the certificate.
    pub host: String,
    /// The TLS port.
    pub port: u16,
    /// The TLS client.
    pub config: TlsConfig,
}

/// How channels reach the server besides plain TCP: the TLS port, which channels must use it, and a proxy.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// The TLS port, when known.
    pub tls: Option<TlsEndpoint>,
    /// Channels that must use TLS (a plain link answered NEED_SECURED is retried over TLS anyway).
    pub secure_channels: SecureChannels,
    /// The HTTP CONNECT proxy every channel goes through.
    pub proxy: Option<ProxyUrl>,
}

impl Transport {
    /// One line for logs: the plain address, the TLS port and the proxy (never credentials).
    pub fn describe(&self, plain_addr: &str) -> String {
        let mut s = match (plain_addr.is_empty(), &self.tls) {
            (false, None) => plain_addr.to_string(),
            (false, Some(t)) => format!("{plain_addr} (TLS port {})", t.port),
            (true, Some(t)) => format!("{} (TLS)", format_addr(&t.host, t.port)),
            (true, None) => "nowhere (no port)".to_string(),
        };
        if let Some(p) = &self.proxy {
            s.push_str(&format!(" through the HTTP proxy {p}"));
        }
        s
    }
}

/// A connected stream, before the SPICE link.
pub struct Dialed {
    /// The stream (TLS or plain).
    pub stream: BoxStream,
    /// Local address of the TCP connection (to the proxy, with a proxy).
    pub local: Option<SocketAddr>,
    /// Peer address of the TCP connection (the proxy, with a proxy).
    pub peer: Option<SocketAddr>,
}

/// Connects to `host:port`, through `proxy` when given, and runs the TLS handshake when `tls` is given.
pub async fn dial(
    host: &str,
    port: u16,
    tls: Option<&TlsConfig>,
    proxy: Option<&ProxyUrl>,
) -> Result<Dialed, ConnectError> {
    let addr = format_addr(host, port);
    let tcp = match proxy {
        Some(p) => proxy::connect(p, host, port).await?,
        None => connect_tcp(&addr).await?,
    };
    let (local, peer) = (tcp.local_addr().ok(), tcp.peer_addr().ok());
    let stream: BoxStream = match tls {
        Some(config) => Box::new(config.handshake(tcp, &addr).await?),
        None => Box::new(tcp),
    };
    Ok(Dialed { stream, local, peer })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_credentials() {
        let t = Transport { proxy: Some(ProxyUrl::parse("http://u:hunter2@p:3128").unwrap()), ..Transport::default() };
        let d = t.describe("vm:5900");
        assert_eq!(d, "vm:5900 through the HTTP proxy http://p:3128 (with credentials)");
    }
}

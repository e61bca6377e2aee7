//! Opening a TCP connection to HOST:PORT with a timeout, and the timeout every step of opening a channel uses.

use super::error::ConnectError;
use std::time::Duration;
use tokio::net::TcpStream;

/// How long each step of opening a channel may take: a TCP connect, a proxy's answer, a TLS handshake, the link
/// exchange.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens a TCP connection to `addr` (HOST:PORT, IPv6 in brackets), with a timeout and TCP_NODELAY.
pub async fn connect_tcp(addr: &str) -> Result<TcpStream, ConnectError> {
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await;
    let stream = match attempt {
        Err(_) => return Err(ConnectError::Timeout { addr: addr.into() }),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return Err(ConnectError::Refused { addr: addr.into() })
        }
        Ok(Err(source)) => return Err(ConnectError::Connect { addr: addr.into(), source }),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

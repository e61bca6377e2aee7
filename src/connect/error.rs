//! [`ConnectError`]: why a channel's byte stream could not be opened (TCP, HTTP CONNECT proxy, TLS). Each message
//! names the cause and the next step.

/// Why a channel's stream could not be opened. Each message names the cause and the next step.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Nothing listens on the address.
    #[error("connection refused by {addr}: is the SPICE server running and is the port right?")]
    Refused {
        /// HOST:PORT.
        addr: String,
    },
    /// The connect (or the exchange that follows it) took too long.
    #[error("timed out connecting to {addr}: check the address and any firewall between here and the server")]
    Timeout {
        /// HOST:PORT.
        addr: String,
    },
    /// Another connect error (DNS, unreachable network, ...).
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// HOST:PORT.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The server's certificate does not chain to a trusted CA.
    #[error(
        "the TLS certificate of {addr} is not trusted ({reason}): pass the CA that signed it with --ca-file FILE \
         (or the .vv file's ca= key)"
    )]
    TlsUntrusted {
        /// HOST:PORT.
        addr: String,
        /// What the verifier said.
        reason: String,
    },
    /// The certificate's subject is not the one asked for.
    #[error(
        "the TLS certificate of {addr} has the subject \"{actual}\", not the expected \"{expected}\": check \
         --host-subject (or the .vv file's host-subject= key)"
    )]
    TlsSubjectMismatch {
        /// HOST:PORT.
        addr: String,
        /// The subject that was expected.
        expected: String,
        /// The certificate's subject.
        actual: String,
    },
    /// The certificate does not name the host.
    #[error(
        "the TLS certificate of {addr} is not valid for {host} (it names {names}): connect with a name the \
         certificate lists, or pass --host-subject with the certificate's subject"
    )]
    TlsHostnameMismatch {
        /// HOST:PORT.
        addr: String,
        /// The host name checked.
        host: String,
        /// The names the certificate holds.
        names: String,
    },
    /// The certificate was rejected for another reason (expired, not yet valid, unusable).
    #[error("the TLS certificate of {addr} was rejected: {reason}")]
    TlsCertificate {
        /// HOST:PORT.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The TLS handshake failed for a reason other than the certificate.
    #[error(
        "the TLS handshake with {addr} failed ({reason}): check that this is the server's TLS port (tls-port), \
         not its plain port"
    )]
    TlsHandshake {
        /// HOST:PORT.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The HTTP proxy cannot be reached.
    #[error("cannot reach the HTTP proxy {proxy} ({reason}): check the .vv file's proxy= key or SPICE_PROXY")]
    ProxyUnreachable {
        /// The proxy, without credentials.
        proxy: String,
        /// Why.
        reason: String,
    },
    /// The HTTP proxy refused the tunnel.
    #[error("the HTTP proxy {proxy} refused the tunnel to {target} with \"{status_line}\": {hint}")]
    ProxyRefused {
        /// The proxy, without credentials.
        proxy: String,
        /// HOST:PORT asked for.
        target: String,
        /// The proxy's status line.
        status_line: String,
        /// The next step.
        hint: &'static str,
    },
    /// The HTTP proxy answered something that is not an HTTP reply.
    #[error("the HTTP proxy {proxy} sent an invalid reply ({reason}): check that it is an HTTP proxy")]
    ProxyProtocol {
        /// The proxy, without credentials.
        proxy: String,
        /// Why.
        reason: String,
    },
}

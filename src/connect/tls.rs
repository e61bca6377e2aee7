//! TLS for SPICE channels with rustls, checking the server certificate the way spice-gtk does.
//!
//! - **Trust**: the CA certificates from `--ca-file` and the `.vv` file's inline `ca` (both, when both are
//!   given); with neither, the system's trust store (spice-gtk falls back to OpenSSL's default paths the same way).
//!   The chain is checked by webpki; X.509 v1 server certificates, which webpki refuses, are checked against the
//!   CAs given by [`v1`] (issuer, signature, dates).
//! - **Identity**, one of:
//!   - `--host-subject "C=XX,L=city,O=org,CN=host"`: the certificate's subject must have exactly these components,
//!     in this order. Components are separated by `,` (write `\,` for a comma inside a value and `\\` for a
//!     backslash), spaces before a key are ignored, and values compare like OpenSSL's `X509_NAME_cmp`: ASCII case
//!     and runs of spaces do not matter. This is spice-common's `verify_subject`. Unlike spice-gtk, which accepts
//!     either a host-name match or a subject match when a subject is given, ryll then requires the subject: the
//!     subject is what the user asked for.
//!   - otherwise the host name: the certificate's subjectAltName DNS names (with `*` wildcards within one label)
//!     and IP addresses; only when it has neither, its common names (CN). This is spice-common's
//!     `verify_hostname`, extended to IPv6 addresses.
//!
//! SNI is not sent (SPICE servers do not use it, and spice-gtk does not send it), so host strings that are not DNS
//! names (a Proxmox `pvespiceproxy:...` ticket host) work with `host-subject`.

use super::error::ConnectError;
use super::tcp::CONNECT_TIMEOUT;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::der::{Decode, Tag, Tagged};

/// The largest CA file read.
pub const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// What the user said about TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Inline CA certificates (PEM), e.g. from a `.vv` file.
    pub ca_pem: Option<String>,
    /// A CA file (PEM), from `--ca-file`.
    pub ca_file: Option<PathBuf>,
    /// The certificate subject to require.
    pub host_subject: Option<String>,
}

/// A ready TLS client for one server: trust anchors and the identity check.
#[derive(Clone)]
pub struct TlsConfig {
    client: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig").field("server_name", &self.server_name).finish_non_exhaustive()
    }
}

/// Why TLS cannot be set up (before connecting).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file cannot be read.
    #[error("cannot read the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A CA source holds no usable certificate.
    #[error("{what} holds no usable PEM certificate ({reason}): give the CA certificate that signed the server's")]
    BadCa {
        /// Which source.
        what: String,
        /// Why.
        reason: String,
    },
    /// No CA given and the system has none.
    #[error(
        "no CA certificate to check the server's TLS certificate with, and the system trust store is empty: pass \
         the CA with --ca-file FILE"
    )]
    NoTrustAnchors,
    /// `--host-subject` is malformed.
    #[error("invalid host subject {subject:?}: {reason}; expected a list like C=XX,L=city,O=org,CN=host")]
    Subject {
        /// What was given.
        subject: String,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Rustls(String),
}

impl TlsConfig {
    /// Builds the TLS client for `host`, loading the CA certificates now so errors show before connecting.
    pub fn new(host: &str, opts: &TlsOptions) -> Result<TlsConfig, TlsSetupError> {
        let check = match opts.host_subject.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(s) => IdentityCheck::Subject {
                shown: s.to_string(),
                want: parse_subject(s)
                    .map_err(|reason| TlsSetupError::Subject { subject: s.chars().take(200).collect(), reason })?,
            },
            None => IdentityCheck::Hostname(host.to_string()),
        };
        let (roots, cas) = load_roots(opts)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        let algs = provider.signature_verification_algorithms;
        let verifier = Arc::new(SpiceVerifier { inner, check, cas, algs });
        let mut client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        client.enable_sni = false;
        let server_name = ServerName::try_from(host.to_string())
            .or_else(|_| ServerName::try_from("spice.invalid"))
            .map_err(|e| TlsSetupError::Rustls(e.to_string()))?;
        Ok(TlsConfig { client: Arc::new(client), server_name })
    }

    /// Runs the TLS handshake on `stream`; `addr` (HOST:PORT) is for messages.
    pub async fn handshake<S>(&self, stream: S, addr: &str) -> Result<tokio_rustls::client::TlsStream<S>, ConnectError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let connector = tokio_rustls::TlsConnector::from(self.client.clone());
        match tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(self.server_name.clone(), stream)).await {
            Err(_) => Err(ConnectError::Timeout { addr: addr.into() }),
            Ok(Ok(s)) => Ok(s),
            Ok(Err(e)) => Err(handshake_failure(addr, &e)),
        }
    }
}

/// The trust anchors, and the CA certificates given (for X.509 v1 server certificates, see [`v1`]).
fn load_roots(opts: &TlsOptions) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), TlsSetupError> {
    let mut roots = RootCertStore::empty();
    let mut cas = Vec::new();
    let mut add = |pem: &[u8], what: &str| -> Result<(), TlsSetupError> {
        let bad = |reason: String| TlsSetupError::BadCa { what: what.to_string(), reason };
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            roots.add(cert.clone()).map_err(|e| bad(e.to_string()))?;
            cas.push(cert);
            added += 1;
        }
        if added == 0 {
            return Err(bad("no BEGIN CERTIFICATE block".into()));
        }
        Ok(())
    };
    if let Some(pem) = &opts.ca_pem {
        add(pem.as_bytes(), "the inline CA (the .vv file's ca= key)")?;
    }
    if let Some(path) = &opts.ca_file {
        let shown = path.display().to_string();
        let file_err = |reason: String| TlsSetupError::CaFile { path: shown.clone(), reason };
        let len = std::fs::metadata(path).map_err(|e| file_err(e.to_string()))?.len();
        if len > MAX_CA_FILE {
            return Err(file_err("larger than 4 MiB".into()));
        }
        let bytes = std::fs::read(path).map_err(|e| file_err(e.to_string()))?;
        add(&bytes, &format!("the CA file {shown}"))?;
    }
    if opts.ca_pem.is_none() && opts.ca_file.is_none() {
        let native = rustls_native_certs::load_native_certs();
        for e in &native.errors {
            tracing::debug!("system trust store: {e}");
        }
        let (added, ignored) = roots.add_parsable_certificates(native.certs);
        tracing::debug!("no CA given: using the system trust store ({added} certificates, {ignored} unusable)");
        if roots.is_empty() {
            return Err(TlsSetupError::NoTrustAnchors);
        }
    }
    Ok((roots, cas))
}

/// Maps a failed handshake to a one-line [`ConnectError`].
fn handshake_failure(addr: &str, e: &std::io::Error) -> ConnectError {
    let addr = addr.to_string();
    let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) else {
        let reason = match e.kind() {
            std::io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
            _ => e.to_string(),
        };
        return ConnectError::TlsHandshake { addr, reason };
    };
    match tls {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => ConnectError::TlsUntrusted { addr, reason: "unknown issuer".into() },
            CertificateError::BadSignature => {
                ConnectError::TlsUntrusted { addr, reason: "bad signature in the chain".into() }
            }
            CertificateError::Other(other) => {
                if let Some(m) = other.0.downcast_ref::<SubjectMismatch>() {
                    ConnectError::TlsSubjectMismatch { addr, expected: m.expected.clone(), actual: m.actual.clone() }
                } else if let Some(m) = other.0.downcast_ref::<NameMismatch>() {
                    ConnectError::TlsHostnameMismatch { addr, host: m.host.clone(), names: m.names.clone() }
                } else if let Some(r) = other.0.downcast_ref::<v1::V1Refusal>() {
                    match r {
                        v1::V1Refusal::UnknownIssuer { .. } | v1::V1Refusal::BadSignature { .. } => {
                            ConnectError::TlsUntrusted { addr, reason: r.to_string() }
                        }
                        _ => ConnectError::TlsCertificate { addr, reason: r.to_string() },
                    }
                } else {
                    ConnectError::TlsCertificate { addr, reason: other.to_string() }
                }
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => ConnectError::TlsCertificate {
                addr,
                reason: "it has expired; renew the server's certificate (or check this machine's clock)".into(),
            },
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                ConnectError::TlsCertificate {
                    addr,
                    reason: "it is not valid yet; check this machine's clock and the server's".into(),
                }
            }
            other => ConnectError::TlsCertificate { addr, reason: format!("{other:?}") },
        },
        other => ConnectError::TlsHandshake { addr, reason: other.to_string() },
    }
}

#[derive(Debug)]
enum IdentityCheck {
    Hostname(String),
    Subject { shown: String, want: Vec<(ObjectIdentifier, String)> },
}

#[derive(Debug)]
struct SpiceVerifier {
    inner: Arc<WebPkiServerVerifier>,
    check: IdentityCheck,
    /// The CA certificates given, for v1 server certificates.
    cas: Vec<CertificateDer<'static>>,
    /// The provider's signature algorithms, for v1 server certificates.
    algs: WebPkiSupportedAlgorithms,
}

/// The certificate's subject is not the expected one.
#[derive(Debug, thiserror::Error)]
#[error("the certificate subject {actual:?} is not {expected:?}")]
struct SubjectMismatch {
    expected: String,
    actual: String,
}

/// The certificate does not name the host.
#[derive(Debug, thiserror::Error)]
#[error("the certificate is not valid for {host} (it names {names})")]
struct NameMismatch {
    host: String,
    names: String,
}

fn other_error(e: impl std::error::Error + Send + Sync + 'static) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(e))))
}

impl ServerCertVerifier for SpiceVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain first and the name last, so a name error means the chain is good; the identity
        // is checked below with spice-gtk's rules instead of webpki's. webpki refuses X.509 v1 certificates, which
        // common recipes make; those are checked against the CAs given by `v1` instead.
        if v1::is_v1(end_entity.as_ref()) {
            v1::verify(end_entity, &self.cas, &self.algs, now)?;
        } else {
            match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Ok(_)
                | Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                )) => {}
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(_)))
                    if intermediates.iter().any(|c| v1::is_v1(c.as_ref())) =>
                {
                    return Err(v1::to_rustls(v1::V1Refusal::V1Intermediate));
                }
                Err(e) => return Err(e),
            }
        }
        let names = CertNames::parse(end_entity.as_ref())
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        match &self.check {
            IdentityCheck::Subject { shown, want } => {
                if subject_matches(&names.subject, want) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(other_error(SubjectMismatch {
                        expected: shown.clone(),
                        actual: format_subject(&names.subject),
                    }))
                }
            }
            IdentityCheck::Hostname(host) => {
                if names.matches_host(host) {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(other_error(NameMismatch { host: host.clone(), names: names.describe() }))
                }
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if v1::is_v1(cert.as_ref()) {
            v1::verify_handshake(message, cert, dss, &self.algs, false)?;
            return Ok(HandshakeSignatureValid::assertion());
        }
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if v1::is_v1(cert.as_ref()) {
            v1::verify_handshake(message, cert, dss, &self.algs, true)?;
            return Ok(HandshakeSignatureValid::assertion());
        }
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Attribute names accepted in a host subject: OpenSSL's short names, long names, lower-case aliases.
const ATTRIBUTES: [(&str, &str, &str); 21] = [
    ("C", "countryName", "2.5.4.6"),
    ("ST", "stateOrProvinceName", "2.5.4.8"),
    ("L", "localityName", "2.5.4.7"),
    ("O", "organizationName", "2.5.4.10"),
    ("OU", "organizationalUnitName", "2.5.4.11"),
    ("CN", "commonName", "2.5.4.3"),
    ("street", "streetAddress", "2.5.4.9"),
    ("serialNumber", "serialNumber", "2.5.4.5"),
    ("SN", "surname", "2.5.4.4"),
    ("GN", "givenName", "2.5.4.42"),
    ("title", "title", "2.5.4.12"),
    ("initials", "initials", "2.5.4.43"),
    ("generationQualifier", "generationQualifier", "2.5.4.44"),
    ("dnQualifier", "dnQualifier", "2.5.4.46"),
    ("pseudonym", "pseudonym", "2.5.4.65"),
    ("postalCode", "postalCode", "2.5.4.17"),
    ("name", "name", "2.5.4.41"),
    ("description", "description", "2.5.4.13"),
    ("emailAddress", "emailAddress", "1.2.840.113549.1.9.1"),
    ("DC", "domainComponent", "0.9.2342.19200300.100.1.25"),
    ("UID", "userId", "0.9.2342.19200300.100.1.1"),
];

fn attribute_oid(key: &str) -> Option<ObjectIdentifier> {
    let dotted = ATTRIBUTES
        .iter()
        .find(|(short, long, _)| short.eq_ignore_ascii_case(key) || long.eq_ignore_ascii_case(key))
        .map(|(_, _, oid)| *oid)
        .unwrap_or(key);
    ObjectIdentifier::new(dotted).ok()
}

fn attribute_name(oid: &ObjectIdentifier) -> String {
    let dotted = oid.to_string();
    ATTRIBUTES.iter().find(|(_, _, o)| *o == dotted).map(|(s, _, _)| s.to_string()).unwrap_or(dotted)
}

/// Parses a host subject (`C=XX,L=city,O=org,CN=host`) with spice-common's rules.
pub fn parse_subject(s: &str) -> Result<Vec<(ObjectIdentifier, String)>, String> {
    if s.len() > 4096 {
        return Err("longer than 4096 characters".into());
    }
    let mut out = Vec::new();
    let mut key = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut chars = s.chars();
    loop {
        let mut c = chars.next();
        let mut escaped = false;
        if c == Some('\\') {
            c = chars.next();
            if !matches!(c, Some('\\') | Some(',')) {
                return Err("a backslash may only escape a comma or a backslash".into());
            }
            escaped = true;
        }
        if !in_value {
            match c {
                Some(' ') if key.is_empty() && !escaped => continue,
                None if key.is_empty() => break,
                None => return Err(format!("{key:?} has no =value")),
                Some(',') if !escaped => return Err("a component has no key=value".into()),
                Some('=') if !escaped => {
                    in_value = true;
                }
                Some(ch) => key.push(ch),
            }
        } else {
            match c {
                None | Some(',') if !escaped => {
                    if value.is_empty() {
                        return Err(format!("{key} has an empty value"));
                    }
                    let oid = attribute_oid(&key).ok_or_else(|| format!("unknown attribute {key:?}"))?;
                    out.push((oid, std::mem::take(&mut value)));
                    key.clear();
                    in_value = false;
                    if c.is_none() {
                        break;
                    }
                }
                Some(ch) => value.push(ch),
                None => break,
            }
        }
    }
    if out.is_empty() {
        return Err("no components".into());
    }
    Ok(out)
}

/// OpenSSL's canonical form for comparing names: trimmed, runs of whitespace as one space, ASCII lower case.
fn canonical(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase()
}

fn subject_matches(cert: &[(ObjectIdentifier, String)], want: &[(ObjectIdentifier, String)]) -> bool {
    cert.len() == want.len()
        && cert.iter().zip(want).all(|((o1, v1), (o2, v2))| o1 == o2 && canonical(v1) == canonical(v2))
}

/// A subject in the host-subject syntax, so it can be pasted into `--host-subject`.
pub fn format_subject(subject: &[(ObjectIdentifier, String)]) -> String {
    let parts: Vec<String> = subject
        .iter()
        .map(|(oid, v)| format!("{}={}", attribute_name(oid), v.replace('\\', "\\\\").replace(',', "\\,")))
        .collect();
    parts.join(",")
}

/// The names in a certificate that identity checks use.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CertNames {
    /// Subject components in order (multi-valued RDNs flattened), values decoded to text.
    pub subject: Vec<(ObjectIdentifier, String)>,
    /// subjectAltName DNS names.
    pub dns: Vec<String>,
    /// subjectAltName IP addresses.
    pub ips: Vec<IpAddr>,
}

const OID_CN: &str = "2.5.4.3";
const OID_SAN: &str = "2.5.29.17";

impl CertNames {
    /// Parses a DER certificate.
    pub fn parse(der: &[u8]) -> Result<CertNames, String> {
        let cert = x509_cert::Certificate::from_der(der).map_err(|e| e.to_string())?;
        let tbs = cert.tbs_certificate;
        let mut names = CertNames::default();
        for rdn in tbs.subject.0.iter() {
            for atv in rdn.0.iter() {
                names.subject.push((atv.oid, any_to_string(&atv.value)));
            }
        }
        let san = ObjectIdentifier::new(OID_SAN).map_err(|e| e.to_string())?;
        for ext in tbs.extensions.iter().flatten().filter(|e| e.extn_id == san) {
            let list =
                x509_cert::ext::pkix::SubjectAltName::from_der(ext.extn_value.as_bytes()).map_err(|e| e.to_string())?;
            for name in list.0 {
                match name {
                    x509_cert::ext::pkix::name::GeneralName::DnsName(d) => names.dns.push(d.to_string()),
                    x509_cert::ext::pkix::name::GeneralName::IpAddress(ip) => {
                        let b = ip.as_bytes();
                        if let Ok(v4) = <[u8; 4]>::try_from(b) {
                            names.ips.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                            names.ips.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(names)
    }

    fn common_names(&self) -> impl Iterator<Item = &str> {
        self.subject.iter().filter(|(oid, _)| oid.to_string() == OID_CN).map(|(_, v)| v.as_str())
    }

    /// spice-gtk's host-name rule: subjectAltName DNS names and IP addresses; CN only when there are none.
    pub fn matches_host(&self, host: &str) -> bool {
        let ip = host.parse::<IpAddr>().ok();
        if !self.dns.is_empty() || !self.ips.is_empty() {
            return self.dns.iter().any(|d| wildcard_match(d, host)) || ip.is_some_and(|ip| self.ips.contains(&ip));
        }
        self.common_names().any(|cn| wildcard_match(cn, host))
    }

    /// The names, for messages.
    pub fn describe(&self) -> String {
        let mut all: Vec<String> = self.dns.clone();
        all.extend(self.ips.iter().map(|i| i.to_string()));
        if all.is_empty() {
            all.extend(self.common_names().map(|c| format!("CN={c}")));
        }
        if all.is_empty() {
            return "no host name".into();
        }
        let more = all.len().saturating_sub(5);
        all.truncate(5);
        let mut s = all.join(", ");
        if more > 0 {
            s.push_str(&format!(" and {more} more"));
        }
        s
    }
}

fn any_to_string(any: &x509_cert::der::Any) -> String {
    let b = any.value();
    match any.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString | Tag::NumericString => {
            String::from_utf8_lossy(b).into_owned()
        }
        // T.61 in practice holds Latin-1.
        Tag::TeletexString => b.iter().map(|&c| c as char).collect(),
        Tag::BmpString => {
            let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            String::from_utf16_lossy(&units)
        }
        _ => b.iter().map(|c| format!("{c:02x}")).collect::<Vec<_>>().join(":"),
    }
}

/// Host-name comparison with wildcards (gnutls/spice-common): ASCII case-insensitive; `*` matches any run of
/// characters (possibly none) within one label, so `*.example.com` matches `a.example.com`, not `a.b.example.com`.
pub fn wildcard_match(pattern: &str, host: &str) -> bool {
    let p_labels: Vec<&str> = pattern.trim_end_matches('.').split('.').collect();
    let h_labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    p_labels.len() == h_labels.len() && p_labels.iter().zip(&h_labels).all(|(p, h)| label_glob(p, h))
}

/// Glob match of one label, `*` only, linear time (no backtracking blow-up).
fn label_glob(pattern: &str, text: &str) -> bool {
    let p: Vec<u8> = pattern.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let t: Vec<u8> = text.bytes().map(|b| b.to_ascii_lowercase()).collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|c| *c == b'*'))
}

#[cfg(test)]
mod tests;
mod v1;

//! X.509 **v1** server certificates, which webpki refuses (`UnsupportedCertVersion`) but which `openssl x509 -req`
//! without an extensions file makes: the SPICE manual's TLS recipe, and kerbside's test setup, produce them, and
//! spice-gtk (OpenSSL) accepts them.
//!
//! A v1 end-entity certificate is accepted only when it was issued directly by one of the configured CA
//! certificates: its issuer is that CA's subject, its signature verifies with that CA's public key, and `now` lies
//! within its validity dates. The identity rules (host subject or host name) are applied afterwards by the caller,
//! as for every certificate. A v1 certificate has no extensions, so there is nothing else to check (no key usage,
//! no constraints); a v1 certificate inside a chain (an intermediate CA) is refused.
//!
//! No cryptography is done here: signatures are verified by the crypto provider's
//! [`SignatureVerificationAlgorithm`]s (ring), chosen by the algorithm identifiers, as webpki itself does.

use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use x509_cert::der::asn1::BitString;
use x509_cert::der::{Decode, Encode, Reader, SliceReader};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;

/// Why a v1 certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V1Refusal {
    /// No configured CA has the certificate's issuer as its subject.
    #[error(
        "it is an X.509 v1 certificate issued by \"{issuer}\", which is not the subject of any CA certificate given \
         ({known}); pass the CA that signed it with --ca-file FILE (or the .vv file's ca= key)"
    )]
    UnknownIssuer {
        /// The certificate's issuer.
        issuer: String,
        /// The subjects of the CAs given (a few).
        known: String,
    },
    /// A CA with the right name exists, but the signature does not verify with its key.
    #[error(
        "its signature does not verify with the key of the CA \"{issuer}\": the certificate was altered, or signed \
         by another key under the same CA name; get the server's real certificate and its CA"
    )]
    BadSignature {
        /// The issuer.
        issuer: String,
    },
    /// The signature or key algorithm is not one the crypto provider verifies.
    #[error("it is signed with an algorithm ryll cannot verify ({what}); reissue it with RSA or ECDSA and SHA-256")]
    UnsupportedAlgorithm {
        /// Which algorithm.
        what: String,
    },
    /// An intermediate of the chain is a v1 certificate (the server certificate itself is v3).
    #[error(
        "a CA certificate in the server's chain is X.509 v1, which cannot say it is a CA; reissue the intermediate \
         CA as v3 (basicConstraints CA:TRUE), or give it with --ca-file FILE"
    )]
    V1Intermediate,
    /// The certificate cannot be parsed.
    #[error("it cannot be parsed ({0}); check the server's certificate file")]
    Malformed(String),
}

/// Wraps a refusal as a rustls certificate error, to be mapped back to a message by the caller.
pub(super) fn to_rustls(r: V1Refusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(r))))
}

/// The parts of a certificate a v1 check needs, with the signed bytes as they are on the wire.
struct Parsed<'a> {
    cert: Certificate,
    tbs: &'a [u8],
    sig_alg: AlgorithmIdentifierOwned,
    signature: BitString,
}

fn parse(der: &[u8]) -> Result<Parsed<'_>, V1Refusal> {
    let bad = |e: x509_cert::der::Error| V1Refusal::Malformed(e.to_string());
    let cert = Certificate::from_der(der).map_err(bad)?;
    let mut reader = SliceReader::new(der).map_err(bad)?;
    let (tbs, sig_alg, signature) = reader
        .sequence(|r| {
            let tbs = r.tlv_bytes()?;
            let sig_alg = AlgorithmIdentifierOwned::decode(r)?;
            let signature = BitString::decode(r)?;
            Ok((tbs, sig_alg, signature))
        })
        .map_err(bad)?;
    Ok(Parsed { cert, tbs, sig_alg, signature })
}

/// The content of an AlgorithmIdentifier (its OID and parameters, without the SEQUENCE header), the form
/// [`SignatureVerificationAlgorithm`] compares with.
fn alg_id_content(alg: &AlgorithmIdentifierOwned) -> Option<Vec<u8>> {
    let mut out = alg.oid.to_der().ok()?;
    if let Some(p) = &alg.parameters {
        out.extend(p.to_der().ok()?);
    }
    Some(out)
}

/// Whether the certificate is v1 (or v2: neither may carry extensions).
pub(super) fn is_v1(der: &[u8]) -> bool {
    Certificate::from_der(der).map(|c| c.tbs_certificate.version != x509_cert::Version::V3).unwrap_or(false)
}

/// Checks a v1 end-entity certificate against the configured CA certificates: issuer, signature, validity dates.
pub(super) fn verify(
    end_entity: &CertificateDer<'_>,
    cas: &[CertificateDer<'static>],
    algs: &WebPkiSupportedAlgorithms,
    now: UnixTime,
) -> Result<(), rustls::Error> {
    let leaf = parse(end_entity.as_ref()).map_err(to_rustls)?;
    let issuer = &leaf.cert.tbs_certificate.issuer;
    let issuer_der = issuer.to_der().map_err(|e| to_rustls(V1Refusal::Malformed(e.to_string())))?;
    let mut known = Vec::new();
    let mut candidates = Vec::new();
    for ca in cas {
        let Ok(ca) = Certificate::from_der(ca.as_ref()) else { continue };
        let subject = &ca.tbs_certificate.subject;
        if subject.to_der().is_ok_and(|d| d == issuer_der) {
            candidates.push(ca.tbs_certificate.subject_public_key_info);
        } else if known.len() < 3 {
            known.push(format!("\"{subject}\""));
        }
    }
    if candidates.is_empty() {
        if cas.len() > known.len() {
            known.push(format!("{} in all", cas.len()));
        }
        return Err(to_rustls(V1Refusal::UnknownIssuer { issuer: issuer.to_string(), known: known.join(", ") }));
    }
    let sig_alg = alg_id_content(&leaf.sig_alg).unwrap_or_default();
    let signature = leaf.signature.as_bytes().unwrap_or_default();
    let mut supported = false;
    for spki in &candidates {
        let key_alg = alg_id_content(&spki.algorithm).unwrap_or_default();
        let key = spki.subject_public_key.as_bytes().unwrap_or_default();
        for alg in algs.all.iter().filter(|a| {
            a.signature_alg_id().as_ref() == sig_alg.as_slice() && a.public_key_alg_id().as_ref() == key_alg.as_slice()
        }) {
            supported = true;
            if alg.verify_signature(key, leaf.tbs, signature).is_ok() {
                return check_dates(&leaf.cert, now);
            }
        }
    }
    if !supported {
        return Err(to_rustls(V1Refusal::UnsupportedAlgorithm { what: leaf.sig_alg.oid.to_string() }));
    }
    Err(to_rustls(V1Refusal::BadSignature { issuer: issuer.to_string() }))
}

fn check_dates(cert: &Certificate, now: UnixTime) -> Result<(), rustls::Error> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    let now_secs = now.as_secs();
    if now_secs < not_before {
        return Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
            time: now,
            not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_before)),
        }));
    }
    if now_secs > not_after {
        return Err(rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
            time: now,
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(not_after)),
        }));
    }
    Ok(())
}

/// Verifies a handshake signature made with a v1 certificate's key (webpki cannot read the certificate for it).
/// TLS 1.3 uses the scheme's first algorithm, TLS 1.2 any of them that fits the key, as rustls does.
pub(super) fn verify_handshake(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
    algs: &WebPkiSupportedAlgorithms,
    tls13: bool,
) -> Result<(), rustls::Error> {
    let bad_sig = || rustls::Error::InvalidCertificate(CertificateError::BadSignature);
    let leaf = parse(cert.as_ref()).map_err(to_rustls)?;
    let spki = &leaf.cert.tbs_certificate.subject_public_key_info;
    let key_alg = alg_id_content(&spki.algorithm).unwrap_or_default();
    let key = spki.subject_public_key.as_bytes().unwrap_or_default();
    let scheme: SignatureScheme = dss.scheme;
    let Some((_, list)) = algs.mapping.iter().find(|(s, _)| *s == scheme) else {
        return Err(rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme));
    };
    let fits = |a: &&&dyn SignatureVerificationAlgorithm| a.public_key_alg_id().as_ref() == key_alg.as_slice();
    let chosen: Vec<&&dyn SignatureVerificationAlgorithm> =
        if tls13 { list.iter().take(1).filter(fits).collect() } else { list.iter().filter(fits).collect() };
    if chosen.iter().any(|a| a.verify_signature(key, message, dss.signature()).is_ok()) {
        Ok(())
    } else {
        Err(bad_sig())
    }
}

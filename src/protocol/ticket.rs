//! The 128-byte RSA-OAEP(SHA-1) encrypted ticket that carries the password.
//!
//! The server generates a fresh RSA-1024 key per link and sends its DER SubjectPublicKeyInfo in the link reply.
//! The client encrypts the password plus a trailing NUL with OAEP (SHA-1, MGF1-SHA-1, empty label). The ticket
//! must be sent even when the server has ticketing disabled: a ticket that does not decrypt is refused.

use super::constants::{MAX_PASSWORD_LEN, TICKET_SIZE};
use super::{ProtocolError, Result};
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPublicKey};

/// Encrypts `password` (empty when ticketing is off) for the server key `pub_key_der`.
///
/// `rng` supplies the OAEP seed; pass `rand::thread_rng()` in production.
pub fn encrypt_ticket<R: rsa::rand_core::CryptoRngCore>(
    pub_key_der: &[u8],
    password: &[u8],
    rng: &mut R,
) -> Result<[u8; TICKET_SIZE]> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(ProtocolError::TooLarge {
            what: "password length",
            value: password.len() as u64,
            max: MAX_PASSWORD_LEN as u64,
        });
    }
    if password.contains(&0) {
        return Err(ProtocolError::invalid("password", "contains a NUL byte"));
    }
    let key = RsaPublicKey::from_public_key_der(pub_key_der)
        .map_err(|e| ProtocolError::invalid("server public key", e.to_string()))?;
    if key.size() != TICKET_SIZE {
        return Err(ProtocolError::invalid("server public key", format!("{}-byte modulus, expected 128", key.size())));
    }
    let mut plain = Vec::with_capacity(password.len() + 1);
    plain.extend_from_slice(password);
    plain.push(0);
    let cipher = key
        .encrypt(rng, Oaep::new::<sha1::Sha1>(), &plain)
        .map_err(|e| ProtocolError::invalid("ticket", e.to_string()))?;
    let mut out = [0u8; TICKET_SIZE];
    if cipher.len() != TICKET_SIZE {
        return Err(ProtocolError::invalid("ticket", format!("ciphertext of {} bytes", cipher.len())));
    }
    out.copy_from_slice(&cipher);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::RsaPrivateKey;

    #[test]
    fn ticket_decrypts_to_password_and_nul() {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let der = private.to_public_key().to_public_key_der().unwrap();
        assert_eq!(der.as_bytes().len(), 162);
        let ticket = encrypt_ticket(der.as_bytes(), b"secret", &mut rng).unwrap();
        let plain = private.decrypt(Oaep::new::<sha1::Sha1>(), &ticket).unwrap();
        assert_eq!(plain, b"secret\0");
        let empty = encrypt_ticket(der.as_bytes(), b"", &mut rng).unwrap();
        assert_eq!(private.decrypt(Oaep::new::<sha1::Sha1>(), &empty).unwrap(), b"\0");
    }

    #[test]
    fn bad_inputs_are_errors() {
        let mut rng = rand::thread_rng();
        assert!(encrypt_ticket(&[0u8; 162], b"x", &mut rng).is_err());
        assert!(encrypt_ticket(&[], b"x", &mut rng).is_err());
        assert!(matches!(encrypt_ticket(&[0u8; 162], &[b'a'; 61], &mut rng), Err(ProtocolError::TooLarge { .. })));
        assert!(encrypt_ticket(&[0u8; 162], b"a\0b", &mut rng).is_err());
    }
}

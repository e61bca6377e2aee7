//! What must never reach a bug report: the SPICE password (or a proxy's console token, which is the same field),
//! a proxy's credentials, and their encodings on the wire. [`Secrets`] finds them in text and in bytes.

use crate::session::SessionConfig;
use base64::Engine;

/// Shown where a secret was.
pub const REDACTED: &str = "[redacted]";

/// The secrets of one session, as the bytes they would appear as.
#[derive(Debug, Default, Clone)]
pub struct Secrets(Vec<Vec<u8>>);

impl Secrets {
    /// The secrets `cfg` holds: the password, the proxy's user password and its `Proxy-Authorization` value.
    pub fn of(cfg: &SessionConfig) -> Self {
        let mut s = Secrets::default();
        s.add(cfg.password.expose());
        if let Some(proxy) = &cfg.transport.proxy {
            if let Some(p) = &proxy.password {
                s.add(p.expose());
                let mut creds = proxy.user.clone().unwrap_or_default().into_bytes();
                creds.push(b':');
                creds.extend_from_slice(p.expose());
                s.add(base64::engine::general_purpose::STANDARD.encode(&creds).as_bytes());
            }
        }
        s
    }

    /// Adds one secret (empty ones are ignored).
    pub fn add(&mut self, secret: &[u8]) {
        if !secret.is_empty() && !self.0.iter().any(|s| s == secret) {
            self.0.push(secret.to_vec());
            // Longest first, so a secret containing another is replaced whole.
            self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub fn redact_text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.0 {
            if let Ok(s) = std::str::from_utf8(s) {
                out = out.replace(s, REDACTED);
            }
        }
        out
    }

    /// Overwrites every secret in `bytes` with `X`s of the same length (so a capture's records keep their sizes);
    /// returns how many were found.
    pub fn mask_bytes(&self, bytes: &mut [u8]) -> usize {
        let mut found = 0;
        for s in &self.0 {
            let mut at = 0;
            while let Some(pos) = find(&bytes[at..], s) {
                let start = at + pos;
                bytes[start..start + s.len()].fill(b'X');
                at = start + s.len();
                found += 1;
            }
        }
        found
    }

    /// Whether `bytes` holds any secret.
    pub fn found_in(&self, bytes: &[u8]) -> bool {
        self.0.iter().any(|s| find(bytes, s).is_some())
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_replaced_in_text_and_masked_in_bytes() {
        let mut s = Secrets::default();
        s.add(b"hunter2");
        s.add(b"hunter2-long");
        s.add(b"");
        assert_eq!(s.redact_text("a hunter2-long b hunter2 c"), "a [redacted] b [redacted] c");
        let mut bytes = b"..hunter2..hunter2".to_vec();
        assert_eq!(s.mask_bytes(&mut bytes), 2);
        assert_eq!(bytes, b"..XXXXXXX..XXXXXXX");
        assert!(!s.found_in(&bytes));
    }
}

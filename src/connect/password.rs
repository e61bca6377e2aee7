//! [`Password`]: a secret (SPICE ticket, proxy credentials) that never shows up in logs or debug output.

/// A password that never shows up in logs or debug output.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }

    /// The bytes to put in the ticket.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

//! The error every parser in [`crate::protocol`] returns.

use thiserror::Error;

/// Why a sequence of bytes is not a valid SPICE structure.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The input ended before the structure did.
    #[error("truncated {what}: need {need} bytes, have {have}")]
    Truncated {
        /// The structure being parsed.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A link header did not start with "REDQ".
    #[error("bad magic {0:02x?}: the peer is not a SPICE server")]
    BadMagic([u8; 4]),
    /// A count or length is larger than this implementation allows.
    #[error("{what} of {value} exceeds the limit of {max}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The value read.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// Fields contradict each other or hold a value with no meaning.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The structure or field.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl ProtocolError {
    /// Shorthand for [`ProtocolError::Invalid`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        ProtocolError::Invalid { what, reason: reason.into() }
    }

    /// Returns an error unless `value <= max`.
    pub fn check_max(what: &'static str, value: u64, max: u64) -> Result<(), Self> {
        if value > max {
            Err(ProtocolError::TooLarge { what, value, max })
        } else {
            Ok(())
        }
    }
}

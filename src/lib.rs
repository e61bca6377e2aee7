//! ryll: a SPICE client whose headline feature is WebDAV folder sharing.
//!
//! # Layout
//! - [`protocol`]: SPICE wire formats as pure functions over bytes (no I/O).

pub mod protocol;

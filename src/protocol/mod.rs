//! SPICE wire formats: constants, headers, link messages and message bodies.
//!
//! Everything here is a pure function over bytes: no sockets, no clocks, no global state, so every parser can be
//! unit-tested with byte vectors and fuzzed. All integers on the wire are little-endian and all structures are
//! packed. Every parser rejects truncated or inconsistent input with a [`ProtocolError`] and bounds every count
//! and length it reads before allocating.
//!
//! # Layout
//! - [`constants`]: protocol numbers (channel types, message types, capabilities, link errors).
//! - [`wire`]: the bounded byte reader the parsers share.
//! - [`caps`]: capability bitsets.
//! - [`link`]: the link handshake (header, SpiceLinkMess, SpiceLinkReply, auth selection, link result).
//! - [`ticket`]: the RSA-OAEP encrypted password ticket.
//! - [`header`]: the mini (6-byte) and full (18-byte) data headers.
//! - [`base`]: messages every channel understands (SET_ACK, PING, NOTIFY, ...).
//! - [`main_channel`]: main-channel messages (INIT, CHANNELS_LIST, NAME, ...).
//! - [`display`]: display-channel messages (surfaces, draw operations, images, streams, caches, DISPLAY_INIT).
//! - [`vmc`]: SpiceVMC and port-channel messages (DATA, COMPRESSED_DATA, PORT_INIT, PORT_EVENT).
//! - [`usbredir`]: the usbredir protocol the usbredir channel carries (hello, device and endpoint info,
//!   control, bulk, interrupt and iso packets), with a reassembler for its byte stream.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

pub mod base;
pub mod caps;
pub mod constants;
pub mod cursor;
pub mod display;
pub mod error;
pub mod header;
pub mod inputs;
pub mod link;
pub mod main_channel;
pub mod ticket;
pub mod usbredir;
pub mod vmc;
pub mod wire;

pub use error::ProtocolError;

/// Result type of every parser in this module.
pub type Result<T> = std::result::Result<T, ProtocolError>;

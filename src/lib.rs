//! ryll: a SPICE client whose headline feature is WebDAV folder sharing.
//!
//! # Layout
//! - [`protocol`]: SPICE wire formats as pure functions over bytes (no I/O).
//! - [`webdav`]: the WebDAV mux and the embedded WebDAV server for folder sharing.
//! - [`capture`]: pcap capture of each channel's traffic.

pub mod capture;
pub mod protocol;
pub mod webdav;

//! WebDAV folder sharing.

pub mod mux;

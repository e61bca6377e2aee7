//! WebDAV folder sharing.

pub mod mux;
pub mod server;
pub mod share_stats;
pub mod sharefs;
pub mod unread_body;

//! WebDAV folder sharing.
//!
//! - [`mux`]: the pure framing and routing of the guest's connections over the channel.
//! - [`server`]: the WebDAV server for one share (dav-server + hyper), built from `dispatch` (one request),
//!   [`methods`] (method policy), `paths` (path policy), [`bodies`] (the request and response body wrappers)
//!   and [`pace`] (response bodies paced by the connection's writes).
//! - [`unavailable`]: the raw 503 answers sent without a server.
//! - [`named`]: named shares (`--share NAME=PATH`), served behind a read-only virtual root.
//! - [`protect`]: which paths of a share are hidden or read-only (credential stores, login files).
//! - [`windows`], [`winnames`]: hints for Windows guests (the mini-redirector's size limit, names Windows cannot
//!   represent).
//! - [`share_dir`]: checking a directory chosen for sharing, for every front end.
//! - [`share_stats`], [`unread_body`], [`sharefs`]: live statistics, draining unread bodies, the share's filesystem.

pub mod bodies;
pub mod coalesce;
mod dispatch;
pub mod methods;
pub mod mux;
pub mod named;
pub mod pace;
mod paths;
pub mod protect;
pub mod server;
pub mod share_dir;
pub mod share_stats;
pub mod sharefs;
pub mod unavailable;
pub mod unread_body;
pub mod windows;
pub mod winnames;

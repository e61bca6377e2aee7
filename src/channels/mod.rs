//! Channels: one module per channel type, plus the code they share.
//!
//! - [`link`]: the link handshake (on a stream `connect::dial` opened) and `LinkFailure`.
//! - [`io`]: the bounded message reader and the writer task.
//! - [`base`]: PING/PONG, the ACK window, NOTIFY and DISCONNECTING, common to every channel.
//! - [`driver`]: the read loop every channel runs on; a channel supplies only its message handler.
//! - [`main_channel`]: the main channel.
//! - [`compression`]: when the WebDAV channel uses LZ4 (`--share-compression`).
//! - [`vmc`]: the SpiceVMC transport shared by the VMC channels (WebDAV and usbredir).
//! - [`webdav`]: the WebDAV channel (type 11) that carries folder sharing.
//! - [`display`], [`inputs`], [`cursor`]: the guest's screen, keyboard and mouse, and pointer.
//! - [`stream_reports`]: STREAM_REPORT windows for the display channel's video streams (pure).
//! - [`usbredir`]: the usbredir channel (type 9), which gives the guest ryll's virtual USB disk.
//! - [`mux_io`]: the byte streams between the WebDAV channel and each guest connection's HTTP server.

pub mod base;
pub mod compression;
pub mod cursor;
pub mod display;
pub mod driver;
pub mod inputs;
pub mod io;
pub mod link;
pub mod main_channel;
pub mod mux_io;
pub mod stream_reports;
pub mod usbredir;
pub mod vmc;
pub mod webdav;

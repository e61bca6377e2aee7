//! ryll: a SPICE client whose headline feature is WebDAV folder sharing.
//!
//! # Layout
//! - [`protocol`]: SPICE wire formats as pure functions over bytes (no I/O).
//! - [`canvas`]: surfaces, caches and draw operations of the display channel (pure; no I/O).
//! - [`codecs`]: the display channel's image decoders (pure, bounded; no I/O).
//! - [`channels`]: one module per channel type, plus the shared link and VMC transport code.
//! - [`connect`]: connection sources (`--direct`, `.vv` files, `spice://` URIs), TLS and HTTP CONNECT proxies.
//! - [`session`]: the session core that both front ends drive.
//! - [`app`]: the desktop window (egui); [`headless`]: the front end without a window; [`event_log`]: how both
//!   log a session's events.
//! - [`webdav`]: the WebDAV mux and the embedded WebDAV server for folder sharing.
//! - [`log_limit`]: rate limits for log lines a peer can trigger.
//! - [`capture`]: pcap capture of each channel's traffic.
//! - [`bug_report`]: "Report this as a bug" bundles (recent log, capture, no secrets).
//! - [`remember`]: the shares remembered per VM (a TOML file in the XDG config directory).

#[cfg(feature = "gui")]
pub mod app;
pub mod bug_report;
pub mod canvas;
pub mod capture;
pub mod channels;
pub mod cli;
pub mod codecs;
pub mod connect;
pub mod event_log;
pub mod headless;
pub mod headless_commands;
pub mod input;
pub mod log_limit;
pub mod mem;
pub mod protocol;
pub mod remember;
pub mod screenshot;
pub mod scripted_input;
pub mod session;
pub mod usb;
pub mod webdav;

//! Test support: an in-process fake SPICE server over real TCP, a fake guest `spice-webdavd` on its WebDAV
//! channel, and a driver for ryll's session core.
//!
//! # Layout
//! - [`server`]: [`FakeServer`], the fake SPICE server. It runs the real link handshake (fresh RSA-1024 key per
//!   link, OAEP-SHA1 ticket), plays the main channel (INIT, NAME, UUID, CHANNELS_LIST, PINGs, ...) and records
//!   what the client did in a [`State`] the test can inspect or wait on.
//! - [`guest`]: [`FakeGuest`], the guest side of the WebDAV channel (the part spice-webdavd plays): mux framing,
//!   port events, LZ4 data, PING.
//! - [`http`]: HTTP/1.1 request builders and a response parser for the bytes that come back through the mux.
//! - [`session`]: [`RunningSession`], which drains ryll's session events into a log tests can wait on.
//! - [`fixture`]: [`Sharing`], a fake server plus a session sharing a temporary folder.
//!
//! Every wait is bounded by [`TIMEOUT`], so a broken client fails a test instead of hanging it.
#![allow(dead_code)]

pub mod fixture;
pub mod guest;
pub mod http;
pub mod server;
pub mod session;

#[allow(unused_imports)]
pub use fixture::Sharing;
#[allow(unused_imports)]
pub use guest::{FakeGuest, GuestConn};
#[allow(unused_imports)]
pub use server::{FakeServer, FakeServerConfig, LinkResult, MainControl, State, INPUTS, WEBDAV};
#[allow(unused_imports)]
pub use session::RunningSession;

use std::future::Future;
use std::time::Duration;

/// Upper bound of every wait in the tests: generous, only there to turn a hang into a failure.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits `fut`, failing the test if it takes longer than [`TIMEOUT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {TIMEOUT:?} waiting for {what}"),
    }
}

/// Sends ryll's logs to the test output; filter with `RUST_LOG` (e.g. `RUST_LOG=ryll=debug`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// `len` deterministic pseudo-random bytes (xorshift64*), different for each `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A temporary directory holding `files` (relative paths; parent directories are created).
pub fn share_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("create a temporary directory");
    for (name, data) in files {
        let path = dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a directory in the share");
        }
        std::fs::write(&path, data).expect("write a file in the share");
    }
    dir
}

//! Where to connect and how: connection sources (`--direct`, `.vv` files, `spice://` URIs), TLS, HTTP CONNECT
//! proxies, and opening one channel's byte stream with them.
//!
//! - [`target`]: the resolved [`target::ConnectTarget`] every source produces, and the secure-channels policy.
//! - [`vv`]: virt-viewer connection files (`[virt-viewer]` INI, as remote-viewer reads them).
//! - [`uri`]: `spice://` and `spice+tls://` URIs, and `--direct`.
//! - [`addr`]: the HOST:PORT syntax shared by every source and every dial.
//! - [`password`]: [`password::Password`], a secret that never shows up in logs.
//! - [`percent`]: the one %-decoder of URIs and proxy credentials.
//! - [`proxy`]: HTTP CONNECT proxies (`http://[user:pass@]host:port`) with Basic credentials.
//! - [`tls`]: rustls client configuration with spice-gtk's certificate checks (CA, host subject, host name).
//! - [`tcp`]: TCP connect with a timeout, and the timeout of each step of opening a channel.
//! - [`dial`]: opening one channel's stream: TCP or proxy tunnel, then TLS when asked.
//! - [`error`]: [`error::ConnectError`], why a stream could not be opened, naming the cause and the next step.
//!
//! The parsers are pure functions with no I/O; only `vv::read_file`, `tcp`, `proxy::connect` and `dial` touch the
//! outside world. Nothing here depends on `channels/`: the link handshake runs on the stream `dial` returns.

pub mod addr;
pub mod dial;
pub mod error;
pub mod password;
pub mod percent;
pub mod proxy;
pub mod target;
pub mod tcp;
pub mod tls;
pub mod uri;
pub mod vv;

//! Where to connect and how: connection sources (`--direct`, `.vv` files, `spice://` URIs), TLS, HTTP CONNECT
//! proxies, and opening one channel's byte stream with them.
//!
//! - [`target`]: the resolved [`target::ConnectTarget`] every source produces, and the secure-channels policy.
//! - [`vv`]: virt-viewer connection files (`[virt-viewer]` INI, as remote-viewer reads them).
//! - [`uri`]: `spice://` and `spice+tls://` URIs, and the HOST:PORT syntax shared by every source.
//! - [`proxy`]: HTTP CONNECT proxies (`http://[user:pass@]host:port`) with Basic credentials.
//! - [`tls`]: rustls client configuration with spice-gtk's certificate checks (CA, host subject, host name).
//! - [`dial`]: opening one channel's stream: TCP or proxy tunnel, then TLS when asked.
//!
//! The parsers are pure functions with no I/O; only `vv::read_file`, `proxy::connect` and `dial` touch the
//! outside world.

pub mod dial;
pub mod proxy;
pub mod target;
pub mod tls;
pub mod uri;
pub mod vv;

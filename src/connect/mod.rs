//! Where to connect and how: connection sources (`--direct`, `.vv` files, `spice://` URIs) and HTTP CONNECT
//! proxies.
//!
//! - [`target`]: the resolved [`target::ConnectTarget`] every source produces, and the secure-channels policy.
//! - [`vv`]: virt-viewer connection files (`[virt-viewer]` INI, as remote-viewer reads them).
//! - [`uri`]: `spice://` and `spice+tls://` URIs, and the HOST:PORT syntax shared by every source.
//! - [`proxy`]: HTTP CONNECT proxies (`http://[user:pass@]host:port`) with Basic credentials.
//!
//! The parsers are pure functions with no I/O; only `vv::read_file` and `proxy::connect` touch the outside world.

pub mod proxy;
pub mod target;
pub mod uri;
pub mod vv;

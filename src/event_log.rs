//! How both front ends log a session: one line a person can act on per [`SessionEvent`], the same words in the
//! headless runner's output and in the window's log.

use crate::channels::webdav::WebdavEvent;
use crate::protocol::base::Severity;
use crate::protocol::constants::ChannelType;
use crate::session::{SessionEnd, SessionEvent};

/// How to add the WebDAV port to a VM, shown when the server offers none.
pub const WEBDAV_SETUP_HINT: &str = "the server offers no WebDAV channel, so folder sharing is unavailable. Add the \
     org.spice-space.webdav.0 port to the VM. QEMU: -device virtio-serial-pci -chardev \
     spiceport,name=org.spice-space.webdav.0,id=webdav0 -device \
     virtserialport,chardev=webdav0,name=org.spice-space.webdav.0 ; libvirt: <channel type='spiceport'><source \
     channel='org.spice-space.webdav.0'/><target type='virtio' name='org.spice-space.webdav.0'/></channel>";

/// Logs one event as a line a person can act on.
pub fn log_event(ev: &SessionEvent) {
    match ev {
        SessionEvent::Connecting(addr) => tracing::info!("connecting to {addr}"),
        SessionEvent::Connected { session_id } => {
            tracing::info!("connected: main channel linked (session {session_id:#x})")
        }
        SessionEvent::ServerName(name) => tracing::info!("server name: {name}"),
        SessionEvent::ServerUuid(uuid) => tracing::info!("server uuid: {uuid}"),
        SessionEvent::ChannelOffered(ch) => tracing::info!("channel offered: {ch}"),
        SessionEvent::ChannelNotHandled(ch) => {
            tracing::info!(
                "channel {ch} is listed but not linked (ryll does not handle {} channels yet)",
                ch.channel_type
            )
        }
        SessionEvent::ChannelLinked(ch) => tracing::info!("channel linked: {ch}"),
        SessionEvent::ChannelFailed { channel, error } => tracing::error!("channel {channel} failed: {error}"),
        SessionEvent::ChannelClosed { channel, reason } => tracing::warn!("channel {channel} closed: {reason}"),
        SessionEvent::NoWebdavChannel => tracing::warn!("{WEBDAV_SETUP_HINT}"),
        SessionEvent::Notice { severity, message } => match severity {
            Severity::Error => tracing::error!("server notice: {message}"),
            Severity::Warn => tracing::warn!("server notice: {message}"),
            _ => tracing::info!("server notice: {message}"),
        },
        SessionEvent::SharingStarted { root, read_only } => {
            tracing::info!("sharing {} ({})", root.display(), if *read_only { "read-only" } else { "read-write" })
        }
        SessionEvent::SharingStopped => tracing::info!("sharing stopped"),
        SessionEvent::ShareError(e) => tracing::error!("cannot share: {e}"),
        SessionEvent::Webdav(ev) => log_webdav(ev),
        SessionEvent::ShareActivity(a) => tracing::debug!(
            "webdav: {} B to the guest, {} B from it, {} connection(s), {} request(s) served, {} in flight",
            a.bytes_to_guest,
            a.bytes_from_guest,
            a.open_connections,
            a.requests_served,
            a.requests_in_flight
        ),
        SessionEvent::Ended(end) => log_end(end),
    }
}

fn log_webdav(ev: &WebdavEvent) {
    match ev {
        WebdavEvent::PortInit { name, opened } => tracing::info!(
            "webdav: port {name} ready; the guest has it {}",
            if *opened { "open" } else { "closed (is spice-webdavd running in the guest?)" }
        ),
        WebdavEvent::PortOpened => tracing::info!("webdav: the guest's spice-webdavd opened the port; sharing is live"),
        WebdavEvent::PortClosed => {
            tracing::info!("webdav: the guest port is closed (spice-webdavd not running or restarting in the guest)")
        }
        WebdavEvent::ClientOpened(id) => tracing::debug!("webdav: guest connection {id:#x} opened"),
        WebdavEvent::ClientClosed(id) => tracing::debug!("webdav: guest connection {id:#x} closed"),
        WebdavEvent::ClientRefused(id) => tracing::warn!("webdav: guest connection {id:#x} refused (too many open)"),
        WebdavEvent::ClientStalled(id) => tracing::warn!("webdav: guest connection {id:#x} stalled and was dropped"),
        WebdavEvent::UnexpectedPort(name) => tracing::warn!(
            "webdav: the {} channel carries port {name:?}, not org.spice-space.webdav.0",
            ChannelType::Webdav
        ),
        WebdavEvent::Notice(text) => tracing::info!("webdav: {text}"),
    }
}

/// Logs the session's end: at info level when it ended cleanly, as an error otherwise.
pub fn log_end(end: &SessionEnd) {
    if end.is_clean() {
        tracing::info!("session ended: {end}");
    } else {
        tracing::error!("session ended: {end}");
    }
}

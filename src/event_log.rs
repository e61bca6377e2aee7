//! How both front ends log a session: one line a person can act on per [`SessionEvent`], the same words in the
//! headless runner's output and in the window's log.

use crate::channels::webdav::WebdavEvent;
use crate::log_limit::limited;
use crate::protocol::base::Severity;
use crate::protocol::constants::ChannelType;
use crate::session::remember::RememberEvent;
use crate::session::{DisplayEvent, SessionEnd, SessionEvent};
use crate::webdav::windows::{NamesUpdate, SizeLimitHit, SIZE_LIMIT_FIX};

/// How to add the WebDAV port to a VM, shown when the server offers none.
pub const WEBDAV_SETUP_HINT: &str = "the server offers no WebDAV channel, so folder sharing is unavailable. Add the \
     org.spice-space.webdav.0 port to the VM. QEMU: -device virtio-serial-pci -chardev \
     spiceport,name=org.spice-space.webdav.0,id=webdav0 -device \
     virtserialport,chardev=webdav0,name=org.spice-space.webdav.0 ; libvirt: <channel type='spiceport'><source \
     channel='org.spice-space.webdav.0'/><target type='virtio' name='org.spice-space.webdav.0'/></channel>";

/// Why a WebDAV channel closes at once after linking, and what to do ([`WebdavEvent::ClosedBeforePortInit`]).
pub const PROXY_FILTER_DIAGNOSIS: &str = "the WebDAV channel was closed by the server side right after it linked, \
     before PORT_INIT (a port channel's first message) arrived: a SPICE proxy in between may be filtering \
     port-channel messages (kerbside 0.8.0 does unless KERBSIDE_FIREWALL_MODE=warn); see docs/kerbside.md. The \
     session goes on without folder sharing; ryll links the channel again with a growing delay";

/// A mouse mode's name.
pub fn mouse_mode_name(mode: u16) -> &'static str {
    match mode {
        1 => "server (relative moves, pointer grab)",
        2 => "client (absolute positions)",
        _ => "unknown",
    }
}

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
        SessionEvent::ChannelFailed { channel, error } => {
            limited("channel failed", |more| tracing::error!("channel {channel} failed: {error}{more}"))
        }
        SessionEvent::ChannelClosed { channel, reason } => {
            limited("channel closed", |more| tracing::warn!("channel {channel} closed: {reason}{more}"))
        }
        SessionEvent::ChannelRelinking { channel, delay, attempt } => limited("channel relinking", |more| {
            tracing::warn!("channel {channel}: relinking in {} ms (attempt {attempt}){more}", delay.as_millis())
        }),
        SessionEvent::NoWebdavChannel => tracing::warn!("{WEBDAV_SETUP_HINT}"),
        SessionEvent::NoUsbredirChannel => tracing::warn!("usb: {}", crate::session::usb::USBREDIR_SETUP_HINT),
        SessionEvent::Notice { severity, message } => limited("server notice", |more| match severity {
            Severity::Error => tracing::error!("server notice: {message}{more}"),
            Severity::Warn => tracing::warn!("server notice: {message}{more}"),
            _ => tracing::info!("server notice: {message}{more}"),
        }),
        SessionEvent::SharingStarted { root, read_only } => {
            tracing::info!("sharing {} ({})", root.display(), if *read_only { "read-only" } else { "read-write" })
        }
        SessionEvent::SharingStopped => tracing::info!("sharing stopped"),
        SessionEvent::SharesChanged(list) if list.is_empty() => tracing::info!("no named shares"),
        SessionEvent::SharesChanged(list) => {
            let shares: Vec<String> = list
                .iter()
                .map(|s| format!("/{}/ = {} ({})", s.name, s.root.display(), if s.read_only { "ro" } else { "rw" }))
                .collect();
            tracing::info!("sharing {}", shares.join(", "))
        }
        SessionEvent::MouseMode { supported, current } => tracing::info!(
            "mouse mode: {} (the server offers {})",
            mouse_mode_name(*current),
            match supported & 3 {
                3 => "server and client",
                2 => "client",
                _ => "server only: add -device usb-tablet or a guest agent for client mode",
            }
        ),
        SessionEvent::ShareError(e) => tracing::error!("cannot share: {e}"),
        SessionEvent::Webdav(ev) => log_webdav(ev),
        SessionEvent::Remember(ev) => log_remember(ev),
        SessionEvent::Display(DisplayEvent::Surface { channel, width, height }) => {
            limited("display surface", |more| tracing::info!("display {channel}: screen is {width}×{height}{more}"))
        }
        SessionEvent::Display(DisplayEvent::FirstFrame { channel }) => {
            limited("display first frame", |more| tracing::info!("display {channel}: first full frame{more}"))
        }
        SessionEvent::Display(DisplayEvent::NoChannel) => tracing::warn!("the server offers no display channel"),
        SessionEvent::ShareActivity(a) => {
            log_compression(a);
            tracing::debug!(
                "webdav: {} B to the guest, {} B from it, {} connection(s), {} request(s) served, {} in flight",
                a.bytes_to_guest,
                a.bytes_from_guest,
                a.open_connections,
                a.requests_served,
                a.requests_in_flight
            )
        }
        SessionEvent::WindowsSizeLimit(hit) => log_size_limit(hit),
        SessionEvent::WindowsNames(update) => log_windows_names(update),
        SessionEvent::Ended(end) => log_end(end),
    }
}

/// The one-time hint of a Windows guest's size limit, with the registry fix.
fn log_size_limit(hit: &SizeLimitHit) {
    tracing::warn!("windows guest: {}, at the WebDAV client's file size limit. {}", hit.summary(), SIZE_LIMIT_FIX);
}

/// Names a Windows guest cannot show, one line each, and the count of the rest.
fn log_windows_names(update: &NamesUpdate) {
    for (path, problem) in &update.new {
        tracing::warn!("windows guest cannot show {path:?}: its name has {problem}; rename it on the host to use it");
    }
    if update.more > 0 {
        let at_least = if update.more_at_least { "at least " } else { "" };
        tracing::warn!("windows guest cannot show {at_least}{} more path(s) (not listed by name)", update.more);
    }
}

/// Says what compression saved each time the total doubles (from 1 MiB), so a long transfer logs a few lines.
fn log_compression(a: &crate::session::ShareActivity) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1 << 20);
    let next = NEXT.load(Ordering::Relaxed);
    if a.compression_saved >= next {
        NEXT.store(a.compression_saved.saturating_mul(2), Ordering::Relaxed);
        tracing::info!("webdav: compression {}", a.compression());
    }
}

fn log_webdav(ev: &WebdavEvent) {
    match ev {
        WebdavEvent::PortInit { name, opened } => limited("webdav port init", |more| {
            tracing::info!(
                "webdav: port {name} ready; the guest has it {}{more}",
                if *opened { "open" } else { "closed (is spice-webdavd running in the guest?)" }
            )
        }),
        WebdavEvent::PortOpened => limited("webdav port opened", |more| {
            tracing::info!("webdav: the guest's spice-webdavd opened the port; sharing is live{more}")
        }),
        WebdavEvent::PortClosed => limited("webdav port closed", |more| {
            tracing::info!(
                "webdav: the guest port is closed (spice-webdavd not running or restarting in the guest){more}"
            )
        }),
        WebdavEvent::ClientOpened(id) => tracing::debug!("webdav: guest connection {id:#x} opened"),
        WebdavEvent::ClientClosed(id) => tracing::debug!("webdav: guest connection {id:#x} closed"),
        WebdavEvent::ClientRefused(id) => limited("webdav refused", |more| {
            tracing::warn!("webdav: guest connection {id:#x} refused with 503 (too many open){more}")
        }),
        WebdavEvent::ClientStalled(id) => limited("webdav stalled", |more| {
            tracing::warn!("webdav: guest connection {id:#x} stalled and was dropped{more}")
        }),
        WebdavEvent::UnexpectedPort(name) => limited("webdav unexpected port", |more| {
            tracing::warn!(
                "webdav: the {} channel carries port {name:?}, not org.spice-space.webdav.0{more}",
                ChannelType::Webdav
            )
        }),
        WebdavEvent::Notice(text) => limited("webdav notice", |more| tracing::info!("webdav: {text}{more}")),
        WebdavEvent::ClosedBeforePortInit => tracing::warn!("{PROXY_FILTER_DIAGNOSIS}"),
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

/// The remembered shares' events: the notice that a share starts again, what was skipped, saved or forgotten.
fn log_remember(ev: &RememberEvent) {
    match ev {
        RememberEvent::Identified { key, remembering } => {
            tracing::info!("remembered shares: this VM is {key}{}", if *remembering { " (remembering)" } else { "" })
        }
        RememberEvent::Restored(share) => tracing::info!("{}", remember_notice(share)),
        RememberEvent::Skipped { share, reason } => {
            tracing::warn!("remembered share {share} skipped: {reason}")
        }
        RememberEvent::Overridden(n) => tracing::info!(
            "{n} remembered share(s) for this VM not started: the command line's share is used (add --remember to \
             remember it instead)"
        ),
        RememberEvent::Saved(list) => {
            let names: Vec<String> = list.iter().map(|s| s.to_string()).collect();
            tracing::info!("remembered for this VM: {}", names.join(", "))
        }
        RememberEvent::Forgotten => tracing::info!("remembered shares: nothing is remembered for this VM now"),
        RememberEvent::Failed(e) => tracing::warn!("remembered shares: {e}"),
    }
}

/// "Sharing X again, remembered for this VM": the same words in the log and the Folders panel.
pub fn remember_notice(share: &crate::remember::RememberedShare) -> String {
    format!("Sharing {share} again, remembered for this VM")
}

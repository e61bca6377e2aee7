//! Folder sharing in the session: the WebDAV channel's [`ChannelKind`], the share slot it serves, starting and
//! stopping a share, and the activity snapshots the front ends show.

use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use super::{SessionEvent, SessionShared, ShareActivity};
use crate::channels::compression::{offer_lz4, Outbound};
use crate::channels::vmc::vmc_caps;
use crate::channels::webdav::{
    run_webdav, ShareSlot, WebdavConfig, WebdavContext, WebdavEvent, WebdavStats, DATA_QUEUE, MAX_WEBDAV_MESSAGE,
};
use crate::protocol::caps::Caps;
use crate::protocol::constants::{ChannelType, SPICEVMC_CAP_DATA_COMPRESS_LZ4};
use crate::webdav::named::{NamedShare, ShareNameError};
use crate::webdav::server::{ShareConfig, ShareServer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Capacity of a WebDAV channel's event queue.
const WEBDAV_EVENTS: usize = 1024;
/// A WebDAV channel that ends this soon after linking without PORT_INIT was closed by something in the way.
pub(crate) const CLOSED_AT_ONCE: Duration = Duration::from_secs(5);

/// The WebDAV channel (type 11): serves the share in [`SessionShared::share`] to the guest's spice-webdavd.
pub(crate) struct WebdavKind {
    config: WebdavConfig,
    share: ShareSlot,
    stats: Arc<WebdavStats>,
    /// Whether [`WebdavEvent::ClosedBeforePortInit`] was said since the last PORT_INIT (it is said once per run).
    diagnosed: Arc<AtomicBool>,
}

impl WebdavKind {
    pub(crate) fn new(config: WebdavConfig, shared: &SessionShared) -> Self {
        WebdavKind {
            config,
            share: shared.share.clone(),
            stats: shared.webdav.clone(),
            diagnosed: Arc::new(AtomicBool::new(false)),
        }
    }
}

impl ChannelKind for WebdavKind {
    fn channel_type(&self) -> ChannelType {
        ChannelType::Webdav
    }

    fn caps(&self) -> Caps {
        // Decided at every link, from the main channel's net-test estimate (see `channels::compression`).
        let c = &self.stats.compression;
        let estimate = c.link_estimate.load(Ordering::Relaxed);
        let offer = offer_lz4(self.config.compression, (estimate > 0).then_some(estimate as f64));
        c.offered.store(offer, Ordering::Relaxed);
        vmc_caps(offer)
    }

    fn max_message(&self) -> u32 {
        MAX_WEBDAV_MESSAGE
    }

    fn data_queue(&self) -> usize {
        DATA_QUEUE
    }

    fn single(&self) -> bool {
        // One share, one mux: a second WebDAV channel would serve the same guest twice.
        true
    }

    fn missing_event(&self) -> Option<SessionEvent> {
        Some(SessionEvent::NoWebdavChannel)
    }

    fn run(&self, linked: LinkedChannel, ctx: ChannelContext) -> ChannelFuture {
        let server_can = linked.info.server_channel.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4);
        let c = &self.stats.compression;
        let estimate = c.link_estimate.load(Ordering::Relaxed);
        let outbound =
            Arc::new(Outbound::new(self.config.compression, server_can, (estimate > 0).then_some(estimate as f64)));
        c.can_send.store(outbound.enabled(), Ordering::Relaxed);
        tracing::info!(
            "webdav: compression {} (mode {:?}, server can decompress: {server_can})",
            c.describe(),
            self.config.compression
        );
        let (tx, mut rx) = mpsc::channel(WEBDAV_EVENTS);
        let webdav = WebdavContext {
            outbound,
            lz4_offered: c.offered.load(Ordering::Relaxed),
            share: self.share.clone(),
            config: self.config.clone(),
            stats: self.stats.clone(),
            events: tx,
        };
        let diagnosed = self.diagnosed.clone();
        Box::pin(async move {
            let linked_at = Instant::now();
            // The channel's events go straight to the front end; they end when the channel does.
            let forward = async {
                let mut port_init = false;
                while let Some(ev) = rx.recv().await {
                    if matches!(ev, WebdavEvent::PortInit { .. }) {
                        port_init = true;
                        diagnosed.store(false, Ordering::Relaxed);
                    }
                    if ctx.events.send(SessionEvent::Webdav(ev)).await.is_err() {
                        break;
                    }
                }
                port_init
            };
            let (end, port_init) = tokio::join!(run_webdav(linked.reader, linked.writer, webdav), forward);
            // spice-server sends PORT_INIT first on every port channel; a close before it, at once, is something
            // in the way (a proxy's message filter), not the guest. Say so once, not at every relink.
            if !port_init && linked_at.elapsed() < CLOSED_AT_ONCE && !diagnosed.swap(true, Ordering::Relaxed) {
                let _ = ctx.events.send(SessionEvent::Webdav(WebdavEvent::ClosedBeforePortInit)).await;
            }
            end
        })
    }
}

/// Installs or removes the share and reports it; returns whether anything changed. The old share is retired
/// ([`ShareServer::retire`]): its connections end at their next request boundary and the guest's next request is
/// served by the new share (or answered 503), on the same WebDAV channel. No relink: through a SPICE proxy such as
/// kerbside, whose console token is checked on every link and expires (one minute by default), a relink after
/// that would be refused and sharing lost for the rest of the session.
pub(crate) async fn set_share(
    shared: &SessionShared,
    events: &mpsc::Sender<SessionEvent>,
    cfg: Option<ShareConfig>,
) -> Result<bool, String> {
    let server = match cfg {
        Some(cfg) => Some(ShareServer::with_windows_hints(cfg, shared.windows.clone()).map_err(|e| e.to_string())?),
        None => None,
    };
    let had_share = shared.current_share().is_some();
    if server.is_none() && !had_share {
        return Ok(false);
    }
    let event = match &server {
        Some(s) => SessionEvent::SharingStarted { root: s.root().to_path_buf(), read_only: s.read_only() },
        None => SessionEvent::SharingStopped,
    };
    let old = match shared.share.write() {
        Ok(mut slot) => std::mem::replace(&mut *slot, server),
        Err(_) => None,
    };
    if let Some(old) = old {
        old.retire();
    }
    let _ = events.send(event).await;
    Ok(had_share)
}

/// Starts serving `shares` as named shares (replacing any current share) and reports them.
pub(crate) async fn start_named(
    shared: &SessionShared,
    events: &mpsc::Sender<SessionEvent>,
    shares: Vec<NamedShare>,
) -> Result<(), String> {
    let server = ShareServer::named_with_windows_hints(shares, shared.windows.clone()).map_err(|e| e.to_string())?;
    let list = server.shares().unwrap_or_default();
    let old = match shared.share.write() {
        Ok(mut slot) => slot.replace(server),
        Err(_) => None,
    };
    if let Some(old) = old {
        old.retire();
    }
    let _ = events.send(SessionEvent::SharesChanged(list)).await;
    Ok(())
}

/// A change to the named shares.
#[derive(Debug)]
pub(crate) enum Change {
    /// Add this share.
    Add(NamedShare),
    /// Remove the share of this name.
    Remove(String),
    /// Make the share of this name read-only (or writable).
    ReadOnly(String, bool),
}

/// Applies `change` to the named shares and reports the new list. The server is not replaced: its share table is
/// swapped ([`ShareServer::change_shares`]), so the guest's connections, and with them its other shares, stay.
/// Adding the first share starts named sharing; removing the last one stops it. Refused while a folder is shared
/// at the root (stop that first).
pub(crate) async fn change_named(
    shared: &SessionShared,
    events: &mpsc::Sender<SessionEvent>,
    change: Change,
) -> Result<(), String> {
    let Some(server) = shared.current_share() else {
        return match change {
            Change::Add(share) => start_named(shared, events, vec![share]).await,
            Change::Remove(name) | Change::ReadOnly(name, _) => Err(ShareNameError::Unknown(name).to_string()),
        };
    };
    let list = server
        .change_shares(|shares| {
            match change {
                Change::Add(share) => shares.push(share),
                Change::Remove(name) => {
                    let before = shares.len();
                    shares.retain(|s| s.name != name);
                    if shares.len() == before {
                        return Err(ShareNameError::Unknown(name).into());
                    }
                }
                Change::ReadOnly(name, read_only) => {
                    let share = shares.iter_mut().find(|s| s.name == name).ok_or(ShareNameError::Unknown(name))?;
                    share.config.read_only = read_only;
                }
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    if list.is_empty() {
        let old = shared.share.write().ok().and_then(|mut slot| slot.take());
        if let Some(old) = old {
            old.retire();
        }
        let _ = events.send(SessionEvent::SharingStopped).await;
    }
    let _ = events.send(SessionEvent::SharesChanged(list)).await;
    Ok(())
}

/// The activity event to send, if anything changed since `last`.
pub(crate) fn activity_update(shared: &SessionShared, last: &mut ShareActivity) -> Option<SessionEvent> {
    let now = shared.share_activity();
    (now != *last).then(|| {
        *last = now;
        SessionEvent::ShareActivity(now)
    })
}

/// The Windows hints to send (checked with the activity): the size-limit hint once per session, and the names
/// newly found that Windows cannot represent.
pub(crate) fn windows_updates(shared: &SessionShared) -> Vec<SessionEvent> {
    let mut out = Vec::new();
    if let Some(hit) = shared.windows.take_size_limit() {
        out.push(SessionEvent::WindowsSizeLimit(hit));
    }
    if let Some(names) = shared.windows.take_names() {
        out.push(SessionEvent::WindowsNames(names));
    }
    out
}

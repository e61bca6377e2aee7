//! Folder sharing in the session: the WebDAV channel's [`ChannelKind`], the share slot it serves, starting and
//! stopping a share, and the activity snapshots the front ends show.

use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use super::{SessionEvent, SessionShared, ShareActivity};
use crate::channels::vmc::vmc_caps;
use crate::channels::webdav::{
    run_webdav, ShareSlot, WebdavConfig, WebdavContext, WebdavEvent, WebdavStats, DATA_QUEUE, MAX_WEBDAV_MESSAGE,
};
use crate::protocol::caps::Caps;
use crate::protocol::constants::{ChannelType, SPICEVMC_CAP_DATA_COMPRESS_LZ4};
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
        vmc_caps(self.config.lz4)
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
        let compress = self.config.lz4 && linked.info.server_channel.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4);
        let (tx, mut rx) = mpsc::channel(WEBDAV_EVENTS);
        let webdav = WebdavContext {
            compress,
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
        Some(cfg) => Some(ShareServer::new(cfg).map_err(|e| e.to_string())?),
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

/// The activity event to send, if anything changed since `last`.
pub(crate) fn activity_update(shared: &SessionShared, last: &mut ShareActivity) -> Option<SessionEvent> {
    let now = shared.share_activity();
    (now != *last).then(|| {
        *last = now;
        SessionEvent::ShareActivity(now)
    })
}

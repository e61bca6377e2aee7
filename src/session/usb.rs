//! The session's side of USB redirection: which disk goes to which usbredir channel ([`UsbKind`], registered when
//! `--usb-disk` gave disks), and what front ends show of each ([`UsbShared`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use super::SessionEvent;
use crate::channels::compression::{offer_lz4, CompressionStats, Outbound, ShareCompression};
use crate::channels::usbredir::{run_usbredir, UsbDisk, MAX_USBREDIR_MESSAGE};
use crate::channels::vmc::vmc_caps;
use crate::channels::webdav::WebdavStats;
use crate::protocol::caps::Caps;
use crate::protocol::constants::{ChannelType, SPICEVMC_CAP_DATA_COMPRESS_LZ4};
use crate::usb::device::IoStats;
use std::sync::atomic::Ordering;

/// One usbredir channel's disk, as front ends show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbView {
    /// The image, once attached.
    pub image: Option<PathBuf>,
    /// Read-only.
    pub read_only: bool,
    /// Its size in 512-byte blocks.
    pub blocks: u64,
    /// What the device has done.
    pub stats: IoStats,
    /// Why the disk could not be attached, if it could not.
    pub error: Option<String>,
}

/// Every usbredir channel's disk, by channel name.
#[derive(Debug, Default)]
pub struct UsbShared {
    views: Mutex<BTreeMap<String, UsbView>>,
}

impl UsbShared {
    fn update(&self, channel: &str, f: impl FnOnce(&mut UsbView)) {
        if let Ok(mut v) = self.views.lock() {
            f(v.entry(channel.to_owned()).or_default());
        }
    }

    /// A disk went to the guest on `channel`.
    pub fn attached(&self, channel: &str, disk: &UsbDisk, blocks: u64) {
        self.update(channel, |v| {
            *v = UsbView { image: Some(disk.path.clone()), read_only: disk.read_only, blocks, ..UsbView::default() }
        });
    }

    /// The disk for `channel` could not be attached.
    pub fn failed(&self, channel: &str, why: String) {
        self.update(channel, |v| v.error = Some(why));
    }

    /// The channel ended: its disk is detached and flushed.
    pub fn detached(&self, channel: &str) {
        self.update(channel, |v| v.image = None);
    }

    /// The device's counters.
    pub fn stats(&self, channel: &str, stats: IoStats) {
        self.update(channel, |v| v.stats = stats);
    }

    /// A copy of every channel's view.
    pub fn views(&self) -> BTreeMap<String, UsbView> {
        self.views.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// The usbredir channel type: the n-th channel the server offers (by id) gets the n-th disk. LZ4 follows the
/// session's compression mode and the same policy as the WebDAV channel's (`channels::compression`): offered when
/// the net test says the link is slow, and used towards the guest per message while it pays.
pub(crate) struct UsbKind {
    disks: Vec<UsbDisk>,
    shared: Arc<UsbShared>,
    /// Where the main channel's net test leaves its link estimate.
    link: Arc<WebdavStats>,
    mode: ShareCompression,
    compression: Arc<CompressionStats>,
}

impl UsbKind {
    pub(crate) fn new(
        disks: Vec<UsbDisk>,
        shared: Arc<UsbShared>,
        link: Arc<WebdavStats>,
        mode: ShareCompression,
    ) -> Self {
        UsbKind { disks, shared, link, mode, compression: Arc::default() }
    }

    fn estimate(&self) -> Option<f64> {
        let e = self.link.compression.link_estimate.load(Ordering::Relaxed);
        (e > 0).then_some(e as f64)
    }
}

impl ChannelKind for UsbKind {
    fn channel_type(&self) -> ChannelType {
        ChannelType::Usbredir
    }

    fn caps(&self) -> Caps {
        let offer = offer_lz4(self.mode, self.estimate());
        self.compression.offered.store(offer, Ordering::Relaxed);
        vmc_caps(offer)
    }

    fn max_message(&self) -> u32 {
        MAX_USBREDIR_MESSAGE
    }

    fn missing_event(&self) -> Option<SessionEvent> {
        Some(SessionEvent::NoUsbredirChannel)
    }

    fn run(&self, linked: LinkedChannel, ctx: ChannelContext) -> ChannelFuture {
        let disk = self.disks.get(usize::from(ctx.id.id)).cloned();
        let server_can = linked.info.server_channel.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4);
        let outbound = Outbound::new(self.mode, server_can, self.estimate());
        self.compression.can_send.store(outbound.enabled(), Ordering::Relaxed);
        let lz4 = (outbound, self.compression.clone());
        Box::pin(run_usbredir(linked, disk, self.shared.clone(), ctx.id.to_string(), lz4))
    }
}

/// What to tell a user whose server offers no usbredir channel.
pub const USBREDIR_SETUP_HINT: &str = "the server offers no usbredir channel, so --usb-disk has nowhere to go. Add \
    one per disk to the VM: with QEMU, -device qemu-xhci -chardev spicevmc,name=usbredir,id=usbredir1 -device \
    usb-redir,chardev=usbredir1; with libvirt, <controller type='usb' model='qemu-xhci'/> and <redirdev bus='usb' \
    type='spicevmc'/> in <devices>";

//! The session's side of USB redirection: which disk goes to which usbredir channel ([`UsbKind`]), what front ends
//! show of each, and how they attach and detach disks while the session runs ([`UsbShared`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;

use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use super::SessionEvent;
use crate::channels::compression::{offer_lz4, CompressionStats, Outbound, ShareCompression};
use crate::channels::usbredir::{run_usbredir, UsbChannel, UsbCommand, UsbDisk, MAX_USBREDIR_MESSAGE};
use crate::channels::vmc::vmc_caps;
use crate::channels::webdav::WebdavStats;
use crate::protocol::caps::Caps;
use crate::protocol::constants::{ChannelType, SPICEVMC_CAP_DATA_COMPRESS_LZ4};
use crate::usb::device::IoStats;
use std::sync::atomic::Ordering;

/// One usbredir channel's disk, as front ends show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsbView {
    /// The channel's name in logs.
    pub label: String,
    /// The channel is linked: a disk can be attached.
    pub linked: bool,
    /// The image, while attached.
    pub image: Option<PathBuf>,
    /// Read-only.
    pub read_only: bool,
    /// The speed the guest sees it at.
    pub speed: crate::channels::usbredir::Speed,
    /// Its size in 512-byte blocks.
    pub blocks: u64,
    /// When it was attached.
    pub attached_at: Option<Instant>,
    /// What the device has done since.
    pub stats: IoStats,
    /// The guest has locked the medium in (PREVENT ALLOW MEDIUM REMOVAL).
    pub removal_prevented: bool,
    /// The last thing that went wrong, until dismissed.
    pub error: Option<String>,
}

impl UsbView {
    /// Detaching now could lose the guest's data: a write is under way, or the guest has locked the medium in.
    pub fn busy(&self) -> bool {
        self.image.is_some() && (self.stats.writing || self.removal_prevented)
    }
}

/// Every usbredir channel's disk by channel id, and the way to the running channels' hosts.
#[derive(Debug, Default)]
pub struct UsbShared {
    views: Mutex<BTreeMap<u8, UsbView>>,
    commands: Mutex<BTreeMap<u8, mpsc::Sender<UsbCommand>>>,
    /// The disk each channel gets when it links (again): `--usb-disk`, then what was attached last.
    wanted: Mutex<BTreeMap<u8, UsbDisk>>,
}

impl UsbShared {
    fn update(&self, channel: u8, f: impl FnOnce(&mut UsbView)) {
        if let Ok(mut v) = self.views.lock() {
            f(v.entry(channel).or_default());
        }
    }

    /// The channel linked; `commands` reaches its host.
    pub(crate) fn linked(&self, channel: &UsbChannel, commands: mpsc::Sender<UsbCommand>) {
        self.commands.lock().unwrap_or_else(|e| e.into_inner()).insert(channel.id, commands);
        self.update(channel.id, |v| {
            v.label = channel.name.clone();
            v.linked = true;
        });
    }

    /// The channel ended (its disk, if any, is already detached and flushed).
    pub(crate) fn unlinked(&self, channel: u8) {
        self.commands.lock().unwrap_or_else(|e| e.into_inner()).remove(&channel);
        self.update(channel, |v| v.linked = false);
    }

    /// The disk `channel` gets when it links, if any.
    pub(crate) fn wanted(&self, channel: u8) -> Option<UsbDisk> {
        self.wanted.lock().unwrap_or_else(|e| e.into_inner()).get(&channel).cloned()
    }

    /// `channel` gets `disk` (none: no disk) when it links (again).
    pub(crate) fn want(&self, channel: u8, disk: Option<UsbDisk>) {
        let mut wanted = self.wanted.lock().unwrap_or_else(|e| e.into_inner());
        match disk {
            Some(d) => wanted.insert(channel, d),
            None => wanted.remove(&channel),
        };
    }

    /// A disk went to the guest on `channel`.
    pub fn attached(&self, channel: u8, disk: &UsbDisk, blocks: u64) {
        self.want(channel, Some(disk.clone()));
        self.update(channel, |v| {
            v.image = Some(disk.path.clone());
            v.read_only = disk.read_only;
            v.speed = disk.speed;
            v.blocks = blocks;
            v.attached_at = Some(Instant::now());
            v.stats = IoStats::default();
            v.removal_prevented = false;
            v.error = None;
        });
    }

    /// Something went wrong on `channel` (the disk could not be attached, or a command was refused).
    pub fn failed(&self, channel: u8, why: String) {
        self.update(channel, |v| v.error = Some(why));
    }

    /// The disk of `channel` is detached and flushed (`error`: the flush failed).
    pub fn detached(&self, channel: u8, error: Option<String>) {
        self.update(channel, |v| {
            v.image = None;
            v.attached_at = None;
            v.removal_prevented = false;
            v.stats.writing = false;
            if error.is_some() {
                v.error = error;
            }
        });
    }

    /// The device's counters.
    pub fn stats(&self, channel: u8, stats: IoStats, removal_prevented: bool) {
        self.update(channel, |v| {
            v.stats = stats;
            v.removal_prevented = removal_prevented;
        });
    }

    /// Forgets `channel`'s error (the panel's Dismiss).
    pub fn dismiss(&self, channel: u8) {
        self.update(channel, |v| v.error = None);
    }

    /// Asks `channel` to attach `disk`. `Err` says why it cannot be asked (the channel is not linked, or busy); what
    /// becomes of the request shows in the channel's view.
    pub fn attach(&self, channel: u8, disk: UsbDisk) -> Result<(), String> {
        self.command(channel, UsbCommand::Attach(disk))
    }

    /// Asks `channel` to detach its disk (the image is flushed and closed).
    pub fn detach(&self, channel: u8) -> Result<(), String> {
        self.command(channel, UsbCommand::Detach)
    }

    fn command(&self, channel: u8, c: UsbCommand) -> Result<(), String> {
        let commands = self.commands.lock().unwrap_or_else(|e| e.into_inner());
        let Some(tx) = commands.get(&channel) else {
            return Err(format!("usbredir channel {channel} is not linked"));
        };
        tx.try_send(c).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => format!("usbredir channel {channel} is busy; try again"),
            mpsc::error::TrySendError::Closed(_) => format!("usbredir channel {channel} has ended"),
        })
    }

    /// One channel's view.
    pub fn view(&self, channel: u8) -> Option<UsbView> {
        self.views.lock().ok().and_then(|v| v.get(&channel).cloned())
    }

    /// A copy of every channel's view.
    pub fn views(&self) -> BTreeMap<u8, UsbView> {
        self.views.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

/// The usbredir channel type: channel n (by id) starts with the n-th `--usb-disk`, and after a relink with the disk
/// it had last; a channel without a disk waits for [`UsbShared::attach`]. LZ4 follows the
/// session's compression mode and the same policy as the WebDAV channel's (`channels::compression`): offered when
/// the net test says the link is slow, and used towards the guest per message while it pays.
pub(crate) struct UsbKind {
    /// How many `--usb-disk` disks were given.
    disks: usize,
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
        for (id, disk) in disks.iter().enumerate() {
            if let Ok(id) = u8::try_from(id) {
                shared.want(id, Some(disk.clone()));
            }
        }
        let disks = disks.len();
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
        (self.disks > 0).then_some(SessionEvent::NoUsbredirChannel)
    }

    fn run(&self, linked: LinkedChannel, ctx: ChannelContext) -> ChannelFuture {
        let disk = self.shared.wanted(ctx.id.id);
        let server_can = linked.info.server_channel.has(SPICEVMC_CAP_DATA_COMPRESS_LZ4);
        let outbound = Outbound::new(self.mode, server_can, self.estimate());
        self.compression.can_send.store(outbound.enabled(), Ordering::Relaxed);
        let lz4 = (outbound, self.compression.clone());
        let channel = UsbChannel { id: ctx.id.id, name: ctx.id.to_string() };
        Box::pin(run_usbredir(linked, disk, self.shared.clone(), channel, lz4))
    }
}

/// What to tell a user whose server offers no usbredir channel.
pub const USBREDIR_SETUP_HINT: &str = "the server offers no usbredir channel, so --usb-disk has nowhere to go. Add \
    one per disk to the VM: with QEMU, -device qemu-xhci -chardev spicevmc,name=usbredir,id=usbredir1 -device \
    usb-redir,chardev=usbredir1; with libvirt, <controller type='usb' model='qemu-xhci'/> and <redirdev bus='usb' \
    type='spicevmc'/> in <devices>";

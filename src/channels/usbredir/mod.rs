//! The usbredir channel (type 9): a SpiceVMC channel whose byte stream is the usbredir protocol, on the shared
//! driver and VMC transport (LZ4 both ways under the WebDAV channel's policy). ryll is the usb-host: after both
//! hellos it attaches its virtual disk ([`crate::usb::device::MassStorage`]) with interface_info, ep_info and
//! device_connect, and answers every transfer the usb-guest (QEMU's `usb-redir`) sends.
//!
//! Two halves run side by side:
//! - the read loop ([`drive`]) reassembles the byte stream into packets and checks their order (one hello, first);
//!   its header sizes follow the hello, so it alone decodes;
//! - the host ([`host::Host`]) owns the device and answers the packets in order, image I/O on the blocking pool.
//!   It also takes the front end's [`UsbCommand`]s, so a disk can be attached and detached while the channel runs
//!   (device_disconnect, then the usb-guest's ack before the next device_connect).
//!
//! A stream that breaks the protocol ends the channel with the reason (its framing is lost); the session core then
//! relinks it, and the disk the channel had is attached afresh.

mod host;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::compression::{CompressionStats, Outbound};
use super::driver::{drive, AbortOnDrop, ChannelEnd, MessageHandler};
use super::io::{Outgoing, RawMessage};
use super::vmc::{decode_incoming, VmcIncoming};
use crate::protocol::base::Notify;
use crate::protocol::usbredir::{Deframer, Message, Negotiated, Packet, Sender, OUR_CAPS};
use crate::session::usb::UsbShared;
use crate::session::LinkedChannel;
pub use crate::usb::descriptors::Speed;

/// The largest message accepted: the server sends at most 64 KiB + 32 per message; LZ4 data decompresses to what
/// its header announces, bounded by the VMC parser.
pub const MAX_USBREDIR_MESSAGE: u32 = 1024 * 1024;
/// Packets read ahead of the host (each at most [`crate::protocol::usbredir::MAX_PACKET_LEN`]).
const PACKET_QUEUE: usize = 8;
/// Commands queued for a channel before more are refused.
pub const COMMAND_QUEUE: usize = 8;

/// A disk image to attach as a USB stick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbDisk {
    /// The raw image.
    pub path: PathBuf,
    /// Opened read-only, reported write-protected.
    pub read_only: bool,
    /// The speed the guest sees it at (SuperSpeed unless asked).
    pub speed: Speed,
}

impl UsbDisk {
    /// `path` as a disk to attach (at SuperSpeed): a regular file of at least one 512-byte block, made absolute.
    /// `Err` says why not.
    pub fn check(path: &std::path::Path, read_only: bool) -> Result<UsbDisk, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if !meta.is_file() || meta.len() < 512 {
            return Err(format!("{}: not a disk image (a regular file of at least 512 bytes)", path.display()));
        }
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(UsbDisk { path, read_only, speed: Speed::default() })
    }
}

/// What a front end asks of a running usbredir channel (through [`UsbShared::attach`] and [`UsbShared::detach`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsbCommand {
    /// Open the image and plug it in (refused while a disk is attached).
    Attach(UsbDisk),
    /// Unplug the disk: the guest is told, and the image is flushed and closed.
    Detach,
}

/// The channel's identity for its logs and its [`UsbShared`] entry.
#[derive(Debug, Clone)]
pub struct UsbChannel {
    /// The usbredir channel id.
    pub id: u8,
    /// Its name in logs.
    pub name: String,
}

/// Runs a linked usbredir channel until it ends, with `disk` attached from the start (none: the channel waits for
/// an [`UsbCommand::Attach`]). `lz4` decides, message by message, whether what goes to the guest is compressed
/// (`channels::compression`), and counts what it saved.
pub async fn run_usbredir(
    linked: LinkedChannel,
    disk: Option<UsbDisk>,
    shared: Arc<UsbShared>,
    channel: UsbChannel,
    lz4: (Outbound, Arc<CompressionStats>),
) -> ChannelEnd {
    let LinkedChannel { mut reader, writer, .. } = linked;
    let (packets_tx, packets) = mpsc::channel(PACKET_QUEUE);
    let (commands_tx, commands) = mpsc::channel(COMMAND_QUEUE);
    shared.linked(&channel, commands_tx);
    let mut host = host::Host::new(writer.control.clone(), shared.clone(), channel.clone(), lz4);
    if !host.hello().await {
        shared.unlinked(channel.id);
        return ChannelEnd::Closed(None);
    }
    if let Some(disk) = disk {
        host.attach(disk).await;
    }
    let mut read = AbortOnDrop(tokio::spawn(async move {
        let mut forwarder = Forwarder { deframer: Deframer::new(), negotiated: None, packets: packets_tx };
        drive(&mut reader, &writer, &mut forwarder).await
    }));
    let writer_open = host.run(packets, commands).await;
    host.release().await;
    shared.unlinked(channel.id);
    if !writer_open {
        return ChannelEnd::Closed(None);
    }
    match (&mut read.0).await {
        Ok(end) => end,
        Err(e) => ChannelEnd::Failed(format!("the usbredir read loop failed: {e}")),
    }
}

/// The read loop's handler: reassembles the usbredir stream and hands each packet to the host, in order.
struct Forwarder {
    deframer: Deframer,
    /// Set by the usb-guest's hello.
    negotiated: Option<Negotiated>,
    packets: mpsc::Sender<Packet>,
}

impl MessageHandler for Forwarder {
    async fn on_message(&mut self, m: RawMessage, _replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        let data = match decode_incoming(m.msg_type, &m.body) {
            Ok(Some(VmcIncoming::Data(data))) => data,
            Ok(_) => {
                tracing::debug!("usb: message type {} ignored", m.msg_type);
                return None;
            }
            Err(e) => return Some(ChannelEnd::Failed(format!("bad data from the server: {e}"))),
        };
        self.deframer.push(&data);
        loop {
            let n = self.negotiated.unwrap_or_default();
            let p = match self.deframer.next(&n, Sender::Guest) {
                Ok(Some(p)) => p,
                Ok(None) => return None,
                Err(e) => return Some(ChannelEnd::Failed(format!("bad usbredir data from the usb-guest: {e}"))),
            };
            match (&p.message, self.negotiated) {
                (Message::Hello { .. }, Some(_)) => {
                    return Some(ChannelEnd::Failed("usbredir: a second hello".into()));
                }
                (Message::Hello { caps, .. }, None) => {
                    self.negotiated = Some(Negotiated::new(OUR_CAPS, caps.first().copied().unwrap_or(0)));
                }
                (_, None) => {
                    return Some(ChannelEnd::Failed("usbredir: a packet before the usb-guest's hello".into()));
                }
                _ => {}
            }
            if self.packets.send(p).await.is_err() {
                // The host stopped: the channel's writer is gone.
                return Some(ChannelEnd::Closed(None));
            }
        }
    }

    async fn on_notice(&mut self, _notice: Notify) -> Option<ChannelEnd> {
        None
    }
}

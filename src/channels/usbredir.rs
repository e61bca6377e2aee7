//! The usbredir channel (type 9): a SpiceVMC channel whose byte stream is the usbredir protocol, on the shared
//! driver and VMC transport (LZ4 both ways under the WebDAV channel's policy). ryll is the usb-host: after both
//! hellos it attaches its virtual disk ([`crate::usb::device::MassStorage`]) with interface_info, ep_info and
//! device_connect, and answers every transfer the usb-guest (QEMU's `usb-redir`) sends. Image I/O runs on the
//! blocking pool, never on the channel's read loop thread.
//!
//! A stream that breaks the protocol ends the channel with the reason (its framing is lost); the session core then
//! relinks it, and the device is attached afresh.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use super::compression::{CompressionStats, Outbound};
use super::driver::{drive, ChannelEnd, MessageHandler};
use super::io::{Outgoing, RawMessage};
use super::vmc::{decode_incoming, VmcIncoming};
use crate::log_limit::limited;
use crate::protocol::base::Notify;
use crate::protocol::usbredir::{
    self, kind, status, version_text, Bulk, Control, Deframer, Message, Negotiated, Packet, Sender, Small, OUR_CAPS,
};
use crate::session::usb::UsbShared;
use crate::session::LinkedChannel;
use crate::usb::descriptors;
use crate::usb::device::{MassStorage, Setup};
use crate::usb::image::FileImage;

/// The largest message accepted: the server sends at most 64 KiB + 32 per message; LZ4 data decompresses to what
/// its header announces, bounded by the VMC parser.
pub const MAX_USBREDIR_MESSAGE: u32 = 1024 * 1024;
/// ryll's usbredir bytes go out in DATA messages of at most this many bytes.
const CHUNK: usize = 64 * 1024;

/// A disk image to attach as a USB stick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsbDisk {
    /// The raw image.
    pub path: PathBuf,
    /// Opened read-only, reported write-protected.
    pub read_only: bool,
}

/// Runs a linked usbredir channel until it ends, with `disk` attached (none: the channel idles after the hellos).
/// `lz4` decides, message by message, whether what goes to the guest is compressed (`channels::compression`), and
/// counts what it saved.
pub async fn run_usbredir(
    linked: LinkedChannel,
    disk: Option<UsbDisk>,
    shared: Arc<UsbShared>,
    name: String,
    lz4: (Outbound, Arc<CompressionStats>),
) -> ChannelEnd {
    let LinkedChannel { mut reader, writer, .. } = linked;
    let (outbound, compression) = lz4;
    let device = match disk {
        Some(disk) => match open(&disk).await {
            Ok(dev) => {
                let mib = dev.blocks() / 2048;
                let mode = if disk.read_only { "read-only" } else { "read-write" };
                tracing::info!("usb: {} ({mib} MiB, {mode}) goes to the guest on {name}", disk.path.display());
                shared.attached(&name, &disk, dev.blocks());
                Some(Box::new(dev))
            }
            Err(e) => {
                let why = format!("cannot open the USB disk image {}: {e}", disk.path.display());
                tracing::error!("usb: {why}");
                shared.failed(&name, why);
                None
            }
        },
        None => None,
    };
    let mut handler = UsbHandler {
        deframer: Deframer::new(),
        negotiated: None,
        device,
        outbound,
        compression,
        configuration: 0,
        shared: shared.clone(),
        name: name.clone(),
    };
    let mut hello = Vec::new();
    handler.push(
        &mut hello,
        Message::Hello { version: usbredir::VERSION.as_bytes().to_vec(), caps: vec![OUR_CAPS] },
        0,
    );
    for out in hello {
        if writer.control.send(out).await.is_err() {
            return ChannelEnd::Closed(None);
        }
    }
    let end = drive(&mut reader, &writer, &mut handler).await;
    if let Some(dev) = handler.device.take() {
        let flushed = tokio::task::spawn_blocking(move || {
            let mut dev = dev;
            dev.flush()
        })
        .await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("usb: flushing the disk image failed: {e}"),
            Err(e) => tracing::warn!("usb: the flush did not run: {e}"),
        }
        shared.detached(&name);
    }
    end
}

async fn open(disk: &UsbDisk) -> std::io::Result<MassStorage> {
    let disk = disk.clone();
    tokio::task::spawn_blocking(move || {
        let image = FileImage::open(&disk.path, disk.read_only)?;
        Ok(MassStorage::new(Box::new(image), &serial_for(&disk.path)))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// A serial number of 12 hex digits that stays the same for the same image path (the guest keys its device names
/// and mounts on it).
fn serial_for(path: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    format!("{:012X}", h.finish() & 0xffff_ffff_ffff)
}

struct UsbHandler {
    deframer: Deframer,
    /// Set by the usb-guest's hello.
    negotiated: Option<Negotiated>,
    device: Option<Box<MassStorage>>,
    outbound: Outbound,
    compression: Arc<CompressionStats>,
    configuration: u8,
    shared: Arc<UsbShared>,
    name: String,
}

impl UsbHandler {
    /// Queues `message` (as a reply to packet `id`) in DATA messages of at most [`CHUNK`] bytes.
    fn push(&self, out: &mut Vec<Outgoing>, message: Message, id: u64) {
        let n = self.negotiated.unwrap_or_default();
        let bytes = Bytes::from(usbredir::encode(&Packet { id, message }, &n));
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + CHUNK).min(bytes.len());
            out.push(self.outbound.encode(bytes.slice(at..end), false, &self.compression));
            at = end;
        }
    }

    /// Runs `f` on the device on the blocking pool (it reads and writes the image).
    async fn with_device<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut MassStorage) -> R + Send + 'static,
    ) -> Option<R> {
        let mut dev = self.device.take()?;
        match tokio::task::spawn_blocking(move || {
            let r = f(&mut dev);
            (dev, r)
        })
        .await
        {
            Ok((dev, r)) => {
                self.device = Some(dev);
                Some(r)
            }
            Err(e) => {
                tracing::error!("usb: the disk's worker failed: {e}; detaching it");
                None
            }
        }
    }

    async fn on_packet(&mut self, p: Packet, out: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        let id = p.id;
        match p.message {
            Message::Hello { version, caps } => {
                if self.negotiated.is_some() {
                    return Some(ChannelEnd::Failed("usbredir: a second hello".into()));
                }
                let theirs = caps.first().copied().unwrap_or(0);
                let n = Negotiated::new(OUR_CAPS, theirs);
                self.negotiated = Some(n);
                tracing::debug!("usb: {} says hello: {:?}, caps {theirs:#x}", self.name, version_text(&version));
                if self.device.is_some() {
                    self.push(out, Message::InterfaceInfo(descriptors::interface_info()), 0);
                    self.push(out, Message::EpInfo(Box::new(descriptors::ep_info())), 0);
                    self.push(out, Message::DeviceConnect(descriptors::device_connect()), 0);
                }
            }
            _ if self.negotiated.is_none() => {
                return Some(ChannelEnd::Failed("usbredir: a packet before the usb-guest's hello".into()));
            }
            Message::Control(c, data) => {
                let setup = Setup {
                    requesttype: c.requesttype,
                    request: c.request,
                    value: c.value,
                    index: c.index,
                    length: c.length,
                };
                let reply = if c.endpoint & 0x7f == 0 {
                    self.with_device(move |d| d.control(setup, &data)).await
                } else {
                    None
                };
                let (status, data) = reply.map_or((status::STALL, Vec::new()), |r| (r.status, r.data));
                let is_in = c.requesttype & 0x80 != 0;
                let length = if is_in { data.len() as u16 } else { c.length };
                self.push(
                    out,
                    Message::Control(Control { status, length, ..c }, if is_in { data } else { Vec::new() }),
                    id,
                );
            }
            Message::Bulk(b, data) => {
                let ep = b.endpoint;
                if ep & 0x80 != 0 {
                    let reply = self.with_device(move |d| d.bulk_in(ep, b.length)).await;
                    let (status, data) = reply.map_or((status::STALL, Vec::new()), |r| (r.status, r.data));
                    self.push(out, Message::Bulk(Bulk { status, length: data.len() as u32, ..b }, data), id);
                } else {
                    let status = self.with_device(move |d| d.bulk_out(ep, &data)).await.unwrap_or(status::STALL);
                    self.push(out, Message::Bulk(Bulk { status, ..b }, Vec::new()), id);
                }
                if let Some(dev) = &self.device {
                    self.shared.stats(&self.name, dev.stats());
                }
            }
            Message::SetConfiguration(c) => {
                let ok = c <= 1;
                if ok {
                    self.configuration = c;
                }
                let status = if ok { status::SUCCESS } else { status::STALL };
                self.push(out, Message::ConfigurationStatus { status, configuration: self.configuration }, id);
            }
            Message::GetConfiguration => {
                let configuration = self.configuration;
                self.push(out, Message::ConfigurationStatus { status: status::SUCCESS, configuration }, id);
            }
            Message::SetAltSetting { interface, alt } => {
                let status = if interface == 0 && alt == 0 { status::SUCCESS } else { status::INVAL };
                self.push(out, Message::AltSettingStatus { status, interface, alt: 0 }, id);
            }
            Message::GetAltSetting { interface } => {
                let status = if interface == 0 { status::SUCCESS } else { status::INVAL };
                self.push(out, Message::AltSettingStatus { status, interface, alt: 0 }, id);
            }
            Message::Reset => {
                self.with_device(|d| d.reset()).await;
            }
            // ryll's disk has no interrupt or iso endpoint.
            Message::Interrupt(s, _) => {
                self.push(out, Message::Interrupt(Small { status: status::STALL, length: 0, ..s }, Vec::new()), id)
            }
            Message::Iso(s, _) => {
                self.push(out, Message::Iso(Small { status: status::STALL, length: 0, ..s }, Vec::new()), id)
            }
            Message::Other { kind: k, header } => self.refuse_stream(k, &header, id, out),
            // Every transfer is answered at once, so there is nothing left to cancel.
            Message::CancelDataPacket | Message::DeviceDisconnectAck | Message::FilterFilter(_) => {}
            other => {
                limited("usbredir unexpected", |more| {
                    tracing::warn!("usb: {} sent an unexpected packet {other:?}; ignored{more}", self.name)
                });
            }
        }
        None
    }

    /// Answers the stream requests ryll's device has no endpoint for (iso streams, interrupt receiving, bulk
    /// streams, bulk receiving) with an invalid status.
    fn refuse_stream(&self, k: u32, header: &[u8], id: u64, out: &mut Vec<Outgoing>) {
        let byte = |i: usize| header.get(i).copied().unwrap_or(0);
        let reply = match k {
            kind::START_ISO_STREAM | kind::STOP_ISO_STREAM => {
                Some((kind::ISO_STREAM_STATUS, vec![status::INVAL, byte(0)]))
            }
            kind::START_INTERRUPT_RECEIVING | kind::STOP_INTERRUPT_RECEIVING => {
                Some((kind::INTERRUPT_RECEIVING_STATUS, vec![status::INVAL, byte(0)]))
            }
            kind::ALLOC_BULK_STREAMS | kind::FREE_BULK_STREAMS => {
                let mut h = header.get(..4).unwrap_or(&[0; 4]).to_vec();
                h.extend_from_slice(&[0, 0, 0, 0, status::INVAL]);
                Some((kind::BULK_STREAMS_STATUS, h))
            }
            kind::START_BULK_RECEIVING | kind::STOP_BULK_RECEIVING => {
                let mut h = header.get(..4).unwrap_or(&[0; 4]).to_vec();
                h.extend_from_slice(&[byte(if k == kind::START_BULK_RECEIVING { 8 } else { 4 }), status::INVAL]);
                Some((kind::BULK_RECEIVING_STATUS, h))
            }
            _ => None,
        };
        if let Some((kind, header)) = reply {
            self.push(out, Message::Other { kind, header }, id);
        }
    }
}

impl MessageHandler for UsbHandler {
    async fn on_message(&mut self, m: RawMessage, replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
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
            match self.deframer.next(&n, Sender::Guest) {
                Ok(Some(p)) => {
                    if let Some(end) = self.on_packet(p, replies).await {
                        return Some(end);
                    }
                }
                Ok(None) => return None,
                Err(e) => return Some(ChannelEnd::Failed(format!("bad usbredir data from the usb-guest: {e}"))),
            }
        }
    }

    async fn on_notice(&mut self, _notice: Notify) -> Option<ChannelEnd> {
        None
    }
}

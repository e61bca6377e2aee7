//! The usb-host half of a usbredir channel: owns the virtual disk, answers the usb-guest's packets in order (image
//! I/O on the blocking pool, never on a runtime thread), and carries out attach and detach commands.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{UsbChannel, UsbCommand, UsbDisk};
use crate::channels::compression::{CompressionStats, Outbound};
use crate::channels::io::Outgoing;
use crate::log_limit::limited;
use crate::protocol::usbredir::{
    self, cap, kind, status, version_text, Bulk, Control, Message, Negotiated, Packet, Small, OUR_CAPS,
};
use crate::session::usb::UsbShared;
use crate::usb::descriptors;
use crate::usb::device::{MassStorage, Setup};
use crate::usb::image::FileImage;

/// ryll's usbredir bytes go out in DATA messages of at most this many bytes.
const CHUNK: usize = 64 * 1024;
/// How long a detach waits for the usb-guest's device_disconnect_ack before the next device_connect goes anyway.
const ACK_WAIT: Duration = Duration::from_secs(3);

pub(super) struct Host {
    control: mpsc::Sender<Outgoing>,
    shared: Arc<UsbShared>,
    channel: UsbChannel,
    outbound: Outbound,
    compression: Arc<CompressionStats>,
    /// Set by the usb-guest's hello.
    negotiated: Option<Negotiated>,
    device: Option<Box<MassStorage>>,
    /// The guest has been told of the device (device_connect sent).
    connected: bool,
    /// A device_disconnect awaits its ack until then: no device_connect goes before.
    ack_due: Option<Instant>,
    configuration: u8,
}

impl Host {
    pub(super) fn new(
        control: mpsc::Sender<Outgoing>,
        shared: Arc<UsbShared>,
        channel: UsbChannel,
        lz4: (Outbound, Arc<CompressionStats>),
    ) -> Self {
        let (outbound, compression) = lz4;
        Host {
            control,
            shared,
            channel,
            outbound,
            compression,
            negotiated: None,
            device: None,
            connected: false,
            ack_due: None,
            configuration: 0,
        }
    }

    /// Sends ryll's hello; false when the channel's writer is gone.
    pub(super) async fn hello(&mut self) -> bool {
        let mut out = Vec::new();
        let version = usbredir::VERSION.as_bytes().to_vec();
        self.push(&mut out, Message::Hello { version, caps: vec![OUR_CAPS] }, 0);
        self.send(out).await
    }

    /// Answers packets and carries out commands until the read loop stops (true) or the writer is gone (false).
    pub(super) async fn run(
        &mut self,
        mut packets: mpsc::Receiver<Packet>,
        mut commands: mpsc::Receiver<UsbCommand>,
    ) -> bool {
        loop {
            let mut out = Vec::new();
            let ack_wait = self.ack_due;
            tokio::select! {
                p = packets.recv() => match p {
                    Some(p) => self.on_packet(p, &mut out).await,
                    None => return true,
                },
                Some(c) = commands.recv() => match c {
                    UsbCommand::Attach(disk) => {
                        self.attach(disk).await;
                        self.connect(&mut out);
                    }
                    UsbCommand::Detach => self.detach(&mut out).await,
                },
                _ = tokio::time::sleep_until(ack_wait.unwrap_or_else(Instant::now)), if ack_wait.is_some() => {
                    tracing::debug!("usb: {}: no device_disconnect_ack; going on", self.channel.name);
                    self.ack_due = None;
                    self.connect(&mut out);
                }
            }
            if !self.send(out).await {
                return false;
            }
        }
    }

    /// Opens `disk`; the guest is told at the next [`Host::connect`] (or at its hello).
    pub(super) async fn attach(&mut self, disk: UsbDisk) {
        let name = &self.channel.name;
        if self.device.is_some() {
            let image = self.shared.view(self.channel.id).and_then(|v| v.image).unwrap_or_default();
            let why = format!("{} already has {} attached; detach it first", name, image.display());
            self.shared.failed(self.channel.id, why);
            return;
        }
        match open(&disk).await {
            Ok(dev) => {
                let mib = dev.blocks() / 2048;
                let mode = if disk.read_only { "read-only" } else { "read-write" };
                tracing::info!("usb: {} ({mib} MiB, {mode}) goes to the guest on {name}", disk.path.display());
                self.shared.attached(self.channel.id, &disk, dev.blocks());
                self.device = Some(Box::new(dev));
            }
            Err(e) => {
                let why = format!("cannot open the USB disk image {}: {e}", disk.path.display());
                tracing::error!("usb: {why}");
                self.shared.failed(self.channel.id, why);
            }
        }
    }

    /// Tells the guest of the device, once both hellos are through and no disconnect awaits its ack.
    fn connect(&mut self, out: &mut Vec<Outgoing>) {
        if self.device.is_none() || self.connected || self.negotiated.is_none() || self.ack_due.is_some() {
            return;
        }
        self.push(out, Message::InterfaceInfo(descriptors::interface_info()), 0);
        let Some(speed) = self.device.as_ref().map(|d| d.speed()) else { return };
        self.push(out, Message::EpInfo(Box::new(descriptors::ep_info(speed))), 0);
        self.push(out, Message::DeviceConnect(descriptors::device_connect(speed)), 0);
        self.connected = true;
    }

    /// Unplugs the disk: device_disconnect to the guest, then the image is flushed and closed.
    async fn detach(&mut self, out: &mut Vec<Outgoing>) {
        if self.device.is_none() {
            let why = format!("{} has no disk to detach", self.channel.name);
            self.shared.failed(self.channel.id, why);
            return;
        }
        if self.connected {
            self.push(out, Message::DeviceDisconnect, 0);
            let acks = self.negotiated.is_some_and(|n| n.has(cap::DEVICE_DISCONNECT_ACK));
            self.ack_due = acks.then(|| Instant::now() + ACK_WAIT);
            self.connected = false;
        }
        self.configuration = 0;
        self.shared.want(self.channel.id, None);
        self.release().await;
    }

    /// Flushes and closes the disk, if there is one.
    pub(super) async fn release(&mut self) {
        let Some(dev) = self.device.take() else { return };
        let path = self.shared.view(self.channel.id).and_then(|v| v.image);
        let flushed = tokio::task::spawn_blocking(move || {
            let mut dev = dev;
            dev.flush()
        })
        .await;
        let error = match flushed {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("flushing the disk image failed: {e}")),
            Err(e) => Some(format!("the flush did not run: {e}")),
        };
        if let Some(why) = &error {
            tracing::warn!("usb: {}: {why}", self.channel.name);
        } else if let Some(p) = path {
            tracing::info!("usb: {} detached from {} and flushed", p.display(), self.channel.name);
        }
        self.shared.detached(self.channel.id, error);
    }

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

    /// Queues `out` on the control lane; false when the writer is gone.
    async fn send(&mut self, out: Vec<Outgoing>) -> bool {
        for m in out {
            if self.control.send(m).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Runs `f` on the device on the blocking pool (it reads and writes the image).
    async fn with_device<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut MassStorage) -> R + Send + 'static,
    ) -> Option<R> {
        if !self.connected {
            return None;
        }
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
                self.shared.detached(self.channel.id, Some(format!("the disk's worker failed: {e}")));
                None
            }
        }
    }
    /// Answers one packet (the read loop has checked that the hello came first, and once).
    async fn on_packet(&mut self, p: Packet, out: &mut Vec<Outgoing>) {
        let id = p.id;
        match p.message {
            Message::Hello { version, caps } => {
                let theirs = caps.first().copied().unwrap_or(0);
                self.negotiated = Some(Negotiated::new(OUR_CAPS, theirs));
                let name = &self.channel.name;
                tracing::debug!("usb: {name} says hello: {:?}, caps {theirs:#x}", version_text(&version));
                self.connect(out);
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
                    self.shared.stats(self.channel.id, dev.stats(), dev.removal_prevented());
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
            Message::CancelDataPacket | Message::FilterFilter(_) => {}
            Message::DeviceDisconnectAck => {
                self.ack_due = None;
                self.connect(out);
            }
            other => {
                limited("usbredir unexpected", |more| {
                    tracing::warn!("usb: {} sent an unexpected packet {other:?}; ignored{more}", self.channel.name)
                });
            }
        }
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

async fn open(disk: &UsbDisk) -> std::io::Result<MassStorage> {
    let disk = disk.clone();
    tokio::task::spawn_blocking(move || {
        let image = FileImage::open(&disk.path, disk.read_only)?;
        Ok(MassStorage::new(Box::new(image), &serial_for(&disk.path)).with_speed(disk.speed))
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

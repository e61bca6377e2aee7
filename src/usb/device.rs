//! The virtual mass-storage device: control requests on endpoint 0, and Bulk-Only Transport on the bulk endpoints
//! (a 31-byte command block wrapper, the data, a 13-byte status wrapper) running the SCSI commands of
//! [`super::scsi`] against a [`BlockImage`].
//!
//! The device answers each usbredir transfer at once and holds at most one transfer's data: a READ is read from the
//! image as the guest's IN transfers ask for it, a WRITE written as its OUT transfers arrive. Every failure becomes
//! sense data and a failed status wrapper; a command block that is not valid stalls the bulk endpoints until the
//! guest's Bulk-Only reset, as the specification asks.

use std::io;

use super::descriptors::{self, Speed, Strings, EP_IN, EP_OUT};
use super::image::BlockImage;
use super::scsi::{self, Command, DataPhase, Identity, Sense, BLOCK};
use crate::protocol::usbredir::status;

/// The largest data one IN transfer gets (QEMU's usbredir packets are bounded likewise).
pub const MAX_IN: u32 = 4 * 1024 * 1024;
const CBW_LEN: usize = 31;
const CBW_SIGNATURE: u32 = 0x4342_5355;
const CSW_SIGNATURE: u32 = 0x5342_5355;

/// A control transfer's setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// bmRequestType.
    pub requesttype: u8,
    /// bRequest.
    pub request: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength.
    pub length: u16,
}

/// A transfer's result: a usbredir [`status`] and, for IN transfers, the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// One of [`status`].
    pub status: u8,
    /// The data (IN transfers).
    pub data: Vec<u8>,
}

impl Reply {
    fn ok(data: Vec<u8>) -> Self {
        Reply { status: status::SUCCESS, data }
    }

    fn stall() -> Self {
        Reply { status: status::STALL, data: Vec::new() }
    }
}

/// What the device has done, for the panel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoStats {
    /// SCSI commands run.
    pub commands: u64,
    /// Bytes read from the image.
    pub read: u64,
    /// Bytes written to it.
    pub written: u64,
    /// Commands that failed.
    pub failed: u64,
    /// A WRITE is in progress.
    pub writing: bool,
}

/// Where an IN data phase's bytes come from.
#[derive(Debug)]
enum Source {
    /// A response built whole (INQUIRY, sense, capacities...).
    Buffer(Vec<u8>, usize),
    /// Blocks of the image, from `offset`, `remaining` bytes.
    Image { offset: u64, remaining: u64 },
}

/// Where an OUT data phase's bytes go.
#[derive(Debug)]
enum Sink {
    /// Into the image from `offset`, `remaining` bytes; then any surplus the wrapper announced is discarded.
    Image { offset: u64, remaining: u64 },
    /// Nowhere (a failed or surplus data phase).
    Discard,
}

#[derive(Debug)]
enum State {
    /// Waiting for a command block wrapper.
    Command,
    /// Sending data; `left` is what the wrapper still allows.
    DataIn { source: Source, left: u64 },
    /// Receiving data; `left` is what the wrapper still announces.
    DataOut { sink: Sink, left: u64 },
    /// The status wrapper is ready.
    Status,
    /// A command block was not valid: stalled until a Bulk-Only reset.
    Halted,
}

/// The result a status wrapper reports.
#[derive(Debug, Clone, Copy)]
struct Pending {
    tag: u32,
    residue: u64,
    /// 0 passed, 1 failed, 2 phase error.
    status: u8,
}

/// The virtual disk.
pub struct MassStorage {
    image: Box<dyn BlockImage>,
    identity: Identity,
    strings: Strings,
    state: State,
    pending: Pending,
    sense: Sense,
    ejected: bool,
    prevent_removal: bool,
    halted: [bool; 2],
    stats: IoStats,
    speed: Speed,
}

impl std::fmt::Debug for MassStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MassStorage").field("state", &self.state).field("stats", &self.stats).finish_non_exhaustive()
    }
}

impl MassStorage {
    /// A device for `image`; `serial` is its serial number (12 or more hex digits, as Bulk-Only asks).
    pub fn new(image: Box<dyn BlockImage>, serial: &str) -> Self {
        let identity = Identity {
            vendor: "ryll".into(),
            product: "Virtual Disk".into(),
            revision: env!("CARGO_PKG_VERSION").chars().filter(|c| *c != '.').take(4).collect(),
            serial: serial.into(),
        };
        let strings =
            Strings { manufacturer: "ryll".into(), product: "ryll virtual disk".into(), serial: serial.into() };
        MassStorage {
            image,
            identity,
            strings,
            state: State::Command,
            pending: Pending { tag: 0, residue: 0, status: 0 },
            sense: Sense::NONE,
            ejected: false,
            prevent_removal: false,
            halted: [false; 2],
            stats: IoStats::default(),
            speed: Speed::default(),
        }
    }

    /// The same device at `speed` (SuperSpeed by default); its descriptors follow.
    pub fn with_speed(mut self, speed: Speed) -> Self {
        self.speed = speed;
        self
    }

    /// The speed it connects at.
    pub fn speed(&self) -> Speed {
        self.speed
    }

    /// What the device has done so far.
    pub fn stats(&self) -> IoStats {
        IoStats { writing: matches!(self.state, State::DataOut { sink: Sink::Image { .. }, .. }), ..self.stats }
    }

    /// Whether the guest asked that the medium not be removed (PREVENT ALLOW MEDIUM REMOVAL).
    pub fn removal_prevented(&self) -> bool {
        self.prevent_removal
    }

    /// The image's size in blocks.
    pub fn blocks(&self) -> u64 {
        self.image.len() / u64::from(BLOCK)
    }

    /// Makes every write durable (before a detach, at exit).
    pub fn flush(&mut self) -> io::Result<()> {
        self.image.flush()
    }

    /// A usbredir reset (or a Bulk-Only reset): back to waiting for a command, stalls cleared.
    pub fn reset(&mut self) {
        self.state = State::Command;
        self.halted = [false; 2];
    }

    /// A control transfer on endpoint 0. `data` is an OUT request's data.
    pub fn control(&mut self, setup: Setup, _data: &[u8]) -> Reply {
        let reply = match (setup.requesttype, setup.request) {
            (0x80, 6) => self.descriptor(setup.value),
            (0x80 | 0x81, 0) => Some(vec![0, 0]),
            (0x82, 0) => {
                let halted = self.halt_slot(setup.index as u8).is_some_and(|i| self.halted[i]);
                Some(vec![u8::from(halted), 0])
            }
            // CLEAR_FEATURE(ENDPOINT_HALT): a stall ends, but a halted Bulk-Only state needs the reset first.
            (0x02, 1) if setup.value == 0 => {
                if let Some(i) = self.halt_slot(setup.index as u8) {
                    if !matches!(self.state, State::Halted) {
                        self.halted[i] = false;
                    }
                }
                Some(Vec::new())
            }
            (0x00..=0x02, 1 | 3) => Some(Vec::new()),
            // SET_SEL and SET_ISOCH_DELAY (USB 3 link power management; nothing to keep).
            (0x00, 0x30 | 0x31) => Some(Vec::new()),
            // GET_MAX_LUN: one logical unit.
            (0xa1, 0xfe) => Some(vec![0]),
            // Bulk-Only mass storage reset.
            (0x21, 0xff) => {
                self.reset();
                Some(Vec::new())
            }
            _ => None,
        };
        match reply {
            Some(mut data) => {
                data.truncate(usize::from(setup.length));
                Reply::ok(data)
            }
            None => Reply::stall(),
        }
    }

    fn descriptor(&self, value: u16) -> Option<Vec<u8>> {
        let [index, kind] = value.to_le_bytes();
        match kind {
            descriptors::kind::DEVICE => Some(descriptors::device(self.speed)),
            descriptors::kind::CONFIGURATION => Some(descriptors::configuration(self.speed)),
            descriptors::kind::STRING => descriptors::string(index, &self.strings),
            descriptors::kind::DEVICE_QUALIFIER => descriptors::device_qualifier(self.speed),
            descriptors::kind::BOS => descriptors::bos(self.speed),
            _ => None,
        }
    }

    fn halt_slot(&self, endpoint: u8) -> Option<usize> {
        match endpoint {
            EP_IN => Some(0),
            EP_OUT => Some(1),
            _ => None,
        }
    }

    /// A bulk OUT transfer: a command block wrapper, or a WRITE's data. Returns the transfer's status.
    pub fn bulk_out(&mut self, endpoint: u8, data: &[u8]) -> u8 {
        if endpoint != EP_OUT || self.halted[1] {
            return status::STALL;
        }
        match std::mem::replace(&mut self.state, State::Command) {
            State::Command => self.command_block(data),
            State::DataOut { sink, left } => self.data_out(sink, left, data),
            State::Halted => {
                self.state = State::Halted;
                return status::STALL;
            }
            other => {
                // Data where a status read was due: the guest lost track; stall until its reset.
                tracing::debug!("usb disk: bulk OUT in state {other:?}; stalling");
                self.halt();
                return status::STALL;
            }
        }
        if matches!(self.state, State::Halted) {
            status::STALL
        } else {
            status::SUCCESS
        }
    }

    /// A bulk IN transfer of at most `length` bytes: a data phase's bytes, or the status wrapper.
    pub fn bulk_in(&mut self, endpoint: u8, length: u32) -> Reply {
        if endpoint != EP_IN || self.halted[0] {
            return Reply::stall();
        }
        let length = length.min(MAX_IN);
        match std::mem::replace(&mut self.state, State::Command) {
            State::DataIn { source, left } => self.data_in(source, left, length),
            State::Status if length >= 13 => Reply::ok(self.csw()),
            state @ (State::Status | State::Halted) => {
                self.state = state;
                Reply::stall()
            }
            other => {
                tracing::debug!("usb disk: bulk IN in state {other:?}; stalling");
                self.state = other;
                Reply::stall()
            }
        }
    }

    fn halt(&mut self) {
        self.state = State::Halted;
        self.halted = [true; 2];
    }

    fn csw(&mut self) -> Vec<u8> {
        let p = self.pending;
        let mut d = Vec::with_capacity(13);
        d.extend_from_slice(&CSW_SIGNATURE.to_le_bytes());
        d.extend_from_slice(&p.tag.to_le_bytes());
        d.extend_from_slice(&u32::try_from(p.residue).unwrap_or(u32::MAX).to_le_bytes());
        d.push(p.status);
        self.state = State::Command;
        d
    }

    /// Reads a command block wrapper and starts its command.
    fn command_block(&mut self, data: &[u8]) {
        let Some(cbw) = parse_cbw(data) else {
            tracing::debug!("usb disk: {} bytes that are not a command block wrapper; stalling", data.len());
            self.halt();
            return;
        };
        self.stats.commands += 1;
        self.pending = Pending { tag: cbw.tag, residue: u64::from(cbw.length), status: 0 };
        let allowed = u64::from(cbw.length);
        let result = scsi::decode(cbw.cdb).and_then(|cmd| self.check(cmd).map(|()| cmd));
        let cmd = match result {
            Ok(cmd) => cmd,
            Err(sense) => return self.fail(sense, cbw.data_in, allowed),
        };
        // A command that moves no bytes (INQUIRY with no allocation, READ of no block) is one without data.
        let phase = match cmd.data_phase() {
            DataPhase::In(0) | DataPhase::Out(0) => DataPhase::None,
            phase => phase,
        };
        match (phase, allowed) {
            (DataPhase::None, _) => {
                if let Err(sense) = self.run(cmd) {
                    return self.fail(sense, cbw.data_in, allowed);
                }
                self.sense = Sense::NONE;
                self.enter_data(cbw.data_in, allowed, Source::Buffer(Vec::new(), 0), Sink::Discard);
            }
            (DataPhase::In(_), 0) | (DataPhase::Out(_), 0) => self.phase_error(cbw.data_in, allowed),
            (DataPhase::In(_), _) if !cbw.data_in => self.phase_error(cbw.data_in, allowed),
            (DataPhase::Out(_), _) if cbw.data_in => self.phase_error(cbw.data_in, allowed),
            (DataPhase::In(n), _) => {
                if matches!(cmd, Command::Read { .. }) && n > allowed {
                    return self.phase_error(cbw.data_in, allowed);
                }
                let source = match self.respond(cmd) {
                    Ok(source) => source,
                    Err(sense) => return self.fail(sense, true, allowed),
                };
                if !matches!(cmd, Command::RequestSense { .. }) {
                    self.sense = Sense::NONE;
                }
                self.state = State::DataIn { source, left: allowed };
            }
            (DataPhase::Out(n), _) => {
                if n > allowed {
                    return self.phase_error(cbw.data_in, allowed);
                }
                let Command::Write { lba, .. } = cmd else { return self.phase_error(cbw.data_in, allowed) };
                self.sense = Sense::NONE;
                let sink = Sink::Image { offset: lba * u64::from(BLOCK), remaining: n };
                self.state = State::DataOut { sink, left: allowed };
            }
        }
    }

    /// Refuses what cannot run: no medium, blocks out of range, a write to a read-only image.
    fn check(&self, cmd: Command) -> Result<(), Sense> {
        let medium_needed = matches!(
            cmd,
            Command::Read { .. }
                | Command::Write { .. }
                | Command::ReadCapacity10
                | Command::ReadCapacity16 { .. }
                | Command::TestUnitReady
                | Command::SynchronizeCache
        );
        if self.ejected && medium_needed {
            return Err(Sense::NO_MEDIUM);
        }
        match cmd {
            Command::Read { lba, blocks } | Command::Write { lba, blocks } => {
                if lba.checked_add(u64::from(blocks)).is_none_or(|end| end > self.blocks()) {
                    return Err(Sense::LBA_OUT_OF_RANGE);
                }
                if matches!(cmd, Command::Write { .. }) && self.image.read_only() {
                    return Err(Sense::WRITE_PROTECTED);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Runs a command without data.
    fn run(&mut self, cmd: Command) -> Result<(), Sense> {
        match cmd {
            Command::SynchronizeCache => self.image.flush().map_err(|e| {
                tracing::warn!("usb disk: flushing the image failed: {e}");
                Sense::WRITE_ERROR
            }),
            Command::StartStop { start, load_eject } => {
                if load_eject {
                    if !start && self.prevent_removal {
                        return Err(Sense::INVALID_FIELD);
                    }
                    if !start {
                        let _ = self.image.flush();
                    }
                    self.ejected = !start;
                }
                Ok(())
            }
            Command::PreventAllow { prevent } => {
                self.prevent_removal = prevent;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// The data of an IN command.
    fn respond(&mut self, cmd: Command) -> Result<Source, Sense> {
        let blocks = self.blocks();
        let data = match cmd {
            Command::Read { lba, blocks } => {
                let offset = lba * u64::from(BLOCK);
                return Ok(Source::Image { offset, remaining: u64::from(blocks) * u64::from(BLOCK) });
            }
            Command::RequestSense { .. } => scsi::sense_data(std::mem::replace(&mut self.sense, Sense::NONE)),
            Command::Inquiry { vpd: None, .. } => scsi::inquiry_data(&self.identity),
            Command::Inquiry { vpd: Some(page), .. } => scsi::vpd_page(page, &self.identity)?,
            Command::ReadCapacity10 => scsi::capacity10(blocks),
            Command::ReadCapacity16 { .. } => scsi::capacity16(blocks),
            Command::ReadFormatCapacities { .. } => scsi::format_capacities(blocks),
            Command::ModeSense { page, ten, .. } => scsi::mode_sense(page, ten, self.image.read_only())?,
            _ => Vec::new(),
        };
        let DataPhase::In(alloc) = cmd.data_phase() else { return Ok(Source::Buffer(data, 0)) };
        let mut data = data;
        data.truncate(usize::try_from(alloc).unwrap_or(usize::MAX));
        Ok(Source::Buffer(data, 0))
    }

    /// Records a failed command: its sense, a failed status, and a data phase that moves nothing useful.
    fn fail(&mut self, sense: Sense, data_in: bool, allowed: u64) {
        tracing::debug!("usb disk: command failed with sense {sense:?}");
        self.stats.failed += 1;
        self.sense = sense;
        self.pending.status = 1;
        self.enter_data(data_in, allowed, Source::Buffer(Vec::new(), 0), Sink::Discard);
    }

    /// A command whose data phase contradicts the wrapper's: the wrapper's data phase moves nothing, then the status
    /// reports a phase error.
    fn phase_error(&mut self, data_in: bool, allowed: u64) {
        self.stats.failed += 1;
        self.pending.status = 2;
        self.enter_data(data_in, allowed, Source::Buffer(Vec::new(), 0), Sink::Discard);
    }

    /// After a command without data (or a failed one): the wrapper's data phase, if it announced one, moves nothing.
    fn enter_data(&mut self, data_in: bool, allowed: u64, source: Source, sink: Sink) {
        self.state = match (allowed, data_in) {
            (0, _) => State::Status,
            (_, true) => State::DataIn { source, left: allowed },
            (_, false) => State::DataOut { sink, left: allowed },
        };
    }

    fn data_in(&mut self, source: Source, left: u64, length: u32) -> Reply {
        let want = u64::from(length).min(left);
        let (data, source) = match source {
            Source::Buffer(buf, pos) => {
                let end = pos.saturating_add(usize::try_from(want).unwrap_or(usize::MAX)).min(buf.len());
                let chunk = buf.get(pos..end).unwrap_or_default().to_vec();
                let done = end >= buf.len();
                (chunk, (!done).then_some(Source::Buffer(buf, end)))
            }
            Source::Image { offset, remaining } => {
                let n = want.min(remaining);
                let mut chunk = vec![0u8; usize::try_from(n).unwrap_or(0)];
                if let Err(e) = self.image.read_at(offset, &mut chunk) {
                    tracing::warn!("usb disk: reading {n} bytes at {offset} failed: {e}");
                    self.stats.failed += 1;
                    self.sense = Sense::READ_ERROR;
                    self.pending.status = 1;
                    self.state = State::Status;
                    return Reply::ok(Vec::new());
                }
                self.stats.read += n;
                let rest = remaining - n;
                (chunk, (rest > 0).then_some(Source::Image { offset: offset + n, remaining: rest }))
            }
        };
        let sent = data.len() as u64;
        self.pending.residue = self.pending.residue.saturating_sub(sent);
        let left = left - sent;
        // A short transfer (less than asked) ends the data phase, as does running out of data or of allowance.
        self.state = match source {
            Some(source) if left > 0 && sent == u64::from(length) => State::DataIn { source, left },
            _ => State::Status,
        };
        Reply::ok(data)
    }

    fn data_out(&mut self, sink: Sink, left: u64, data: &[u8]) {
        let take = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let data = data.get(..take).unwrap_or_default();
        let left = left - take as u64;
        let sink = match sink {
            Sink::Image { offset, remaining } => {
                let n = (data.len() as u64).min(remaining);
                let part = data.get(..n as usize).unwrap_or_default();
                match self.image.write_at(offset, part) {
                    Ok(()) => {
                        // The residue counts what was not written: discarded data is not processed.
                        self.pending.residue = self.pending.residue.saturating_sub(n);
                        self.stats.written += n;
                        let rest = remaining - n;
                        if rest > 0 {
                            Sink::Image { offset: offset + n, remaining: rest }
                        } else {
                            Sink::Discard
                        }
                    }
                    Err(e) => {
                        tracing::warn!("usb disk: writing {n} bytes at {offset} failed: {e}");
                        self.stats.failed += 1;
                        self.sense = Sense::WRITE_ERROR;
                        self.pending.status = 1;
                        Sink::Discard
                    }
                }
            }
            Sink::Discard => Sink::Discard,
        };
        self.state = if left > 0 { State::DataOut { sink, left } } else { State::Status };
    }
}

/// A command block wrapper's fields.
struct Cbw<'a> {
    tag: u32,
    length: u32,
    data_in: bool,
    cdb: &'a [u8],
}

/// Reads a command block wrapper: exactly 31 bytes, the signature, LUN 0, a command block of 1 to 16 bytes.
fn parse_cbw(data: &[u8]) -> Option<Cbw<'_>> {
    if data.len() != CBW_LEN {
        return None;
    }
    let word = |at: usize| data.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    if word(0)? != CBW_SIGNATURE {
        return None;
    }
    let (flags, lun, cb_len) = (*data.get(12)?, *data.get(13)?, usize::from(*data.get(14)?));
    if lun & 0x0f != 0 || !(1..=16).contains(&cb_len) {
        return None;
    }
    Some(Cbw { tag: word(4)?, length: word(8)?, data_in: flags & 0x80 != 0, cdb: data.get(15..15 + cb_len)? })
}

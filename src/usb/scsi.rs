//! The SCSI commands a USB mass-storage guest sends, decoded from their command blocks (CDBs), and the data the
//! device answers with (INQUIRY, sense, capacities, mode pages). Pure: no image, no I/O; [`super::bot`] runs the
//! commands. Multi-byte fields in CDBs and responses are big-endian.

/// The block size of every image.
pub const BLOCK: u32 = 512;

/// A sense key with its additional sense code and qualifier, as REQUEST SENSE reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sense {
    /// The sense key.
    pub key: u8,
    /// Additional sense code.
    pub asc: u8,
    /// Additional sense code qualifier.
    pub ascq: u8,
}

impl Sense {
    /// No error.
    pub const NONE: Sense = Sense { key: 0, asc: 0, ascq: 0 };
    /// NOT READY, medium not present (after an eject).
    pub const NO_MEDIUM: Sense = Sense { key: 0x02, asc: 0x3a, ascq: 0 };
    /// MEDIUM ERROR, unrecovered read error.
    pub const READ_ERROR: Sense = Sense { key: 0x03, asc: 0x11, ascq: 0 };
    /// MEDIUM ERROR, write error.
    pub const WRITE_ERROR: Sense = Sense { key: 0x03, asc: 0x0c, ascq: 0 };
    /// ILLEGAL REQUEST, invalid command operation code.
    pub const INVALID_OPCODE: Sense = Sense { key: 0x05, asc: 0x20, ascq: 0 };
    /// ILLEGAL REQUEST, logical block address out of range.
    pub const LBA_OUT_OF_RANGE: Sense = Sense { key: 0x05, asc: 0x21, ascq: 0 };
    /// ILLEGAL REQUEST, invalid field in CDB.
    pub const INVALID_FIELD: Sense = Sense { key: 0x05, asc: 0x24, ascq: 0 };
    /// DATA PROTECT, write protected.
    pub const WRITE_PROTECTED: Sense = Sense { key: 0x07, asc: 0x27, ascq: 0 };
}

/// A decoded command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// TEST UNIT READY.
    TestUnitReady,
    /// REQUEST SENSE.
    RequestSense {
        /// Allocation length.
        alloc: u32,
    },
    /// INQUIRY, standard data or a vital product data page.
    Inquiry {
        /// `Some(page)` for a VPD page.
        vpd: Option<u8>,
        /// Allocation length.
        alloc: u32,
    },
    /// READ CAPACITY (10).
    ReadCapacity10,
    /// READ CAPACITY (16) (SERVICE ACTION IN).
    ReadCapacity16 {
        /// Allocation length.
        alloc: u32,
    },
    /// READ (10), (12) or (16).
    Read {
        /// First block.
        lba: u64,
        /// Blocks.
        blocks: u32,
    },
    /// WRITE (10), (12) or (16).
    Write {
        /// First block.
        lba: u64,
        /// Blocks.
        blocks: u32,
    },
    /// MODE SENSE (6) or (10).
    ModeSense {
        /// The page asked for (0x3f: all).
        page: u8,
        /// Allocation length.
        alloc: u32,
        /// The 10-byte form (its 8-byte header).
        ten: bool,
    },
    /// READ FORMAT CAPACITIES.
    ReadFormatCapacities {
        /// Allocation length.
        alloc: u32,
    },
    /// SYNCHRONIZE CACHE (10) or (16).
    SynchronizeCache,
    /// START STOP UNIT.
    StartStop {
        /// START bit.
        start: bool,
        /// LOEJ bit: load or eject the medium.
        load_eject: bool,
    },
    /// PREVENT ALLOW MEDIUM REMOVAL.
    PreventAllow {
        /// Removal prevented.
        prevent: bool,
    },
}

/// Which way a command's data goes, and how much it moves at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPhase {
    /// No data.
    None,
    /// Device to host, at most this many bytes.
    In(u64),
    /// Host to device, exactly this many bytes.
    Out(u64),
}

impl Command {
    /// The command's data phase.
    pub fn data_phase(&self) -> DataPhase {
        match *self {
            Command::TestUnitReady
            | Command::SynchronizeCache
            | Command::StartStop { .. }
            | Command::PreventAllow { .. } => DataPhase::None,
            Command::RequestSense { alloc }
            | Command::Inquiry { alloc, .. }
            | Command::ReadCapacity16 { alloc }
            | Command::ModeSense { alloc, .. }
            | Command::ReadFormatCapacities { alloc } => DataPhase::In(u64::from(alloc)),
            Command::ReadCapacity10 => DataPhase::In(8),
            Command::Read { blocks, .. } => DataPhase::In(u64::from(blocks) * u64::from(BLOCK)),
            Command::Write { blocks, .. } => DataPhase::Out(u64::from(blocks) * u64::from(BLOCK)),
        }
    }
}

fn be16(cdb: &[u8], at: usize) -> u32 {
    cdb.get(at..at + 2).map_or(0, |b| u32::from(u16::from_be_bytes([b[0], b[1]])))
}

fn be32(cdb: &[u8], at: usize) -> u32 {
    cdb.get(at..at + 4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_be_bytes)
}

fn be64(cdb: &[u8], at: usize) -> u64 {
    cdb.get(at..at + 8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_be_bytes)
}

fn byte(cdb: &[u8], at: usize) -> u8 {
    cdb.get(at).copied().unwrap_or(0)
}

/// The length of the CDB each operation code needs, from its group (the top three bits).
fn cdb_len(op: u8) -> usize {
    match op >> 5 {
        0 => 6,
        1 | 2 => 10,
        4 => 16,
        5 => 12,
        _ => 0,
    }
}

/// Decodes a CDB. An unknown operation code, a CDB too short for its group or a field ryll does not support is
/// the sense to report.
pub fn decode(cdb: &[u8]) -> Result<Command, Sense> {
    let Some(&op) = cdb.first() else { return Err(Sense::INVALID_OPCODE) };
    let need = cdb_len(op);
    if need == 0 {
        return Err(Sense::INVALID_OPCODE);
    }
    if cdb.len() < need {
        return Err(Sense::INVALID_FIELD);
    }
    Ok(match op {
        0x00 => Command::TestUnitReady,
        0x03 => Command::RequestSense { alloc: u32::from(byte(cdb, 4)) },
        0x12 => {
            let evpd = byte(cdb, 1) & 1 != 0;
            if !evpd && byte(cdb, 2) != 0 {
                return Err(Sense::INVALID_FIELD);
            }
            Command::Inquiry { vpd: evpd.then(|| byte(cdb, 2)), alloc: be16(cdb, 3) }
        }
        0x1a => Command::ModeSense { page: byte(cdb, 2) & 0x3f, alloc: u32::from(byte(cdb, 4)), ten: false },
        0x5a => Command::ModeSense { page: byte(cdb, 2) & 0x3f, alloc: be16(cdb, 7), ten: true },
        0x1b => {
            let b = byte(cdb, 4);
            Command::StartStop { start: b & 1 != 0, load_eject: b & 2 != 0 }
        }
        0x1e => Command::PreventAllow { prevent: byte(cdb, 4) & 1 != 0 },
        0x23 => Command::ReadFormatCapacities { alloc: be16(cdb, 7) },
        0x25 => Command::ReadCapacity10,
        0x9e if byte(cdb, 1) & 0x1f == 0x10 => Command::ReadCapacity16 { alloc: be32(cdb, 10) },
        0x28 => Command::Read { lba: u64::from(be32(cdb, 2)), blocks: be16(cdb, 7) },
        0xa8 => Command::Read { lba: u64::from(be32(cdb, 2)), blocks: be32(cdb, 6) },
        0x88 => Command::Read { lba: be64(cdb, 2), blocks: be32(cdb, 10) },
        0x2a => Command::Write { lba: u64::from(be32(cdb, 2)), blocks: be16(cdb, 7) },
        0xaa => Command::Write { lba: u64::from(be32(cdb, 2)), blocks: be32(cdb, 6) },
        0x8a => Command::Write { lba: be64(cdb, 2), blocks: be32(cdb, 10) },
        0x35 | 0x91 => Command::SynchronizeCache,
        _ => return Err(Sense::INVALID_OPCODE),
    })
}

/// Fixed-format sense data (18 bytes) for REQUEST SENSE.
pub fn sense_data(sense: Sense) -> Vec<u8> {
    let mut d = vec![0u8; 18];
    d[0] = 0x70;
    d[2] = sense.key;
    d[7] = 10;
    d[12] = sense.asc;
    d[13] = sense.ascq;
    d
}

/// What INQUIRY reports about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// T10 vendor (8 characters, space padded).
    pub vendor: String,
    /// Product (16 characters, space padded).
    pub product: String,
    /// Revision (4 characters).
    pub revision: String,
    /// Unit serial number (VPD page 0x80).
    pub serial: String,
}

fn padded(out: &mut Vec<u8>, text: &str, len: usize) {
    let mut field: Vec<u8> = text.bytes().filter(|b| (0x20..0x7f).contains(b)).take(len).collect();
    field.resize(len, b' ');
    out.extend_from_slice(&field);
}

/// Standard INQUIRY data (36 bytes): a removable direct-access device, SPC-3.
pub fn inquiry_data(id: &Identity) -> Vec<u8> {
    let mut d = vec![0x00, 0x80, 0x05, 0x02, 31, 0, 0, 0];
    padded(&mut d, &id.vendor, 8);
    padded(&mut d, &id.product, 16);
    padded(&mut d, &id.revision, 4);
    d
}

/// A vital product data page: 0x00 (the supported pages) or 0x80 (the serial number).
pub fn vpd_page(page: u8, id: &Identity) -> Result<Vec<u8>, Sense> {
    match page {
        0x00 => Ok(vec![0x00, 0x00, 0x00, 2, 0x00, 0x80]),
        0x80 => {
            let mut serial = Vec::new();
            padded(&mut serial, &id.serial, id.serial.len().min(64));
            let mut d = vec![0x00, 0x80, 0x00, serial.len() as u8];
            d.extend_from_slice(&serial);
            Ok(d)
        }
        _ => Err(Sense::INVALID_FIELD),
    }
}

/// READ CAPACITY (10): the last block (saturated at 0xffffffff, which sends the guest to the 16-byte form) and the
/// block size.
pub fn capacity10(blocks: u64) -> Vec<u8> {
    let last = u32::try_from(blocks.saturating_sub(1)).unwrap_or(u32::MAX);
    [last.to_be_bytes(), BLOCK.to_be_bytes()].concat()
}

/// READ CAPACITY (16): the last block, the block size, the rest zero (32 bytes).
pub fn capacity16(blocks: u64) -> Vec<u8> {
    let mut d = Vec::with_capacity(32);
    d.extend_from_slice(&blocks.saturating_sub(1).to_be_bytes());
    d.extend_from_slice(&BLOCK.to_be_bytes());
    d.resize(32, 0);
    d
}

/// READ FORMAT CAPACITIES: one descriptor of formatted media.
pub fn format_capacities(blocks: u64) -> Vec<u8> {
    let count = u32::try_from(blocks).unwrap_or(u32::MAX);
    let mut d = vec![0, 0, 0, 8];
    d.extend_from_slice(&count.to_be_bytes());
    d.push(0x02);
    d.extend_from_slice(&BLOCK.to_be_bytes()[1..]);
    d
}

/// MODE SENSE (6 or 10): the header, with the write-protect bit for a read-only image, then the caching page
/// (write cache enabled: the guest sends SYNCHRONIZE CACHE, which flushes the image) for page 0x08 or 0x3f. Other
/// pages are refused.
pub fn mode_sense(page: u8, ten: bool, read_only: bool) -> Result<Vec<u8>, Sense> {
    let pages: Vec<u8> = match page {
        0x08 | 0x3f => {
            let mut caching = vec![0u8; 20];
            caching[0] = 0x08;
            caching[1] = 18;
            caching[2] = 0x04;
            caching
        }
        _ => return Err(Sense::INVALID_FIELD),
    };
    let wp = if read_only { 0x80 } else { 0 };
    let mut d = if ten {
        let len = (6 + pages.len()) as u16;
        let mut h = len.to_be_bytes().to_vec();
        h.extend_from_slice(&[0, wp, 0, 0, 0, 0]);
        h
    } else {
        vec![(3 + pages.len()) as u8, 0, wp, 0]
    };
    d.extend_from_slice(&pages);
    Ok(d)
}

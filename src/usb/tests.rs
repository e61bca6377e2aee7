use std::sync::{Arc, Mutex};

use super::descriptors::{self, Speed, EP_IN, EP_OUT};
use super::device::{MassStorage, Setup};
use super::image::{BlockImage, MemImage};
use super::scsi::{self, Sense};
use crate::protocol::usbredir::status;

/// A memory image the test can still look at after handing it to the device.
#[derive(Clone)]
struct Shared(Arc<Mutex<MemImage>>);

impl Shared {
    fn new(blocks: usize, read_only: bool) -> Self {
        Shared(Arc::new(Mutex::new(MemImage::new(blocks, read_only))))
    }
    fn get(&self) -> std::sync::MutexGuard<'_, MemImage> {
        self.0.lock().expect("image")
    }
}

impl BlockImage for Shared {
    fn len(&self) -> u64 {
        self.get().len()
    }
    fn read_only(&self) -> bool {
        self.get().read_only
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.get().read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.get().write_at(offset, buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.get().flush()
    }
}

/// The usb-guest's side of Bulk-Only Transport, as Linux's usb-storage drives it.
struct Host {
    dev: MassStorage,
    image: Shared,
    tag: u32,
}

#[derive(Debug, PartialEq, Eq)]
struct Csw {
    status: u8,
    residue: u32,
}

fn cbw(tag: u32, length: u32, data_in: bool, cdb: &[u8]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(b"USBC");
    d.extend_from_slice(&tag.to_le_bytes());
    d.extend_from_slice(&length.to_le_bytes());
    d.extend_from_slice(&[if data_in { 0x80 } else { 0 }, 0, cdb.len() as u8]);
    let mut cb = cdb.to_vec();
    cb.resize(16, 0);
    d.extend_from_slice(&cb);
    d
}

impl Host {
    fn new(blocks: usize, read_only: bool) -> Self {
        let image = Shared::new(blocks, read_only);
        Host { dev: MassStorage::new(Box::new(image.clone()), "0123456789AB"), image, tag: 0 }
    }

    fn csw(&mut self) -> Csw {
        let r = self.dev.bulk_in(EP_IN, 13);
        assert_eq!((r.status, r.data.len()), (status::SUCCESS, 13), "a status wrapper");
        assert_eq!(r.data.get(..4), Some(&b"USBS"[..]));
        assert_eq!(r.data.get(4..8), Some(&self.tag.to_le_bytes()[..]), "the command's tag");
        let residue = u32::from_le_bytes(r.data[8..12].try_into().expect("4 bytes"));
        Csw { status: r.data[12], residue }
    }

    /// A command reading up to `length` bytes in IN transfers of `chunk` bytes.
    fn read_cmd(&mut self, cdb: &[u8], length: u32, chunk: u32) -> (Vec<u8>, Csw) {
        self.tag += 1;
        assert_eq!(self.dev.bulk_out(EP_OUT, &cbw(self.tag, length, true, cdb)), status::SUCCESS);
        let mut data = Vec::new();
        while (data.len() as u32) < length {
            let want = chunk.min(length - data.len() as u32);
            let r = self.dev.bulk_in(EP_IN, want);
            assert_eq!(r.status, status::SUCCESS);
            let short = (r.data.len() as u32) < want;
            data.extend_from_slice(&r.data);
            if short {
                break;
            }
        }
        let csw = self.csw();
        (data, csw)
    }

    fn write_cmd(&mut self, cdb: &[u8], data: &[u8], chunk: usize) -> Csw {
        self.tag += 1;
        assert_eq!(self.dev.bulk_out(EP_OUT, &cbw(self.tag, data.len() as u32, false, cdb)), status::SUCCESS);
        for piece in data.chunks(chunk) {
            assert_eq!(self.dev.bulk_out(EP_OUT, piece), status::SUCCESS);
        }
        self.csw()
    }

    fn cmd(&mut self, cdb: &[u8]) -> Csw {
        self.tag += 1;
        assert_eq!(self.dev.bulk_out(EP_OUT, &cbw(self.tag, 0, false, cdb)), status::SUCCESS);
        self.csw()
    }

    fn sense(&mut self) -> Sense {
        let (d, csw) = self.read_cmd(&[0x03, 0, 0, 0, 18, 0], 18, 512);
        assert_eq!(csw, Csw { status: 0, residue: 0 });
        Sense { key: d[2], asc: d[12], ascq: d[13] }
    }
}

fn rw10(op: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let mut c = vec![op, 0];
    c.extend_from_slice(&lba.to_be_bytes());
    c.push(0);
    c.extend_from_slice(&blocks.to_be_bytes());
    c.push(0);
    c
}

#[test]
fn descriptors_and_class_requests() {
    let mut h = Host::new(16, false);
    let get = |value: u16, length: u16| Setup { requesttype: 0x80, request: 6, value, index: 0, length };
    let device = h.dev.control(get(0x0100, 64), &[]);
    assert_eq!((device.status, device.data.len()), (status::SUCCESS, 18));
    assert_eq!(device.data.get(8..12), Some(&[0x6b, 0x1d, 0x04, 0x01][..]), "vendor and product");
    assert_eq!(device.data.get(2..4), Some(&[0x00, 0x03][..]), "USB 3.0 by default");
    assert_eq!(device.data[7], 9, "a 512-byte endpoint 0 at SuperSpeed");
    let wanted = descriptors::configuration(Speed::Super)[..9].to_vec();
    assert_eq!(h.dev.control(get(0x0200, 9), &[]).data, wanted, "wLength");
    let config = h.dev.control(get(0x0200, 255), &[]).data;
    assert_eq!((config.len(), config[2]), (44, 44));
    assert_eq!(config.get(14..17), Some(&[8, 6, 0x50][..]), "mass storage, SCSI, Bulk-Only");
    assert_eq!(config.get(22..24), Some(&1024u16.to_le_bytes()[..]), "bulk IN packet size");
    assert_eq!(config.get(25..27), Some(&[6, 48][..]), "an endpoint companion follows each endpoint");
    let bos = h.dev.control(get(0x0f00, 255), &[]).data;
    assert_eq!((bos.len(), bos[2], bos[4]), (22, 22, 2), "BOS: USB 2.0 extension and SuperSpeed capability");
    assert_eq!(h.dev.control(get(0x0600, 10), &[]).status, status::STALL, "no device qualifier at SuperSpeed");
    let set_sel = Setup { requesttype: 0x00, request: 0x30, value: 0, index: 0, length: 6 };
    assert_eq!(h.dev.control(set_sel, &[0; 6]).status, status::SUCCESS, "SET_SEL");
    let serial = h.dev.control(get(0x0303, 255), &[]).data;
    assert_eq!(
        String::from_utf16_lossy(&serial[2..].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>()),
        "0123456789AB"
    );
    assert_eq!(h.dev.control(get(0x0309, 255), &[]).status, status::STALL, "no such string");
    let max_lun = Setup { requesttype: 0xa1, request: 0xfe, value: 0, index: 0, length: 1 };
    assert_eq!(h.dev.control(max_lun, &[]).data, [0]);
    let vendor = Setup { requesttype: 0xc0, request: 0x33, value: 0, index: 0, length: 4 };
    assert_eq!(h.dev.control(vendor, &[]).status, status::STALL);
    let ep = descriptors::ep_info(Speed::Super);
    let i = crate::protocol::usbredir::ep_index(EP_IN);
    assert_eq!((ep.kind[i], ep.max_packet_size[i]), (2, 1024));

    // At high speed: USB 2.0, 512-byte bulk packets, a device qualifier and no BOS.
    let mut h = Host::new(16, false);
    let placeholder = MassStorage::new(Box::new(MemImage::new(1, false)), "0");
    h.dev = std::mem::replace(&mut h.dev, placeholder).with_speed(Speed::High);
    let device = h.dev.control(get(0x0100, 64), &[]).data;
    assert_eq!((device.get(2..4), device[7]), (Some(&[0x00, 0x02][..]), 64));
    let config = h.dev.control(get(0x0200, 255), &[]).data;
    assert_eq!((config.len(), config.get(22..24)), (32, Some(&512u16.to_le_bytes()[..])));
    assert_eq!(h.dev.control(get(0x0600, 10), &[]).data.len(), 10, "device qualifier");
    assert_eq!(h.dev.control(get(0x0f00, 255), &[]).status, status::STALL, "no BOS at high speed");
    assert_eq!(descriptors::ep_info(Speed::High).max_packet_size[i], 512);
}

#[test]
fn inquiry_capacity_and_mode_pages() {
    let mut h = Host::new(2048, false);
    let (d, csw) = h.read_cmd(&[0x12, 0, 0, 0, 255, 0], 255, 512);
    assert_eq!((d.len(), d[1], csw), (36, 0x80, Csw { status: 0, residue: 219 }), "removable, short data");
    assert_eq!(&d[8..12], b"ryll");
    let (serial, _) = h.read_cmd(&[0x12, 1, 0x80, 0, 255, 0], 255, 512);
    assert_eq!(&serial[4..], b"0123456789AB");
    let (_, csw) = h.read_cmd(&[0x12, 1, 0x83, 0, 255, 0], 255, 512);
    assert_eq!(csw.status, 1, "an unknown VPD page fails");
    assert_eq!(h.sense(), Sense::INVALID_FIELD);
    assert_eq!(h.sense(), Sense::NONE, "sense is reported once");

    let (cap, _) = h.read_cmd(&[0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0], 8, 512);
    assert_eq!(cap, [0, 0, 7, 0xff, 0, 0, 2, 0]);
    let mut c16 = vec![0x9e, 0x10];
    c16.resize(16, 0);
    c16[13] = 32;
    let (cap, _) = h.read_cmd(&c16, 32, 512);
    assert_eq!((&cap[..8], &cap[8..12]), (&2047u64.to_be_bytes()[..], &512u32.to_be_bytes()[..]));
    let (fmt, _) = h.read_cmd(&[0x23, 0, 0, 0, 0, 0, 0, 0, 252, 0], 252, 512);
    assert_eq!(fmt, [0, 0, 0, 8, 0, 0, 8, 0, 2, 0, 2, 0]);

    let (m6, _) = h.read_cmd(&[0x1a, 0, 0x3f, 0, 192, 0], 192, 512);
    assert_eq!((m6[0] as usize + 1, m6[2], m6[4]), (m6.len(), 0, 0x08), "caching page, not protected");
    let (m10, _) = h.read_cmd(&[0x5a, 0, 0x08, 0, 0, 0, 0, 0, 255, 0], 255, 512);
    assert_eq!(u16::from_be_bytes([m10[0], m10[1]]) as usize + 2, m10.len());
    let mut ro = Host::new(16, true);
    let (m6, _) = ro.read_cmd(&[0x1a, 0, 0x3f, 0, 192, 0], 192, 512);
    assert_eq!(m6[2], 0x80, "write-protect bit");
    assert_eq!(h.cmd(&[0x00, 0, 0, 0, 0, 0]), Csw { status: 0, residue: 0 }, "TEST UNIT READY");
}

#[test]
fn writes_reach_the_image_and_read_back_across_transfers() {
    let mut h = Host::new(64, false);
    let data: Vec<u8> = (0..8 * 512).map(|i| (i * 7 % 251) as u8).collect();
    assert_eq!(h.write_cmd(&rw10(0x2a, 10, 8), &data, 1000), Csw { status: 0, residue: 0 });
    assert_eq!(&h.image.get().data[10 * 512..18 * 512], &data[..]);
    let (back, csw) = h.read_cmd(&rw10(0x28, 10, 8), 8 * 512, 1024);
    assert_eq!((back, csw), (data.clone(), Csw { status: 0, residue: 0 }));
    let stats = h.dev.stats();
    assert_eq!((stats.read, stats.written, stats.commands, stats.writing), (4096, 4096, 2, false));
    assert_eq!(h.cmd(&[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0]).status, 0, "SYNCHRONIZE CACHE");
    assert_eq!(h.image.get().flushes, 1);
}

#[test]
fn read_only_out_of_range_and_unknown_commands_fail_with_sense_and_go_on() {
    let mut ro = Host::new(16, true);
    let before = ro.image.get().data.clone();
    assert_eq!(ro.write_cmd(&rw10(0x2a, 0, 2), &[0xaa; 1024], 512), Csw { status: 1, residue: 1024 });
    assert_eq!(ro.sense(), Sense::WRITE_PROTECTED);
    assert_eq!(ro.image.get().data, before, "nothing written");

    let mut h = Host::new(16, false);
    let (d, csw) = h.read_cmd(&rw10(0x28, 15, 2), 1024, 512);
    assert_eq!((d.len(), csw), (0, Csw { status: 1, residue: 1024 }));
    assert_eq!(h.sense(), Sense::LBA_OUT_OF_RANGE);
    for cdb in [&[0x04, 0, 0, 0, 0, 0][..], &[0xc5, 0, 0, 0, 0, 0], &[0x2f, 0, 0, 0, 0, 0, 0, 0, 0, 0]] {
        assert_eq!(h.cmd(cdb).status, 1, "{cdb:02x?}");
        assert_eq!(h.sense(), Sense::INVALID_OPCODE);
    }
    assert_eq!(h.read_cmd(&rw10(0x28, 0, 1), 512, 512).1, Csw { status: 0, residue: 0 }, "still works");
    h.image.get().failing = true;
    let (_, csw) = h.read_cmd(&rw10(0x28, 0, 1), 512, 512);
    assert_eq!(csw.status, 1);
    h.image.get().failing = false;
    assert_eq!(h.sense(), Sense::READ_ERROR);
}

#[test]
fn phase_errors_and_bad_wrappers() {
    let mut h = Host::new(16, false);
    let (_, csw) = h.read_cmd(&rw10(0x28, 0, 4), 512, 512);
    assert_eq!(csw.status, 2, "a READ of more than the wrapper allows is a phase error");
    h.tag += 1;
    assert_eq!(h.dev.bulk_out(EP_OUT, &cbw(h.tag, 512, false, &rw10(0x28, 0, 1))), status::SUCCESS);
    assert_eq!(h.dev.bulk_out(EP_OUT, &[0; 512]), status::SUCCESS, "the wrapper's data is taken and dropped");
    assert_eq!(h.csw(), Csw { status: 2, residue: 512 }, "data the wrong way");

    assert_eq!(h.dev.bulk_out(EP_OUT, b"not a wrapper"), status::STALL);
    assert_eq!(h.dev.bulk_in(EP_IN, 13).status, status::STALL, "both endpoints stall");
    let clear = |ep: u8| Setup { requesttype: 0x02, request: 1, value: 0, index: u16::from(ep), length: 0 };
    assert_eq!(h.dev.control(clear(EP_IN), &[]).status, status::SUCCESS);
    assert_eq!(h.dev.bulk_in(EP_IN, 13).status, status::STALL, "clearing alone does not end the halt");
    let reset = Setup { requesttype: 0x21, request: 0xff, value: 0, index: 0, length: 0 };
    assert_eq!(h.dev.control(reset, &[]).status, status::SUCCESS);
    assert_eq!(h.cmd(&[0x00, 0, 0, 0, 0, 0]).status, 0, "reset recovery");
}

#[test]
fn eject_and_prevent_removal() {
    let mut h = Host::new(16, false);
    assert_eq!(h.cmd(&[0x1e, 0, 0, 0, 1, 0]).status, 0);
    assert!(h.dev.removal_prevented());
    assert_eq!(h.cmd(&[0x1b, 0, 0, 0, 0x02, 0]).status, 1, "no eject while prevented");
    assert_eq!(h.sense(), Sense::INVALID_FIELD);
    assert_eq!(h.cmd(&[0x1e, 0, 0, 0, 0, 0]).status, 0);
    assert_eq!(h.cmd(&[0x1b, 0, 0, 0, 0x02, 0]).status, 0, "eject");
    assert_eq!(h.image.get().flushes, 1, "flushed on eject");
    assert_eq!(h.cmd(&[0x00, 0, 0, 0, 0, 0]).status, 1);
    assert_eq!(h.sense(), Sense::NO_MEDIUM);
    assert_eq!(h.cmd(&[0x1b, 0, 0, 0, 0x03, 0]).status, 0, "load");
    assert_eq!(h.cmd(&[0x00, 0, 0, 0, 0, 0]).status, 0);
}

#[test]
fn cdb_decoding_is_bounded() {
    assert_eq!(scsi::decode(&[]), Err(Sense::INVALID_OPCODE));
    assert_eq!(scsi::decode(&[0x28, 0, 0]), Err(Sense::INVALID_FIELD), "too short for its group");
    let mut r16 = vec![0x88, 0];
    r16.extend_from_slice(&u64::MAX.to_be_bytes());
    r16.extend_from_slice(&8u32.to_be_bytes());
    r16.extend_from_slice(&[0, 0]);
    assert_eq!(scsi::decode(&r16), Ok(scsi::Command::Read { lba: u64::MAX, blocks: 8 }));
    let mut h = Host::new(16, false);
    let (_, csw) = h.read_cmd(&r16, 4096, 4096);
    assert_eq!(csw.status, 1, "an LBA that overflows is out of range");
    assert_eq!(h.sense(), Sense::LBA_OUT_OF_RANGE);
}

#[test]
fn file_images_round_down_refuse_tiny_files_and_open_read_only() {
    use super::image::FileImage;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("disk.img");
    std::fs::write(&path, vec![7u8; 1500]).expect("write");
    let mut img = FileImage::open(&path, false).expect("open");
    assert_eq!(img.len(), 1024, "whole blocks only");
    img.write_at(0, &[1; 512]).expect("write");
    img.flush().expect("flush");
    let mut ro = FileImage::open(&path, true).expect("open ro");
    assert!(ro.write_at(0, &[2; 512]).is_err());
    let mut buf = [0u8; 512];
    ro.read_at(0, &mut buf).expect("read");
    assert_eq!(buf, [1; 512]);
    std::fs::write(dir.path().join("tiny.img"), [0u8; 100]).expect("write");
    assert!(FileImage::open(&dir.path().join("tiny.img"), false).is_err());
    assert!(FileImage::open(dir.path(), true).is_err(), "a directory");
}

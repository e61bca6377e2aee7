//! The virtual USB disk must answer any sequence of transfers without panicking, hanging or growing: replies never
//! exceed what was asked, the image keeps its size, and a read-only image is never changed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ryll::usb::descriptors::{EP_IN, EP_OUT};
use ryll::usb::device::{MassStorage, Setup};
use ryll::usb::image::{BlockImage, MemImage};

/// A memory image the fuzzer can look at after the device is done.
struct Watched(std::sync::Arc<std::sync::Mutex<MemImage>>);

impl BlockImage for Watched {
    fn len(&self) -> u64 {
        self.0.lock().map(|i| i.len()).unwrap_or(0)
    }
    fn read_only(&self) -> bool {
        self.0.lock().map(|i| i.read_only).unwrap_or(true)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> std::io::Result<()> {
        self.0.lock().map_err(|_| std::io::ErrorKind::Other)?.write_at(offset, buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else { return };
    let read_only = mode & 1 != 0;
    let image = std::sync::Arc::new(std::sync::Mutex::new(MemImage::new(64, read_only)));
    let before = image.lock().map(|i| i.data.clone()).unwrap_or_default();
    let mut dev = MassStorage::new(Box::new(Watched(image.clone())), "0123456789AB");
    // Each step: an op byte, a length byte, then (for OUT) that many bytes; a wrapper-shaped OUT now and then.
    while let Some((&op, tail)) = rest.split_first() {
        let Some((&len, tail)) = tail.split_first() else { break };
        let len = usize::from(len);
        match op % 4 {
            0 => {
                let take = len.min(tail.len());
                let _ = dev.bulk_out(EP_OUT, &tail[..take]);
                rest = &tail[take..];
            }
            1 => {
                let take = 16.min(tail.len());
                let mut cbw = b"USBC\x01\0\0\0".to_vec();
                cbw.extend_from_slice(&(u32::from(len as u8) * 512).to_le_bytes());
                cbw.extend_from_slice(&[op & 0x80, 0, 16]);
                cbw.extend_from_slice(&tail[..take]);
                cbw.resize(31, 0);
                let _ = dev.bulk_out(EP_OUT, &cbw);
                rest = &tail[take..];
            }
            2 => {
                let want = (len as u32) * 64;
                let reply = dev.bulk_in(EP_IN, want);
                assert!(reply.data.len() <= want as usize);
                rest = tail;
            }
            _ => {
                let take = 4.min(tail.len());
                let b = &tail[..take];
                let get = |i: usize| b.get(i).copied().unwrap_or(0);
                let setup = Setup {
                    requesttype: get(0),
                    request: get(1),
                    value: u16::from(get(2)) << 8 | u16::from(get(3)),
                    index: u16::from(len as u8 & 0x83),
                    length: len as u16,
                };
                let reply = dev.control(setup, &[]);
                assert!(reply.data.len() <= len);
                rest = &tail[take..];
            }
        }
    }
    drop(dev);
    let after = image.lock().map(|i| i.data.clone()).unwrap_or_default();
    assert_eq!(after.len(), before.len());
    if read_only {
        assert!(after == before, "a read-only image changed");
    }
});

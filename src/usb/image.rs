//! What a virtual disk reads and writes: a raw image file, or memory in tests.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::scsi::BLOCK;

/// A disk image: a whole number of [`BLOCK`]-byte blocks, read and written at offsets.
pub trait BlockImage: Send {
    /// Its size in bytes.
    fn len(&self) -> u64;
    /// Whether the image holds no block.
    fn is_empty(&self) -> bool {
        self.len() < u64::from(BLOCK)
    }
    /// Whether writes are refused.
    fn read_only(&self) -> bool;
    /// Fills `buf` from `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes `buf` at `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes what was written durable.
    fn flush(&mut self) -> io::Result<()>;
}

/// A raw image file. Read-only images are opened read-only, so no bug can write them.
#[derive(Debug)]
pub struct FileImage {
    file: File,
    len: u64,
    read_only: bool,
    dirty: bool,
}

impl FileImage {
    /// Opens `path`: a regular file of at least one block. Its size is rounded down to whole blocks.
    pub fn open(path: &Path, read_only: bool) -> io::Result<Self> {
        let file = OpenOptions::new().read(true).write(!read_only).open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"));
        }
        let len = meta.len() / u64::from(BLOCK) * u64::from(BLOCK);
        if len == 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "smaller than one 512-byte block"));
        }
        Ok(FileImage { file, len, read_only, dirty: false })
    }
}

impl BlockImage for FileImage {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only image"));
        }
        self.dirty = true;
        self.file.write_all_at(buf, offset)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }
}

impl Drop for FileImage {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::warn!("usb disk: flushing the image failed: {e}");
        }
    }
}

/// An image in memory, for tests.
#[derive(Debug, Clone)]
pub struct MemImage {
    /// The bytes.
    pub data: Vec<u8>,
    /// Writes are refused.
    pub read_only: bool,
    /// Flushes so far.
    pub flushes: u32,
    /// Fail every read and write (to test error reporting).
    pub failing: bool,
}

impl MemImage {
    /// `blocks` zero blocks.
    pub fn new(blocks: usize, read_only: bool) -> Self {
        MemImage { data: vec![0; blocks * BLOCK as usize], read_only, flushes: 0, failing: false }
    }

    fn range(&self, offset: u64, len: usize) -> io::Result<std::ops::Range<usize>> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let end = start.checked_add(len).filter(|&e| e <= self.data.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
        if self.failing {
            return Err(io::Error::other("failing image"));
        }
        Ok(start..end)
    }
}

impl BlockImage for MemImage {
    fn len(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let r = self.range(offset, buf.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        if self.read_only {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "read-only image"));
        }
        let r = self.range(offset, buf.len())?;
        self.data[r].copy_from_slice(buf);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

//! A bounds-checked little-endian reader and writer helpers shared by the parsers.

use super::{ProtocolError, Result};
use byteorder::{ByteOrder, LittleEndian};

/// Reads little-endian fields from a byte slice, failing with [`ProtocolError::Truncated`] instead of panicking.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`; `what` names the structure in errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Reader { buf, pos: 0, what }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Current offset from the start.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.pos..e).map(|s| (e, s))) {
            Some((e, s)) => {
                self.pos = e;
                Ok(s)
            }
            None => Err(ProtocolError::Truncated {
                what: self.what,
                need: self.pos.saturating_add(n),
                have: self.buf.len(),
            }),
        }
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Reads a u8.
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a little-endian u16.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(LittleEndian::read_u16(self.bytes(2)?))
    }

    /// Reads a little-endian i16.
    pub fn i16(&mut self) -> Result<i16> {
        Ok(LittleEndian::read_i16(self.bytes(2)?))
    }

    /// Reads a little-endian i32.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(LittleEndian::read_i32(self.bytes(4)?))
    }

    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> Result<u32> {
        Ok(LittleEndian::read_u32(self.bytes(4)?))
    }

    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> Result<u64> {
        Ok(LittleEndian::read_u64(self.bytes(8)?))
    }

    /// Reads a little-endian i64.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(LittleEndian::read_i64(self.bytes(8)?))
    }
}

/// Appends little-endian fields to a buffer.
pub trait PutLe {
    /// Appends a u16.
    fn put_u16_le(&mut self, v: u16);
    /// Appends a u32.
    fn put_u32_le(&mut self, v: u32);
    /// Appends a u64.
    fn put_u64_le(&mut self, v: u64);
}

impl PutLe for Vec<u8> {
    fn put_u16_le(&mut self, v: u16) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u32_le(&mut self, v: u32) {
        self.extend_from_slice(&v.to_le_bytes());
    }
    fn put_u64_le(&mut self, v: u64) {
        self.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_reports_truncation() {
        let data = [1u8, 2, 0, 3, 0, 0, 0];
        let mut r = Reader::new(&data, "thing");
        assert_eq!(r.u8().ok(), Some(1));
        assert_eq!(r.u16().ok(), Some(2));
        assert_eq!(r.u32().ok(), Some(3));
        assert!(matches!(r.u8(), Err(ProtocolError::Truncated { what: "thing", need: 8, have: 7 })));
    }

    #[test]
    fn huge_length_does_not_overflow() {
        let data = [0u8; 4];
        let mut r = Reader::new(&data, "x");
        assert!(r.bytes(2).is_ok());
        assert!(r.bytes(usize::MAX).is_err());
    }
}

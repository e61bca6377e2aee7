//! A bounds-checked big-endian byte reader for the codec streams (LZ, GLZ and LZ4 headers are big-endian, unlike
//! the little-endian SPICE messages that `protocol::wire::Reader` reads).

use super::DecodeError;

/// Reads bytes and big-endian fields from a slice, failing with [`DecodeError::Truncated`] at the end.
#[derive(Debug, Clone)]
pub(crate) struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> ByteReader<'a> {
    /// Starts reading `buf`; `what` names the codec in errors.
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        ByteReader { buf, pos: 0, what }
    }

    fn truncated(&self) -> DecodeError {
        DecodeError::Truncated { what: self.what }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Takes the next `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.truncated())?;
        let s = self.buf.get(self.pos..end).ok_or_else(|| self.truncated())?;
        self.pos = end;
        Ok(s)
    }

    /// Reads a fixed-size array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(b)
    }

    /// Reads a big-endian u16.
    pub(crate) fn u16_be(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u32.
    pub(crate) fn u32_be(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
}

/// An opaque pixel from blue, green and red bytes.
pub(crate) fn rgb(b: u8, g: u8, r: u8) -> u32 {
    0xFF00_0000 | u32::from(r) << 16 | u32::from(g) << 8 | u32::from(b)
}

/// An opaque pixel from an x555 16-bit value (bit 15 ignored, then 5 bits each of red, green, blue), each channel
/// widened to 8 bits by repeating its top bits.
pub(crate) fn rgb555(v: u16) -> u32 {
    let widen = |c: u16| -> u8 {
        let c = (c & 0x1F) as u8;
        c << 3 | c >> 2
    };
    rgb(widen(v), widen(v >> 5), widen(v >> 10))
}

/// An opaque pixel from a palette entry (`0x??RRGGBB`).
pub(crate) fn palette_entry(ent: u32) -> u32 {
    0xFF00_0000 | (ent & 0x00FF_FFFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_reads_big_endian_and_stops_at_the_end() {
        let mut r = ByteReader::new(&[1, 2, 3, 4, 5, 6, 7], "t");
        assert_eq!(r.u16_be(), Ok(0x0102));
        assert_eq!(r.u32_be(), Ok(0x0304_0506));
        assert_eq!(r.remaining(), 1);
        assert!(r.u16_be().is_err());
        assert_eq!(r.u8(), Ok(7));
        assert!(r.u8().is_err());
        assert!(r.bytes(usize::MAX).is_err());
    }

    #[test]
    fn pixel_helpers_widen_and_set_alpha() {
        assert_eq!(rgb555(0x7FFF), 0xFFFF_FFFF);
        assert_eq!(rgb555(0x8000), 0xFF00_0000);
        assert_eq!(rgb555(0b0_10000_00000_00001), 0xFF84_0008);
        assert_eq!(palette_entry(0x1234_5678), 0xFF34_5678);
    }
}

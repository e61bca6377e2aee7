//! The QUIC bit stream: little-endian 32-bit words whose bits are read most significant first.

use crate::codecs::DecodeError;

/// Reads bits from the words of a QUIC stream. Peeking past the end yields zero bits (the encoder pads its output,
/// and a code near the end may look ahead); consuming past the end is a [`DecodeError::Truncated`].
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Bits consumed so far.
    pos: u64,
    /// Bits available: whole words only.
    len: u64,
}

impl<'a> BitReader<'a> {
    /// A reader over `data`; trailing bytes that do not make a whole word are ignored.
    pub(super) fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0, len: (data.len() / 4) as u64 * 32 }
    }

    /// Bits not consumed yet.
    pub(super) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    fn word(&self, index: u64) -> u32 {
        let Ok(start) = usize::try_from(index.saturating_mul(4)) else { return 0 };
        self.data
            .get(start..start.saturating_add(4))
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// The next 32 bits, first bit in the most significant place, without consuming them.
    pub(super) fn peek(&self) -> u32 {
        let index = self.pos / 32;
        let pair = (u64::from(self.word(index)) << 32) | u64::from(self.word(index + 1));
        ((pair << (self.pos % 32)) >> 32) as u32
    }

    /// Consumes `n` bits.
    pub(super) fn skip(&mut self, n: u32) -> Result<(), DecodeError> {
        self.pos += u64::from(n);
        if self.pos > self.len {
            return Err(DecodeError::Truncated { what: "QUIC data" });
        }
        Ok(())
    }

    /// Reads `n` bits (0 to 32) as a number.
    pub(super) fn read(&mut self, n: u32) -> Result<u32, DecodeError> {
        let value = match n {
            0 => 0,
            1..=32 => self.peek() >> (32 - n),
            _ => return Err(DecodeError::invalid("QUIC", format!("read of {n} bits"))),
        };
        self.skip(n)?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_come_msb_first_from_little_endian_words() {
        let data = [0x78, 0x56, 0x34, 0x12, 0x00, 0x00, 0x00, 0xf0, 0xaa];
        let mut r = BitReader::new(&data);
        assert_eq!(r.remaining(), 64, "the odd trailing byte is not a word");
        assert_eq!(r.read(4).unwrap(), 0x1);
        assert_eq!(r.peek(), 0x2345_678f);
        assert_eq!(r.read(28).unwrap(), 0x234_5678);
        assert_eq!(r.read(32).unwrap(), 0xf000_0000);
        assert_eq!(r.peek(), 0, "zeros past the end");
        assert_eq!(r.read(0).unwrap(), 0);
        assert!(matches!(r.read(1), Err(DecodeError::Truncated { .. })));
    }
}

//! Capability bitsets: capability N lives in word N/32, bit N%32.

use super::constants::MAX_CAPS_WORDS;
use super::wire::{PutLe, Reader};
use super::{ProtocolError, Result};

/// A set of capability bits as sent on the wire.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caps {
    words: Vec<u32>,
}

impl Caps {
    /// An empty set.
    pub fn new() -> Self {
        Caps::default()
    }

    /// A set holding the given capability numbers.
    pub fn with(bits: &[u32]) -> Self {
        let mut caps = Caps::new();
        for &b in bits {
            caps.set(b);
        }
        caps
    }

    /// Sets capability `bit`. Bits beyond the protocol's word limit are ignored.
    pub fn set(&mut self, bit: u32) {
        let word = (bit / 32) as usize;
        if word >= MAX_CAPS_WORDS as usize {
            return;
        }
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        if let Some(w) = self.words.get_mut(word) {
            *w |= 1 << (bit % 32);
        }
    }

    /// Whether capability `bit` is set.
    pub fn has(&self, bit: u32) -> bool {
        self.words.get((bit / 32) as usize).is_some_and(|w| w & (1 << (bit % 32)) != 0)
    }

    /// The raw words.
    pub fn words(&self) -> &[u32] {
        &self.words
    }

    /// Number of words on the wire.
    pub fn len_words(&self) -> u32 {
        self.words.len() as u32
    }

    /// Reads `count` words, bounded by [`MAX_CAPS_WORDS`].
    pub fn read(r: &mut Reader<'_>, count: u32) -> Result<Self> {
        ProtocolError::check_max("capability word count", count.into(), MAX_CAPS_WORDS.into())?;
        let mut words = Vec::with_capacity(count as usize);
        for _ in 0..count {
            words.push(r.u32()?);
        }
        Ok(Caps { words })
    }

    /// Appends the words to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        for &w in &self.words {
            out.put_u32_le(w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_land_in_the_right_words() {
        let caps = Caps::with(&[0, 3, 33]);
        assert_eq!(caps.words(), &[0b1001, 0b10]);
        assert!(caps.has(3) && caps.has(33) && !caps.has(1) && !caps.has(64));
    }

    #[test]
    fn absurd_word_count_is_rejected_before_allocating() {
        let data = [0u8; 8];
        let mut r = Reader::new(&data, "caps");
        assert!(matches!(Caps::read(&mut r, u32::MAX), Err(ProtocolError::TooLarge { .. })));
        let mut r = Reader::new(&data, "caps");
        assert!(matches!(Caps::read(&mut r, 3), Err(ProtocolError::Truncated { .. })));
    }
}

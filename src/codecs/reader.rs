//! Helpers shared by the codecs: pixel conversions.

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
    fn pixel_helpers_widen_and_set_alpha() {
        assert_eq!(rgb555(0x7FFF), 0xFFFF_FFFF);
        assert_eq!(rgb555(0x8000), 0xFF00_0000);
        assert_eq!(rgb555(0b0_10000_00000_00001), 0xFF84_0008);
        assert_eq!(palette_entry(0x1234_5678), 0xFF34_5678);
    }
}

//! Image codecs of the SPICE display channel: pure decoders from compressed bytes to pixels, with no I/O.
//!
//! Every decoder takes the codec's bytes (what follows the image descriptor's type-specific header on the wire)
//! and returns a [`Pixels`] image, or a [`DecodeError`] naming what was wrong. Decoders are bounded: they check the
//! claimed size against [`Limits`] before allocating, never read past their input, never index out of range and
//! never panic, whatever the bytes. Fuzz targets in `fuzz/` run each of them.
//!
//! Pixel format everywhere: `u32` values `0xAARRGGBB`, rows top to bottom, packed (`width` pixels per row). A
//! decoder of a format without alpha sets the alpha byte to 0xFF; `has_alpha` says whether it is meaningful.
//!
//! Decoders:
//! - [`bitmap`]: uncompressed BITMAP pixels in every SpiceBitmapFmt, palettes, both row orders.
//! - [`lz`]: LZ_RGB / LZ_PLT images of every LZ type, and the LZ alpha plane of JPEG_ALPHA.
//! - [`lz4`]: LZ4 images (linked LZ4 blocks of 16/24/32-bit or RGBA pixels).
//! - [`glz`]: GLZ_RGB images and the [`glz::GlzDictionary`] of earlier images they reference.
//! - [`zlib_glz`]: ZLIB_GLZ_RGB images (zlib-inflated, size-bounded, then GLZ).
//! - [`jpeg`]: JPEG (zune-jpeg) and JPEG_ALPHA (JPEG plus an LZ alpha plane) images.
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use thiserror::Error;

pub mod bitmap;
pub mod cursor;
pub mod glz;
pub mod jpeg;
pub mod lz;
pub mod lz4;
pub mod mjpeg;
pub mod quic;
mod reader;
pub mod zlib_glz;

/// A decoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Whether the alpha bytes carry the image's alpha (RGBA formats) rather than 0xFF.
    pub has_alpha: bool,
    /// `width × height` pixels, `0xAARRGGBB`, top row first.
    pub data: Vec<u32>,
}

impl Pixels {
    /// An opaque image of `width × height` filled with `color`, after checking the size against `limits`.
    pub fn filled(width: u32, height: u32, color: u32, limits: &Limits) -> Result<Self, DecodeError> {
        let n = limits.check(width, height)?;
        Ok(Pixels { width, height, has_alpha: false, data: vec![color; n] })
    }

    /// Flips the rows in place: for codecs whose stream is bottom row first.
    pub fn flip_rows(&mut self) {
        let w = self.width as usize;
        if w == 0 {
            return;
        }
        let h = self.data.len() / w;
        for y in 0..h / 2 {
            let (top, bottom) = self.data.split_at_mut((h - 1 - y) * w);
            if let (Some(a), Some(b)) = (top.get_mut(y * w..(y + 1) * w), bottom.get_mut(..w)) {
                a.swap_with_slice(b);
            }
        }
    }
}

/// Bounds on what a decoder will allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest width or height accepted.
    pub max_side: u32,
    /// Largest `width × height` accepted.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 16384 pixels a side and 64 Mi pixels (256 MiB of pixels) in all: larger than any real monitor layout.
    fn default() -> Self {
        Limits { max_side: 16_384, max_pixels: 64 << 20 }
    }
}

impl Limits {
    /// The pixel count of a `width × height` image, or why it is refused. Zero-sized images are refused too.
    pub fn check(&self, width: u32, height: u32) -> Result<usize, DecodeError> {
        if width == 0 || height == 0 {
            return Err(DecodeError::invalid("image size", format!("{width}×{height} is empty")));
        }
        if width > self.max_side || height > self.max_side {
            return Err(DecodeError::TooLarge {
                what: "image side",
                value: width.max(height).into(),
                max: self.max_side.into(),
            });
        }
        let n = u64::from(width) * u64::from(height);
        if n > self.max_pixels {
            return Err(DecodeError::TooLarge { what: "image pixels", value: n, max: self.max_pixels });
        }
        usize::try_from(n).map_err(|_| DecodeError::TooLarge { what: "image pixels", value: n, max: self.max_pixels })
    }
}

/// Why bytes could not be decoded into an image.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the image did.
    #[error("truncated {what}")]
    Truncated {
        /// The codec or structure being decoded.
        what: &'static str,
    },
    /// A size is larger than the limits allow.
    #[error("{what} of {value} exceeds the limit of {max}")]
    TooLarge {
        /// The field.
        what: &'static str,
        /// The value read.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// The bytes contradict themselves or the image descriptor.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// The codec or field.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Invalid`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        DecodeError::Invalid { what, reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_empty_huge_and_overflowing_sizes() {
        let l = Limits::default();
        assert!(l.check(0, 10).is_err());
        assert!(l.check(65_535, 65_535).is_err());
        assert!(l.check(16_384, 16_384).is_err());
        assert_eq!(l.check(1920, 1080), Ok(1920 * 1080));
    }

    #[test]
    fn flip_rows_reverses_row_order() {
        let mut p = Pixels { width: 2, height: 3, has_alpha: false, data: vec![1, 2, 3, 4, 5, 6] };
        p.flip_rows();
        assert_eq!(p.data, vec![5, 6, 3, 4, 1, 2]);
    }
}

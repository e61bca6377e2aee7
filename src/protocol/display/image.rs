//! The image a draw refers to: the 18-byte descriptor, then a header and data that depend on the image type.
//!
//! The data of every type is a slice of the message body holding exactly what the matching decoder in
//! `codecs/` takes: the inline pixels of a BITMAP (`stride × height` bytes), the `data_size` bytes of a
//! compressed image. Palettes are read into at most [`MAX_PALETTE_ENTRIES`] `0x00RRGGBB` values.

use super::{sized_bytes, Body, MAX_PALETTE_ENTRIES};
use crate::protocol::wire::Reader;
use crate::protocol::{ProtocolError, Result};

/// Image type numbers (`SpiceImageType`).
pub mod image_type {
    /// Raw pixels.
    pub const BITMAP: u8 = 0;
    /// QUIC.
    pub const QUIC: u8 = 1;
    /// LZ with a palette.
    pub const LZ_PLT: u8 = 100;
    /// LZ, RGB.
    pub const LZ_RGB: u8 = 101;
    /// GLZ (LZ with references to earlier images), RGB.
    pub const GLZ_RGB: u8 = 102;
    /// An image in the pixmap cache.
    pub const FROM_CACHE: u8 = 103;
    /// Another surface.
    pub const SURFACE: u8 = 104;
    /// JPEG.
    pub const JPEG: u8 = 105;
    /// A lossless image in the pixmap cache.
    pub const FROM_CACHE_LOSSLESS: u8 = 106;
    /// zlib-wrapped GLZ.
    pub const ZLIB_GLZ_RGB: u8 = 107;
    /// JPEG plus an LZ alpha plane.
    pub const JPEG_ALPHA: u8 = 108;
    /// LZ4.
    pub const LZ4: u8 = 109;
}

/// Image descriptor flag: store the decoded image in the pixmap cache under its id.
/// The name of an image type, for logs.
pub fn image_type_name(t: u8) -> &'static str {
    match t {
        image_type::BITMAP => "BITMAP",
        image_type::QUIC => "QUIC",
        image_type::LZ_PLT => "LZ_PLT",
        image_type::LZ_RGB => "LZ_RGB",
        image_type::GLZ_RGB => "GLZ_RGB",
        image_type::FROM_CACHE => "FROM_CACHE",
        image_type::SURFACE => "SURFACE",
        image_type::JPEG => "JPEG",
        image_type::FROM_CACHE_LOSSLESS => "FROM_CACHE_LOSSLESS",
        image_type::ZLIB_GLZ_RGB => "ZLIB_GLZ_RGB",
        image_type::JPEG_ALPHA => "JPEG_ALPHA",
        image_type::LZ4 => "LZ4",
        _ => "unknown image type",
    }
}

pub const IMAGE_CACHE_ME: u8 = 1;
/// Image descriptor flag: set the X byte to 0xFF after decoding.
pub const IMAGE_HIGH_BITS_SET: u8 = 2;
/// Image descriptor flag: replace a lossy cache entry with this (lossless) image.
pub const IMAGE_CACHE_REPLACE_ME: u8 = 4;

/// Bitmap flag: store the palette in the palette cache.
pub const BITMAP_PAL_CACHE_ME: u8 = 1;
/// Bitmap flag: the palette is a palette-cache id instead of a pointer.
pub const BITMAP_PAL_FROM_CACHE: u8 = 2;
/// Bitmap flag: the first row is the top row.
pub const BITMAP_TOP_DOWN: u8 = 4;

/// JPEG_ALPHA flag: the alpha plane's first row is the top row.
pub const JPEG_ALPHA_TOP_DOWN: u8 = 1;

/// The 18-byte descriptor every image starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageDescriptor {
    /// Unique id; the pixmap-cache key.
    pub id: u64,
    /// Image type (see [`image_type`]).
    pub image_type: u8,
    /// Flags ([`IMAGE_CACHE_ME`], [`IMAGE_HIGH_BITS_SET`], [`IMAGE_CACHE_REPLACE_ME`]).
    pub flags: u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl ImageDescriptor {
    /// Whether the decoded image must be cached (or replace a cached one): such images must be decoded even when
    /// the draw changes no pixel.
    pub fn must_cache(&self) -> bool {
        self.flags & (IMAGE_CACHE_ME | IMAGE_CACHE_REPLACE_ME) != 0
    }
}

/// A palette (`u64 unique, u16 count, u32 entries[count]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    /// Palette-cache key.
    pub unique: u64,
    /// Entries, `0x00RRGGBB`.
    pub entries: Vec<u32>,
}

impl Palette {
    fn read(mut r: Reader<'_>) -> Result<Self> {
        let unique = r.u64()?;
        let n = r.u16()?;
        ProtocolError::check_max("palette entries", n.into(), MAX_PALETTE_ENTRIES.into())?;
        let mut entries = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            entries.push(r.u32()?);
        }
        Ok(Palette { unique, entries })
    }
}

/// Where a palette image's palette is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaletteRef {
    /// No palette (non-palette formats).
    None,
    /// In the palette cache under this id.
    FromCache(u64),
    /// In the message.
    Inline(Palette),
}

impl PaletteRef {
    /// `u64 id` with PAL_FROM_CACHE, else `u32` pointer to a palette (`required` refuses a null one).
    fn read(r: &mut Reader<'_>, body: &Body<'_>, flags: u8, required: bool) -> Result<Self> {
        if flags & BITMAP_PAL_FROM_CACHE != 0 {
            return Ok(PaletteRef::FromCache(r.u64()?));
        }
        let offset = r.u32()?;
        match body.pointer(offset, "palette")? {
            Some(at) => Ok(PaletteRef::Inline(Palette::read(at)?)),
            None if required => Err(ProtocolError::invalid("palette", "null pointer")),
            None => Ok(PaletteRef::None),
        }
    }
}

/// A BITMAP image's header and inline pixels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitmapImage<'a> {
    /// SpiceBitmapFmt (1BIT_LE 1 … 8BIT_A 10; see `codecs::bitmap::BitmapFormat`).
    pub format: u8,
    /// Flags ([`BITMAP_PAL_CACHE_ME`], [`BITMAP_PAL_FROM_CACHE`], [`BITMAP_TOP_DOWN`]).
    pub flags: u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels (rows in `data`).
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
    /// The palette of the palette formats.
    pub palette: PaletteRef,
    /// `stride × height` bytes of pixels.
    pub data: &'a [u8],
}

impl BitmapImage<'_> {
    /// Whether the first row of `data` is the top row.
    pub fn top_down(&self) -> bool {
        self.flags & BITMAP_TOP_DOWN != 0
    }
}

/// The type-specific part of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageData<'a> {
    /// BITMAP: raw pixels.
    Bitmap(BitmapImage<'a>),
    /// QUIC data.
    Quic(&'a [u8]),
    /// LZ_PLT: LZ data of a palette image.
    LzPlt {
        /// Bitmap flags (palette caching).
        flags: u8,
        /// The palette (never [`PaletteRef::None`]).
        palette: PaletteRef,
        /// The LZ stream.
        data: &'a [u8],
    },
    /// LZ_RGB data.
    LzRgb(&'a [u8]),
    /// GLZ_RGB data.
    GlzRgb(&'a [u8]),
    /// FROM_CACHE: the pixmap-cache entry with the descriptor's id.
    FromCache,
    /// FROM_CACHE_LOSSLESS: the lossless pixmap-cache entry with the descriptor's id.
    FromCacheLossless,
    /// SURFACE: another surface's pixels.
    Surface(u32),
    /// JPEG data.
    Jpeg(&'a [u8]),
    /// ZLIB_GLZ_RGB: zlib-wrapped GLZ.
    ZlibGlzRgb {
        /// Size of the GLZ stream after inflating.
        glz_data_size: u32,
        /// The zlib stream.
        data: &'a [u8],
    },
    /// JPEG_ALPHA: a JPEG followed by an LZ alpha plane.
    JpegAlpha {
        /// Flags ([`JPEG_ALPHA_TOP_DOWN`]).
        flags: u8,
        /// Bytes of JPEG at the start of `data` (≤ `data.len()`).
        jpeg_size: u32,
        /// JPEG then LZ alpha.
        data: &'a [u8],
    },
    /// LZ4 data.
    Lz4(&'a [u8]),
}

/// An image: descriptor and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image<'a> {
    /// The descriptor.
    pub descriptor: ImageDescriptor,
    /// The type-specific header and data.
    pub data: ImageData<'a>,
}

impl<'a> Image<'a> {
    /// Reads an image at a pointer's target.
    pub(super) fn read(mut r: Reader<'a>, body: &Body<'a>) -> Result<Self> {
        let descriptor =
            ImageDescriptor { id: r.u64()?, image_type: r.u8()?, flags: r.u8()?, width: r.u32()?, height: r.u32()? };
        let data = match descriptor.image_type {
            image_type::BITMAP => ImageData::Bitmap(read_bitmap(&mut r, body)?),
            image_type::QUIC => ImageData::Quic(sized_bytes(&mut r)?),
            image_type::LZ_PLT => {
                let flags = r.u8()?;
                let size = r.u32()?;
                let palette = PaletteRef::read(&mut r, body, flags, true)?;
                ImageData::LzPlt { flags, palette, data: r.bytes(size as usize)? }
            }
            image_type::LZ_RGB => ImageData::LzRgb(sized_bytes(&mut r)?),
            image_type::GLZ_RGB => ImageData::GlzRgb(sized_bytes(&mut r)?),
            image_type::FROM_CACHE => ImageData::FromCache,
            image_type::FROM_CACHE_LOSSLESS => ImageData::FromCacheLossless,
            image_type::SURFACE => ImageData::Surface(r.u32()?),
            image_type::JPEG => ImageData::Jpeg(sized_bytes(&mut r)?),
            image_type::ZLIB_GLZ_RGB => {
                let glz_data_size = r.u32()?;
                ImageData::ZlibGlzRgb { glz_data_size, data: sized_bytes(&mut r)? }
            }
            image_type::JPEG_ALPHA => {
                let flags = r.u8()?;
                let jpeg_size = r.u32()?;
                let data = sized_bytes(&mut r)?;
                if jpeg_size as usize > data.len() {
                    return Err(ProtocolError::invalid(
                        "JPEG_ALPHA jpeg size",
                        format!("{jpeg_size} bytes of JPEG in {} bytes of data", data.len()),
                    ));
                }
                ImageData::JpegAlpha { flags, jpeg_size, data }
            }
            image_type::LZ4 => ImageData::Lz4(sized_bytes(&mut r)?),
            t => return Err(ProtocolError::invalid("image type", format!("unknown image type {t}"))),
        };
        Ok(Image { descriptor, data })
    }

    /// The codec bytes (pixels of a BITMAP, compressed data otherwise); empty for cache and surface references.
    pub fn payload(&self) -> &'a [u8] {
        match &self.data {
            ImageData::Bitmap(b) => b.data,
            ImageData::Quic(d)
            | ImageData::LzRgb(d)
            | ImageData::GlzRgb(d)
            | ImageData::Jpeg(d)
            | ImageData::Lz4(d)
            | ImageData::LzPlt { data: d, .. }
            | ImageData::ZlibGlzRgb { data: d, .. }
            | ImageData::JpegAlpha { data: d, .. } => d,
            ImageData::FromCache | ImageData::FromCacheLossless | ImageData::Surface(_) => &[],
        }
    }

    /// Whether the image must be decoded even when its draw changes no pixel: it goes into the pixmap cache, its
    /// palette goes into the palette cache, or it is a GLZ image the dictionary must see.
    pub fn must_decode(&self) -> bool {
        let palette_cached = match &self.data {
            ImageData::Bitmap(b) => b.flags & BITMAP_PAL_CACHE_ME != 0,
            ImageData::LzPlt { flags, .. } => flags & BITMAP_PAL_CACHE_ME != 0,
            _ => false,
        };
        let glz = matches!(self.data, ImageData::GlzRgb(_) | ImageData::ZlibGlzRgb { .. });
        self.descriptor.must_cache() || palette_cached || glz
    }
}

fn read_bitmap<'a>(r: &mut Reader<'a>, body: &Body<'a>) -> Result<BitmapImage<'a>> {
    let format = r.u8()?;
    let flags = r.u8()?;
    let width = r.u32()?;
    let height = r.u32()?;
    let stride = r.u32()?;
    let palette = PaletteRef::read(r, body, flags, false)?;
    let len = u64::from(stride) * u64::from(height);
    let len = usize::try_from(len).map_err(|_| ProtocolError::TooLarge {
        what: "bitmap data",
        value: len,
        max: usize::MAX as u64,
    })?;
    Ok(BitmapImage { format, flags, width, height, stride, palette, data: r.bytes(len)? })
}

//! From an image on the wire to pixels: the decoders, the pixmap cache, the palette cache and the GLZ dictionary.
//!
//! The pixmap cache and the GLZ dictionary belong to the session, not to one display channel (the server keys them
//! by client and id), so they are shared: [`SessionImages`] is cloned into every display channel. The palette cache
//! is per channel.

use super::CanvasError;
use crate::codecs::bitmap::{self, Bitmap, BitmapFormat};
use crate::codecs::glz::GlzDictionary;
use crate::codecs::{jpeg, lz, lz4, quic, zlib_glz, Limits, Pixels};
use crate::protocol::display::image::BitmapImage;
use crate::protocol::display::image::{BITMAP_PAL_CACHE_ME, JPEG_ALPHA_TOP_DOWN};
use crate::protocol::display::image::{IMAGE_CACHE_ME, IMAGE_CACHE_REPLACE_ME, IMAGE_HIGH_BITS_SET};
use crate::protocol::display::{Image, ImageData, Palette, PaletteRef};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// The most palettes the palette cache holds; beyond it the oldest goes first.
pub const MAX_CACHED_PALETTES: usize = 4096;

/// The pixmap cache: decoded images by descriptor id, within the pixel budget announced in DISPLAY_INIT.
#[derive(Debug, Default)]
pub struct PixmapCache {
    entries: HashMap<u64, CachedImage>,
    pixels: u64,
    max_pixels: u64,
}

#[derive(Debug, Clone)]
struct CachedImage {
    image: Arc<Pixels>,
    lossy: bool,
}

impl PixmapCache {
    /// An empty cache of at most `max_pixels` pixels.
    pub fn new(max_pixels: u64) -> Self {
        PixmapCache { entries: HashMap::new(), pixels: 0, max_pixels }
    }

    /// Stores `image` under `id`, replacing any earlier entry. The server keeps the client within the budget by
    /// sending INVAL_LIST first; an entry that would exceed it anyway is refused.
    pub fn insert(&mut self, id: u64, image: Arc<Pixels>, lossy: bool) -> Result<(), CanvasError> {
        self.remove(id);
        let cost = u64::from(image.width) * u64::from(image.height);
        if self.pixels + cost > self.max_pixels {
            return Err(CanvasError::CacheFull { id, pixels: cost, budget: self.max_pixels });
        }
        self.pixels += cost;
        self.entries.insert(id, CachedImage { image, lossy });
        Ok(())
    }

    /// The entry `id`, and whether it is lossy.
    pub fn get(&self, id: u64) -> Option<(Arc<Pixels>, bool)> {
        self.entries.get(&id).map(|e| (Arc::clone(&e.image), e.lossy))
    }

    /// Drops the entry `id` (INVAL_LIST).
    pub fn remove(&mut self, id: u64) {
        if let Some(e) = self.entries.remove(&id) {
            self.pixels -= u64::from(e.image.width) * u64::from(e.image.height);
        }
    }

    /// Drops every entry (INVAL_ALL_PIXMAPS, a new session).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.pixels = 0;
    }

    /// Pixels held.
    pub fn pixels(&self) -> u64 {
        self.pixels
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The palette cache of one display channel: palettes by their unique id, at most [`MAX_CACHED_PALETTES`].
#[derive(Debug, Default)]
pub struct PaletteCache {
    entries: HashMap<u64, Arc<Vec<u32>>>,
    order: VecDeque<u64>,
}

impl PaletteCache {
    /// Stores a palette, dropping the oldest when full.
    pub fn insert(&mut self, palette: &Palette) -> Arc<Vec<u32>> {
        let entries = Arc::new(palette.entries.clone());
        if self.entries.insert(palette.unique, Arc::clone(&entries)).is_none() {
            self.order.push_back(palette.unique);
        }
        while self.order.len() > MAX_CACHED_PALETTES {
            if let Some(old) = self.order.pop_front() {
                self.entries.remove(&old);
            }
        }
        entries
    }

    /// The palette `id`.
    pub fn get(&self, id: u64) -> Option<Arc<Vec<u32>>> {
        self.entries.get(&id).cloned()
    }

    /// Drops the palette `id` (INVAL_PALETTE).
    pub fn remove(&mut self, id: u64) {
        if self.entries.remove(&id).is_some() {
            self.order.retain(|&o| o != id);
        }
    }

    /// Drops every palette (INVAL_ALL_PALETTES, RESET).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }
}

/// The session-wide image state every display channel shares: the pixmap cache and the GLZ dictionary.
#[derive(Debug, Clone)]
pub struct SessionImages {
    pixmaps: Arc<Mutex<PixmapCache>>,
    glz: Arc<Mutex<GlzDictionary>>,
}

impl SessionImages {
    /// Empty caches for the sizes announced in DISPLAY_INIT.
    pub fn new(pixmap_cache_pixels: u64, glz_window_pixels: u64) -> Self {
        SessionImages {
            pixmaps: Arc::new(Mutex::new(PixmapCache::new(pixmap_cache_pixels))),
            glz: Arc::new(Mutex::new(GlzDictionary::new(glz_window_pixels))),
        }
    }

    /// The pixmap cache (a poisoned lock is taken over: the cache holds no invariant a panic could break).
    pub fn pixmaps(&self) -> MutexGuard<'_, PixmapCache> {
        self.pixmaps.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The GLZ dictionary.
    pub fn glz(&self) -> MutexGuard<'_, GlzDictionary> {
        self.glz.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything: a display channel linked with no other one running starts a new server dictionary.
    pub fn clear(&self) {
        self.pixmaps().clear();
        self.glz().clear();
    }
}

/// Decodes `image` (everything but FROM_CACHE and SURFACE, which the canvas resolves) and caches it as its
/// descriptor asks. Returns the pixels and whether they are lossy.
pub(super) fn decode(
    image: &Image<'_>,
    palettes: &mut PaletteCache,
    session: &SessionImages,
    limits: &Limits,
) -> Result<(Arc<Pixels>, bool), CanvasError> {
    let d = &image.descriptor;
    let lossy = matches!(image.data, ImageData::Jpeg(_) | ImageData::JpegAlpha { .. });
    let mut pixels: Arc<Pixels> = match &image.data {
        ImageData::Bitmap(b) => {
            let format = BitmapFormat::from_u8(b.format)?;
            let palette = if format.uses_palette() { Some(palette(&b.palette, b.flags, palettes)?) } else { None };
            Arc::new(bitmap::decode(&codec_bitmap(b, format, palette.as_deref().map(Vec::as_slice)), limits)?)
        }
        ImageData::Quic(data) => Arc::new(quic::decode(data, limits)?),
        ImageData::LzPlt { flags, palette: p, data } => {
            let p = palette(p, *flags, palettes)?;
            Arc::new(lz::decode(data, Some(&p), limits)?)
        }
        ImageData::LzRgb(data) => Arc::new(lz::decode(data, None, limits)?),
        // GLZ images come shared with the dictionary, which keeps them.
        ImageData::GlzRgb(data) => crate::codecs::glz::decode(data, &mut session.glz(), limits)?,
        ImageData::ZlibGlzRgb { glz_data_size, data } => {
            zlib_glz::decode(*glz_data_size, data, &mut session.glz(), limits)?
        }
        ImageData::Jpeg(data) => Arc::new(jpeg::decode(data, limits)?),
        ImageData::JpegAlpha { flags, jpeg_size, data } => {
            Arc::new(jpeg::decode_alpha(flags & JPEG_ALPHA_TOP_DOWN != 0, *jpeg_size, data, limits)?)
        }
        ImageData::Lz4(data) => Arc::new(lz4::decode(d.width, d.height, data, limits)?),
        ImageData::FromCache | ImageData::FromCacheLossless | ImageData::Surface(_) => {
            return Err(CanvasError::invalid("image", "a cache or surface reference is resolved by the canvas"));
        }
    };
    if d.flags & IMAGE_HIGH_BITS_SET != 0 && pixels.has_alpha {
        // Images without alpha are opaque already; one shared with the GLZ dictionary is copied first.
        Arc::make_mut(&mut pixels).data.iter_mut().for_each(|p| *p |= 0xff00_0000);
    }
    if d.flags & (IMAGE_CACHE_ME | IMAGE_CACHE_REPLACE_ME) != 0 {
        session.pixmaps().insert(d.id, Arc::clone(&pixels), lossy)?;
    }
    Ok((pixels, lossy))
}

/// The codec's view of a wire BITMAP image of `format`, coloured by `palette`.
pub(super) fn codec_bitmap<'a>(b: &BitmapImage<'a>, format: BitmapFormat, palette: Option<&'a [u32]>) -> Bitmap<'a> {
    Bitmap { format, width: b.width, height: b.height, stride: b.stride, top_down: b.top_down(), data: b.data, palette }
}

/// The palette an image refers to, caching an inline one when its flags ask.
fn palette(p: &PaletteRef, flags: u8, cache: &mut PaletteCache) -> Result<Arc<Vec<u32>>, CanvasError> {
    match p {
        PaletteRef::None => Err(CanvasError::invalid("palette", "a palette image without a palette")),
        PaletteRef::FromCache(id) => cache.get(*id).ok_or(CanvasError::MissingPalette(*id)),
        PaletteRef::Inline(palette) if flags & BITMAP_PAL_CACHE_ME != 0 => Ok(cache.insert(palette)),
        PaletteRef::Inline(palette) => Ok(Arc::new(palette.entries.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(w: u32, h: u32) -> Arc<Pixels> {
        Arc::new(Pixels { width: w, height: h, has_alpha: false, data: vec![0; (w * h) as usize] })
    }

    #[test]
    fn the_pixmap_cache_keeps_its_budget() {
        let mut c = PixmapCache::new(100);
        c.insert(1, image(5, 10), false).unwrap();
        c.insert(2, image(5, 10), true).unwrap();
        assert!(matches!(c.insert(3, image(1, 1), false), Err(CanvasError::CacheFull { .. })));
        c.insert(2, image(2, 2), false).unwrap();
        assert_eq!((c.pixels(), c.len()), (54, 2));
        assert_eq!(c.get(2).map(|(_, lossy)| lossy), Some(false));
        c.remove(1);
        c.remove(9);
        assert_eq!(c.pixels(), 4);
        c.clear();
        assert!(c.is_empty() && c.get(2).is_none());
    }

    #[test]
    fn the_palette_cache_is_bounded() {
        let mut c = PaletteCache::default();
        for unique in 0..(MAX_CACHED_PALETTES as u64 + 10) {
            c.insert(&Palette { unique, entries: vec![unique as u32] });
        }
        assert!(c.get(0).is_none());
        assert_eq!(c.get(MAX_CACHED_PALETTES as u64 + 9).as_deref(), Some(&vec![MAX_CACHED_PALETTES as u32 + 9]));
        c.remove(20);
        assert!(c.get(20).is_none());
        c.clear();
        assert!(c.get(MAX_CACHED_PALETTES as u64 + 9).is_none());
    }
}

//! SPICE GLZ images (GLZ_RGB 102): LZ whose back references may reach into earlier images of a shared dictionary.
//!
//! Header (big-endian): u32 magic (as LZ), u32 version (as LZ), one byte with the LZ type in its low nibble and
//! top_down in bit 4, u32 width, u32 height, u32 stride, u64 image id, u32 win_head_dist. The ids number the images
//! of one dictionary in encoding order; `id − win_head_dist` is the oldest image the encoder still references.
//!
//! Body items start with a control byte. Below 32: a literal run of `ctrl + 1` pixels (RGB32: B, G, R; RGB16: two
//! bytes, high first). Otherwise a reference: length field `ctrl >> 5` (7: add following bytes until one is not
//! 255), bit 4 a "long offset" flag and the low nibble the lowest 4 bits of the pixel offset. The next byte adds
//! bits 4–11 of the offset. The byte after that holds, in its top two bits, how many more bytes of image distance
//! follow (0–3). Short form (flag clear): its low 6 bits are the low bits of the image distance and each further
//! byte adds 8 more bits above them. Long form: its bit 5 flags a "very long" offset, its low 5 bits are bits 12–16
//! of the offset, the further bytes are the image distance from bit 0, and a very long offset ends with a byte of
//! bits 17–24. Length = field + bias (RGB32 0, RGB16 1, alpha 2). With an image distance of 0 the reference is
//! inside this image, `offset + 1` pixels back; otherwise it starts at pixel `offset` of the image
//! `id − distance`, counted in that image's stream order. RGBA adds an alpha pass coded the same way, whose
//! references copy only alpha bytes (an earlier image without alpha has alpha 0 there, as the reference decoder keeps
//! RGB images; the pixels such an image copied from an image with alpha are opaque here).
//!
//! The dictionary keeps decoded images in stream order. After image `id` it may drop every image older than
//! `id − win_head_dist` (of the newest image of the run of consecutive ids, since several display channels may
//! decode out of order); a pixel budget bounds it as well.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::lz::{add_length_bytes, read_rgb16, LzType, LZ_MAGIC, LZ_VERSION};
use super::reader::{rgb, ByteReader};
use super::{DecodeError, Limits, Pixels};

/// The largest dictionary window a client may announce in DISPLAY_INIT, in pixels.
pub const MAX_WINDOW_PIXELS: u64 = 1 << 25;

/// The fields of a GLZ header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlzHeader {
    /// What the units are (GLZ_RGB uses RGB16, RGB24, RGB32 and RGBA).
    pub lz_type: LzType,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row (informative).
    pub stride: u32,
    /// Whether the first row in the stream is the top row.
    pub top_down: bool,
    /// The image's id in the dictionary.
    pub id: u64,
    /// How many ids back the encoder's window reaches.
    pub win_head_dist: u32,
}

fn read_header<'a>(data: &'a [u8]) -> Result<(GlzHeader, ByteReader<'a>), DecodeError> {
    let mut r = ByteReader::new(data, "GLZ image");
    let magic = r.u32_be()?;
    if magic != LZ_MAGIC {
        return Err(DecodeError::invalid("GLZ magic", format!("{magic:#010x}")));
    }
    let version = r.u32_be()?;
    if version != LZ_VERSION {
        return Err(DecodeError::invalid("GLZ version", format!("{version:#010x}")));
    }
    let type_byte = r.u8()?;
    let lz_type = LzType::from_u32(u32::from(type_byte & 0x0F))?;
    let top_down = type_byte >> 4 != 0;
    let (width, height, stride) = (r.u32_be()?, r.u32_be()?, r.u32_be()?);
    let id = u64::from_be_bytes(r.array()?);
    let win_head_dist = r.u32_be()?;
    Ok((GlzHeader { lz_type, width, height, stride, top_down, id, win_head_dist }, r))
}

/// Reads the GLZ header at the start of `data`.
pub fn parse_header(data: &[u8]) -> Result<GlzHeader, DecodeError> {
    read_header(data).map(|(h, _)| h)
}

/// Bytes of the GLZ header.
pub const GLZ_HEADER_LEN: usize = 33;

struct StoredImage {
    /// The image in stream order (alpha in the alpha bytes when `has_alpha`, else opaque).
    pixels: Arc<Pixels>,
    win_head_dist: u32,
}

/// The GLZ decoder window: earlier images by id, bounded in pixels. One per session; it is shared by the display
/// channels (wrap it in `Arc<Mutex<GlzDictionary>>` and hold the lock for one [`decode`]).
pub struct GlzDictionary {
    images: BTreeMap<u64, StoredImage>,
    total_pixels: u64,
    max_pixels: u64,
    /// One past the newest id of the run of consecutive ids that started with the first image.
    run_end: Option<u64>,
}

impl std::fmt::Debug for GlzDictionary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlzDictionary")
            .field("images", &self.images.len())
            .field("total_pixels", &self.total_pixels)
            .field("max_pixels", &self.max_pixels)
            .finish()
    }
}

impl GlzDictionary {
    /// A dictionary for the window announced in DISPLAY_INIT (`window_pixels`, capped at [`MAX_WINDOW_PIXELS`]).
    /// It never holds more pixels than that: beyond it the oldest images go first.
    pub fn new(window_pixels: u64) -> Self {
        GlzDictionary {
            images: BTreeMap::new(),
            total_pixels: 0,
            max_pixels: window_pixels.min(MAX_WINDOW_PIXELS),
            run_end: None,
        }
    }

    /// Forgets every image (a new dictionary from the server, or a reconnection).
    pub fn clear(&mut self) {
        self.images.clear();
        self.total_pixels = 0;
        self.run_end = None;
    }

    /// Whether the image `id` is held.
    pub fn contains(&self, id: u64) -> bool {
        self.images.contains_key(&id)
    }

    /// How many images are held.
    pub fn len(&self) -> usize {
        self.images.len()
    }

    /// Whether no image is held.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }

    /// Pixels held in all.
    pub fn total_pixels(&self) -> u64 {
        self.total_pixels
    }

    /// The oldest image of `header`'s window (ids `id − win_head_dist` to `id − 1`) that is not held yet: with
    /// several display channels, a caller may wait for another channel to decode it before decoding this image.
    pub fn first_missing(&self, header: &GlzHeader) -> Option<u64> {
        let oldest = header.id.saturating_sub(u64::from(header.win_head_dist));
        let mut expected = oldest;
        for &id in self.images.range(oldest..header.id).map(|(id, _)| id) {
            if id != expected {
                return Some(expected);
            }
            expected = id.saturating_add(1);
        }
        (expected < header.id).then_some(expected)
    }

    /// The image `id`'s pixels in stream order, and whether it has alpha.
    fn get(&self, id: u64) -> Result<(&[u32], bool), DecodeError> {
        self.images
            .get(&id)
            .map(|i| (i.pixels.data.as_slice(), i.pixels.has_alpha))
            .ok_or_else(|| DecodeError::invalid("GLZ reference", format!("image {id} is not in the dictionary")))
    }

    fn insert(&mut self, id: u64, pixels: Arc<Pixels>, win_head_dist: u32) {
        let n = pixels.data.len() as u64;
        if let Some(old) = self.images.remove(&id) {
            self.total_pixels -= old.pixels.data.len() as u64;
        }
        if n > self.max_pixels {
            return;
        }
        self.images.insert(id, StoredImage { pixels, win_head_dist });
        self.total_pixels += n;
        // Release what the newest image of the consecutive run no longer needs.
        let mut end = match self.run_end {
            Some(e) if e != id => e,
            _ => id.saturating_add(1),
        };
        while end < u64::MAX && self.images.contains_key(&end) {
            end += 1;
        }
        self.run_end = Some(end);
        let newest = end.saturating_sub(1);
        let horizon =
            self.images.get(&newest).map(|img| newest.saturating_sub(u64::from(img.win_head_dist))).unwrap_or(0);
        let kept = self.images.split_off(&horizon);
        for dropped in std::mem::replace(&mut self.images, kept).into_values() {
            self.total_pixels -= dropped.pixels.data.len() as u64;
        }
        while self.total_pixels > self.max_pixels {
            match self.images.pop_first() {
                Some((_, dropped)) => self.total_pixels -= dropped.pixels.data.len() as u64,
                None => break,
            }
        }
    }
}

/// One back reference: `len` units from pixel `offset` of the image `image_dist` ids back, or, with an image
/// distance of 0, from `offset + 1` pixels back in this image. `len` is the length field; add the pass's bias.
struct Reference {
    len: usize,
    offset: usize,
    image_dist: u64,
}

/// Reads the rest of the reference that starts with control byte `ctrl` (32 or more).
fn read_reference(ctrl: u8, r: &mut ByteReader<'_>) -> Result<Reference, DecodeError> {
    let mut len = usize::from(ctrl >> 5);
    if len == 7 {
        len = add_length_bytes(r, len)?;
    }
    let mut offset = usize::from(ctrl & 0x0F) | usize::from(r.u8()?) << 4;
    let code = r.u8()?;
    let extra = u32::from(code >> 6);
    let mut image_dist: u64;
    if ctrl & 0x10 == 0 {
        image_dist = u64::from(code & 0x3F);
        for i in 0..extra {
            image_dist |= u64::from(r.u8()?) << (6 + 8 * i);
        }
    } else {
        offset |= usize::from(code & 0x1F) << 12;
        image_dist = 0;
        for i in 0..extra {
            image_dist |= u64::from(r.u8()?) << (8 * i);
        }
        if code & 0x20 != 0 {
            offset |= usize::from(r.u8()?) << 17;
        }
    }
    Ok(Reference { len, offset, image_dist })
}

/// The `len` pixels from `offset` of the image `image_dist` ids before `id`, and whether that image has alpha.
fn earlier(
    dict: &GlzDictionary,
    id: u64,
    image_dist: u64,
    offset: usize,
    len: usize,
) -> Result<(&[u32], bool), DecodeError> {
    let ref_id = id
        .checked_sub(image_dist)
        .ok_or_else(|| DecodeError::invalid("GLZ reference", format!("image distance {image_dist}")))?;
    let (src, alpha) = dict.get(ref_id)?;
    let src = src
        .get(offset..)
        .and_then(|s| s.get(..len))
        .ok_or_else(|| DecodeError::invalid("GLZ reference", format!("pixels {offset}+{len} beyond image {ref_id}")))?;
    Ok((src, alpha))
}

/// Appends `len` pixels copied from `dist` pixels back (`dist ≤ out.len()`), front to back: an overlapping copy
/// repeats the pattern, and goes in whole slices (after the first `dist` pixels the span repeats with period
/// `dist`, so each step may copy everything written so far). No step reallocates when `out` has the capacity.
fn extend_back(out: &mut Vec<u32>, dist: usize, len: usize) {
    let from = out.len() - dist;
    if dist == 1 {
        if let Some(&v) = out.last() {
            out.resize(out.len() + len, v);
        }
        return;
    }
    let mut left = len;
    while left > 0 {
        let n = (out.len() - from).min(left);
        out.extend_from_within(from..from + n);
        left -= n;
    }
}

/// The colour pass of an image of `total` pixels, appended to `out` (empty, with that capacity). Pixels come out
/// opaque; returns whether a reference copied pixels of an image with alpha (whose alpha came along).
fn decompress_colour(
    r: &mut ByteReader<'_>,
    out: &mut Vec<u32>,
    total: usize,
    rgb16: bool,
    id: u64,
    dict: &GlzDictionary,
) -> Result<bool, DecodeError> {
    let bias = usize::from(rgb16);
    let mut copied_alpha = false;
    while out.len() < total {
        let ctrl = r.u8()?;
        if ctrl < 32 {
            let count = usize::from(ctrl) + 1;
            if count > total - out.len() {
                return Err(overrun("literal"));
            }
            if rgb16 {
                for _ in 0..count {
                    out.push(read_rgb16(r)?);
                }
            } else {
                let bytes = r.bytes(count * 3)?;
                out.extend(bytes.chunks_exact(3).map(|c| match *c {
                    [b, g, rr] => rgb(b, g, rr),
                    _ => 0,
                }));
            }
            continue;
        }
        let Reference { len, offset, image_dist } = read_reference(ctrl, r)?;
        let len = len.saturating_add(bias);
        if len > total - out.len() {
            return Err(overrun("reference"));
        }
        if image_dist == 0 {
            let dist = offset + 1;
            if dist > out.len() {
                return Err(DecodeError::invalid("GLZ reference", format!("distance {dist} before the start")));
            }
            extend_back(out, dist, len);
        } else {
            let (src, alpha) = earlier(dict, id, image_dist, offset, len)?;
            copied_alpha |= alpha;
            out.extend_from_slice(src);
        }
    }
    Ok(copied_alpha)
}

/// The alpha pass of an RGBA image over `out` (its colour pass done). References copy only alpha bytes; an earlier
/// image without alpha gives 0, as the reference decoder keeps such images.
fn decompress_alpha(r: &mut ByteReader<'_>, out: &mut [u32], id: u64, dict: &GlzDictionary) -> Result<(), DecodeError> {
    let total = out.len();
    let mut pos = 0usize;
    let set = |p: &mut u32, a: u32| *p = (*p & 0x00FF_FFFF) | a;
    while pos < total {
        let ctrl = r.u8()?;
        if ctrl < 32 {
            let count = usize::from(ctrl) + 1;
            let dest = out.get_mut(pos..pos + count).ok_or_else(|| overrun("literal"))?;
            for (p, &a) in dest.iter_mut().zip(r.bytes(count)?) {
                set(p, u32::from(a) << 24);
            }
            pos += count;
            continue;
        }
        let Reference { len, offset, image_dist } = read_reference(ctrl, r)?;
        let len = len.saturating_add(2);
        if len > total - pos {
            return Err(overrun("reference"));
        }
        if image_dist == 0 {
            let dist = offset + 1;
            if dist > pos {
                return Err(DecodeError::invalid("GLZ reference", format!("distance {dist} before the start")));
            }
            for i in pos..pos + len {
                let a = out.get(i - dist).map_or(0, |&p| p & 0xFF00_0000);
                if let Some(p) = out.get_mut(i) {
                    set(p, a);
                }
            }
        } else {
            let (src, alpha) = earlier(dict, id, image_dist, offset, len)?;
            let dest = out.get_mut(pos..pos + len).ok_or_else(|| overrun("reference"))?;
            for (d, s) in dest.iter_mut().zip(src) {
                set(d, if alpha { s & 0xFF00_0000 } else { 0 });
            }
        }
        pos += len;
    }
    Ok(())
}

fn overrun(what: &str) -> DecodeError {
    DecodeError::invalid("GLZ image", format!("a {what} runs past the end of the image"))
}

/// Decodes a GLZ image, taking references from `dict`, then adds it to `dict`. A reference to an image the
/// dictionary does not hold is an error (see [`GlzDictionary::first_missing`] to wait for it first).
///
/// The pixels are written once: a top-down image is shared with the dictionary, which keeps it as returned (RGB
/// images opaque); a bottom-up one is kept in stream order beside the flipped copy returned.
pub fn decode(data: &[u8], dict: &mut GlzDictionary, limits: &Limits) -> Result<Arc<Pixels>, DecodeError> {
    let (h, mut r) = read_header(data)?;
    let n = limits.check(h.width, h.height)?;
    let rgb16 = match h.lz_type {
        LzType::Rgb16 => true,
        LzType::Rgb24 | LzType::Rgb32 | LzType::Rgba => false,
        t => return Err(DecodeError::invalid("GLZ type", format!("{t:?} (GLZ_RGB carries no palette)"))),
    };
    let mut px = Vec::with_capacity(n);
    let copied_alpha = decompress_colour(&mut r, &mut px, n, rgb16, h.id, dict)?;
    let has_alpha = h.lz_type == LzType::Rgba;
    if has_alpha {
        decompress_alpha(&mut r, &mut px, h.id, dict)?;
    } else if copied_alpha {
        px.iter_mut().for_each(|p| *p |= 0xFF00_0000);
    }
    let stream = Arc::new(Pixels { width: h.width, height: h.height, has_alpha, data: px });
    let out = if h.top_down {
        stream.clone()
    } else {
        let mut flipped = Pixels::clone(&stream);
        flipped.flip_rows();
        Arc::new(flipped)
    };
    dict.insert(h.id, stream, h.win_head_dist);
    Ok(out)
}

#[cfg(test)]
pub(crate) mod test_encoder {
    //! A GLZ encoder for tests: explicit items only.

    use super::super::lz::{LzType, LZ_MAGIC, LZ_VERSION};

    /// One item of a GLZ body.
    #[derive(Debug, Clone)]
    pub enum Item {
        /// Raw units (their encoded bytes).
        Literal(Vec<u8>, usize),
        /// A reference inside this image: real length and real distance.
        Near { len: usize, dist: usize },
        /// A reference into the image `image_dist` ids back, from pixel `offset`.
        Far { len: usize, image_dist: u64, offset: usize },
    }

    pub fn header(t: LzType, w: u32, h: u32, top_down: bool, id: u64, win_head_dist: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend(LZ_MAGIC.to_be_bytes());
        v.extend(LZ_VERSION.to_be_bytes());
        v.push(t.value() as u8 | u8::from(top_down) << 4);
        for x in [w, h, w * 4] {
            v.extend(x.to_be_bytes());
        }
        v.extend(id.to_be_bytes());
        v.extend(win_head_dist.to_be_bytes());
        v
    }

    fn reference(out: &mut Vec<u8>, len: usize, bias: usize, image_dist: u64, offset: usize) {
        let field = len - bias;
        assert!(field >= 1);
        let long = offset >= 1 << 12;
        let pixel_flag = if long { 0x10 } else { 0 };
        out.push((field.min(7) << 5) as u8 | pixel_flag | (offset & 0x0F) as u8);
        if field >= 7 {
            let mut rest = field - 7;
            while rest >= 255 {
                out.push(255);
                rest -= 255;
            }
            out.push(rest as u8);
        }
        out.push((offset >> 4) as u8);
        if !long {
            let extra = [0u64, 1 << 6, 1 << 14, 1 << 22].iter().rposition(|&l| image_dist >= l).unwrap();
            out.push((extra as u8) << 6 | (image_dist & 0x3F) as u8);
            for i in 0..extra {
                out.push((image_dist >> (6 + 8 * i)) as u8);
            }
        } else {
            let extra = [0u64, 1, 1 << 8, 1 << 16].iter().rposition(|&l| image_dist >= l).unwrap();
            let very_long = offset >= 1 << 17;
            out.push((extra as u8) << 6 | u8::from(very_long) << 5 | ((offset >> 12) & 0x1F) as u8);
            for i in 0..extra {
                out.push((image_dist >> (8 * i)) as u8);
            }
            if very_long {
                out.push((offset >> 17) as u8);
            }
        }
    }

    /// Encodes items with the length `bias` of the pass.
    pub fn body(items: &[Item], bias: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for item in items {
            match item {
                Item::Literal(bytes, unit) => {
                    for chunk in bytes.chunks(32 * unit) {
                        out.push((chunk.len() / unit - 1) as u8);
                        out.extend_from_slice(chunk);
                    }
                }
                Item::Near { len, dist } => reference(&mut out, *len, bias, 0, dist - 1),
                Item::Far { len, image_dist, offset } => reference(&mut out, *len, bias, *image_dist, *offset),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::test_encoder::{body, header, Item};
    use super::*;

    const L: Limits = Limits { max_side: 16_384, max_pixels: 64 << 20 };

    fn rgb32(t: LzType, w: u32, h: u32, id: u64, whd: u32, items: &[Item]) -> Vec<u8> {
        [header(t, w, h, true, id, whd), body(items, 0)].concat()
    }

    fn lit(px: &[[u8; 3]]) -> Item {
        Item::Literal(px.concat(), 3)
    }

    #[test]
    fn literals_and_a_run_in_one_image_in_both_row_orders() {
        let mut d = GlzDictionary::new(1 << 20);
        // Red, then a run of 3 (length field 3, bias 0) at distance 1.
        let items = [lit(&[[0, 0, 0xFF]]), Item::Near { len: 3, dist: 1 }];
        let p = decode(&rgb32(LzType::Rgb32, 2, 2, 0, 0, &items), &mut d, &L).unwrap();
        assert_eq!(p.data, [0xFFFF_0000; 4]);
        assert!(!p.has_alpha);
        let items = [lit(&[[1, 0, 0], [2, 0, 0]])];
        let p = decode(&[header(LzType::Rgb32, 1, 2, false, 1, 1), body(&items, 0)].concat(), &mut d, &L).unwrap();
        assert_eq!(p.data, [0xFF00_0002, 0xFF00_0001]);
        // Hand-made bytes: literal blue, then 0x20 (length 1, short), offset byte 0, distance byte 0.
        let data = [header(LzType::Rgb32, 2, 1, true, 2, 2), vec![0x00, 0xFF, 0, 0, 0x20, 0x00, 0x00]].concat();
        assert_eq!(decode(&data, &mut d, &L).unwrap().data, [0xFF00_00FF; 2]);
    }

    #[test]
    fn references_into_previous_images() {
        let mut d = GlzDictionary::new(1 << 20);
        let first: Vec<[u8; 3]> = (0..8u8).map(|i| [i, 0, 0]).collect();
        decode(&rgb32(LzType::Rgb32, 4, 2, 10, 0, &[lit(&first)]), &mut d, &L).unwrap();
        // Image 11: pixels 3..7 of image 10 (one back), then one literal.
        let items = [Item::Far { len: 4, image_dist: 1, offset: 3 }, lit(&[[9, 9, 9]])];
        let p = decode(&rgb32(LzType::Rgb32, 5, 1, 11, 1, &items), &mut d, &L).unwrap();
        assert_eq!(p.data, [0xFF00_0003, 0xFF00_0004, 0xFF00_0005, 0xFF00_0006, 0xFF09_0909]);
        // Image 12 reaches two back into image 10, past its end: refused.
        let items = [Item::Far { len: 2, image_dist: 2, offset: 7 }];
        assert!(decode(&rgb32(LzType::Rgb32, 2, 1, 12, 2, &items), &mut d, &L).is_err());
        // The long form (offset ≥ 4096) and a multi-byte image distance in the short form (≥ 64).
        let big: Vec<[u8; 3]> = (0..5000u32).map(|i| [i as u8, (i >> 8) as u8, 1]).collect();
        decode(&rgb32(LzType::Rgb32, 5000, 1, 100, 0, &[lit(&big)]), &mut d, &L).unwrap();
        let items =
            [Item::Far { len: 2, image_dist: 70, offset: 4321 }, Item::Far { len: 1, image_dist: 70, offset: 0 }];
        let data = rgb32(LzType::Rgb32, 3, 1, 170, 100, &items);
        let p = decode(&data, &mut d, &L).unwrap();
        assert_eq!(p.data, [0xFF01_10E1, 0xFF01_10E2, 0xFF01_0000]);
    }

    #[test]
    fn rgba_alpha_pass_copies_alpha_from_previous_images() {
        let mut d = GlzDictionary::new(1 << 20);
        let rgb_items = [lit(&[[1, 2, 3]]), Item::Near { len: 3, dist: 1 }];
        let alpha = [Item::Literal(vec![0x10, 0x20, 0x30, 0x40], 1)];
        let data = [header(LzType::Rgba, 4, 1, true, 0, 0), body(&rgb_items, 0), body(&alpha, 2)].concat();
        let p = decode(&data, &mut d, &L).unwrap();
        assert_eq!(p.data, [0x1003_0201, 0x2003_0201, 0x3003_0201, 0x4003_0201]);
        assert!(p.has_alpha);
        let rgb_items = [lit(&[[7, 7, 7], [8, 8, 8], [9, 9, 9]])];
        let alpha = [Item::Far { len: 3, image_dist: 1, offset: 1 }];
        let data = [header(LzType::Rgba, 3, 1, true, 1, 1), body(&rgb_items, 0), body(&alpha, 2)].concat();
        assert_eq!(decode(&data, &mut d, &L).unwrap().data, [0x2007_0707, 0x3008_0808, 0x4009_0909]);
    }

    #[test]
    fn runs_of_every_period_and_alpha_from_an_image_without_alpha() {
        let mut d = GlzDictionary::new(1 << 20);
        // Three literals, then 20 pixels 3 back: the pattern repeats (an overlapping copy in doubling slices).
        let items = [lit(&[[1, 0, 0], [2, 0, 0], [3, 0, 0]]), Item::Near { len: 20, dist: 3 }];
        let p = decode(&rgb32(LzType::Rgb32, 23, 1, 0, 0, &items), &mut d, &L).unwrap();
        let want: Vec<u32> = (0..23).map(|i| 0xFF00_0001 + i % 3).collect();
        assert_eq!(p.data, want);
        // An RGBA image whose alpha pass copies from image 0 (no alpha): alpha 0 there, as the reference keeps it.
        let rgb_items = [lit(&[[5, 5, 5]]), Item::Near { len: 2, dist: 1 }];
        let alpha = [Item::Far { len: 3, image_dist: 1, offset: 0 }];
        let data = [header(LzType::Rgba, 3, 1, true, 1, 1), body(&rgb_items, 0), body(&alpha, 2)].concat();
        assert_eq!(decode(&data, &mut d, &L).unwrap().data, [0x0005_0505; 3]);
        // An RGB image copying from that RGBA image comes out opaque.
        let items = [Item::Far { len: 3, image_dist: 1, offset: 0 }];
        let p = decode(&rgb32(LzType::Rgb32, 3, 1, 2, 1, &items), &mut d, &L).unwrap();
        assert_eq!((p.data.as_slice(), p.has_alpha), (&[0xFF05_0505; 3][..], false));
    }

    #[test]
    fn a_bottom_up_image_is_referenced_in_stream_order_and_a_top_down_one_is_shared() {
        let mut d = GlzDictionary::new(1 << 20);
        let rows = [lit(&[[1, 0, 0], [2, 0, 0], [3, 0, 0], [4, 0, 0]])];
        let up = decode(&[header(LzType::Rgb32, 2, 2, false, 0, 0), body(&rows, 0)].concat(), &mut d, &L).unwrap();
        assert_eq!(up.data, [0xFF00_0003, 0xFF00_0004, 0xFF00_0001, 0xFF00_0002]);
        // Pixel 1 of image 0 in stream order is 2, whatever the row order shown.
        let items = [Item::Far { len: 1, image_dist: 1, offset: 1 }];
        let p = decode(&rgb32(LzType::Rgb32, 1, 1, 1, 1, &items), &mut d, &L).unwrap();
        assert_eq!(p.data, [0xFF00_0002]);
        assert_eq!(Arc::strong_count(&p), 2, "one copy, held by the caller and the dictionary");
    }

    #[test]
    fn rgb16_units_have_a_bias_of_one() {
        let mut d = GlzDictionary::new(1 << 20);
        let items = [Item::Literal(vec![0x7C, 0x00], 2), Item::Near { len: 2, dist: 1 }];
        let data = [header(LzType::Rgb16, 3, 1, true, 0, 0), body(&items, 1)].concat();
        assert_eq!(decode(&data, &mut d, &L).unwrap().data, [0xFFFF_0000; 3]);
    }

    #[test]
    fn the_window_releases_old_images_and_the_budget_bounds_the_dictionary() {
        let mut d = GlzDictionary::new(1 << 20);
        let one = |id, whd| rgb32(LzType::Rgb32, 1, 1, id, whd, &[lit(&[[id as u8, 0, 0]])]);
        for id in 0..5 {
            decode(&one(id, 5), &mut d, &L).unwrap();
        }
        assert_eq!(d.len(), 5);
        // Image 5 says only images 3 and 4 are still needed.
        decode(&one(5, 2), &mut d, &L).unwrap();
        assert!(!d.contains(2) && d.contains(3) && d.contains(5));
        let h = parse_header(&one(6, 4)).unwrap();
        assert_eq!(d.first_missing(&h), Some(2));
        // A reference to a released image is an error, not a hang.
        let far = rgb32(LzType::Rgb32, 1, 1, 6, 4, &[Item::Far { len: 1, image_dist: 4, offset: 0 }]);
        assert!(decode(&far, &mut d, &L).is_err());
        // An image decoded out of order (a gap at 7) does not release anything.
        decode(&one(8, 0), &mut d, &L).unwrap();
        assert!(d.contains(3));
        // A budget of 4 pixels keeps only the newest 4 images; a larger image is not kept at all.
        let mut small = GlzDictionary::new(4);
        for id in 0..6 {
            decode(&one(id, 100), &mut small, &L).unwrap();
        }
        assert_eq!((small.len(), small.total_pixels()), (4, 4));
        assert!(!small.contains(1) && small.contains(2));
        decode(&rgb32(LzType::Rgb32, 5, 1, 6, 100, &[lit(&[[0; 3]; 5])]), &mut small, &L).unwrap();
        assert!(!small.contains(6));
        small.clear();
        assert!(small.is_empty());
        assert_eq!(GlzDictionary::new(u64::MAX).max_pixels, MAX_WINDOW_PIXELS);
    }

    #[test]
    fn hostile_streams_are_refused() {
        let mut d = GlzDictionary::new(1 << 20);
        let good = rgb32(LzType::Rgb32, 2, 1, 0, 0, &[lit(&[[1, 2, 3], [4, 5, 6]])]);
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], &mut d, &L).is_err(), "truncated at {cut}");
        }
        assert!(d.is_empty(), "failed decodes add nothing");
        let mut bad = good.clone();
        bad[1] = 0;
        assert!(decode(&bad, &mut d, &L).is_err());
        let mut bad = good.clone();
        bad[7] = 9;
        assert!(decode(&bad, &mut d, &L).is_err());
        assert!(decode(&rgb32(LzType::Plt8, 2, 1, 0, 0, &[]), &mut d, &L).is_err());
        assert!(decode(&rgb32(LzType::Rgb32, 65_535, 65_535, 0, 0, &[]), &mut d, &L).is_err());
        let before = rgb32(LzType::Rgb32, 3, 1, 0, 0, &[lit(&[[1, 2, 3]]), Item::Near { len: 1, dist: 2 }]);
        assert!(decode(&before, &mut d, &L).is_err());
        let past = rgb32(LzType::Rgb32, 2, 1, 0, 0, &[lit(&[[1, 2, 3]]), Item::Near { len: 2, dist: 1 }]);
        assert!(decode(&past, &mut d, &L).is_err());
        // A distance beyond the first id, and to an image never seen.
        let under = rgb32(LzType::Rgb32, 1, 1, 3, 0, &[Item::Far { len: 1, image_dist: 4, offset: 0 }]);
        assert!(decode(&under, &mut d, &L).is_err());
        let missing = rgb32(LzType::Rgb32, 1, 1, 3, 0, &[Item::Far { len: 1, image_dist: 1, offset: 0 }]);
        assert!(decode(&missing, &mut d, &L).is_err());
        // A length extension of 255s only runs out of input.
        let mut endless = header(LzType::Rgb32, 1000, 1, true, 0, 0);
        endless.extend([0u8, 1, 2, 3, 0xE0]);
        endless.extend([255u8; 64]);
        assert_eq!(decode(&endless, &mut d, &L), Err(DecodeError::Truncated { what: "GLZ image" }));
    }
}

//! SPICE LZ images (LZ_RGB 101, LZ_PLT 100, and the alpha plane of JPEG_ALPHA): a FastLZ-like byte format.
//!
//! Header: seven big-endian u32 — magic `"LZ  "` (0x20205a4c), version 0x00010001, LZ type, width, height,
//! stride, top_down. Then the body, a sequence of items each starting with a control byte:
//! - below 32: a literal run of `ctrl + 1` units, stored raw;
//! - 32 and up: a back reference. Its length field is `ctrl >> 5` (1–7); 7 means "add the following bytes
//!   until one is not 255". The distance is `(ctrl & 31) << 8 | next byte`; the pair 31/255 instead announces a
//!   16-bit big-endian far distance to which 8191 is added. The real length is the field minus one plus a bias
//!   (3 for palette, alpha and A8 units, 2 for RGB16, 1 for RGB24/32); the real distance is the value plus one.
//!   A distance of one repeats the previous unit (a run); copies overlap forwards.
//!
//! The body ends when the image is full. A unit is one pixel (RGB16: two bytes, high byte first, x555;
//! RGB24/RGB32: three bytes B, G, R), one alpha byte (XXXA, A8, the second pass of RGBA) or one byte of palette
//! indexes (PLT1: 8 pixels, PLT4: 2 pixels, PLT8: 1 pixel) — palette images are coded as `stride × height`
//! bytes, of which each row's first `ceil(width / pixels per byte)` hold pixels. RGBA is an RGB32 pass followed by
//! an alpha pass over the same pixels. Rows come in stream order: bottom row first when top_down is 0.

use super::reader::{rgb, ByteReader};
use super::{DecodeError, Limits, Pixels};

/// The magic number, `"LZ  "` read as a big-endian u32.
pub const LZ_MAGIC: u32 = 0x2020_5a4c;
/// The only LZ (and GLZ) version.
pub const LZ_VERSION: u32 = 0x0001_0001;
/// Bytes of the LZ header.
pub const LZ_HEADER_LEN: usize = 28;

/// Near distances (after removing the bias of one) are below this; the far form adds it.
pub(crate) const MAX_NEAR_DISTANCE: usize = 8191;

/// The LZ image types (shared with GLZ's type nibble).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LzType {
    /// 1 bit per pixel palette indexes, leftmost pixel in bit 0.
    Plt1Le,
    /// 1 bit per pixel palette indexes, leftmost pixel in bit 7.
    Plt1Be,
    /// 4 bits per pixel palette indexes, leftmost pixel in the low nibble.
    Plt4Le,
    /// 4 bits per pixel palette indexes, leftmost pixel in the high nibble.
    Plt4Be,
    /// 8 bits per pixel palette indexes.
    Plt8,
    /// x555 pixels.
    Rgb16,
    /// B, G, R pixels.
    Rgb24,
    /// B, G, R pixels (stored as 32 bits).
    Rgb32,
    /// B, G, R pixels then an alpha plane.
    Rgba,
    /// An alpha plane only.
    Xxxa,
    /// 8-bit alpha mask.
    A8,
}

impl LzType {
    /// The type for its numeric value (1–11).
    pub fn from_u32(v: u32) -> Result<Self, DecodeError> {
        Ok(match v {
            1 => LzType::Plt1Le,
            2 => LzType::Plt1Be,
            3 => LzType::Plt4Le,
            4 => LzType::Plt4Be,
            5 => LzType::Plt8,
            6 => LzType::Rgb16,
            7 => LzType::Rgb24,
            8 => LzType::Rgb32,
            9 => LzType::Rgba,
            10 => LzType::Xxxa,
            11 => LzType::A8,
            _ => return Err(DecodeError::invalid("LZ type", format!("unknown type {v}"))),
        })
    }

    /// The numeric value.
    pub fn value(self) -> u32 {
        match self {
            LzType::Plt1Le => 1,
            LzType::Plt1Be => 2,
            LzType::Plt4Le => 3,
            LzType::Plt4Be => 4,
            LzType::Plt8 => 5,
            LzType::Rgb16 => 6,
            LzType::Rgb24 => 7,
            LzType::Rgb32 => 8,
            LzType::Rgba => 9,
            LzType::Xxxa => 10,
            LzType::A8 => 11,
        }
    }

    /// Pixels per byte of a palette type; `None` for the others.
    pub fn pixels_per_byte(self) -> Option<u32> {
        match self {
            LzType::Plt1Le | LzType::Plt1Be => Some(8),
            LzType::Plt4Le | LzType::Plt4Be => Some(2),
            LzType::Plt8 => Some(1),
            _ => None,
        }
    }
}

/// The fields of an LZ header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LzHeader {
    /// What the units are.
    pub lz_type: LzType,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes per row of a palette image (ignored for the other types).
    pub stride: u32,
    /// Whether the first row in the stream is the top row.
    pub top_down: bool,
}

fn read_header<'a>(data: &'a [u8]) -> Result<(LzHeader, ByteReader<'a>), DecodeError> {
    let mut r = ByteReader::new(data, "LZ image");
    let magic = r.u32_be()?;
    if magic != LZ_MAGIC {
        return Err(DecodeError::invalid("LZ magic", format!("{magic:#010x}")));
    }
    let version = r.u32_be()?;
    if version != LZ_VERSION {
        return Err(DecodeError::invalid("LZ version", format!("{version:#010x}")));
    }
    let lz_type = LzType::from_u32(r.u32_be()?)?;
    let (width, height, stride) = (r.u32_be()?, r.u32_be()?, r.u32_be()?);
    let top_down = r.u32_be()? != 0;
    Ok((LzHeader { lz_type, width, height, stride, top_down }, r))
}

/// Reads the LZ header at the start of `data`.
pub fn parse_header(data: &[u8]) -> Result<LzHeader, DecodeError> {
    read_header(data).map(|(h, _)| h)
}

/// The units one LZ pass fills, and how a unit is read and copied.
trait Units {
    /// How many units the pass fills.
    fn total(&self) -> usize;
    /// What is added to the length field minus one.
    fn len_bias(&self) -> usize;
    /// Reads one literal unit into `at`.
    fn literal(&mut self, at: usize, r: &mut ByteReader<'_>) -> Result<(), DecodeError>;
    /// Copies `len` units from `from` to `to > from`, front to back (the ranges may overlap). In range.
    fn copy_forward(&mut self, from: usize, to: usize, len: usize);
}

/// Copies front to back so an overlapping copy repeats the pattern, as LZ back references mean.
///
/// An overlapping copy (distance below the length: a run) goes in whole slices: after the first `dist` pixels the
/// copied span repeats with period `dist`, so each step may copy everything written so far (a fill for distance 1).
pub(crate) fn copy_forward<T: Copy>(buf: &mut [T], from: usize, to: usize, len: usize) {
    if from < to && to.saturating_add(len) <= buf.len() {
        let dist = to - from;
        if dist >= len {
            buf.copy_within(from..from + len, to);
        } else if dist == 1 {
            if let Some(&v) = buf.get(from) {
                if let Some(run) = buf.get_mut(to..to + len) {
                    run.fill(v);
                }
            }
        } else {
            let mut done = 0;
            while done < len {
                // [from, to + done) is final and repeats with period `dist`; `done` is a multiple of it.
                let n = (dist + done).min(len - done);
                buf.copy_within(from..from + n, to + done);
                done += n;
            }
        }
        return;
    }
    for i in 0..len {
        if let Some(&v) = buf.get(from + i) {
            if let Some(d) = buf.get_mut(to + i) {
                *d = v;
            }
        }
    }
}

/// Adds the length bytes that follow a full length field: each is added, up to the first that is not 255.
pub(crate) fn add_length_bytes(r: &mut ByteReader<'_>, mut len: usize) -> Result<usize, DecodeError> {
    loop {
        let b = r.u8()?;
        len = len.saturating_add(usize::from(b));
        if b != 255 {
            return Ok(len);
        }
    }
}

/// Reads an RGB24/RGB32 literal (B, G, R) as an opaque pixel.
pub(crate) fn read_rgb(r: &mut ByteReader<'_>) -> Result<u32, DecodeError> {
    let [b, g, rr] = r.array()?;
    Ok(rgb(b, g, rr))
}

/// Reads an RGB16 literal (high byte first, x555) as an opaque pixel.
pub(crate) fn read_rgb16(r: &mut ByteReader<'_>) -> Result<u32, DecodeError> {
    Ok(super::reader::rgb555(r.u16_be()?))
}

struct PixelUnits<'a> {
    px: &'a mut [u32],
    rgb16: bool,
}

impl Units for PixelUnits<'_> {
    fn total(&self) -> usize {
        self.px.len()
    }
    fn len_bias(&self) -> usize {
        if self.rgb16 {
            2
        } else {
            1
        }
    }
    fn literal(&mut self, at: usize, r: &mut ByteReader<'_>) -> Result<(), DecodeError> {
        let v = if self.rgb16 { read_rgb16(r)? } else { read_rgb(r)? };
        if let Some(p) = self.px.get_mut(at) {
            *p = v;
        }
        Ok(())
    }
    fn copy_forward(&mut self, from: usize, to: usize, len: usize) {
        copy_forward(self.px, from, to, len);
    }
}

struct AlphaUnits<'a> {
    px: &'a mut [u32],
}

impl Units for AlphaUnits<'_> {
    fn total(&self) -> usize {
        self.px.len()
    }
    fn len_bias(&self) -> usize {
        3
    }
    fn literal(&mut self, at: usize, r: &mut ByteReader<'_>) -> Result<(), DecodeError> {
        let a = r.u8()?;
        if let Some(p) = self.px.get_mut(at) {
            *p = (*p & 0x00FF_FFFF) | u32::from(a) << 24;
        }
        Ok(())
    }
    fn copy_forward(&mut self, from: usize, to: usize, len: usize) {
        for i in 0..len {
            if let Some(&src) = self.px.get(from + i) {
                if let Some(d) = self.px.get_mut(to + i) {
                    *d = (*d & 0x00FF_FFFF) | (src & 0xFF00_0000);
                }
            }
        }
    }
}

struct ByteUnits<'a> {
    bytes: &'a mut [u8],
}

impl Units for ByteUnits<'_> {
    fn total(&self) -> usize {
        self.bytes.len()
    }
    fn len_bias(&self) -> usize {
        3
    }
    fn literal(&mut self, at: usize, r: &mut ByteReader<'_>) -> Result<(), DecodeError> {
        let v = r.u8()?;
        if let Some(b) = self.bytes.get_mut(at) {
            *b = v;
        }
        Ok(())
    }
    fn copy_forward(&mut self, from: usize, to: usize, len: usize) {
        copy_forward(self.bytes, from, to, len);
    }
}

/// Fills every unit of `out` from the body at `r`. Each item consumes input, so the loop ends.
fn decompress<U: Units>(r: &mut ByteReader<'_>, out: &mut U) -> Result<(), DecodeError> {
    let total = out.total();
    let mut pos = 0usize;
    while pos < total {
        let ctrl = r.u8()?;
        if ctrl < 32 {
            let count = usize::from(ctrl) + 1;
            if count > total - pos {
                return Err(DecodeError::invalid("LZ literal", "runs past the end of the image"));
            }
            for at in pos..pos + count {
                out.literal(at, r)?;
            }
            pos += count;
            continue;
        }
        let mut len = usize::from(ctrl >> 5) - 1;
        if len == 6 {
            len = add_length_bytes(r, len)?;
        }
        let high = usize::from(ctrl & 31);
        let low = r.u8()?;
        let mut dist = high << 8 | usize::from(low);
        if high == 31 && low == 255 {
            dist = usize::from(r.u16_be()?) + MAX_NEAR_DISTANCE;
        }
        let len = len.saturating_add(out.len_bias());
        let dist = dist + 1;
        if dist > pos {
            return Err(DecodeError::invalid("LZ reference", format!("distance {dist} before the start at {pos}")));
        }
        if len > total - pos {
            return Err(DecodeError::invalid("LZ reference", "runs past the end of the image"));
        }
        out.copy_forward(pos - dist, pos, len);
        pos += len;
    }
    Ok(())
}

/// Decodes an LZ image. `palette` (entries `0x00RRGGBB`) is needed by the palette types. A8 and XXXA images decode
/// to black with their alpha.
pub fn decode(data: &[u8], palette: Option<&[u32]>, limits: &Limits) -> Result<Pixels, DecodeError> {
    let (h, mut r) = read_header(data)?;
    let n = limits.check(h.width, h.height)?;
    let mut px = vec![0u32; n];
    let mut has_alpha = false;
    match h.lz_type {
        LzType::Rgb16 | LzType::Rgb24 | LzType::Rgb32 => {
            decompress(&mut r, &mut PixelUnits { px: &mut px, rgb16: h.lz_type == LzType::Rgb16 })?;
        }
        LzType::Rgba => {
            decompress(&mut r, &mut PixelUnits { px: &mut px, rgb16: false })?;
            decompress(&mut r, &mut AlphaUnits { px: &mut px })?;
            has_alpha = true;
        }
        LzType::Xxxa => {
            decompress(&mut r, &mut AlphaUnits { px: &mut px })?;
            has_alpha = true;
        }
        LzType::A8 => {
            let mut bytes = vec![0u8; n];
            decompress(&mut r, &mut ByteUnits { bytes: &mut bytes })?;
            for (p, a) in px.iter_mut().zip(bytes) {
                *p = u32::from(a) << 24;
            }
            has_alpha = true;
        }
        LzType::Plt1Le | LzType::Plt1Be | LzType::Plt4Le | LzType::Plt4Be | LzType::Plt8 => {
            px = decode_palette(&h, &mut r, palette, n)?;
        }
    }
    let mut p = Pixels { width: h.width, height: h.height, has_alpha, data: px };
    if !h.top_down {
        p.flip_rows();
    }
    Ok(p)
}

fn decode_palette(
    h: &LzHeader,
    r: &mut ByteReader<'_>,
    palette: Option<&[u32]>,
    n: usize,
) -> Result<Vec<u32>, DecodeError> {
    let palette = match palette {
        Some(p) if !p.is_empty() => p,
        _ => return Err(DecodeError::invalid("LZ palette", "a palette image without a palette")),
    };
    let ppb = h.lz_type.pixels_per_byte().unwrap_or(1);
    let row_bytes = h.width.div_ceil(ppb);
    // The encoder writes rows of exactly the pixel bytes; allow alignment padding of up to 3 bytes.
    if h.stride < row_bytes || h.stride - row_bytes > 3 {
        return Err(DecodeError::invalid("LZ stride", format!("{} for rows of {row_bytes} bytes", h.stride)));
    }
    let (stride, row_bytes, width) = (h.stride as usize, row_bytes as usize, h.width as usize);
    // stride ≤ width + 3, so this is at most 4 × width × height.
    let mut bytes = vec![0u8; stride * h.height as usize];
    decompress(r, &mut ByteUnits { bytes: &mut bytes })?;
    let format = match h.lz_type {
        LzType::Plt1Le => super::bitmap::BitmapFormat::OneBitLe,
        LzType::Plt1Be => super::bitmap::BitmapFormat::OneBitBe,
        LzType::Plt4Le => super::bitmap::BitmapFormat::FourBitLe,
        LzType::Plt4Be => super::bitmap::BitmapFormat::FourBitBe,
        _ => super::bitmap::BitmapFormat::EightBit,
    };
    let mut px = Vec::with_capacity(n);
    for row in bytes.chunks_exact(stride) {
        let pixels = row.get(..row_bytes).ok_or(DecodeError::Truncated { what: "LZ image" })?;
        super::bitmap::convert_row(format, pixels, width, palette, &mut px)?;
    }
    Ok(px)
}

/// Decodes an LZ XXXA alpha plane into the alpha bytes of `image` (whose colours are kept), as JPEG_ALPHA needs.
/// The plane must have the image's size; its rows are in stream order (bottom first when its top_down is 0).
/// Returns the plane's header so the caller can check its row order against the image descriptor.
pub fn decode_alpha_into(data: &[u8], image: &mut Pixels) -> Result<LzHeader, DecodeError> {
    let (h, mut r) = read_header(data)?;
    if h.lz_type != LzType::Xxxa {
        return Err(DecodeError::invalid("LZ alpha plane", format!("type {:?} instead of XXXA", h.lz_type)));
    }
    if (h.width, h.height) != (image.width, image.height) || image.data.len() as u64 != image_pixels(&h) {
        return Err(DecodeError::invalid(
            "LZ alpha plane",
            format!("{}×{} for an image of {}×{}", h.width, h.height, image.width, image.height),
        ));
    }
    if !h.top_down {
        image.flip_rows();
    }
    let result = decompress(&mut r, &mut AlphaUnits { px: &mut image.data });
    if !h.top_down {
        image.flip_rows();
    }
    result?;
    image.has_alpha = true;
    Ok(h)
}

fn image_pixels(h: &LzHeader) -> u64 {
    u64::from(h.width) * u64::from(h.height)
}

#[cfg(test)]
pub(crate) mod test_encoder {
    //! A small LZ encoder for tests: explicit items, or a greedy search for matches.

    use super::{LzType, LZ_MAGIC, LZ_VERSION, MAX_NEAR_DISTANCE};

    /// One item of an LZ body.
    #[derive(Debug, Clone)]
    pub enum Item {
        /// Raw units (their encoded bytes, `unit` bytes each).
        Literal(Vec<u8>),
        /// A back reference: real length and real distance in units.
        Match { len: usize, dist: usize },
    }

    pub fn header(t: LzType, w: u32, h: u32, stride: u32, top_down: bool) -> Vec<u8> {
        [LZ_MAGIC, LZ_VERSION, t.value(), w, h, stride, u32::from(top_down)]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect()
    }

    /// Encodes items; `unit` is the bytes per literal unit and `bias` the length bias of the pass.
    pub fn body(items: &[Item], unit: usize, bias: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for item in items {
            match item {
                Item::Literal(bytes) => {
                    for chunk in bytes.chunks(32 * unit) {
                        out.push((chunk.len() / unit - 1) as u8);
                        out.extend_from_slice(chunk);
                    }
                }
                Item::Match { len, dist } => {
                    let stored = len - bias + 1;
                    let ofs = dist - 1;
                    let (high, low) = if ofs < MAX_NEAR_DISTANCE { (ofs >> 8, ofs & 255) } else { (31, 255) };
                    out.push((stored.min(7) << 5 | high) as u8);
                    if stored >= 7 {
                        let mut rest = stored - 7;
                        while rest >= 255 {
                            out.push(255);
                            rest -= 255;
                        }
                        out.push(rest as u8);
                    }
                    out.push(low as u8);
                    if ofs >= MAX_NEAR_DISTANCE {
                        out.extend_from_slice(&((ofs - MAX_NEAR_DISTANCE) as u16).to_be_bytes());
                    }
                }
            }
        }
        out
    }

    /// Greedy items for `units` (each `unit` bytes): the longest earlier match of at least `bias` units within a
    /// short window, else a literal.
    pub fn greedy(units: &[u8], unit: usize, bias: usize) -> Vec<Item> {
        let n = units.len() / unit;
        let at = |i: usize| &units[i * unit..(i + 1) * unit];
        let mut items = Vec::new();
        let mut lit = Vec::new();
        let mut pos = 0;
        while pos < n {
            let mut best = (0, 0);
            for dist in 1..=pos.min(300) {
                let mut len = 0;
                while pos + len < n && at(pos + len - dist) == at(pos + len) {
                    len += 1;
                }
                if len > best.0 {
                    best = (len, dist);
                }
            }
            if best.0 >= bias.max(1) {
                if !lit.is_empty() {
                    items.push(Item::Literal(std::mem::take(&mut lit)));
                }
                items.push(Item::Match { len: best.0, dist: best.1 });
                pos += best.0;
            } else {
                lit.extend_from_slice(at(pos));
                pos += 1;
            }
        }
        if !lit.is_empty() {
            items.push(Item::Literal(lit));
        }
        items
    }
}

#[cfg(test)]
mod tests {
    use super::test_encoder::{body, greedy, header, Item};
    use super::*;

    #[test]
    fn overlapping_copies_repeat_the_pattern_as_a_pixel_by_pixel_copy_would() {
        for dist in 1..9usize {
            for len in 0..40usize {
                let mut fast: Vec<u32> = (0..60).collect();
                let mut slow = fast.clone();
                let to = 12;
                copy_forward(&mut fast, to - dist, to, len);
                for i in 0..len {
                    slow[to + i] = slow[to + i - dist];
                }
                assert_eq!(fast, slow, "distance {dist}, length {len}");
            }
        }
    }

    const L: Limits = Limits { max_side: 16_384, max_pixels: 64 << 20 };

    fn image(t: LzType, w: u32, h: u32, top_down: bool, items: &[Item], unit: usize, bias: usize) -> Vec<u8> {
        let stride = t.pixels_per_byte().map_or(w * 4, |ppb| w.div_ceil(ppb));
        let mut v = header(t, w, h, stride, top_down);
        v.extend(body(items, unit, bias));
        v
    }

    fn lit(b: &[u8]) -> Item {
        Item::Literal(b.to_vec())
    }

    #[test]
    fn rgb32_literals_and_a_run_by_hand() {
        // 2×2: literal blue, then a run of three copies at distance 1 (length field 3 → 3 − 1 + 1).
        let data = [header(LzType::Rgb32, 2, 2, 8, true), vec![0x00, 0xFF, 0x00, 0x00, 0x60, 0x00]].concat();
        let p = decode(&data, None, &L).unwrap();
        assert_eq!(p.data, [0xFF00_00FF; 4]);
        assert!(!p.has_alpha);
    }

    #[test]
    fn rgb24_and_rgb32_share_the_coding_and_both_row_orders_work() {
        let px: Vec<u8> = (0..6u8).flat_map(|i| [i, 10 + i, 20 + i]).collect();
        for t in [LzType::Rgb24, LzType::Rgb32] {
            let top = decode(&image(t, 2, 3, true, &[lit(&px)], 3, 1), None, &L).unwrap();
            assert_eq!(top.data[0], 0xFF14_0A00);
            assert_eq!(top.data[5], 0xFF19_0F05);
            let bottom = decode(&image(t, 2, 3, false, &[lit(&px)], 3, 1), None, &L).unwrap();
            assert_eq!(bottom.data[..2], top.data[4..]);
            assert_eq!(bottom.data[4..], top.data[..2]);
        }
    }

    #[test]
    fn rgb16_units_are_high_byte_first_with_a_bias_of_two() {
        // Red (0x7C00), then a match of 2 at distance 1 (length field 1 → 1 − 1 + 2).
        let data = [header(LzType::Rgb16, 3, 1, 6, true), vec![0x00, 0x7C, 0x00, 0x20, 0x00]].concat();
        assert_eq!(decode(&data, None, &L).unwrap().data, [0xFFFF_0000; 3]);
    }

    #[test]
    fn rgba_is_an_rgb_pass_then_an_alpha_pass() {
        let rgb_items = [lit(&[1, 2, 3]), Item::Match { len: 4, dist: 1 }];
        let alpha_items = [lit(&[0x10, 0x20]), Item::Match { len: 3, dist: 2 }];
        let mut data = image(LzType::Rgba, 5, 1, true, &rgb_items, 3, 1);
        data.extend(body(&alpha_items, 1, 3));
        let p = decode(&data, None, &L).unwrap();
        assert!(p.has_alpha);
        assert_eq!(p.data, [0x1003_0201, 0x2003_0201, 0x1003_0201, 0x2003_0201, 0x1003_0201]);
    }

    #[test]
    fn xxxa_and_a8_decode_to_alpha_on_black() {
        for t in [LzType::Xxxa, LzType::A8] {
            let p = decode(&image(t, 4, 1, true, &[lit(&[0x80]), Item::Match { len: 3, dist: 1 }], 1, 3), None, &L)
                .unwrap();
            assert_eq!((p.data.as_slice(), p.has_alpha), (&[0x8000_0000u32; 4][..], true));
        }
    }

    #[test]
    fn palette_types_expand_bytes_and_crop_each_row() {
        let pal = [0x000000, 0xFFFFFF, 0xFF0000];
        let (k, w, r) = (0xFF00_0000u32, 0xFFFF_FFFFu32, 0xFFFF_0000u32);
        // 3 pixels wide, 2 rows: one byte per row for PLT1/PLT4 (stride 1 and 2), three for PLT8.
        let p = decode(&image(LzType::Plt1Le, 3, 2, true, &[lit(&[0b101, 0b010])], 1, 3), Some(&pal), &L).unwrap();
        assert_eq!(p.data, [w, k, w, k, w, k]);
        let p = decode(&image(LzType::Plt1Be, 3, 2, true, &[lit(&[0b1010_0000, 0x40])], 1, 3), Some(&pal), &L);
        assert_eq!(p.unwrap().data, [w, k, w, k, w, k]);
        let p = decode(&image(LzType::Plt4Le, 3, 1, true, &[lit(&[0x21, 0x00])], 1, 3), Some(&pal), &L).unwrap();
        assert_eq!(p.data, [w, r, k]);
        let p = decode(&image(LzType::Plt4Be, 3, 1, true, &[lit(&[0x21, 0x00])], 1, 3), Some(&pal), &L).unwrap();
        assert_eq!(p.data, [r, w, k]);
        // PLT8 with a match of 3 bytes (the minimum) and bottom-up rows.
        let items = [lit(&[2, 1, 0]), Item::Match { len: 3, dist: 3 }];
        let p = decode(&image(LzType::Plt8, 3, 2, false, &items, 1, 3), Some(&pal), &L).unwrap();
        assert_eq!(p.data, [r, w, k, r, w, k]);
        assert!(decode(&image(LzType::Plt8, 3, 2, true, &items, 1, 3), None, &L).is_err());
        let short_stride = [header(LzType::Plt8, 3, 2, 2, true), body(&items, 1, 3)].concat();
        assert!(decode(&short_stride, Some(&pal), &L).is_err());
        let p = decode(&image(LzType::Plt8, 3, 2, false, &[lit(&[2, 1, 0, 0, 1, 2])], 1, 3), Some(&pal), &L);
        assert_eq!(p.unwrap().data, [k, w, r, r, w, k]);
        let bad_index = image(LzType::Plt8, 1, 1, true, &[lit(&[3])], 1, 3);
        assert!(decode(&bad_index, Some(&pal), &L).is_err());
    }

    #[test]
    fn far_distances_and_long_lengths() {
        // 9000 distinct pixels, then a copy of 300 from distance 9000 (far form, 7-length extension with 255).
        let n = 9000;
        let px: Vec<u8> = (0..n as u32).flat_map(|i| [i as u8, (i >> 8) as u8, 7]).collect();
        let items = [Item::Literal(px), Item::Match { len: 300, dist: 9000 }];
        let enc = body(&items, 3, 1);
        // ctrl 7/31, extension 255 + 38 (300 − 7), low byte 255 (far escape), far distance 8999 − 8191.
        assert!(enc.ends_with(&[0xFF, 0xFF, 0x26, 0xFF, 0x03, 0x28]));
        let data = image(LzType::Rgb32, 9300, 1, true, &items, 3, 1);
        let p = decode(&data, None, &L).unwrap();
        assert_eq!(p.data[9000..], p.data[..300]);
        // Exactly the boundary: distance 8192 (offset 8191) must take the far form too.
        let items = [Item::Literal(vec![1; 8192 * 3]), Item::Match { len: 1, dist: 8192 }];
        assert_eq!(decode(&image(LzType::Rgb32, 8193, 1, true, &items, 3, 1), None, &L).unwrap().data.len(), 8193);
    }

    #[test]
    fn greedy_round_trip_of_a_pattern() {
        let (w, h) = (37u32, 11u32);
        let px: Vec<u8> = (0..w * h).flat_map(|i| [((i / 5) % 7) as u8, (i % 3) as u8, 9]).collect();
        let data = image(LzType::Rgb32, w, h, true, &greedy(&px, 3, 1), 3, 1);
        let p = decode(&data, None, &L).unwrap();
        let want: Vec<u32> = px.chunks(3).map(|c| rgb(c[0], c[1], c[2])).collect();
        assert_eq!(p.data, want);
        assert!(data.len() < LZ_HEADER_LEN + px.len() / 2, "matches were used");
    }

    #[test]
    fn alpha_plane_into_an_existing_image_in_both_row_orders() {
        let mut img = Pixels { width: 1, height: 2, has_alpha: false, data: vec![0xFF00_0001, 0xFF00_0002] };
        let plane = image(LzType::Xxxa, 1, 2, false, &[lit(&[0x11, 0x22])], 1, 3);
        let h = decode_alpha_into(&plane, &mut img).unwrap();
        assert!(!h.top_down);
        assert_eq!(img.data, [0x2200_0001, 0x1100_0002]);
        assert!(img.has_alpha);
        let plane = image(LzType::Xxxa, 1, 2, true, &[lit(&[0x11, 0x22])], 1, 3);
        decode_alpha_into(&plane, &mut img).unwrap();
        assert_eq!(img.data, [0x1100_0001, 0x2200_0002]);
        let wrong_size = image(LzType::Xxxa, 2, 1, true, &[lit(&[0x11, 0x22])], 1, 3);
        assert!(decode_alpha_into(&wrong_size, &mut img).is_err());
        let wrong_type = image(LzType::A8, 1, 2, true, &[lit(&[0x11, 0x22])], 1, 3);
        assert!(decode_alpha_into(&wrong_type, &mut img).is_err());
    }

    #[test]
    fn hostile_streams_are_refused() {
        let good = image(LzType::Rgb32, 2, 1, true, &[lit(&[1, 2, 3, 4, 5, 6])], 3, 1);
        assert!(decode(&good, None, &L).is_ok());
        for cut in 0..good.len() {
            assert!(decode(&good[..cut], None, &L).is_err(), "truncated at {cut}");
        }
        let mut bad_magic = good.clone();
        bad_magic[0] = b'X';
        assert!(decode(&bad_magic, None, &L).is_err());
        let mut bad_version = good.clone();
        bad_version[7] = 2;
        assert!(decode(&bad_version, None, &L).is_err());
        let mut bad_type = good.clone();
        bad_type[11] = 12;
        assert!(decode(&bad_type, None, &L).is_err());
        let huge = image(LzType::Rgb32, 65_535, 65_535, true, &[lit(&[1, 2, 3])], 3, 1);
        assert!(matches!(decode(&huge, None, &L), Err(DecodeError::TooLarge { .. })));
        let before_start = image(LzType::Rgb32, 4, 1, true, &[lit(&[1, 2, 3]), Item::Match { len: 3, dist: 2 }], 3, 1);
        assert!(decode(&before_start, None, &L).is_err());
        let too_long = image(LzType::Rgb32, 4, 1, true, &[lit(&[1, 2, 3]), Item::Match { len: 4, dist: 1 }], 3, 1);
        assert!(decode(&too_long, None, &L).is_err());
        let long_literal = image(LzType::Rgb32, 1, 1, true, &[lit(&[1, 2, 3, 4, 5, 6])], 3, 1);
        assert!(decode(&long_literal, None, &L).is_err());
        // A length extension of nothing but 255s runs out of input instead of looping.
        let mut endless = header(LzType::Rgb32, 1000, 1, 0, true);
        endless.extend([0u8, 1, 2, 3, 0xE0]);
        endless.extend([255u8; 64]);
        assert_eq!(decode(&endless, None, &L), Err(DecodeError::Truncated { what: "LZ image" }));
    }
}

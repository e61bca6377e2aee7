//! Test encoders: display message bodies built field by field, with pointers patched to where their data lands.

use super::types::Rect;
use crate::protocol::wire::PutLe;

/// A body under construction.
#[derive(Default)]
pub struct Enc {
    pub buf: Vec<u8>,
}

/// A pointer written as 0, to be patched by [`Enc::fill`].
#[must_use]
pub struct Slot(usize);

pub const R: Rect = Rect { top: 1, left: 2, bottom: 11, right: 22 };

impl Enc {
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.buf.put_u16_le(v);
        self
    }
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.put_u32_le(v);
        self
    }
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.u32(v as u32)
    }
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.put_u64_le(v);
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }
    pub fn rect(&mut self, r: Rect) -> &mut Self {
        self.i32(r.top).i32(r.left).i32(r.bottom).i32(r.right)
    }
    pub fn point(&mut self, x: i32, y: i32) -> &mut Self {
        self.i32(x).i32(y)
    }
    pub fn slot(&mut self) -> Slot {
        let s = Slot(self.buf.len());
        self.u32(0);
        s
    }
    /// Points `s` at the current end.
    pub fn fill(&mut self, s: Slot) {
        let at = (self.buf.len() as u32).to_le_bytes();
        self.buf[s.0..s.0 + 4].copy_from_slice(&at);
    }
    /// DisplayBase on surface 0 with box [`R`]; clip NONE when `clip` is empty.
    pub fn base(&mut self, clip: &[Rect]) -> &mut Self {
        self.u32(0).rect(R);
        if clip.is_empty() {
            return self.u8(0);
        }
        self.u8(1).u32(clip.len() as u32);
        for r in clip {
            self.rect(*r);
        }
        self
    }
    pub fn no_mask(&mut self) -> &mut Self {
        self.u8(0).point(0, 0).u32(0)
    }
    pub fn descriptor(&mut self, id: u64, ty: u8, flags: u8, w: u32, h: u32) -> &mut Self {
        self.u64(id).u8(ty).u8(flags).u32(w).u32(h)
    }
    pub fn palette(&mut self, unique: u64, entries: &[u32]) {
        self.u64(unique).u16(entries.len() as u16);
        for e in entries {
            self.u32(*e);
        }
    }
    /// A BITMAP image; with `palette`, an inline palette (unique 7) after the pixels.
    pub fn bitmap(&mut self, format: u8, flags: u8, w: u32, h: u32, stride: u32, palette: Option<&[u32]>) {
        self.descriptor(5, 0, 0, w, h).u8(format).u8(flags).u32(w).u32(h).u32(stride);
        let slot = palette.map(|_| self.slot());
        if slot.is_none() {
            self.u32(0);
        }
        let data: Vec<u8> = (0..stride * h).map(|i| i as u8).collect();
        self.bytes(&data);
        if let (Some(s), Some(p)) = (slot, palette) {
            self.fill(s);
            self.palette(7, p);
        }
    }
    /// An image of a type carried as `u32 size, data`.
    pub fn sized(&mut self, ty: u8, data: &[u8]) {
        self.descriptor(9, ty, 0, 4, 3).u32(data.len() as u32).bytes(data);
    }
    /// A 2×2 32BIT top-down bitmap.
    pub fn small_bitmap(&mut self) {
        self.bitmap(8, 4, 2, 2, 8, None);
    }
}

/// DRAW_COPY of a 2×2 bitmap with clip rects `clip`, no mask.
pub fn draw_copy(clip: &[Rect]) -> Vec<u8> {
    let mut e = Enc::default();
    e.base(clip);
    let src = e.slot();
    e.rect(Rect { top: 0, left: 0, bottom: 2, right: 2 }).u16(8).u8(0).no_mask();
    e.fill(src);
    e.small_bitmap();
    e.buf
}

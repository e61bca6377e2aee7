//! Display-channel recordings: the record file format and a minimal finder for the images inside DRAW_COPY.
//!
//! Shared by `examples/record_display.rs` (which writes and summarises recordings) and `tests/display_fixtures.rs`
//! (which decodes the recorded images). This is test tooling only, not the display protocol module: it knows just
//! enough of DisplayBase, DRAW_COPY and the image descriptor to locate an image and the rectangle it is drawn to.
//!
//! A record file is a sequence of records, each `u16 type, u32 body length, body` (little-endian), one per
//! display message in the order received.
#![allow(dead_code)]

use std::io::Write;

/// SURFACE_CREATE.
pub const MSG_SURFACE_CREATE: u16 = 314;
/// DRAW_COPY.
pub const MSG_DRAW_COPY: u16 = 304;

/// Image types of the image descriptor: the protocol module's table.
pub use ryll::protocol::display::image::image_type;

/// A short name for an image type, for summaries.
pub fn image_type_name(t: u8) -> String {
    match t {
        image_type::BITMAP => "BITMAP".into(),
        image_type::QUIC => "QUIC".into(),
        image_type::LZ_PLT => "LZ_PLT".into(),
        image_type::LZ_RGB => "LZ_RGB".into(),
        image_type::GLZ_RGB => "GLZ_RGB".into(),
        image_type::FROM_CACHE => "FROM_CACHE".into(),
        image_type::SURFACE => "SURFACE".into(),
        image_type::JPEG => "JPEG".into(),
        image_type::ZLIB_GLZ_RGB => "ZLIB_GLZ_RGB".into(),
        image_type::LZ4 => "LZ4".into(),
        t => format!("type{t}"),
    }
}

/// One recorded message.
#[derive(Debug, Clone)]
pub struct Record {
    /// Message type.
    pub msg_type: u16,
    /// Message body.
    pub body: Vec<u8>,
}

/// Appends one record to `out`.
pub fn write_record(out: &mut impl Write, msg_type: u16, body: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| std::io::Error::other("message body over 4 GiB"))?;
    out.write_all(&msg_type.to_le_bytes())?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(body)
}

/// Splits a record file into its records.
pub fn parse_records(mut bytes: &[u8]) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let mut c = Cursor::new(bytes);
        let msg_type = c.u16()?;
        let len = c.u32()? as usize;
        let body = c.bytes(len)?.to_vec();
        bytes = &bytes[6 + len..];
        records.push(Record { msg_type, body });
    }
    Ok(records)
}

/// A rectangle as SPICE sends it (the wire order is top, left, bottom, right).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub left: i32,
    /// Top edge.
    pub top: i32,
    /// Right edge (exclusive).
    pub right: i32,
    /// Bottom edge (exclusive).
    pub bottom: i32,
}

/// The image of a DRAW_COPY and where it goes.
#[derive(Debug, Clone)]
pub struct DrawCopy<'a> {
    /// Target surface.
    pub surface_id: u32,
    /// Destination box on the surface.
    pub dest: Rect,
    /// Number of clip rectangles (0 with clip NONE).
    pub clip_rects: u32,
    /// Part of the source image drawn into the box.
    pub src_area: Rect,
    /// Raster operation descriptor.
    pub rop: u16,
    /// The image descriptor's id.
    pub image_id: u64,
    /// Image type (see [`image_type`]).
    pub image_type: u8,
    /// Image descriptor flags.
    pub image_flags: u8,
    /// Image width.
    pub width: u32,
    /// Image height.
    pub height: u32,
    /// What follows the 18-byte descriptor, to the end of the message.
    pub payload: &'a [u8],
}

impl<'a> DrawCopy<'a> {
    /// For the types carried as `u32 data_size, data` (QUIC, LZ_RGB, GLZ_RGB, JPEG, LZ4): the data.
    pub fn sized_data(&self) -> Result<&'a [u8], String> {
        let mut c = Cursor::new(self.payload);
        let size = c.u32()? as usize;
        c.bytes(size)
    }
}

/// A surface created by SURFACE_CREATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurfaceCreate {
    /// Surface id.
    pub surface_id: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Surface format (32 = 32_xRGB).
    pub format: u32,
    /// Flags (1 = primary).
    pub flags: u32,
}

/// Parses a SURFACE_CREATE body.
pub fn parse_surface_create(body: &[u8]) -> Result<SurfaceCreate, String> {
    let mut c = Cursor::new(body);
    Ok(SurfaceCreate { surface_id: c.u32()?, width: c.u32()?, height: c.u32()?, format: c.u32()?, flags: c.u32()? })
}

/// Parses a DRAW_COPY body far enough to find its image.
pub fn parse_draw_copy(body: &[u8]) -> Result<DrawCopy<'_>, String> {
    let mut c = Cursor::new(body);
    let surface_id = c.u32()?;
    let dest = c.rect()?;
    let clip_rects = match c.u8()? {
        0 => 0,
        1 => {
            let n = c.u32()?;
            c.bytes(n as usize * 16)?;
            n
        }
        t => return Err(format!("unknown clip type {t}")),
    };
    let image_offset = c.u32()? as usize;
    let src_area = c.rect()?;
    let rop = c.u16()?;
    let _scale_mode = c.u8()?;
    let _mask = c.bytes(13)?;
    if image_offset == 0 {
        return Err("DRAW_COPY without an image".into());
    }
    let image = body.get(image_offset..).ok_or("image offset past the message")?;
    let mut c = Cursor::new(image);
    let image_id = c.u64()?;
    let image_type = c.u8()?;
    let image_flags = c.u8()?;
    let width = c.u32()?;
    let height = c.u32()?;
    let payload = c.rest();
    Ok(DrawCopy {
        surface_id,
        dest,
        clip_rects,
        src_area,
        rop,
        image_id,
        image_type,
        image_flags,
        width,
        height,
        payload,
    })
}

/// A raw BITMAP's header and pixel bytes.
#[derive(Debug, Clone)]
pub struct Bitmap<'a> {
    /// Bitmap format (8 = 32BIT B,G,R,X; 9 = RGBA).
    pub format: u8,
    /// Bitmap flags (4 = top row first).
    pub flags: u8,
    /// Width.
    pub x: u32,
    /// Height.
    pub y: u32,
    /// Bytes per row.
    pub stride: u32,
    /// `stride × y` bytes.
    pub data: &'a [u8],
}

/// Parses the payload of a BITMAP image (only what QEMU's simple display sends: no palette).
pub fn parse_bitmap(payload: &[u8]) -> Result<Bitmap<'_>, String> {
    let mut c = Cursor::new(payload);
    let format = c.u8()?;
    let flags = c.u8()?;
    let x = c.u32()?;
    let y = c.u32()?;
    let stride = c.u32()?;
    if flags & 2 != 0 {
        c.u64()?;
    } else {
        c.u32()?;
    }
    let data = c.bytes(stride as usize * y as usize)?;
    Ok(Bitmap { format, flags, x, y, stride, data })
}

struct Cursor<'a> {
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Cursor { buf }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.buf.len() < n {
            return Err(format!("truncated: wanted {n} bytes, {} left", self.buf.len()));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.bytes(2)?.try_into().map_err(|_| "u16")?))
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().map_err(|_| "u32")?))
    }

    fn i32(&mut self) -> Result<i32, String> {
        Ok(self.u32()? as i32)
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().map_err(|_| "u64")?))
    }

    fn rect(&mut self) -> Result<Rect, String> {
        let top = self.i32()?;
        let left = self.i32()?;
        let bottom = self.i32()?;
        let right = self.i32()?;
        Ok(Rect { left, top, right, bottom })
    }
}

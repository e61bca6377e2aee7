//! Cursor-channel messages (spice.proto `channel CursorChannel`): the guest pointer's shape, position and
//! visibility, and the cursor cache the server drives.
//!
//! A cursor's shape bytes are all the bytes after its 17-byte header, whatever their type; their layout is
//! checked when they are decoded ([`crate::codecs::cursor`]).

use super::wire::Reader;
use super::{ProtocolError, Result};

/// Server message numbers.
pub mod msg {
    /// INIT {Point16 position, u16 trail length, u16 trail frequency, u8 visible, Cursor}.
    pub const INIT: u16 = 101;
    /// RESET: forget the cursor and the cache.
    pub const RESET: u16 = 102;
    /// SET {Point16 position, u8 visible, Cursor}.
    pub const SET: u16 = 103;
    /// MOVE {Point16 position}.
    pub const MOVE: u16 = 104;
    /// HIDE.
    pub const HIDE: u16 = 105;
    /// TRAIL {u16 length, u16 frequency}.
    pub const TRAIL: u16 = 106;
    /// INVAL_ONE {u64 id}.
    pub const INVAL_ONE: u16 = 107;
    /// INVAL_ALL.
    pub const INVAL_ALL: u16 = 108;
}

/// Cursor flag: there is no cursor (the pointer is hidden); no header follows.
pub const CURSOR_FLAG_NONE: u16 = 1;
/// Cursor flag: keep the shape in the cache under its unique id.
pub const CURSOR_FLAG_CACHE_ME: u16 = 2;
/// Cursor flag: the shape is the cached one with the header's unique id; no shape bytes follow.
pub const CURSOR_FLAG_FROM_CACHE: u16 = 4;
/// Widest or tallest cursor accepted.
pub const MAX_CURSOR_SIDE: u16 = 512;

/// The cursor shape types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// 0: 32-bit ARGB with alpha.
    Alpha,
    /// 1: AND and XOR masks, one bit a pixel.
    Mono,
    /// 2: 4-bit palette indices, a 16-colour palette, an AND mask.
    Color4,
    /// 3: 8-bit palette indices, a 256-colour palette, an AND mask.
    Color8,
    /// 4: 16-bit x555 pixels and an AND mask.
    Color16,
    /// 5: 24-bit pixels and an AND mask.
    Color24,
    /// 6: 32-bit xRGB pixels and an AND mask.
    Color32,
}

impl CursorKind {
    fn from_u8(v: u8) -> Result<CursorKind> {
        Ok(match v {
            0 => CursorKind::Alpha,
            1 => CursorKind::Mono,
            2 => CursorKind::Color4,
            3 => CursorKind::Color8,
            4 => CursorKind::Color16,
            5 => CursorKind::Color24,
            6 => CursorKind::Color32,
            other => return Err(ProtocolError::invalid("cursor type", format!("{other} is not a cursor type"))),
        })
    }
}

/// A cursor's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CursorHeader {
    /// The id the cache keeps it under.
    pub unique: u64,
    /// The shape's type.
    pub kind: CursorKind,
    /// Width in pixels.
    pub width: u16,
    /// Height in pixels.
    pub height: u16,
    /// Hot spot, from the left.
    pub hot_x: u16,
    /// Hot spot, from the top.
    pub hot_y: u16,
}

/// A cursor as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    /// No cursor: the pointer is hidden.
    None,
    /// A shape.
    Shape {
        /// Its header.
        header: CursorHeader,
        /// Keep it in the cache.
        cache_me: bool,
        /// The shape is the cached one with `header.unique` (`data` is empty).
        from_cache: bool,
        /// The shape bytes.
        data: Vec<u8>,
    },
}

/// A position in the guest's surface (the hot spot's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Point16 {
    /// Column.
    pub x: i16,
    /// Row.
    pub y: i16,
}

/// A server cursor message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorMessage {
    /// INIT: the first state of the channel.
    Init {
        /// Where the hot spot is.
        position: Point16,
        /// Whether the cursor is shown.
        visible: bool,
        /// The shape.
        cursor: Cursor,
    },
    /// RESET.
    Reset,
    /// SET: a new shape.
    Set {
        /// Where the hot spot is.
        position: Point16,
        /// Whether the cursor is shown.
        visible: bool,
        /// The shape.
        cursor: Cursor,
    },
    /// MOVE (server mouse mode).
    Move(Point16),
    /// HIDE.
    Hide,
    /// TRAIL (pointer trails: not drawn).
    Trail {
        /// Trail length.
        length: u16,
        /// Trail frequency.
        frequency: u16,
    },
    /// INVAL_ONE: drop one cached shape.
    InvalOne(u64),
    /// INVAL_ALL: empty the cache.
    InvalAll,
}

fn point(r: &mut Reader<'_>) -> Result<Point16> {
    Ok(Point16 { x: r.i16()?, y: r.i16()? })
}

fn cursor(r: &mut Reader<'_>) -> Result<Cursor> {
    let flags = r.u16()?;
    if flags & CURSOR_FLAG_NONE != 0 {
        return Ok(Cursor::None);
    }
    let header = CursorHeader {
        unique: r.u64()?,
        kind: CursorKind::from_u8(r.u8()?)?,
        width: r.u16()?,
        height: r.u16()?,
        hot_x: r.u16()?,
        hot_y: r.u16()?,
    };
    ProtocolError::check_max("cursor width", header.width.into(), MAX_CURSOR_SIDE.into())?;
    ProtocolError::check_max("cursor height", header.height.into(), MAX_CURSOR_SIDE.into())?;
    let from_cache = flags & CURSOR_FLAG_FROM_CACHE != 0;
    let data = if from_cache { Vec::new() } else { r.rest().to_vec() };
    Ok(Cursor::Shape { header, cache_me: flags & CURSOR_FLAG_CACHE_ME != 0, from_cache, data })
}

/// Parses a server cursor message; `None` for a type this client does not know.
pub fn parse_cursor(msg_type: u16, body: &[u8]) -> Result<Option<CursorMessage>> {
    let mut r = Reader::new(body, "cursor message");
    Ok(Some(match msg_type {
        msg::INIT => {
            let position = point(&mut r)?;
            let _trail_length = r.u16()?;
            let _trail_frequency = r.u16()?;
            let visible = r.u8()? != 0;
            CursorMessage::Init { position, visible, cursor: cursor(&mut r)? }
        }
        msg::RESET => CursorMessage::Reset,
        msg::SET => {
            let position = point(&mut r)?;
            let visible = r.u8()? != 0;
            CursorMessage::Set { position, visible, cursor: cursor(&mut r)? }
        }
        msg::MOVE => CursorMessage::Move(point(&mut r)?),
        msg::HIDE => CursorMessage::Hide,
        msg::TRAIL => CursorMessage::Trail { length: r.u16()?, frequency: r.u16()? },
        msg::INVAL_ONE => CursorMessage::InvalOne(r.u64()?),
        msg::INVAL_ALL => CursorMessage::InvalAll,
        _ => return Ok(None),
    }))
}

/// Serialises a cursor (for test servers).
pub fn encode_cursor(cursor: &Cursor) -> Vec<u8> {
    let mut out = Vec::new();
    match cursor {
        Cursor::None => out.extend_from_slice(&CURSOR_FLAG_NONE.to_le_bytes()),
        Cursor::Shape { header, cache_me, from_cache, data } => {
            let flags =
                if *cache_me { CURSOR_FLAG_CACHE_ME } else { 0 } | if *from_cache { CURSOR_FLAG_FROM_CACHE } else { 0 };
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&header.unique.to_le_bytes());
            out.push(header.kind as u8);
            for v in [header.width, header.height, header.hot_x, header.hot_y] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(data);
        }
    }
    out
}

/// Serialises a SET body (for test servers).
pub fn encode_set(position: Point16, visible: bool, cursor: &Cursor) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&position.x.to_le_bytes());
    out.extend_from_slice(&position.y.to_le_bytes());
    out.push(u8::from(visible));
    out.extend(encode_cursor(cursor));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(kind: CursorKind, data: Vec<u8>) -> Cursor {
        let header = CursorHeader { unique: 7, kind, width: 2, height: 2, hot_x: 1, hot_y: 0 };
        Cursor::Shape { header, cache_me: true, from_cache: false, data }
    }

    #[test]
    fn set_round_trips_with_its_shape_bytes() {
        let c = shape(CursorKind::Alpha, vec![9; 16]);
        let body = encode_set(Point16 { x: -3, y: 40 }, true, &c);
        let parsed = parse_cursor(msg::SET, &body).unwrap().unwrap();
        assert_eq!(parsed, CursorMessage::Set { position: Point16 { x: -3, y: 40 }, visible: true, cursor: c });
    }

    #[test]
    fn init_none_and_from_cache_parse() {
        let mut body = vec![5, 0, 6, 0, 0, 0, 0, 0, 1];
        body.extend(encode_cursor(&Cursor::None));
        let parsed = parse_cursor(msg::INIT, &body).unwrap().unwrap();
        assert_eq!(
            parsed,
            CursorMessage::Init { position: Point16 { x: 5, y: 6 }, visible: true, cursor: Cursor::None }
        );
        let mut c = shape(CursorKind::Mono, Vec::new());
        if let Cursor::Shape { from_cache, cache_me, .. } = &mut c {
            *from_cache = true;
            *cache_me = false;
        }
        let mut body = encode_set(Point16::default(), false, &c);
        body.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            parse_cursor(msg::SET, &body).unwrap().unwrap(),
            CursorMessage::Set { position: Point16::default(), visible: false, cursor: c }
        );
    }

    #[test]
    fn bad_types_sizes_and_truncation_are_refused() {
        let mut body = encode_set(Point16::default(), true, &shape(CursorKind::Alpha, vec![]));
        body[5 + 8 + 2] = 9;
        assert!(parse_cursor(msg::SET, &body).is_err());
        let mut big = shape(CursorKind::Alpha, vec![]);
        if let Cursor::Shape { header, .. } = &mut big {
            header.width = 513;
        }
        assert!(parse_cursor(msg::SET, &encode_set(Point16::default(), true, &big)).is_err());
        assert!(parse_cursor(msg::SET, &[0, 0, 0]).is_err());
        assert!(parse_cursor(msg::MOVE, &[1, 0]).is_err());
        assert_eq!(parse_cursor(msg::INVAL_ONE, &7u64.to_le_bytes()).unwrap(), Some(CursorMessage::InvalOne(7)));
        assert_eq!(parse_cursor(200, &[]).unwrap(), None);
    }
}

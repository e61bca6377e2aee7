//! The guest pointer as the cursor channel drives it: the shape, its hot spot, where it is, whether it shows, and
//! the cursor cache (the server assumes 256 entries and evicts with INVAL_ONE / INVAL_ALL).

use crate::codecs::cursor::decode_cursor;
use crate::codecs::{DecodeError, Pixels};
use crate::protocol::cursor::{Cursor, CursorMessage, Point16};
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// Shapes the cache holds at most (the server's own assumption).
pub const CURSOR_CACHE_ENTRIES: usize = 256;
/// Pixels the cache holds at most (16 MiB of pixels).
pub const CURSOR_CACHE_PIXELS: usize = 4 << 20;

/// A decoded pointer shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorShape {
    /// Straight-alpha `0xAARRGGBB` pixels.
    pub pixels: Arc<Pixels>,
    /// Hot spot column (clamped into the shape).
    pub hot_x: u32,
    /// Hot spot row (clamped into the shape).
    pub hot_y: u32,
}

/// Why a cursor message was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CursorError {
    /// The shape could not be decoded.
    #[error("cursor shape: {0}")]
    Decode(#[from] DecodeError),
    /// FROM_CACHE names a shape the cache does not hold.
    #[error("cursor {0} is not in the cursor cache")]
    CacheMiss(u64),
}

/// What a message changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorChange {
    /// A new shape (or none).
    Shape,
    /// The pointer moved.
    Moved,
    /// It was shown or hidden.
    Visibility,
    /// Nothing a front end draws.
    Nothing,
}

/// The pointer and the cursor cache.
#[derive(Debug, Default)]
pub struct CursorModel {
    cache: BTreeMap<u64, CursorShape>,
    cached_pixels: usize,
    /// The current shape; `None` when the server says there is no cursor.
    pub shape: Option<CursorShape>,
    /// Whether the cursor shows.
    pub visible: bool,
    /// Where the hot spot is, in surface pixels (the server's last word; in client mouse mode it stops saying).
    pub position: Option<(i32, i32)>,
}

impl CursorModel {
    /// Applies a message.
    pub fn apply(&mut self, m: &CursorMessage) -> Result<CursorChange, CursorError> {
        Ok(match m {
            CursorMessage::Init { position, visible, cursor } | CursorMessage::Set { position, visible, cursor } => {
                if matches!(m, CursorMessage::Init { .. }) {
                    self.clear_cache();
                }
                self.shape = self.resolve(cursor)?;
                self.visible = *visible && self.shape.is_some();
                self.set_position(*position);
                CursorChange::Shape
            }
            CursorMessage::Reset => {
                self.clear_cache();
                self.shape = None;
                self.visible = false;
                CursorChange::Shape
            }
            CursorMessage::Move(p) => {
                self.set_position(*p);
                CursorChange::Moved
            }
            CursorMessage::Hide => {
                self.visible = false;
                CursorChange::Visibility
            }
            CursorMessage::Trail { .. } => CursorChange::Nothing,
            CursorMessage::InvalOne(id) => {
                if let Some(old) = self.cache.remove(id) {
                    self.cached_pixels -= old.pixels.data.len();
                }
                CursorChange::Nothing
            }
            CursorMessage::InvalAll => {
                self.clear_cache();
                CursorChange::Nothing
            }
        })
    }

    /// Shapes in the cache.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    fn set_position(&mut self, p: Point16) {
        self.position = Some((p.x.into(), p.y.into()));
    }

    fn clear_cache(&mut self) {
        self.cache.clear();
        self.cached_pixels = 0;
    }

    fn resolve(&mut self, cursor: &Cursor) -> Result<Option<CursorShape>, CursorError> {
        let Cursor::Shape { header, cache_me, from_cache, data } = cursor else { return Ok(None) };
        if *from_cache {
            return self.cache.get(&header.unique).cloned().map(Some).ok_or(CursorError::CacheMiss(header.unique));
        }
        let pixels = decode_cursor(header.kind, header.width, header.height, data)?;
        let shape = CursorShape {
            hot_x: u32::from(header.hot_x).min(pixels.width.saturating_sub(1)),
            hot_y: u32::from(header.hot_y).min(pixels.height.saturating_sub(1)),
            pixels: Arc::new(pixels),
        };
        if *cache_me {
            let n = shape.pixels.data.len();
            if let Some(old) = self.cache.remove(&header.unique) {
                self.cached_pixels -= old.pixels.data.len();
            }
            // The server evicts with INVAL_ONE; a server that overfills the cache loses its oldest ids instead of
            // growing ours.
            while self.cache.len() >= CURSOR_CACHE_ENTRIES || self.cached_pixels + n > CURSOR_CACHE_PIXELS {
                let Some((_, old)) = self.cache.pop_first() else { break };
                self.cached_pixels -= old.pixels.data.len();
            }
            self.cached_pixels += n;
            self.cache.insert(header.unique, shape.clone());
        }
        Ok(Some(shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::cursor::{CursorHeader, CursorKind};

    fn alpha(unique: u64, cache_me: bool, from_cache: bool) -> Cursor {
        let header = CursorHeader { unique, kind: CursorKind::Alpha, width: 2, height: 2, hot_x: 5, hot_y: 1 };
        let data = if from_cache { vec![] } else { vec![0xff; 16] };
        Cursor::Shape { header, cache_me, from_cache, data }
    }

    fn set(cursor: Cursor) -> CursorMessage {
        CursorMessage::Set { position: Point16 { x: 10, y: 20 }, visible: true, cursor }
    }

    #[test]
    fn shapes_are_cached_found_again_and_invalidated() {
        let mut m = CursorModel::default();
        assert_eq!(m.apply(&set(alpha(1, true, false))).unwrap(), CursorChange::Shape);
        let shape = m.shape.clone().unwrap();
        assert_eq!((shape.hot_x, shape.hot_y), (1, 1), "the hot spot is clamped into the shape");
        assert!(m.visible);
        assert_eq!(m.position, Some((10, 20)));
        m.apply(&CursorMessage::Hide).unwrap();
        assert!(!m.visible);
        m.apply(&set(alpha(1, false, true))).unwrap();
        assert_eq!(m.shape, Some(shape));
        m.apply(&CursorMessage::InvalOne(1)).unwrap();
        assert_eq!(m.apply(&set(alpha(1, false, true))), Err(CursorError::CacheMiss(1)));
        m.apply(&CursorMessage::Move(Point16 { x: -1, y: 3 })).unwrap();
        assert_eq!(m.position, Some((-1, 3)));
    }

    #[test]
    fn the_cache_never_holds_more_than_256_shapes_and_reset_forgets_everything() {
        let mut m = CursorModel::default();
        for id in 0..300 {
            m.apply(&set(alpha(id, true, false))).unwrap();
        }
        assert_eq!(m.cached(), CURSOR_CACHE_ENTRIES);
        m.apply(&CursorMessage::Reset).unwrap();
        assert_eq!(m.cached(), 0);
        assert!(m.shape.is_none() && !m.visible);
        m.apply(&set(Cursor::None)).unwrap();
        assert!(!m.visible, "no cursor is never visible");
    }
}

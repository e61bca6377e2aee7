//! Cache invalidation: INVAL_LIST and INVAL_ALL_PIXMAPS (INVAL_PALETTE is a bare u64 id, INVAL_ALL_PALETTES empty).

use super::{bounded_count, MAX_INVAL_RESOURCES};
use crate::protocol::wire::Reader;
use crate::protocol::Result;

/// Resource type of a pixmap-cache entry.
pub const RES_TYPE_PIXMAP: u8 = 1;

/// One entry of INVAL_LIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId {
    /// Resource type ([`RES_TYPE_PIXMAP`]).
    pub res_type: u8,
    /// The cached image's id.
    pub id: u64,
}

/// A channel and message the client must have processed before acting (INVAL_ALL_PIXMAPS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitForChannel {
    /// Channel type.
    pub channel_type: u8,
    /// Channel id.
    pub channel_id: u8,
    /// Serial of the message to wait for.
    pub message_serial: u64,
}

/// INVAL_LIST: `u16 count`, then `count` × (`u8 type, u64 id`).
pub(super) fn parse_inval_list(r: &mut Reader<'_>) -> Result<Vec<ResourceId>> {
    let count = r.u16()?;
    let n = bounded_count(r, "INVAL_LIST resources", count.into(), MAX_INVAL_RESOURCES.into(), 9)?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(ResourceId { res_type: r.u8()?, id: r.u64()? });
    }
    Ok(list)
}

/// INVAL_ALL_PIXMAPS: `u8 count`, then `count` × (`u8 channel type, u8 channel id, u64 serial`).
pub(super) fn parse_wait_list(r: &mut Reader<'_>) -> Result<Vec<WaitForChannel>> {
    let count = r.u8()?;
    let n = bounded_count(r, "INVAL_ALL_PIXMAPS waits", count.into(), u8::MAX.into(), 10)?;
    let mut list = Vec::with_capacity(n);
    for _ in 0..n {
        list.push(WaitForChannel { channel_type: r.u8()?, channel_id: r.u8()?, message_serial: r.u64()? });
    }
    Ok(list)
}

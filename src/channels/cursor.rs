//! The cursor channel: the guest pointer's shape, position and visibility, on the shared driver. Shapes are small
//! (at most 512 × 512), so they are decoded on the read loop. A bad message is refused with a rate-limited log line
//! and costs only itself.

use super::driver::{drive, ChannelEnd, MessageHandler};
use super::io::{Outgoing, RawMessage};
use crate::canvas::cursor::{CursorChange, CursorModel};
use crate::log_limit::limited;
use crate::protocol::base::Notify;
use crate::protocol::cursor::parse_cursor;
use crate::session::cursor::CursorShared;
use crate::session::LinkedChannel;
use std::sync::Arc;

/// Largest cursor message: a 512 × 512 ALPHA shape and its headers.
pub const MAX_CURSOR_MESSAGE: u32 = 512 * 512 * 4 + 64;

/// Runs a linked cursor channel until it ends.
pub async fn run_cursor(linked: LinkedChannel, shared: Arc<CursorShared>) -> ChannelEnd {
    let LinkedChannel { mut reader, writer, .. } = linked;
    shared.update(|v| v.linked = true);
    let mut handler = CursorHandler { shared: shared.clone(), model: CursorModel::default() };
    let end = drive(&mut reader, &writer, &mut handler).await;
    shared.update(|v| {
        v.linked = false;
        v.visible = false;
    });
    end
}

struct CursorHandler {
    shared: Arc<CursorShared>,
    model: CursorModel,
}

impl MessageHandler for CursorHandler {
    async fn on_message(&mut self, msg: RawMessage, _replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        let applied = match parse_cursor(msg.msg_type, &msg.body) {
            Ok(Some(m)) => self.model.apply(&m).map_err(|e| e.to_string()),
            Ok(None) => {
                tracing::debug!("cursor: message type {} ignored", msg.msg_type);
                return None;
            }
            Err(e) => Err(e.to_string()),
        };
        match applied {
            Ok(CursorChange::Nothing) => {}
            Ok(_) => {
                let m = &self.model;
                self.shared.update(|v| {
                    v.shape = m.shape.clone();
                    v.visible = m.visible;
                    v.position = m.position;
                });
            }
            Err(e) => {
                limited("cursor refused", |note| tracing::warn!("cursor message {} refused: {e}{note}", msg.msg_type));
                self.shared.update(|v| v.refused += 1);
            }
        }
        None
    }

    async fn on_notice(&mut self, _notice: Notify) -> Option<ChannelEnd> {
        None
    }
}

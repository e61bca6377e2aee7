//! Motion flow control for the inputs channel: at most [`MAX_UNACKED`] motion or position messages unacknowledged.
//!
//! The server acknowledges every [`MOTION_ACK_BUNCH`] motion or position messages. While the window is full,
//! relative moves add up and absolute positions replace each other (the latest wins); the pending one goes out when
//! an acknowledgement makes room, or before a button event so the click lands where the pointer is. Button events
//! are never held back or dropped.

use crate::protocol::inputs::MOTION_ACK_BUNCH;

/// The most motion or position messages in flight.
pub const MAX_UNACKED: u32 = 2 * MOTION_ACK_BUNCH;

/// A pointer move to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Motion {
    /// A relative move (server mouse mode).
    Relative {
        /// Columns.
        dx: i32,
        /// Rows.
        dy: i32,
    },
    /// An absolute position on a display (client mouse mode).
    Absolute {
        /// Column in the surface.
        x: u32,
        /// Row in the surface.
        y: u32,
        /// The display channel id.
        display: u8,
    },
}

/// Decides when moves go out.
#[derive(Debug, Default)]
pub struct MotionGate {
    unacked: u32,
    pending: Option<Motion>,
    /// Moves merged into a pending one since the start (for the Traffic panel and tests).
    pub coalesced: u64,
}

impl MotionGate {
    /// A move from the front end: `Some` to send now, `None` when it waits (merged into the pending move).
    pub fn push(&mut self, m: Motion) -> Option<Motion> {
        let merged = match (self.pending.take(), m) {
            (Some(Motion::Relative { dx, dy }), Motion::Relative { dx: x2, dy: y2 }) => {
                self.coalesced += 1;
                Motion::Relative { dx: dx.saturating_add(x2), dy: dy.saturating_add(y2) }
            }
            (Some(_), m) => {
                self.coalesced += 1;
                m
            }
            (None, m) => m,
        };
        if self.unacked < MAX_UNACKED {
            self.unacked += 1;
            Some(merged)
        } else {
            self.pending = Some(merged);
            None
        }
    }

    /// MOUSE_MOTION_ACK: room for [`MOTION_ACK_BUNCH`] more; the pending move, if any, to send now.
    pub fn ack(&mut self) -> Option<Motion> {
        self.unacked = self.unacked.saturating_sub(MOTION_ACK_BUNCH);
        if self.unacked < MAX_UNACKED {
            self.take_pending()
        } else {
            None
        }
    }

    /// Before a button event: the pending move to send first, whatever the window.
    pub fn before_button(&mut self) -> Option<Motion> {
        self.take_pending()
    }

    /// Messages sent and not yet acknowledged.
    pub fn unacked(&self) -> u32 {
        self.unacked
    }

    fn take_pending(&mut self) -> Option<Motion> {
        let m = self.pending.take()?;
        self.unacked += 1;
        Some(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(dx: i32, dy: i32) -> Motion {
        Motion::Relative { dx, dy }
    }

    #[test]
    fn eight_go_out_then_moves_add_up_until_an_ack() {
        let mut g = MotionGate::default();
        for _ in 0..8 {
            assert_eq!(g.push(rel(1, 0)), Some(rel(1, 0)));
        }
        assert_eq!(g.push(rel(1, 2)), None);
        assert_eq!(g.push(rel(3, -1)), None);
        assert_eq!(g.unacked(), 8);
        assert_eq!(g.ack(), Some(rel(4, 1)));
        assert_eq!(g.unacked(), 5);
        assert_eq!(g.ack(), None);
        assert_eq!(g.coalesced, 1);
    }

    #[test]
    fn positions_keep_the_latest_and_buttons_flush_it() {
        let mut g = MotionGate::default();
        for i in 0..8 {
            assert!(g.push(Motion::Absolute { x: i, y: 0, display: 0 }).is_some());
        }
        assert_eq!(g.push(Motion::Absolute { x: 10, y: 1, display: 0 }), None);
        assert_eq!(g.push(Motion::Absolute { x: 11, y: 2, display: 0 }), None);
        assert_eq!(g.before_button(), Some(Motion::Absolute { x: 11, y: 2, display: 0 }));
        assert_eq!(g.before_button(), None);
        assert_eq!(g.unacked(), 9);
        for _ in 0..5 {
            g.ack();
        }
        assert_eq!(g.unacked(), 0);
    }
}

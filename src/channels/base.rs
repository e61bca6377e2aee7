//! What every channel does with the base messages: PONG for PING, the ACK window, NOTIFY and DISCONNECTING.

use super::io::Outgoing;
use crate::protocol::base::{encode_ack, encode_ack_sync, encode_pong, parse_base, BaseMessage, Notify};
use crate::protocol::constants::LinkError;
use crate::protocol::ProtocolError;

/// What the channel should do after [`BaseState::handle`].
#[derive(Debug)]
pub enum BaseOutcome {
    /// The message was a base message and is fully handled (any reply is in `replies`).
    Handled,
    /// NOTIFY: show it to the user.
    Notify(Notify),
    /// DISCONNECTING: the server is about to close the channel for this reason.
    Disconnecting(LinkError),
    /// PING (answered): `padding` bytes of padding, for the net-test estimate.
    Ping {
        /// Padding bytes.
        padding: usize,
    },
    /// Not a base message: the channel handles it.
    NotBase,
}

/// Per-channel state for base messages (the ACK window).
#[derive(Debug, Default)]
pub struct BaseState {
    window: u32,
    remaining: u32,
}

impl BaseState {
    /// New state: no ACKs until the server sends SET_ACK.
    pub fn new() -> Self {
        BaseState::default()
    }

    /// Handles one received message, pushing any replies onto `replies`. Every received message counts towards
    /// the ACK window, base or not.
    pub fn handle(
        &mut self,
        msg_type: u16,
        body: &[u8],
        replies: &mut Vec<Outgoing>,
    ) -> Result<BaseOutcome, ProtocolError> {
        let parsed = parse_base(msg_type, body)?;
        let outcome = match parsed {
            Some(BaseMessage::SetAck { generation, window }) => {
                self.window = window;
                self.remaining = window;
                replies.push(Outgoing::from_pair(encode_ack_sync(generation)));
                // SET_ACK itself does not count.
                return Ok(BaseOutcome::Handled);
            }
            Some(BaseMessage::Ping { id, timestamp, padding }) => {
                replies.push(Outgoing::from_pair(encode_pong(id, timestamp)));
                BaseOutcome::Ping { padding }
            }
            Some(BaseMessage::Notify(n)) => BaseOutcome::Notify(n),
            Some(BaseMessage::Disconnecting { reason, .. }) => BaseOutcome::Disconnecting(reason),
            Some(BaseMessage::WaitForChannels(w)) => {
                // Only display/cursor/migration use it; ryll's channels never need to wait.
                tracing::debug!("WAIT_FOR_CHANNELS for {} channel(s) ignored", w.len());
                BaseOutcome::Handled
            }
            Some(BaseMessage::Migrate { flags }) => {
                crate::log_limit::limited("migrate", |more| {
                    tracing::warn!("the server started a migration (flags {flags:#x}); ryll does not follow it{more}")
                });
                BaseOutcome::Handled
            }
            Some(other) => {
                tracing::debug!("base message {other:?} ignored");
                BaseOutcome::Handled
            }
            None => BaseOutcome::NotBase,
        };
        if self.window > 0 {
            self.remaining = self.remaining.saturating_sub(1);
            if self.remaining == 0 {
                replies.push(Outgoing::from_pair(encode_ack()));
                self.remaining = self.window;
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::base::server;
    use crate::protocol::constants::{msg, msgc};

    #[test]
    fn ping_gets_pong_without_padding() {
        let mut st = BaseState::new();
        let mut out = Vec::new();
        let outcome = st.handle(msg::PING, &server::ping(5, 99, 1000), &mut out).unwrap();
        assert!(matches!(outcome, BaseOutcome::Ping { padding: 1000 }));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].msg_type, msgc::PONG);
        assert_eq!(out[0].body.len(), 12);
    }

    #[test]
    fn ack_window_counts_every_message() {
        let mut st = BaseState::new();
        let mut out = Vec::new();
        st.handle(101, &[], &mut out).unwrap();
        assert!(out.is_empty(), "no ACK before SET_ACK");
        st.handle(msg::SET_ACK, &server::set_ack(7, 3), &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].msg_type, msgc::ACK_SYNC);
        assert_eq!(&out[0].body[..], &7u32.to_le_bytes());
        out.clear();
        for _ in 0..2 {
            st.handle(101, &[], &mut out).unwrap();
        }
        assert!(out.is_empty());
        st.handle(msg::PING, &server::ping(1, 1, 0), &mut out).unwrap();
        let types: Vec<u16> = out.iter().map(|m| m.msg_type).collect();
        assert_eq!(types, vec![msgc::PONG, msgc::ACK]);
        out.clear();
        for _ in 0..3 {
            st.handle(101, &[], &mut out).unwrap();
        }
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn disconnecting_and_malformed() {
        let mut st = BaseState::new();
        let mut out = Vec::new();
        let outcome = st.handle(msg::DISCONNECTING, &server::disconnecting(LinkError::Ok), &mut out).unwrap();
        assert!(matches!(outcome, BaseOutcome::Disconnecting(LinkError::Ok)));
        assert!(st.handle(msg::PING, &[1, 2], &mut out).is_err());
    }
}

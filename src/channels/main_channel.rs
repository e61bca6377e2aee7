//! The main channel: session id, channel list, VM name, and the session's lifetime.

use super::base::{BaseOutcome, BaseState};
use super::io::{IoError, MessageReader, Outgoing, WriterHandle};
use crate::protocol::base::Notify;
use crate::protocol::caps::Caps;
use crate::protocol::constants::{LinkError, MAIN_CAP_NAME_AND_UUID};
use crate::protocol::main_channel::{encode_attach_channels, parse_main, ChannelId, MainInit, MainMessage};
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

/// Largest main-channel message: the net-test PING carries 256 000 bytes of padding; agent data is smaller.
pub const MAX_MAIN_MESSAGE: u32 = 1 << 20;

/// The main capabilities ryll advertises.
pub fn main_caps() -> Caps {
    Caps::with(&[MAIN_CAP_NAME_AND_UUID])
}

/// What the main channel reports to the session core.
#[derive(Debug)]
pub enum MainEvent {
    /// INIT arrived (ATTACH_CHANNELS has been sent).
    Init(MainInit),
    /// A channel list: the first one is the initial list, later ones announce hot-plugged channels.
    ChannelsList(Vec<ChannelId>),
    /// The VM's name.
    Name(String),
    /// The VM's UUID.
    Uuid([u8; 16]),
    /// A server notice.
    Notice(Notify),
    /// The channel ended. `reason` is the DISCONNECTING reason when the server sent one.
    Closed {
        /// DISCONNECTING reason, if any.
        reason: Option<LinkError>,
        /// A read or protocol error, if the channel failed.
        error: Option<String>,
    },
}

/// Runs the main channel's read loop until the socket closes. Replies go through `writer`.
pub async fn run_main<R: AsyncRead + Unpin>(
    mut reader: MessageReader<R>,
    writer: WriterHandle,
    events: mpsc::Sender<MainEvent>,
) {
    let mut base = BaseState::new();
    let mut disconnect_reason = None;
    let mut replies = Vec::new();
    let error = loop {
        let msg = match reader.read_message().await {
            Ok(Some(m)) => m,
            Ok(None) => break None,
            Err(IoError::Io(e)) if disconnect_reason.is_some() => {
                tracing::debug!("main channel read after DISCONNECTING: {e}");
                break None;
            }
            Err(e) => break Some(e.to_string()),
        };
        let outcome = match base.handle(msg.msg_type, &msg.body, &mut replies) {
            Ok(o) => o,
            Err(e) => break Some(format!("malformed message {}: {e}", msg.msg_type)),
        };
        for r in replies.drain(..) {
            if writer.control.send(r).await.is_err() {
                break;
            }
        }
        let event = match outcome {
            BaseOutcome::Handled => None,
            BaseOutcome::Notify(n) => Some(MainEvent::Notice(n)),
            BaseOutcome::Disconnecting(reason) => {
                tracing::info!("main: the server is disconnecting ({reason})");
                disconnect_reason = Some(reason);
                None
            }
            BaseOutcome::NotBase => match parse_main(msg.msg_type, &msg.body) {
                Ok(Some(MainMessage::Init(init))) => {
                    if writer.control.send(Outgoing::from_pair(encode_attach_channels())).await.is_err() {
                        break None;
                    }
                    Some(MainEvent::Init(init))
                }
                Ok(Some(MainMessage::ChannelsList(list))) => Some(MainEvent::ChannelsList(list)),
                Ok(Some(MainMessage::Name(name))) => Some(MainEvent::Name(name)),
                Ok(Some(MainMessage::Uuid(uuid))) => Some(MainEvent::Uuid(uuid)),
                Ok(Some(other)) => {
                    tracing::debug!("main: {other:?}");
                    None
                }
                Ok(None) => {
                    tracing::debug!("main: message type {} ignored", msg.msg_type);
                    None
                }
                Err(e) => break Some(format!("malformed main message {}: {e}", msg.msg_type)),
            },
        };
        if let Some(ev) = event {
            if events.send(ev).await.is_err() {
                break None;
            }
        }
    };
    let _ = events.send(MainEvent::Closed { reason: disconnect_reason, error }).await;
}

//! The main channel: session id, channel list, VM name, and the session's lifetime.

use super::driver::{drive, ChannelEnd, MessageHandler};
use super::io::{MessageReader, Outgoing, RawMessage, WriterHandle};
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
pub async fn run_main<R: AsyncRead + Unpin + Send>(
    mut reader: MessageReader<R>,
    writer: WriterHandle,
    events: mpsc::Sender<MainEvent>,
) {
    let mut handler = MainHandler { events: events.clone() };
    let (reason, error) = match drive(&mut reader, &writer, &mut handler).await {
        ChannelEnd::Closed(reason) => (reason, None),
        ChannelEnd::Failed(e) => (None, Some(e)),
    };
    let _ = events.send(MainEvent::Closed { reason, error }).await;
}

/// The main channel's messages: INIT (answered with ATTACH_CHANNELS), the channel lists, the VM's name and UUID.
struct MainHandler {
    events: mpsc::Sender<MainEvent>,
}

impl MainHandler {
    /// Reports an event; when the session core is gone, the channel ends.
    async fn report(&self, ev: MainEvent) -> Option<ChannelEnd> {
        self.events.send(ev).await.err().map(|_| ChannelEnd::Closed(None))
    }
}

impl MessageHandler for MainHandler {
    async fn on_message(&mut self, msg: RawMessage, replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        let event = match parse_main(msg.msg_type, &msg.body) {
            Ok(Some(MainMessage::Init(init))) => {
                replies.push(Outgoing::from_pair(encode_attach_channels()));
                MainEvent::Init(init)
            }
            Ok(Some(MainMessage::ChannelsList(list))) => MainEvent::ChannelsList(list),
            Ok(Some(MainMessage::Name(name))) => MainEvent::Name(name),
            Ok(Some(MainMessage::Uuid(uuid))) => MainEvent::Uuid(uuid),
            Ok(Some(other)) => {
                tracing::debug!("main: {other:?}");
                return None;
            }
            Ok(None) => {
                tracing::debug!("main: message type {} ignored", msg.msg_type);
                return None;
            }
            Err(e) => return Some(ChannelEnd::Failed(format!("malformed main message {}: {e}", msg.msg_type))),
        };
        self.report(event).await
    }

    async fn on_notice(&mut self, notice: Notify) -> Option<ChannelEnd> {
        self.report(MainEvent::Notice(notice)).await
    }
}

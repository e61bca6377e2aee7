//! The main channel: session id, channel list, VM name, and the session's lifetime.

use super::compression::NetTest;
use super::driver::{drive, ChannelEnd, MessageHandler};
use super::io::{MessageReader, Outgoing, RawMessage, WriterHandle};
use crate::protocol::base::Notify;
use crate::protocol::caps::Caps;
use crate::protocol::constants::{LinkError, MAIN_CAP_NAME_AND_UUID};
use crate::protocol::main_channel::{
    encode_attach_channels, encode_mouse_mode_request, parse_main, ChannelId, MainInit, MainMessage,
};
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
    /// MULTI_MEDIA_TIME: the server's multimedia clock now.
    MmTime(u32),
    /// The VM's name.
    Name(String),
    /// The VM's UUID.
    Uuid([u8; 16]),
    /// MOUSE_MODE: the modes the server supports and the one in force.
    MouseMode {
        /// Supported modes (a mask: 1 server, 2 client).
        supported: u16,
        /// The current mode.
        current: u16,
    },
    /// A server notice.
    Notice(Notify),
    /// The server's net test gave this estimate of the link rate towards the client, bytes per second.
    LinkEstimate(f64),
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
    let mut handler = MainHandler { events: events.clone(), net_test: NetTest::default() };
    let (reason, error) = match drive(&mut reader, &writer, &mut handler).await {
        ChannelEnd::Closed(reason) => (reason, None),
        ChannelEnd::Failed(e) => (None, Some(e)),
    };
    let _ = events.send(MainEvent::Closed { reason, error }).await;
}

/// MOUSE_MODE_REQUEST for client mode when the server offers it and another mode is in force (as spice-gtk does:
/// absolute positions need no pointer grab).
fn client_mouse_request(supported: u16, current: u16) -> Option<Outgoing> {
    const CLIENT: u16 = 2;
    (supported & CLIENT != 0 && current != CLIENT).then(|| Outgoing::from_pair(encode_mouse_mode_request(CLIENT)))
}

/// The main channel's messages: INIT (answered with ATTACH_CHANNELS), the channel lists, the VM's name and UUID.
struct MainHandler {
    events: mpsc::Sender<MainEvent>,
    net_test: NetTest,
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
                replies.extend(client_mouse_request(init.supported_mouse_modes as u16, init.current_mouse_mode as u16));
                MainEvent::Init(init)
            }
            Ok(Some(MainMessage::MouseMode { supported, current })) => {
                replies.extend(client_mouse_request(supported, current));
                MainEvent::MouseMode { supported, current }
            }
            Ok(Some(MainMessage::ChannelsList(list))) => MainEvent::ChannelsList(list),
            Ok(Some(MainMessage::MultiMediaTime(mm))) => MainEvent::MmTime(mm),
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

    fn on_ping(&mut self, padding: usize) {
        if let Some(rate) = self.net_test.on_ping(padding, std::time::Instant::now()) {
            // The session core reads it before it links the next channels (same queue, in order); a full queue
            // only loses the estimate.
            let _ = self.events.try_send(MainEvent::LinkEstimate(rate));
        }
    }
}

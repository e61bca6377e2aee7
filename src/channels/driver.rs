//! The channel driver: the one read loop every channel runs on.
//!
//! [`drive`] reads messages, gives each to [`BaseState`] first (PING → PONG, the ACK window, SET_ACK, NOTIFY,
//! DISCONNECTING), sends the replies, and hands every other message to the channel's [`MessageHandler`]. A channel
//! module supplies only its handler; how base messages, read errors and failed replies end a channel is decided
//! here, once:
//! - the socket closes, or fails after DISCONNECTING: [`ChannelEnd::Closed`] with the DISCONNECTING reason, if any;
//! - a read or protocol error otherwise, or a malformed base message: [`ChannelEnd::Failed`];
//! - a reply (the driver's or the handler's) cannot be queued: the writer task has stopped because the socket can no
//!   longer be written, so the server is gone: [`ChannelEnd::Closed`], as if the read side had seen the close.

use super::base::{BaseOutcome, BaseState};
use super::io::{IoError, MessageReader, Outgoing, RawMessage, WriterHandle};
use crate::protocol::base::Notify;
use crate::protocol::constants::LinkError;
use std::future::Future;
use tokio::io::AsyncRead;
use tokio::task::JoinHandle;

/// How a channel ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEnd {
    /// The server closed the channel (with a DISCONNECTING reason if it sent one).
    Closed(Option<LinkError>),
    /// A read or protocol error, as one line.
    Failed(String),
}

impl ChannelEnd {
    /// One line for the user: why the channel closed.
    pub fn describe(&self) -> String {
        match self {
            ChannelEnd::Closed(None) => "closed by the server".to_string(),
            ChannelEnd::Closed(Some(r)) => format!("server said {r}"),
            ChannelEnd::Failed(e) => e.clone(),
        }
    }
}

/// What a channel does with the messages that are not base messages.
pub trait MessageHandler: Send {
    /// Handles one message. Messages to send go into `replies` (they go out on the control lane, in order, right
    /// after the call). Returning `Some` ends the channel with that end.
    fn on_message(
        &mut self,
        msg: RawMessage,
        replies: &mut Vec<Outgoing>,
    ) -> impl Future<Output = Option<ChannelEnd>> + Send;

    /// A NOTIFY from the server on this channel. Returning `Some` ends the channel.
    fn on_notice(&mut self, notice: Notify) -> impl Future<Output = Option<ChannelEnd>> + Send;

    /// A PING (already answered) with `padding` bytes of padding arrived now.
    fn on_ping(&mut self, _padding: usize) {}
}

/// Runs the read loop of a linked channel until it ends.
pub async fn drive<R, H>(reader: &mut MessageReader<R>, writer: &WriterHandle, handler: &mut H) -> ChannelEnd
where
    R: AsyncRead + Unpin + Send,
    H: MessageHandler,
{
    let mut base = BaseState::new();
    let mut replies = Vec::new();
    let mut reason = None;
    loop {
        let msg = match reader.read_message().await {
            Ok(Some(m)) => m,
            Ok(None) => return ChannelEnd::Closed(reason),
            Err(IoError::Io(e)) if reason.is_some() => {
                tracing::debug!("read after DISCONNECTING: {e}");
                return ChannelEnd::Closed(reason);
            }
            Err(e) => return ChannelEnd::Failed(e.to_string()),
        };
        let outcome = match base.handle(msg.msg_type, &msg.body, &mut replies) {
            Ok(o) => o,
            Err(e) => return ChannelEnd::Failed(format!("malformed message {}: {e}", msg.msg_type)),
        };
        if !send_all(writer, &mut replies).await {
            return ChannelEnd::Closed(reason);
        }
        let end = match outcome {
            BaseOutcome::Handled => None,
            BaseOutcome::Ping { padding } => {
                handler.on_ping(padding);
                None
            }
            BaseOutcome::Disconnecting(r) => {
                tracing::debug!("the server is disconnecting the channel ({r})");
                reason = Some(r);
                None
            }
            BaseOutcome::Notify(n) => handler.on_notice(n).await,
            BaseOutcome::NotBase => handler.on_message(msg, &mut replies).await,
        };
        if !send_all(writer, &mut replies).await {
            return end.unwrap_or(ChannelEnd::Closed(reason));
        }
        if let Some(end) = end {
            return end;
        }
    }
}

/// Queues `replies` on the control lane, in order; false when the writer task has stopped.
async fn send_all(writer: &WriterHandle, replies: &mut Vec<Outgoing>) -> bool {
    for r in std::mem::take(replies) {
        if writer.control.send(r).await.is_err() {
            tracing::debug!("the channel's writer has stopped; ending the channel");
            return false;
        }
    }
    true
}

/// Aborts a task when dropped: ties a task's life to its owner's.
#[derive(Debug)]
pub struct AbortOnDrop<T>(pub JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::io::{ByteCounters, HeaderMode};
    use crate::protocol::base::server;
    use crate::protocol::constants::msg;
    use std::sync::Arc;
    use tokio::io::AsyncWriteExt;
    use tokio::sync::mpsc;

    /// Records the messages it gets; ends the channel on type 999; answers type 500 with a reply of type 501.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<u16>,
        notices: Vec<String>,
    }

    impl MessageHandler for Recorder {
        async fn on_message(&mut self, msg: RawMessage, replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
            self.seen.push(msg.msg_type);
            if msg.msg_type == 500 {
                replies.push(Outgoing { msg_type: 501, body: Default::default() });
            }
            (msg.msg_type == 999).then(|| ChannelEnd::Failed("stop".into()))
        }

        async fn on_notice(&mut self, notice: Notify) -> Option<ChannelEnd> {
            self.notices.push(notice.message);
            None
        }
    }

    fn mini(msg_type: u16, body: &[u8]) -> Vec<u8> {
        let mut v = msg_type.to_le_bytes().to_vec();
        v.extend_from_slice(&(body.len() as u32).to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    type TestChannel =
        (MessageReader<std::io::Cursor<Vec<u8>>>, WriterHandle, mpsc::Receiver<Outgoing>, mpsc::Receiver<Outgoing>);

    /// A reader over `input` and a writer whose queues the test holds.
    fn channel(input: Vec<u8>) -> TestChannel {
        let reader = MessageReader::new(
            std::io::Cursor::new(input),
            HeaderMode::Mini,
            1 << 16,
            None,
            Arc::new(ByteCounters::default()),
        );
        let (control, control_rx) = mpsc::channel(16);
        let (data, data_rx) = mpsc::channel(16);
        (reader, WriterHandle { control, data }, control_rx, data_rx)
    }

    #[tokio::test]
    async fn base_messages_are_answered_and_the_rest_reach_the_handler() {
        let mut input = mini(msg::PING, &server::ping(7, 1, 0));
        input.extend(mini(msg::NOTIFY, &server::notify(1, 0, "hello")));
        input.extend(mini(500, b"x"));
        input.extend(mini(300, b""));
        let (mut reader, writer, mut control, _data) = channel(input);
        let mut h = Recorder::default();
        assert_eq!(drive(&mut reader, &writer, &mut h).await, ChannelEnd::Closed(None));
        assert_eq!(h.seen, vec![500, 300]);
        assert_eq!(h.notices, vec!["hello".to_string()]);
        let sent: Vec<u16> = std::iter::from_fn(|| control.try_recv().ok()).map(|m| m.msg_type).collect();
        assert_eq!(sent, vec![crate::protocol::constants::msgc::PONG, 501]);
    }

    #[tokio::test]
    async fn the_handler_can_end_the_channel_and_disconnecting_gives_the_reason() {
        let (mut reader, writer, _c, _d) = channel([mini(1000, b""), mini(999, b""), mini(1001, b"")].concat());
        let mut h = Recorder::default();
        assert_eq!(drive(&mut reader, &writer, &mut h).await, ChannelEnd::Failed("stop".into()));
        assert_eq!(h.seen, vec![1000, 999]);

        let input = mini(msg::DISCONNECTING, &server::disconnecting(LinkError::PermissionDenied));
        let (mut reader, writer, _c, _d) = channel(input);
        let end = drive(&mut reader, &writer, &mut Recorder::default()).await;
        assert_eq!(end, ChannelEnd::Closed(Some(LinkError::PermissionDenied)));
    }

    #[tokio::test]
    async fn malformed_base_messages_and_truncated_input_fail_the_channel() {
        let (mut reader, writer, _c, _d) = channel(mini(msg::PING, &[1, 2]));
        assert!(matches!(drive(&mut reader, &writer, &mut Recorder::default()).await, ChannelEnd::Failed(_)));
        let mut cut = mini(1000, b"abcdef");
        cut.truncate(8);
        let (mut reader, writer, _c, _d) = channel(cut);
        assert!(matches!(drive(&mut reader, &writer, &mut Recorder::default()).await, ChannelEnd::Failed(_)));
    }

    /// The one rule for replies that cannot be sent: the writer has stopped, so the channel ends as closed, and no
    /// message after that point reaches the handler.
    #[tokio::test]
    async fn a_reply_that_cannot_be_sent_ends_the_channel_as_closed() {
        let input = [mini(1000, b""), mini(msg::PING, &server::ping(1, 1, 0)), mini(1001, b"")].concat();
        let (mut reader, writer, control, _d) = channel(input.clone());
        drop(control);
        let mut h = Recorder::default();
        assert_eq!(drive(&mut reader, &writer, &mut h).await, ChannelEnd::Closed(None));
        assert_eq!(h.seen, vec![1000], "nothing after the failed PONG is handled");

        let (mut reader, writer, control, _d) = channel([mini(500, b""), mini(1001, b"")].concat());
        drop(control);
        let mut h = Recorder::default();
        assert_eq!(drive(&mut reader, &writer, &mut h).await, ChannelEnd::Closed(None));
        assert_eq!(h.seen, vec![500], "the handler's own reply follows the same rule");
    }

    #[tokio::test]
    async fn abort_on_drop_aborts() {
        let (tx, mut rx) = tokio::io::duplex(8);
        let guard = AbortOnDrop(tokio::spawn(async move {
            let _keep = tx;
            std::future::pending::<()>().await
        }));
        drop(guard);
        let mut buf = [0u8; 1];
        assert_eq!(tokio::io::AsyncReadExt::read(&mut rx, &mut buf).await.unwrap(), 0, "the task's end was dropped");
        let _ = rx.shutdown().await;
    }
}

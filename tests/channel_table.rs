//! A channel type ryll does not know, brought by the test: the session core links it through its channel table and
//! runs it on the shared channel driver, with no change to the core. The fake server offers a playback channel,
//! sends it SET_ACK, a PING and one channel message; the stub kind's handler answers that message.

mod support;

use ryll::channels::driver::{drive, ChannelEnd, MessageHandler};
use ryll::channels::io::{Outgoing, RawMessage};
use ryll::protocol::base::Notify;
use ryll::protocol::caps::Caps;
use ryll::protocol::constants::{msgc, ChannelType};
use ryll::protocol::main_channel::ChannelId;
use ryll::session::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel, SessionConfig, SessionEvent};
use std::sync::Arc;
use support::server::OTHER_HELLO;
use support::{FakeServer, FakeServerConfig, RunningSession, WEBDAV};

const PLAYBACK: ChannelId = ChannelId { channel_type: ChannelType::Playback, id: 0 };
const PLAYBACK_2: ChannelId = ChannelId { channel_type: ChannelType::Playback, id: 1 };
/// What the stub answers [`OTHER_HELLO`] with.
const STUB_REPLY: u16 = 0x7777;

/// Answers the fake's hello with [`STUB_REPLY`] carrying the hello's body.
struct Echo;

impl MessageHandler for Echo {
    async fn on_message(&mut self, msg: RawMessage, replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        if msg.msg_type == OTHER_HELLO {
            replies.push(Outgoing { msg_type: STUB_REPLY, body: msg.body });
        }
        None
    }

    async fn on_notice(&mut self, _notice: Notify) -> Option<ChannelEnd> {
        None
    }
}

struct StubKind;

impl ChannelKind for StubKind {
    fn channel_type(&self) -> ChannelType {
        ChannelType::Playback
    }

    fn caps(&self) -> Caps {
        Caps::new()
    }

    fn max_message(&self) -> u32 {
        1 << 16
    }

    fn run(&self, mut linked: LinkedChannel, _ctx: ChannelContext) -> ChannelFuture {
        Box::pin(async move { drive(&mut linked.reader, &linked.writer, &mut Echo).await })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_channel_kind_links_through_the_table_and_runs_on_the_shared_driver() {
    support::init_tracing();
    let server = FakeServer::start(FakeServerConfig::default().channels(&[WEBDAV, PLAYBACK, PLAYBACK_2])).await;
    let cfg = SessionConfig { addr: server.addr(), ..SessionConfig::default() };
    let mut session = RunningSession::start_with(cfg, vec![Arc::new(StubKind)]);
    // The channels link in parallel, in any order.
    session
        .wait_for("the third channel to link", {
            let linked = std::sync::Mutex::new(std::collections::HashSet::new());
            move |e| match e {
                SessionEvent::ChannelLinked(ch) => {
                    let mut linked = linked.lock().unwrap();
                    linked.insert(*ch);
                    [PLAYBACK, PLAYBACK_2, WEBDAV].iter().all(|c| linked.contains(c))
                }
                _ => false,
            }
        })
        .await;
    let seen = server
        .wait("the stub's answers on both playback channels", |st| {
            let of = |ch: ChannelId| st.other_messages.iter().filter(|(c, _, _)| *c == ch).cloned().collect::<Vec<_>>();
            let (a, b) = (of(PLAYBACK), of(PLAYBACK_2));
            let done = |v: &[(ChannelId, u16, Vec<u8>)]| v.iter().any(|(_, t, _)| *t == STUB_REPLY);
            (done(&a) && done(&b)).then_some(a)
        })
        .await;
    let types: Vec<u16> = seen.iter().map(|(_, t, _)| *t).collect();
    assert_eq!(types, vec![msgc::ACK_SYNC, msgc::PONG, STUB_REPLY], "the driver answered SET_ACK and PING first");
    assert_eq!(seen[2].2, b"hello");
    assert!(!session.saw(|e| *e == SessionEvent::ChannelNotHandled(PLAYBACK)));
    let links = server.state().links_of(ChannelType::Playback).len();
    assert_eq!(links, 2, "each playback channel linked once");
    server.assert_no_problems();
    session.disconnect().await;
}

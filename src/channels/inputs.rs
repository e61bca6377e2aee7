//! The inputs channel: the front end's keys, pointer moves and buttons, sent in the order they came, on the
//! shared driver.
//!
//! Two halves: the read loop (the shared driver) takes INIT, KEY_MODIFIERS (the guest's lock LEDs) and
//! MOUSE_MOTION_ACK; a sender task takes [`InputEvent`]s from [`InputsShared`] and writes them on the data lane,
//! with moves held back by the [`MotionGate`] while the server has not acknowledged. Every held key and button is
//! tracked by physical key, so a release always pairs with its press, and all of them are released on
//! [`InputEvent::ReleaseAll`] and when the channel ends.

use super::driver::{drive, ChannelEnd, MessageHandler};
use super::io::{Outgoing, RawMessage, WriterHandle};
use crate::input::keymap::{PcKey, Stroke, PAUSE_SEQUENCE};
use crate::input::motion::{Motion, MotionGate};
use crate::protocol::base::Notify;
use crate::protocol::inputs::{
    encode_key_down, encode_key_modifiers, encode_key_scancode, encode_key_up, encode_mouse_motion,
    encode_mouse_position, encode_mouse_press, encode_mouse_release, parse_inputs, Button, InputsMessage,
    INPUTS_CAP_KEY_SCANCODE,
};
use crate::session::inputs::{InputEvent, InputsShared, INPUT_QUEUE};
use crate::session::LinkedChannel;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify as Wake};

/// Largest inputs message (they are a few bytes).
pub const MAX_INPUTS_MESSAGE: u32 = 4096;

/// Runs a linked inputs channel until it ends.
pub async fn run_inputs(linked: LinkedChannel, shared: Arc<InputsShared>) -> ChannelEnd {
    let LinkedChannel { mut reader, writer, info } = linked;
    let scancode_cap = info.server_channel.has(INPUTS_CAP_KEY_SCANCODE);
    let (tx, rx) = mpsc::channel(INPUT_QUEUE);
    shared.attach(Some(tx));
    shared.update(|s| {
        s.linked = true;
        s.scancode_cap = scancode_cap;
    });
    let acks = Arc::new(Acks::default());
    let mut sender = Sender::new(writer.clone(), shared.clone(), scancode_cap);
    let send_task = {
        let acks = acks.clone();
        tokio::spawn(async move {
            sender.run(rx, &acks).await;
            sender
        })
    };
    let mut handler = InputsHandler { shared: shared.clone(), acks };
    let end = drive(&mut reader, &writer, &mut handler).await;
    shared.attach(None);
    shared.update(|s| s.linked = false);
    // The socket is gone, so nothing queued can reach the server: it releases the keys a leaving client held.
    send_task.abort();
    end
}

/// Acknowledgements the read loop has seen and the sender has not yet handled.
#[derive(Default)]
struct Acks {
    count: AtomicU32,
    wake: Wake,
}

struct InputsHandler {
    shared: Arc<InputsShared>,
    acks: Arc<Acks>,
}

impl MessageHandler for InputsHandler {
    async fn on_message(&mut self, msg: RawMessage, _replies: &mut Vec<Outgoing>) -> Option<ChannelEnd> {
        match parse_inputs(msg.msg_type, &msg.body) {
            Ok(Some(InputsMessage::Init { locks } | InputsMessage::KeyModifiers { locks })) => {
                self.shared.update(|s| s.guest_locks = locks)
            }
            Ok(Some(InputsMessage::MotionAck)) => {
                self.acks.count.fetch_add(1, Ordering::Relaxed);
                self.acks.wake.notify_one();
            }
            Ok(None) => tracing::debug!("inputs: message type {} ignored", msg.msg_type),
            Err(e) => return Some(ChannelEnd::Failed(format!("malformed inputs message {}: {e}", msg.msg_type))),
        }
        None
    }

    async fn on_notice(&mut self, _notice: Notify) -> Option<ChannelEnd> {
        None
    }
}

/// Turns events into messages, in order.
struct Sender {
    writer: WriterHandle,
    shared: Arc<InputsShared>,
    scancode_cap: bool,
    gate: MotionGate,
    keys: BTreeSet<PcKey>,
    buttons: u16,
}

impl Sender {
    fn new(writer: WriterHandle, shared: Arc<InputsShared>, scancode_cap: bool) -> Self {
        Sender { writer, shared, scancode_cap, gate: MotionGate::default(), keys: BTreeSet::new(), buttons: 0 }
    }

    async fn run(&mut self, mut rx: mpsc::Receiver<InputEvent>, acks: &Acks) {
        loop {
            tokio::select! {
                biased;
                _ = acks.wake.notified() => {
                    for _ in 0..acks.count.swap(0, Ordering::Relaxed) {
                        if let Some(m) = self.gate.ack() {
                            if !self.motion(m).await {
                                return;
                            }
                        }
                    }
                }
                ev = rx.recv() => {
                    let Some(ev) = ev else { return };
                    if !self.event(ev).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends what `ev` means; `false` when the writer has stopped.
    async fn event(&mut self, ev: InputEvent) -> bool {
        match ev {
            InputEvent::Key(Stroke::Press(key)) => {
                self.keys.insert(key);
                self.key(key, true).await
            }
            InputEvent::Key(Stroke::Release(key)) => !self.keys.remove(&key) || self.key(key, false).await,
            InputEvent::Move(m) => match self.gate.push(m) {
                Some(m) => self.motion(m).await,
                None => {
                    self.shared.update(|s| s.motions_coalesced = self.gate.coalesced);
                    true
                }
            },
            InputEvent::Button { button, pressed } => self.button(button, pressed).await,
            InputEvent::Locks(flags) => self.send(encode_key_modifiers(flags)).await,
            InputEvent::ReleaseAll => {
                for key in std::mem::take(&mut self.keys) {
                    if !self.key(key, false).await {
                        return false;
                    }
                }
                for button in Button::ALL {
                    if self.buttons & button.mask() != 0 && !self.button(button, false).await {
                        return false;
                    }
                }
                true
            }
        }
    }

    async fn key(&mut self, key: PcKey, down: bool) -> bool {
        let msg = match (key, down) {
            // Pause has no break code: its whole sequence goes out on the press.
            (PcKey::Pause, false) => return true,
            (PcKey::Pause, true) if self.scancode_cap => encode_key_scancode(&PAUSE_SEQUENCE),
            (PcKey::Pause, true) => {
                let (press, release) = PAUSE_SEQUENCE.split_at(3);
                if !self.send(encode_key_down(press)).await {
                    return false;
                }
                encode_key_down(release)
            }
            (_, true) => encode_key_down(key.make()),
            (_, false) => encode_key_up(key.make()),
        };
        if key == PcKey::Pause {
            self.keys.remove(&key);
        }
        self.shared.update(|s| s.keys_sent += 1);
        self.send(msg).await
    }

    async fn button(&mut self, button: Button, pressed: bool) -> bool {
        if let Some(m) = self.gate.before_button() {
            if !self.motion(m).await {
                return false;
            }
        }
        let held = self.buttons & button.mask() != 0;
        if pressed == held {
            // A second press without a release (or a release of a button not held) carries no news.
            return true;
        }
        self.buttons ^= button.mask();
        self.shared.update(|s| s.buttons_sent += 1);
        let msg =
            if pressed { encode_mouse_press(button, self.buttons) } else { encode_mouse_release(button, self.buttons) };
        self.send(msg).await
    }

    async fn motion(&mut self, m: Motion) -> bool {
        self.shared.update(|s| {
            s.motions_sent += 1;
            s.motions_coalesced = self.gate.coalesced;
        });
        let msg = match m {
            Motion::Relative { dx, dy } => encode_mouse_motion(dx, dy, self.buttons),
            Motion::Absolute { x, y, display } => encode_mouse_position(x, y, self.buttons, display),
        };
        self.send(msg).await
    }

    async fn send(&self, pair: (u16, Vec<u8>)) -> bool {
        self.writer.data.send(Outgoing::from_pair(pair)).await.is_ok()
    }
}

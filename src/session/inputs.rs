//! Keyboard and mouse in the session: the inputs channel's [`ChannelKind`] and [`InputsShared`], through which any
//! front end sends input and reads the input state (mouse mode, the guest's lock LEDs, what was sent).

use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use crate::channels::inputs::{run_inputs, MAX_INPUTS_MESSAGE};
use crate::input::keymap::Stroke;
use crate::input::motion::Motion;
use crate::protocol::caps::Caps;
use crate::protocol::constants::ChannelType;
use crate::protocol::inputs::Button;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::mpsc;

/// Input events queued for the inputs channel before `send` refuses more (the channel drains them as fast as the
/// socket takes them; moves are merged there, see [`crate::input::motion`]).
pub const INPUT_QUEUE: usize = 4096;

/// Mouse mode: the server moves the pointer from relative motion (1).
pub const MOUSE_MODE_SERVER: u16 = 1;
/// Mouse mode: the client sends absolute positions (2).
pub const MOUSE_MODE_CLIENT: u16 = 2;

/// One input event from a front end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputEvent {
    /// A key goes down or up.
    Key(Stroke),
    /// The pointer moves.
    Move(Motion),
    /// A button goes down (`pressed`) or up.
    Button {
        /// The button.
        button: Button,
        /// Down or up.
        pressed: bool,
    },
    /// Sets the guest's lock keys to these flags (KEY_MODIFIERS).
    Locks(u16),
    /// Releases every key and button held (the window lost focus).
    ReleaseAll,
}

/// The input state front ends show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputsState {
    /// Whether the inputs channel is linked.
    pub linked: bool,
    /// Whether the server takes KEY_SCANCODE.
    pub scancode_cap: bool,
    /// The guest's lock LEDs (`protocol::inputs::locks`), as the server last said.
    pub guest_locks: u16,
    /// Mouse modes the server supports (a mask of 1 and 2).
    pub supported_mouse_modes: u16,
    /// The current mouse mode (0 before the main channel said).
    pub mouse_mode: u16,
    /// Key strokes sent.
    pub keys_sent: u64,
    /// Motion or position messages sent.
    pub motions_sent: u64,
    /// Moves merged into others while the server had not acknowledged.
    pub motions_coalesced: u64,
    /// Button events sent.
    pub buttons_sent: u64,
    /// Events refused because the queue was full or no inputs channel ran.
    pub refused: u64,
}

/// The inputs channel's queue and state, shared by the session and its front ends.
#[derive(Debug, Default)]
pub struct InputsShared {
    queue: Mutex<Option<mpsc::Sender<InputEvent>>>,
    state: Mutex<InputsState>,
}

impl InputsShared {
    /// Sends an event to the inputs channel; `false` (and counted) when no inputs channel runs or it is full.
    pub fn send(&self, ev: InputEvent) -> bool {
        let sent =
            self.queue.lock().unwrap_or_else(|e| e.into_inner()).as_ref().is_some_and(|q| q.try_send(ev).is_ok());
        if !sent {
            self.update(|s| s.refused += 1);
        }
        sent
    }

    /// The input state.
    pub fn state(&self) -> InputsState {
        *self.lock_state()
    }

    /// Whether positions are absolute (client mouse mode).
    pub fn client_mouse(&self) -> bool {
        self.state().mouse_mode == MOUSE_MODE_CLIENT
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut InputsState)) {
        change(&mut self.lock_state());
    }

    pub(crate) fn attach(&self, queue: Option<mpsc::Sender<InputEvent>>) {
        *self.queue.lock().unwrap_or_else(|e| e.into_inner()) = queue;
    }

    fn lock_state(&self) -> MutexGuard<'_, InputsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The inputs channel (type 3): one per session.
pub(crate) struct InputsKind {
    shared: Arc<InputsShared>,
}

impl InputsKind {
    pub(crate) fn new(shared: Arc<InputsShared>) -> Self {
        InputsKind { shared }
    }
}

impl ChannelKind for InputsKind {
    fn channel_type(&self) -> ChannelType {
        ChannelType::Inputs
    }

    fn caps(&self) -> Caps {
        Caps::default()
    }

    fn max_message(&self) -> u32 {
        MAX_INPUTS_MESSAGE
    }

    fn single(&self) -> bool {
        true
    }

    fn data_queue(&self) -> usize {
        256
    }

    fn run(&self, linked: LinkedChannel, _ctx: ChannelContext) -> ChannelFuture {
        Box::pin(run_inputs(linked, self.shared.clone()))
    }
}

//! Inputs-channel messages (spice.proto `channel InputsChannel`): keys, lock modifiers and the mouse.
//!
//! Client messages are built by the `encode_*` functions as `(type, body)` pairs; the server's three messages are
//! read by [`parse_inputs`].

use super::wire::{PutLe, Reader};
use super::Result;

/// Client message numbers.
pub mod msgc {
    /// KEY_DOWN {u32 scancode bytes, low byte first}.
    pub const KEY_DOWN: u16 = 101;
    /// KEY_UP.
    pub const KEY_UP: u16 = 102;
    /// KEY_MODIFIERS {u16 lock flags}.
    pub const KEY_MODIFIERS: u16 = 103;
    /// KEY_SCANCODE {raw scancode bytes}.
    pub const KEY_SCANCODE: u16 = 104;
    /// MOUSE_MOTION {i32 dx, i32 dy, u16 buttons}.
    pub const MOUSE_MOTION: u16 = 111;
    /// MOUSE_POSITION {u32 x, u32 y, u16 buttons, u8 display}.
    pub const MOUSE_POSITION: u16 = 112;
    /// MOUSE_PRESS {u8 button, u16 buttons}.
    pub const MOUSE_PRESS: u16 = 113;
    /// MOUSE_RELEASE {u8 button, u16 buttons}.
    pub const MOUSE_RELEASE: u16 = 114;
}

/// Server message numbers.
pub mod msg {
    /// INIT {u16 lock flags}.
    pub const INIT: u16 = 101;
    /// KEY_MODIFIERS {u16 lock flags}.
    pub const KEY_MODIFIERS: u16 = 102;
    /// MOUSE_MOTION_ACK (empty): the server has handled [`super::MOTION_ACK_BUNCH`] motion messages.
    pub const MOUSE_MOTION_ACK: u16 = 111;
}

/// Inputs capability (server): KEY_SCANCODE is understood.
pub const INPUTS_CAP_KEY_SCANCODE: u32 = 0;
/// The server acknowledges every this many motion or position messages.
pub const MOTION_ACK_BUNCH: u32 = 4;

/// Lock-key state flags (KEY_MODIFIERS, INIT).
pub mod locks {
    /// Scroll Lock.
    pub const SCROLL: u16 = 1;
    /// Num Lock.
    pub const NUM: u16 = 2;
    /// Caps Lock.
    pub const CAPS: u16 = 4;
}

/// A mouse button, as the wire numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Button {
    /// 1.
    Left,
    /// 2.
    Middle,
    /// 3.
    Right,
    /// 4: one wheel notch up.
    WheelUp,
    /// 5: one wheel notch down.
    WheelDown,
    /// 6: the back side button.
    Side,
    /// 7: the forward side button.
    Extra,
}

impl Button {
    /// Every button.
    pub const ALL: [Button; 7] =
        [Button::Left, Button::Middle, Button::Right, Button::WheelUp, Button::WheelDown, Button::Side, Button::Extra];

    /// The wire number.
    pub fn number(self) -> u8 {
        match self {
            Button::Left => 1,
            Button::Middle => 2,
            Button::Right => 3,
            Button::WheelUp => 4,
            Button::WheelDown => 5,
            Button::Side => 6,
            Button::Extra => 7,
        }
    }

    /// The button's bit in a buttons state.
    pub fn mask(self) -> u16 {
        1 << (self.number() - 1)
    }

    /// The button with this name (`left`, `middle`, `right`, `up`, `down`, `side`, `extra`).
    pub fn from_name(name: &str) -> Option<Button> {
        Some(match name {
            "left" => Button::Left,
            "middle" => Button::Middle,
            "right" => Button::Right,
            "up" | "wheel-up" => Button::WheelUp,
            "down" | "wheel-down" => Button::WheelDown,
            "side" | "back" => Button::Side,
            "extra" | "forward" => Button::Extra,
            _ => return None,
        })
    }
}

/// A scancode sequence in KEY_DOWN/KEY_UP's u32: up to 4 bytes, low byte first, ending at the first zero byte.
pub fn pack_scancode(bytes: &[u8]) -> u32 {
    bytes.iter().take(4).rev().fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

/// KEY_DOWN of a set-1 sequence (`[0x1e]`, `[0xe0, 0x48]`).
pub fn encode_key_down(code: &[u8]) -> (u16, Vec<u8>) {
    (msgc::KEY_DOWN, pack_scancode(code).to_le_bytes().to_vec())
}

/// KEY_UP of a set-1 sequence given as its make code (the break bit is added here).
pub fn encode_key_up(code: &[u8]) -> (u16, Vec<u8>) {
    (msgc::KEY_UP, pack_scancode(&break_code(code)).to_le_bytes().to_vec())
}

/// The break code of a make sequence: the last byte with bit 7 set (`E0 48` → `E0 C8`).
pub fn break_code(make: &[u8]) -> Vec<u8> {
    let mut out = make.to_vec();
    if let Some(last) = out.last_mut() {
        *last |= 0x80;
    }
    out
}

/// KEY_SCANCODE with raw bytes (an atomic press and release, or Pause's E1 sequence).
pub fn encode_key_scancode(bytes: &[u8]) -> (u16, Vec<u8>) {
    (msgc::KEY_SCANCODE, bytes.to_vec())
}

/// KEY_MODIFIERS with the lock flags the client's keyboard has.
pub fn encode_key_modifiers(flags: u16) -> (u16, Vec<u8>) {
    (msgc::KEY_MODIFIERS, flags.to_le_bytes().to_vec())
}

/// MOUSE_MOTION: a relative move (server mouse mode).
pub fn encode_mouse_motion(dx: i32, dy: i32, buttons: u16) -> (u16, Vec<u8>) {
    let mut b = Vec::with_capacity(10);
    b.put_u32_le(dx as u32);
    b.put_u32_le(dy as u32);
    b.put_u16_le(buttons);
    (msgc::MOUSE_MOTION, b)
}

/// MOUSE_POSITION: an absolute position in the display's surface pixels (client mouse mode).
pub fn encode_mouse_position(x: u32, y: u32, buttons: u16, display: u8) -> (u16, Vec<u8>) {
    let mut b = Vec::with_capacity(11);
    b.put_u32_le(x);
    b.put_u32_le(y);
    b.put_u16_le(buttons);
    b.push(display);
    (msgc::MOUSE_POSITION, b)
}

/// MOUSE_PRESS; `buttons` is the state after the press.
pub fn encode_mouse_press(button: Button, buttons: u16) -> (u16, Vec<u8>) {
    let mut b = vec![button.number()];
    b.put_u16_le(buttons);
    (msgc::MOUSE_PRESS, b)
}

/// MOUSE_RELEASE; `buttons` is the state after the release.
pub fn encode_mouse_release(button: Button, buttons: u16) -> (u16, Vec<u8>) {
    let mut b = vec![button.number()];
    b.put_u16_le(buttons);
    (msgc::MOUSE_RELEASE, b)
}

/// A server inputs message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputsMessage {
    /// INIT: the guest's lock-key state.
    Init {
        /// Lock flags.
        locks: u16,
    },
    /// KEY_MODIFIERS: the guest's lock LEDs changed.
    KeyModifiers {
        /// Lock flags.
        locks: u16,
    },
    /// MOUSE_MOTION_ACK.
    MotionAck,
}

/// Parses a server inputs message; `None` for a type this client does not know.
pub fn parse_inputs(msg_type: u16, body: &[u8]) -> Result<Option<InputsMessage>> {
    let mut r = Reader::new(body, "inputs message");
    Ok(Some(match msg_type {
        msg::INIT => InputsMessage::Init { locks: r.u16()? },
        msg::KEY_MODIFIERS => InputsMessage::KeyModifiers { locks: r.u16()? },
        msg::MOUSE_MOTION_ACK => InputsMessage::MotionAck,
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_pack_low_byte_first_and_break_sets_bit_7_of_the_last_byte() {
        assert_eq!(encode_key_down(&[0x1e]), (101, vec![0x1e, 0, 0, 0]));
        assert_eq!(encode_key_up(&[0x1e]), (102, vec![0x9e, 0, 0, 0]));
        assert_eq!(encode_key_down(&[0xe0, 0x48]), (101, vec![0xe0, 0x48, 0, 0]));
        assert_eq!(encode_key_up(&[0xe0, 0x48]), (102, vec![0xe0, 0xc8, 0, 0]));
        assert_eq!(pack_scancode(&[0xe0, 0x48]), 0x48e0);
    }

    #[test]
    fn mouse_messages_have_their_wire_layout() {
        assert_eq!(encode_mouse_motion(-1, 2, 1).1, vec![0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 1, 0]);
        assert_eq!(encode_mouse_position(640, 2, 4, 1).1, vec![128, 2, 0, 0, 2, 0, 0, 0, 4, 0, 1]);
        assert_eq!(encode_mouse_press(Button::Right, 4), (113, vec![3, 4, 0]));
        assert_eq!(encode_mouse_release(Button::WheelDown, 0), (114, vec![5, 0, 0]));
        assert_eq!(Button::ALL.map(|b| b.mask()), [1, 2, 4, 8, 16, 32, 64]);
    }

    #[test]
    fn server_messages_parse_and_short_ones_are_refused() {
        assert_eq!(parse_inputs(101, &[6, 0]).unwrap(), Some(InputsMessage::Init { locks: 6 }));
        assert_eq!(parse_inputs(102, &[1, 0]).unwrap(), Some(InputsMessage::KeyModifiers { locks: 1 }));
        assert_eq!(parse_inputs(111, &[]).unwrap(), Some(InputsMessage::MotionAck));
        assert_eq!(parse_inputs(150, &[]).unwrap(), None);
        assert!(parse_inputs(101, &[6]).is_err());
    }
}

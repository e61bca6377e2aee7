//! The window's keys: egui's physical keys and modifier changes as [`PcKey`] strokes.
//!
//! egui reports no events for the modifier keys themselves, only `Modifiers` on every event, so a change of Shift,
//! Ctrl or Alt between events becomes a press or release of the left one. egui has no numpad, lock, Pause or
//! PrintScreen keys; those come from the "Send key" menu. The keypad's digits, Enter, `-` and `/` arrive as the
//! main-block keys (egui-winit folds them together); keypad `+` is the one keypad key egui keeps apart.

use crate::input::keymap::{PcKey, Stroke};
use eframe::egui::{Key, Modifiers};

/// The PC key of an egui physical key.
pub fn pc_key(key: Key) -> Option<PcKey> {
    use PcKey as P;
    Some(match key {
        Key::ArrowDown => P::ArrowDown,
        Key::ArrowLeft => P::ArrowLeft,
        Key::ArrowRight => P::ArrowRight,
        Key::ArrowUp => P::ArrowUp,
        Key::Escape => P::Escape,
        Key::Tab => P::Tab,
        Key::Backspace => P::Backspace,
        Key::Enter => P::Enter,
        Key::Space => P::Space,
        Key::Insert => P::Insert,
        Key::Delete => P::Delete,
        Key::Home => P::Home,
        Key::End => P::End,
        Key::PageUp => P::PageUp,
        Key::PageDown => P::PageDown,
        Key::Comma => P::Comma,
        Key::Backslash | Key::Pipe => P::Backslash,
        Key::Slash | Key::Questionmark => P::Slash,
        Key::OpenBracket | Key::OpenCurlyBracket => P::BracketLeft,
        Key::CloseBracket | Key::CloseCurlyBracket => P::BracketRight,
        Key::Backtick => P::Backquote,
        Key::Minus => P::Minus,
        Key::Period => P::Period,
        // winit reports the keypad's keys as their main-block twins, except NumpadAdd, which alone becomes Plus.
        Key::Plus => P::NumpadAdd,
        Key::Equals => P::Equal,
        Key::Semicolon | Key::Colon => P::Semicolon,
        Key::Quote => P::Quote,
        Key::Num0 => P::Digit0,
        Key::Num1 | Key::Exclamationmark => P::Digit1,
        Key::Num2 => P::Digit2,
        Key::Num3 => P::Digit3,
        Key::Num4 => P::Digit4,
        Key::Num5 => P::Digit5,
        Key::Num6 => P::Digit6,
        Key::Num7 => P::Digit7,
        Key::Num8 => P::Digit8,
        Key::Num9 => P::Digit9,
        Key::F1 => P::F1,
        Key::F2 => P::F2,
        Key::F3 => P::F3,
        Key::F4 => P::F4,
        Key::F5 => P::F5,
        Key::F6 => P::F6,
        Key::F7 => P::F7,
        Key::F8 => P::F8,
        Key::F9 => P::F9,
        Key::F10 => P::F10,
        Key::F11 => P::F11,
        Key::F12 => P::F12,
        other => return letter(other),
    })
}

fn letter(key: Key) -> Option<PcKey> {
    let name = key.name();
    (name.len() == 1 && name.chars().all(|c| c.is_ascii_alphabetic())).then(|| PcKey::from_name(name)).flatten()
}

/// Presses and releases of Shift, Ctrl and Alt between two modifier states.
pub fn modifier_strokes(before: Modifiers, after: Modifiers) -> Vec<Stroke> {
    let mut out = Vec::new();
    for (was, is, key) in [
        (before.shift, after.shift, PcKey::ShiftLeft),
        (before.ctrl, after.ctrl, PcKey::ControlLeft),
        (before.alt, after.alt, PcKey::AltLeft),
    ] {
        match (was, is) {
            (false, true) => out.push(Stroke::Press(key)),
            (true, false) => out.push(Stroke::Release(key)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_egui_key_with_a_pc_key_maps_to_one() {
        let letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        for c in letters.chars() {
            let key = Key::from_name(&c.to_string()).unwrap();
            assert_eq!(pc_key(key), PcKey::from_name(&c.to_ascii_lowercase().to_string()), "{c}");
        }
        assert_eq!(pc_key(Key::ArrowUp), Some(PcKey::ArrowUp));
        assert_eq!(pc_key(Key::F12), Some(PcKey::F12));
        assert_eq!(pc_key(Key::Colon), Some(PcKey::Semicolon), "the physical key, whatever Shift makes of it");
        assert_eq!(pc_key(Key::Num0), Some(PcKey::Digit0));
        assert_eq!(pc_key(Key::Copy), None);
        // Every key egui can report either maps or is one of the application keys.
        for key in Key::ALL {
            if pc_key(*key).is_none() {
                assert!(
                    matches!(key, Key::Copy | Key::Cut | Key::Paste | Key::BrowserBack) || key.name().starts_with('F'),
                    "{key:?} has no PC key"
                );
            }
        }
    }

    #[test]
    fn modifier_changes_become_left_modifier_strokes() {
        let none = Modifiers::NONE;
        let ctrl_alt = Modifiers { ctrl: true, alt: true, ..Modifiers::NONE };
        assert_eq!(
            modifier_strokes(none, ctrl_alt),
            vec![Stroke::Press(PcKey::ControlLeft), Stroke::Press(PcKey::AltLeft)]
        );
        assert_eq!(
            modifier_strokes(ctrl_alt, Modifiers::SHIFT),
            vec![Stroke::Press(PcKey::ShiftLeft), Stroke::Release(PcKey::ControlLeft), Stroke::Release(PcKey::AltLeft)]
        );
    }
}

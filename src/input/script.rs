//! Scripted input for headless runs: `--type TEXT`, `--send-keys COMBO` and `--click X,Y[,BUTTON]`, in the order
//! they were given.

use super::keymap::{parse_combo, type_text, Stroke};
use crate::protocol::inputs::Button;

/// One scripted step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputAction {
    /// Key strokes (typed text or a combination).
    Keys {
        /// What the user wrote, for the log.
        label: String,
        /// The strokes, in order.
        strokes: Vec<Stroke>,
    },
    /// A click at a surface pixel of display 0.
    Click {
        /// Column.
        x: u32,
        /// Row.
        y: u32,
        /// The button (left by default).
        button: Button,
    },
}

impl InputAction {
    /// `--type TEXT`.
    pub fn typed(text: &str) -> Result<InputAction, String> {
        Ok(InputAction::Keys { label: format!("type {text:?}"), strokes: type_text(text)? })
    }

    /// `--send-keys COMBO`.
    pub fn combo(combo: &str) -> Result<InputAction, String> {
        Ok(InputAction::Keys { label: format!("keys {combo}"), strokes: parse_combo(combo)? })
    }

    /// `--click X,Y[,BUTTON]`.
    pub fn click(spec: &str) -> Result<InputAction, String> {
        let bad =
            || format!("--click {spec:?}: expected X,Y or X,Y,BUTTON (left, middle, right, up, down, side, extra)");
        let mut parts = spec.split(',').map(str::trim);
        let x = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let y = parts.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
        let button = match parts.next() {
            None => Button::Left,
            Some(name) => Button::from_name(&name.to_ascii_lowercase()).ok_or_else(bad)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(InputAction::Click { x, y, button })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clicks_parse_with_an_optional_button() {
        assert_eq!(InputAction::click("10, 20").unwrap(), InputAction::Click { x: 10, y: 20, button: Button::Left });
        assert_eq!(InputAction::click("1,2,Right").unwrap(), InputAction::Click { x: 1, y: 2, button: Button::Right });
        for bad in ["", "1", "1,x", "-1,2", "1,2,thumb", "1,2,left,4"] {
            assert!(InputAction::click(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_text_and_combos_become_strokes() {
        let InputAction::Keys { strokes, .. } = InputAction::typed("aB").unwrap() else { panic!() };
        assert_eq!(strokes.len(), 6);
        assert!(InputAction::combo("ctrl+alt+f2").is_ok());
        assert!(InputAction::combo("hyper+x").is_err());
    }
}

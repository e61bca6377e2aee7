//! The one key table: every key of a 105-key PC keyboard with its PC/AT scan code set 1 make code and its name.
//!
//! The window maps its key events to [`PcKey`]s (`app/keys.rs`), `--send-keys` parses names with
//! [`parse_combo`], and `--type` turns text into strokes of a US keyboard with [`type_text`]. Break codes are the
//! make code with bit 7 of the last byte set ([`crate::protocol::inputs::break_code`]); Pause has no break code and
//! is sent whole.

/// Pause's whole sequence, press and release: it is the one key that has no break code of its own.
pub const PAUSE_SEQUENCE: [u8; 6] = [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5];

macro_rules! keys {
    ($($key:ident $name:literal $($alias:literal)* => [$($code:literal),+];)+) => {
        /// A physical key of a PC keyboard.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum PcKey { $(
            #[doc = $name]
            $key,
        )+ }

        /// Every key, its name, its other names and its make code.
        pub const KEYS: &[(PcKey, &str, &[&str], &[u8])] = &[$((PcKey::$key, $name, &[$($alias),*], &[$($code),+]),)+];
    };
}

keys! {
    Escape "esc" "escape" => [0x01];
    Digit1 "1" => [0x02]; Digit2 "2" => [0x03]; Digit3 "3" => [0x04]; Digit4 "4" => [0x05]; Digit5 "5" => [0x06];
    Digit6 "6" => [0x07]; Digit7 "7" => [0x08]; Digit8 "8" => [0x09]; Digit9 "9" => [0x0a]; Digit0 "0" => [0x0b];
    Minus "minus" "-" => [0x0c]; Equal "equal" "=" => [0x0d]; Backspace "backspace" => [0x0e]; Tab "tab" => [0x0f];
    Q "q" => [0x10]; W "w" => [0x11]; E "e" => [0x12]; R "r" => [0x13]; T "t" => [0x14]; Y "y" => [0x15];
    U "u" => [0x16]; I "i" => [0x17]; O "o" => [0x18]; P "p" => [0x19];
    BracketLeft "bracketleft" "[" => [0x1a]; BracketRight "bracketright" "]" => [0x1b];
    Enter "enter" "return" => [0x1c]; ControlLeft "ctrl" "control" "lctrl" => [0x1d];
    A "a" => [0x1e]; S "s" => [0x1f]; D "d" => [0x20]; F "f" => [0x21]; G "g" => [0x22]; H "h" => [0x23];
    J "j" => [0x24]; K "k" => [0x25]; L "l" => [0x26];
    Semicolon "semicolon" ";" => [0x27]; Quote "apostrophe" "'" => [0x28]; Backquote "grave" "`" => [0x29];
    ShiftLeft "shift" "lshift" => [0x2a]; Backslash "backslash" "\\" => [0x2b];
    Z "z" => [0x2c]; X "x" => [0x2d]; C "c" => [0x2e]; V "v" => [0x2f]; B "b" => [0x30]; N "n" => [0x31];
    M "m" => [0x32]; Comma "comma" "," => [0x33]; Period "period" "." => [0x34]; Slash "slash" "/" => [0x35];
    ShiftRight "rshift" => [0x36]; NumpadMultiply "kp_multiply" "kp*" => [0x37]; AltLeft "alt" "lalt" => [0x38];
    Space "space" => [0x39]; CapsLock "capslock" "caps_lock" => [0x3a];
    F1 "f1" => [0x3b]; F2 "f2" => [0x3c]; F3 "f3" => [0x3d]; F4 "f4" => [0x3e]; F5 "f5" => [0x3f];
    F6 "f6" => [0x40]; F7 "f7" => [0x41]; F8 "f8" => [0x42]; F9 "f9" => [0x43]; F10 "f10" => [0x44];
    NumLock "numlock" "num_lock" => [0x45]; ScrollLock "scrolllock" "scroll_lock" => [0x46];
    Numpad7 "kp_7" "kp7" => [0x47]; Numpad8 "kp_8" "kp8" => [0x48]; Numpad9 "kp_9" "kp9" => [0x49];
    NumpadSubtract "kp_subtract" "kp-" => [0x4a];
    Numpad4 "kp_4" "kp4" => [0x4b]; Numpad5 "kp_5" "kp5" => [0x4c]; Numpad6 "kp_6" "kp6" => [0x4d];
    NumpadAdd "kp_add" "kp+" => [0x4e];
    Numpad1 "kp_1" "kp1" => [0x4f]; Numpad2 "kp_2" "kp2" => [0x50]; Numpad3 "kp_3" "kp3" => [0x51];
    Numpad0 "kp_0" "kp0" => [0x52]; NumpadDecimal "kp_decimal" "kp." => [0x53];
    IntlBackslash "less" "102nd" => [0x56]; F11 "f11" => [0x57]; F12 "f12" => [0x58];
    NumpadEnter "kp_enter" => [0xe0, 0x1c]; ControlRight "rctrl" => [0xe0, 0x1d];
    NumpadDivide "kp_divide" "kp/" => [0xe0, 0x35]; PrintScreen "print" "printscreen" "sysrq" => [0xe0, 0x37];
    AltRight "ralt" "altgr" => [0xe0, 0x38]; Pause "pause" "break" => [0xe1, 0x1d, 0x45];
    Home "home" => [0xe0, 0x47]; ArrowUp "up" => [0xe0, 0x48]; PageUp "pgup" "page_up" => [0xe0, 0x49];
    ArrowLeft "left" => [0xe0, 0x4b]; ArrowRight "right" => [0xe0, 0x4d]; End "end" => [0xe0, 0x4f];
    ArrowDown "down" => [0xe0, 0x50]; PageDown "pgdn" "page_down" => [0xe0, 0x51];
    Insert "insert" "ins" => [0xe0, 0x52]; Delete "delete" "del" => [0xe0, 0x53];
    MetaLeft "super" "lsuper" "win" "meta" => [0xe0, 0x5b]; MetaRight "rsuper" "rwin" => [0xe0, 0x5c];
    ContextMenu "menu" => [0xe0, 0x5d];
}

impl PcKey {
    /// The key's make code.
    pub fn make(self) -> &'static [u8] {
        KEYS.iter().find(|(k, ..)| *k == self).map_or(&[], |(_, _, _, code)| code)
    }

    /// The key's name, as `--send-keys` takes it.
    pub fn name(self) -> &'static str {
        KEYS.iter().find(|(k, ..)| *k == self).map_or("", |(_, name, ..)| name)
    }

    /// The key with this name or alias (case does not matter).
    pub fn from_name(name: &str) -> Option<PcKey> {
        let name = name.to_ascii_lowercase();
        KEYS.iter().find(|(_, n, aliases, _)| *n == name || aliases.contains(&name.as_str())).map(|(k, ..)| *k)
    }

    /// Whether the key is a modifier (held while others are pressed in a combination).
    pub fn is_modifier(self) -> bool {
        use PcKey::*;
        matches!(self, ShiftLeft | ShiftRight | ControlLeft | ControlRight | AltLeft | AltRight | MetaLeft | MetaRight)
    }
}

/// A key going down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    /// The key is pressed.
    Press(PcKey),
    /// The key is released.
    Release(PcKey),
}

/// The strokes of a combination such as `ctrl+alt+del`: keys pressed left to right, released right to left.
pub fn parse_combo(combo: &str) -> Result<Vec<Stroke>, String> {
    // Names are joined by '+'; a '+' that ends a name (kp+, ctrl+kp+) belongs to it.
    let mut names: Vec<String> = Vec::new();
    for part in combo.split('+') {
        match (part.trim(), names.last_mut()) {
            ("", Some(last)) if !last.ends_with('+') => last.push('+'),
            (part, _) => names.push(part.to_string()),
        }
    }
    let keys = names
        .iter()
        .map(|part| {
            PcKey::from_name(part).ok_or_else(|| format!("unknown key {part:?} in {combo:?} (see docs/usage.md)"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() || combo.trim().is_empty() {
        return Err("an empty key combination".into());
    }
    let mut out: Vec<Stroke> = keys.iter().map(|k| Stroke::Press(*k)).collect();
    out.extend(keys.iter().rev().map(|k| Stroke::Release(*k)));
    Ok(out)
}

/// The key and Shift state that types `c` on a US keyboard.
pub fn us_key(c: char) -> Option<(PcKey, bool)> {
    use PcKey::*;
    const PLAIN: &[(char, PcKey)] = &[
        ('1', Digit1),
        ('2', Digit2),
        ('3', Digit3),
        ('4', Digit4),
        ('5', Digit5),
        ('6', Digit6),
        ('7', Digit7),
        ('8', Digit8),
        ('9', Digit9),
        ('0', Digit0),
        ('-', Minus),
        ('=', Equal),
        ('[', BracketLeft),
        (']', BracketRight),
        (';', Semicolon),
        ('\'', Quote),
        ('`', Backquote),
        ('\\', Backslash),
        (',', Comma),
        ('.', Period),
        ('/', Slash),
        (' ', Space),
        ('\n', Enter),
        ('\t', Tab),
    ];
    const SHIFTED: &[(char, PcKey)] = &[
        ('!', Digit1),
        ('@', Digit2),
        ('#', Digit3),
        ('$', Digit4),
        ('%', Digit5),
        ('^', Digit6),
        ('&', Digit7),
        ('*', Digit8),
        ('(', Digit9),
        (')', Digit0),
        ('_', Minus),
        ('+', Equal),
        ('{', BracketLeft),
        ('}', BracketRight),
        (':', Semicolon),
        ('"', Quote),
        ('~', Backquote),
        ('|', Backslash),
        ('<', Comma),
        ('>', Period),
        ('?', Slash),
    ];
    if c.is_ascii_alphabetic() {
        let key = PcKey::from_name(&c.to_ascii_lowercase().to_string())?;
        return Some((key, c.is_ascii_uppercase()));
    }
    PLAIN
        .iter()
        .find(|(ch, _)| *ch == c)
        .map(|(_, k)| (*k, false))
        .or_else(|| SHIFTED.iter().find(|(ch, _)| *ch == c).map(|(_, k)| (*k, true)))
}

/// The strokes that type `text` on a US keyboard, or the first character it cannot type.
pub fn type_text(text: &str) -> Result<Vec<Stroke>, String> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for c in text.chars() {
        let (key, shift) = us_key(c).ok_or_else(|| format!("{c:?} cannot be typed on a US keyboard"))?;
        if shift {
            out.push(Stroke::Press(PcKey::ShiftLeft));
        }
        out.extend([Stroke::Press(key), Stroke::Release(key)]);
        if shift {
            out.push(Stroke::Release(PcKey::ShiftLeft));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn the_table_has_every_key_of_a_105_key_keyboard_once() {
        assert_eq!(KEYS.len(), 105);
        let codes: BTreeSet<&[u8]> = KEYS.iter().map(|(.., c)| *c).collect();
        assert_eq!(codes.len(), KEYS.len(), "two keys share a make code");
        let mut names = BTreeSet::new();
        for (key, name, aliases, code) in KEYS {
            assert!(names.insert(*name), "{name} twice");
            for a in *aliases {
                assert!(names.insert(*a), "{a} twice");
            }
            assert_eq!(PcKey::from_name(name), Some(*key));
            assert_eq!(key.make(), *code);
            assert!(code.iter().all(|b| *b != 0));
            let last = code.last().copied().unwrap_or(0);
            assert!(last & 0x80 == 0, "{name}: a make code's last byte has bit 7 clear");
        }
    }

    #[test]
    fn codes_key_by_key() {
        let expect: &[(&str, &[u8])] = &[
            ("esc", &[0x01]),
            ("1", &[0x02]),
            ("0", &[0x0b]),
            ("backspace", &[0x0e]),
            ("tab", &[0x0f]),
            ("q", &[0x10]),
            ("p", &[0x19]),
            ("enter", &[0x1c]),
            ("ctrl", &[0x1d]),
            ("a", &[0x1e]),
            ("l", &[0x26]),
            ("grave", &[0x29]),
            ("shift", &[0x2a]),
            ("backslash", &[0x2b]),
            ("z", &[0x2c]),
            ("m", &[0x32]),
            ("slash", &[0x35]),
            ("rshift", &[0x36]),
            ("kp*", &[0x37]),
            ("alt", &[0x38]),
            ("space", &[0x39]),
            ("capslock", &[0x3a]),
            ("f1", &[0x3b]),
            ("f10", &[0x44]),
            ("numlock", &[0x45]),
            ("kp7", &[0x47]),
            ("kp-", &[0x4a]),
            ("kp5", &[0x4c]),
            ("kp+", &[0x4e]),
            ("kp0", &[0x52]),
            ("kp.", &[0x53]),
            ("less", &[0x56]),
            ("f11", &[0x57]),
            ("f12", &[0x58]),
            ("kp_enter", &[0xe0, 0x1c]),
            ("rctrl", &[0xe0, 0x1d]),
            ("kp/", &[0xe0, 0x35]),
            ("print", &[0xe0, 0x37]),
            ("ralt", &[0xe0, 0x38]),
            ("home", &[0xe0, 0x47]),
            ("up", &[0xe0, 0x48]),
            ("pgup", &[0xe0, 0x49]),
            ("left", &[0xe0, 0x4b]),
            ("right", &[0xe0, 0x4d]),
            ("end", &[0xe0, 0x4f]),
            ("down", &[0xe0, 0x50]),
            ("pgdn", &[0xe0, 0x51]),
            ("insert", &[0xe0, 0x52]),
            ("del", &[0xe0, 0x53]),
            ("super", &[0xe0, 0x5b]),
            ("rsuper", &[0xe0, 0x5c]),
            ("menu", &[0xe0, 0x5d]),
            ("pause", &[0xe1, 0x1d, 0x45]),
        ];
        for (name, code) in expect {
            assert_eq!(PcKey::from_name(name).map(PcKey::make), Some(*code), "{name}");
        }
    }

    #[test]
    fn combos_press_in_order_and_release_in_reverse() {
        use PcKey::*;
        assert_eq!(
            parse_combo("Ctrl+Alt+Del").unwrap(),
            vec![
                Stroke::Press(ControlLeft),
                Stroke::Press(AltLeft),
                Stroke::Press(Delete),
                Stroke::Release(Delete),
                Stroke::Release(AltLeft),
                Stroke::Release(ControlLeft)
            ]
        );
        assert!(parse_combo("ctrl+nokey").unwrap_err().contains("nokey"));
        assert_eq!(parse_combo("kp+").unwrap(), vec![Stroke::Press(NumpadAdd), Stroke::Release(NumpadAdd)]);
        assert_eq!(parse_combo("ctrl+kp+").unwrap().len(), 4);
        assert!(parse_combo("").is_err());
    }

    #[test]
    fn every_printable_ascii_character_types() {
        for c in (0x20u8..0x7f).map(char::from) {
            let strokes = type_text(&c.to_string()).unwrap();
            let (key, shift) = us_key(c).unwrap();
            assert_eq!(strokes.len(), if shift { 4 } else { 2 }, "{c:?}");
            assert!(strokes.contains(&Stroke::Press(key)));
        }
        assert_eq!(us_key('A'), Some((PcKey::A, true)));
        assert_eq!(us_key('|'), Some((PcKey::Backslash, true)));
        assert!(type_text("é").is_err());
    }
}

//! Named shares: several folders served side by side, each as one folder of a read-only virtual root
//! (`/NAME/...`; see [`MultiFs`](super::sharefs::MultiFs)).
//!
//! [`NamedShare`] is the one type the command line (`--share NAME=PATH[:ro]`), the session (its config and the
//! add/remove/read-only commands) and the window use for such a share. A remembered share is the same three facts:
//! a name, a path and a read-only flag; [`NamedShare::new`] builds one from them with the session's protection.

use std::path::PathBuf;

use super::protect::Protection;
use super::server::ShareConfig;

/// Longest share name, in bytes. The name is one path segment of every URL the guest uses.
pub const MAX_SHARE_NAME: usize = 64;
/// Most named shares served at once.
pub const MAX_SHARES: usize = 64;

/// One named share: the folder `/NAME/` of the guest's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedShare {
    /// The folder name the guest sees (checked by [`check_share_name`]).
    pub name: String,
    /// What to share and how; `config.root` must be an existing directory.
    pub config: ShareConfig,
}

impl NamedShare {
    /// A share of `root` named `name`, not private, with the given protection.
    pub fn new(name: impl Into<String>, root: impl Into<PathBuf>, read_only: bool, protection: Protection) -> Self {
        NamedShare {
            name: name.into(),
            config: ShareConfig { root: root.into(), read_only, private: false, protection },
        }
    }
}

/// A named share as it is served, for front ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareInfo {
    /// The folder name the guest sees.
    pub name: String,
    /// The canonical path of the shared directory.
    pub root: PathBuf,
    /// Whether the share refuses writes.
    pub read_only: bool,
}

/// Why a share name or a `--share` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShareNameError {
    /// No name.
    #[error("a share name cannot be empty")]
    Empty,
    /// Over [`MAX_SHARE_NAME`] bytes.
    #[error("share name {0:?} is longer than {MAX_SHARE_NAME} bytes")]
    TooLong(String),
    /// A slash, backslash, `..`, a leading or trailing space or a control character.
    #[error("share name {0:?} may not hold '/', '\\', '..', control characters or leading/trailing spaces")]
    Invalid(String),
    /// Two shares with the same name.
    #[error("two shares are named {0:?}")]
    Duplicate(String),
    /// Over [`MAX_SHARES`] shares.
    #[error("at most {MAX_SHARES} shares can be served at once")]
    TooMany,
    /// No share of that name.
    #[error("no share is named {0:?}")]
    Unknown(String),
    /// A `--share` value without `NAME=`.
    #[error("--share {0:?}: expected NAME=PATH or NAME=PATH:ro")]
    Spec(String),
}

/// Check a share name: 1 to [`MAX_SHARE_NAME`] bytes, no `/`, `\`, `..`, control characters, no leading or
/// trailing whitespace, and a name the share filesystem would accept as a file name.
pub fn check_share_name(name: &str) -> Result<(), ShareNameError> {
    if name.is_empty() {
        return Err(ShareNameError::Empty);
    }
    if name.len() > MAX_SHARE_NAME {
        return Err(ShareNameError::TooLong(name.to_string()));
    }
    let bad = name.contains(['/', '\\'])
        || name.contains("..")
        || name.chars().any(char::is_control)
        || name.trim() != name
        || super::sharefs::check_name(name.as_bytes()).is_err();
    if bad {
        return Err(ShareNameError::Invalid(name.to_string()));
    }
    Ok(())
}

/// Check a list of shares: every name valid, no two alike, at most [`MAX_SHARES`].
pub fn check_shares<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<(), ShareNameError> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        check_share_name(name)?;
        if !seen.insert(name) {
            return Err(ShareNameError::Duplicate(name.to_string()));
        }
        if seen.len() > MAX_SHARES {
            return Err(ShareNameError::TooMany);
        }
    }
    Ok(())
}

/// Split a `--share` value `NAME=PATH[:ro]` (also `:rw`) into the name, the path and the read-only flag. The name
/// is checked; the path is not (see [`share_dir::check`](super::share_dir::check)).
pub fn parse_share_spec(spec: &str) -> Result<(String, PathBuf, bool), ShareNameError> {
    let Some((name, rest)) = spec.split_once('=') else {
        return Err(ShareNameError::Spec(spec.to_string()));
    };
    check_share_name(name)?;
    let (path, read_only) = if let Some(p) = rest.strip_suffix(":ro") {
        (p, true)
    } else if let Some(p) = rest.strip_suffix(":rw") {
        (p, false)
    } else {
        (rest, false)
    };
    if path.is_empty() {
        return Err(ShareNameError::Spec(spec.to_string()));
    }
    Ok((name.to_string(), PathBuf::from(path), read_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for good in ["docs", "My Music", "a.b", "ä", "x-1_2"] {
            assert_eq!(check_share_name(good), Ok(()), "{good}");
        }
        assert_eq!(check_share_name(""), Err(ShareNameError::Empty));
        assert!(matches!(check_share_name(&"n".repeat(65)), Err(ShareNameError::TooLong(_))));
        for bad in ["a/b", "..", "a..b", ".", "a\\b", "a\nb", "\u{7f}", " a", "a ", ".ryll-upload-x"] {
            assert!(matches!(check_share_name(bad), Err(ShareNameError::Invalid(_))), "{bad:?}");
        }
        assert_eq!(check_shares(["a", "b"]), Ok(()));
        assert_eq!(check_shares(["a", "a"]), Err(ShareNameError::Duplicate("a".into())));
        let many: Vec<String> = (0..=MAX_SHARES).map(|i| format!("s{i}")).collect();
        assert_eq!(check_shares(many.iter().map(String::as_str)), Err(ShareNameError::TooMany));
    }

    #[test]
    fn specs_are_split() {
        assert_eq!(parse_share_spec("docs=/home/u/Docs"), Ok(("docs".into(), "/home/u/Docs".into(), false)));
        assert_eq!(parse_share_spec("m=/srv/music:ro"), Ok(("m".into(), "/srv/music".into(), true)));
        assert_eq!(parse_share_spec("m=/a=b:rw"), Ok(("m".into(), "/a=b".into(), false)));
        assert!(matches!(parse_share_spec("/just/a/path"), Err(ShareNameError::Spec(_))));
        assert!(matches!(parse_share_spec("x="), Err(ShareNameError::Spec(_))));
        assert!(matches!(parse_share_spec("a/b=/x"), Err(ShareNameError::Invalid(_))));
    }
}

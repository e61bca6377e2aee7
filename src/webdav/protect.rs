//! Which paths of a share the guest may not read or may not change: the protection matcher (pure, no I/O).
//!
//! A share of the user's home folder must not hand the guest the user's keys, nor let it make the next login run
//! its code. Two lists of patterns decide, on top of the share's own read-only switch:
//! - **Hidden** ([`Access::Hidden`]): credential stores. Never listed, never read, never written, never the
//!   source or destination of a COPY or MOVE, never locked.
//! - **Read-only** ([`Access::ReadOnly`]): login and autostart files. Listed and readable, but nothing can change,
//!   create, remove, move or lock them, even in a read-write share.
//!
//! The defaults ([`DEFAULT_HIDDEN`], [`DEFAULT_READ_ONLY`]) are documented in `docs/security.md`; `--share-exclude`
//! and `--share-protect` add to them and `--share-unprotected` drops them.
//!
//! # Patterns
//! A pattern is a `/`-separated list of segments. In a segment `*` matches any run of bytes and `?` one byte;
//! a segment `**` matches any number of whole segments. A pattern that starts with `/` is anchored at the share
//! root; any other pattern matches at every depth (`.ssh` covers `/.ssh` and `/alice/.ssh` alike, so sharing
//! `/home` protects every user's folder). A pattern that matches a directory covers everything below it.
//! Matching ignores ASCII case, so a case-insensitive host filesystem cannot be used to reach `.SSH`.
//!
//! The filesystem checks the path the guest asked for **and** the path it resolves to (symlinks inside the
//! share), for every method; see `sharefs`.

use std::fmt;

/// What the guest may do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Whatever the share allows.
    Open,
    /// Read, never change.
    ReadOnly,
    /// Does not exist as far as the guest can tell.
    Hidden,
}

/// Credential stores, hidden by default.
pub const DEFAULT_HIDDEN: &[&str] = &[
    ".ssh",
    ".gnupg",
    ".password-store",
    ".aws",
    ".azure",
    ".kube",
    ".docker/config.json",
    ".netrc",
    ".pgpass",
    ".git-credentials",
    ".local/share/keyrings",
    ".gnome2/keyrings",
    ".local/share/kwalletd",
    ".pki",
    ".config/gcloud",
    ".config/gh/hosts.yml",
    ".config/rclone/rclone.conf",
    ".cargo/credentials",
    ".cargo/credentials.toml",
    ".pypirc",
    ".npmrc",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".mozilla/firefox/*/logins.json",
    ".mozilla/firefox/*/key4.db",
];

/// Login, autostart and shell start-up files, read-only by default.
pub const DEFAULT_READ_ONLY: &[&str] = &[
    ".profile",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".bashrc",
    ".bash_aliases",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".zlogin",
    ".zlogout",
    ".kshrc",
    ".mkshrc",
    ".cshrc",
    ".tcshrc",
    ".login",
    ".logout",
    ".inputrc",
    ".pam_environment",
    ".xinitrc",
    ".xprofile",
    ".xsession",
    ".xsessionrc",
    ".Xclients",
    ".gitconfig",
    ".config/git",
    ".config/fish",
    ".config/autostart",
    ".config/autostart-scripts",
    ".config/plasma-workspace",
    ".config/environment.d",
    ".config/systemd",
    ".local/share/systemd",
    ".local/share/applications",
    ".local/bin",
    ".kde/Autostart",
    ".config/openbox/autostart",
    ".config/ryll",
];

/// Longest pattern accepted (bytes).
pub const MAX_PATTERN_BYTES: usize = 1024;
/// Most segments in a pattern.
pub const MAX_PATTERN_SEGMENTS: usize = 64;
/// Most patterns in one list (defaults included).
pub const MAX_PATTERNS: usize = 256;
/// Most path segments looked at; a share path never has more (`sharefs` refuses deeper ones).
pub const MAX_PATH_SEGMENTS: usize = 256;

/// Why a pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// Empty, or only `**` and slashes: it would cover the whole share.
    #[error("the pattern {0:?} would cover the whole share; share less instead")]
    Everything(String),
    /// A `.` or `..` segment, which never appears in a share path.
    #[error("the pattern {0:?} has a . or .. segment")]
    DotSegment(String),
    /// Over [`MAX_PATTERN_BYTES`] or [`MAX_PATTERN_SEGMENTS`], or too many patterns.
    #[error("the pattern {0:?} is too long, or there are too many patterns")]
    TooLong(String),
}

/// One segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: any number of segments.
    Any,
    /// A glob over one name (lowercase ASCII).
    Glob(Vec<u8>),
}

/// One parsed pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    segments: Vec<Segment>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Pattern {
    /// Parse a pattern (see the module documentation).
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        if text.len() > MAX_PATTERN_BYTES {
            return Err(PatternError::TooLong(text.chars().take(40).collect()));
        }
        let anchored = text.starts_with('/');
        let mut segments = Vec::new();
        if !anchored {
            segments.push(Segment::Any);
        }
        for part in text.split('/').filter(|s| !s.is_empty()) {
            if part == "." || part == ".." {
                return Err(PatternError::DotSegment(text.to_owned()));
            }
            let segment = if part == "**" { Segment::Any } else { Segment::Glob(part.to_ascii_lowercase().into()) };
            // Consecutive `**` mean the same as one.
            if !(segment == Segment::Any && segments.last() == Some(&Segment::Any)) {
                segments.push(segment);
            }
            if segments.len() > MAX_PATTERN_SEGMENTS {
                return Err(PatternError::TooLong(text.chars().take(40).collect()));
            }
        }
        if !segments.iter().any(|s| matches!(s, Segment::Glob(_))) {
            return Err(PatternError::Everything(text.to_owned()));
        }
        Ok(Pattern { text: text.to_owned(), segments })
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern matches the path's segments or a leading part of them (an ancestor).
    fn covers(&self, path: &[&[u8]]) -> bool {
        // `reach[i]`: the pattern's segments so far can end right before path segment `i`.
        let mut reach = vec![false; path.len() + 1];
        reach[0] = true;
        for segment in &self.segments {
            match segment {
                Segment::Any => {
                    if let Some(first) = reach.iter().position(|&r| r) {
                        reach.iter_mut().skip(first).for_each(|r| *r = true);
                    }
                }
                Segment::Glob(glob) => {
                    let mut next = vec![false; path.len() + 1];
                    for (i, name) in path.iter().enumerate() {
                        if reach[i] && glob_matches(glob, name) {
                            next[i + 1] = true;
                        }
                    }
                    reach = next;
                }
            }
            if !reach.iter().any(|&r| r) {
                return false;
            }
        }
        // Ending anywhere means the pattern matched the path or one of its ancestors; but a pattern ending in
        // `**` must have matched at least one real segment before it, which `Everything` guarantees.
        reach.iter().any(|&r| r)
    }
}

/// Whether `glob` (lowercase; `*`, `?`) matches `name` ignoring ASCII case. Linear backtracking over the last `*`.
fn glob_matches(glob: &[u8], name: &[u8]) -> bool {
    let (mut g, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        let c = name[n].to_ascii_lowercase();
        match glob.get(g) {
            Some(b'*') => {
                star = Some((g, n));
                g += 1;
            }
            Some(&p) if p == b'?' || p == c => {
                g += 1;
                n += 1;
            }
            _ => match star {
                Some((sg, sn)) => {
                    g = sg + 1;
                    n = sn + 1;
                    star = Some((sg, sn + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|&b| b == b'*')
}

/// The protection of one share: hidden and read-only patterns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    hidden: Vec<Pattern>,
    read_only: Vec<Pattern>,
}

impl Default for Protection {
    /// The default lists.
    fn default() -> Self {
        Protection::defaults()
    }
}

impl Protection {
    /// The default lists ([`DEFAULT_HIDDEN`], [`DEFAULT_READ_ONLY`]).
    pub fn defaults() -> Self {
        let parse = |list: &[&str]| list.iter().filter_map(|p| Pattern::parse(p).ok()).collect();
        Protection { hidden: parse(DEFAULT_HIDDEN), read_only: parse(DEFAULT_READ_ONLY) }
    }

    /// Nothing protected (`--share-unprotected` without further patterns).
    pub fn none() -> Self {
        Protection { hidden: Vec::new(), read_only: Vec::new() }
    }

    /// Build from the flags: the defaults unless `unprotected`, plus the extra hidden and read-only patterns.
    pub fn from_flags(unprotected: bool, exclude: &[String], protect: &[String]) -> Result<Self, PatternError> {
        let mut out = if unprotected { Protection::none() } else { Protection::defaults() };
        for p in exclude {
            out.add_hidden(p)?;
        }
        for p in protect {
            out.add_read_only(p)?;
        }
        Ok(out)
    }

    /// Hide what `pattern` matches.
    pub fn add_hidden(&mut self, pattern: &str) -> Result<(), PatternError> {
        Self::add(&mut self.hidden, pattern)
    }

    /// Make what `pattern` matches read-only.
    pub fn add_read_only(&mut self, pattern: &str) -> Result<(), PatternError> {
        Self::add(&mut self.read_only, pattern)
    }

    fn add(list: &mut Vec<Pattern>, pattern: &str) -> Result<(), PatternError> {
        if list.len() >= MAX_PATTERNS {
            return Err(PatternError::TooLong(pattern.chars().take(40).collect()));
        }
        list.push(Pattern::parse(pattern)?);
        Ok(())
    }

    /// The hidden patterns, for display.
    pub fn hidden(&self) -> impl Iterator<Item = &str> {
        self.hidden.iter().map(Pattern::as_str)
    }

    /// The read-only patterns, for display.
    pub fn read_only(&self) -> impl Iterator<Item = &str> {
        self.read_only.iter().map(Pattern::as_str)
    }

    /// Whether nothing is protected.
    pub fn is_empty(&self) -> bool {
        self.hidden.is_empty() && self.read_only.is_empty()
    }

    /// The access to a decoded share path (`/a/b`, or `a/b`; empty segments ignored). A path deeper than
    /// [`MAX_PATH_SEGMENTS`] is hidden: the share never serves one.
    pub fn access(&self, path: &[u8]) -> Access {
        if self.is_empty() {
            return Access::Open;
        }
        let segments: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|s| !s.is_empty()).collect();
        if segments.len() > MAX_PATH_SEGMENTS {
            return Access::Hidden;
        }
        if self.hidden.iter().any(|p| p.covers(&segments)) {
            Access::Hidden
        } else if self.read_only.iter().any(|p| p.covers(&segments)) {
            Access::ReadOnly
        } else {
            Access::Open
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(path: &str) -> Access {
        Protection::defaults().access(path.as_bytes())
    }

    #[test]
    fn credential_stores_are_hidden_at_any_depth_and_below() {
        for path in [
            "/.ssh",
            "/.ssh/",
            "/.ssh/id_ed25519",
            "/alice/.ssh/authorized_keys",
            "//.ssh//id_rsa",
            "/.SSH/id_rsa",
            "/.gnupg/private-keys-v1.d/x.key",
            "/.password-store/bank.gpg",
            "/.aws/credentials",
            "/.azure/accessTokens.json",
            "/.kube/config",
            "/.docker/config.json",
            "/.netrc",
            "/.pgpass",
            "/.git-credentials",
            "/.local/share/keyrings/login.keyring",
            "/.mozilla/firefox/abc.default/logins.json",
        ] {
            assert_eq!(access(path), Access::Hidden, "{path}");
        }
    }

    #[test]
    fn login_files_are_read_only() {
        for path in [
            "/.bashrc",
            "/.profile",
            "/.zshrc",
            "/.xinitrc",
            "/.xprofile",
            "/.config/autostart",
            "/.config/autostart/evil.desktop",
            "/.local/share/applications/x.desktop",
            "/.config/systemd/user/evil.service",
            "/.config/ryll/shares.toml",
            "/bob/.BashRC",
        ] {
            assert_eq!(access(path), Access::ReadOnly, "{path}");
        }
    }

    #[test]
    fn everything_else_is_open() {
        for path in [
            "",
            "/",
            "/Documents/notes.txt",
            "/.sshx",
            "/x.ssh",
            "/.docker",
            "/.docker/other.json",
            "/.config",
            "/.config/autostartx",
            "/.local/share",
            "/bashrc",
            "/.mozilla/firefox/abc/prefs.js",
        ] {
            assert_eq!(access(path), Access::Open, "{path}");
        }
    }

    #[test]
    fn user_patterns_anchor_glob_and_span_segments() {
        let mut p = Protection::none();
        p.add_hidden("/secret").unwrap();
        p.add_hidden("*.key").unwrap();
        p.add_read_only("build/**/out?").unwrap();
        assert_eq!(p.access(b"/secret/a"), Access::Hidden);
        assert_eq!(p.access(b"/x/secret"), Access::Open);
        assert_eq!(p.access(b"/x/y/server.KEY"), Access::Hidden);
        assert_eq!(p.access(b"/x/y/server.keys"), Access::Open);
        assert_eq!(p.access(b"/build/out1"), Access::ReadOnly);
        assert_eq!(p.access(b"/p/build/a/b/out2/f"), Access::ReadOnly);
        assert_eq!(p.access(b"/build/a/out"), Access::Open);
        assert_eq!(Protection::none().access(b"/.ssh/id_rsa"), Access::Open);
    }

    #[test]
    fn hidden_wins_over_read_only() {
        let mut p = Protection::none();
        p.add_read_only(".config").unwrap();
        p.add_hidden(".config/tokens").unwrap();
        assert_eq!(p.access(b"/.config/tokens/a"), Access::Hidden);
        assert_eq!(p.access(b"/.config/a"), Access::ReadOnly);
    }

    #[test]
    fn patterns_covering_everything_or_with_dots_are_refused() {
        for bad in ["", "/", "**", "/**/", "*/..", "./x"] {
            assert!(Pattern::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Pattern::parse(&"a/".repeat(MAX_PATTERN_SEGMENTS + 1)).is_err());
        assert!(Pattern::parse(&"a".repeat(MAX_PATTERN_BYTES + 1)).is_err());
        // `*` alone is a real (if broad) pattern: every top-level name and below.
        assert_eq!(Pattern::parse("*").map(|p| p.covers(&[b"x"])), Ok(true));
        assert_eq!(Pattern::parse("*").map(|p| p.covers(&[])), Ok(false));
    }

    #[test]
    fn globs_backtrack_without_blowing_up() {
        assert!(glob_matches(b"a*b*c", b"axxbyyc"));
        assert!(!glob_matches(b"a*b*c", b"axxbyy"));
        assert!(glob_matches(b"*", b""));
        assert!(glob_matches(b"?", b"Z"));
        assert!(!glob_matches(b"?", b""));
        let long = vec![b'a'; 255];
        assert!(!glob_matches(b"*a*a*a*a*a*a*b", &long));
    }

    #[test]
    fn deep_paths_are_hidden() {
        let deep = "/a".repeat(MAX_PATH_SEGMENTS + 1);
        assert_eq!(access(&deep), Access::Hidden);
        assert_eq!(Protection::none().access(deep.as_bytes()), Access::Open);
    }
}

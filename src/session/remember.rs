//! Remembered shares in the session: which VM this is, what was remembered for it, sharing it again at connect,
//! and saving or forgetting on request. The file itself is [`crate::remember::store`].
//!
//! The VM's identity is taken at the first CHANNELS_LIST: spice-server sends MAIN_NAME and MAIN_UUID right after
//! INIT (ryll announces `SPICE_MAIN_CAP_NAME_AND_UUID`), and the channel list only after the client's
//! ATTACH_CHANNELS, so both have arrived by then if the server sends them at all; the remembered share is then
//! installed before the WebDAV channel is linked.
//!
//! Precedence: a share given on the command line (or by the front end in [`super::SessionConfig::share`] or
//! [`super::SessionConfig::shares`]) wins; the remembered shares are then not started, and not changed unless
//! `--remember` saves the new ones.
//!
//! What is remembered is what is shared: the folder at the guest's root, or every named share (`/NAME/`) with its
//! name and read-only flag. They come back the same way.

use super::SessionEvent;
use crate::remember::store::Store;
use crate::remember::{RememberedShare, VmKey};
use crate::webdav::named::{check_shares, NamedShare};
use crate::webdav::protect::Protection;
use crate::webdav::server::{ShareConfig, ShareServer};
use crate::webdav::share_dir;
use tokio::sync::mpsc;

/// What the session does with the remembered-shares file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberConfig {
    /// The file (the CLI passes `$XDG_CONFIG_HOME/ryll/remembered-shares.toml`; tests a temporary one).
    pub store: Store,
    /// What to do once the VM is known.
    pub mode: RememberMode,
}

/// What to do with this VM's entry at connect.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RememberMode {
    /// Share the remembered folders again when no share was given.
    #[default]
    Restore,
    /// `--remember`: save the share given for this VM (and keep saving it when it changes).
    Save,
    /// `--forget`: remove this VM's entry; share nothing remembered.
    Forget,
}

/// What the session reports about remembered shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RememberEvent {
    /// The VM's identity is known: what its shares are remembered under, and whether any are.
    Identified {
        /// The key (`uuid:…` or `name:…@host`).
        key: String,
        /// Whether changes to the share are saved for this VM (the "Remember for this VM" box).
        remembering: bool,
    },
    /// A remembered share is being shared again.
    Restored(RememberedShare),
    /// A remembered share was not started.
    Skipped {
        /// The share.
        share: RememberedShare,
        /// Why, as one line.
        reason: String,
    },
    /// The command line's share was used instead of this many remembered ones.
    Overridden(usize),
    /// These shares are now remembered for this VM.
    Saved(Vec<RememberedShare>),
    /// Nothing is remembered for this VM any more.
    Forgotten,
    /// The file could not be read or written (one line naming it and the next step); sharing is unaffected.
    Failed(String),
}

/// The session's remembering state.
pub(crate) struct Remembering {
    config: Option<RememberConfig>,
    key: Option<VmKey>,
    label: String,
    /// Share changes are saved for this VM.
    on: bool,
}

impl Remembering {
    pub(crate) fn new(config: Option<RememberConfig>) -> Self {
        Remembering { config, key: None, label: String::new(), on: false }
    }

    /// The VM is known. Reads its entry and acts on the mode; `given` is what the command line shares (as it
    /// would be remembered). Returns the remembered shares to start.
    pub(crate) async fn identified(
        &mut self,
        key: VmKey,
        label: String,
        given: Vec<RememberedShare>,
        protection: &Protection,
        events: &mpsc::Sender<SessionEvent>,
    ) -> Restore {
        let Some(config) = self.config.clone() else { return Restore::default() };
        self.key = Some(key.clone());
        self.label = label;
        let store = config.store.clone();
        let k = key.clone();
        let remembered = match blocking(move || store.load(&k)).await {
            Ok(list) => list,
            Err(e) => {
                send(events, RememberEvent::Failed(e)).await;
                Vec::new()
            }
        };
        let mut start = Restore::default();
        let mut report = Vec::new();
        match (config.mode, given.is_empty()) {
            (RememberMode::Forget, _) => {
                self.on = false;
                self.save(&[], events).await;
            }
            (RememberMode::Save, false) => {
                self.on = true;
                self.save(&given, events).await;
            }
            (RememberMode::Save | RememberMode::Restore, true) => {
                self.on = !remembered.is_empty();
                let (restore, started, skipped) = share_from(&remembered, protection);
                report.extend(started.into_iter().map(RememberEvent::Restored));
                report.extend(skipped.into_iter().map(|(share, reason)| RememberEvent::Skipped { share, reason }));
                start = restore;
            }
            (RememberMode::Restore, false) => {
                self.on = false;
                if !remembered.is_empty() {
                    report.push(RememberEvent::Overridden(remembered.len()));
                }
            }
        }
        send(events, RememberEvent::Identified { key: key.to_string(), remembering: self.on }).await;
        for ev in report {
            send(events, ev).await;
        }
        start
    }

    /// The front end's "Remember for this VM" box: saves `current` (or forgets the VM when `on` is false).
    pub(crate) async fn set(&mut self, on: bool, current: Vec<RememberedShare>, events: &mpsc::Sender<SessionEvent>) {
        let why_not = match (&self.config, &self.key) {
            (None, _) => Some("remembering is off (--no-remember)"),
            (_, None) => Some("the VM is not known yet; try again once connected"),
            _ if on && current.is_empty() => Some("nothing is shared: share a folder first"),
            _ => None,
        };
        if let Some(why) = why_not {
            return send(events, RememberEvent::Failed(format!("cannot remember the share: {why}"))).await;
        }
        self.on = on;
        let list = if on { current } else { Vec::new() };
        self.save(&list, events).await;
    }

    /// A share was started, replaced, added, removed or made read-only: remembered too when the box is on.
    pub(crate) async fn share_changed(&mut self, current: Vec<RememberedShare>, events: &mpsc::Sender<SessionEvent>) {
        if self.on && !current.is_empty() {
            self.save(&current, events).await;
        }
    }

    async fn save(&self, list: &[RememberedShare], events: &mpsc::Sender<SessionEvent>) {
        let (Some(config), Some(key)) = (&self.config, &self.key) else { return };
        let (store, key, label, owned) = (config.store.clone(), key.clone(), self.label.clone(), list.to_vec());
        let ev = match blocking(move || store.save(&key, &label, &owned)).await {
            Ok(()) if list.is_empty() => RememberEvent::Forgotten,
            Ok(()) => RememberEvent::Saved(list.to_vec()),
            Err(e) => RememberEvent::Failed(e),
        };
        send(events, ev).await;
    }
}

/// The shares to remember for what is shared now: the folder at the root, or every named share. The one place
/// that maps the session's shares to the stored list.
pub(crate) fn remembered_from(current: Option<&ShareServer>) -> Vec<RememberedShare> {
    let Some(server) = current else { return Vec::new() };
    match server.shares() {
        Some(named) => named.into_iter().map(|s| RememberedShare::named(s.name, s.root, s.read_only)).collect(),
        None => vec![RememberedShare::for_folder(server.root().to_path_buf(), server.read_only())],
    }
}

/// What the command line shares, as it would be remembered (for `--remember` and for the precedence rule).
pub(crate) fn given(root: Option<&ShareConfig>, named: &[NamedShare]) -> Vec<RememberedShare> {
    match root {
        Some(cfg) => vec![RememberedShare::for_folder(cfg.root.clone(), cfg.read_only)],
        None => {
            named.iter().map(|s| RememberedShare::named(&s.name, s.config.root.clone(), s.config.read_only)).collect()
        }
    }
}

/// Remembered shares to start again: a folder at the root, or named shares (never both).
#[derive(Debug, Default)]
pub(crate) struct Restore {
    /// The folder to share at the root.
    pub(crate) root: Option<ShareConfig>,
    /// The named shares.
    pub(crate) named: Vec<NamedShare>,
}

/// Remembered shares not started, each with the reason.
type Skipped = Vec<(RememberedShare, String)>;

/// What to start from a remembered list, the entries started, and those skipped with the reason: a folder that
/// no longer exists or is not a directory, a name that is not valid or is taken; at the root, every entry after the
/// first usable one (one folder at a time there), and root entries when named ones start. The other direction of
/// [`remembered_from`].
fn share_from(list: &[RememberedShare], protection: &Protection) -> (Restore, Vec<RememberedShare>, Skipped) {
    let mut restore = Restore::default();
    let (mut started, mut skipped) = (Vec::new(), Vec::new());
    for share in list.iter().filter(|s| s.named) {
        let names = restore.named.iter().map(|n| n.name.as_str()).chain([share.name.as_str()]);
        if let Err(e) = check_shares(names) {
            skipped.push((share.clone(), e.to_string()));
            continue;
        }
        match share_dir::check(&share.path) {
            Ok(root) => {
                restore.named.push(NamedShare::new(&share.name, root, share.read_only, protection.clone()));
                started.push(share.clone());
            }
            Err(e) => skipped.push((share.clone(), e.reason)),
        }
    }
    for share in list.iter().filter(|s| !s.named) {
        if restore.root.is_some() || !restore.named.is_empty() {
            let why =
                if restore.named.is_empty() { "this ryll shares one folder at the root" } else { "shared by name" };
            skipped.push((share.clone(), why.into()));
            continue;
        }
        match share_dir::check(&share.path) {
            Ok(root) => {
                let cfg =
                    ShareConfig { root, read_only: share.read_only, private: false, protection: protection.clone() };
                restore.root = Some(cfg);
                started.push(share.clone());
            }
            Err(e) => skipped.push((share.clone(), e.reason)),
        }
    }
    (restore, started, skipped)
}

async fn send(events: &mpsc::Sender<SessionEvent>, ev: RememberEvent) {
    let _ = events.send(SessionEvent::Remember(ev)).await;
}

/// Runs a store call off the async threads (the lock may wait for another ryll); errors become one line.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::remember::store::StoreError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("the remembered-shares task failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vanished_and_extra_shares_are_skipped_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let list = vec![
            RememberedShare::for_folder(dir.path().join("gone"), false),
            RememberedShare::for_folder(file.clone(), false),
            RememberedShare::for_folder(dir.path().to_path_buf(), true),
            RememberedShare::for_folder("/".into(), false),
        ];
        let (start, started, skipped) = share_from(&list, &Protection::defaults());
        let cfg = start.root.unwrap();
        assert_eq!(started, [list[2].clone()]);
        assert!(cfg.read_only && cfg.root.is_absolute() && !cfg.private);
        let reasons: Vec<_> = skipped.iter().map(|(s, r)| (s.path.clone(), r.clone())).collect();
        assert!(reasons[0].1.starts_with("cannot open it"), "{reasons:?}");
        assert_eq!(reasons[1], (file, "not a directory".to_string()));
        assert_eq!(reasons[2].1, "this ryll shares one folder at the root");
        let server = ShareServer::new(cfg.clone()).unwrap();
        assert_eq!(remembered_from(Some(&server)), vec![RememberedShare::for_folder(cfg.root.clone(), true)]);
        assert!(remembered_from(None).is_empty());
    }

    #[test]
    fn named_shares_are_remembered_and_come_back_by_name() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let p = Protection::defaults();
        let shares = vec![
            NamedShare::new("docs", a.path().canonicalize().unwrap(), false, p.clone()),
            NamedShare::new("media", b.path().canonicalize().unwrap(), true, p.clone()),
        ];
        let server = ShareServer::named(shares.clone()).unwrap();
        let list = remembered_from(Some(&server));
        assert_eq!(list, given(None, &shares), "what is served is what the command line gave");
        assert!(list.iter().all(|s| s.named) && list[1].read_only && list[0].name == "docs");
        let mut with_extra = list.clone();
        with_extra.push(RememberedShare::named("docs", b.path().to_path_buf(), false));
        with_extra.push(RememberedShare::for_folder(a.path().to_path_buf(), false));
        let (restore, started, skipped) = share_from(&with_extra, &p);
        assert!(restore.root.is_none());
        let got: Vec<_> = restore.named.iter().map(|s| (s.name.as_str(), s.config.read_only)).collect();
        assert_eq!(got, [("docs", false), ("media", true)]);
        assert_eq!(started, list);
        assert_eq!(skipped.len(), 2, "a taken name and a root share beside named ones: {skipped:?}");
        assert_eq!(skipped[1].1, "shared by name");
    }
}

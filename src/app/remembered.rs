//! The window's model of the remembered shares (pure; tested here): whether the "Remember for this VM" box is
//! shown and ticked, and the notices the Folders panel shows ("Sharing X again, remembered for this VM").

use crate::event_log::remember_notice;
use crate::session::remember::RememberEvent;

/// Most notices kept.
const MAX_NOTICES: usize = 8;

/// What the Folders panel shows about remembered shares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RememberView {
    /// The VM is known and remembering is not off (`--no-remember`): the box is shown.
    pub available: bool,
    /// The box: share changes are saved for this VM.
    pub remembering: bool,
    /// What happened at connect: shares started again, skipped, or not started because of the command line.
    pub notices: Vec<String>,
}

impl RememberView {
    /// Updates the view from one event; returns an error for the panel's error list.
    pub fn apply(&mut self, ev: RememberEvent) -> Option<String> {
        let notice = match ev {
            RememberEvent::Identified { remembering, .. } => {
                self.available = true;
                self.remembering = remembering;
                return None;
            }
            RememberEvent::Restored(share) => remember_notice(&share),
            RememberEvent::Skipped { share, reason } => format!("Remembered folder {share} not shared: {reason}"),
            RememberEvent::Overridden(n) => {
                format!("{n} remembered folder(s) not shared: the command line's share is used")
            }
            RememberEvent::Saved(_) => {
                self.remembering = true;
                return None;
            }
            RememberEvent::Forgotten => {
                self.remembering = false;
                return None;
            }
            RememberEvent::Failed(e) => return Some(e),
        };
        if self.notices.len() == MAX_NOTICES {
            self.notices.remove(0);
        }
        self.notices.push(notice);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remember::RememberedShare;

    #[test]
    fn the_box_follows_the_session() {
        let mut v = RememberView::default();
        assert!(!v.available);
        let share = RememberedShare::for_folder("/home/u/Docs".into(), false);
        assert_eq!(v.apply(RememberEvent::Identified { key: "uuid:x".into(), remembering: true }), None);
        assert!(v.available && v.remembering);
        v.apply(RememberEvent::Restored(share.clone()));
        v.apply(RememberEvent::Skipped { share: share.clone(), reason: "not a directory".into() });
        assert_eq!(v.notices[0], "Sharing /home/u/Docs again, remembered for this VM");
        assert_eq!(v.notices[1], "Remembered folder /home/u/Docs not shared: not a directory");
        v.apply(RememberEvent::Forgotten);
        assert!(!v.remembering);
        v.apply(RememberEvent::Saved(vec![share]));
        assert!(v.remembering);
        assert_eq!(v.apply(RememberEvent::Failed("bad file".into())), Some("bad file".into()));
        for _ in 0..20 {
            v.apply(RememberEvent::Overridden(1));
        }
        assert_eq!(v.notices.len(), MAX_NOTICES);
    }
}

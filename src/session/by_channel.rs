//! One piece of shared state per channel id, for channel types a VM may have several of (one display channel and
//! one cursor channel per monitor): [`ByChannel`], and the repaint hook every entry gets, present and future.

use super::display::RepaintHook;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Shared state that wakes the front end through a repaint hook.
pub trait Hooked: Default {
    /// Sets the hook called after every change.
    fn set_repaint_hook(&self, hook: RepaintHook);
}

/// The state of each channel of one type, by channel id (at most 256: ids are `u8`). An entry is made when its
/// channel first links, and a relink keeps it.
pub struct ByChannel<T> {
    table: Mutex<BTreeMap<u8, Arc<T>>>,
    hook: Mutex<Option<RepaintHook>>,
}

impl<T> Default for ByChannel<T> {
    fn default() -> Self {
        ByChannel { table: Mutex::default(), hook: Mutex::default() }
    }
}

impl<T> std::fmt::Debug for ByChannel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<u8> = self.table.lock().unwrap_or_else(|e| e.into_inner()).keys().copied().collect();
        f.debug_struct("ByChannel").field("ids", &ids).finish_non_exhaustive()
    }
}

impl<T: Hooked> ByChannel<T> {
    /// Channel `id`'s state, once that channel has linked.
    pub fn get(&self, id: u8) -> Option<Arc<T>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
    }

    /// Every entry, by id.
    pub fn all(&self) -> Vec<(u8, Arc<T>)> {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(id, s)| (*id, s.clone())).collect()
    }

    /// Sets the repaint hook on every entry, and on those made later.
    pub fn set_repaint_hook(&self, hook: RepaintHook) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook.clone());
        for s in self.table.lock().unwrap_or_else(|e| e.into_inner()).values() {
            s.set_repaint_hook(hook.clone());
        }
    }

    /// Puts `shared` at `id` (channel 0's, which the session makes up front for the front ends).
    pub(crate) fn insert(&self, id: u8, shared: Arc<T>) {
        if let Some(hook) = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            shared.set_repaint_hook(hook);
        }
        self.table.lock().unwrap_or_else(|e| e.into_inner()).insert(id, shared);
    }

    /// Channel `id`'s state, made on its first link.
    pub(crate) fn entry(&self, id: u8) -> Arc<T> {
        if let Some(s) = self.get(id) {
            return s;
        }
        let s = Arc::new(T::default());
        self.insert(id, s.clone());
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counted(Mutex<Option<RepaintHook>>);

    impl Hooked for Counted {
        fn set_repaint_hook(&self, hook: RepaintHook) {
            *self.0.lock().unwrap() = Some(hook);
        }
    }

    #[test]
    fn entries_made_before_and_after_the_hook_both_get_it_and_a_relink_keeps_its_entry() {
        let table = ByChannel::<Counted>::default();
        let first = table.entry(0);
        let fired = Arc::new(AtomicUsize::new(0));
        let f = fired.clone();
        table.set_repaint_hook(Arc::new(move || {
            f.fetch_add(1, Ordering::Relaxed);
        }));
        let second = table.entry(1);
        for s in [&first, &second] {
            (s.0.lock().unwrap().as_ref().expect("hooked"))();
        }
        assert_eq!(fired.load(Ordering::Relaxed), 2);
        assert!(Arc::ptr_eq(&table.entry(1), &second));
        assert_eq!(table.all().iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![0, 1]);
        assert!(table.get(2).is_none());
    }
}

//! The guest pointer in the session: the cursor channel's [`ChannelKind`] and [`CursorShared`], which front ends
//! read (like the display, through shared state and a repaint hook). Each monitor has its own cursor channel, with
//! the id of its display channel: [`Cursors`].

use super::by_channel::{ByChannel, Hooked};
use super::display::RepaintHook;
use super::table::{ChannelContext, ChannelFuture, ChannelKind, LinkedChannel};
use crate::canvas::cursor::CursorShape;
use crate::channels::cursor::{run_cursor, MAX_CURSOR_MESSAGE};
use crate::protocol::caps::Caps;
use crate::protocol::constants::ChannelType;
use std::sync::{Arc, Mutex, MutexGuard};

/// The pointer as front ends draw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CursorView {
    /// The shape; `None` when the guest has no cursor.
    pub shape: Option<CursorShape>,
    /// Whether it shows.
    pub visible: bool,
    /// The hot spot's position in surface pixels, as the server last said (server mouse mode).
    pub position: Option<(i32, i32)>,
    /// Bumped on every change.
    pub generation: u64,
    /// Messages refused (a bad shape, a cache miss).
    pub refused: u64,
    /// Whether the cursor channel is linked.
    pub linked: bool,
}

/// The pointer behind a lock, and the hook that wakes the front end.
#[derive(Default)]
pub struct CursorShared {
    view: Mutex<CursorView>,
    hook: Mutex<Option<RepaintHook>>,
}

impl std::fmt::Debug for CursorShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CursorShared").finish_non_exhaustive()
    }
}

impl CursorShared {
    /// Sets the hook called after every change.
    pub fn set_repaint_hook(&self, hook: RepaintHook) {
        *self.hook.lock().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    /// A copy of the pointer's state.
    pub fn view(&self) -> CursorView {
        self.lock().clone()
    }

    pub(crate) fn update(&self, change: impl FnOnce(&mut CursorView)) {
        {
            let mut v = self.lock();
            change(&mut v);
            v.generation += 1;
        }
        let hook = self.hook.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(hook) = hook {
            hook();
        }
    }

    fn lock(&self) -> MutexGuard<'_, CursorView> {
        self.view.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Hooked for CursorShared {
    fn set_repaint_hook(&self, hook: RepaintHook) {
        CursorShared::set_repaint_hook(self, hook);
    }
}

/// Every cursor channel's pointer by channel id, which is the id of the display channel (monitor) it belongs to.
/// Cursor channel 0's is also [`super::SessionShared::cursor`].
pub type Cursors = ByChannel<CursorShared>;

/// The cursor channel (type 4): one per monitor, publishing its pointer in [`Cursors`].
pub(crate) struct CursorChannelKind {
    cursors: Arc<Cursors>,
}

impl CursorChannelKind {
    pub(crate) fn new(primary: Arc<CursorShared>, cursors: Arc<Cursors>) -> Self {
        cursors.insert(0, primary);
        CursorChannelKind { cursors }
    }
}

impl ChannelKind for CursorChannelKind {
    fn channel_type(&self) -> ChannelType {
        ChannelType::Cursor
    }

    fn caps(&self) -> Caps {
        Caps::default()
    }

    fn max_message(&self) -> u32 {
        MAX_CURSOR_MESSAGE
    }

    fn run(&self, linked: LinkedChannel, ctx: ChannelContext) -> ChannelFuture {
        Box::pin(run_cursor(linked, self.cursors.entry(ctx.id.id)))
    }
}

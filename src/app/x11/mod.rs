//! The desktop drawn straight into the X server, beside egui's frame.
//!
//! egui repaints its whole window every frame; under software OpenGL (llvmpipe, as under Xvfb or on a machine
//! without a GPU driver) that costs tens of milliseconds whatever changed. On X11 the [`Presenter`] shows the
//! guest's surface in a child window of ryll's own instead: it keeps a copy of the surface in a server-side
//! pixmap, puts only the dirty areas into it, and copies (or, when the view is scaled, composites with RENDER's
//! bilinear filter) only those areas to the window. Guest draws then wake the presenter's thread, not egui, so a
//! scrolling guest costs what changed, as spice-gtk's drawing through cairo does.
//!
//! - Input is untouched: the child selects no pointer or key events, so they reach egui's window as before.
//! - The child has no input region (SHAPE), so the pointer never enters it as far as the parent can tell.
//! - The guest cursor is composited over the surface: at the X pointer in client mouse mode (the view hides the X
//!   pointer over the desktop; the presenter watches the pointer's moves over the parent), at the server's
//!   position in server mode.
//! - Anything egui draws over the desktop (a menu, a tooltip, a dialog) cannot be above a child window: while one
//!   overlaps, the child is unmapped and the desktop goes back to egui's texture (see [`covered`]).
//! - `RYLL_PRESENT=texture` turns it off; without X11 (Wayland) it is off.

mod draw;

use crate::session::cursor::Cursors;
use crate::session::display::DisplayShared;
use draw::{Drawing, Formats};
use eframe::egui;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::rust_connection::RustConnection;

/// The shortest time between two presents: bursts of draws within it are shown together.
const MIN_INTERVAL: Duration = Duration::from_millis(12);

/// What the presenter shows and where; the desktop view makes one each frame.
#[derive(Clone)]
pub struct Target {
    /// The surface shown.
    pub display: Arc<DisplayShared>,
    /// Its display channel id (the guest cursor drawn is that monitor's cursor channel's).
    pub monitor: u8,
    /// The surface size the view laid out (another size: the view is asked to lay it out again).
    pub surface_size: (u32, u32),
    /// The visible part of the surface in window pixels: x, y, width, height.
    pub window: (i32, i32, u32, u32),
    /// Where the visible part starts inside the scaled surface (scrolled or clipped), in window pixels.
    pub offset: (i32, i32),
    /// The whole scaled surface's size in window pixels.
    pub scaled: (u32, u32),
    /// Client mouse mode: the guest cursor is the X pointer's shape (else it is drawn where the server says).
    pub client_mouse: bool,
}

impl Target {
    fn same_as(&self, other: &Target) -> bool {
        Arc::ptr_eq(&self.display, &other.display)
            && (self.monitor, self.surface_size, self.window, self.offset, self.scaled, self.client_mouse)
                == (other.monitor, other.surface_size, other.window, other.offset, other.scaled, other.client_mouse)
    }
}

#[derive(Default)]
struct State {
    target: Option<Target>,
    /// Something to draw: a guest draw, a cursor change, a new target.
    pending: bool,
    /// Put the whole surface again (a new target, a new pixmap).
    full: bool,
    /// Copy the whole window from the pixmap again (an Expose).
    redraw: bool,
    /// The X pointer over ryll's window, in its pixels (the guest cursor follows it in client mouse mode).
    pointer: Option<(i32, i32)>,
    stop: bool,
}

struct Shared {
    conn: RustConnection,
    child: u32,
    formats: Formats,
    state: Mutex<State>,
    wake: Condvar,
    active: AtomicBool,
    failed: AtomicBool,
    repaint: egui::Context,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Draws the desktop into a child window of ryll's X11 window (see the module docs).
pub struct Presenter {
    shared: Arc<Shared>,
}

impl Presenter {
    /// Starts presenting into a child of `cc`'s window when it is an X11 window and the server has what is needed;
    /// otherwise why not (the window then draws the desktop with egui).
    pub fn start(cc: &eframe::CreationContext<'_>, cursors: Arc<Cursors>) -> Result<Presenter, String> {
        use raw_window_handle::{HasWindowHandle, RawWindowHandle};
        if std::env::var("RYLL_PRESENT").is_ok_and(|v| v == "texture") {
            return Err("RYLL_PRESENT=texture".into());
        }
        let handle = cc.window_handle().map_err(|e| format!("no window handle: {e}"))?;
        let parent = match handle.as_raw() {
            RawWindowHandle::Xlib(h) => u32::try_from(h.window).map_err(|_| "bad X window id".to_string())?,
            RawWindowHandle::Xcb(h) => h.window.get(),
            _ => return Err("not an X11 window".into()),
        };
        let (conn, screen) = x11rb::connect(None).map_err(|e| format!("cannot connect to the X server: {e}"))?;
        let (formats, child) = draw::setup(&conn, screen, parent)?;
        let shared = Arc::new(Shared {
            conn,
            child,
            formats,
            state: Mutex::default(),
            wake: Condvar::new(),
            active: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            repaint: cc.egui_ctx.clone(),
        });
        let s = shared.clone();
        std::thread::Builder::new()
            .name("ryll-x11-present".into())
            .spawn(move || draw_loop(s, cursors))
            .map_err(|e| format!("cannot start the presenter: {e}"))?;
        let s = shared.clone();
        std::thread::Builder::new()
            .name("ryll-x11-events".into())
            .spawn(move || event_loop(s))
            .map_err(|e| format!("cannot start the presenter: {e}"))?;
        tracing::info!("desktop: drawn straight into the X server (child window {child:#x} of {parent:#x}, RENDER)");
        Ok(Presenter { shared })
    }

    /// Whether the presenter shows the desktop now (the view then neither uploads nor paints it).
    pub fn active(&self) -> bool {
        self.shared.active.load(Ordering::Acquire)
    }

    /// Wakes the presenter: the surface or the cursor changed.
    pub fn wake(&self) {
        wake(&self.shared);
    }

    /// Shows `target`, or hides the child window (`None`: no surface, or something egui draws covers it).
    pub fn set(&self, target: Option<Target>) {
        if self.shared.failed.load(Ordering::Acquire) {
            return;
        }
        let mut st = self.shared.state();
        let changed = match (&st.target, &target) {
            (Some(a), Some(b)) => !a.same_as(b),
            (None, None) => false,
            _ => true,
        };
        if !changed {
            return;
        }
        // Shown again, or another surface: the pixmap is stale (egui took the dirty areas meanwhile). Moved or
        // resized: the window is drawn again from the pixmap.
        let same_surface = match (&st.target, &target) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.display, &b.display) && a.monitor == b.monitor,
            _ => false,
        };
        if same_surface {
            st.redraw = true;
        } else {
            st.full = true;
        }
        st.pending = true;
        self.shared.active.store(target.is_some(), Ordering::Release);
        st.target = target;
        self.shared.wake.notify_one();
    }
}

impl Drop for Presenter {
    fn drop(&mut self) {
        let mut st = self.shared.state();
        st.stop = true;
        self.shared.wake.notify_one();
    }
}

fn wake(shared: &Shared) {
    let mut st = shared.state();
    st.pending = true;
    shared.wake.notify_one();
}

fn pointer_at(shared: &Shared, at: Option<(i16, i16)>) {
    let mut st = shared.state();
    st.pointer = at.map(|(x, y)| (i32::from(x), i32::from(y)));
    // Only a cursor drawn at the pointer needs a present.
    if st.target.as_ref().is_some_and(|t| t.client_mouse) {
        st.pending = true;
        shared.wake.notify_one();
    }
}

/// Whether anything egui shows above the central panel (a window, a menu, a tooltip) overlaps `rect` (points).
pub fn covered(ctx: &egui::Context, rect: egui::Rect) -> bool {
    ctx.memory(|m| {
        m.areas().visible_layer_ids().into_iter().any(|layer| {
            layer.order != egui::Order::Background && m.area_rect(layer.id).is_some_and(|r| r.intersects(rect))
        })
    })
}

/// The presenter's thread: waits for something to draw, then draws it; at most one present per [`MIN_INTERVAL`].
fn draw_loop(shared: Arc<Shared>, cursors: Arc<Cursors>) {
    let mut drawing = Drawing::new(shared.child, shared.formats.clone());
    let mut last = Instant::now() - MIN_INTERVAL;
    loop {
        let (target, full, redraw, pointer) = {
            let mut st = shared.state();
            while !st.pending && !st.stop {
                st = shared.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            if st.stop {
                break;
            }
            let wait = MIN_INTERVAL.saturating_sub(last.elapsed());
            if !wait.is_zero() {
                drop(st);
                std::thread::sleep(wait);
                st = shared.state();
            }
            st.pending = false;
            (st.target.clone(), std::mem::take(&mut st.full), std::mem::take(&mut st.redraw), st.pointer)
        };
        last = Instant::now();
        let result = match &target {
            Some(t) => {
                let cursor = cursors.get(t.monitor).map(|c| c.view()).unwrap_or_default();
                drawing.present(&shared.conn, t, full, redraw, &cursor, pointer)
            }
            None => drawing.hide(&shared.conn).map(|()| false),
        };
        match result {
            Ok(resized) => {
                if resized {
                    // A new surface size: the view lays the surface out again.
                    shared.repaint.request_repaint();
                }
            }
            Err(e) => {
                tracing::warn!("desktop: drawing into the X server failed ({e}); egui draws it from now on");
                shared.failed.store(true, Ordering::Release);
                shared.active.store(false, Ordering::Release);
                let _ = drawing.hide(&shared.conn);
                shared.repaint.request_repaint();
                break;
            }
        }
    }
    drawing.destroy(&shared.conn);
}

/// The presenter connection's events: Expose redraws from the pixmap, the pointer's moves over the parent move the
/// guest cursor (client mouse mode); errors are logged.
fn event_loop(shared: Arc<Shared>) {
    let mut errors = 0u32;
    loop {
        match shared.conn.wait_for_event() {
            Ok(x11rb::protocol::Event::Expose(e)) if e.count == 0 => {
                shared.state().redraw = true;
                wake(&shared);
            }
            Ok(x11rb::protocol::Event::MotionNotify(m)) => pointer_at(&shared, Some((m.event_x, m.event_y))),
            Ok(x11rb::protocol::Event::EnterNotify(m)) => pointer_at(&shared, Some((m.event_x, m.event_y))),
            Ok(x11rb::protocol::Event::LeaveNotify(_)) => pointer_at(&shared, None),
            Ok(x11rb::protocol::Event::Error(e)) => {
                errors += 1;
                if errors <= 10 {
                    tracing::warn!("desktop: the X server refused a request: {e:?}");
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!("desktop: the presenter's X connection ended: {e}");
                return;
            }
        }
        if shared.state().stop {
            return;
        }
    }
}

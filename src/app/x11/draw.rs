//! The presenter's X requests: the child window, the surface's pixmap, the copies of dirty areas into the window,
//! and the guest cursor (an X pointer shape, or a sprite composited over the surface).

use super::Target;
use crate::canvas::cursor::CursorShape;
use crate::canvas::Area;
use crate::session::cursor::CursorView;
use std::sync::Arc;
use x11rb::connection::{Connection, RequestConnection};
use x11rb::protocol::render::{self, ConnectionExt as _, CreatePictureAux, PictOp, PictType, Pictformat, Transform};
use x11rb::protocol::shape::{ConnectionExt as _, SK, SO};
use x11rb::protocol::xproto::{
    ChangeWindowAttributesAux, ClipOrdering, ConfigureWindowAux, ConnectionExt as _, CreateGCAux, CreateWindowAux,
    EventMask, ImageFormat, ImageOrder, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::NONE;

/// The largest surface side a pixmap takes here (X coordinates are 16-bit).
const MAX_SIDE: u32 = 32_767;
/// The largest cursor side made into a pointer shape or sprite.
const MAX_CURSOR_SIDE: u32 = 512;

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// What the X server's screen takes: its depth, and the RENDER formats of its visual and of ARGB32.
#[derive(Debug, Clone)]
pub struct Formats {
    root: u32,
    depth: u8,
    window: Pictformat,
    argb: Pictformat,
}

/// Checks the server (RENDER, a 24-bit TrueColor screen of 32-bit little-endian pixels) and creates the child
/// window of `parent` (unmapped, selecting only Expose: pointer and key events go on to the parent).
pub fn setup(conn: &RustConnection, screen: usize, parent: u32) -> Result<(Formats, u32), String> {
    let version =
        conn.render_query_version(0, 11).map_err(e)?.reply().map_err(|err| format!("no RENDER extension: {err}"))?;
    if (version.major_version, version.minor_version) < (0, 6) {
        return Err(format!("RENDER {}.{} is older than 0.6", version.major_version, version.minor_version));
    }
    let setup = conn.setup();
    let info = setup.roots.get(screen).ok_or("no such X screen")?;
    let (visual, depth) = (info.root_visual, info.root_depth);
    let vt = info
        .allowed_depths
        .iter()
        .filter(|d| d.depth == depth)
        .flat_map(|d| &d.visuals)
        .find(|v| v.visual_id == visual)
        .ok_or("the root visual is not listed")?;
    let bpp = setup.pixmap_formats.iter().find(|f| f.depth == depth).map(|f| f.bits_per_pixel);
    if depth != 24
        || bpp != Some(32)
        || (vt.red_mask, vt.green_mask, vt.blue_mask) != (0xff_0000, 0xff00, 0xff)
        || setup.image_byte_order != ImageOrder::LSB_FIRST
    {
        return Err(format!(
            "the screen is not 24-bit RGB in 32-bit little-endian pixels (depth {depth}, {bpp:?} bpp)"
        ));
    }
    let formats = conn.render_query_pict_formats().map_err(e)?.reply().map_err(e)?;
    let window = formats
        .screens
        .get(screen)
        .and_then(|s| s.depths.iter().flat_map(|d| &d.visuals).find(|v| v.visual == visual))
        .map(|v| v.format)
        .ok_or("RENDER has no format for the root visual")?;
    let argb = formats
        .formats
        .iter()
        .find(|f| {
            let d = &f.direct;
            f.type_ == PictType::DIRECT
                && f.depth == 32
                && (d.alpha_shift, d.alpha_mask, d.red_shift, d.red_mask) == (24, 0xff, 16, 0xff)
                && (d.green_shift, d.green_mask, d.blue_shift, d.blue_mask) == (8, 0xff, 0, 0xff)
        })
        .map(|f| f.id)
        .ok_or("RENDER has no ARGB32 format")?;
    let shape = conn.shape_query_version().map_err(e)?.reply().map_err(|err| format!("no SHAPE extension: {err}"))?;
    if (shape.major_version, shape.minor_version) < (1, 1) {
        return Err(format!("SHAPE {}.{} has no input shapes", shape.major_version, shape.minor_version));
    }
    let child = conn.generate_id().map_err(e)?;
    let aux = CreateWindowAux::new()
        .background_pixmap(NONE)
        .border_pixel(0)
        .colormap(info.default_colormap)
        .event_mask(EventMask::EXPOSURE);
    conn.create_window(depth, child, parent, 0, 0, 1, 1, 0, WindowClass::INPUT_OUTPUT, visual, &aux)
        .map_err(e)?
        .check()
        .map_err(|err| format!("cannot create the child window: {err}"))?;
    // No input region: the pointer is never "in" the child, so the parent sees no Enter or Leave when the pointer
    // crosses onto the desktop (winit would report the pointer gone, and egui drop the next click).
    conn.shape_rectangles(SO::SET, SK::INPUT, ClipOrdering::UNSORTED, child, 0, 0, &[]).map_err(e)?;
    // The pointer's position over the parent, for the guest cursor in client mouse mode (other clients may select
    // motion on a window too; winit reads its own through XInput 2).
    let events = EventMask::POINTER_MOTION | EventMask::LEAVE_WINDOW | EventMask::ENTER_WINDOW;
    conn.change_window_attributes(parent, &ChangeWindowAttributesAux::new().event_mask(events))
        .map_err(e)?
        .check()
        .map_err(|err| format!("cannot watch the pointer: {err}"))?;
    Ok((Formats { root: info.root, depth, window, argb }, child))
}

/// A window rectangle: x, y, width, height (window pixels).
type WinRect = (i32, i32, u32, u32);

fn intersects(a: WinRect, b: WinRect) -> bool {
    a.0 < b.0 + b.2 as i32 && b.0 < a.0 + a.2 as i32 && a.1 < b.1 + b.3 as i32 && b.1 < a.1 + a.3 as i32
}

/// 16.16 fixed point.
fn fixed(v: f64) -> render::Fixed {
    (v * 65536.0).round() as render::Fixed
}

fn scale_transform(kx: f64, ky: f64) -> Transform {
    Transform {
        matrix11: fixed(kx),
        matrix12: 0,
        matrix13: 0,
        matrix21: 0,
        matrix22: fixed(ky),
        matrix23: 0,
        matrix31: 0,
        matrix32: 0,
        matrix33: fixed(1.0),
    }
}

/// The surface's copy in the X server.
struct SurfacePixmap {
    pixmap: u32,
    picture: u32,
    size: (u32, u32),
    generation: u64,
    monitor: u8,
    /// The scaled size the picture's transform is set for.
    scaled: (u32, u32),
}

/// Identifies a cursor shape (its pixels are shared, never changed in place).
type ShapeKey = (usize, u32, u32);

fn key(shape: &CursorShape) -> ShapeKey {
    (Arc::as_ptr(&shape.pixels) as usize, shape.hot_x, shape.hot_y)
}

/// The guest cursor drawn over the surface.
struct Sprite {
    key: ShapeKey,
    pixmap: u32,
    picture: u32,
    /// The scaled surface size its transform is set for.
    scale: (u32, u32),
}

/// Everything the presenter's thread has made in the X server.
pub struct Drawing {
    child: u32,
    formats: Formats,
    gc: Option<u32>,
    window_picture: Option<u32>,
    mapped: bool,
    shown: Option<Target>,
    surface: Option<SurfacePixmap>,
    sprite: Option<Sprite>,
    sprite_at: Option<WinRect>,
}

impl Drawing {
    pub fn new(child: u32, formats: Formats) -> Self {
        Drawing {
            child,
            formats,
            gc: None,
            window_picture: None,
            mapped: false,
            shown: None,
            surface: None,
            sprite: None,
            sprite_at: None,
        }
    }

    /// Shows what changed of `t`'s surface (all of it when `full`, the window again from the pixmap when
    /// `redraw`) and the cursor. Returns whether the surface's size differs from the one the view laid out.
    pub fn present(
        &mut self,
        conn: &RustConnection,
        t: &Target,
        mut full: bool,
        mut redraw: bool,
        cursor: &CursorView,
        pointer: Option<(i32, i32)>,
    ) -> Result<bool, String> {
        if self.shown.as_ref().is_none_or(|s| !s.same_as(t)) || !self.mapped {
            let (x, y, w, h) = t.window;
            let aux = ConfigureWindowAux::new().x(x).y(y).width(w.max(1)).height(h.max(1));
            conn.configure_window(self.child, &aux).map_err(e)?;
            if !self.mapped {
                conn.map_window(self.child).map_err(e)?;
                self.mapped = true;
            }
            self.shown = Some(t.clone());
            self.sprite_at = None;
            redraw = true;
        }
        let gc = self.gc(conn)?;
        let (generation, dirty) = t.display.take_dirty();
        let frame = t.display.lock();
        let size = (frame.width, frame.height);
        if size.0 == 0 || size.1 == 0 {
            return Ok(false);
        }
        let stale = self.surface.as_ref().is_none_or(|s| s.size != size);
        if stale {
            if size.0 > MAX_SIDE || size.1 > MAX_SIDE {
                return Err(format!("a {}x{} surface is too large for an X pixmap", size.0, size.1));
            }
            self.free_surface(conn);
            self.surface = Some(self.new_surface(conn, size, generation, t.monitor)?);
        }
        let surface = self.surface.as_mut().ok_or("no pixmap")?;
        if stale || surface.generation != generation || surface.monitor != t.monitor {
            full = true;
            (surface.generation, surface.monitor) = (generation, t.monitor);
        }
        let whole = Area::whole(size.0, size.1);
        let areas: Vec<Area> = if full { vec![whole] } else { dirty.iter().filter_map(|a| clip(*a, whole)).collect() };
        // The pixels leave the lock as X image bytes: 0x00RRGGBB, little-endian.
        let images: Vec<(Area, Vec<u8>)> = areas
            .iter()
            .map(|a| {
                let w = size.0 as usize;
                let mut bytes = Vec::with_capacity(a.width() as usize * a.height() as usize * 4);
                for y in a.top as usize..a.bottom as usize {
                    let row = y * w;
                    for p in &frame.pixels[row + a.left as usize..row + a.right as usize] {
                        bytes.extend_from_slice(&p.to_le_bytes());
                    }
                }
                (*a, bytes)
            })
            .collect();
        drop(frame);
        let max = conn.maximum_request_bytes().saturating_sub(64).max(4096);
        for (a, bytes) in &images {
            let stride = a.width() as usize * 4;
            let rows = (max / stride).max(1);
            for (i, band) in bytes.chunks(rows * stride).enumerate() {
                let top = a.top as usize + i * rows;
                let h = band.len() / stride;
                conn.put_image(
                    ImageFormat::Z_PIXMAP,
                    surface.pixmap,
                    gc,
                    a.width() as u16,
                    h as u16,
                    a.left as i16,
                    top as i16,
                    0,
                    self.formats.depth,
                    band,
                )
                .map_err(e)?;
            }
        }
        if surface.scaled != t.scaled {
            let (kx, ky) = (size.0 as f64 / t.scaled.0.max(1) as f64, size.1 as f64 / t.scaled.1.max(1) as f64);
            conn.render_set_picture_transform(surface.picture, scale_transform(kx, ky)).map_err(e)?;
            let filter: &[u8] = if t.scaled == size { b"nearest" } else { b"bilinear" };
            conn.render_set_picture_filter(surface.picture, filter, &[]).map_err(e)?;
            surface.scaled = t.scaled;
        }
        let drawn: Vec<WinRect> = if redraw {
            vec![(0, 0, t.window.2, t.window.3)]
        } else {
            areas.iter().filter_map(|a| self.to_window(t, size, *a)).collect()
        };
        for r in &drawn {
            self.blit(conn, t, size, *r)?;
        }
        self.cursor(conn, t, size, cursor, pointer, &drawn)?;
        conn.flush().map_err(e)?;
        Ok(size != t.surface_size)
    }

    /// Unmaps the child window.
    pub fn hide(&mut self, conn: &RustConnection) -> Result<(), String> {
        if self.mapped {
            conn.unmap_window(self.child).map_err(e)?;
            conn.flush().map_err(e)?;
            self.mapped = false;
        }
        self.shown = None;
        self.sprite_at = None;
        Ok(())
    }

    /// Frees everything and destroys the child window.
    pub fn destroy(&mut self, conn: &RustConnection) {
        self.free_surface(conn);
        self.free_sprite(conn);
        if let Some(p) = self.window_picture.take() {
            let _ = conn.render_free_picture(p);
        }
        if let Some(gc) = self.gc.take() {
            let _ = conn.free_gc(gc);
        }
        let _ = conn.destroy_window(self.child);
        let _ = conn.flush();
    }

    fn gc(&mut self, conn: &RustConnection) -> Result<u32, String> {
        if let Some(gc) = self.gc {
            return Ok(gc);
        }
        let gc = conn.generate_id().map_err(e)?;
        conn.create_gc(gc, self.child, &CreateGCAux::new().graphics_exposures(0)).map_err(e)?;
        self.gc = Some(gc);
        Ok(gc)
    }

    fn window_picture(&mut self, conn: &RustConnection) -> Result<u32, String> {
        if let Some(p) = self.window_picture {
            return Ok(p);
        }
        let p = conn.generate_id().map_err(e)?;
        conn.render_create_picture(p, self.child, self.formats.window, &CreatePictureAux::new()).map_err(e)?;
        self.window_picture = Some(p);
        Ok(p)
    }

    fn new_surface(
        &self,
        conn: &RustConnection,
        size: (u32, u32),
        generation: u64,
        monitor: u8,
    ) -> Result<SurfacePixmap, String> {
        let pixmap = conn.generate_id().map_err(e)?;
        conn.create_pixmap(self.formats.depth, pixmap, self.child, size.0 as u16, size.1 as u16)
            .map_err(e)?
            .check()
            .map_err(|err| format!("cannot create a {}x{} pixmap: {err}", size.0, size.1))?;
        let picture = conn.generate_id().map_err(e)?;
        // Pad: bilinear samples at the edges repeat the edge pixels instead of fading to black.
        let aux = CreatePictureAux::new().repeat(render::Repeat::PAD);
        conn.render_create_picture(picture, pixmap, self.formats.window, &aux).map_err(e)?;
        Ok(SurfacePixmap { pixmap, picture, size, generation, monitor, scaled: (0, 0) })
    }

    fn free_surface(&mut self, conn: &RustConnection) {
        if let Some(s) = self.surface.take() {
            let _ = conn.render_free_picture(s.picture);
            let _ = conn.free_pixmap(s.pixmap);
        }
    }

    /// Surface area `a` in the window, grown by a pixel when scaled (bilinear reads neighbours), clipped to it.
    fn to_window(&self, t: &Target, size: (u32, u32), a: Area) -> Option<WinRect> {
        let (kx, ky) = (t.scaled.0 as f64 / size.0 as f64, t.scaled.1 as f64 / size.1 as f64);
        let pad = if t.scaled == size { 0 } else { 1 };
        let x0 = (a.left as f64 * kx).floor() as i32 - t.offset.0 - pad;
        let y0 = (a.top as f64 * ky).floor() as i32 - t.offset.1 - pad;
        let x1 = (a.right as f64 * kx).ceil() as i32 - t.offset.0 + pad;
        let y1 = (a.bottom as f64 * ky).ceil() as i32 - t.offset.1 + pad;
        let (x0, y0) = (x0.max(0), y0.max(0));
        let (x1, y1) = (x1.min(t.window.2 as i32), y1.min(t.window.3 as i32));
        (x1 > x0 && y1 > y0).then(|| (x0, y0, (x1 - x0) as u32, (y1 - y0) as u32))
    }

    /// Copies window rectangle `r` from the pixmap: a plain copy at 1:1, a filtered composite when scaled.
    fn blit(&mut self, conn: &RustConnection, t: &Target, size: (u32, u32), r: WinRect) -> Result<(), String> {
        let Some(surface) = &self.surface else { return Ok(()) };
        if r.2 == 0 || r.3 == 0 {
            return Ok(());
        }
        let (sx, sy) = (r.0 + t.offset.0, r.1 + t.offset.1);
        if t.scaled == size {
            let gc = self.gc.ok_or("no GC")?;
            conn.copy_area(
                surface.pixmap,
                self.child,
                gc,
                sx as i16,
                sy as i16,
                r.0 as i16,
                r.1 as i16,
                r.2 as u16,
                r.3 as u16,
            )
            .map_err(e)?;
        } else {
            let picture = surface.picture;
            let dst = self.window_picture(conn)?;
            conn.render_composite(
                PictOp::SRC,
                picture,
                NONE,
                dst,
                sx as i16,
                sy as i16,
                0,
                0,
                r.0 as i16,
                r.1 as i16,
                r.2 as u16,
                r.3 as u16,
            )
            .map_err(e)?;
        }
        Ok(())
    }

    /// The guest cursor, a sprite composited over the surface: at the X pointer in client mouse mode (`pointer`, in
    /// the parent's pixels; the view hides the X pointer there), at the server's position in server mode. Drawn
    /// again when it moves, changes, or when `drawn` (what was just copied from the pixmap) covered it.
    fn cursor(
        &mut self,
        conn: &RustConnection,
        t: &Target,
        size: (u32, u32),
        view: &CursorView,
        pointer: Option<(i32, i32)>,
        drawn: &[WinRect],
    ) -> Result<(), String> {
        let shape = view.shape.as_ref().filter(|s| {
            t.monitor == 0 && view.visible && s.pixels.width <= MAX_CURSOR_SIDE && s.pixels.height <= MAX_CURSOR_SIDE
        });
        let (kx, ky) = (t.scaled.0 as f64 / size.0 as f64, t.scaled.1 as f64 / size.1 as f64);
        // The hot spot in window pixels.
        let hot = if t.client_mouse {
            pointer
                .map(|(x, y)| (x - t.window.0, y - t.window.1))
                .filter(|&(x, y)| x >= 0 && y >= 0 && x < t.window.2 as i32 && y < t.window.3 as i32)
        } else {
            view.position.map(|(x, y)| {
                ((x as f64 * kx).floor() as i32 - t.offset.0, (y as f64 * ky).floor() as i32 - t.offset.1)
            })
        };
        let want = match (shape, hot) {
            (Some(s), Some((x, y))) => {
                let left = x - (s.hot_x as f64 * kx).round() as i32;
                let top = y - (s.hot_y as f64 * ky).round() as i32;
                let (w, h) = ((s.pixels.width as f64 * kx).ceil() as u32, (s.pixels.height as f64 * ky).ceil() as u32);
                Some((s, (left, top, w.max(1), h.max(1))))
            }
            _ => None,
        };
        let at = want.map(|(_, r)| r);
        let shape_changed = want.is_some_and(|(s, _)| self.sprite.as_ref().is_none_or(|sp| sp.key != key(s)));
        let covered = self.sprite_at.is_some_and(|old| drawn.iter().any(|d| intersects(*d, old)));
        if at == self.sprite_at && !shape_changed && !covered {
            return Ok(());
        }
        if let Some(old) = self.sprite_at.take() {
            self.blit(conn, t, size, clip_win(old, t.window))?;
        }
        let Some((s, r)) = want else { return Ok(()) };
        if shape_changed {
            self.free_sprite(conn);
            let (pixmap, picture) = self.argb_picture(conn, s)?;
            self.sprite = Some(Sprite { key: key(s), pixmap, picture, scale: (0, 0) });
        }
        let dst = self.window_picture(conn)?;
        let Some(sprite) = self.sprite.as_mut() else { return Ok(()) };
        if sprite.scale != t.scaled {
            conn.render_set_picture_transform(sprite.picture, scale_transform(1.0 / kx, 1.0 / ky)).map_err(e)?;
            conn.render_set_picture_filter(sprite.picture, b"nearest", &[]).map_err(e)?;
            sprite.scale = t.scaled;
        }
        let (x, y, w, h) = (r.0 as i16, r.1 as i16, r.2 as u16, r.3 as u16);
        conn.render_composite(PictOp::OVER, sprite.picture, NONE, dst, 0, 0, 0, 0, x, y, w, h).map_err(e)?;
        self.sprite_at = Some(r);
        Ok(())
    }

    fn free_sprite(&mut self, conn: &RustConnection) {
        if let Some(s) = self.sprite.take() {
            let _ = conn.render_free_picture(s.picture);
            let _ = conn.free_pixmap(s.pixmap);
        }
    }

    /// A 32-bit pixmap holding `shape` (premultiplied, as RENDER takes it) and its picture.
    fn argb_picture(&self, conn: &RustConnection, shape: &CursorShape) -> Result<(u32, u32), String> {
        let px = &shape.pixels;
        let (w, h) = (px.width.max(1), px.height.max(1));
        let pixmap = conn.generate_id().map_err(e)?;
        conn.create_pixmap(32, pixmap, self.formats.root, w as u16, h as u16).map_err(e)?;
        let gc = conn.generate_id().map_err(e)?;
        conn.create_gc(gc, pixmap, &CreateGCAux::new()).map_err(e)?;
        let mut bytes = Vec::with_capacity(w as usize * h as usize * 4);
        for i in 0..(w * h) as usize {
            bytes.extend_from_slice(&premultiply(px.data.get(i).copied().unwrap_or(0)).to_le_bytes());
        }
        conn.put_image(ImageFormat::Z_PIXMAP, pixmap, gc, w as u16, h as u16, 0, 0, 0, 32, &bytes).map_err(e)?;
        conn.free_gc(gc).map_err(e)?;
        let picture = conn.generate_id().map_err(e)?;
        conn.render_create_picture(picture, pixmap, self.formats.argb, &CreatePictureAux::new()).map_err(e)?;
        Ok((pixmap, picture))
    }
}

/// Straight-alpha `0xAARRGGBB` to premultiplied.
fn premultiply(p: u32) -> u32 {
    let a = p >> 24;
    let m = |c: u32| (c * a + 127) / 255;
    (a << 24) | (m((p >> 16) & 0xff) << 16) | (m((p >> 8) & 0xff) << 8) | m(p & 0xff)
}

fn clip(a: Area, whole: Area) -> Option<Area> {
    let c = Area {
        left: a.left.max(whole.left),
        top: a.top.max(whole.top),
        right: a.right.min(whole.right),
        bottom: a.bottom.min(whole.bottom),
    };
    (c.right > c.left && c.bottom > c.top).then_some(c)
}

fn clip_win(r: WinRect, window: WinRect) -> WinRect {
    let (x0, y0) = (r.0.max(0), r.1.max(0));
    let x1 = (r.0 + r.2 as i32).min(window.2 as i32);
    let y1 = (r.1 + r.3 as i32).min(window.3 as i32);
    (x0, y0, (x1 - x0).max(0) as u32, (y1 - y0).max(0) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn premultiplied_pixels_keep_opaque_and_clear_transparent() {
        assert_eq!(premultiply(0xff12_3456), 0xff12_3456);
        assert_eq!(premultiply(0x00ff_ffff), 0);
        assert_eq!(premultiply(0x80ff_0000), 0x8080_0000);
    }

    #[test]
    fn window_rects_intersect_only_when_they_overlap() {
        assert!(intersects((0, 0, 10, 10), (9, 9, 5, 5)));
        assert!(!intersects((0, 0, 10, 10), (10, 0, 5, 5)));
        assert_eq!(clip_win((-5, -5, 10, 10), (0, 0, 100, 100)), (0, 0, 5, 5));
    }
}

//! Surfaces and monitors: SURFACE_CREATE, MODE (legacy) and MONITORS_CONFIG. SURFACE_DESTROY is a bare id.

use super::{MAX_MONITORS, MAX_SURFACE_PIXELS, MAX_SURFACE_SIDE};
use crate::protocol::wire::{PutLe, Reader};
use crate::protocol::{ProtocolError, Result};

/// Surface flag: this is the primary surface (the screen).
pub const SURFACE_PRIMARY: u32 = 1;
/// Surface flag: only video streams will cover this surface (a hint).
pub const SURFACE_STREAMING_MODE: u32 = 2;

/// Pixel format of a surface (`SpiceSurfaceFmt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurfaceFormat {
    /// 1: 1-bit alpha.
    A1,
    /// 8: 8-bit alpha.
    A8,
    /// 16: x555.
    Rgb555,
    /// 32: x8r8g8b8 (what QEMU's primaries use).
    Xrgb32,
    /// 80: r5g6b5.
    Rgb565,
    /// 96: a8r8g8b8.
    Argb32,
}

impl SurfaceFormat {
    /// The format for a wire value.
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => SurfaceFormat::A1,
            8 => SurfaceFormat::A8,
            16 => SurfaceFormat::Rgb555,
            32 => SurfaceFormat::Xrgb32,
            80 => SurfaceFormat::Rgb565,
            96 => SurfaceFormat::Argb32,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn to_u32(self) -> u32 {
        match self {
            SurfaceFormat::A1 => 1,
            SurfaceFormat::A8 => 8,
            SurfaceFormat::Rgb555 => 16,
            SurfaceFormat::Xrgb32 => 32,
            SurfaceFormat::Rgb565 => 80,
            SurfaceFormat::Argb32 => 96,
        }
    }
}

/// Refuses an empty surface or one beyond [`MAX_SURFACE_SIDE`] / [`MAX_SURFACE_PIXELS`].
pub fn check_surface_size(width: u32, height: u32) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(ProtocolError::invalid("surface size", format!("{width}×{height} is empty")));
    }
    ProtocolError::check_max("surface side", width.max(height).into(), MAX_SURFACE_SIDE.into())?;
    ProtocolError::check_max("surface pixels", u64::from(width) * u64::from(height), MAX_SURFACE_PIXELS)
}

/// SURFACE_CREATE (20 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurfaceCreate {
    /// Surface id (0 is the primary surface).
    pub surface_id: u32,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Pixel format.
    pub format: SurfaceFormat,
    /// Flags ([`SURFACE_PRIMARY`], [`SURFACE_STREAMING_MODE`]).
    pub flags: u32,
}

impl SurfaceCreate {
    /// Parses the body; refuses unknown formats and sizes beyond the limits.
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let surface_id = r.u32()?;
        let width = r.u32()?;
        let height = r.u32()?;
        let raw = r.u32()?;
        let flags = r.u32()?;
        let format = SurfaceFormat::from_u32(raw)
            .ok_or_else(|| ProtocolError::invalid("surface format", format!("unknown format {raw}")))?;
        check_surface_size(width, height)?;
        Ok(SurfaceCreate { surface_id, width, height, format, flags })
    }

    /// Whether this is the primary surface.
    pub fn is_primary(&self) -> bool {
        self.flags & SURFACE_PRIMARY != 0
    }

    /// Serialises the body (for test servers).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        for v in [self.surface_id, self.width, self.height, self.format.to_u32(), self.flags] {
            out.put_u32_le(v);
        }
        out
    }
}

/// MODE (legacy primary creation): `u32 x_res, u32 y_res, u32 bits` (32 → 32_xRGB, else x555).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// Width.
    pub x_res: u32,
    /// Height.
    pub y_res: u32,
    /// Bits per pixel.
    pub bits: u32,
}

impl Mode {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let mode = Mode { x_res: r.u32()?, y_res: r.u32()?, bits: r.u32()? };
        check_surface_size(mode.x_res, mode.y_res)?;
        Ok(mode)
    }
}

/// One monitor of MONITORS_CONFIG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Monitor id.
    pub monitor_id: u32,
    /// The surface it shows.
    pub surface_id: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// Left edge on the surface.
    pub x: u32,
    /// Top edge on the surface.
    pub y: u32,
    /// Flags.
    pub flags: u32,
}

/// MONITORS_CONFIG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorsConfig {
    /// Most monitors the guest allows.
    pub max_allowed: u16,
    /// The monitors (at most [`MAX_MONITORS`]).
    pub heads: Vec<Head>,
}

impl MonitorsConfig {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let count = r.u16()?;
        let max_allowed = r.u16()?;
        ProtocolError::check_max("monitor count", count.into(), MAX_MONITORS.into())?;
        let mut heads = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            heads.push(Head {
                monitor_id: r.u32()?,
                surface_id: r.u32()?,
                width: r.u32()?,
                height: r.u32()?,
                x: r.u32()?,
                y: r.u32()?,
                flags: r.u32()?,
            });
        }
        Ok(MonitorsConfig { max_allowed, heads })
    }

    /// Serialises the body (for test servers).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 28 * self.heads.len());
        out.put_u16_le(self.heads.len() as u16);
        out.put_u16_le(self.max_allowed);
        for h in &self.heads {
            for v in [h.monitor_id, h.surface_id, h.width, h.height, h.x, h.y, h.flags] {
                out.put_u32_le(v);
            }
        }
        out
    }
}

//! Video stream messages: STREAM_CREATE, STREAM_DATA, STREAM_DATA_SIZED, STREAM_CLIP, STREAM_ACTIVATE_REPORT
//! (STREAM_DESTROY is a bare id, STREAM_DESTROY_ALL is empty).

use super::types::{Clip, Rect};
use super::{sized_bytes, MAX_STREAMS};
use crate::protocol::wire::Reader;
use crate::protocol::{ProtocolError, Result};

/// Stream flag: frames are top row first (otherwise they must be flipped).
pub const STREAM_TOP_DOWN: u8 = 1;

/// Codec of a video stream (`SpiceVideoCodecType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoCodec {
    /// 1: MJPEG (every frame a JPEG).
    Mjpeg,
    /// 2: VP8.
    Vp8,
    /// 3: H.264.
    H264,
    /// 4: VP9.
    Vp9,
    /// 5: H.265.
    H265,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for VideoCodec {
    fn from(v: u8) -> Self {
        match v {
            1 => VideoCodec::Mjpeg,
            2 => VideoCodec::Vp8,
            3 => VideoCodec::H264,
            4 => VideoCodec::Vp9,
            5 => VideoCodec::H265,
            n => VideoCodec::Unknown(n),
        }
    }
}

/// STREAM_CREATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamCreate {
    /// Surface the stream is drawn on.
    pub surface_id: u32,
    /// Stream id (below [`MAX_STREAMS`]).
    pub id: u32,
    /// Flags ([`STREAM_TOP_DOWN`]).
    pub flags: u8,
    /// Codec.
    pub codec: VideoCodec,
    /// Server timestamp.
    pub stamp: u64,
    /// Encoded frame width.
    pub stream_width: u32,
    /// Encoded frame height.
    pub stream_height: u32,
    /// Source width.
    pub src_width: u32,
    /// Source height.
    pub src_height: u32,
    /// Where frames are drawn (scaled).
    pub dest: Rect,
    /// Clip of the stream.
    pub clip: Clip,
}

impl StreamCreate {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self> {
        let surface_id = r.u32()?;
        let id = r.u32()?;
        ProtocolError::check_max("stream id", id.into(), u64::from(MAX_STREAMS) - 1)?;
        Ok(StreamCreate {
            surface_id,
            id,
            flags: r.u8()?,
            codec: VideoCodec::from(r.u8()?),
            stamp: r.u64()?,
            stream_width: r.u32()?,
            stream_height: r.u32()?,
            src_width: r.u32()?,
            src_height: r.u32()?,
            dest: Rect::read(r)?,
            clip: Clip::read(r)?,
        })
    }
}

/// STREAM_DATA: one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamData<'a> {
    /// Stream id.
    pub id: u32,
    /// Multimedia time at which to show the frame.
    pub mm_time: u32,
    /// The encoded frame.
    pub data: &'a [u8],
}

impl<'a> StreamData<'a> {
    pub(super) fn parse(r: &mut Reader<'a>) -> Result<Self> {
        Ok(StreamData { id: r.u32()?, mm_time: r.u32()?, data: sized_bytes(r)? })
    }
}

/// STREAM_DATA_SIZED: one frame with its own size and destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDataSized<'a> {
    /// Stream id.
    pub id: u32,
    /// Multimedia time at which to show the frame.
    pub mm_time: u32,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Where this frame is drawn.
    pub dest: Rect,
    /// The encoded frame.
    pub data: &'a [u8],
}

impl<'a> StreamDataSized<'a> {
    pub(super) fn parse(r: &mut Reader<'a>) -> Result<Self> {
        Ok(StreamDataSized {
            id: r.u32()?,
            mm_time: r.u32()?,
            width: r.u32()?,
            height: r.u32()?,
            dest: Rect::read(r)?,
            data: sized_bytes(r)?,
        })
    }
}

/// STREAM_CLIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamClip {
    /// Stream id.
    pub id: u32,
    /// The new clip.
    pub clip: Clip,
}

impl StreamClip {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(StreamClip { id: r.u32()?, clip: Clip::read(r)? })
    }
}

/// STREAM_ACTIVATE_REPORT: the server wants STREAM_REPORT messages for this stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamActivateReport {
    /// Stream id.
    pub stream_id: u32,
    /// Id to echo in reports.
    pub unique_id: u32,
    /// Most frames one report may cover.
    pub max_window_size: u32,
    /// Longest time between reports in milliseconds.
    pub timeout_ms: u32,
}

impl StreamActivateReport {
    pub(super) fn parse(r: &mut Reader<'_>) -> Result<Self> {
        Ok(StreamActivateReport {
            stream_id: r.u32()?,
            unique_id: r.u32()?,
            max_window_size: r.u32()?,
            timeout_ms: r.u32()?,
        })
    }
}

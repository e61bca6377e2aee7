//! Video streams: the server's MJPEG streams, each frame a complete JPEG drawn into the stream's destination
//! (scaled when sizes differ) and cut by the stream's clip.
//!
//! Only MJPEG is advertised (CODEC_MJPEG with MULTI_CODEC), so a stream of another codec is refused at its
//! STREAM_CREATE and its frames are refused as frames of an unknown stream. Ids are below 64 (the parser checks
//! STREAM_CREATE; data, clip and destroy of an id that was never created are refused or ignored).

use super::region::{self, Area};
use super::CanvasError;
use crate::codecs::{jpeg, Limits, Pixels};
use crate::protocol::display::stream::{StreamClip, StreamCreate, VideoCodec, STREAM_TOP_DOWN};
use crate::protocol::display::{Clip, Rect, MAX_STREAMS};

/// One live stream.
#[derive(Debug, Clone)]
struct Stream {
    surface_id: u32,
    top_down: bool,
    dest: Rect,
    clip: Clip,
}

/// The live streams of a display channel.
#[derive(Debug, Default)]
pub struct Streams {
    live: Vec<Option<Stream>>,
}

/// A decoded frame and where it goes.
#[derive(Debug)]
pub struct Frame {
    /// The surface it is drawn on.
    pub surface_id: u32,
    /// The rectangle the whole frame is scaled into.
    pub dest: Rect,
    /// The stream's clip.
    pub clip: Clip,
    /// The frame, top row first.
    pub pixels: Pixels,
}

impl Streams {
    fn slot(&mut self, id: u32) -> Option<&mut Option<Stream>> {
        if id >= MAX_STREAMS {
            return None;
        }
        if self.live.len() < MAX_STREAMS as usize {
            self.live.resize(MAX_STREAMS as usize, None);
        }
        self.live.get_mut(id as usize)
    }

    /// STREAM_CREATE: an MJPEG stream; any other codec is refused (ryll does not offer it).
    pub fn create(&mut self, c: &StreamCreate) -> Result<(), CanvasError> {
        if c.codec != VideoCodec::Mjpeg {
            return Err(CanvasError::Unsupported("video streams other than MJPEG"));
        }
        if !c.dest.is_valid() || c.dest.is_empty() {
            return Err(CanvasError::invalid("stream destination", format!("{:?} is empty", c.dest)));
        }
        let slot = self.slot(c.id).ok_or_else(|| CanvasError::invalid("stream id", format!("{} ≥ 64", c.id)))?;
        *slot = Some(Stream {
            surface_id: c.surface_id,
            top_down: c.flags & STREAM_TOP_DOWN != 0,
            dest: c.dest,
            clip: c.clip.clone(),
        });
        Ok(())
    }

    /// STREAM_CLIP.
    pub fn clip(&mut self, c: &StreamClip) -> Result<(), CanvasError> {
        match self.slot(c.id).and_then(Option::as_mut) {
            Some(s) => {
                s.clip = c.clip.clone();
                Ok(())
            }
            None => Err(CanvasError::NoStream(c.id)),
        }
    }

    /// STREAM_DESTROY (an unknown id is ignored).
    pub fn destroy(&mut self, id: u32) {
        if let Some(slot) = self.slot(id) {
            *slot = None;
        }
    }

    /// STREAM_DESTROY_ALL.
    pub fn destroy_all(&mut self) {
        self.live.clear();
    }

    /// The surfaces streams draw on, to drop streams of a destroyed surface.
    pub fn drop_surface(&mut self, surface_id: u32) {
        for slot in &mut self.live {
            if slot.as_ref().is_some_and(|s| s.surface_id == surface_id) {
                *slot = None;
            }
        }
    }

    /// STREAM_DATA (`sized` None) or STREAM_DATA_SIZED (the frame's own size and destination): decodes the frame.
    pub fn frame(
        &mut self,
        id: u32,
        sized: Option<(u32, u32, Rect)>,
        data: &[u8],
        limits: &Limits,
    ) -> Result<Frame, CanvasError> {
        let stream = self.slot(id).and_then(|s| s.as_ref()).cloned().ok_or(CanvasError::NoStream(id))?;
        let mut pixels = jpeg::decode(data, limits)?;
        let dest = match sized {
            Some((w, h, dest)) => {
                if (w, h) != (pixels.width, pixels.height) {
                    return Err(CanvasError::invalid(
                        "stream frame",
                        format!("a {}×{} JPEG in a {w}×{h} frame", pixels.width, pixels.height),
                    ));
                }
                dest
            }
            None => stream.dest,
        };
        if !dest.is_valid() || dest.is_empty() {
            return Err(CanvasError::invalid("stream destination", format!("{dest:?} is empty")));
        }
        if !stream.top_down {
            pixels.flip_rows();
        }
        Ok(Frame { surface_id: stream.surface_id, dest, clip: stream.clip, pixels })
    }
}

/// Where a frame lands on a `width × height` surface.
pub fn frame_areas(frame: &Frame, width: u32, height: u32) -> Vec<Area> {
    region::effective(&frame.dest, &frame.clip, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(id: u32, codec: VideoCodec, flags: u8) -> StreamCreate {
        StreamCreate {
            surface_id: 0,
            id,
            flags,
            codec,
            stamp: 0,
            stream_width: 8,
            stream_height: 8,
            src_width: 8,
            src_height: 8,
            dest: Rect { top: 0, left: 0, bottom: 8, right: 8 },
            clip: Clip::None,
        }
    }

    #[test]
    fn only_mjpeg_streams_are_created_and_frames_need_a_stream() {
        let mut s = Streams::default();
        assert!(matches!(s.create(&create(1, VideoCodec::H264, 0)), Err(CanvasError::Unsupported(_))));
        assert!(matches!(s.frame(1, None, b"", &Limits::default()), Err(CanvasError::NoStream(1))));
        s.create(&create(1, VideoCodec::Mjpeg, STREAM_TOP_DOWN)).unwrap();
        assert!(matches!(s.frame(1, None, b"not a jpeg", &Limits::default()), Err(CanvasError::Decode(_))));
        s.destroy(1);
        assert!(matches!(s.frame(1, None, b"", &Limits::default()), Err(CanvasError::NoStream(1))));
        s.destroy(77);
        assert!(matches!(s.clip(&StreamClip { id: 77, clip: Clip::None }), Err(CanvasError::NoStream(77))));
    }
}

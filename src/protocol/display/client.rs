//! The client's display messages: DISPLAY_INIT (mandatory, 14 packed bytes), STREAM_REPORT,
//! PREFERRED_COMPRESSION, PREFERRED_VIDEO_CODEC_TYPE and GL_DRAW_DONE. Each encoder returns the message type and
//! body; DISPLAY_INIT and STREAM_REPORT also parse, for test servers.

use crate::protocol::constants::msgc;
use crate::protocol::wire::{PutLe, Reader};
use crate::protocol::{ProtocolError, Result};

/// Largest GLZ dictionary window the server accepts (2^25 pixels); a larger one makes its display init fail.
pub const MAX_GLZ_WINDOW: i32 = 1 << 25;

/// DISPLAY_INIT: the client's pixmap cache and GLZ dictionary. The server sends nothing but SET_ACK before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayInit {
    /// Pixmap cache id (shared by the session's display channels).
    pub pixmap_cache_id: u8,
    /// Pixmap cache budget in pixels; 0 means the server never caches.
    pub pixmap_cache_size: i64,
    /// GLZ dictionary id.
    pub glz_dictionary_id: u8,
    /// GLZ window in pixels (at most [`MAX_GLZ_WINDOW`]); 0 makes the server fall back from GLZ to LZ.
    pub glz_dictionary_window_size: i32,
}

impl DisplayInit {
    /// Encodes the 14-byte body; refuses a window the server would reject.
    pub fn encode(&self) -> Result<(u16, Vec<u8>)> {
        if !(0..=MAX_GLZ_WINDOW).contains(&self.glz_dictionary_window_size) {
            return Err(ProtocolError::invalid(
                "GLZ dictionary window",
                format!("{} pixels is outside 0..={MAX_GLZ_WINDOW}", self.glz_dictionary_window_size),
            ));
        }
        let mut out = Vec::with_capacity(14);
        out.push(self.pixmap_cache_id);
        out.put_u64_le(self.pixmap_cache_size as u64);
        out.push(self.glz_dictionary_id);
        out.put_u32_le(self.glz_dictionary_window_size as u32);
        Ok((msgc::DISPLAY_INIT, out))
    }

    /// Parses the body (for test servers).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "DISPLAY_INIT");
        Ok(DisplayInit {
            pixmap_cache_id: r.u8()?,
            pixmap_cache_size: r.i64()?,
            glz_dictionary_id: r.u8()?,
            glz_dictionary_window_size: r.i32()?,
        })
    }
}

/// `audio_delay` of a STREAM_REPORT when there is no audio.
pub const NO_AUDIO_DELAY: u32 = u32::MAX;

/// STREAM_REPORT: playback statistics of a stream (after STREAM_ACTIVATE_REPORT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamReport {
    /// Stream id.
    pub stream_id: u32,
    /// The id from STREAM_ACTIVATE_REPORT.
    pub unique_id: u32,
    /// mm time of the first frame covered.
    pub start_frame_mm_time: u32,
    /// mm time of the last frame covered.
    pub end_frame_mm_time: u32,
    /// Frames received.
    pub num_frames: u32,
    /// Frames dropped.
    pub num_drops: u32,
    /// How late the last frame was shown, in milliseconds.
    pub last_frame_delay: i32,
    /// Audio delay in milliseconds, or [`NO_AUDIO_DELAY`].
    pub audio_delay: u32,
}

impl StreamReport {
    /// The report that tells the server a stream cannot be played (0 frames, 0xffffffff drops).
    pub fn unsupported(stream_id: u32, unique_id: u32) -> Self {
        StreamReport {
            stream_id,
            unique_id,
            start_frame_mm_time: 0,
            end_frame_mm_time: 0,
            num_frames: 0,
            num_drops: u32::MAX,
            last_frame_delay: 0,
            audio_delay: NO_AUDIO_DELAY,
        }
    }

    /// Encodes the 32-byte body.
    pub fn encode(&self) -> (u16, Vec<u8>) {
        let mut out = Vec::with_capacity(32);
        for v in [
            self.stream_id,
            self.unique_id,
            self.start_frame_mm_time,
            self.end_frame_mm_time,
            self.num_frames,
            self.num_drops,
            self.last_frame_delay as u32,
            self.audio_delay,
        ] {
            out.put_u32_le(v);
        }
        (msgc::DISPLAY_STREAM_REPORT, out)
    }

    /// Parses the body (for test servers).
    pub fn parse(body: &[u8]) -> Result<Self> {
        let mut r = Reader::new(body, "STREAM_REPORT");
        Ok(StreamReport {
            stream_id: r.u32()?,
            unique_id: r.u32()?,
            start_frame_mm_time: r.u32()?,
            end_frame_mm_time: r.u32()?,
            num_frames: r.u32()?,
            num_drops: r.u32()?,
            last_frame_delay: r.i32()?,
            audio_delay: r.u32()?,
        })
    }
}

/// Image compression a client may ask for (`SpiceImageCompression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCompression {
    /// 1: raw bitmaps only.
    Off,
    /// 2: GLZ or QUIC, the server's choice.
    AutoGlz,
    /// 3: LZ or QUIC, the server's choice.
    AutoLz,
    /// 4: QUIC.
    Quic,
    /// 5: GLZ.
    Glz,
    /// 6: LZ.
    Lz,
    /// 7: LZ4 (needs the LZ4_COMPRESSION capability).
    Lz4,
}

impl ImageCompression {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            ImageCompression::Off => 1,
            ImageCompression::AutoGlz => 2,
            ImageCompression::AutoLz => 3,
            ImageCompression::Quic => 4,
            ImageCompression::Glz => 5,
            ImageCompression::Lz => 6,
            ImageCompression::Lz4 => 7,
        }
    }
}

/// PREFERRED_COMPRESSION (only meaningful when the server has the PREF_COMPRESSION capability).
pub fn encode_preferred_compression(c: ImageCompression) -> (u16, Vec<u8>) {
    (msgc::DISPLAY_PREFERRED_COMPRESSION, vec![c.to_u8()])
}

/// PREFERRED_VIDEO_CODEC_TYPE: codec numbers (see `stream::VideoCodec`) in order of preference, at most 255.
pub fn encode_preferred_video_codecs(codecs: &[u8]) -> Result<(u16, Vec<u8>)> {
    let n = u8::try_from(codecs.len()).map_err(|_| ProtocolError::TooLarge {
        what: "video codec count",
        value: codecs.len() as u64,
        max: 255,
    })?;
    let mut out = Vec::with_capacity(1 + codecs.len());
    out.push(n);
    out.extend_from_slice(codecs);
    Ok((msgc::DISPLAY_PREFERRED_VIDEO_CODEC_TYPE, out))
}

/// GL_DRAW_DONE (empty).
pub fn encode_gl_draw_done() -> (u16, Vec<u8>) {
    (msgc::DISPLAY_GL_DRAW_DONE, Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_init_is_14_packed_bytes() {
        let init = DisplayInit {
            pixmap_cache_id: 1,
            pixmap_cache_size: 20 << 20,
            glz_dictionary_id: 1,
            glz_dictionary_window_size: 4 << 20,
        };
        let (t, body) = init.encode().unwrap();
        assert_eq!(t, 101);
        assert_eq!(body, vec![1, 0, 0, 0x40, 1, 0, 0, 0, 0, 1, 0, 0, 0x40, 0]);
        assert_eq!(DisplayInit::parse(&body).unwrap(), init);
        assert!(DisplayInit::parse(&body[..13]).is_err());
        let too_big = DisplayInit { glz_dictionary_window_size: MAX_GLZ_WINDOW + 1, ..init };
        assert!(too_big.encode().is_err());
        let negative = DisplayInit { glz_dictionary_window_size: -1, ..init };
        assert!(negative.encode().is_err());
    }

    #[test]
    fn stream_report_and_small_messages() {
        let r = StreamReport::unsupported(3, 9);
        let (t, body) = r.encode();
        assert_eq!((t, body.len()), (102, 32));
        assert_eq!(&body[20..24], &[0xff; 4]);
        assert_eq!(StreamReport::parse(&body).unwrap(), r);
        assert!(StreamReport::parse(&body[..31]).is_err());
        assert_eq!(encode_preferred_compression(ImageCompression::Lz), (103, vec![6]));
        assert_eq!(encode_preferred_compression(ImageCompression::Off), (103, vec![1]));
        assert_eq!(encode_preferred_video_codecs(&[1, 3]).unwrap(), (105, vec![2, 1, 3]));
        assert!(encode_preferred_video_codecs(&[1; 256]).is_err());
        assert_eq!(encode_gl_draw_done(), (104, vec![]));
    }
}

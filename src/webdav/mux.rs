//! The WebDAV mux: framing of many guest TCP connections over the one WebDAV port stream.
//!
//! Each frame is `i64 client id | u16 payload size | payload` (little-endian). Frames form a byte stream that the
//! SPICE server slices into SPICEVMC_DATA messages without regard for frame boundaries, so [`Demuxer`] keeps a
//! reassembly buffer. A size-0 frame closes a client. Client ids are opaque keys chosen by the guest
//! (spice-webdavd uses truncated pointers) and may be reused after a close.
//!
//! [`Splitter`] is what the channel uses: it hands out payload pieces as slices of the received messages, so guest
//! data is never copied here. [`Demuxer`] reassembles whole frames (tests and fuzzing compare the two).
//!
//! This module is pure: no I/O, no tasks. The channel drives it.

use bytes::{Buf, Bytes, BytesMut};

/// Size of a frame header.
pub const FRAME_HEADER_SIZE: usize = 10;
/// Largest payload one frame carries (the guest reads into a 65 535-byte buffer).
pub const MAX_FRAME_PAYLOAD: usize = u16::MAX as usize;

/// A guest connection id.
pub type ClientId = i64;

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The guest connection.
    pub id: ClientId,
    /// The payload; empty means "this connection closed".
    pub payload: Bytes,
}

/// Reassembles frames from arbitrary slices of the guest's byte stream.
#[derive(Debug, Default)]
pub struct Demuxer {
    buf: BytesMut,
}

impl Demuxer {
    /// An empty demuxer.
    pub fn new() -> Self {
        Demuxer::default()
    }

    /// Appends bytes received from the guest.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Takes the next complete frame, if the buffer holds one. Never holds more than one partial frame
    /// (≤ 65 545 bytes) beyond what was pushed and not yet taken.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let header = self.buf.get(..FRAME_HEADER_SIZE)?;
        let mut h = header;
        let id = h.get_i64_le();
        let size = h.get_u16_le() as usize;
        if self.buf.len() < FRAME_HEADER_SIZE + size {
            return None;
        }
        self.buf.advance(FRAME_HEADER_SIZE);
        let payload = self.buf.split_to(size).freeze();
        Some(Frame { id, payload })
    }

    /// Bytes buffered but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops any partial frame (the port closed).
    pub fn reset(&mut self) {
        self.buf.clear();
    }
}

/// What [`Splitter`] finds in the guest's byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Payload of a frame for `id`: all of it, or the part that has arrived. `first` marks the frame's first
    /// piece (where the routing decision is made); the pieces of one frame follow each other.
    Data {
        /// The guest connection.
        id: ClientId,
        /// Payload bytes (never empty).
        data: Bytes,
        /// Whether this piece starts a frame.
        first: bool,
    },
    /// A size-0 frame: the guest connection `id` closed.
    Close(ClientId),
}

/// Splits the guest's byte stream into frame pieces without copying payload: each piece is a slice of the
/// [`Bytes`] pushed in. A frame split across SPICE messages (spice-server slices the stream every 65 568 bytes,
/// regardless of frames) comes out as several pieces; only a frame header split across messages is copied
/// (10 bytes). Holds no payload itself.
#[derive(Debug, Default)]
pub struct Splitter {
    input: Bytes,
    header: [u8; FRAME_HEADER_SIZE],
    have: usize,
    /// The frame being received: its id, payload bytes still to come, and whether none has been handed out yet.
    current: Option<(ClientId, usize, bool)>,
}

impl Splitter {
    /// An empty splitter.
    pub fn new() -> Self {
        Splitter::default()
    }

    /// Appends bytes received from the guest. Take every piece of the previous push first ([`Splitter::next_piece`]
    /// returns `None`); anything left of it would be dropped.
    pub fn push(&mut self, data: Bytes) {
        debug_assert!(self.input.is_empty(), "Splitter::push before the previous data was consumed");
        self.input = data;
    }

    /// The next piece, if the pushed data holds one.
    pub fn next_piece(&mut self) -> Option<Piece> {
        loop {
            if self.input.is_empty() {
                return None;
            }
            if let Some((id, left, first)) = self.current {
                let n = left.min(self.input.len());
                let data = self.input.split_to(n);
                self.current = (left > n).then_some((id, left - n, false));
                return Some(Piece::Data { id, data, first });
            }
            let n = (FRAME_HEADER_SIZE - self.have).min(self.input.len());
            let dst = self.header.get_mut(self.have..self.have + n)?;
            dst.copy_from_slice(self.input.get(..n)?);
            self.input.advance(n);
            self.have += n;
            if self.have == FRAME_HEADER_SIZE {
                self.have = 0;
                let mut h = &self.header[..];
                let id = h.get_i64_le();
                let size = h.get_u16_le() as usize;
                if size == 0 {
                    return Some(Piece::Close(id));
                }
                self.current = Some((id, size, true));
            }
        }
    }

    /// Drops any partial frame (the port closed).
    pub fn reset(&mut self) {
        *self = Splitter::default();
    }
}

/// Encodes one frame. `payload` must be at most [`MAX_FRAME_PAYLOAD`] bytes; use [`encode_frames`] otherwise.
pub fn encode_frame(id: ClientId, payload: &[u8]) -> Option<Vec<u8>> {
    let size = u16::try_from(payload.len()).ok()?;
    let mut out = Vec::with_capacity(FRAME_HEADER_SIZE + payload.len());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(payload);
    Some(out)
}

/// Encodes `data` as as many frames as needed (each payload ≤ 65 535 bytes), concatenated. Empty `data` gives
/// one close frame.
pub fn encode_frames(id: ClientId, data: &[u8]) -> Vec<u8> {
    if data.is_empty() {
        return encode_close(id);
    }
    let mut out = Vec::with_capacity(data.len() + FRAME_HEADER_SIZE * data.len().div_ceil(MAX_FRAME_PAYLOAD));
    for chunk in data.chunks(MAX_FRAME_PAYLOAD) {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(chunk.len() as u16).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

/// Encodes the size-0 frame that says "this connection closed".
pub fn encode_close(id: ClientId) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_SIZE);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// What to do with a frame, given the client table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Deliver to the existing connection.
    Deliver,
    /// Start a new connection for this id, then deliver.
    Open,
    /// Start nothing: the table is full. Answer 503 and close.
    Refuse,
    /// Close the existing connection.
    Close,
    /// A close for an id with no connection: nothing to do.
    Ignore,
}

/// The client table's decision rule: pure, so it is tested on its own.
pub fn route(frame_is_close: bool, known: bool, open_clients: usize, max_clients: usize) -> Route {
    match (frame_is_close, known) {
        (true, true) => Route::Close,
        (true, false) => Route::Ignore,
        (false, true) => Route::Deliver,
        (false, false) if open_clients >= max_clients => Route::Refuse,
        (false, false) => Route::Open,
    }
}

/// A set of client ids that holds at most a given number, forgetting the oldest first: the ids of refused guest
/// connections, so their later frames are dropped, bounded however many connections the guest opens.
#[derive(Debug, Default)]
pub struct RecentIds {
    order: std::collections::VecDeque<ClientId>,
    set: std::collections::HashSet<ClientId>,
}

impl RecentIds {
    /// Adds `id`, forgetting the oldest ids while more than `max` are held.
    pub fn insert(&mut self, id: ClientId, max: usize) {
        if self.set.insert(id) {
            self.order.push_back(id);
        }
        while self.order.len() > max {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
    }

    /// Whether `id` is held.
    pub fn contains(&self, id: &ClientId) -> bool {
        self.set.contains(id)
    }

    /// Forgets `id`.
    pub fn remove(&mut self, id: &ClientId) {
        if self.set.remove(id) {
            self.order.retain(|i| i != id);
        }
    }

    /// Forgets every id.
    pub fn clear(&mut self) {
        self.order.clear();
        self.set.clear();
    }

    /// How many ids are held.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(d: &mut Demuxer) -> Vec<Frame> {
        std::iter::from_fn(|| d.next_frame()).collect()
    }

    #[test]
    fn several_frames_in_one_message() {
        let mut data = encode_frame(1, b"GET / HTTP/1.1\r\n").unwrap();
        data.extend(encode_frame(-5, b"xy").unwrap());
        data.extend(encode_close(1));
        let mut d = Demuxer::new();
        d.push(&data);
        let got = frames(&mut d);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Frame { id: 1, payload: Bytes::from_static(b"GET / HTTP/1.1\r\n") });
        assert_eq!(got[1].id, -5);
        assert!(got[2].payload.is_empty());
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_frame_fragmented_byte_by_byte() {
        let data = encode_frame(0x7fff_ffff_0000_0001, &[9u8; 300]).unwrap();
        let mut d = Demuxer::new();
        for (i, b) in data.iter().enumerate() {
            d.push(&[*b]);
            let f = d.next_frame();
            if i + 1 < data.len() {
                assert!(f.is_none());
            } else {
                assert_eq!(f.unwrap().payload.len(), 300);
            }
        }
    }

    #[test]
    fn fragment_across_messages_with_merge() {
        let mut stream = encode_frame(3, &[1u8; 65_535]).unwrap();
        stream.extend(encode_frame(4, &[2u8; 10]).unwrap());
        // The server slices the stream into 65 568-byte messages.
        let mut d = Demuxer::new();
        let mut got = Vec::new();
        for chunk in stream.chunks(65_568) {
            d.push(chunk);
            got.extend(frames(&mut d));
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payload.len(), 65_535);
        assert_eq!(got[1], Frame { id: 4, payload: Bytes::from(vec![2u8; 10]) });
    }

    #[test]
    fn max_size_frames_and_the_65536_split() {
        assert!(encode_frame(1, &[0u8; 65_535]).is_some());
        assert!(encode_frame(1, &[0u8; 65_536]).is_none());
        let data: Vec<u8> = (0..65_536u32).map(|i| i as u8).collect();
        let encoded = encode_frames(9, &data);
        let mut d = Demuxer::new();
        d.push(&encoded);
        let got = frames(&mut d);
        assert_eq!(got.iter().map(|f| f.payload.len()).collect::<Vec<_>>(), vec![65_535, 1]);
        let joined: Vec<u8> = got.iter().flat_map(|f| f.payload.to_vec()).collect();
        assert_eq!(joined, data);
        assert_eq!(encode_frames(9, &[]), encode_close(9));
    }

    #[test]
    fn routing_rules() {
        assert_eq!(route(false, false, 0, 256), Route::Open);
        assert_eq!(route(false, true, 10, 256), Route::Deliver);
        assert_eq!(route(true, true, 10, 256), Route::Close);
        assert_eq!(route(true, false, 10, 256), Route::Ignore);
        assert_eq!(route(false, false, 256, 256), Route::Refuse);
        // An id reused after a close: the close removed it, so its next data opens a new connection.
        assert_eq!(route(false, false, 255, 256), Route::Open);
    }

    /// Frames rebuilt from pieces (and closes as empty frames), to compare with [`Demuxer`].
    fn splitter_frames(chunks: &[&[u8]]) -> Vec<Frame> {
        let mut s = Splitter::new();
        let mut out: Vec<Frame> = Vec::new();
        for chunk in chunks {
            s.push(Bytes::copy_from_slice(chunk));
            while let Some(p) = s.next_piece() {
                match p {
                    Piece::Close(id) => out.push(Frame { id, payload: Bytes::new() }),
                    Piece::Data { id, data, first: true } => out.push(Frame { id, payload: data }),
                    Piece::Data { id, data, first: false } => {
                        let last = out.last_mut().expect("a continuation follows a first piece");
                        assert_eq!(last.id, id);
                        let mut joined = last.payload.to_vec();
                        joined.extend_from_slice(&data);
                        last.payload = Bytes::from(joined);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn splitter_matches_the_demuxer_for_any_slicing() {
        let mut stream = encode_frame(3, &[1u8; 65_535]).unwrap();
        stream.extend(encode_frame(-4, b"GET / HTTP/1.1\r\n\r\n").unwrap());
        stream.extend(encode_close(3));
        stream.extend(encode_frames(i64::MIN, &(0..70_000u32).map(|i| i as u8).collect::<Vec<_>>()));
        stream.extend(encode_close(-4));
        let mut whole = Demuxer::new();
        whole.push(&stream);
        let want = frames(&mut whole);
        assert_eq!(want.len(), 6);
        // Message sizes as spice-server uses them, tiny ones, and pseudo-random ones.
        let mut x = 0x1234_5678_9abc_def0u64;
        for size in [65_568usize, 1, 9, 10, 11, 4096, 0] {
            let chunks: Vec<&[u8]> = if size == 0 {
                let mut v = Vec::new();
                let mut rest = &stream[..];
                while !rest.is_empty() {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let n = (x % 20_000) as usize + 1;
                    let (a, b) = rest.split_at(n.min(rest.len()));
                    v.push(a);
                    rest = b;
                }
                v
            } else {
                stream.chunks(size).collect()
            };
            assert_eq!(splitter_frames(&chunks), want, "slicing {size}");
        }
    }

    #[test]
    fn splitter_pieces_share_the_pushed_buffer() {
        let data = Bytes::from(encode_frame(7, &[5u8; 1000]).unwrap());
        let mut s = Splitter::new();
        s.push(data.clone());
        let Some(Piece::Data { id: 7, data: piece, first: true }) = s.next_piece() else { panic!("no piece") };
        assert_eq!(piece.as_ptr(), data[FRAME_HEADER_SIZE..].as_ptr());
        assert_eq!(s.next_piece(), None);
        s.push(Bytes::from(encode_frame(8, b"ab").unwrap()[..5].to_vec()));
        assert_eq!(s.next_piece(), None);
        s.reset();
        s.push(Bytes::from(encode_close(9)));
        assert_eq!(s.next_piece(), Some(Piece::Close(9)));
    }

    #[test]
    fn reset_drops_partial_frames() {
        let data = encode_frame(1, b"abcdef").unwrap();
        let mut d = Demuxer::new();
        d.push(&data[..5]);
        d.reset();
        d.push(&encode_frame(2, b"z").unwrap());
        assert_eq!(frames(&mut d), vec![Frame { id: 2, payload: Bytes::from_static(b"z") }]);
    }

    #[test]
    fn recent_ids_forget_the_oldest_past_their_bound() {
        let mut r = RecentIds::default();
        for id in 0..10 {
            r.insert(id, 3);
        }
        assert_eq!(r.len(), 3);
        assert!(!r.contains(&6) && r.contains(&7) && r.contains(&9));
        r.insert(9, 3);
        assert_eq!(r.len(), 3, "an id already held is not added twice");
        r.remove(&8);
        assert!(!r.contains(&8) && r.len() == 2);
        r.clear();
        assert!(r.is_empty());
    }
}

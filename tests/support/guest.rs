//! The guest side of the WebDAV channel: what spice-webdavd and the guest's HTTP clients would do.
//!
//! Guest connections are mux ids; bytes a connection sends are framed (payloads ≤ 65 535 bytes) and go into the
//! device stream, which the server packs into SPICEVMC_DATA messages of up to 65 568 bytes regardless of frame
//! boundaries. What ryll sends back is demuxed by the server and filed per id (see [`State::streams`]).

use super::http::{parse_response, Response};
use super::server::{next_guest_id, send_ping, webdav_tx, Inner, Out, Pong, State};
use ryll::protocol::constants::{msg, ChannelType};
use ryll::protocol::vmc::{CompressedData, CompressionType, PortEvent};
use ryll::webdav::mux::{encode_close, encode_frames};
use std::sync::Arc;

/// The guest end of the WebDAV channel. Cheap to clone.
#[derive(Clone)]
pub struct FakeGuest {
    inner: Arc<Inner>,
}

impl FakeGuest {
    pub(crate) fn new(inner: Arc<Inner>) -> Self {
        FakeGuest { inner }
    }

    /// A new guest connection with the next id (1, 2, 3, ...).
    pub fn connect(&self) -> GuestConn {
        self.conn(next_guest_id(&self.inner))
    }

    /// A guest connection with a chosen id (any i64, also negative; reusing an id is allowed).
    pub fn conn(&self, id: i64) -> GuestConn {
        GuestConn { id, inner: self.inner.clone() }
    }

    /// Sends PORT_EVENT (the guest opened or closed the virtio port, or a break).
    pub fn port_event(&self, ev: PortEvent) {
        self.inner.update(|st| match ev {
            PortEvent::Opened => st.port_open = true,
            PortEvent::Closed => st.port_open = false,
            _ => {}
        });
        self.send(Out::Msg(msg::PORT_EVENT, vec![ev.to_u8()]));
    }

    /// Sends device bytes (already framed) as one LZ4 COMPRESSED_DATA message.
    pub fn send_compressed(&self, device_bytes: &[u8]) {
        self.send_compressed_claiming(device_bytes, device_bytes.len() as u32);
    }

    /// Like [`send_compressed`](Self::send_compressed) but announcing `claimed` as the decompressed size.
    pub fn send_compressed_claiming(&self, device_bytes: &[u8], claimed: u32) {
        let packed = lz4_flex::block::compress(device_bytes);
        let body = CompressedData { kind: CompressionType::Lz4, uncompressed_size: claimed, data: &packed }.encode();
        self.send(Out::Msg(msg::SPICEVMC_COMPRESSED_DATA, body));
    }

    /// Frames `data` for connection `id` without sending it (to build compressed messages).
    pub fn frames(&self, id: i64, data: &[u8]) -> Vec<u8> {
        self.inner.update(|st| st.guest_ids.insert(id));
        encode_frames(id, data)
    }

    /// Sends any message on the WebDAV channel, as a hostile server would.
    pub fn raw(&self, msg_type: u16, body: Vec<u8>) {
        self.send(Out::Msg(msg_type, body));
    }

    /// Sends PING on the WebDAV channel.
    pub fn ping(&self, id: u32) {
        send_ping(&self.inner, &webdav_tx(&self.inner), ChannelType::Webdav, id, 0);
    }

    /// Waits for the WebDAV channel's PONG for PING `id`.
    pub async fn wait_pong(&self, id: u32) -> Pong {
        self.inner
            .wait(&format!("the webdav PONG for ping {id}"), |st| st.webdav_pongs.iter().find(|p| p.id == id).copied())
            .await
    }

    fn send(&self, out: Out) {
        let _ = webdav_tx(&self.inner).send(out);
    }
}

/// One guest TCP connection, as a mux id.
#[derive(Clone)]
pub struct GuestConn {
    id: i64,
    inner: Arc<Inner>,
}

impl GuestConn {
    /// The mux id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Sends bytes from the guest application (framed into ≤ 65 535-byte frames).
    pub fn send(&self, data: &[u8]) {
        assert!(!data.is_empty(), "use close() to send a size-0 frame");
        self.inner.update(|st| st.guest_ids.insert(self.id));
        let _ = webdav_tx(&self.inner).send(Out::Device(encode_frames(self.id, data)));
    }

    /// Sends the size-0 frame: the guest application closed this connection.
    pub fn close(&self) {
        let _ = webdav_tx(&self.inner).send(Out::Device(encode_close(self.id)));
    }

    /// Reads one complete HTTP/1.1 response from what ryll sent to this id.
    pub async fn read_response(&self) -> Response {
        let id = self.id;
        self.inner
            .wait(&format!("an HTTP response on guest connection {id}"), |st| {
                let s = st.stream(id);
                let (resp, used) = parse_response(&s.buf, s.closes > 0)?;
                s.buf.drain(..used);
                Some(resp)
            })
            .await
    }

    /// Sends `request` and reads the response.
    pub async fn request(&self, request: &[u8]) -> Response {
        self.send(request);
        self.read_response().await
    }

    /// Waits until ryll has sent `n` size-0 frames for this id.
    pub async fn wait_closes(&self, n: usize) {
        let id = self.id;
        self.inner
            .wait(&format!("size-0 frame {n} for guest connection {id}"), |st| {
                (st.stream(id).closes >= n).then_some(())
            })
            .await;
    }

    /// Waits until ryll has sent at least `n` payload bytes to this id.
    pub async fn wait_received(&self, n: u64) {
        let id = self.id;
        self.inner
            .wait(&format!("{n} bytes on guest connection {id}"), |st| (st.stream(id).total >= n).then_some(()))
            .await;
    }

    /// Payload bytes ryll has sent to this id so far.
    pub fn received(&self) -> u64 {
        self.inner.lock().stream(self.id).total
    }

    /// Bytes received and not yet consumed by a reader.
    pub fn unread(&self) -> usize {
        self.inner.lock().stream(self.id).buf.len()
    }

    /// Inspects the server state.
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.inner.lock())
    }
}

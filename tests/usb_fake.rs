//! The usbredir channel against the fake SPICE server, with the test playing the usb-guest (QEMU's `usb-redir`):
//! the hellos and the attach sequence, configuration, a descriptor read, Bulk-Only commands that read and write the
//! image file, a large read split across messages and LZ4-compressed, hostile bytes that end the channel with the
//! reason (and a relink that attaches the disk again), and a server without a usbredir channel.

mod support;

use std::time::Duration;

use ryll::channels::compression::ShareCompression;
use ryll::channels::usbredir::{Speed, UsbDisk};
use ryll::channels::webdav::WebdavConfig;
use ryll::protocol::usbredir::{
    encode, ep_index, kind, status, Bulk, Control, Deframer, Message, Negotiated, Packet, Sender, MAX_PACKET_LEN,
    OUR_CAPS,
};
use ryll::session::{SessionConfig, SessionEvent};
use support::server::USBREDIR;
use support::{FakeServer, FakeServerConfig, RunningSession, WEBDAV};

/// QEMU 7.2's usb-redir announces every capability.
const QEMU_CAPS: u32 = 0xff;

/// The usb-guest's side of the stream.
struct Guest {
    server: FakeServer,
    deframer: Deframer,
    taken: usize,
    n: Negotiated,
    next_id: u64,
}

impl Guest {
    fn send(&mut self, message: Message) -> u64 {
        self.next_id += 1;
        let bytes = encode(&Packet { id: self.next_id, message }, &self.n);
        self.server.usb_send(bytes);
        self.next_id
    }

    /// The next packet ryll sent.
    async fn recv(&mut self) -> Packet {
        loop {
            let fresh = {
                let st = self.server.state();
                st.usb_from_client.get(self.taken..).unwrap_or_default().to_vec()
            };
            self.taken += fresh.len();
            self.deframer.push(&fresh);
            if let Some(p) = self.deframer.next(&self.n, Sender::Host).expect("ryll's stream parses") {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn expect(&mut self, what: &str) -> Packet {
        tokio::time::timeout(Duration::from_secs(20), self.recv())
            .await
            .unwrap_or_else(|_| panic!("waiting for {what}"))
    }

    async fn hellos(&mut self) {
        let hello = self.expect("ryll's hello").await;
        let Message::Hello { caps, .. } = hello.message else { panic!("first packet: {hello:?}") };
        assert_eq!(caps, [OUR_CAPS]);
        self.send(Message::Hello { version: b"qemu usb-redir guest 7.2".to_vec(), caps: vec![QEMU_CAPS] });
        self.n = Negotiated::new(OUR_CAPS, QEMU_CAPS);
    }

    /// interface_info, ep_info and device_connect of a disk at `speed` (2 high, 3 SuperSpeed).
    async fn attach_sequence(&mut self, speed: u8) {
        let info = self.expect("interface_info").await.message;
        assert!(matches!(&info, Message::InterfaceInfo(i) if i.interfaces == [[0, 8, 6, 0x50]]), "{info:?}");
        let Message::EpInfo(ep) = self.expect("ep_info").await.message else { panic!("ep_info") };
        let bulk = if speed == 3 { 1024 } else { 512 };
        assert_eq!(ep.max_packet_size[ep_index(0x81)], bulk, "bulk IN packet size at speed {speed}");
        let Message::DeviceConnect(d) = self.expect("device_connect").await.message else { panic!("connect") };
        assert_eq!((d.speed, d.vendor_id, d.product_id), (speed, 0x1d6b, 0x0104));
    }

    /// A bulk transfer; returns the reply's status and data.
    async fn bulk(&mut self, endpoint: u8, length: u32, data: Vec<u8>) -> (u8, Vec<u8>) {
        let id = self.send(Message::Bulk(Bulk { endpoint, status: 0, length, stream_id: 0 }, data));
        let reply = self.expect("a bulk reply").await;
        assert_eq!(reply.id, id, "replies keep the packet id");
        let Message::Bulk(b, data) = reply.message else { panic!("bulk reply: {:?}", reply.message) };
        assert_eq!((b.endpoint, b.length as usize == data.len() || endpoint & 0x80 == 0), (endpoint, true));
        (b.status, data)
    }

    /// One Bulk-Only command: the wrapper, the data (IN of `length` bytes, or `out`), the status wrapper's status.
    async fn command(&mut self, cdb: &[u8], length: u32, out: &[u8]) -> (Vec<u8>, u8) {
        let mut cbw = b"USBC".to_vec();
        cbw.extend_from_slice(&7u32.to_le_bytes());
        cbw.extend_from_slice(&length.to_le_bytes());
        cbw.extend_from_slice(&[if out.is_empty() && length > 0 { 0x80 } else { 0 }, 0, cdb.len() as u8]);
        cbw.extend_from_slice(cdb);
        cbw.resize(31, 0);
        assert_eq!(self.bulk(0x02, 31, cbw).await.0, status::SUCCESS);
        let mut data = Vec::new();
        if out.is_empty() && length > 0 {
            let (st, d) = self.bulk(0x81, length, Vec::new()).await;
            assert_eq!(st, status::SUCCESS);
            data = d;
        }
        for piece in out.chunks(16 * 1024) {
            assert_eq!(self.bulk(0x02, piece.len() as u32, piece.to_vec()).await.0, status::SUCCESS);
        }
        let (st, csw) = self.bulk(0x81, 13, Vec::new()).await;
        assert_eq!((st, csw.get(..4)), (status::SUCCESS, Some(&b"USBS"[..])));
        (data, csw[12])
    }
}

fn rw10(op: u8, lba: u32, blocks: u16) -> Vec<u8> {
    let mut c = vec![op, 0];
    c.extend_from_slice(&lba.to_be_bytes());
    c.push(0);
    c.extend_from_slice(&blocks.to_be_bytes());
    c.push(0);
    c
}

async fn start(
    image: &std::path::Path,
    channels: &[ryll::protocol::main_channel::ChannelId],
) -> (FakeServer, RunningSession) {
    support::init_tracing();
    let server = FakeServer::start(FakeServerConfig::default().channels(channels)).await;
    let cfg = SessionConfig {
        addr: server.addr(),
        usb: vec![UsbDisk { path: image.to_path_buf(), read_only: false, speed: Speed::High }],
        // LZ4 both ways whatever the (absent) net test says, to check the compressed path.
        webdav: WebdavConfig { compression: ShareCompression::Always, ..WebdavConfig::default() },
        ..SessionConfig::default()
    };
    (server, RunningSession::start(cfg))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_attaches_answers_bulk_only_commands_and_writes_reach_the_image() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("stick.img");
    let mut bytes = vec![0u8; 2048 * 512];
    bytes[5 * 512..6 * 512].fill(0x5a);
    std::fs::write(&image, &bytes).expect("image");
    let (server, mut session) = start(&image, &[WEBDAV, USBREDIR]).await;
    session.wait_for("the usbredir channel", |e| *e == SessionEvent::ChannelLinked(USBREDIR)).await;
    let mut g = Guest { server, deframer: Deframer::new(), taken: 0, n: Negotiated::default(), next_id: 0 };
    g.hellos().await;
    g.attach_sequence(2).await;

    let id = g.send(Message::SetConfiguration(1));
    let reply = g.expect("configuration status").await;
    assert_eq!((reply.id, reply.message), (id, Message::ConfigurationStatus { status: 0, configuration: 1 }));
    let setup =
        Control { endpoint: 0x80, request: 6, requesttype: 0x80, status: 0, value: 0x0100, index: 0, length: 64 };
    g.send(Message::Control(setup, Vec::new()));
    let Message::Control(c, desc) = g.expect("the device descriptor").await.message else { panic!("control") };
    assert_eq!((c.status, c.length, desc.len(), desc.first()), (0, 18, 18, Some(&18)));

    let (inquiry, st) = g.command(&[0x12, 0, 0, 0, 36, 0], 36, &[]).await;
    assert_eq!((st, &inquiry[8..12]), (0, &b"ryll"[..]));
    let (block5, st) = g.command(&rw10(0x28, 5, 1), 512, &[]).await;
    assert_eq!((st, block5), (0, vec![0x5a; 512]));
    let written: Vec<u8> = (0..32 * 1024).map(|i| (i % 253) as u8).collect();
    assert_eq!(g.command(&rw10(0x2a, 100, 64), written.len() as u32, &written).await.1, 0, "WRITE(10)");
    let (back, st) = g.command(&rw10(0x28, 100, 64), written.len() as u32, &[]).await;
    assert_eq!((st, back == written), (0, true));
    assert_eq!(g.command(&[0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0, &[]).await.1, 0, "SYNCHRONIZE CACHE");
    let on_disk = std::fs::read(&image).expect("read image");
    assert_eq!(&on_disk[100 * 512..164 * 512], &written[..], "the write is in the image file");

    // 512 KiB of zeros in one IN transfer: many DATA messages, LZ4-compressed since the server offers it.
    let (zeros, st) = g.command(&rw10(0x28, 1024, 1024), 512 * 1024, &[]).await;
    assert_eq!((st, zeros.len(), zeros.iter().all(|&b| b == 0)), (0, 512 * 1024, true));
    assert!(g.server.state().usb_compressed > 0, "large replies go compressed");

    // A read-only request on a read-write disk still fails cleanly: an unknown command gets ILLEGAL REQUEST.
    assert_eq!(g.command(&[0xc5, 0, 0, 0, 0, 0], 0, &[]).await.1, 1);

    // Hostile: a packet claiming more than ryll accepts ends the channel with the reason; it is linked again.
    let mut huge = kind::BULK_PACKET.to_le_bytes().to_vec();
    huge.extend_from_slice(&(MAX_PACKET_LEN + 1).to_le_bytes());
    huge.extend_from_slice(&[0; 8]);
    g.server.usb_send(huge);
    let closed = session
        .wait_for(
            "the channel to end",
            |e| matches!(e, SessionEvent::ChannelClosed { channel, .. } if *channel == USBREDIR),
        )
        .await;
    let SessionEvent::ChannelClosed { reason, .. } = closed else { unreachable!() };
    assert!(reason.contains("usbredir") && reason.contains("exceeds"), "{reason}");
    g.server.wait("the relink", |st| (st.usb_links >= 2).then_some(())).await;
    g.deframer = Deframer::new();
    g.taken = 0;
    g.n = Negotiated::default();
    g.hellos().await;
    g.attach_sequence(2).await;
    g.server.assert_no_problems();
    let _ = session.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_a_usbredir_channel_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("stick.img");
    std::fs::write(&image, vec![0u8; 4096]).expect("image");
    let (server, mut session) = start(&image, &[WEBDAV]).await;
    session.wait_for("NoUsbredirChannel", |e| *e == SessionEvent::NoUsbredirChannel).await;
    assert!(ryll::session::usb::USBREDIR_SETUP_HINT.contains("usb-redir,chardev="));
    server.assert_no_problems();
    let _ = session.disconnect().await;
}

/// Polls the channel's view until `ok` holds.
async fn view_until(
    session: &RunningSession,
    what: &str,
    ok: impl Fn(&ryll::session::usb::UsbView) -> bool,
) -> ryll::session::usb::UsbView {
    support::within(what, async {
        loop {
            if let Some(v) = session.shared.usb.view(USBREDIR.id).filter(|v| ok(v)) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disks_are_detached_and_attached_while_the_channel_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first.img");
    let second = dir.path().join("second.img");
    std::fs::write(&first, vec![0u8; 64 * 512]).expect("image");
    std::fs::write(&second, vec![0x77u8; 128 * 512]).expect("image");
    let (server, mut session) = start(&first, &[WEBDAV, USBREDIR]).await;
    session.wait_for("the usbredir channel", |e| *e == SessionEvent::ChannelLinked(USBREDIR)).await;
    let mut g = Guest { server, deframer: Deframer::new(), taken: 0, n: Negotiated::default(), next_id: 0 };
    g.hellos().await;
    g.attach_sequence(2).await;
    let usb = session.shared.usb.clone();
    let v = view_until(&session, "the first disk", |v| v.image.is_some()).await;
    assert_eq!((v.linked, v.blocks, v.image.as_deref()), (true, 64, Some(first.as_path())));

    // A second attach while a disk is attached is refused, with the reason in the view.
    usb.attach(USBREDIR.id, UsbDisk { path: second.clone(), read_only: true, speed: Speed::High }).expect("asked");
    let v = view_until(&session, "the refusal", |v| v.error.is_some()).await;
    assert!(v.error.as_deref().is_some_and(|e| e.contains("detach it first")), "{v:?}");
    usb.dismiss(USBREDIR.id);

    // A write, then detach: the guest is told, and the write is in the image once the view says detached.
    let block: Vec<u8> = vec![0xa5; 512];
    assert_eq!(g.command(&rw10(0x2a, 3, 1), 512, &block).await.1, 0);
    usb.detach(USBREDIR.id).expect("asked");
    assert_eq!(g.expect("device_disconnect").await.message, Message::DeviceDisconnect);
    let v = view_until(&session, "detached", |v| v.image.is_none()).await;
    assert_eq!((v.linked, v.error.as_deref()), (true, None));
    assert_eq!(&std::fs::read(&first).expect("read")[3 * 512..4 * 512], &block[..]);
    // A transfer still in flight at the guest is answered, with a stall.
    assert_eq!(g.bulk(0x81, 13, Vec::new()).await.0, status::STALL);

    // Attach the second image read-only: device_connect waits for the ack of the disconnect.
    usb.attach(USBREDIR.id, UsbDisk { path: second.clone(), read_only: true, speed: Speed::Super }).expect("asked");
    view_until(&session, "the second disk", |v| v.image.as_deref() == Some(second.as_path())).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let early = g.server.state().usb_from_client.len();
    assert_eq!(early, g.taken, "nothing goes before the guest acks the disconnect");
    g.send(Message::DeviceDisconnectAck);
    g.attach_sequence(3).await;
    let (data, st) = g.command(&rw10(0x28, 127, 1), 512, &[]).await;
    assert_eq!((st, data), (0, vec![0x77; 512]));
    // MODE SENSE(6) reports write-protect; a WRITE fails.
    let (mode, st) = g.command(&[0x1a, 0, 0x3f, 0, 192, 0], 192, &[]).await;
    assert_eq!((st, mode[2] & 0x80), (0, 0x80));
    assert_eq!(g.command(&rw10(0x2a, 0, 1), 512, &block).await.1, 1, "a write to a read-only disk fails");
    assert!(usb.detach(USBREDIR.id + 1).is_err(), "a channel that is not linked is named");
    g.server.assert_no_problems();
    let _ = session.disconnect().await;
}

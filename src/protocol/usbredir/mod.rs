//! The usbredir protocol (usbredir 0.7, `USBREDIR_VERSION 0x000701`), carried by the usbredir channel (type 9) as a
//! byte stream inside SpiceVMC DATA messages. ryll is the **usb-host** (it owns the device); QEMU's `usb-redir`
//! device is the **usb-guest**.
//!
//! Every packet is a header (`type u32`, `length u32`, `id u32`, or `id u64` once both sides have
//! [`cap::IDS_64BIT`]) followed by `length` bytes: a type-specific header of fixed size, then data for the data
//! packets. Which sizes apply depends on the capabilities both sides announced in their hello ([`Negotiated`]).
//! [`Deframer`] reassembles packets from the stream's pieces; [`parse`] reads one packet, [`encode`] writes one.
//! Everything is bounded: a packet's length by [`MAX_PACKET_LEN`], a hello's capability words, a filter's rules.

mod codec;
mod messages;

pub use codec::{encode, parse, Deframer};
pub use messages::*;

/// The protocol version ryll announces in its hello.
pub const VERSION: &str = "ryll usbredir 0.7";
/// The largest packet body (type header plus data) accepted: a bulk transfer of 4 MiB plus headers. Mass-storage
/// guests move at most 1 MiB per transfer (Linux `max_sectors` 2048), so this leaves room without letting a peer
/// make ryll buffer without bound.
pub const MAX_PACKET_LEN: u32 = 4 * 1024 * 1024 + 64;
/// The most capability words read from a hello (usbredir 0.7 defines one).
pub const MAX_CAP_WORDS: usize = 16;
/// The size of a hello's version string field.
pub const VERSION_LEN: usize = 64;

/// Capability bit numbers (in the first capability word of a hello).
pub mod cap {
    /// USB 3 bulk streams.
    pub const BULK_STREAMS: u32 = 0;
    /// device_connect carries `device_version_bcd`.
    pub const CONNECT_DEVICE_VERSION: u32 = 1;
    /// filter_reject and filter_filter packets.
    pub const FILTER: u32 = 2;
    /// device_disconnect_ack packets.
    pub const DEVICE_DISCONNECT_ACK: u32 = 3;
    /// ep_info carries `max_packet_size`.
    pub const EP_INFO_MAX_PACKET_SIZE: u32 = 4;
    /// 64-bit ids in the packet header.
    pub const IDS_64BIT: u32 = 5;
    /// bulk packets carry `length_high` (32-bit lengths).
    pub const BULK_LENGTH_32BIT: u32 = 6;
    /// Bulk receiving (buffered bulk input).
    pub const BULK_RECEIVING: u32 = 7;
}

/// Packet type numbers.
pub mod kind {
    #![allow(missing_docs)]
    pub const HELLO: u32 = 0;
    pub const DEVICE_CONNECT: u32 = 1;
    pub const DEVICE_DISCONNECT: u32 = 2;
    pub const RESET: u32 = 3;
    pub const INTERFACE_INFO: u32 = 4;
    pub const EP_INFO: u32 = 5;
    pub const SET_CONFIGURATION: u32 = 6;
    pub const GET_CONFIGURATION: u32 = 7;
    pub const CONFIGURATION_STATUS: u32 = 8;
    pub const SET_ALT_SETTING: u32 = 9;
    pub const GET_ALT_SETTING: u32 = 10;
    pub const ALT_SETTING_STATUS: u32 = 11;
    pub const START_ISO_STREAM: u32 = 12;
    pub const STOP_ISO_STREAM: u32 = 13;
    pub const ISO_STREAM_STATUS: u32 = 14;
    pub const START_INTERRUPT_RECEIVING: u32 = 15;
    pub const STOP_INTERRUPT_RECEIVING: u32 = 16;
    pub const INTERRUPT_RECEIVING_STATUS: u32 = 17;
    pub const ALLOC_BULK_STREAMS: u32 = 18;
    pub const FREE_BULK_STREAMS: u32 = 19;
    pub const BULK_STREAMS_STATUS: u32 = 20;
    pub const CANCEL_DATA_PACKET: u32 = 21;
    pub const FILTER_REJECT: u32 = 22;
    pub const FILTER_FILTER: u32 = 23;
    pub const DEVICE_DISCONNECT_ACK: u32 = 24;
    pub const START_BULK_RECEIVING: u32 = 25;
    pub const STOP_BULK_RECEIVING: u32 = 26;
    pub const BULK_RECEIVING_STATUS: u32 = 27;
    pub const CONTROL_PACKET: u32 = 100;
    pub const BULK_PACKET: u32 = 101;
    pub const ISO_PACKET: u32 = 102;
    pub const INTERRUPT_PACKET: u32 = 103;
    pub const BUFFERED_BULK_PACKET: u32 = 104;
}

/// Transfer status codes.
pub mod status {
    #![allow(missing_docs)]
    pub const SUCCESS: u8 = 0;
    pub const CANCELLED: u8 = 1;
    pub const INVAL: u8 = 2;
    pub const IOERROR: u8 = 3;
    pub const STALL: u8 = 4;
    pub const TIMEOUT: u8 = 5;
    pub const BABBLE: u8 = 6;
}

/// Endpoint types in ep_info.
pub mod ep_type {
    #![allow(missing_docs)]
    pub const CONTROL: u8 = 0;
    pub const ISO: u8 = 1;
    pub const BULK: u8 = 2;
    pub const INTERRUPT: u8 = 3;
    pub const INVALID: u8 = 255;
}

/// Device speeds in device_connect.
pub mod speed {
    #![allow(missing_docs)]
    pub const LOW: u8 = 0;
    pub const FULL: u8 = 1;
    pub const HIGH: u8 = 2;
    pub const SUPER: u8 = 3;
}

/// The capabilities ryll announces: device versions, disconnect acks, max packet sizes, 64-bit ids and 32-bit bulk
/// lengths. Bulk streams, filters and bulk receiving are not offered (a mass-storage device needs none of them).
pub const OUR_CAPS: u32 = 1 << cap::CONNECT_DEVICE_VERSION
    | 1 << cap::DEVICE_DISCONNECT_ACK
    | 1 << cap::EP_INFO_MAX_PACKET_SIZE
    | 1 << cap::IDS_64BIT
    | 1 << cap::BULK_LENGTH_32BIT;

/// What both sides agreed on, which sets the sizes of headers. Before the peer's hello, nothing is agreed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Negotiated {
    caps: u32,
}

impl Negotiated {
    /// The capabilities both `ours` and `theirs` have.
    pub fn new(ours: u32, theirs: u32) -> Self {
        Negotiated { caps: ours & theirs }
    }

    /// Whether both sides have capability bit `bit`.
    pub fn has(&self, bit: u32) -> bool {
        bit < 32 && self.caps & (1 << bit) != 0
    }

    fn header_len(&self) -> usize {
        if self.has(cap::IDS_64BIT) {
            16
        } else {
            12
        }
    }
}

/// Which side sent a packet: it decides which data packets carry data (OUT data from the usb-guest, IN data from
/// the usb-host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The usb-host (ryll).
    Host,
    /// The usb-guest (QEMU).
    Guest,
}

#[cfg(test)]
mod tests;

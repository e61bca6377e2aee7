//! The content of usbredir packets: what each packet type carries, as ryll reads and writes it.

use super::ep_type;

/// device_connect: the device's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceConnect {
    /// One of [`speed`].
    pub speed: u8,
    /// bDeviceClass.
    pub class: u8,
    /// bDeviceSubClass.
    pub subclass: u8,
    /// bDeviceProtocol.
    pub protocol: u8,
    /// idVendor.
    pub vendor_id: u16,
    /// idProduct.
    pub product_id: u16,
    /// bcdDevice (sent only with [`cap::CONNECT_DEVICE_VERSION`]; 0 otherwise).
    pub device_version_bcd: u16,
}

/// interface_info: the interfaces of the active configuration (at most 32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// `(number, class, subclass, protocol)` per interface.
    pub interfaces: Vec<[u8; 4]>,
}

/// ep_info: per endpoint slot (OUT 0-15, IN 16-31, see [`ep_index`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpInfo {
    /// One of [`ep_type`] per slot.
    pub kind: [u8; 32],
    /// bInterval per slot.
    pub interval: [u8; 32],
    /// The interface number per slot.
    pub interface: [u8; 32],
    /// wMaxPacketSize per slot (sent only with [`cap::EP_INFO_MAX_PACKET_SIZE`]).
    pub max_packet_size: [u16; 32],
    /// Bulk streams per slot (sent only with [`cap::BULK_STREAMS`]).
    pub max_streams: [u32; 32],
}

/// A hello's version, for logs.
pub fn version_text(version: &[u8]) -> String {
    String::from_utf8_lossy(version).into_owned()
}

/// The ep_info slot of endpoint address `ep`.
pub fn ep_index(ep: u8) -> usize {
    usize::from(((ep & 0x80) >> 3) | (ep & 0x0f))
}

/// A control transfer's setup and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// Endpoint address (0 or 0x80).
    pub endpoint: u8,
    /// bRequest.
    pub request: u8,
    /// bmRequestType (bit 7 set: IN).
    pub requesttype: u8,
    /// One of [`status`] (in replies).
    pub status: u8,
    /// wValue.
    pub value: u16,
    /// wIndex.
    pub index: u16,
    /// wLength, or in a reply to an IN request the bytes returned.
    pub length: u16,
}

/// A bulk transfer's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bulk {
    /// Endpoint address (bit 7 set: IN).
    pub endpoint: u8,
    /// One of [`status`] (in replies).
    pub status: u8,
    /// The transfer length (requested for IN, carried for OUT).
    pub length: u32,
    /// USB 3 stream id (0 without streams).
    pub stream_id: u32,
}

/// An interrupt or iso transfer's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Small {
    /// Endpoint address.
    pub endpoint: u8,
    /// One of [`status`].
    pub status: u8,
    /// The transfer length.
    pub length: u16,
}

/// One usbredir packet's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// The first packet of each side: its version string and capability words.
    Hello {
        /// The version's bytes, up to the first NUL (see [`version_text`]).
        version: Vec<u8>,
        /// Capability words (the first holds the [`cap`] bits).
        caps: Vec<u32>,
    },
    /// The host attaches its device.
    DeviceConnect(DeviceConnect),
    /// The host detaches it.
    DeviceDisconnect,
    /// The guest resets the device.
    Reset,
    /// The host describes the interfaces.
    InterfaceInfo(InterfaceInfo),
    /// The host describes the endpoints.
    EpInfo(Box<EpInfo>),
    /// The guest selects a configuration.
    SetConfiguration(u8),
    /// The guest asks for the configuration.
    GetConfiguration,
    /// The host's answer to the two above.
    ConfigurationStatus {
        /// One of [`status`].
        status: u8,
        /// The configuration value.
        configuration: u8,
    },
    /// The guest selects an alternate setting.
    SetAltSetting {
        /// Interface number.
        interface: u8,
        /// Alternate setting.
        alt: u8,
    },
    /// The guest asks for an interface's alternate setting.
    GetAltSetting {
        /// Interface number.
        interface: u8,
    },
    /// The host's answer to the two above.
    AltSettingStatus {
        /// One of [`status`].
        status: u8,
        /// Interface number.
        interface: u8,
        /// Alternate setting.
        alt: u8,
    },
    /// Any other fixed-size packet ryll does not act on (iso streams, interrupt receiving, bulk streams, bulk
    /// receiving): its type and type-specific header, kept so it can be answered or re-encoded.
    Other {
        /// The packet type.
        kind: u32,
        /// Its fixed-size header.
        header: Vec<u8>,
    },
    /// A packet of a type this module does not read (for example buffered bulk, which ryll does not offer): its
    /// framing is intact, so it can be logged and skipped.
    Unknown {
        /// The packet type.
        kind: u32,
        /// Its body.
        body: Vec<u8>,
    },
    /// The guest cancels the data packet with this packet's id.
    CancelDataPacket,
    /// The host refuses the device for the filter.
    FilterReject,
    /// A filter's rules (text, bounded).
    FilterFilter(Vec<u8>),
    /// The guest acknowledges a device_disconnect.
    DeviceDisconnectAck,
    /// A control transfer: setup from the guest (data for OUT), the result from the host (data for IN).
    Control(Control, Vec<u8>),
    /// A bulk transfer: from the guest (data for OUT), the result from the host (data for IN).
    Bulk(Bulk, Vec<u8>),
    /// An iso transfer.
    Iso(Small, Vec<u8>),
    /// An interrupt transfer.
    Interrupt(Small, Vec<u8>),
}

/// A packet: its id (which a reply repeats) and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// The packet id.
    pub id: u64,
    /// The content.
    pub message: Message,
}

impl Default for EpInfo {
    fn default() -> Self {
        EpInfo {
            kind: [ep_type::INVALID; 32],
            interval: [0; 32],
            interface: [0; 32],
            max_packet_size: [0; 32],
            max_streams: [0; 32],
        }
    }
}

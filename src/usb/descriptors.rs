//! The USB identity of ryll's virtual disk: a mass-storage device with one Bulk-Only interface (class 08, SCSI
//! transparent 06, protocol 50), bulk IN [`EP_IN`] and bulk OUT [`EP_OUT`], at USB 3 SuperSpeed (the default) or
//! USB 2.0 high speed ([`Speed`]); its descriptors, and the usbredir packets that describe it to the usb-guest
//! before device_connect.
//!
//! Speed matters for throughput: Linux's usb-storage limits a high-speed disk to 120 KiB per command and a
//! SuperSpeed one to 1 MiB, and every command costs round trips through the SPICE server. A SuperSpeed device
//! needs a USB 3 port (qemu-xhci); QEMU refuses it on a USB 2 controller, where `high` is the choice.

use crate::protocol::usbredir::{ep_index, ep_type, speed, DeviceConnect, EpInfo, InterfaceInfo};

/// The bulk IN endpoint address.
pub const EP_IN: u8 = 0x81;
/// The bulk OUT endpoint address.
pub const EP_OUT: u8 = 0x02;
/// wMaxPacketSize of the bulk endpoints at high speed.
pub const BULK_MAX_PACKET: u16 = 512;
/// wMaxPacketSize of the bulk endpoints at SuperSpeed.
pub const BULK_MAX_PACKET_SUPER: u16 = 1024;
/// bMaxPacketSize0 at high speed.
pub const EP0_MAX_PACKET: u8 = 64;
/// Endpoint 0's packet size at SuperSpeed (bMaxPacketSize0 holds its log2, 9).
pub const EP0_MAX_PACKET_SUPER: u16 = 512;
/// bMaxBurst of the SuperSpeed bulk endpoints: 16 packets per burst.
pub const MAX_BURST: u8 = 15;

/// The speed the device connects at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Speed {
    /// USB 2.0 high speed (480 Mbit/s): for USB 2 controllers (EHCI).
    High,
    /// USB 3 SuperSpeed (5 Gbit/s): for qemu-xhci.
    #[default]
    Super,
}

impl Speed {
    /// Parses `high` or `super`.
    pub fn parse(s: &str) -> Option<Speed> {
        match s {
            "high" => Some(Speed::High),
            "super" => Some(Speed::Super),
            _ => None,
        }
    }

    fn bulk_max_packet(self) -> u16 {
        match self {
            Speed::High => BULK_MAX_PACKET,
            Speed::Super => BULK_MAX_PACKET_SUPER,
        }
    }

    fn ep0_max_packet(self) -> u16 {
        match self {
            Speed::High => u16::from(EP0_MAX_PACKET),
            Speed::Super => EP0_MAX_PACKET_SUPER,
        }
    }
}
/// idVendor: the Linux Foundation, whose gadget ids identify software-defined devices.
pub const VENDOR_ID: u16 = 0x1d6b;
/// idProduct: the Linux Foundation's multifunction composite gadget.
pub const PRODUCT_ID: u16 = 0x0104;
/// bcdDevice.
pub const DEVICE_BCD: u16 = 0x0100;
/// The mass-storage class, SCSI transparent subclass, Bulk-Only protocol.
pub const INTERFACE: [u8; 3] = [0x08, 0x06, 0x50];

/// Descriptor types (the high byte of GET_DESCRIPTOR's wValue).
pub mod kind {
    /// Device.
    pub const DEVICE: u8 = 1;
    /// Configuration (with its interface and endpoints).
    pub const CONFIGURATION: u8 = 2;
    /// String.
    pub const STRING: u8 = 3;
    /// Device qualifier (what the device would be at the other speed).
    pub const DEVICE_QUALIFIER: u8 = 6;
    /// Binary device object store (USB 3 capabilities).
    pub const BOS: u8 = 15;
    /// A device capability, inside the BOS.
    pub const DEVICE_CAPABILITY: u8 = 16;
    /// SuperSpeed endpoint companion.
    pub const SS_ENDPOINT_COMPANION: u8 = 48;
}

/// The strings: 1 manufacturer, 2 product, 3 serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strings {
    /// iManufacturer.
    pub manufacturer: String,
    /// iProduct.
    pub product: String,
    /// iSerialNumber (Bulk-Only wants at least 12 hex digits).
    pub serial: String,
}

/// The 18-byte device descriptor: bcdUSB 3.0 and a 512-byte endpoint 0 at SuperSpeed, 2.0 and 64 bytes at high speed.
pub fn device(speed: Speed) -> Vec<u8> {
    let (usb, ep0) = match speed {
        Speed::High => (0x0200u16, EP0_MAX_PACKET),
        Speed::Super => (0x0300, 9),
    };
    let mut d = vec![18, kind::DEVICE];
    d.extend_from_slice(&usb.to_le_bytes());
    d.extend_from_slice(&[0, 0, 0, ep0]);
    d.extend_from_slice(&VENDOR_ID.to_le_bytes());
    d.extend_from_slice(&PRODUCT_ID.to_le_bytes());
    d.extend_from_slice(&DEVICE_BCD.to_le_bytes());
    d.extend_from_slice(&[1, 2, 3, 1]);
    d
}

/// The device qualifier of a high-speed device: the same device at full speed (10 bytes). A SuperSpeed device has
/// none (the request stalls).
pub fn device_qualifier(speed: Speed) -> Option<Vec<u8>> {
    (speed == Speed::High).then(|| vec![10, kind::DEVICE_QUALIFIER, 0x00, 0x02, 0, 0, 0, EP0_MAX_PACKET, 1, 0])
}

/// The configuration descriptor with its interface and two bulk endpoints, each followed by its endpoint companion
/// at SuperSpeed (44 bytes; 32 at high speed). bMaxPower: 100 mA at high speed (2 mA units), 400 mA at SuperSpeed
/// (8 mA units).
pub fn configuration(speed: Speed) -> Vec<u8> {
    let total: u8 = if speed == Speed::Super { 44 } else { 32 };
    let mut d = vec![9, kind::CONFIGURATION, total, 0, 1, 1, 0, 0x80, 50];
    d.extend_from_slice(&[9, 4, 0, 0, 2, INTERFACE[0], INTERFACE[1], INTERFACE[2], 0]);
    for ep in [EP_IN, EP_OUT] {
        d.extend_from_slice(&[7, 5, ep, 0x02]);
        d.extend_from_slice(&speed.bulk_max_packet().to_le_bytes());
        d.push(0);
        if speed == Speed::Super {
            d.extend_from_slice(&[6, kind::SS_ENDPOINT_COMPANION, MAX_BURST, 0, 0, 0]);
        }
    }
    d
}

/// The BOS of a SuperSpeed device (22 bytes): the USB 2.0 extension (LPM) and the SuperSpeed device capability
/// (full, high and SuperSpeed; exit latencies of a typical stick). A high-speed device has none.
pub fn bos(speed: Speed) -> Option<Vec<u8>> {
    if speed != Speed::Super {
        return None;
    }
    let mut d = vec![5, kind::BOS, 22, 0, 2];
    d.extend_from_slice(&[7, kind::DEVICE_CAPABILITY, 2, 0x02, 0, 0, 0]);
    d.extend_from_slice(&[10, kind::DEVICE_CAPABILITY, 3, 0, 0x0e, 0, 1, 10, 0xff, 0x07]);
    Some(d)
}

/// String descriptor `index` (0: the language list, US English), or `None` when there is no such string.
pub fn string(index: u8, strings: &Strings) -> Option<Vec<u8>> {
    let text = match index {
        0 => return Some(vec![4, kind::STRING, 0x09, 0x04]),
        1 => &strings.manufacturer,
        2 => &strings.product,
        3 => &strings.serial,
        _ => return None,
    };
    // bLength is one byte: at most 126 UTF-16 units.
    let units: Vec<u16> = text.encode_utf16().take(126).collect();
    let mut d = vec![(2 + 2 * units.len()) as u8, kind::STRING];
    units.iter().for_each(|u| d.extend_from_slice(&u.to_le_bytes()));
    Some(d)
}

/// The usbredir device_connect for this device.
pub fn device_connect(at: Speed) -> DeviceConnect {
    DeviceConnect {
        speed: match at {
            Speed::High => speed::HIGH,
            Speed::Super => speed::SUPER,
        },
        class: 0,
        subclass: 0,
        protocol: 0,
        vendor_id: VENDOR_ID,
        product_id: PRODUCT_ID,
        device_version_bcd: DEVICE_BCD,
    }
}

/// The usbredir interface_info: one interface.
pub fn interface_info() -> InterfaceInfo {
    InterfaceInfo { interfaces: vec![[0, INTERFACE[0], INTERFACE[1], INTERFACE[2]]] }
}

/// The usbredir ep_info: control endpoint 0 both ways, the two bulk endpoints, every other slot invalid.
pub fn ep_info(speed: Speed) -> EpInfo {
    let mut ep = EpInfo::default();
    let (ep0, bulk) = (speed.ep0_max_packet(), speed.bulk_max_packet());
    for (addr, kind, max) in [
        (0x00, ep_type::CONTROL, ep0),
        (0x80, ep_type::CONTROL, ep0),
        (EP_IN, ep_type::BULK, bulk),
        (EP_OUT, ep_type::BULK, bulk),
    ] {
        let i = ep_index(addr);
        ep.kind[i] = kind;
        ep.max_packet_size[i] = max;
    }
    ep
}

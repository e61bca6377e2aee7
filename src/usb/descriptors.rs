//! The USB identity of ryll's virtual disk: a USB 2.0 high-speed mass-storage device with one Bulk-Only interface
//! (class 08, SCSI transparent 06, protocol 50), bulk IN [`EP_IN`] and bulk OUT [`EP_OUT`]; its descriptors, and
//! the usbredir packets that describe it to the usb-guest before device_connect.

use crate::protocol::usbredir::{ep_index, ep_type, speed, DeviceConnect, EpInfo, InterfaceInfo};

/// The bulk IN endpoint address.
pub const EP_IN: u8 = 0x81;
/// The bulk OUT endpoint address.
pub const EP_OUT: u8 = 0x02;
/// wMaxPacketSize of the bulk endpoints at high speed.
pub const BULK_MAX_PACKET: u16 = 512;
/// bMaxPacketSize0.
pub const EP0_MAX_PACKET: u8 = 64;
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

/// The 18-byte device descriptor.
pub fn device() -> Vec<u8> {
    let mut d = vec![18, kind::DEVICE, 0x00, 0x02, 0, 0, 0, EP0_MAX_PACKET];
    d.extend_from_slice(&VENDOR_ID.to_le_bytes());
    d.extend_from_slice(&PRODUCT_ID.to_le_bytes());
    d.extend_from_slice(&DEVICE_BCD.to_le_bytes());
    d.extend_from_slice(&[1, 2, 3, 1]);
    d
}

/// The device qualifier: the same device at full speed (10 bytes).
pub fn device_qualifier() -> Vec<u8> {
    vec![10, kind::DEVICE_QUALIFIER, 0x00, 0x02, 0, 0, 0, EP0_MAX_PACKET, 1, 0]
}

/// The configuration descriptor with its interface and two endpoints (32 bytes).
pub fn configuration() -> Vec<u8> {
    let mut d = vec![9, kind::CONFIGURATION, 32, 0, 1, 1, 0, 0x80, 50];
    d.extend_from_slice(&[9, 4, 0, 0, 2, INTERFACE[0], INTERFACE[1], INTERFACE[2], 0]);
    for ep in [EP_IN, EP_OUT] {
        d.extend_from_slice(&[7, 5, ep, 0x02]);
        d.extend_from_slice(&BULK_MAX_PACKET.to_le_bytes());
        d.push(0);
    }
    d
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
pub fn device_connect() -> DeviceConnect {
    DeviceConnect {
        speed: speed::HIGH,
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
pub fn ep_info() -> EpInfo {
    let mut ep = EpInfo::default();
    for (addr, kind, max) in [
        (0x00, ep_type::CONTROL, u16::from(EP0_MAX_PACKET)),
        (0x80, ep_type::CONTROL, u16::from(EP0_MAX_PACKET)),
        (EP_IN, ep_type::BULK, BULK_MAX_PACKET),
        (EP_OUT, ep_type::BULK, BULK_MAX_PACKET),
    ] {
        let i = ep_index(addr);
        ep.kind[i] = kind;
        ep.max_packet_size[i] = max;
    }
    ep
}

//! USB redirection's device side: a virtual USB mass-storage device backed by a raw disk image, which the usbredir
//! channel will hand to the guest (PLAN-usb). No sockets and no clocks here: the device answers each transfer
//! from its state and its [`image::BlockImage`], so it is tested with in-memory images and fuzzed.
//!
//! - [`descriptors`]: the USB 2.0 high-speed identity (device, configuration, strings) and the usbredir packets
//!   that describe it.
//! - [`scsi`]: the SCSI command blocks a mass-storage guest sends, decoded, and the data answering them.
//! - [`device`]: control requests, Bulk-Only Transport and the commands run against the image.
//! - [`image`]: raw image files (read-only ones opened read-only) and memory images.

pub mod descriptors;
pub mod device;
pub mod image;
pub mod scsi;

#[cfg(test)]
mod tests;

//! Unit tests of `capture`.

use super::*;

#[test]
fn checksum_matches_rfc1071_example() {
    // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (checksum 220d).
    let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(fold_checksum(sum_words(&data)), !0xddf2);
    // Odd length: the last byte is padded with zero.
    assert_eq!(fold_checksum(sum_words(&[0x12, 0x34, 0x56])), !0x6834);
}

fn link_stream(size: u32, extra: usize) -> Vec<u8> {
    let mut v = b"REDQ".to_vec();
    v.extend_from_slice(&2u32.to_le_bytes());
    v.extend_from_slice(&2u32.to_le_bytes());
    v.extend_from_slice(&size.to_le_bytes());
    v.resize(16 + size as usize + extra, 0xaa);
    v
}

#[test]
fn link_cuts_in_one_chunk() {
    let stream = link_stream(22, 200);
    let mut cuts = LinkCuts::new(&CLIENT_LINK_CUTS);
    let (out, n) = cuts.cuts_in(&stream);
    assert_eq!(&out[..n], &[38, 42, 166, 170]);
    assert!(!cuts.active);
    let mut cuts = LinkCuts::new(&SERVER_LINK_CUTS);
    let (out, n) = cuts.cuts_in(&stream);
    assert_eq!(&out[..n], &[38, 42]);
}

#[test]
fn link_cuts_across_chunks() {
    let stream = link_stream(22, 200);
    let mut cuts = LinkCuts::new(&CLIENT_LINK_CUTS);
    // Header split mid-way; the cuts are reported relative to each chunk.
    assert_eq!(cuts.cuts_in(&stream[..10]).1, 0);
    let (out, n) = cuts.cuts_in(&stream[10..40]);
    assert_eq!(&out[..n], &[28]);
    let (out, n) = cuts.cuts_in(&stream[40..170]);
    assert_eq!(&out[..n], &[2, 126]);
    // The last cut (170) coincides with the end of this chunk: nothing left to do.
    assert!(!cuts.active);
    assert_eq!(cuts.cuts_in(&stream[170..]).1, 0);
    assert!(!cuts.active);
}

#[test]
fn link_cuts_ignore_non_spice_streams() {
    let mut cuts = LinkCuts::new(&CLIENT_LINK_CUTS);
    assert_eq!(cuts.cuts_in(&[0x16; 300]).1, 0);
    assert!(!cuts.active);
}

#[test]
fn sanitize_keeps_files_in_dir() {
    assert_eq!(sanitize_name("main-0"), "main-0");
    assert_eq!(sanitize_name("../etc/x"), ".._etc_x");
    assert_eq!(sanitize_name(".."), "channel");
    assert_eq!(sanitize_name(""), "channel");
}

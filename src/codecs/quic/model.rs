//! The adaptive model of QUIC: Golomb–Rice code families, per-channel context buckets, the schedule of model
//! updates, and the run-length coder.
//!
//! Every sample is coded as a residual mapped to a non-negative number, with a Golomb–Rice code whose parameter
//! `k` the decoder and the encoder both pick from statistics: each channel has one bucket per magnitude class of
//! the previous residual (0, 1-2, 3-6, 7-14, …), and each bucket keeps, for every `k`, the total length the codes
//! would have had. Not every sample updates the statistics: updates are spaced by pseudo-random gaps whose size
//! grows (the "wait mask") as the image goes on, and counters are halved once they pass a threshold that depends
//! on the same wait-mask level.

use super::bits::BitReader;
use crate::codecs::DecodeError;

/// Longest codeword in bits.
const MAX_CODE_LEN: u32 = 26;
/// Samples coded between two increases of the wait-mask level.
const SAMPLES_PER_LEVEL: u32 = 2048;
/// Highest wait-mask level.
const MAX_LEVEL: u32 = 6;
/// Counter-halving threshold per wait-mask level (the format's "model evolution 3" table).
const HALVING_THRESHOLD: [u32; 11] = [110, 550, 900, 800, 550, 400, 350, 250, 140, 160, 140];
/// Run coder: the base-2 logarithm of the expected run length for each of its 32 states.
const RUN_ORDER: [u32; 32] =
    [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// The fixed pseudo-random sequence that spaces model updates (part of the format: encoder and decoder must agree).
#[rustfmt::skip]
const UPDATE_GAPS: [u32; 256] = [
    0x02c57542, 0x35427717, 0x2f5a2153, 0x9244f155, 0x7bd26d07, 0x354c6052, 0x57329b28, 0x2993868e,
    0x6cd8808c, 0x147b46e0, 0x99db66af, 0xe32b4cac, 0x1b671264, 0x9d433486, 0x62a4c192, 0x06089a4b,
    0x9e3dce44, 0xdaabee13, 0x222425ea, 0xa46f331d, 0xcd589250, 0x8bb81d7f, 0xc8b736b9, 0x35948d33,
    0xd7ac7fd0, 0x5fbe2803, 0x2cfbc105, 0x013dbc4e, 0x7a37820f, 0x39f88e9e, 0xedd58794, 0xc5076689,
    0xfcada5a4, 0x64c2f46d, 0xb3ba3243, 0x8974b4f9, 0x5a05aebd, 0x20afcd00, 0x39e2b008, 0x88a18a45,
    0x600bde29, 0xf3971ace, 0xf37b0a6b, 0x7041495b, 0x70b707ab, 0x06beffbb, 0x4206051f, 0xe13c4ee3,
    0xc1a78327, 0x91aa067c, 0x8295f72a, 0x732917a6, 0x1d871b4d, 0x4048f136, 0xf1840e7e, 0x6a6048c1,
    0x696cb71a, 0x7ff501c3, 0x0fc6310b, 0x57e0f83d, 0x8cc26e74, 0x11a525a2, 0x946934c7, 0x7cd888f0,
    0x8f9d8604, 0x4f86e73b, 0x04520316, 0xdeeea20c, 0xf1def496, 0x67687288, 0xf540c5b2, 0x22401484,
    0x3478658a, 0xc2385746, 0x01979c2c, 0x5dad73c8, 0x0321f58b, 0xf0fedbee, 0x92826ddf, 0x284bec73,
    0x5b1a1975, 0x03df1e11, 0x20963e01, 0xa17cf12b, 0x740d776e, 0xa7a6bf3c, 0x01b5cce4, 0x1118aa76,
    0xfc6fac0a, 0xce927e9b, 0x00bf2567, 0x806f216c, 0xbca69056, 0x795bd3e9, 0xc9dc4557, 0x8929b6c2,
    0x789d52ec, 0x3f3fbf40, 0xb9197368, 0xa38c15b5, 0xc3b44fa8, 0xca8333b0, 0xb7e8d590, 0xbe807feb,
    0xbf5f8360, 0xd99e2f5c, 0x372928e1, 0x7c757c4c, 0x0db5b154, 0xc01ede02, 0x1fc86e78, 0x1f3985be,
    0xb4805c77, 0x00c880fa, 0x974c1b12, 0x35ab0214, 0xb2dc840d, 0x5b00ae37, 0xd313b026, 0xb260969d,
    0x7f4c8879, 0x1734c4d3, 0x49068631, 0xb9f6a021, 0x6b863e6f, 0xcee5debf, 0x29f8c9fb, 0x53dd6880,
    0x72b61223, 0x1f67a9fd, 0x0a0f6993, 0x13e59119, 0x11cca12e, 0xfe6b6766, 0x16b6effc, 0x97918fc4,
    0xc2b8a563, 0x94f2f741, 0x0bfa8c9a, 0xd1537ae8, 0xc1da349c, 0x873c60ca, 0x95005b85, 0x9b5c080e,
    0xbc8abbd9, 0xe1eab1d2, 0x6dac9070, 0x4ea9ebf1, 0xe0cf30d4, 0x1ef5bd7b, 0xd161043e, 0x5d2fa2e2,
    0xff5d3cae, 0x86ed9f87, 0x2aa1daa1, 0xbd731a34, 0x9e8f4b22, 0xb1c2c67a, 0xc21758c9, 0xa182215d,
    0xccb01948, 0x8d168df7, 0x04238cfe, 0x368c3dbc, 0x0aeadca5, 0xbad21c24, 0x0a71fee5, 0x9fc5d872,
    0x54c152c6, 0xfc329483, 0x6783384a, 0xeddb3e1c, 0x65f90e30, 0x884ad098, 0xce81675a, 0x4b372f7d,
    0x68bf9a39, 0x43445f1e, 0x40f8d8cb, 0x90d5acb6, 0x4cd07282, 0x349eeb06, 0x0c9d5332, 0x520b24ef,
    0x80020447, 0x67976491, 0x2f931ca3, 0xfe9b0535, 0xfcd30220, 0x61a9e6cc, 0xa487d8d7, 0x3f7c5dd1,
    0x7d0127c5, 0x48f51d15, 0x60dea871, 0xc9a91cb7, 0x58b53bb3, 0x9d5e0b2d, 0x624a78b4, 0x30dbee1b,
    0x9bdf22e7, 0x1df5c299, 0x2d5643a7, 0xf4dd35ff, 0x03ca8fd6, 0x53b47ed8, 0x6f2c19aa, 0xfeb0c1f4,
    0x49e54438, 0x2f2577e6, 0xbf876969, 0x72440ea9, 0xfa0bafb8, 0x74f5b3a0, 0x7dd357cd, 0x89ce1358,
    0x6ef2cdda, 0x1e7767f3, 0xa6be9fdb, 0x4f5f88f8, 0xba994a3a, 0x08ca6b65, 0xe0893818, 0x9e00a16a,
    0xf42bfc8f, 0x9972eedc, 0x749c8b51, 0x32c05f5e, 0xd706805f, 0x6bfbb7cf, 0xd9210a10, 0x31a1db97,
    0x923a9559, 0x37a7a1f6, 0x059f8861, 0xca493e62, 0x65157e81, 0x8f6467dd, 0xab85ff9f, 0x9331aff2,
    0x8616b9f5, 0xedbd5695, 0xee7e29b1, 0x313ac44f, 0xb903112f, 0x432ef649, 0xdc0a36c0, 0x61cf2bba,
    0x81474925, 0xa8b6c7ad, 0xee5931de, 0xb2f8158d, 0x59fb7409, 0x2e3dfaed, 0x9af25a3f, 0xe1fed4d5,
];

/// `n` low bits set.
pub(super) fn low_bits(n: u32) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1 << n) - 1
    }
}

/// The error for a broken internal invariant (reported, never a panic).
pub(super) fn internal() -> DecodeError {
    DecodeError::invalid("QUIC", "internal index out of range")
}

/// One Golomb–Rice code of a family: parameter `k`, with an escape for large values.
#[derive(Debug, Clone, Copy, Default)]
struct Code {
    /// Unary prefixes shorter than this are ordinary Golomb–Rice codewords; the all-zero prefix of this length
    /// starts the escape codeword.
    prefix_limit: u32,
    /// Values below this have ordinary codewords.
    plain_values: u32,
    /// Bits of the escape codeword's suffix.
    escape_suffix: u32,
    /// Length of the escape codeword (prefix and suffix).
    escape_len: u32,
}

/// The code family for one sample depth (8 or 5 bits per channel).
#[derive(Debug, Clone)]
pub(super) struct Family {
    /// Bits per sample.
    pub(super) depth: u32,
    codes: [Code; 8],
}

impl Family {
    /// The family for `depth` bits per sample (1 to 8).
    pub(super) fn new(depth: u32) -> Self {
        let mut codes = [Code::default(); 8];
        for (k, code) in (0u32..).zip(codes.iter_mut()).take(depth as usize) {
            let prefix_limit = (MAX_CODE_LEN - depth).min(low_bits(depth - k));
            let plain_values = prefix_limit << k;
            let escapes = (1u32 << depth) - plain_values;
            let escape_suffix = if escapes <= 1 { 0 } else { 32 - (escapes - 1).leading_zeros() };
            *code = Code { prefix_limit, plain_values, escape_suffix, escape_len: prefix_limit + escape_suffix };
        }
        Family { depth, codes }
    }

    /// Largest sample value.
    pub(super) fn max_value(&self) -> u32 {
        low_bits(self.depth)
    }

    /// Length in bits of the codeword of `value` with parameter `k`.
    fn code_len(&self, value: u32, k: usize) -> u32 {
        match self.codes.get(k) {
            Some(c) if value < c.plain_values => (value >> k) + k as u32 + 1,
            Some(c) => c.escape_len,
            None => MAX_CODE_LEN,
        }
    }

    /// Reads one codeword with parameter `k`.
    pub(super) fn read(&self, k: usize, bits: &mut BitReader) -> Result<u32, DecodeError> {
        let code = self.codes.get(k).ok_or_else(internal)?;
        let window = bits.peek();
        let zeros = window.leading_zeros();
        let k32 = k as u32;
        let (value, len) = if zeros < code.prefix_limit {
            let len = zeros + 1 + k32;
            ((zeros << k32) | ((window >> (32 - len)) & low_bits(k32)), len)
        } else {
            let len = code.escape_len;
            (code.plain_values + ((window >> (32 - len)) & low_bits(code.escape_suffix)), len)
        };
        if value > self.max_value() {
            return Err(DecodeError::invalid("QUIC data", format!("code value {value} beyond the sample depth")));
        }
        bits.skip(len)?;
        Ok(value)
    }

    /// Back from the coded (folded) residual to the wrapped difference: 0, −1, 1, −2, 2, …
    pub(super) fn unfold(&self, coded: u32) -> u32 {
        if coded & 1 == 1 {
            self.max_value() - (coded >> 1)
        } else {
            coded >> 1
        }
    }
}

/// Statistics of one context: accumulated code lengths for every parameter, and the best parameter so far.
#[derive(Debug, Clone)]
struct Bucket {
    totals: [u32; 8],
    best: usize,
}

/// The model of one channel: one bucket per magnitude class of the previous residual.
#[derive(Debug, Clone)]
pub(super) struct ChannelModel {
    buckets: Vec<Bucket>,
}

impl ChannelModel {
    /// A fresh model for samples of `depth` bits: `depth` buckets, each starting with the largest parameter.
    pub(super) fn new(depth: u32) -> Self {
        let best = depth.saturating_sub(1) as usize;
        ChannelModel { buckets: vec![Bucket { totals: [0; 8], best }; depth as usize] }
    }

    /// The bucket for a context (the previous residual): classes 0, 1-2, 3-6, 7-14, …, the last one open-ended.
    fn bucket(&self, context: u8) -> usize {
        ((u32::from(context) + 1).ilog2() as usize).min(self.buckets.len().saturating_sub(1))
    }

    /// The parameter to decode with after `context`.
    pub(super) fn parameter(&self, context: u8) -> usize {
        self.buckets.get(self.bucket(context)).map_or(0, |b| b.best)
    }

    /// Accounts for `value` coded after `context`; halves the totals once the best passes `threshold`.
    pub(super) fn update(&mut self, family: &Family, context: u8, value: u8, threshold: u32) {
        let index = self.bucket(context);
        let Some(bucket) = self.buckets.get_mut(index) else { return };
        let depth = (family.depth as usize).min(bucket.totals.len());
        let mut best = (depth.saturating_sub(1), u32::MAX);
        // From the largest parameter down; a tie keeps the larger one.
        for (k, total) in bucket.totals.iter_mut().enumerate().take(depth).rev() {
            *total += family.code_len(u32::from(value), k);
            if *total < best.1 {
                best = (k, *total);
            }
        }
        bucket.best = best.0;
        if best.1 > threshold {
            for total in bucket.totals.iter_mut() {
                *total >>= 1;
            }
        }
    }
}

/// The adaptive run-length coder (an Elias–Teuhola / "MELCODE" style coder with 32 states).
#[derive(Debug, Clone, Default)]
pub(super) struct RunCoder {
    state: usize,
}

impl RunCoder {
    fn order(&self) -> u32 {
        RUN_ORDER.get(self.state).copied().unwrap_or(0)
    }

    /// Reads a run length, at most `limit` (the pixels left in the segment).
    pub(super) fn read(&mut self, bits: &mut BitReader, limit: usize) -> Result<usize, DecodeError> {
        let too_long = || DecodeError::invalid("QUIC data", "a run goes past the end of its row segment");
        let mut run: u64 = 0;
        // Each 1 bit stands for a whole run of 2^order pixels and raises the state; a 0 ends the prefix.
        while bits.read(1)? == 1 {
            run += 1u64 << self.order();
            if run > limit as u64 {
                return Err(too_long());
            }
            if self.state + 1 < RUN_ORDER.len() {
                self.state += 1;
            }
        }
        run += u64::from(bits.read(self.order())?);
        self.state = self.state.saturating_sub(1);
        usize::try_from(run).ok().filter(|&r| r <= limit).ok_or_else(too_long)
    }
}

/// When the model is updated: shared by the channels coded together (R, G and B; or one channel alone), with the
/// run coder they share.
#[derive(Debug, Clone)]
pub(super) struct Schedule {
    /// Samples still to skip before the next update.
    pub(super) wait: usize,
    gap_index: u32,
    level: u32,
    left_in_level: u32,
    /// The current halving threshold.
    pub(super) threshold: u32,
    /// The run coder.
    pub(super) runs: RunCoder,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            wait: 0,
            gap_index: 0xff,
            level: 0,
            left_in_level: SAMPLES_PER_LEVEL,
            threshold: HALVING_THRESHOLD[0],
            runs: RunCoder::default(),
        }
    }
}

impl Schedule {
    /// The next gap between updates, masked to the current level.
    pub(super) fn next_gap(&mut self, mask: u32) -> usize {
        self.gap_index = self.gap_index.wrapping_add(1);
        let raw = UPDATE_GAPS.get((self.gap_index & 0xff) as usize).copied().unwrap_or(0);
        (raw & mask) as usize
    }

    /// Splits a row of `width` pixels into segments `(start, end, wait mask)`: the level, and with it the mask,
    /// rises every [`SAMPLES_PER_LEVEL`] pixels until [`MAX_LEVEL`]. Each segment's threshold is returned too.
    pub(super) fn segments(&mut self, width: usize) -> Vec<(usize, usize, u32, u32)> {
        let mut segments = Vec::new();
        let (mut start, mut rest) = (0usize, width);
        while self.level < MAX_LEVEL && self.left_in_level as usize <= rest {
            let n = self.left_in_level as usize;
            if n > 0 {
                segments.push((start, start + n, low_bits(self.level), self.threshold));
                start += n;
                rest -= n;
            }
            self.level += 1;
            self.threshold = HALVING_THRESHOLD.get(self.level as usize).copied().unwrap_or(140);
            self.left_in_level = SAMPLES_PER_LEVEL;
        }
        if rest > 0 {
            segments.push((start, start + rest, low_bits(self.level), self.threshold));
            if self.level < MAX_LEVEL {
                self.left_in_level -= rest as u32;
            }
        }
        segments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_codes_have_the_expected_shapes() {
        let f8 = Family::new(8);
        // k = 0: 18 unary codewords, then 26-bit escapes with 8-bit suffixes.
        assert_eq!(f8.code_len(0, 0), 1);
        assert_eq!(f8.code_len(17, 0), 18);
        assert_eq!(f8.code_len(18, 0), 26);
        // k = 7: one prefix, 7 suffix bits, then 8-bit escapes.
        assert_eq!(f8.code_len(127, 7), 8);
        assert_eq!(f8.code_len(200, 7), 8);
        let f5 = Family::new(5);
        assert_eq!(f5.code_len(20, 0), 21);
        assert_eq!(f5.code_len(21, 0), 25);
        assert_eq!(f5.unfold(1), 31);
        assert_eq!(f8.unfold(4), 2);
    }

    #[test]
    fn buckets_follow_magnitude_classes() {
        let m = ChannelModel::new(8);
        let classes: Vec<usize> = [0u8, 1, 2, 3, 6, 7, 126, 127, 255].iter().map(|&c| m.bucket(c)).collect();
        assert_eq!(classes, [0, 1, 1, 2, 2, 3, 6, 7, 7]);
        assert_eq!(ChannelModel::new(5).bucket(31), 4);
    }

    #[test]
    fn segments_raise_the_level_every_2048_pixels() {
        let mut s = Schedule::default();
        assert_eq!(s.segments(3000), vec![(0, 2048, 0, 110), (2048, 3000, 1, 550)]);
        assert_eq!(s.segments(1096), vec![(0, 1096, 1, 550)]);
        assert_eq!(s.segments(10), vec![(0, 10, 3, 900)]);
        for _ in 0..10 {
            s.segments(4096);
        }
        assert_eq!(s.segments(5000), vec![(0, 5000, 63, 350)]);
    }

    #[test]
    fn a_run_cannot_pass_its_limit() {
        let data = [0xff; 16];
        let mut bits = BitReader::new(&data);
        assert!(RunCoder::default().read(&mut bits, 100).is_err());
    }
}

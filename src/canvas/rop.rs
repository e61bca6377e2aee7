//! The ROP descriptor of FILL, COPY, OPAQUE and BLEND, reduced to one operation on a source and a destination.
//!
//! The descriptor's OP_* bit picks the operation (PUT, OR, AND, XOR, BLACKNESS, WHITENESS, INVERS) and its
//! INVERS_* bits invert the source, the destination or the result. Only the colour bits take part; the alpha byte
//! of the result is the source's for PUT and opaque otherwise (the surface's format then keeps what it holds).

use super::CanvasError;
use crate::protocol::display::types::ropd;

/// The operation selected by the descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Put,
    Or,
    And,
    Xor,
    Blackness,
    Whiteness,
    Invers,
}

/// A reduced ROP descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rop {
    op: Op,
    invert_src: bool,
    invert_dest: bool,
    invert_result: bool,
}

const RGB: u32 = 0x00ff_ffff;

impl Rop {
    /// The descriptor `bits`; `src_invert` is the INVERS_* bit that applies to this op's source (INVERS_SRC for an
    /// image, INVERS_BRUSH for a brush). A descriptor without exactly one OP_* bit is refused.
    pub fn from_descriptor(bits: u16, src_invert: u16) -> Result<Self, CanvasError> {
        let ops = [
            (ropd::OP_PUT, Op::Put),
            (ropd::OP_OR, Op::Or),
            (ropd::OP_AND, Op::And),
            (ropd::OP_XOR, Op::Xor),
            (ropd::OP_BLACKNESS, Op::Blackness),
            (ropd::OP_WHITENESS, Op::Whiteness),
            (ropd::OP_INVERS, Op::Invers),
        ];
        let mut chosen = ops.iter().filter(|(bit, _)| bits & bit != 0).map(|&(_, op)| op);
        let (Some(op), None) = (chosen.next(), chosen.next()) else {
            return Err(CanvasError::invalid("ROP descriptor", format!("{bits:#06x} does not select one operation")));
        };
        Ok(Rop {
            op,
            invert_src: bits & src_invert != 0,
            invert_dest: bits & ropd::INVERS_DEST != 0,
            invert_result: bits & ropd::INVERS_RES != 0,
        })
    }

    /// A plain copy of the source.
    pub const PUT: Rop = Rop { op: Op::Put, invert_src: false, invert_dest: false, invert_result: false };

    /// Whether the result is the source whatever the destination (a plain copy).
    pub fn is_put(&self) -> bool {
        *self == Rop::PUT
    }

    /// Whether the result ignores the source.
    pub fn ignores_source(&self) -> bool {
        matches!(self.op, Op::Blackness | Op::Whiteness | Op::Invers)
    }

    /// The result for source `s` over destination `d` (both `0xAARRGGBB`).
    pub fn apply(&self, s: u32, d: u32) -> u32 {
        let s2 = if self.invert_src { s ^ RGB } else { s };
        let d2 = if self.invert_dest { d ^ RGB } else { d };
        let rgb = match self.op {
            Op::Put => s2,
            Op::Or => s2 | d2,
            Op::And => s2 & d2,
            Op::Xor => s2 ^ d2,
            Op::Blackness => 0,
            Op::Whiteness => RGB,
            Op::Invers => d2 ^ RGB,
        };
        let rgb = if self.invert_result { rgb ^ RGB } else { rgb } & RGB;
        let alpha = if self.op == Op::Put { s & !RGB } else { 0xff00_0000 };
        alpha | rgb
    }
}

/// A ternary raster operation (ROP3): `code` is the truth table of the result over pattern `p` (the brush),
/// source `s` and destination `d`, bit `4p + 2s + d` giving the result for those input bits (so 0xF0 is the
/// pattern, 0xCC the source, 0xAA the destination). The result is the OR of the minterms whose bit is set,
/// computed on all colour bits at once; it is opaque.
pub fn rop3(code: u8, p: u32, s: u32, d: u32) -> u32 {
    let pick = |on: bool, v: u32| if on { v } else { !v };
    let rgb = (0..8u8)
        .filter(|i| code & (1 << i) != 0)
        .fold(0, |acc, i| acc | (pick(i & 4 != 0, p) & pick(i & 2 != 0, s) & pick(i & 1 != 0, d)));
    0xff00_0000 | (rgb & RGB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rop3_codes_are_their_truth_tables() {
        let (p, s, d) = (0xfff0_f0f0, 0xffcc_cccc, 0xffaa_aaaa);
        // Every code applied to the canonical inputs gives the code itself in each byte.
        for code in 0..=255u8 {
            let c = u32::from(code);
            assert_eq!(rop3(code, p, s, d), 0xff00_0000 | c << 16 | c << 8 | c, "code {code:#04x}");
        }
        assert_eq!(rop3(0xcc, 0, 0x12_3456, 0xffff_ffff), 0xff12_3456); // SRCCOPY
        assert_eq!(rop3(0x66, 0, 0x00ff_00ff, 0x0f0f_0f0f), 0xfff0_0ff0); // SRCINVERT
        assert_eq!(rop3(0x5a, 0x00ff_0000, 0, 0x0011_2233), 0xffee_2233); // PATINVERT
        assert_eq!(rop3(0x00, 1, 2, 3), 0xff00_0000);
        assert_eq!(rop3(0xff, 1, 2, 3), 0xffff_ffff);
        // MERGECOPY (P and S) and 0xB8 (S ? D : P: the pattern where the source is clear).
        assert_eq!(rop3(0xc0, 0x00f0_0f00, 0x00ff_00ff, 0), 0xfff0_0000);
        assert_eq!(rop3(0xb8, 0x0012_3456, 0x00ff_0000, 0x00ab_cdef), 0xffab_3456);
    }

    #[test]
    fn descriptors_reduce_to_their_operation() {
        let put = Rop::from_descriptor(ropd::OP_PUT, ropd::INVERS_SRC).unwrap();
        assert!(put.is_put());
        assert_eq!(put.apply(0xff12_3456, 0xffff_ffff), 0xff12_3456);
        let xor = Rop::from_descriptor(ropd::OP_XOR, ropd::INVERS_SRC).unwrap();
        assert_eq!(xor.apply(0xff0f_0f0f, 0xff00_ff00), 0xff0f_f00f);
        let nand = Rop::from_descriptor(ropd::OP_AND | ropd::INVERS_RES, ropd::INVERS_SRC).unwrap();
        assert_eq!(nand.apply(0xffff_0000, 0xffff_ff00), 0xff00_ffff);
        let not_src = Rop::from_descriptor(ropd::OP_PUT | ropd::INVERS_SRC, ropd::INVERS_SRC).unwrap();
        assert_eq!(not_src.apply(0xff00_00ff, 0), 0xffff_ff00);
        // INVERS_SRC does not apply when the source is a brush.
        assert!(Rop::from_descriptor(ropd::OP_PUT | ropd::INVERS_SRC, ropd::INVERS_BRUSH).unwrap().is_put());
        let or_not_dest = Rop::from_descriptor(ropd::OP_OR | ropd::INVERS_DEST, ropd::INVERS_SRC).unwrap();
        assert_eq!(or_not_dest.apply(0xff00_0001, 0xffff_ff00), 0xff00_00ff);
        let inv = Rop::from_descriptor(ropd::OP_INVERS, ropd::INVERS_SRC).unwrap();
        assert!(inv.ignores_source());
        assert_eq!(inv.apply(0, 0xff12_3456), 0xffed_cba9);
        assert_eq!(Rop::from_descriptor(ropd::OP_BLACKNESS, 0).unwrap().apply(0xffff_ffff, 0xffff_ffff), 0xff00_0000);
        assert_eq!(Rop::from_descriptor(ropd::OP_WHITENESS, 0).unwrap().apply(0, 0), 0xffff_ffff);
    }

    #[test]
    fn descriptors_without_one_operation_are_refused() {
        assert!(Rop::from_descriptor(0, ropd::INVERS_SRC).is_err());
        assert!(Rop::from_descriptor(ropd::INVERS_SRC, ropd::INVERS_SRC).is_err());
        assert!(Rop::from_descriptor(ropd::OP_PUT | ropd::OP_XOR, ropd::INVERS_SRC).is_err());
    }
}

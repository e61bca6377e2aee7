//! Decoding rows of QUIC samples for a group of channels coded together (R, G, B; or a single channel).
//!
//! Prediction: the first row predicts each sample from its left neighbour (the first sample from 0); later rows
//! predict the first sample from the one above and the others from the mean of the left and upper neighbours,
//! all modulo the sample depth. The decoder reads the folded residual and adds the prediction back.
//!
//! Run mode (not on the first row): before a pixel at index > 2, if the two pixels above it and to its upper left
//! are equal and the two pixels to its left are equal, a run length follows, and that many copies of the left
//! pixel are emitted. After a run of length 0 the pixel is decoded normally (no second run at the same place). Run
//! pixels do not update the residual row, so the context after a run is whatever residual that position held.

use super::bits::BitReader;
use super::model::{internal, ChannelModel, Family, Schedule};
use crate::codecs::DecodeError;

/// One channel: its model, its samples of the current and previous row, and the residual row used as context.
struct Plane {
    model: ChannelModel,
    current: Vec<u8>,
    previous: Vec<u8>,
    residuals: Vec<u8>,
    /// Context of the first pixel of the row: the first residual of the row before (0 on the first row).
    first_context: u8,
}

/// The channels coded together, sharing one update schedule and one run coder.
pub(super) struct Group<const N: usize> {
    planes: [Plane; N],
    schedule: Schedule,
    family: Family,
    width: usize,
    /// Whether the next row is the image's first.
    first_row: bool,
}

fn sample(row: &[u8], i: usize) -> Result<u32, DecodeError> {
    row.get(i).map(|&v| u32::from(v)).ok_or_else(internal)
}

impl<const N: usize> Group<N> {
    /// A group for rows of `width` pixels with samples of `depth` bits.
    pub(super) fn new(width: usize, depth: u32) -> Self {
        let planes = std::array::from_fn(|_| Plane {
            model: ChannelModel::new(depth),
            current: vec![0; width],
            previous: vec![0; width],
            residuals: vec![0; width],
            first_context: 0,
        });
        Group { planes, schedule: Schedule::default(), family: Family::new(depth), width, first_row: true }
    }

    /// The samples of channel `c` in the row decoded last.
    pub(super) fn row(&self, c: usize) -> &[u8] {
        self.planes.get(c).map_or(&[], |p| &p.current)
    }

    /// Decodes the next row.
    pub(super) fn decode_row(&mut self, bits: &mut BitReader) -> Result<(), DecodeError> {
        for p in &mut self.planes {
            std::mem::swap(&mut p.current, &mut p.previous);
            p.first_context = if self.first_row { 0 } else { p.residuals.first().copied().unwrap_or(0) };
        }
        for (start, end, mask, threshold) in self.schedule.segments(self.width) {
            self.decode_segment(bits, start, end, mask, threshold)?;
        }
        self.first_row = false;
        Ok(())
    }

    fn decode_segment(
        &mut self,
        bits: &mut BitReader,
        start: usize,
        end: usize,
        mask: u32,
        threshold: u32,
    ) -> Result<(), DecodeError> {
        let mut i = start;
        let mut stop;
        if i == 0 {
            self.decode_pixel(bits, 0)?;
            if self.schedule.wait > 0 {
                self.schedule.wait -= 1;
            } else {
                self.schedule.wait = self.schedule.next_gap(mask);
                self.update(0, threshold)?;
            }
            i = 1;
            stop = 1 + self.schedule.wait;
        } else {
            stop = i + self.schedule.wait;
        }
        let mut run_start = None;
        'segment: loop {
            // Decode through the next update point (or to the segment's end if it lies beyond).
            let until = if stop < end { stop + 1 } else { end };
            while i < until {
                if run_start != Some(i) && self.run_starts_at(i)? {
                    self.schedule.wait = stop - i;
                    run_start = Some(i);
                    let n = self.schedule.runs.read(bits, end - i)?;
                    self.repeat_left(i, n)?;
                    i += n;
                    if i == end {
                        return Ok(());
                    }
                    stop = i + self.schedule.wait;
                    continue 'segment;
                }
                self.decode_pixel(bits, i)?;
                i += 1;
            }
            if stop < end {
                self.update(stop, threshold)?;
                stop = i + self.schedule.next_gap(mask);
            } else {
                self.schedule.wait = stop - end;
                return Ok(());
            }
        }
    }

    /// Whether a run length is coded before pixel `i`.
    fn run_starts_at(&self, i: usize) -> Result<bool, DecodeError> {
        if self.first_row || i <= 2 {
            return Ok(false);
        }
        for p in &self.planes {
            if sample(&p.previous, i - 1)? != sample(&p.previous, i)?
                || sample(&p.current, i - 1)? != sample(&p.current, i - 2)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Copies the pixel left of `i` into `i..i + n`.
    fn repeat_left(&mut self, i: usize, n: usize) -> Result<(), DecodeError> {
        for p in &mut self.planes {
            let left = sample(&p.current, i - 1)? as u8;
            p.current.get_mut(i..i + n).ok_or_else(internal)?.fill(left);
        }
        Ok(())
    }

    fn decode_pixel(&mut self, bits: &mut BitReader, i: usize) -> Result<(), DecodeError> {
        let max = self.family.max_value();
        for p in &mut self.planes {
            let context =
                if i == 0 { p.first_context } else { p.residuals.get(i - 1).copied().ok_or_else(internal)? };
            let coded = self.family.read(p.model.parameter(context), bits)?;
            *p.residuals.get_mut(i).ok_or_else(internal)? = coded as u8;
            let prediction = match (self.first_row, i) {
                (true, 0) => 0,
                (true, _) => sample(&p.current, i - 1)?,
                (false, 0) => sample(&p.previous, 0)?,
                (false, _) => (sample(&p.current, i - 1)? + sample(&p.previous, i)?) >> 1,
            };
            *p.current.get_mut(i).ok_or_else(internal)? =
                (self.family.unfold(coded).wrapping_add(prediction) & max) as u8;
        }
        Ok(())
    }

    /// Updates every channel's model with the residual at `i`.
    fn update(&mut self, i: usize, threshold: u32) -> Result<(), DecodeError> {
        for p in &mut self.planes {
            let context =
                if i == 0 { p.first_context } else { p.residuals.get(i - 1).copied().ok_or_else(internal)? };
            let value = p.residuals.get(i).copied().ok_or_else(internal)?;
            p.model.update(&self.family, context, value, threshold);
        }
        Ok(())
    }
}

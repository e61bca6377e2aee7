//! Traffic per channel: the byte and message counters each linked channel keeps, read as one snapshot, and the
//! rates over a sliding window that the Traffic panel shows. Pure apart from reading the shared counters.

use super::SessionShared;
use crate::protocol::main_channel::ChannelId;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Rates over a sliding window of samples of `N` counters that only grow (until a relink restarts them).
#[derive(Debug, Clone)]
pub struct CounterRates<const N: usize> {
    window: Duration,
    samples: VecDeque<(Instant, [u64; N])>,
}

impl<const N: usize> CounterRates<N> {
    /// Rates averaged over `window`.
    pub fn new(window: Duration) -> Self {
        CounterRates { window, samples: VecDeque::new() }
    }

    /// Records the counters at `now` and returns each one's rate per second over the window (all 0 until two
    /// samples at least a quarter of a second apart exist).
    pub fn update(&mut self, now: Instant, values: [u64; N]) -> [f64; N] {
        if let Some((_, last)) = self.samples.back() {
            if values.iter().zip(last).any(|(v, l)| v < l) {
                // The counters restarted (the channel was relinked).
                self.samples.clear();
            }
        }
        self.samples.push_back((now, values));
        // Keep one sample at or before the window's start, so the rate covers the whole window.
        while self.samples.len() > 2 && self.samples.get(1).is_some_and(|s| now.duration_since(s.0) >= self.window) {
            self.samples.pop_front();
        }
        let mut rates = [0.0; N];
        let Some((t0, first)) = self.samples.front() else { return rates };
        let secs = now.duration_since(*t0).as_secs_f64();
        if secs < 0.25 {
            return rates;
        }
        for (r, (v, f)) in rates.iter_mut().zip(values.iter().zip(first)) {
            *r = (v - f) as f64 / secs;
        }
        rates
    }
}

/// One channel's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounts {
    /// Bytes received from the server.
    pub bytes_in: u64,
    /// Bytes sent to the server.
    pub bytes_out: u64,
    /// Messages received.
    pub messages_in: u64,
    /// Messages sent.
    pub messages_out: u64,
}

impl ChannelCounts {
    fn as_array(self) -> [u64; 4] {
        [self.bytes_in, self.bytes_out, self.messages_in, self.messages_out]
    }
}

/// One channel's row in the Traffic panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelTraffic {
    /// The channel.
    pub channel: ChannelId,
    /// Totals since the channel last linked.
    pub counts: ChannelCounts,
    /// Per second over the window: bytes in, bytes out, messages in, messages out.
    pub rates: [f64; 4],
}

impl SessionShared {
    /// Every linked channel's counters, in link order.
    pub fn channel_counts(&self) -> Vec<(ChannelId, ChannelCounts)> {
        let list = self.channels.lock().map(|l| l.clone()).unwrap_or_default();
        list.iter()
            .map(|(id, c)| {
                let ((bytes_in, bytes_out), (messages_in, messages_out)) = (c.get(), c.messages());
                (*id, ChannelCounts { bytes_in, bytes_out, messages_in, messages_out })
            })
            .collect()
    }
}

/// Turns counter snapshots into per-channel rates; one meter per channel, dropped when the channel goes.
#[derive(Debug)]
pub struct TrafficMeter {
    window: Duration,
    meters: BTreeMap<ChannelId, CounterRates<4>>,
}

impl Default for TrafficMeter {
    fn default() -> Self {
        TrafficMeter { window: Duration::from_secs(2), meters: BTreeMap::new() }
    }
}

impl TrafficMeter {
    /// The rows for `counts` taken at `now`.
    pub fn update(&mut self, now: Instant, counts: &[(ChannelId, ChannelCounts)]) -> Vec<ChannelTraffic> {
        self.meters.retain(|id, _| counts.iter().any(|(c, _)| c == id));
        counts
            .iter()
            .map(|(channel, c)| {
                let meter = self.meters.entry(*channel).or_insert_with(|| CounterRates::new(self.window));
                ChannelTraffic { channel: *channel, counts: *c, rates: meter.update(now, c.as_array()) }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::ChannelType;

    #[test]
    fn rates_average_over_the_window_and_restart_with_the_counters() {
        let t = Instant::now();
        let mut m = CounterRates::<2>::new(Duration::from_secs(2));
        assert_eq!(m.update(t, [0, 0]), [0.0, 0.0]);
        assert_eq!(m.update(t + Duration::from_secs(1), [100, 10]), [100.0, 10.0]);
        assert_eq!(m.update(t + Duration::from_secs(2), [300, 10]), [150.0, 5.0]);
        // Older samples leave the window.
        assert_eq!(m.update(t + Duration::from_secs(4), [300, 10]), [0.0, 0.0]);
        // A relink restarts the counters: no negative or huge rate.
        assert_eq!(m.update(t + Duration::from_secs(5), [5, 0]), [0.0, 0.0]);
    }

    #[test]
    fn the_meter_follows_channels_as_they_come_and_go() {
        let t = Instant::now();
        let main = ChannelId { channel_type: ChannelType::Main, id: 0 };
        let display = ChannelId { channel_type: ChannelType::Display, id: 0 };
        let counts = |b: u64, m: u64| ChannelCounts { bytes_in: b, bytes_out: b / 2, messages_in: m, messages_out: 1 };
        let mut meter = TrafficMeter::default();
        meter.update(t, &[(main, counts(0, 0)), (display, counts(0, 0))]);
        let rows = meter.update(t + Duration::from_secs(1), &[(main, counts(1000, 4)), (display, counts(50, 2))]);
        assert_eq!(rows[0].rates, [1000.0, 500.0, 4.0, 0.0]);
        assert_eq!(rows[1].channel, display);
        let rows = meter.update(t + Duration::from_secs(2), &[(main, counts(1000, 4))]);
        assert_eq!(rows.len(), 1);
        assert_eq!(meter.meters.len(), 1, "the display's meter is dropped");
    }
}

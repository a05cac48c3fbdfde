//! Hill climbing on the window size of the `Adaptive` policy (the method of
//! Caffeine, Manes and Einziger): every sample period, compare the hit rate
//! with the previous period's; keep stepping the window the same way while it
//! improves, turn back when it worsens. Steps shrink as the climb settles
//! and restart at full size when the workload changes sharply.

/// Requests per sample period, as a multiple of the capacity.
const SAMPLE_FACTOR: f64 = 10.0;
/// The first step, and the step after a restart, as a fraction of capacity.
const STEP: f64 = 0.0625;
/// Each period's step is this fraction of the last.
const DECAY: f64 = 0.98;
/// A hit-rate change at least this large restarts the climb.
const RESTART: f64 = 0.05;
/// Bounds of the window, as fractions of the capacity.
const MIN_WINDOW: f64 = 0.01;
const MAX_WINDOW: f64 = 0.8;

#[derive(Debug, Clone)]
pub(crate) struct Climber {
    capacity: f64,
    /// The window's target size, in capacity units.
    window: f64,
    /// The next step; its sign is the current direction.
    step: f64,
    hits: u64,
    misses: u64,
    previous: Option<f64>,
}

impl Climber {
    pub(crate) fn new(capacity: u64) -> Self {
        let capacity = capacity.max(1) as f64;
        Self {
            capacity,
            window: capacity * MIN_WINDOW,
            step: capacity * STEP,
            hits: 0,
            misses: 0,
            previous: None,
        }
    }

    /// The window's target size in capacity units (at least 1).
    pub(crate) fn window(&self) -> u64 {
        (self.window.round() as u64).max(1)
    }

    /// Records one request; at the end of a sample period moves the window.
    #[inline]
    pub(crate) fn record(&mut self, hit: bool) {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        let total = self.hits + self.misses;
        if (total as f64) < SAMPLE_FACTOR * self.capacity {
            return;
        }
        let rate = self.hits as f64 / total as f64;
        self.hits = 0;
        self.misses = 0;
        let Some(previous) = self.previous.replace(rate) else {
            return; // the first period only sets the baseline
        };
        let change = rate - previous;
        let amount = if change >= 0.0 { self.step } else { -self.step };
        self.step = if change.abs() >= RESTART {
            STEP * self.capacity * amount.signum()
        } else {
            DECAY * amount
        };
        self.window =
            (self.window + amount).clamp(MIN_WINDOW * self.capacity, MAX_WINDOW * self.capacity);
    }

    pub(crate) fn reset(&mut self) {
        *self = Self::new(self.capacity as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbs_while_the_hit_rate_improves_and_turns_back_when_it_falls() {
        let mut c = Climber::new(1_000);
        assert_eq!(c.window(), 10);
        let period = |c: &mut Climber, hit_every: u64| {
            for i in 0..10_000u64 {
                c.record(i % hit_every == 0);
            }
        };
        period(&mut c, 4); // baseline
        assert_eq!(c.window(), 10);
        period(&mut c, 2); // better: step up
        let up = c.window();
        assert!(up > 10, "{up}");
        period(&mut c, 2); // unchanged counts as improving: keep going
        assert!(c.window() > up);
        let top = c.window();
        period(&mut c, 3); // worse: turn back
        assert!(c.window() < top);
    }
}

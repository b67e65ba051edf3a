//! Jittered exponential backoff for `listen`'s reconnects: 0.5 s doubling to 30 s, each
//! delay ±25 % at random so that many clients cut off together do not come back together.

use std::time::Duration;

/// The first delay.
pub const FIRST: Duration = Duration::from_millis(500);
/// The longest delay (before jitter).
pub const MAX: Duration = Duration::from_secs(30);
/// How far a delay strays from its nominal value, either way: a quarter.
pub const JITTER: f64 = 0.25;

/// The delays between attempts.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// A backoff whose next delay is [`FIRST`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The nominal delay before the next attempt (no jitter): [`FIRST`] × 2ⁿ, at most
    /// [`MAX`].
    pub fn nominal(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(16)).unwrap_or(u32::MAX);
        FIRST.saturating_mul(factor).min(MAX)
    }

    /// The delay before the next attempt, with jitter from `random` (any `u32`, uniform):
    /// the nominal delay × [0.75, 1.25]. Advances to the next delay.
    pub fn next_delay_with(&mut self, random: u32) -> Duration {
        let nominal = self.nominal();
        self.attempt = self.attempt.saturating_add(1);
        let unit = f64::from(random) / f64::from(u32::MAX);
        nominal.mul_f64(1.0 - JITTER + 2.0 * JITTER * unit)
    }

    /// [`Backoff::next_delay_with`] with randomness from the OS (the nominal delay if it
    /// fails).
    pub fn next_delay(&mut self) -> Duration {
        let random = getrandom::u32().unwrap_or(u32::MAX / 2);
        self.next_delay_with(random)
    }

    /// Starts again from [`FIRST`] (after a connection that stayed up).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = Backoff::new();
        let nominal: Vec<Duration> = (0..10)
            .map(|_| {
                let n = b.nominal();
                b.next_delay_with(u32::MAX / 2);
                n
            })
            .collect();
        let ms: Vec<u128> = nominal.iter().map(Duration::as_millis).collect();
        assert_eq!(
            ms,
            [
                500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000
            ]
        );
        for _ in 0..100 {
            b.next_delay_with(0);
        }
        assert_eq!(b.nominal(), MAX, "no overflow after many attempts");
        b.reset();
        assert_eq!(b.nominal(), FIRST);
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        let mut lo = Backoff::new();
        let mut hi = Backoff::new();
        for _ in 0..8 {
            let nominal = lo.nominal();
            let (a, b) = (lo.next_delay_with(0), hi.next_delay_with(u32::MAX));
            assert_eq!(a, nominal.mul_f64(0.75));
            assert_eq!(b, nominal.mul_f64(1.25));
        }
        // Random delays differ (a fixed delay would make every client come back at once).
        let delays: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| Backoff::new().next_delay()).collect();
        assert!(delays.len() > 1, "{delays:?}");
        assert!(
            delays
                .iter()
                .all(|d| *d >= FIRST.mul_f64(0.75) && *d <= FIRST.mul_f64(1.25))
        );
    }
}

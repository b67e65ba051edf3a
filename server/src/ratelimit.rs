//! Per-device token buckets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by device row id.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    buckets: Arc<Mutex<HashMap<i64, Bucket>>>,
    per_sec: f64,
    burst: f64,
}

/// Buckets kept before idle full ones are dropped.
const MAX_BUCKETS: usize = 100_000;

impl RateLimiter {
    /// `per_sec` sustained, `burst` at most.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        Self {
            buckets: Arc::default(),
            per_sec,
            burst,
        }
    }

    /// Takes one token for `key`, or says how many whole seconds until one is available.
    pub fn check(&self, key: i64, now: Instant) -> Result<(), u64> {
        let Ok(mut map) = self.buckets.lock() else {
            return Ok(());
        };
        if map.len() >= MAX_BUCKETS {
            let (per_sec, burst) = (self.per_sec, self.burst);
            map.retain(|_, b| b.tokens + now.duration_since(b.at).as_secs_f64() * per_sec < burst);
        }
        let b = self.refilled(&mut map, key, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - b.tokens) / self.per_sec).ceil().max(1.0) as u64)
        }
    }

    /// Takes `n` more tokens for `key` for work a request turned out to cost (the bucket may
    /// go below zero, down to minus its size; later requests wait until it refills).
    pub fn charge(&self, key: i64, n: f64, now: Instant) {
        let Ok(mut map) = self.buckets.lock() else {
            return;
        };
        let b = self.refilled(&mut map, key, now);
        b.tokens = (b.tokens - n).max(-self.burst);
    }

    /// `key`'s bucket (full if new), refilled for the time since it was last used.
    fn refilled<'m>(
        &self,
        map: &'m mut HashMap<i64, Bucket>,
        key: i64,
        now: Instant,
    ) -> &'m mut Bucket {
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_sec).min(self.burst);
        b.at = now;
        b
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let rl = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(rl.check(1, t0), Ok(()));
        }
        assert_eq!(rl.check(1, t0), Err(1));
        assert_eq!(rl.check(2, t0), Ok(()), "buckets are per device");
        assert_eq!(rl.check(1, t0 + Duration::from_millis(500)), Ok(()));
        assert!(rl.check(1, t0 + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn charged_work_delays_later_requests() {
        let rl = RateLimiter::new(2.0, 3.0);
        let t0 = Instant::now();
        assert_eq!(rl.check(1, t0), Ok(()));
        rl.charge(1, 5.0, t0);
        // 2 - 5 = -3 tokens: two seconds until one is back.
        assert_eq!(rl.check(1, t0), Err(2));
        assert_eq!(rl.check(1, t0 + Duration::from_secs(2)), Ok(()));
        assert!(rl.check(1, t0 + Duration::from_secs(2)).is_err());
        // Never below minus the bucket's size.
        rl.charge(2, 1_000.0, t0);
        assert_eq!(rl.check(2, t0 + Duration::from_secs(2)), Ok(()));
    }
}

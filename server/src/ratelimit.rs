//! Token buckets: per device for authenticated requests ([`crate::auth::AuthDevice`]), and
//! per client address for the endpoints that take no device credentials
//! ([`crate::auth::Unauthenticated`]), keyed by [`ip_key`] (docs/architecture.md §10).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets keyed by device row id (or, with `K = IpAddr`, by client address).
#[derive(Debug, Clone)]
pub struct RateLimiter<K = i64> {
    buckets: Arc<Mutex<HashMap<K, Bucket>>>,
    per_sec: f64,
    burst: f64,
}

/// The key of a client address: an IPv4 address (an IPv4-mapped IPv6 address as its IPv4
/// address), or an IPv6 address's /64 network, since one host is commonly given a whole /64
/// and could otherwise take a new bucket with every address.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// Buckets kept before idle full ones are dropped.
const MAX_BUCKETS: usize = 100_000;

impl<K: Hash + Eq> RateLimiter<K> {
    /// `per_sec` sustained, `burst` at most.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        Self {
            buckets: Arc::default(),
            per_sec,
            burst,
        }
    }

    /// Takes one token for `key`, or says how many whole seconds until one is available.
    pub fn check(&self, key: K, now: Instant) -> Result<(), u64> {
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
    pub fn charge(&self, key: K, n: f64, now: Instant) {
        let Ok(mut map) = self.buckets.lock() else {
            return;
        };
        let b = self.refilled(&mut map, key, now);
        b.tokens = (b.tokens - n).max(-self.burst);
    }

    /// `key`'s bucket (full if new), refilled for the time since it was last used.
    fn refilled<'m>(
        &self,
        map: &'m mut HashMap<K, Bucket>,
        key: K,
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
    fn addresses_share_a_bucket_per_ipv4_address_or_ipv6_64() {
        let key = |s: &str| ip_key(s.parse().unwrap());
        assert_eq!(key("192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2::"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        let rl = RateLimiter::<IpAddr>::new(1.0, 2.0);
        let t0 = Instant::now();
        assert_eq!(rl.check(key("2001:db8::1"), t0), Ok(()));
        assert_eq!(rl.check(key("2001:db8::2"), t0), Ok(()));
        assert_eq!(
            rl.check(key("2001:db8::3"), t0),
            Err(1),
            "one /64, one bucket"
        );
        assert_eq!(rl.check(key("2001:db8:0:1::1"), t0), Ok(()));
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

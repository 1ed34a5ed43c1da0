//! Per-client rate limits (token buckets): sign-in attempts, so tokens
//! cannot be guessed at speed, and webhook deliveries, so a flood cannot
//! occupy the engine. In memory and per replica: a limit is a brake, not
//! an account.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets kept before idle ones are dropped.
const MAX_TRACKED: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// `burst` requests at once per key, then one per `refill`.
#[derive(Debug)]
pub struct RateLimiter {
    burst: u32,
    refill: Duration,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(burst: u32, refill: Duration) -> RateLimiter {
        RateLimiter {
            burst: burst.max(1),
            refill: refill.max(Duration::from_millis(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request for `key` (a client address); `Err` carries how
    /// long until the next one is allowed (for `Retry-After`).
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(key) {
            // Full buckets carry no information: drop them first.
            let (burst, refill) = (f64::from(self.burst), self.refill);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() / refill.as_secs_f64()
                    < burst
            });
            if buckets.len() >= MAX_TRACKED {
                buckets.clear();
            }
        }
        let burst = f64::from(self.burst);
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let earned = now.duration_since(b.updated).as_secs_f64() / self.refill.as_secs_f64();
        b.tokens = (b.tokens + earned).min(burst);
        b.updated = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.refill.mul_f64(1.0 - b.tokens))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let limiter = RateLimiter::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at("a", t0).is_ok());
        }
        let wait = limiter.check_at("a", t0).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(10));
        assert!(limiter.check_at("b", t0).is_ok(), "keys are independent");
        assert!(limiter.check_at("a", t0 + Duration::from_secs(10)).is_ok());
        assert!(limiter.check_at("a", t0 + Duration::from_secs(10)).is_err());
    }
}

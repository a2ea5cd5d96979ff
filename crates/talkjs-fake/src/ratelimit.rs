//! Token buckets for the two request classes.
//!
//! Time is tokio's clock ([`tokio::time::Instant`]): the same as the system's monotonic
//! clock normally, and the paused, manually advanced clock in a test runtime with
//! `start_paused` (tokio's `test-util`), so rate-limit tests need no wall-clock sleeps.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::RateLimitConfig;

/// The request class a rate limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Every request except `POST /batch`.
    General,
    /// `POST /batch`.
    Batch,
}

/// One token bucket.
#[derive(Debug)]
struct Bucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: u32, per_second: f64, now: Instant) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            per_second: if per_second.is_finite() && per_second > 0.0 {
                per_second
            } else {
                0.0
            },
            tokens: capacity,
            last: now,
        }
    }

    /// Takes a token, or returns how long until one is available.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else if self.per_second > 0.0 {
            let wait = (1.0 - self.tokens) / self.per_second;
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(3600)))
        } else {
            Err(Duration::from_secs(3600))
        }
    }
}

/// The limiter: `None` when rate limiting is off.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: Option<(Bucket, Bucket)>,
}

impl Limiter {
    /// A limiter with `config` (or none).
    pub(crate) fn new(config: Option<RateLimitConfig>) -> Self {
        let now = Instant::now();
        Self {
            buckets: config.map(|c| {
                let scale = if c.time_scale.is_finite() && c.time_scale > 0.0 {
                    c.time_scale
                } else {
                    1.0
                };
                (
                    Bucket::new(c.burst, c.per_second * scale, now),
                    Bucket::new(c.batch_burst, c.batch_per_second * scale, now),
                )
            }),
        }
    }

    /// Admits a request of `class`, or returns how long the client should wait.
    pub(crate) fn check(&mut self, class: Class) -> Result<(), Duration> {
        let now = Instant::now();
        match (&mut self.buckets, class) {
            (None, _) => Ok(()),
            (Some((general, _)), Class::General) => general.take(now),
            (Some((_, batch)), Class::Batch) => batch.take(now),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let start = Instant::now();
        let mut bucket = Bucket::new(3, 10.0, start);
        for _ in 0..3 {
            assert!(bucket.take(start).is_ok());
        }
        let wait = bucket.take(start).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::from_millis(90));
        assert!(bucket.take(start + Duration::from_millis(101)).is_ok());
    }

    #[test]
    fn off_admits_everything() {
        let mut limiter = Limiter::new(None);
        for _ in 0..10_000 {
            assert!(limiter.check(Class::General).is_ok());
        }
    }
}

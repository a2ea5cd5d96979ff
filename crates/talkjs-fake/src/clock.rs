//! The fake's time: its clock (skewed by the faults) and the time of one request.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use talkjs_models::Timestamp;
use tokio::time::Instant;

/// A delay so long it means "never" (keeps `Instant` arithmetic from overflowing).
pub(crate) const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// The fake's clock: the system clock shifted by
/// [`Faults::clock_skew_ms`](crate::config::Faults::clock_skew_ms). Every time the fake stamps
/// comes from [`Clock::now`].
#[derive(Debug, Default)]
pub(crate) struct Clock {
    skew_ms: AtomicI64,
}

impl Clock {
    /// A clock `skew_ms` milliseconds ahead of the system's (behind if negative).
    pub(crate) fn new(skew_ms: i64) -> Self {
        Self {
            skew_ms: AtomicI64::new(skew_ms),
        }
    }

    /// Changes the skew.
    pub(crate) fn set_skew(&self, skew_ms: i64) {
        self.skew_ms.store(skew_ms, Ordering::Relaxed);
    }

    /// The fake's current time.
    pub(crate) fn now(&self) -> Timestamp {
        skewed(Timestamp::now(), self.skew_ms.load(Ordering::Relaxed))
    }
}

/// `t` shifted by `skew_ms`, clamped to the range of a timestamp.
fn skewed(t: Timestamp, skew_ms: i64) -> Timestamp {
    let shifted = i128::from(t.as_millis()) + i128::from(skew_ms);
    Timestamp::from_millis(u64::try_from(shifted.max(0)).unwrap_or(u64::MAX))
}

/// The time of one request (a batch's operations share it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Now {
    /// The fake's time ([`Clock::now`]), stamped on what the request creates.
    pub(crate) stamp: Timestamp,
    /// Tokio's clock, for listings.
    pub(crate) instant: Instant,
    /// From when what the request creates shows in listings: `instant` plus the listing lag.
    pub(crate) listed_at: Instant,
}

impl Now {
    /// The current time on `clock`, with items created now listed after `listing_lag`.
    pub(crate) fn new(clock: &Clock, listing_lag: Duration) -> Self {
        let instant = Instant::now();
        Self {
            stamp: clock.now(),
            instant,
            listed_at: instant + listing_lag.min(FOREVER),
        }
    }
}

#[cfg(test)]
mod tests {
    use talkjs_models::Timestamp;

    #[test]
    fn skew_shifts_and_clamps() {
        let t = Timestamp::from_millis(10_000);
        assert_eq!(super::skewed(t, 1500).as_millis(), 11_500);
        assert_eq!(super::skewed(t, -1500).as_millis(), 8_500);
        assert_eq!(super::skewed(t, i64::MIN).as_millis(), 0);
        assert_eq!(
            super::skewed(Timestamp::from_millis(u64::MAX), i64::MAX).as_millis(),
            u64::MAX
        );
    }
}

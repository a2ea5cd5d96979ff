//! Request faults: the fate and delays drawn for each request (see [`Faults`]), and the
//! counts of what they did ([`FaultCounts`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::Faults;

/// Fault injection state.
pub(crate) struct FaultState {
    pub(crate) config: Faults,
    rng: fastrand::Rng,
}

impl FaultState {
    /// Fresh state for `config`, its generator seeded from [`Faults::seed`].
    pub(crate) fn new(config: Faults) -> Self {
        Self {
            config,
            rng: fastrand::Rng::with_seed(config.seed),
        }
    }

    /// Draws the fate and delays of a request, a `write` (any method but GET) or not:
    /// always four draws, so the sequence only depends on the seed and the number of
    /// requests.
    pub(crate) fn draw(&mut self, write: bool) -> Draw {
        let roll = self.rng.f64();
        let coin = self.rng.bool();
        let jitter = self.rng.f64();
        let late_jitter = self.rng.f64();
        let config = self.config;
        Draw {
            fate: fate(&config, roll, coin, write),
            latency: delay(config.latency, config.latency_jitter, jitter),
            late_delay: delay(
                config.late_write_delay,
                config.late_write_jitter,
                late_jitter,
            ),
            slow_delay: config.slow_delay,
        }
    }
}

/// What happens to one request (see [`Faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    Normal,
    Reset,
    Unavailable,
    ErrorAfter,
    /// The answer is lost (a reset, or else a 504) and the request processed later.
    LateWrite {
        reset: bool,
    },
    Slow,
    Throttle {
        retry_after: bool,
    },
}

/// The fate of one request and its delays, drawn when it arrives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Draw {
    pub(crate) fate: Fate,
    /// Before anything else.
    pub(crate) latency: Duration,
    /// Of a late write: from the lost answer to the processing.
    pub(crate) late_delay: Duration,
    /// Of a slow answer: from the processing to the answer.
    pub(crate) slow_delay: Duration,
}

/// A rate as a share from 0 to 1 (NaN counts as 0).
fn share(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// The fate of a request from its `roll` (in `[0, 1)`) and `coin`: the roll is split over
/// the rates in their documented order (reset, error, late write, slow, throttle), the later
/// ones getting only what is left when they add up to more than 1.
fn fate(config: &Faults, roll: f64, coin: bool, write: bool) -> Fate {
    let rates = [
        config.reset_rate,
        config.error_rate,
        config.late_write_rate,
        config.slow_rate,
        config.throttle_rate,
    ];
    let mut edge = 0.0;
    let mut bucket = rates.len();
    for (i, rate) in rates.into_iter().enumerate() {
        edge += share(rate);
        if roll < edge {
            bucket = i;
            break;
        }
    }
    match bucket {
        0 => Fate::Reset,
        1 if coin => Fate::ErrorAfter,
        1 => Fate::Unavailable,
        2 if write => Fate::LateWrite { reset: coin },
        3 => Fate::Slow,
        4 => Fate::Throttle { retry_after: coin },
        _ => Fate::Normal,
    }
}

/// What the faults did (see [`FakeTalkJs::fault_counts`](crate::FakeTalkJs::fault_counts)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultCounts {
    /// Connections closed without an answer and without effect
    /// ([`Faults::reset_rate`]). Late writes answered by a reset are not counted here but in
    /// [`late_writes`](Self::late_writes).
    pub resets: u64,
    /// `503` answers, decided before processing ([`Faults::error_rate`]).
    pub unavailable: u64,
    /// `500` answers given after the request was processed ([`Faults::error_rate`]).
    pub errors_after: u64,
    /// Writes whose answer was lost (a reset or a `504`) to be processed later
    /// ([`Faults::late_write_rate`]).
    pub late_writes: u64,
    /// Late writes processed since (whether or not they passed validation then): when it
    /// equals [`late_writes`](Self::late_writes), no late write is still waiting.
    pub late_writes_applied: u64,
    /// Requests whose answer was held back by [`Faults::slow_delay`] after processing
    /// ([`Faults::slow_rate`]); counted before the wait, so also those whose client gave up.
    pub slow: u64,
    /// `429` answers without processing ([`Faults::throttle_rate`]), with or without
    /// `Retry-After` (the rate limiter's own `429`s are not counted here).
    pub throttled: u64,
    /// The part of [`throttled`](Self::throttled) without a `Retry-After` header.
    pub throttled_without_retry_after: u64,
}

/// The counters behind [`FaultCounts`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) resets: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) errors_after: AtomicU64,
    pub(crate) late_writes: AtomicU64,
    pub(crate) late_writes_applied: AtomicU64,
    pub(crate) slow: AtomicU64,
    pub(crate) throttled: AtomicU64,
    pub(crate) throttled_without_retry_after: AtomicU64,
}

/// Adds one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// The counts so far.
    pub(crate) fn snapshot(&self) -> FaultCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FaultCounts {
            resets: get(&self.resets),
            unavailable: get(&self.unavailable),
            errors_after: get(&self.errors_after),
            late_writes: get(&self.late_writes),
            late_writes_applied: get(&self.late_writes_applied),
            slow: get(&self.slow),
            throttled: get(&self.throttled),
            throttled_without_retry_after: get(&self.throttled_without_retry_after),
        }
    }

    /// Sets every count back to zero.
    pub(crate) fn clear(&self) {
        for counter in [
            &self.resets,
            &self.unavailable,
            &self.errors_after,
            &self.late_writes,
            &self.late_writes_applied,
            &self.slow,
            &self.throttled,
            &self.throttled_without_retry_after,
        ] {
            counter.store(0, Ordering::Relaxed);
        }
    }
}

/// `latency` plus the `share` (in `[0, 1)`) of `jitter`, saturating: a latency near
/// `Duration::MAX` means "never answer", not a panic.
fn delay(latency: Duration, jitter: Duration, share: f64) -> Duration {
    let jitter = Duration::try_from_secs_f64(jitter.as_secs_f64() * share).unwrap_or(Duration::MAX);
    latency.saturating_add(jitter)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Fate, fate};
    use crate::config::Faults;

    #[test]
    fn one_roll_is_split_over_the_rates_in_order() {
        let config = Faults::none()
            .reset_rate(0.1)
            .error_rate(0.2)
            .late_write_rate(0.1)
            .slow_rate(0.1)
            .throttle_rate(0.1);
        let at = |roll, coin, write| fate(&config, roll, coin, write);
        assert_eq!(at(0.05, true, true), Fate::Reset);
        assert_eq!(at(0.15, false, true), Fate::Unavailable);
        assert_eq!(at(0.29, true, false), Fate::ErrorAfter);
        assert_eq!(at(0.35, true, true), Fate::LateWrite { reset: true });
        assert_eq!(at(0.35, false, true), Fate::LateWrite { reset: false });
        // A GET whose roll lands on a late write is a normal request.
        assert_eq!(at(0.35, true, false), Fate::Normal);
        assert_eq!(at(0.45, true, false), Fate::Slow);
        assert_eq!(at(0.55, true, false), Fate::Throttle { retry_after: true });
        assert_eq!(
            at(0.55, false, false),
            Fate::Throttle { retry_after: false }
        );
        assert_eq!(at(0.6, true, true), Fate::Normal);
        assert_eq!(at(0.99, false, true), Fate::Normal);
        assert_eq!(fate(&Faults::none(), 0.0, true, true), Fate::Normal);
    }

    #[test]
    fn rates_over_one_are_taken_in_order_and_bad_rates_count_as_zero_or_one() {
        let over = Faults::none().error_rate(0.7).throttle_rate(0.7);
        assert_eq!(fate(&over, 0.69, false, true), Fate::Unavailable);
        assert_eq!(
            fate(&over, 0.71, false, true),
            Fate::Throttle { retry_after: false }
        );
        assert_eq!(
            fate(&over, 0.999, false, true),
            Fate::Throttle { retry_after: false }
        );
        let odd = Faults::none()
            .reset_rate(f64::NAN)
            .error_rate(-3.0)
            .slow_rate(7.0);
        assert_eq!(fate(&odd, 0.0, false, true), Fate::Slow);
        assert_eq!(fate(&odd, 0.999, false, true), Fate::Slow);
    }

    #[test]
    fn delay_adds_a_share_of_the_jitter_and_saturates() {
        let ms = Duration::from_millis;
        assert_eq!(super::delay(ms(10), ms(100), 0.0), ms(10));
        assert_eq!(super::delay(ms(10), ms(100), 0.5), ms(60));
        assert_eq!(
            super::delay(Duration::ZERO, Duration::ZERO, 0.99),
            Duration::ZERO
        );
        let max = Duration::MAX;
        assert_eq!(super::delay(max, max, 0.99), max);
        assert!(super::delay(ms(1), max, 0.999_999) > max / 2);
        assert_eq!(super::delay(max, ms(1), 0.5), max);
    }
}

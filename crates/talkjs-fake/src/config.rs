//! Configuration of the fake: rate limits and fault injection.

use std::time::Duration;

/// Rate limits, per app, like TalkJS enforces them: a token bucket for ordinary requests
/// and a separate one for `POST /batch`. A request beyond the limit gets
/// `429 Too Many Requests` with a `Retry-After` header (whole seconds, at least 1).
///
/// The limit is checked once the path's app id matched, before authentication: every such
/// request counts, including ones refused later (a batch counts once, in its own class).
///
/// The buckets refill by tokio's clock, so a test on tokio's paused clock
/// (`#[tokio::test(start_paused = true)]`, tokio's `test-util` feature) controls the
/// refill exactly with `tokio::time::advance`, with no wall-clock sleeps.
///
/// Rate limiting is **off by default** in the fake (so examples and unrelated tests never
/// see a 429); turn it on with [`Builder::rate_limit`](crate::Builder::rate_limit) or
/// [`FakeTalkJs::set_rate_limit`](crate::FakeTalkJs::set_rate_limit).
///
/// ```
/// use talkjs_fake::RateLimitConfig;
///
/// // TalkJS's documented limits: burst 600, 9 requests per second, 1 batch per second.
/// let real = RateLimitConfig::TALKJS;
/// // A small, fast limit for tests: 20 requests at once, then 50 per second.
/// let test = RateLimitConfig { burst: 20, per_second: 50.0, ..RateLimitConfig::TALKJS };
/// // The TalkJS limits, with time running ten times faster (90 per second, 10 batches per second).
/// let fast = RateLimitConfig { time_scale: 10.0, ..RateLimitConfig::TALKJS };
/// # let _ = (real, test, fast);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimitConfig {
    /// How many ordinary requests may arrive at once (the bucket size). TalkJS: 600.
    pub burst: u32,
    /// The sustained rate of ordinary requests, per second. TalkJS: 9.
    pub per_second: f64,
    /// How many batch requests may arrive at once. TalkJS: 1 (no burst).
    pub batch_burst: u32,
    /// The sustained rate of batch requests, per second. TalkJS: 1.
    pub batch_per_second: f64,
    /// Multiplies both refill rates, to make time pass faster in tests (1.0: real time).
    pub time_scale: f64,
}

impl RateLimitConfig {
    /// TalkJS's documented limits: burst 600, 9 requests per second; batches 1 per second.
    pub const TALKJS: Self = Self {
        burst: 600,
        per_second: 9.0,
        batch_burst: 1,
        batch_per_second: 1.0,
        time_scale: 1.0,
    };
}

impl Default for RateLimitConfig {
    /// [`RateLimitConfig::TALKJS`].
    fn default() -> Self {
        Self::TALKJS
    }
}

/// Fault injection, reproducible from a seed: each request draws from a
/// [`fastrand::Rng`] seeded with [`seed`](Self::seed), in arrival order, so a sequential
/// client sees the same faults on every run.
///
/// For each request (before rate limiting and authentication), the fake:
///
/// 1. waits [`latency`](Self::latency) plus a random share of
///    [`latency_jitter`](Self::latency_jitter);
/// 2. with probability [`reset_rate`](Self::reset_rate) closes the connection without an
///    answer (HTTP/2: resets the stream). The request has **no effect**;
/// 3. otherwise, with probability [`error_rate`](Self::error_rate), answers with a 5xx:
///    half of these are `503 Service Unavailable` decided **before** processing (the
///    request has **no effect**), the other half are `500 Internal Server Error` returned
///    **after** processing (the request **did take effect**, e.g. a message was sent, but
///    the answer is lost). The second kind is what makes idempotency keys matter: a retried
///    send without them creates a duplicate.
///
/// ```
/// use std::time::Duration;
/// use talkjs_fake::Faults;
///
/// let chaos = Faults::seeded(42).error_rate(0.2).reset_rate(0.05).latency(Duration::from_millis(5));
/// # let _ = chaos;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Seed of the random number generator.
    pub seed: u64,
    /// Share of requests answered with a 500 or 503 (0.0..=1.0).
    pub error_rate: f64,
    /// Share of requests whose connection is closed without an answer (0.0..=1.0).
    pub reset_rate: f64,
    /// Delay added to every request.
    pub latency: Duration,
    /// Extra random delay, uniformly distributed between zero and this, added to every
    /// request.
    pub latency_jitter: Duration,
}

impl Faults {
    /// No faults at all (the default).
    pub fn none() -> Self {
        Self::default()
    }

    /// No faults yet, with the random generator seeded by `seed`.
    pub fn seeded(seed: u64) -> Self {
        Self {
            seed,
            ..Self::default()
        }
    }

    /// Sets the share of 500/503 answers.
    #[must_use]
    pub fn error_rate(mut self, rate: f64) -> Self {
        self.error_rate = rate;
        self
    }

    /// Sets the share of connections closed without an answer.
    #[must_use]
    pub fn reset_rate(mut self, rate: f64) -> Self {
        self.reset_rate = rate;
        self
    }

    /// Sets the delay added to every request.
    #[must_use]
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the maximum random extra delay.
    #[must_use]
    pub fn latency_jitter(mut self, jitter: Duration) -> Self {
        self.latency_jitter = jitter;
        self
    }

    /// Whether any fault or delay is configured.
    pub fn is_active(&self) -> bool {
        self.error_rate > 0.0
            || self.reset_rate > 0.0
            || !self.latency.is_zero()
            || !self.latency_jitter.is_zero()
    }
}

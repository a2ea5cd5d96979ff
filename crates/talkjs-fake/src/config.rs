//! Configuration of the fake: rate limits, request faults, webhook faults, the import batch size.

use std::time::Duration;

/// The most messages an import request may carry unless
/// [`Builder::max_import_batch`](crate::Builder::max_import_batch) says otherwise: 10, as the
/// Import reference page states.
pub const DEFAULT_MAX_IMPORT_BATCH: usize = 10;

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
/// // TalkJS's documented limits: burst 600, 9 requests per second; batches burst 500, 1 per second.
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
    /// How many batch requests may arrive at once. TalkJS: 500 (the Batch page: "500 burst
    /// requests, 100 maximum queue length, and 1 batch request per second").
    pub batch_burst: u32,
    /// The sustained rate of batch requests, per second. TalkJS: 1.
    pub batch_per_second: f64,
    /// Multiplies both refill rates, to make time pass faster in tests (1.0: real time).
    pub time_scale: f64,
}

impl RateLimitConfig {
    /// TalkJS's documented limits: burst 600, 9 requests per second (the Get started page);
    /// batches: burst 500, 1 per second (the Batch page). The batch page's "100 maximum
    /// queue length" is not emulated (the fake queues nothing: a request over the limit is
    /// answered `429` at once), and batches count only in their own bucket: whether TalkJS
    /// also counts them against the general limit is not documented.
    pub const TALKJS: Self = Self {
        burst: 600,
        per_second: 9.0,
        batch_burst: 500,
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

/// Fault injection, reproducible from a seed: the faults a TalkJS client meets in
/// production, from the kind ones (a `503` before the write, a dropped connection) to the
/// mean ones (an answer lost while the write lands later, listings that lag, a server clock
/// that differs from the client's, answers slower than the client waits, `429`s).
///
/// Each request draws from a [`fastrand::Rng`] seeded with [`seed`](Self::seed), in
/// arrival order, always **four** values whatever its fate (the fate, a coin, the latency
/// jitter, the late-write jitter), so a sequential client sees the same faults on every
/// run with the same seed and settings.
///
/// The fate of a request is **one roll** split, in this order, over
/// [`reset_rate`](Self::reset_rate), [`error_rate`](Self::error_rate),
/// [`late_write_rate`](Self::late_write_rate), [`slow_rate`](Self::slow_rate) and
/// [`throttle_rate`](Self::throttle_rate); the rest of the roll is a normal request. The
/// rates are shares of all requests, so they should add up to at most 1. A rate below 0 (or
/// NaN) counts as 0, one above 1 as 1, and when they add up to more than 1 they are taken in
/// the order above: the later ones get only what is left (`talkjs fake serve` refuses such
/// rates instead). For each request, the fake:
///
/// 1. waits [`latency`](Self::latency) plus a random share of
///    [`latency_jitter`](Self::latency_jitter) (every request, whatever its fate);
/// 2. **reset** (`reset_rate`): closes the connection without an answer (HTTP/2: resets the
///    stream). The request has **no effect**;
/// 3. **error** (`error_rate`): answers with a 5xx. Half of these (drawn) are
///    `503 Service Unavailable` decided **before** processing: the request has **no
///    effect**. The other half are `500 Internal Server Error` returned **after**
///    processing: the request **did take effect** (e.g. a message was sent) but the answer
///    is lost. That is what makes idempotency keys matter: a retried send without them
///    creates a duplicate. (A request refused before it is processed, by the rate limit,
///    authentication or a wrong app id, gets that refusal instead of the 500.);
/// 4. **late write** (`late_write_rate`, writes only: every method but `GET`; a `GET` whose
///    roll lands here is a normal request): the path, the rate limit and authentication are
///    checked as usual, at arrival (a `404` for another app id, a `429` or a `401` is
///    answered normally, and nothing happens later), and the body is read (one over the
///    size limit is answered `413`). Then the answer is **lost at once**: half of these (drawn) close the
///    connection without an answer, half are answered `504 Gateway Timeout`. The request
///    itself is processed later, in the background, after
///    [`late_write_delay`](Self::late_write_delay) plus a random share of
///    [`late_write_jitter`](Self::late_write_jitter): validated, stored, webhooks sent, as
///    if it had been answered then, whether or not the client is still there. A late write
///    that fails validation then (a bad body, a missing conversation) **has no effect**.
///    This is what a gateway that gives up while the backend goes on looks like: the client
///    sees a failure, and the write lands a moment later;
/// 5. **slow** (`slow_rate`): processed **at once** like a normal request, answered only
///    [`slow_delay`](Self::slow_delay) later. A client whose attempt timeout is shorter gives
///    up, while the write has already landed;
/// 6. **throttle** (`throttle_rate`): answered `429 Too Many Requests` **without
///    processing** (no effect, and no rate-limit token taken). Half of these (drawn) carry
///    `Retry-After: 1`, half carry no `Retry-After` at all;
/// 7. otherwise processes the request normally (rate limit, authentication, validation,
///    storage, webhooks).
///
/// Resets, `503`s and injected `429`s are decided before the rate limit and authentication:
/// such a request takes no rate-limit token and is not checked at all.
///
/// Two settings change every request instead of a share of them:
///
/// * [`listing_lag`](Self::listing_lag): a newly created message (sent or imported) or
///   conversation shows in the **list** endpoints (`GET /conversations`,
///   `GET /users/{id}/conversations`, `GET /conversations/{id}/messages`, also inside
///   `POST /batch`) only this long after it was stored. Getting it by id is not lagged. In a
///   conversation list, `lastMessage`, the `lastMessageAfter` / `lastMessageBefore`
///   filters, the `lastMessageTs` filter and the `lastActivity` order use the newest
///   message visible in listings. The lag is measured on tokio's clock, so a test on a
///   paused clock (`#[tokio::test(start_paused = true)]`) moves it with
///   `tokio::time::advance`. Nothing else is lagged (users, edits, deletions, read
///   states);
/// * [`clock_skew_ms`](Self::clock_skew_ms): the fake's clock minus the client's: every
///   time the fake stamps (`createdAt` of sent messages, conversations, users and webhook
///   events, a participant's `joinedAt`, a message's `editedAt`, and the webhook
///   `X-TalkJS-Timestamp` header) is shifted by it. Imported messages keep the `timestamp`
///   they were given.
///
/// [`FakeTalkJs::fault_counts`](crate::FakeTalkJs::fault_counts) counts what happened.
/// Changing the faults at runtime ([`FakeTalkJs::set_faults`](crate::FakeTalkJs::set_faults))
/// reseeds the generator; late writes already waiting keep their delay.
///
/// ```
/// use std::time::Duration;
/// use talkjs_fake::Faults;
///
/// let chaos = Faults::seeded(42).error_rate(0.2).reset_rate(0.05).latency(Duration::from_millis(5));
/// // Production's meaner faults: 10 % of write answers lost while the write lands 1 to 2 s
/// // later, listings a second behind, a server clock 1.5 s behind ours.
/// let mean = Faults::seeded(7)
///     .late_write_rate(0.1)
///     .late_write_delay(Duration::from_secs(1))
///     .late_write_jitter(Duration::from_secs(1))
///     .listing_lag(Duration::from_secs(1))
///     .clock_skew_ms(-1500)
///     .throttle_rate(0.05);
/// # let _ = (chaos, mean);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Faults {
    /// Seed of the random number generator.
    pub seed: u64,
    /// Share of requests answered with a 500 (after processing) or 503 (before) (0.0..=1.0).
    pub error_rate: f64,
    /// Share of requests whose connection is closed without an answer and without effect
    /// (0.0..=1.0).
    pub reset_rate: f64,
    /// Delay added to every request.
    pub latency: Duration,
    /// Extra random delay, uniformly distributed between zero and this, added to every
    /// request.
    pub latency_jitter: Duration,
    /// Share of write requests (every method but `GET`) whose answer is lost (half a
    /// connection reset, half a `504`) while the write is applied later, after
    /// [`late_write_delay`](Self::late_write_delay) plus a random share of
    /// [`late_write_jitter`](Self::late_write_jitter) (0.0..=1.0; a share of all requests).
    pub late_write_rate: f64,
    /// How long after its answer was lost a late write is applied.
    pub late_write_delay: Duration,
    /// Extra random delay, uniformly distributed between zero and this, added to
    /// [`late_write_delay`](Self::late_write_delay).
    pub late_write_jitter: Duration,
    /// How long after it was stored a new message or conversation shows in list endpoints
    /// (getting it by id is not lagged).
    pub listing_lag: Duration,
    /// The fake's clock minus the client's, in milliseconds (signed): added to every time
    /// the fake stamps (`createdAt`, webhook timestamps), not to imported timestamps.
    pub clock_skew_ms: i64,
    /// Share of requests processed at once but answered only after
    /// [`slow_delay`](Self::slow_delay) (0.0..=1.0).
    pub slow_rate: f64,
    /// How long a slow answer is held back (after the request was processed).
    pub slow_delay: Duration,
    /// Share of requests answered `429` without processing, half with `Retry-After: 1`, half
    /// without `Retry-After` (0.0..=1.0).
    pub throttle_rate: f64,
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

    /// Sets the share of writes whose answer is lost while the write lands later.
    #[must_use]
    pub fn late_write_rate(mut self, rate: f64) -> Self {
        self.late_write_rate = rate;
        self
    }

    /// Sets how long after its lost answer a late write is applied.
    #[must_use]
    pub fn late_write_delay(mut self, delay: Duration) -> Self {
        self.late_write_delay = delay;
        self
    }

    /// Sets the maximum random extra delay of a late write.
    #[must_use]
    pub fn late_write_jitter(mut self, jitter: Duration) -> Self {
        self.late_write_jitter = jitter;
        self
    }

    /// Sets how long a new message or conversation stays out of list endpoints.
    #[must_use]
    pub fn listing_lag(mut self, lag: Duration) -> Self {
        self.listing_lag = lag;
        self
    }

    /// Sets the fake's clock minus the client's, in milliseconds.
    #[must_use]
    pub fn clock_skew_ms(mut self, skew_ms: i64) -> Self {
        self.clock_skew_ms = skew_ms;
        self
    }

    /// Sets the share of requests answered only after [`slow_delay`](Self::slow_delay).
    #[must_use]
    pub fn slow_rate(mut self, rate: f64) -> Self {
        self.slow_rate = rate;
        self
    }

    /// Sets how long a slow answer is held back.
    #[must_use]
    pub fn slow_delay(mut self, delay: Duration) -> Self {
        self.slow_delay = delay;
        self
    }

    /// Sets the share of requests answered `429` without processing.
    #[must_use]
    pub fn throttle_rate(mut self, rate: f64) -> Self {
        self.throttle_rate = rate;
        self
    }

    /// Whether any fault, delay, lag or skew is configured (any setting but the seed
    /// differs from [`none`](Self::none)).
    pub fn is_active(&self) -> bool {
        *self
            != Self {
                seed: self.seed,
                ..Self::default()
            }
    }
}

/// Webhook delivery faults, reproducible from a seed: what a receiver of TalkJS webhooks
/// has to survive. Set them with [`Builder::webhook_faults`](crate::Builder::webhook_faults)
/// or [`FakeTalkJs::set_webhook_faults`](crate::FakeTalkJs::set_webhook_faults); they only
/// matter with a [`webhook_url`](crate::Builder::webhook_url).
///
/// Each event draws its fate from a [`fastrand::Rng`] seeded with [`seed`](Self::seed), in
/// the order the events are produced (the order of
/// [`FakeTalkJs::events`](crate::FakeTalkJs::events)), always the same number of draws per
/// event: the same seed and the same sequence of events give the same drops, duplicates
/// and delays on every run (the interleaving of concurrent deliveries with
/// [`reorder`](Self::reorder) still depends on the receiver).
///
/// Under faults, every delivery still behaves like TalkJS's: each attempt waits at most
/// 5 seconds for an answer, and an attempt that gets no `200` is retried once, 500 ms
/// later. For each event, the fake:
///
/// 1. with probability [`drop_rate`](Self::drop_rate) **drops** it: no attempt is made
///    at all, as if both of TalkJS's attempts had failed. The event is lost for the
///    receiver (it is still in [`FakeTalkJs::events`](crate::FakeTalkJs::events)); the
///    delivery log says [`dropped`](crate::WebhookDelivery::dropped);
/// 2. otherwise, with probability [`duplicate_rate`](Self::duplicate_rate),
///    **duplicates** it: the answer to the first attempt is ignored, as if TalkJS never
///    saw the receiver's `200`, so TalkJS's one retry sends the same event (same id, a
///    fresh timestamp and signature) again 500 ms later. The receiver gets it twice; the
///    log says [`duplicated`](crate::WebhookDelivery::duplicated), 2 attempts. Without
///    [`reorder`](Self::reorder), the duplicate also **delays every later event**: deliveries
///    go one after another, so the events behind it wait for its retry (about 500 ms more).
///    The two rates are shares of all events (drops first), so they should add up to at
///    most 1;
/// 3. waits [`delay`](Self::delay) plus a random share of
///    [`delay_jitter`](Self::delay_jitter), counted from the moment the event was
///    produced, before the first attempt (the request that produced the event is never
///    held up: deliveries run in the background);
/// 4. without [`reorder`](Self::reorder) (the default), delivers the events **one after
///    another in the order they were produced**: a delivery starts once the previous one
///    is finished (retry included) and its own delay has passed, so jitter only delays.
///    With `reorder`, **every delivery is its own task**, started when the event is
///    produced: it waits its own delay, then delivers (at most 64 deliveries are in
///    flight at once; more wait for a free slot in the order their delay ends). Events
///    then arrive in the order their delays end, and a slow or retried delivery no
///    longer holds up the ones behind it: two events produced less than `delay_jitter`
///    apart arrive in either order. With a zero `delay_jitter`, `reorder` only makes the
///    deliveries concurrent, which may or may not change their order; set a jitter for
///    reordering a test can count on.
///
/// ```
/// use std::time::Duration;
/// use talkjs_fake::{FakeTalkJs, WebhookFaults};
///
/// // 30 % of events lost, 10 % delivered twice, the rest in a random order within 50 ms.
/// let faults = WebhookFaults::seeded(7)
///     .drop_rate(0.3)
///     .duplicate_rate(0.1)
///     .reorder(true)
///     .delay_jitter(Duration::from_millis(50));
/// let builder = FakeTalkJs::builder()
///     .webhook_url("http://127.0.0.1:9000/hook")
///     .webhook_faults(faults);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct WebhookFaults {
    /// Seed of the random number generator.
    pub seed: u64,
    /// Share of events never delivered (0.0..=1.0).
    pub drop_rate: f64,
    /// Share of events delivered twice (0.0..=1.0), the second time by TalkJS's retry 500 ms
    /// after the first. Without [`reorder`](Self::reorder), each duplicate holds up the
    /// in-order deliveries behind it by those 500 ms (plus the second attempt).
    pub duplicate_rate: f64,
    /// Delay before the first attempt of every delivery, from the moment the event was
    /// produced.
    pub delay: Duration,
    /// Extra random delay, uniformly distributed between zero and this, added to
    /// [`delay`](Self::delay).
    pub delay_jitter: Duration,
    /// Whether deliveries run concurrently, one task each, instead of one after another
    /// in event order.
    pub reorder: bool,
}

impl WebhookFaults {
    /// No faults at all (the default): every event delivered once, in order, at once.
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

    /// Sets the share of events that are never delivered.
    #[must_use]
    pub fn drop_rate(mut self, rate: f64) -> Self {
        self.drop_rate = rate;
        self
    }

    /// Sets the share of events delivered twice. Without [`reorder`](Self::reorder), a
    /// duplicate delays the in-order deliveries after it by about 500 ms (TalkJS's retry
    /// interval), since each delivery waits for the one before it.
    #[must_use]
    pub fn duplicate_rate(mut self, rate: f64) -> Self {
        self.duplicate_rate = rate;
        self
    }

    /// Sets the delay before every delivery.
    #[must_use]
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sets the maximum random extra delay.
    #[must_use]
    pub fn delay_jitter(mut self, jitter: Duration) -> Self {
        self.delay_jitter = jitter;
        self
    }

    /// Delivers concurrently, one task per event, so events need not arrive in order.
    #[must_use]
    pub fn reorder(mut self, reorder: bool) -> Self {
        self.reorder = reorder;
        self
    }

    /// Whether any fault or delay is configured.
    pub fn is_active(&self) -> bool {
        self.drop_rate > 0.0
            || self.duplicate_rate > 0.0
            || !self.delay.is_zero()
            || !self.delay_jitter.is_zero()
            || self.reorder
    }
}

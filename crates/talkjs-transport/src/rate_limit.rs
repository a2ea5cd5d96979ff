//! Client-side rate limiting: [`RateLimiter`], [`RateLimitLayer`] and the stores.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use http::StatusCode;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::error::TransportError;
use crate::extensions::{RateLimitWait, RequestClass};
use crate::retry_after::parse_retry_after;
use crate::types::{BoxError, BoxFuture, HttpRequest, HttpResponse, MAX_SPAN};

/// A GCRA quota: `burst` requests at once, then one every `interval`.
///
/// With the GCRA, a fresh (or long idle) key admits `burst` requests immediately; after that
/// requests are admitted at the sustained rate of one per `interval`, and unused time earns
/// back burst capacity at the same rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    burst: u32,
    interval: Duration,
}

impl Quota {
    /// TalkJS's general REST limit per app id: burst 600, 9 per second sustained (the
    /// interval rounded up, so the rate is never above 9 per second). [`RateLimiter::new`]
    /// keeps a margin below the burst: see [`RateLimiter::DEFAULT_BURST_MARGIN`].
    pub const TALKJS_GENERAL: Self = Self {
        burst: 600,
        interval: Duration::from_nanos(1_000_000_000_u64.div_ceil(9)),
    };

    /// TalkJS's batch limit per app id as the Batch page states it: "500 burst requests,
    /// 100 maximum queue length, and 1 batch request per second", so a burst of 500 and 1
    /// per second sustained.
    ///
    /// **Unconfirmed**: whether the burst counts batch requests (rather than the operations
    /// in them), and whether batch requests also count against the general limit (600 / 9
    /// per second); the docs do not say, and this limiter counts them in their own class
    /// only. The "maximum queue length" (requests TalkJS holds rather than refuses) has no
    /// counterpart here: the limiter itself queues callers.
    pub const TALKJS_BATCH: Self = Self {
        burst: 500,
        interval: Duration::from_secs(1),
    };

    /// `per_second` requests per second sustained with a burst of `burst` (both at least 1).
    /// The interval is rounded up to the nanosecond, so the rate never exceeds `per_second`.
    pub fn per_second(per_second: u32, burst: u32) -> Self {
        let per_second = per_second.max(1);
        Self {
            burst: burst.max(1),
            interval: Duration::from_nanos(1_000_000_000_u64.div_ceil(u64::from(per_second))),
        }
    }

    /// The same quota with a burst `margin` smaller (at least 1): a client pacing itself at
    /// exactly a server's quota is refused when its requests reach the server later than
    /// they left (a connection being set up, network jitter), because the server's bucket
    /// then starts later than the client's. Each request of margin covers one interval of
    /// such delay (111 ms at TalkJS's 9 per second).
    ///
    /// ```
    /// use talkjs_transport::Quota;
    /// assert_eq!(Quota::TALKJS_GENERAL.below(10).burst(), 590);
    /// assert_eq!(Quota::TALKJS_GENERAL.below(10).interval(), Quota::TALKJS_GENERAL.interval());
    /// ```
    #[must_use]
    pub fn below(self, margin: u32) -> Self {
        Self {
            burst: self.burst.saturating_sub(margin).max(1),
            interval: self.interval,
        }
    }

    /// One request every `interval` sustained with a burst of `burst` (at least 1); for rates
    /// below one per second. A zero `interval` means no limit.
    pub fn with_interval(interval: Duration, burst: u32) -> Self {
        Self {
            burst: burst.max(1),
            interval,
        }
    }

    /// The burst size: how many requests a fresh key admits at once.
    pub fn burst(self) -> u32 {
        self.burst
    }

    /// The emission interval: the time between two requests at the sustained rate.
    pub fn interval(self) -> Duration {
        self.interval
    }

    /// The GCRA tolerance `interval × (burst − 1)`: how far the theoretical arrival time may
    /// run ahead of now while a request is still admitted without waiting.
    pub fn tolerance(self) -> Duration {
        self.interval.saturating_mul(self.burst.saturating_sub(1))
    }
}

/// The outcome of [`RateLimitStore::reserve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// A slot is reserved; send after waiting this long (zero: now).
    Granted(Duration),
    /// The next slot is this far away, more than the allowed maximum wait; nothing was
    /// reserved.
    Denied(Duration),
}

/// Where GCRA state lives: one theoretical arrival time (TAT) per key.
///
/// The store owns the clock: it decides what "now" is (the in-memory store uses tokio's
/// clock, a Redis store would use the Redis server's time so replicas with skewed clocks
/// agree), and answers with durations relative to its own now. Each method must be atomic
/// per key (a lock, or one Lua script in Redis).
///
/// Keys are plain strings; [`RateLimiter`] uses `talkjs:{app_id}:general` and
/// `talkjs:{app_id}:batch`, so every process limiting the same app id through one shared
/// store obeys one limit.
///
/// The arithmetic, with `tau = quota.tolerance()` and `interval = quota.interval()`:
///
/// - **reserve**: `tat = max(stored_tat, now)`; `wait = (tat − tau) − now`, at least zero.
///   If `max_wait` is `Some(m)` and `wait > m`: answer [`Reservation::Denied`]`(wait)` and
///   store nothing. Otherwise store `tat + interval` and answer
///   [`Reservation::Granted`]`(wait)`.
/// - **penalize**: `stored_tat = max(stored_tat, now + pause + tau)`: nobody is admitted
///   before `now + pause`, and afterwards only at the sustained rate (no new burst).
///
/// A missing key counts as `stored_tat = now` (a full burst available).
pub trait RateLimitStore: Send + Sync + std::fmt::Debug + 'static {
    /// Reserves the next slot of `key` under `quota`, unless it is more than `max_wait` away
    /// (`None`: any wait is accepted).
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        max_wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<Reservation, BoxError>>;

    /// Pushes `key` back after the server refused a request: no slot before `pause` from now,
    /// then the sustained rate of `quota`. Never moves a key's state earlier.
    fn penalize<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        pause: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>>;
}

/// The in-process [`RateLimitStore`]: one atomic theoretical arrival time per key, updated
/// with compare-and-swap, so concurrent callers never wait for each other.
///
/// Its clock is [`tokio::time::Instant`], so it follows tokio's paused clock in tests
/// (`tokio::time::pause`). Keys are never evicted; a limiter uses two per app id.
#[derive(Debug)]
pub struct MemoryStore {
    /// The instant the stored times count from: each TAT is nanoseconds after it (0: a key
    /// never used, which has its full burst).
    epoch: Instant,
    /// Written only when a key is used for the first time.
    tats: RwLock<HashMap<String, AtomicU64>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            tats: RwLock::default(),
        }
    }
}

/// A span in nanoseconds, clamped to [`MAX_SPAN`].
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.min(MAX_SPAN).as_nanos()).unwrap_or(u64::MAX)
}

impl MemoryStore {
    /// An empty store: every key starts with a full burst.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the TAT of `key`, creating it on first use.
    fn with_tat<R>(&self, key: &str, f: impl FnOnce(&AtomicU64) -> R) -> R {
        // The map only ever grows and holds atomics, always consistent: a panic elsewhere
        // cannot leave it half-updated, so a poisoned lock is safe to keep using.
        if let Some(tat) = self
            .tats
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
        {
            return f(tat);
        }
        let mut tats = self.tats.write().unwrap_or_else(PoisonError::into_inner);
        f(tats.entry(key.to_owned()).or_default())
    }

    /// Now, in nanoseconds after the epoch.
    fn now(&self) -> u64 {
        nanos(self.epoch.elapsed())
    }

    fn reserve_now(&self, key: &str, quota: Quota, max_wait: Option<Duration>) -> Reservation {
        let now = self.now();
        let (tolerance, interval) = (nanos(quota.tolerance()), nanos(quota.interval()));
        self.with_tat(key, |slot| {
            let mut stored = slot.load(Ordering::Acquire);
            loop {
                let tat = stored.max(now);
                let wait = Duration::from_nanos(tat.saturating_sub(now).saturating_sub(tolerance));
                if max_wait.is_some_and(|max| wait > max) {
                    return Reservation::Denied(wait);
                }
                let next = tat.saturating_add(interval);
                match slot.compare_exchange_weak(stored, next, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => return Reservation::Granted(wait),
                    Err(current) => stored = current,
                }
            }
        })
    }

    fn penalize_now(&self, key: &str, quota: Quota, pause: Duration) {
        let target = self
            .now()
            .saturating_add(nanos(pause))
            .saturating_add(nanos(quota.tolerance()));
        self.with_tat(key, |slot| slot.fetch_max(target, Ordering::AcqRel));
    }
}

impl RateLimitStore for MemoryStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        max_wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<Reservation, BoxError>> {
        Box::pin(async move { Ok(self.reserve_now(key, quota, max_wait)) })
    }

    fn penalize<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        pause: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            self.penalize_now(key, quota, pause);
            Ok(())
        })
    }
}

/// Client-side rate limiting that matches TalkJS's documented limits, shared by every clone
/// of the client.
///
/// TalkJS allows, per app id, a burst of 600 requests and 9 requests per second sustained,
/// and for batch requests a burst of 500 and one per second ([`Quota::TALKJS_BATCH`], which
/// says what is unconfirmed); more gets `429 Too Many Requests`. The
/// [`RateLimitLayer`] keeps a client under those limits so it rarely sees a 429 at all:
///
/// - **GCRA with reservations.** Each rate-limit key (one per app id and [`RequestClass`])
///   has a *theoretical arrival time* (TAT). A call reserves the next slot and learns how
///   long to wait for it; it then sleeps and sends. Callers are queued in the order they
///   reserved, at exactly the sustained rate, without a thundering herd of retries.
/// - **Shared state.** A [`RateLimiter`] is an `Arc` inside: every clone of it, every clone of
///   the service and every stack given the same limiter obey one limit (tower's own
///   `RateLimit` keeps its state per clone, which is not enough for a cloned client).
/// - **Waiting, not failing.** A call waits for its slot. With
///   [`RateLimiter::max_wait`] set, a call whose slot is further away fails at once with
///   [`TransportError::LocalRateLimit`] and reserves nothing.
/// - **Pushed back by the server.** A 429 response (with or without `Retry-After`) pushes
///   the shared state back, so every other caller in flight slows down too, not only the one
///   that was refused, for at most [`RateLimiter::max_penalty`] (60 s by default). The
///   response itself is returned unchanged (the retry layer above decides whether to retry
///   it).
/// - **Pluggable store.** The state sits behind [`RateLimitStore`]; [`MemoryStore`] keeps it in
///   the process. A distributed store (e.g. Redis, shared by several replicas of one app)
///   implements the same trait.
///
/// [`RequestClass::Batch`] requests (set as a request extension) are limited by their own
/// quota, independently of the general one.
///
/// The `governor` crate is not used: it answers "now or not yet" and cannot queue
/// reservations, cannot be pushed back by a 429, does not run on tokio's paused clock (so
/// tests of waiting would take real time), and cannot keep its state in Redis.
///
/// A call that is cancelled while it waits (e.g. by the deadline layer) does not give its
/// slot back: the limiter errs on the side of sending less.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use talkjs_transport::bytes::Bytes;
/// use talkjs_transport::{HttpRequest, HttpResponse, Quota, RateLimitLayer, RateLimiter, RequestClass};
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), talkjs_transport::BoxError> {
/// // TalkJS's limits for app "tNCnKd4d", failing calls that would wait more than 5 s.
/// let limiter = RateLimiter::new("tNCnKd4d").max_wait(Some(Duration::from_secs(5)));
/// let service = ServiceBuilder::new()
///     .layer(RateLimitLayer::new(limiter.clone()))
///     .service_fn(|_req: HttpRequest| async {
///         Ok::<_, std::convert::Infallible>(HttpResponse::new(Bytes::from_static(b"{}")))
///     });
/// let request = talkjs_transport::http::Request::get("/users/alice").body(Bytes::new())?;
/// let response = service.clone().oneshot(request).await?;
/// assert_eq!(response.status(), 200);
///
/// // The limiter also works without the layer: wait for a batch slot, then send yourself.
/// let waited = limiter.acquire(RequestClass::Batch).await?;
/// assert_eq!(waited, Duration::ZERO);
/// # Ok(()) }
/// ```
///
/// The shared rate limiter of one app id: a store, the quotas of both request classes and
/// the waiting policy.
///
/// Cloning is cheap (an `Arc`) and every clone shares the store, so all services and stacks
/// given clones of one limiter obey one limit. The builder methods change the settings of
/// the limiter they are called on and keep sharing the store (except
/// [`with_store`](Self::with_store), which replaces it).
///
/// Keys in the store: `talkjs:{app_id}:general` for [`RequestClass::General`] and
/// `talkjs:{app_id}:batch` for [`RequestClass::Batch`]. A distributed store shares them
/// across replicas.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    inner: Arc<Settings>,
}

#[derive(Debug, Clone)]
struct Settings {
    store: Arc<dyn RateLimitStore>,
    general_key: String,
    batch_key: String,
    general: Quota,
    batch: Quota,
    max_wait: Option<Duration>,
    penalty: Duration,
    max_penalty: Duration,
}

impl RateLimiter {
    /// The penalty applied by a 429 without `Retry-After`, unless changed with
    /// [`penalty_without_retry_after`](Self::penalty_without_retry_after).
    pub const DEFAULT_PENALTY: Duration = Duration::from_secs(1);

    /// The longest pause a server's `Retry-After` imposes on the limiter, unless changed with
    /// [`max_penalty`](Self::max_penalty): 60 s, like [`RetryConfig::max_retry_after`]'s
    /// default.
    ///
    /// [`RetryConfig::max_retry_after`]: crate::RetryConfig::max_retry_after
    pub const DEFAULT_MAX_PENALTY: Duration = Duration::from_secs(60);

    /// The requests the default limiter keeps in reserve below TalkJS's burst of 600: 10,
    /// which covers ~1.1 s of difference between when requests leave and when they reach
    /// TalkJS. Without it, a client running at exactly TalkJS's quota got a 429 at the end
    /// of its burst in every run of `benches/bulk.rs` (BENCHMARKS.md, "Bulk loading").
    pub const DEFAULT_BURST_MARGIN: u32 = 10;

    /// A limiter for app `app_id` with TalkJS's quotas ([`Quota::TALKJS_GENERAL`] less
    /// [`DEFAULT_BURST_MARGIN`](Self::DEFAULT_BURST_MARGIN), [`Quota::TALKJS_BATCH`]) in a
    /// fresh [`MemoryStore`], waiting as long as needed.
    pub fn new(app_id: impl Into<String>) -> Self {
        let app_id = app_id.into();
        Self {
            inner: Arc::new(Settings {
                store: Arc::new(MemoryStore::new()),
                general_key: format!("talkjs:{app_id}:general"),
                batch_key: format!("talkjs:{app_id}:batch"),
                general: Quota::TALKJS_GENERAL.below(Self::DEFAULT_BURST_MARGIN),
                batch: Quota::TALKJS_BATCH,
                max_wait: None,
                penalty: Self::DEFAULT_PENALTY,
                max_penalty: Self::DEFAULT_MAX_PENALTY,
            }),
        }
    }

    fn settings(&mut self) -> &mut Settings {
        Arc::make_mut(&mut self.inner)
    }

    /// Keeps the state in `store` (e.g. a distributed one) instead of a private
    /// [`MemoryStore`].
    #[must_use]
    pub fn with_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.settings().store = store;
        self
    }

    /// The quota of [`RequestClass::General`] requests (default [`Quota::TALKJS_GENERAL`]
    /// less [`DEFAULT_BURST_MARGIN`](Self::DEFAULT_BURST_MARGIN)).
    ///
    /// Any quota works, not only TalkJS's default: a plan with a higher limit
    /// (`Quota::per_second(20, 1200)`), or a share of the limit that leaves the rest to other
    /// clients of the app, e.g. half of it for a bulk job beside the live app:
    /// `Quota::with_interval(Quota::TALKJS_GENERAL.interval() * 2, 295)`. To keep a share and
    /// also obey the limit every client of the app shares (in Redis, with
    /// [`with_store`](Self::with_store)), stack two [`RateLimitLayer`]s: the share on a key of
    /// its own outside (`RateLimiter::new("{app_id}:bulk")`), the app's limit inside
    /// (`RateLimiter::new(app_id)`, TalkJS's quota), so the job takes a slot of the shared
    /// limit only when its share allows (this is what `talkjs import --rate 50%
    /// --redis-url URL` does).
    ///
    /// ```
    /// use talkjs_transport::{Quota, RateLimiter};
    /// let half = Quota::with_interval(Quota::TALKJS_GENERAL.interval() * 2, 295);
    /// let limiter = RateLimiter::new("tNCnKd4d:bulk").general_quota(half);
    /// assert_eq!(limiter.key(talkjs_transport::RequestClass::General), "talkjs:tNCnKd4d:bulk:general");
    /// ```
    #[must_use]
    pub fn general_quota(mut self, quota: Quota) -> Self {
        self.settings().general = quota;
        self
    }

    /// The quota of [`RequestClass::Batch`] requests (default [`Quota::TALKJS_BATCH`]).
    #[must_use]
    pub fn batch_quota(mut self, quota: Quota) -> Self {
        self.settings().batch = quota;
        self
    }

    /// The longest a call may wait for its slot; a call whose slot is further away fails at
    /// once with [`TransportError::LocalRateLimit`] and reserves nothing. `None` (the default):
    /// wait as long as needed.
    #[must_use]
    pub fn max_wait(mut self, max_wait: Option<Duration>) -> Self {
        self.settings().max_wait = max_wait;
        self
    }

    /// How long a 429 without a usable `Retry-After` header pauses the limiter (default
    /// [`DEFAULT_PENALTY`](Self::DEFAULT_PENALTY), 1 s).
    #[must_use]
    pub fn penalty_without_retry_after(mut self, penalty: Duration) -> Self {
        self.settings().penalty = penalty;
        self
    }

    /// The longest pause a 429's `Retry-After` header imposes (default
    /// [`DEFAULT_MAX_PENALTY`](Self::DEFAULT_MAX_PENALTY), 60 s). A longer one (e.g. an absurd
    /// or hostile `Retry-After: 999999999`) pauses the limiter for this long only, so one
    /// response cannot stall every caller sharing the limiter for years.
    #[must_use]
    pub fn max_penalty(mut self, max: Duration) -> Self {
        self.settings().max_penalty = max;
        self
    }

    /// The store key of a request class (`talkjs:{app_id}:general` or `talkjs:{app_id}:batch`).
    pub fn key(&self, class: RequestClass) -> &str {
        match class {
            RequestClass::General => &self.inner.general_key,
            RequestClass::Batch => &self.inner.batch_key,
        }
    }

    /// The quota of a request class.
    pub fn quota(&self, class: RequestClass) -> Quota {
        match class {
            RequestClass::General => self.inner.general,
            RequestClass::Batch => self.inner.batch,
        }
    }

    /// Reserves a slot for a request of `class` and waits for it; returns how long it waited.
    ///
    /// Fails with [`TransportError::LocalRateLimit`] (reserving nothing) when the slot is further
    /// away than the [maximum wait](Self::max_wait), and with
    /// [`TransportError::RateLimitStore`] when the store fails. Dropping the future while it
    /// waits does not give the slot back.
    pub async fn acquire(&self, class: RequestClass) -> Result<Duration, TransportError> {
        let settings = &*self.inner;
        let reservation = settings
            .store
            .reserve(self.key(class), self.quota(class), settings.max_wait)
            .await;
        let wait = self.settle(class, reservation)?;
        #[cfg(feature = "metrics")]
        crate::metrics::limiter_wait(class, wait);
        if !wait.is_zero() {
            tracing::debug!(?class, ?wait, "rate limit: waiting for a slot");
            tokio::time::sleep(wait).await;
        }
        Ok(wait)
    }

    /// The wait for a slot the store answered with, or the error of a denied slot or a
    /// failed store.
    fn settle(
        &self,
        class: RequestClass,
        reservation: Result<Reservation, BoxError>,
    ) -> Result<Duration, TransportError> {
        match reservation.map_err(|source| TransportError::RateLimitStore { source })? {
            Reservation::Granted(wait) => Ok(wait),
            Reservation::Denied(wait) => {
                let settings = &*self.inner;
                let max_wait = settings.max_wait.unwrap_or(Duration::MAX);
                tracing::debug!(
                    ?class,
                    ?wait,
                    ?max_wait,
                    "rate limit: slot too far away, failing the call"
                );
                #[cfg(feature = "metrics")]
                crate::metrics::rate_limited("local", class);
                Err(TransportError::LocalRateLimit { wait, max_wait })
            }
        }
    }

    /// Pushes the limiter of `class` back after the server answered 429: no slot for
    /// `retry_after` (at most the [maximum penalty](Self::max_penalty); the
    /// [default penalty](Self::penalty_without_retry_after) when `None`) from now, then the
    /// sustained rate with no new burst. Every caller sharing the limiter slows down, not
    /// only the refused one.
    pub async fn on_rate_limited(
        &self,
        class: RequestClass,
        retry_after: Option<Duration>,
    ) -> Result<(), TransportError> {
        let pause = match retry_after {
            Some(asked) if asked > self.inner.max_penalty => {
                tracing::warn!(
                    ?class,
                    ?asked,
                    max_penalty = ?self.inner.max_penalty,
                    "rate limit: Retry-After longer than the maximum penalty, pausing for the maximum"
                );
                self.inner.max_penalty
            }
            Some(asked) => asked,
            None => self.inner.penalty,
        };
        tracing::debug!(
            ?class,
            ?pause,
            retry_after_header = retry_after.is_some(),
            "rate limit: 429 from the server, pushing the limiter back"
        );
        self.inner
            .store
            .penalize(self.key(class), self.quota(class), pause)
            .await
            .map_err(|source| TransportError::RateLimitStore { source })
    }
}

/// Layer that makes each call wait for a slot of a shared [`RateLimiter`] before it is sent,
/// and pushes the limiter back when the server answers 429.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: RateLimiter,
}

impl RateLimitLayer {
    /// A layer using `limiter`; all services it builds (and their clones) share its state.
    pub fn new(limiter: RateLimiter) -> Self {
        Self { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimitService::new(inner, self.limiter.clone())
    }
}

/// Service of [`RateLimitLayer`].
///
/// Readiness is the inner service's. A call waits for its slot, then goes to the inner
/// service that was made ready (a clone stays behind for the next call). The response is
/// returned unchanged, a 429 included; a 429 also pushes the limiter back
/// ([`RateLimiter::on_rate_limited`]).
#[derive(Debug, Clone)]
pub struct RateLimitService<S> {
    inner: S,
    limiter: RateLimiter,
}

impl<S> RateLimitService<S> {
    /// Wraps `inner`, limited by `limiter`.
    pub fn new(inner: S, limiter: RateLimiter) -> Self {
        Self { inner, limiter }
    }

    /// The limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

impl<S> Service<HttpRequest> for RateLimitService<S>
where
    S: Service<HttpRequest, Response = HttpResponse> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: HttpRequest) -> Self::Future {
        // The service that was driven to readiness sends this request; a clone stays behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limiter = self.limiter.clone();
        Box::pin(async move {
            let class = RequestClass::of(&req);
            let waited = limiter.acquire(class).await?;
            if !waited.is_zero() {
                // Only when it waited: an extension allocates the request's extension map.
                let total = RateLimitWait::of(&req).saturating_add(waited);
                req.extensions_mut().insert(RateLimitWait(total));
            }
            let response = inner.call(req).await.map_err(Into::into)?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                let retry_after = parse_retry_after(response.headers(), SystemTime::now());
                if let Err(error) = limiter.on_rate_limited(class, retry_after).await {
                    // The 429 is more useful to the caller (and the retry layer) than the
                    // store's error.
                    tracing::warn!(%error, "rate limit: could not push the limiter back");
                }
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let limiter = RateLimiter::new("app1");
        assert_eq!(limiter.key(RequestClass::General), "talkjs:app1:general");
        assert_eq!(limiter.key(RequestClass::Batch), "talkjs:app1:batch");
        let other = limiter.clone().max_wait(Some(Duration::ZERO));
        assert!(Arc::ptr_eq(&limiter.inner.store, &other.inner.store));
        assert_eq!(limiter.inner.max_wait, None);
    }

    #[tokio::test(start_paused = true)]
    async fn huge_pause_saturates() {
        let store = MemoryStore::new();
        let quota = Quota::per_second(1, 1);
        store.penalize_now("k", quota, Duration::MAX);
        match store.reserve_now("k", quota, None) {
            Reservation::Granted(wait) => assert_eq!(wait, MAX_SPAN),
            Reservation::Denied(_) => panic!("no max wait"),
        }
    }
}

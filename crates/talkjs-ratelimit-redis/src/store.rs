//! [`RedisStore`], its builder, its outage handling and its counters.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{FromRedisValue, IntoConnectionInfo, RedisResult, ScriptInvocation};
use talkjs_transport::later;
use talkjs_transport::{BoxError, BoxFuture, MemoryStore, Quota, RateLimitStore, Reservation};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::Error;
use crate::scripts::{
    PENALIZE_SCRIPT, RESERVE_SCRIPT, duration_from_micros, micros_ceil, micros_floor,
};

/// What a [`RedisStore`] does with a call while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenUnavailable {
    /// Use the store's local in-memory limiter (the default): the call goes on, limited by
    /// this process alone (with [`RedisStoreBuilder::replicas`], by its share of the quota).
    /// A `tracing` warning is emitted once per outage, not per call.
    #[default]
    FallBackToLocal,
    /// Fail the call: [`RateLimiter::acquire`](talkjs_transport::RateLimiter::acquire)
    /// returns [`TransportError::RateLimitStore`](talkjs_transport::TransportError) with an
    /// [`Error`] as its source, and the request is not sent.
    FailCall,
}

/// Counters of a [`RedisStore`] since it was built, e.g. for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Calls answered by Redis.
    pub redis: u64,
    /// Calls answered by the local fallback limiter.
    pub local: u64,
    /// Calls that failed (only with [`WhenUnavailable::FailCall`]).
    pub failed: u64,
    /// Outages: how often Redis went from reachable (or not yet tried) to unreachable.
    pub outages: u64,
}

#[derive(Debug, Default)]
struct Counters {
    redis: AtomicU64,
    local: AtomicU64,
    failed: AtomicU64,
    outages: AtomicU64,
}

impl Counters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[derive(Debug, Clone)]
struct Config {
    command_timeout: Duration,
    retry_interval: Duration,
    when_unavailable: WhenUnavailable,
    replicas: u32,
    key_prefix: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            command_timeout: RedisStoreBuilder::DEFAULT_COMMAND_TIMEOUT,
            retry_interval: RedisStoreBuilder::DEFAULT_RETRY_INTERVAL,
            when_unavailable: WhenUnavailable::default(),
            replicas: 1,
            key_prefix: String::new(),
        }
    }
}

/// Whether Redis is believed to be reachable.
#[derive(Debug, Clone, Copy)]
enum Health {
    /// Reachable, or not tried yet: calls go to Redis.
    Up,
    /// Unreachable since `since`; calls go to the fallback, except one probe at a time once
    /// `retry_at` has passed.
    Down { since: Instant, retry_at: Instant },
}

/// Where one call goes.
enum Route {
    /// To Redis; `probe`: the first try after an outage (it may wait for a reconnection).
    Redis { probe: bool },
    /// Straight to the fallback: Redis is down and another call is probing, or it is too
    /// early to probe again.
    Unavailable { down_for: Duration },
}

/// Clears the probing flag when the probe ends, even if its future is dropped midway.
struct ProbeGuard<'a>(Option<&'a AtomicBool>);

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(flag) = self.0 {
            flag.store(false, Ordering::Release);
        }
    }
}

/// A [`RateLimitStore`] in Redis, shared by every process that points at the same Redis:
/// replicas of one service limiting the same TalkJS app id obey one limit.
///
/// - **Atomic, on one clock.** Each call is one Lua script (`EVALSHA`, loaded on the first
///   `NOSCRIPT`, e.g. after a Redis restart) that reads the Redis server's `TIME`, so the
///   replicas' own clocks do not matter. The state is one integer per key (the theoretical
///   arrival time in µs) that expires a second after it stops mattering.
/// - **One connection.** A [`redis::aio::ConnectionManager`], opened lazily on the first
///   call (or by [`connect`](Self::connect)), multiplexed by all calls and reconnected
///   after errors.
/// - **Outages.** A call that Redis does not answer within the
///   [command timeout](RedisStoreBuilder::command_timeout) (connection refused, reset, or
///   just slow) marks Redis as down; calls then use the local fallback
///   ([`WhenUnavailable::FallBackToLocal`], the default) or fail
///   ([`WhenUnavailable::FailCall`]) without contacting Redis, except one probe every
///   [retry interval](RedisStoreBuilder::retry_interval). When a probe succeeds, Redis is
///   used again. Warnings are logged once per outage.
///
/// Keys are the limiter's (`talkjs:{app_id}:general`, `talkjs:{app_id}:batch`), after an
/// optional [prefix](RedisStoreBuilder::key_prefix).
///
/// ```no_run
/// use std::sync::Arc;
/// use talkjs_ratelimit_redis::RedisStore;
/// use talkjs_transport::RateLimiter;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(RedisStore::open("redis://redis.internal:6379/")?);
/// // Optional: fail at startup if Redis is misconfigured, instead of falling back later.
/// store.connect().await?;
/// let limiter = RateLimiter::new("tNCnKd4d").with_store(store.clone());
/// // … build the client with `.rate_limiter(Some(limiter))` …
/// println!("{:?}", store.stats());
/// # Ok(()) }
/// ```
pub struct RedisStore {
    client: redis::Client,
    config: Config,
    connection: OnceCell<ConnectionManager>,
    local: MemoryStore,
    health: Mutex<Health>,
    probing: AtomicBool,
    counters: Counters,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the address: the connection info may hold a password.
        f.debug_struct("RedisStore")
            .field("addr", &self.addr())
            .field("config", &self.config)
            .field("available", &self.is_available())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// A store with the default settings for the Redis at `url` (e.g.
    /// `redis://127.0.0.1:6379/`). Only parses the URL; connects on the first call.
    pub fn open(url: impl IntoConnectionInfo) -> Result<Self, Error> {
        RedisStoreBuilder::new().open(url)
    }

    /// A builder for the settings: timeouts, the behaviour during outages, a key prefix.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::new()
    }

    /// The Redis address (`host:port`), without credentials.
    pub fn addr(&self) -> String {
        self.client.get_connection_info().addr.to_string()
    }

    /// Connects now (if not yet connected) and loads both scripts, instead of on the first
    /// call; fails if Redis does not answer within the command timeout. A failure is
    /// recorded like any other (Redis counts as down until the next successful call).
    pub async fn connect(&self) -> Result<(), Error> {
        let result = self
            .with_timeout(async {
                let mut conn = self.connection().await?;
                RESERVE_SCRIPT
                    .prepare_invoke()
                    .load_async(&mut conn)
                    .await?;
                PENALIZE_SCRIPT
                    .prepare_invoke()
                    .load_async(&mut conn)
                    .await?;
                Ok(())
            })
            .await;
        match &result {
            Ok(()) => self.mark_up(),
            Err(error) => self.mark_down(error),
        }
        result
    }

    /// Whether Redis is believed reachable: `false` from a failed call until a successful one.
    pub fn is_available(&self) -> bool {
        matches!(*self.health(), Health::Up)
    }

    /// The counters since the store was built.
    pub fn stats(&self) -> Stats {
        Stats {
            redis: self.counters.redis.load(Ordering::Relaxed),
            local: self.counters.local.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            outages: self.counters.outages.load(Ordering::Relaxed),
        }
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        // A plain enum, always consistent: a poisoned lock is safe to keep using.
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn connection(&self) -> RedisResult<ConnectionManager> {
        let timeout = self.config.command_timeout;
        self.connection
            .get_or_try_init(|| {
                // No retries inside the manager: while Redis is down, the store probes once
                // per retry interval itself, and each probe starts a fresh attempt.
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
    }

    async fn with_timeout<T>(
        &self,
        call: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let timeout = self.config.command_timeout;
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or(Err(Error::Timeout(timeout)))
    }

    /// Runs one script call against Redis within the command timeout. A probe retries once
    /// after a connection error: the first failure makes the manager reconnect, and the
    /// second try waits for that reconnection.
    async fn call_redis<T: FromRedisValue>(
        &self,
        probe: bool,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        self.with_timeout(async {
            let mut conn = self.connection().await?;
            match invocation.invoke_async(&mut conn).await {
                Err(error) if probe && (error.is_io_error() || error.is_unrecoverable_error()) => {
                    Ok(invocation.invoke_async(&mut conn).await?)
                }
                result => Ok(result?),
            }
        })
        .await
    }

    fn route(&self) -> Route {
        let health = *self.health();
        match health {
            Health::Up => Route::Redis { probe: false },
            Health::Down { since, retry_at } => {
                let now = Instant::now();
                if now >= retry_at && !self.probing.swap(true, Ordering::AcqRel) {
                    Route::Redis { probe: true }
                } else {
                    Route::Unavailable {
                        down_for: now.saturating_duration_since(since),
                    }
                }
            }
        }
    }

    fn mark_up(&self) {
        let previous = std::mem::replace(&mut *self.health(), Health::Up);
        if let Health::Down { since, .. } = previous {
            tracing::info!(
                redis = %self.addr(),
                down_for = ?since.elapsed(),
                "rate limit: Redis is reachable again, sharing the limit through it"
            );
        }
    }

    fn mark_down(&self, error: &Error) {
        let now = Instant::now();
        let retry_at = later(now, self.config.retry_interval);
        let mut health = self.health();
        match &mut *health {
            Health::Down { retry_at: at, .. } => *at = retry_at,
            Health::Up => {
                *health = Health::Down {
                    since: now,
                    retry_at,
                };
                drop(health);
                Counters::bump(&self.counters.outages);
                match self.config.when_unavailable {
                    WhenUnavailable::FallBackToLocal => tracing::warn!(
                        redis = %self.addr(),
                        %error,
                        "rate limit: Redis is unreachable; falling back to this process's \
                         own limiter until it is back"
                    ),
                    WhenUnavailable::FailCall => tracing::warn!(
                        redis = %self.addr(),
                        %error,
                        "rate limit: Redis is unreachable; rate-limited calls fail until it \
                         is back"
                    ),
                }
            }
        }
    }

    /// The quota of the local fallback: the whole quota, or this replica's share of it.
    fn local_quota(&self, quota: Quota) -> Quota {
        let n = self.config.replicas;
        if n <= 1 {
            quota
        } else {
            Quota::with_interval(quota.interval().saturating_mul(n), quota.burst() / n)
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.config.key_prefix)
    }

    /// Runs `redis(probe)` or, when Redis is down, `local()`, per the configured policy (the
    /// fallback's future is made only when it is used).
    async fn run<T, R, RF, L, LF>(&self, redis: R, local: L) -> Result<T, BoxError>
    where
        R: FnOnce(bool) -> RF,
        RF: Future<Output = Result<T, Error>>,
        L: FnOnce() -> LF,
        LF: Future<Output = Result<T, BoxError>>,
    {
        let error = match self.route() {
            Route::Redis { probe } => {
                let _guard = ProbeGuard(probe.then_some(&self.probing));
                match redis(probe).await {
                    Ok(value) => {
                        self.mark_up();
                        Counters::bump(&self.counters.redis);
                        return Ok(value);
                    }
                    Err(error) => {
                        tracing::debug!(%error, probe, "rate limit: Redis call failed");
                        self.mark_down(&error);
                        error
                    }
                }
            }
            Route::Unavailable { down_for } => Error::Unavailable { down_for },
        };
        match self.config.when_unavailable {
            WhenUnavailable::FallBackToLocal => {
                Counters::bump(&self.counters.local);
                local().await
            }
            WhenUnavailable::FailCall => {
                Counters::bump(&self.counters.failed);
                Err(error.into())
            }
        }
    }
}

impl RateLimitStore for RedisStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        max_wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<Reservation, BoxError>> {
        Box::pin(async move {
            let redis = |probe| async move {
                let mut invocation = RESERVE_SCRIPT.key(self.key(key));
                invocation
                    .arg(micros_ceil(quota.interval()))
                    .arg(micros_floor(quota.tolerance()))
                    .arg(max_wait.map_or(-1, micros_floor));
                let (granted, wait): (i64, i64) = self.call_redis(probe, &invocation).await?;
                let wait = duration_from_micros(wait);
                Ok(if granted == 1 {
                    Reservation::Granted(wait)
                } else {
                    Reservation::Denied(wait)
                })
            };
            let local = || self.local.reserve(key, self.local_quota(quota), max_wait);
            self.run(redis, local).await
        })
    }

    fn penalize<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        pause: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async move {
            let redis = |probe| async move {
                let mut invocation = PENALIZE_SCRIPT.key(self.key(key));
                invocation
                    .arg(micros_floor(pause))
                    .arg(micros_floor(quota.tolerance()));
                let _moved: i64 = self.call_redis(probe, &invocation).await?;
                Ok(())
            };
            let local = || self.local.penalize(key, self.local_quota(quota), pause);
            self.run(redis, local).await
        })
    }
}

/// Settings of a [`RedisStore`].
///
/// ```
/// use std::time::Duration;
/// use talkjs_ratelimit_redis::{RedisStore, WhenUnavailable};
///
/// let store = RedisStore::builder()
///     .command_timeout(Duration::from_millis(100))
///     .retry_interval(Duration::from_secs(2))
///     .when_unavailable(WhenUnavailable::FallBackToLocal)
///     .replicas(4) // during an outage each of 4 replicas takes a quarter of the quota
///     .key_prefix("prod:")
///     .open("redis://127.0.0.1:6379/")?;
/// # Ok::<(), talkjs_ratelimit_redis::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RedisStoreBuilder {
    config: Config,
}

impl RedisStoreBuilder {
    /// The default [command timeout](Self::command_timeout): 250 ms.
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_millis(250);
    /// The default [retry interval](Self::retry_interval): 1 s.
    pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);

    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// How long one call may take in Redis, connecting included, before Redis counts as
    /// unreachable (default [`DEFAULT_COMMAND_TIMEOUT`](Self::DEFAULT_COMMAND_TIMEOUT)).
    /// Keep it short: it is the most a call waits before falling back.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.config.command_timeout = timeout;
        self
    }

    /// While Redis is unreachable, how often one call tries it again (default
    /// [`DEFAULT_RETRY_INTERVAL`](Self::DEFAULT_RETRY_INTERVAL)); the other calls do not
    /// wait for Redis in between. Intervals above about 30 years count as 30 years
    /// (`Duration::MAX` means "do not retry").
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.config.retry_interval = interval;
        self
    }

    /// What calls do while Redis is unreachable (default
    /// [`WhenUnavailable::FallBackToLocal`]).
    pub fn when_unavailable(mut self, policy: WhenUnavailable) -> Self {
        self.config.when_unavailable = policy;
        self
    }

    /// How many replicas share the limit (default 1). Only the local fallback uses it:
    /// during an outage each replica limits itself to `1/replicas` of the quota (the
    /// interval times `replicas`, the burst divided by it, at least 1), so that together
    /// they stay near the limit. With the default, each replica falls back to the whole
    /// quota.
    pub fn replicas(mut self, replicas: u32) -> Self {
        self.config.replicas = replicas.max(1);
        self
    }

    /// A prefix for every key in Redis (default none), e.g. `"staging:"` to keep two
    /// environments apart in one Redis.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.key_prefix = prefix.into();
        self
    }

    /// The store for the Redis at `url` (e.g. `redis://:password@host:6379/0`, or
    /// `rediss://` with the `redis` crate's TLS features). Only parses the URL.
    pub fn open(self, url: impl IntoConnectionInfo) -> Result<RedisStore, Error> {
        Ok(self.client(redis::Client::open(url)?))
    }

    /// The store for an existing [`redis::Client`].
    pub fn client(self, client: redis::Client) -> RedisStore {
        RedisStore {
            client,
            config: self.config,
            connection: OnceCell::new(),
            local: MemoryStore::new(),
            health: Mutex::new(Health::Up),
            probing: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_quota_is_a_share() {
        let store = RedisStore::builder()
            .replicas(4)
            .open("redis://127.0.0.1:1/")
            .unwrap_or_else(|e| panic!("{e}"));
        let share = store.local_quota(Quota::per_second(40, 20));
        assert_eq!(share.burst(), 5);
        assert_eq!(share.interval(), Duration::from_millis(100));
        // Never below one request of burst.
        let share = store.local_quota(Quota::per_second(1, 1));
        assert_eq!(share.burst(), 1);
        assert_eq!(share.interval(), Duration::from_secs(4));
        let whole = RedisStore::open("redis://127.0.0.1:1/").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            whole.local_quota(Quota::TALKJS_GENERAL),
            Quota::TALKJS_GENERAL
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let store =
            RedisStore::open("redis://:hunter2@127.0.0.1:6379/").unwrap_or_else(|e| panic!("{e}"));
        let debug = format!("{store:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1:6379"), "{debug}");
    }

    #[test]
    fn keys_get_the_prefix() {
        let store = RedisStore::builder()
            .key_prefix("staging:")
            .open("redis://127.0.0.1:1/")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.key("talkjs:a:general"), "staging:talkjs:a:general");
    }
}

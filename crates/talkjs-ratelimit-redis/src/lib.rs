//! # talkjs-ratelimit-redis
//!
//! One TalkJS rate limit shared by every replica of a service, kept in Redis.
//!
//! **Paths.** This crate is not part of the `talkjs` facade: add `talkjs-ratelimit-redis`
//! to your dependencies and write `talkjs_ratelimit_redis::RedisStore`. Its examples name the
//! client's crates directly; with the facade, `talkjs_transport::RateLimiter` is
//! `talkjs::transport::RateLimiter` and `talkjs_api::Client` is `talkjs::Client`.
//!
//! TalkJS limits requests per app id (a burst of 600, then 9 per second; batches 1 per
//! second). The client's [`RateLimiter`](talkjs_transport::RateLimiter) keeps one process
//! under that limit, but several replicas, each with its own in-memory limiter, add up to
//! several times the limit and get `429 Too Many Requests`. [`RedisStore`] implements the
//! transport's [`RateLimitStore`](talkjs_transport::RateLimitStore) on Redis, so all
//! replicas reserve their slots from one state:
//!
//! - the GCRA state of each app id and request class (general / batch) is one integer in
//!   Redis, updated atomically by a Lua script (loaded once, called by its SHA1) on the
//!   **Redis server's clock**, so the replicas' clocks do not matter;
//! - calls wait for their slot exactly as with the in-memory store (queued at the sustained
//!   rate, pushed back by 429s for every replica at once);
//! - when Redis is unreachable, calls fall back to a local limiter (with one warning per
//!   outage) or fail, as [configured](WhenUnavailable); when it is back, it is used again. A
//!   short outage loses no request.
//!
//! ```no_run
//! use std::sync::Arc;
//! use talkjs_ratelimit_redis::{RedisStore, WhenUnavailable};
//! use talkjs_transport::RateLimiter;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::builder()
//!     .when_unavailable(WhenUnavailable::FallBackToLocal) // the default
//!     .replicas(4) // during an outage, each replica takes a quarter of the limit
//!     .open("redis://redis.internal:6379/")?;
//! let limiter = RateLimiter::new("tNCnKd4d").with_store(Arc::new(store));
//! let client = talkjs_api::Client::builder("tNCnKd4d", "sk_live_…")
//!     .rate_limiter(Some(limiter))
//!     .build()?;
//! # let _ = client;
//! # Ok(()) }
//! ```
//!
//! Requires Redis 5 or newer (scripts are replicated by their effects, so `TIME` in a
//! script is allowed). Both scripts touch one key each, so a Redis Cluster works too.

mod scripts;
mod store;

pub use store::{RedisStore, RedisStoreBuilder, Stats, WhenUnavailable};

/// The `redis` crate, for [`RedisStoreBuilder::client`] and connection settings.
pub use redis;

use std::time::Duration;

/// The example of this crate in the workspace's README.md (where it cannot be compiled: the
/// facade's doc tests lack this crate), compiled here; `tests/readme.rs` checks that the
/// README shows exactly this code.
#[cfg(doctest)]
#[doc = concat!("```no_run\n", include_str!("../docs/readme_example.rs"), "```")]
pub struct ReadmeExample;

/// Why a call to the Redis store failed.
///
/// Inside the transport, it arrives as the source of
/// [`TransportError::RateLimitStore`](talkjs_transport::TransportError); with
/// [`WhenUnavailable::FallBackToLocal`] (the default) calls do not fail, and errors are
/// only logged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis answered with an error, or the connection failed.
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Redis did not answer within the command timeout.
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    /// Redis has been unreachable for a while and was not tried for this call (it is tried
    /// again once per retry interval).
    #[error("Redis has been unreachable for {down_for:?}")]
    Unavailable {
        /// How long Redis has been unreachable.
        down_for: Duration,
    },
}

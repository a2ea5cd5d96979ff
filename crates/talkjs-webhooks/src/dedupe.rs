//! Remembering which delivery holds each event: [`DedupeStore`] and [`MemoryDedupeStore`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A boxed, `Send` future: what [`DedupeStore`]'s methods return, so the trait stays
/// object-safe (`Arc<dyn DedupeStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The error type a [`DedupeStore`] wraps its failures in.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A store of the event ids already claimed by a delivery, each claim remembered for a time
/// to live.
///
/// Every delivery the receiver takes in has a **token** of its own (random). It
/// [claims](Self::claim) the event's id with it: the first token to claim an id holds it
/// for the time to live, and only the delivery holding the claim runs the handler. A claim
/// is idempotent for its token: asking again with the same token answers `true` again.
/// That is what makes an uncertain answer safe. When the store fails or times out, the
/// receiver cannot tell whether the claim landed (a Redis that stored the key but whose
/// reply was lost), so it answers 500 and, later, asks again with the same token: `true`
/// means this delivery holds the event (its first claim had landed, or lands now) and runs
/// the handler; `false` means another delivery (TalkJS's retry) holds it and runs it. See
/// the [crate docs](crate#the-handler-model).
///
/// Both methods must be atomic: when two deliveries of one id claim at once (on one
/// replica or on several sharing the store), exactly one gets `true`.
///
/// Answer well within TalkJS's 5 seconds (the delivery waits for the first claim): give
/// calls to a remote store a timeout of their own and fail rather than hang.
///
/// Implement it for your own storage (a database with a unique index, for example) by
/// boxing an async block:
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use talkjs_webhooks::{BoxFuture, DedupeError, DedupeStore};
///
/// /// Remembers claims forever (a sketch: a real store expires them after `ttl`).
/// #[derive(Default)]
/// struct Forever(Mutex<HashMap<String, String>>);
///
/// impl DedupeStore for Forever {
///     fn claim<'a>(
///         &'a self,
///         id: &'a str,
///         token: &'a str,
///         _ttl: Duration,
///     ) -> BoxFuture<'a, Result<bool, DedupeError>> {
///         Box::pin(async move {
///             let mut claims = self.0.lock().map_err(|_| DedupeError::new("lock poisoned"))?;
///             let holder = claims.entry(id.to_owned()).or_insert_with(|| token.to_owned());
///             Ok(holder == token)
///         })
///     }
///
///     fn release<'a>(&'a self, id: &'a str, token: &'a str) -> BoxFuture<'a, Result<(), DedupeError>> {
///         Box::pin(async move {
///             let mut claims = self.0.lock().map_err(|_| DedupeError::new("lock poisoned"))?;
///             if claims.get(id).is_some_and(|holder| holder == token) {
///                 claims.remove(id);
///             }
///             Ok(())
///         })
///     }
/// }
/// ```
pub trait DedupeStore: Send + Sync {
    /// Claims `id` for the delivery `token`, for `ttl`, and says whether that delivery holds
    /// it: `true` if no claim on `id` was held within its time to live (the claim is now
    /// `token`'s) or the claim held is `token`'s own (an earlier call with this token got
    /// through, even if its answer was lost); `false` if another token holds it (a
    /// duplicate). A repeated call with the same token does not extend the time to live.
    ///
    /// An error means the store could not answer, and the claim may or may not have been
    /// recorded; the receiver answers the delivery 500 and asks again with the same token.
    fn claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>>;

    /// Withdraws the claim on `id` if `token` holds it (another token's claim stays), so that
    /// the next delivery of the event can claim it. Called after a [`claim`](Self::claim)
    /// failed when the delivery's event cannot be handled later (by
    /// [`WebhookConfig::receive`](crate::WebhookConfig::receive), e.g. the axum extractor).
    fn release<'a>(&'a self, id: &'a str, token: &'a str)
    -> BoxFuture<'a, Result<(), DedupeError>>;
}

impl<T: DedupeStore + ?Sized> DedupeStore for Arc<T> {
    fn claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        (**self).claim(id, token, ttl)
    }

    fn release<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), DedupeError>> {
        (**self).release(id, token)
    }
}

impl<T: DedupeStore + ?Sized> DedupeStore for Box<T> {
    fn claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        (**self).claim(id, token, ttl)
    }

    fn release<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), DedupeError>> {
        (**self).release(id, token)
    }
}

/// A new claim token: 128 random bits in hex. Only tokens of deliveries of one event id
/// within its time to live need to differ.
pub(crate) fn claim_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// A [`DedupeStore`] could not say whether an event id was seen (e.g. Redis did not answer).
#[derive(Debug, thiserror::Error)]
#[error("the webhook dedupe store failed: {source}")]
pub struct DedupeError {
    #[source]
    source: BoxError,
}

impl DedupeError {
    /// Wraps the store's own error (or a message). It must not contain secrets: it is
    /// logged.
    pub fn new(source: impl Into<BoxError>) -> Self {
        Self {
            source: source.into(),
        }
    }
}

/// Time to live longer than this is cut to it (a year), so expiry times never overflow.
const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The default [`DedupeStore`]: event ids in this process's memory, bounded.
///
/// - **Expiry.** An id is forgotten once its time to live has passed; expired ids are
///   purged on every call, oldest first, so memory follows the rate of events times the
///   time to live.
/// - **Bound.** At most [`capacity`](Self::with_capacity) ids are kept
///   ([`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) by default). When a new id would exceed
///   it, the oldest id is forgotten early: a duplicate of that event arriving afterwards
///   would be handled again. At the default of 100,000 ids and the default time to live of
///   an hour, that takes more than 27 events a second, sustained.
/// - **One process.** Replicas behind a load balancer each have their own memory, so a
///   retry that lands on another replica is not recognised: use
///   `RedisDedupeStore` (feature `redis`) or your own store there.
///
/// It never fails. Time is [`tokio::time::Instant`], so tests can advance it with tokio's
/// paused clock.
pub struct MemoryDedupeStore {
    claims: Mutex<Claims>,
    capacity: usize,
}

/// One id's claim.
struct Claim {
    until: Instant,
    token: Box<str>,
    /// Which entry of `Claims::order` is this claim's.
    seq: u64,
}

/// The claims by id, and the same claims in insertion order (for purging and eviction).
/// `order` may hold stale entries of ids claimed again or released since (their `seq`
/// differs, or the id is gone); `by_id` never holds an id that is not in `order`.
#[derive(Default)]
struct Claims {
    by_id: HashMap<Arc<str>, Claim>,
    order: VecDeque<(Instant, u64, Arc<str>)>,
    next_seq: u64,
}

impl Claims {
    /// Drops the front entry of `order`, and its id's claim if the entry is the claim's.
    fn pop_front(&mut self) {
        if let Some((_, seq, id)) = self.order.pop_front() {
            if self.by_id.get(&id).is_some_and(|claim| claim.seq == seq) {
                self.by_id.remove(&id);
            }
        }
    }
}

impl MemoryDedupeStore {
    /// The number of ids kept by [`new`](Self::new): 100,000 (a few megabytes).
    pub const DEFAULT_CAPACITY: usize = 100_000;

    /// An empty store keeping at most [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY) ids.
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty store keeping at most `capacity` ids (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            claims: Mutex::new(Claims::default()),
            capacity: capacity.max(1),
        }
    }

    /// The most ids this store keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many ids are remembered now (expired ones not counted).
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .by_id
            .values()
            .filter(|claim| claim.until > now)
            .count()
    }

    /// Whether no id is remembered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Claims> {
        // Every update leaves the maps consistent: a poisoned lock is safe to keep using.
        self.claims.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The synchronous core of [`DedupeStore::claim`].
    fn claim_now(&self, id: &str, token: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut claims = self.lock();
        while claims
            .order
            .front()
            .is_some_and(|(until, ..)| *until <= now)
        {
            claims.pop_front();
        }
        if let Some(claim) = claims.by_id.get(id).filter(|claim| claim.until > now) {
            return *claim.token == *token;
        }
        // `now` on overflow: the id is forgotten at once, the event still handled once here.
        let until = now.checked_add(ttl.min(MAX_TTL)).unwrap_or(now);
        let id: Arc<str> = Arc::from(id);
        let seq = claims.next_seq;
        claims.next_seq += 1;
        claims.by_id.insert(
            Arc::clone(&id),
            Claim {
                until,
                token: token.into(),
                seq,
            },
        );
        claims.order.push_back((until, seq, id));
        while claims.order.len() > self.capacity {
            claims.pop_front();
        }
        true
    }

    /// The synchronous core of [`DedupeStore::release`].
    fn release_now(&self, id: &str, token: &str) {
        let mut claims = self.lock();
        if claims
            .by_id
            .get(id)
            .is_some_and(|claim| *claim.token == *token)
        {
            // Its entry in `order` goes stale and is dropped in turn.
            claims.by_id.remove(id);
        }
    }
}

impl Default for MemoryDedupeStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryDedupeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedupeStore")
            .field("capacity", &self.capacity)
            .field("len", &self.lock().by_id.len())
            .finish_non_exhaustive()
    }
}

impl DedupeStore for MemoryDedupeStore {
    fn claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        let held = self.claim_now(id, token, ttl);
        Box::pin(std::future::ready(Ok(held)))
    }

    fn release<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), DedupeError>> {
        self.release_now(id, token);
        Box::pin(std::future::ready(Ok(())))
    }
}

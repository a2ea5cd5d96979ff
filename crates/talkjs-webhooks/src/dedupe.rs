//! Remembering which events were handled: [`DedupeStore`] and [`MemoryDedupeStore`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A boxed, `Send` future: what [`DedupeStore::first_seen`] returns, so the trait stays
/// object-safe (`Arc<dyn DedupeStore>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The error type a [`DedupeStore`] wraps its failures in.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A store of the event ids already seen, each remembered for a time to live.
///
/// [`first_seen`](Self::first_seen) must be atomic: when two deliveries of one id arrive at
/// once (on one replica or on several sharing the store), exactly one call answers `true`.
/// The receiver runs the handler only for that one.
///
/// Answer well within TalkJS's 5 seconds (the delivery waits for it): give calls to a
/// remote store a timeout of their own and fail rather than hang.
///
/// Implement it for your own storage (a database with a unique index, for example) by
/// boxing an async block:
///
/// ```
/// use std::collections::HashSet;
/// use std::sync::Mutex;
/// use std::time::Duration;
/// use talkjs_webhooks::{BoxFuture, DedupeError, DedupeStore};
///
/// /// Remembers ids forever (a sketch: a real store expires them after `ttl`).
/// #[derive(Default)]
/// struct Forever(Mutex<HashSet<String>>);
///
/// impl DedupeStore for Forever {
///     fn first_seen<'a>(
///         &'a self,
///         id: &'a str,
///         _ttl: Duration,
///     ) -> BoxFuture<'a, Result<bool, DedupeError>> {
///         Box::pin(async move {
///             let mut seen = self.0.lock().map_err(|_| DedupeError::new("lock poisoned"))?;
///             Ok(seen.insert(id.to_owned()))
///         })
///     }
/// }
/// ```
pub trait DedupeStore: Send + Sync {
    /// Marks `id` as seen for `ttl` and says whether it was new: `true` if it was not seen
    /// within its time to live (the caller handles the event), `false` if it was (a
    /// duplicate). An error means the store could not answer; the receiver then refuses the
    /// delivery with 500 so that TalkJS sends it again.
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>>;
}

impl<T: DedupeStore + ?Sized> DedupeStore for Arc<T> {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        (**self).first_seen(id, ttl)
    }
}

impl<T: DedupeStore + ?Sized> DedupeStore for Box<T> {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        (**self).first_seen(id, ttl)
    }
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
/// Time is [`tokio::time::Instant`], so tests can advance it with tokio's paused clock.
pub struct MemoryDedupeStore {
    seen: Mutex<Seen>,
    capacity: usize,
}

/// The ids with their expiry, and the same entries in insertion order (for purging and
/// eviction). `order` may hold stale entries of ids re-inserted later; `expiry` never holds
/// an id that is not in `order`.
#[derive(Default)]
struct Seen {
    expiry: HashMap<Arc<str>, Instant>,
    order: VecDeque<(Instant, Arc<str>)>,
}

impl Seen {
    /// Drops the front entry of `order`, and its id if the entry is the id's current one.
    fn pop_front(&mut self) {
        if let Some((until, id)) = self.order.pop_front() {
            if self.expiry.get(&id) == Some(&until) {
                self.expiry.remove(&id);
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
            seen: Mutex::new(Seen::default()),
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
            .expiry
            .values()
            .filter(|&&until| until > now)
            .count()
    }

    /// Whether no id is remembered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Seen> {
        // Every update leaves the maps consistent: a poisoned lock is safe to keep using.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The synchronous core of [`DedupeStore::first_seen`].
    fn mark(&self, id: &str, ttl: Duration) -> bool {
        let now = Instant::now();
        let mut seen = self.lock();
        while seen.order.front().is_some_and(|(until, _)| *until <= now) {
            seen.pop_front();
        }
        if seen.expiry.get(id).is_some_and(|until| *until > now) {
            return false;
        }
        // `now` on overflow: the id is forgotten at once, the event still handled once here.
        let until = now.checked_add(ttl.min(MAX_TTL)).unwrap_or(now);
        let id: Arc<str> = Arc::from(id);
        seen.expiry.insert(Arc::clone(&id), until);
        seen.order.push_back((until, id));
        while seen.order.len() > self.capacity {
            seen.pop_front();
        }
        true
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
            .field("len", &self.lock().expiry.len())
            .finish_non_exhaustive()
    }
}

impl DedupeStore for MemoryDedupeStore {
    fn first_seen<'a>(
        &'a self,
        id: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        let first = self.mark(id, ttl);
        Box::pin(std::future::ready(Ok(first)))
    }
}

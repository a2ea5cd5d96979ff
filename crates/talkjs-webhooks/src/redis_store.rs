//! Deduplication shared through Redis: [`RedisDedupeStore`] (feature `redis`).

use std::fmt;
use std::time::Duration;

use redis::IntoConnectionInfo;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

use crate::dedupe::{BoxFuture, DedupeError, DedupeStore};

/// Time to live longer than a year is cut to a year (as in the memory store).
const MAX_TTL_MS: u64 = 365 * 24 * 60 * 60 * 1000;

/// A [`DedupeStore`] in Redis, shared by every replica that points at the same Redis: a
/// retry that lands on another replica is recognised too.
///
/// Each event id is one key, `<prefix><id>`, holding the token of the delivery that claimed
/// it and expired by Redis itself after the time to live. A claim is one Lua script: `GET`
/// the key; if it is missing, `SET` it to the token with `PX <ttl ms>`; answer whether the
/// key holds the token. Scripts run atomically, so of two deliveries of one event exactly
/// one holds it, and asking again with the same token is safe. A release deletes the key
/// only if it holds the token. The default prefix is
/// [`DEFAULT_KEY_PREFIX`](Self::DEFAULT_KEY_PREFIX); give each TalkJS app (or environment)
/// sharing a Redis its own.
///
/// One [`ConnectionManager`] is opened on the first call (or by
/// [`connect`](Self::connect)), multiplexed by all calls and reconnected after errors. A
/// call that Redis does not answer within the
/// [command timeout](Self::with_command_timeout) fails. Such a claim may still have been
/// stored (Redis did the work, its answer came late or not at all): the receiver answers
/// the delivery 500 and asks again with the same token until Redis answers, so the event is
/// handled once, by this delivery or by TalkJS's retry (see the
/// [crate docs](crate#the-handler-model)).
///
/// ```no_run
/// use talkjs_webhooks::{RedisDedupeStore, SecretKey, WebhookConfig};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisDedupeStore::open("redis://redis.internal:6379/")?
///     .with_key_prefix("myapp:talkjs-events:");
/// store.connect().await?; // optional: fail at startup rather than on the first delivery
/// let config = WebhookConfig::new(SecretKey::new("sk_live_…")).with_dedupe_store(store);
/// # let _ = config;
/// # Ok(()) }
/// ```
///
/// `Debug` shows the Redis address without credentials.
pub struct RedisDedupeStore {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    /// The scripts ([`CLAIM`], [`RELEASE`]): sent by SHA1 (`EVALSHA`), loaded on a miss.
    claim: redis::Script,
    release: redis::Script,
}

impl RedisDedupeStore {
    /// The key prefix used unless [`with_key_prefix`](Self::with_key_prefix) sets another.
    pub const DEFAULT_KEY_PREFIX: &'static str = "talkjs:webhook-event:";

    /// The command timeout used unless [`with_command_timeout`](Self::with_command_timeout)
    /// sets another: 1 second (TalkJS waits 5 seconds for the whole answer).
    pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);

    /// A store for the Redis at `url` (e.g. `redis://127.0.0.1:6379/`). Only parses the
    /// URL; connects on the first call.
    pub fn open(url: impl IntoConnectionInfo) -> Result<Self, DedupeError> {
        Ok(Self::from_client(
            redis::Client::open(url).map_err(DedupeError::new)?,
        ))
    }

    /// A store using `client`.
    pub fn from_client(client: redis::Client) -> Self {
        Self {
            client,
            connection: OnceCell::new(),
            prefix: Self::DEFAULT_KEY_PREFIX.to_owned(),
            timeout: Self::DEFAULT_COMMAND_TIMEOUT,
            claim: redis::Script::new(CLAIM),
            release: redis::Script::new(RELEASE),
        }
    }

    /// Puts `prefix` before every event id to make its key.
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a call (connecting included) may take before it fails.
    #[must_use]
    pub fn with_command_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key of an event id.
    pub fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The Redis address (`host:port`), without credentials.
    pub fn addr(&self) -> String {
        self.client.get_connection_info().addr.to_string()
    }

    /// Connects now (if not yet connected), checks that Redis answers `PING`, and loads the
    /// claim and release scripts (otherwise loaded on their first use).
    pub async fn connect(&self) -> Result<(), DedupeError> {
        self.with_timeout(async {
            let mut conn = self.connection().await?;
            redis::cmd("PING")
                .query_async::<()>(&mut conn)
                .await
                .map_err(DedupeError::new)?;
            for script in [&self.claim, &self.release] {
                script
                    .load_async(&mut conn)
                    .await
                    .map_err(DedupeError::new)?;
            }
            Ok(())
        })
        .await
    }

    async fn connection(&self) -> Result<ConnectionManager, DedupeError> {
        let timeout = self.timeout;
        self.connection
            .get_or_try_init(|| {
                // No retries inside the manager: the command timeout bounds each call, and
                // the next call starts a fresh attempt.
                let config = ConnectionManagerConfig::new()
                    .set_number_of_retries(0)
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout);
                ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(DedupeError::new)
    }

    async fn with_timeout<T>(
        &self,
        call: impl Future<Output = Result<T, DedupeError>>,
    ) -> Result<T, DedupeError> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(DedupeError::new(format!(
                    "Redis at {} did not answer within {timeout:?}",
                    self.addr()
                )))
            })
    }
}

/// Claims `KEYS[1]` for the token `ARGV[1]` for `ARGV[2]` ms unless another token holds it;
/// 1 if the token holds it afterwards, else 0.
const CLAIM: &str = r"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  return 1
end
return 0
";

/// Deletes `KEYS[1]` if the token `ARGV[1]` holds it.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

impl DedupeStore for RedisDedupeStore {
    fn claim<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, DedupeError>> {
        Box::pin(self.with_timeout(async move {
            let mut conn = self.connection().await?;
            // PX 0 is an error in Redis, and so is a huge one: 1 ms to a year.
            let millis = u64::try_from(ttl.as_millis())
                .unwrap_or(u64::MAX)
                .clamp(1, MAX_TTL_MS);
            let held: i64 = self
                .claim
                .key(self.key(id))
                .arg(token)
                .arg(millis)
                .invoke_async(&mut conn)
                .await
                .map_err(DedupeError::new)?;
            Ok(held == 1)
        }))
    }

    fn release<'a>(
        &'a self,
        id: &'a str,
        token: &'a str,
    ) -> BoxFuture<'a, Result<(), DedupeError>> {
        Box::pin(self.with_timeout(async move {
            let mut conn = self.connection().await?;
            let _deleted: i64 = self
                .release
                .key(self.key(id))
                .arg(token)
                .invoke_async(&mut conn)
                .await
                .map_err(DedupeError::new)?;
            Ok(())
        }))
    }
}

impl fmt::Debug for RedisDedupeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the address: the connection info may hold a password.
        f.debug_struct("RedisDedupeStore")
            .field("addr", &self.addr())
            .field("key_prefix", &self.prefix)
            .field("command_timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

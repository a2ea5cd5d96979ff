//! The handle: [`FakeTalkJs`], its [`Builder`], start-up, and the accessors that let tests
//! look inside and change faults and limits at runtime.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use talkjs_auth::{AppId, SecretKey, TokenSigner};
use talkjs_models::{Conversation, Message, User, WebhookEvent};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::config::{DEFAULT_MAX_IMPORT_BATCH, Faults, RateLimitConfig, WebhookFaults};
use crate::faults::{Counters, FaultCounts, FaultState};
use crate::server::Shared;
use crate::store::State;
use crate::sync::lock;
use crate::webhook::WebhookDelivery;
use crate::{api, auth, ratelimit, server, store, webhook};

/// Why the fake could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A setting is invalid (e.g. an empty app id or a non-`http://` webhook URL).
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Configures and starts a [`FakeTalkJs`]. Get one with [`FakeTalkJs::builder`].
#[derive(Clone, Default)]
#[must_use]
pub struct Builder {
    app_id: Option<String>,
    secret_key: Option<String>,
    port: u16,
    rate_limit: Option<RateLimitConfig>,
    faults: Faults,
    webhook_url: Option<String>,
    webhook_faults: WebhookFaults,
    api_version: Option<String>,
    max_import_batch: Option<usize>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("app_id", &self.app_id)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("port", &self.port)
            .field("rate_limit", &self.rate_limit)
            .field("faults", &self.faults)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_faults", &self.webhook_faults)
            .field("api_version", &self.api_version)
            .field("max_import_batch", &self.max_import_batch)
            .finish()
    }
}

impl Builder {
    /// Sets the app id (default: random, like `tAbC123x`).
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// Sets the secret key (default: random, `sk_test_…`).
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(secret_key.into());
        self
    }

    /// Sets the port on 127.0.0.1 (default 0: any free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Turns rate limiting on with `config`, or off with `None` (the default).
    pub fn rate_limit(mut self, config: impl Into<Option<RateLimitConfig>>) -> Self {
        self.rate_limit = config.into();
        self
    }

    /// Sets fault injection (default: none).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Delivers webhook events to this `http://` URL.
    pub fn webhook_url(mut self, url: impl Into<String>) -> Self {
        self.webhook_url = Some(url.into());
        self
    }

    /// Sets webhook delivery faults (default: none): lost, duplicated, delayed and
    /// reordered deliveries. See [`WebhookFaults`].
    pub fn webhook_faults(mut self, faults: WebhookFaults) -> Self {
        self.webhook_faults = faults;
        self
    }

    /// Sets the app's default REST API version (`YYYY-MM-DD`), used when a request has no
    /// `TalkJS-REST-Version` header (like the dashboard setting). Default: the newest
    /// version the fake knows, `2024-01-01`.
    pub fn default_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = Some(version.into());
        self
    }

    /// Sets the most messages one import request may carry (default
    /// [`DEFAULT_MAX_IMPORT_BATCH`], 10, the Import reference page's limit; TalkJS's official
    /// transfer example sends 100). A larger request is refused with a `400` that applies
    /// nothing. At least 1.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), talkjs_fake::Error> {
    /// // A fake that imports 100 messages a request, like TalkJS's transfer example expects.
    /// let fake = talkjs_fake::FakeTalkJs::builder().max_import_batch(100).start().await?;
    /// # let _ = fake; Ok(()) }
    /// ```
    pub fn max_import_batch(mut self, messages: usize) -> Self {
        self.max_import_batch = Some(messages.max(1));
        self
    }

    /// Binds the socket and starts serving on the current tokio runtime.
    pub async fn start(self) -> Result<FakeTalkJs, Error> {
        let app_id = self.app_id.unwrap_or_else(|| store::random_id("t", 7));
        let secret = self
            .secret_key
            .unwrap_or_else(|| store::random_id("sk_test_", 24));
        if app_id.is_empty() || app_id.contains('/') {
            return Err(Error::Config(format!("invalid app id {app_id:?}")));
        }
        if secret.is_empty() {
            return Err(Error::Config("the secret key is empty".to_owned()));
        }
        let api_version = self
            .api_version
            .unwrap_or_else(|| api::LATEST_VERSION.to_owned());
        if !looks_like_api_version(&api_version) {
            return Err(Error::Config(format!(
                "the API version must look like 2021-02-09, got {api_version:?}"
            )));
        }
        let webhook_uri = self
            .webhook_url
            .as_deref()
            .map(webhook::parse_url)
            .transpose()
            .map_err(Error::Config)?;

        let (listener, addr) = bind(self.port).await?;
        let base_url = format!("http://{addr}");

        let (shutdown, _) = watch::channel(false);
        let clock = Arc::new(Clock::new(self.faults.clock_skew_ms));
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let webhook_faults = Arc::new(Mutex::new(webhook::FaultState::new(self.webhook_faults)));
        let webhook_tx = webhook_uri.map(|uri| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(webhook::deliver(
                uri,
                SecretKey::new(secret.clone()),
                rx,
                Arc::clone(&deliveries),
                Arc::clone(&webhook_faults),
                Arc::clone(&clock),
                shutdown.subscribe(),
            ));
            tx
        });
        let mut state = State::new(
            base_url.clone(),
            fastrand::Rng::with_seed(self.faults.seed ^ 0x5eed_ba7c),
        );
        state.max_import = self.max_import_batch.unwrap_or(DEFAULT_MAX_IMPORT_BATCH);
        let shared = Arc::new(Shared {
            verifier: auth::Verifier::new(&app_id, &secret),
            state: Mutex::new(state),
            faults: Mutex::new(FaultState::new(self.faults)),
            clock,
            limiter: Mutex::new(ratelimit::Limiter::new(self.rate_limit)),
            requests: AtomicU64::new(0),
            statuses: Mutex::new(std::collections::BTreeMap::new()),
            counts: Counters::default(),
            events: Mutex::new(Vec::new()),
            webhook: webhook_tx,
            shutdown,
            api_version,
        });
        let stop = shared.shutdown.subscribe();
        tokio::spawn(server::serve(listener, Arc::clone(&shared), stop));
        tracing::debug!(%base_url, %app_id, "talkjs-fake started");
        Ok(FakeTalkJs {
            shared,
            addr,
            base_url,
            app_id,
            secret: SecretKey::new(secret),
            deliveries,
            webhook_faults,
        })
    }
}

/// Whether `version` looks like an API version: `YYYY-MM-DD`.
fn looks_like_api_version(version: &str) -> bool {
    version.len() == 10
        && version.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
}

/// Binds a listening socket on 127.0.0.1 at `port` (0: any free port), and says which
/// address it got.
async fn bind(port: u16) -> Result<(TcpListener, SocketAddr), Error> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    Ok((listener, addr))
}

/// A running fake TalkJS server. Dropping it (or [`shutdown`](Self::shutdown)) stops it.
///
/// The accessors give what a client needs ([`base_url`](Self::base_url),
/// [`app_id`](Self::app_id), [`secret_key`](Self::secret_key)); the rest lets tests look
/// inside and change faults and limits at runtime.
pub struct FakeTalkJs {
    shared: Arc<Shared>,
    addr: SocketAddr,
    base_url: String,
    app_id: String,
    secret: SecretKey,
    deliveries: Arc<Mutex<Vec<WebhookDelivery>>>,
    webhook_faults: Arc<Mutex<webhook::FaultState>>,
}

impl std::fmt::Debug for FakeTalkJs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeTalkJs")
            .field("base_url", &self.base_url)
            .field("app_id", &self.app_id)
            .field("secret_key", &self.secret)
            .finish_non_exhaustive()
    }
}

impl FakeTalkJs {
    /// Starts a fake on 127.0.0.1 with a free port, a random app id and secret key, no
    /// rate limits and no faults.
    pub async fn start() -> Result<Self, Error> {
        Self::builder().start().await
    }

    /// A builder for a configured fake.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The API root, e.g. `http://127.0.0.1:41234` (resources at `/v1/{appId}/…`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of the app's resources: `{base_url}/v1/{app_id}`.
    pub fn app_url(&self) -> String {
        format!("{}/v1/{}", self.base_url, self.app_id)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The app id, typed.
    pub fn app_id_typed(&self) -> AppId {
        AppId::new(self.app_id.as_str())
    }

    /// The secret key, e.g. `sk_test_…` (a test key, but still: do not log it).
    pub fn secret_key(&self) -> &str {
        self.secret.expose_secret()
    }

    /// The secret key, typed (cheap to clone; never printed).
    pub fn secret_key_typed(&self) -> SecretKey {
        self.secret.clone()
    }

    /// A token signer for this app.
    pub fn token_signer(&self) -> TokenSigner {
        TokenSigner::new(self.app_id_typed(), self.secret.clone())
    }

    /// A fresh app token, for hand-made requests (`Authorization: Bearer <token>`).
    pub fn app_token(&self) -> Result<String, talkjs_auth::Error> {
        self.token_signer().app_token()
    }

    /// How many HTTP requests arrived (including rejected, faulted and reset ones; a batch
    /// counts once).
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// How many requests were answered with `429 Too Many Requests`.
    pub fn count_429(&self) -> u64 {
        self.status_count(429)
    }

    /// How many requests were answered with `status`.
    pub fn status_count(&self, status: u16) -> u64 {
        lock(&self.shared.statuses)
            .get(&status)
            .copied()
            .unwrap_or(0)
    }

    /// How many connections were closed without an answer and without effect by
    /// [`Faults::reset_rate`] (the same as [`FaultCounts::resets`]; late writes answered by
    /// a reset are counted in [`FaultCounts::late_writes`]).
    pub fn reset_count(&self) -> u64 {
        self.shared.counts.snapshot().resets
    }

    /// What the [`Faults`] did so far: resets, `503`s, `500`s after processing, late writes
    /// (lost and since applied), slow answers, injected `429`s.
    ///
    /// ```
    /// use talkjs_fake::{FakeTalkJs, FaultCounts};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = FakeTalkJs::start().await.unwrap();
    /// // … run the code under test against a fake with faults, then:
    /// let counts = fake.fault_counts();
    /// assert_eq!(counts, FaultCounts::default());
    /// // Every late write has landed when both counts agree.
    /// assert_eq!(counts.late_writes, counts.late_writes_applied);
    /// # }
    /// ```
    pub fn fault_counts(&self) -> FaultCounts {
        self.shared.counts.snapshot()
    }

    /// Sets the request, status and fault counters ([`fault_counts`](Self::fault_counts))
    /// back to zero. A late write still waiting then counts as applied without having been
    /// counted as lost.
    pub fn reset_counters(&self) {
        self.shared.requests.store(0, Ordering::Relaxed);
        self.shared.counts.clear();
        lock(&self.shared.statuses).clear();
    }

    /// All users, in creation order.
    pub fn users(&self) -> Vec<User> {
        let state = lock(&self.shared.state);
        let mut users: Vec<_> = state.users.values().collect();
        users.sort_by_key(|r| r.seq);
        users.into_iter().map(|r| r.user.clone()).collect()
    }

    /// One user.
    pub fn user(&self, id: &str) -> Option<User> {
        lock(&self.shared.state)
            .users
            .get(id)
            .map(|r| r.user.clone())
    }

    /// All conversations, in creation order.
    pub fn conversations(&self) -> Vec<Conversation> {
        let state = lock(&self.shared.state);
        let mut conversations: Vec<_> = state.conversations.values().collect();
        conversations.sort_by_key(|c| c.seq);
        conversations
            .into_iter()
            .map(store::ConvRec::model)
            .collect()
    }

    /// One conversation.
    pub fn conversation(&self, id: &str) -> Option<Conversation> {
        lock(&self.shared.state)
            .conversations
            .get(id)
            .map(store::ConvRec::model)
    }

    /// The messages of a conversation, **oldest first** (the API lists newest first), as
    /// the API returns them (with their `reactions`); empty if the conversation does not
    /// exist.
    pub fn messages(&self, conversation_id: &str) -> Vec<Message> {
        lock(&self.shared.state)
            .conversations
            .get(conversation_id)
            .map(|c| c.messages.values().map(store::MsgRec::model).collect())
            .unwrap_or_default()
    }

    /// How many messages exist, in all conversations.
    pub fn message_count(&self) -> usize {
        lock(&self.shared.state)
            .conversations
            .values()
            .map(|c| c.messages.len())
            .sum()
    }

    /// How many files were uploaded (`POST /files`): every upload stores a new file, also
    /// one with the same bytes as an earlier one.
    pub fn file_count(&self) -> usize {
        lock(&self.shared.state).files.len()
    }

    /// The bytes of an uploaded file, by its attachment URL (a message's `attachment.url`,
    /// `{base_url}/files/{token}/{name}`) or its token; `None` if no upload has it.
    pub fn file_data(&self, url_or_token: &str) -> Option<Vec<u8>> {
        let token = match url_or_token.split_once("/files/") {
            Some((_, rest)) => rest.split('/').next().unwrap_or_default(),
            None => url_or_token,
        };
        lock(&self.shared.state)
            .files
            .get(token)
            .map(|f| f.data.to_vec())
    }

    /// Every webhook event produced so far, oldest first (recorded even without a
    /// webhook URL).
    pub fn events(&self) -> Vec<WebhookEvent> {
        lock(&self.shared.events).clone()
    }

    /// What happened to each webhook event so far, in the order the deliveries finished
    /// (both attempts, if there was a retry): delivered, failed, [dropped or
    /// duplicated](WebhookDelivery) by [`WebhookFaults`]. A dropped event is logged as soon
    /// as it is produced; with [`WebhookFaults::reorder`] the log is not in event order
    /// ([`WebhookDelivery::seq`] gives the event order). Events TalkJS does not send (a
    /// `message.read` in a conversation of more than 300 participants) are not logged.
    /// Empty without a [webhook URL](Builder::webhook_url).
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        lock(&self.deliveries).clone()
    }

    /// The current webhook fault settings.
    pub fn webhook_faults(&self) -> WebhookFaults {
        lock(&self.webhook_faults).config
    }

    /// Replaces the webhook fault settings and reseeds their random generator. Events
    /// produced from now on get the new faults; the deliveries already planned keep theirs
    /// (an event queued in order stays queued even if `reorder` is turned on).
    pub fn set_webhook_faults(&self, faults: WebhookFaults) {
        *lock(&self.webhook_faults) = webhook::FaultState::new(faults);
    }

    /// Marks a user online or offline (for `isOnline` and `POST /presences`). An online user
    /// has one background session and one widget that has focus, with no conversation
    /// selected and nobody typing, unless [`set_presence`](Self::set_presence) says otherwise.
    pub fn set_online(&self, user_id: &str, online: bool) {
        let mut state = lock(&self.shared.state);
        if online {
            state.online.insert(user_id.to_owned());
        } else {
            state.online.remove(user_id);
            state.presence.remove(user_id);
        }
    }

    /// Marks a user online with these sessions, as `POST /presences` reports them (focus,
    /// typing and selected conversation per session).
    ///
    /// ```
    /// use talkjs_fake::FakeTalkJs;
    /// use talkjs_models::{Presence, PresenceSession};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let fake = FakeTalkJs::start().await.unwrap();
    /// let typing = PresenceSession::new("s1").selected_conversation_id("c1").has_focus(true).is_typing(true);
    /// fake.set_presence("alice", Presence::online(vec![PresenceSession::new("bg")], vec![typing]));
    /// # }
    /// ```
    pub fn set_presence(&self, user_id: &str, presence: talkjs_models::Presence) {
        let mut state = lock(&self.shared.state);
        state.online.insert(user_id.to_owned());
        state.presence.insert(user_id.to_owned(), presence);
    }

    /// The current fault settings.
    pub fn faults(&self) -> Faults {
        lock(&self.shared.faults).config
    }

    /// Replaces the fault settings and reseeds the random generator. The new
    /// [`clock_skew_ms`](Faults::clock_skew_ms) applies at once (webhook timestamps too),
    /// the new [`listing_lag`](Faults::listing_lag) to what is created from now on; late
    /// writes already waiting keep their delay.
    pub fn set_faults(&self, faults: Faults) {
        let mut state = lock(&self.shared.faults);
        *state = FaultState::new(faults);
        self.shared.clock.set_skew(faults.clock_skew_ms);
    }

    /// Turns rate limiting on with `config` (with full buckets), or off with `None`.
    pub fn set_rate_limit(&self, config: impl Into<Option<RateLimitConfig>>) {
        *lock(&self.shared.limiter) = ratelimit::Limiter::new(config.into());
    }

    /// Deletes all data (users, conversations, messages, files, events); keeps the
    /// settings and counters.
    pub fn clear(&self) {
        lock(&self.shared.state).clear();
        lock(&self.shared.events).clear();
    }

    /// Stops accepting connections and closes the open ones. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
    }
}

impl Drop for FakeTalkJs {
    fn drop(&mut self) {
        self.shutdown();
    }
}

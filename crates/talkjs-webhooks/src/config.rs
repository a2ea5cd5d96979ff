//! What a receiver checks and remembers: [`WebhookConfig`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http::header::CONTENT_LENGTH;
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use talkjs_auth::{SecretKey, WebhookVerifier};
use talkjs_models::WebhookEvent;
use tokio::time::Instant;

use crate::dedupe::{
    BoxError, BoxFuture, DedupeError, DedupeStore, MemoryDedupeStore, claim_token,
};
use crate::rejection::WebhookRejection;

/// The default largest body accepted: 1 MiB. TalkJS events are a few kilobytes.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The default time an event id is remembered: 1 hour.
///
/// It has to cover the time until TalkJS's one retry, and should exceed twice the timestamp
/// tolerance (5 minutes by default): a delivery replayed later than the tolerance is
/// refused for its timestamp, one replayed sooner as a duplicate.
pub const DEFAULT_DEDUPE_TTL: Duration = Duration::from_secs(60 * 60);

/// Everything a receiver needs: the [`WebhookVerifier`] (secret key and timestamp
/// tolerance), the largest body it reads, and the [`DedupeStore`] with its time to live.
///
/// Shared by [`WebhookService`](crate::WebhookService) and the axum extractor; cloning is
/// cheap (the store is shared, not copied). `Debug` never shows the secret key.
///
/// ```
/// use std::time::Duration;
/// use talkjs_webhooks::{MemoryDedupeStore, SecretKey, WebhookConfig};
///
/// let config = WebhookConfig::new(SecretKey::new("sk_test_webhook"))
///     .with_tolerance(Duration::from_secs(60))
///     .with_max_body(256 * 1024)
///     .with_dedupe_store(MemoryDedupeStore::with_capacity(10_000))
///     .with_dedupe_ttl(Duration::from_secs(30 * 60));
/// assert_eq!(config.tolerance(), Some(Duration::from_secs(60)));
/// ```
#[derive(Clone)]
pub struct WebhookConfig {
    verifier: WebhookVerifier,
    max_body: usize,
    store: Option<Arc<dyn DedupeStore>>,
    ttl: Duration,
}

impl WebhookConfig {
    /// A receiver for deliveries signed with `secret` (the secret key marked "use for
    /// webhooks" in the TalkJS dashboard): timestamps within 5 minutes, bodies up to
    /// [`DEFAULT_MAX_BODY`], duplicates recognised for [`DEFAULT_DEDUPE_TTL`] in a
    /// [`MemoryDedupeStore`].
    ///
    /// An empty `secret` does not fail here, but every delivery is then answered 500
    /// ([`WebhookRejection::Misconfigured`]): check [`SecretKey::is_empty`] at startup.
    pub fn new(secret: SecretKey) -> Self {
        Self::from_verifier(WebhookVerifier::new(secret))
    }

    /// Like [`new`](Self::new), with a verifier configured already.
    pub fn from_verifier(verifier: WebhookVerifier) -> Self {
        Self {
            verifier,
            max_body: DEFAULT_MAX_BODY,
            store: Some(Arc::new(MemoryDedupeStore::new())),
            ttl: DEFAULT_DEDUPE_TTL,
        }
    }

    /// How far a delivery's timestamp may be from this server's clock, in either direction
    /// (default 5 minutes). Outside it, the delivery is refused with 401.
    #[must_use]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.verifier = self.verifier.with_tolerance(tolerance);
        self
    }

    /// The largest body read, in bytes (default [`DEFAULT_MAX_BODY`]); a larger one is
    /// refused with 413 without reading the rest.
    #[must_use]
    pub fn with_max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Where seen event ids are kept (default: a [`MemoryDedupeStore`] of this config and
    /// its clones). Pass an `Arc` to keep a handle on the store.
    #[must_use]
    pub fn with_dedupe_store(mut self, store: impl DedupeStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// How long an event id is remembered (default [`DEFAULT_DEDUPE_TTL`]).
    #[must_use]
    pub fn with_dedupe_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// No deduplication: every authentic delivery reaches the handler, retries included.
    #[must_use]
    pub fn without_dedupe(mut self) -> Self {
        self.store = None;
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &WebhookVerifier {
        &self.verifier
    }

    /// The timestamp tolerance, `None` if the verifier's age check is disabled.
    pub fn tolerance(&self) -> Option<Duration> {
        self.verifier.tolerance()
    }

    /// The largest body read, in bytes.
    pub fn max_body(&self) -> usize {
        self.max_body
    }

    /// How long an event id is remembered.
    pub fn dedupe_ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether deliveries are deduplicated (a store is set).
    pub fn dedupes(&self) -> bool {
        self.store.is_some()
    }

    /// Checks one delivery completely: reads the body (at most
    /// [`max_body`](Self::max_body) bytes), verifies the signature over those exact bytes
    /// and the timestamp, decodes the event, and claims its id in the dedupe store.
    ///
    /// `Ok` means: authentic, fresh, and this delivery holds the event's id (it is the first
    /// delivery of the event; an event without an id is never deduplicated). Every `Err` has
    /// already been logged (see [`WebhookRejection`] for the levels) and carries the status
    /// to answer with; [`WebhookRejection::Duplicate`] is answered 200.
    ///
    /// The id is claimed before this returns, so handle the event: if the handling fails
    /// after this point, the retry TalkJS may send is a duplicate. If the store fails
    /// ([`WebhookRejection::Store`], answered 500), the claim may have been recorded all the
    /// same; it is withdrawn on a task of its own (retried until the store answers, for at
    /// most the dedupe time to live), so that TalkJS's retry can claim the event. A retry
    /// that comes before the store is back is answered 500 too; one that the store answers
    /// before the withdrawal lands is taken for a duplicate, and the event is lost.
    /// [`WebhookService`](crate::WebhookService) has no such window: it keeps the claim and
    /// runs the handler itself once it learns that the claim landed.
    pub async fn receive<B>(&self, request: Request<B>) -> Result<WebhookEvent, WebhookRejection>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let event = self.verify(request).await?;
        let token = claim_token();
        match self.claim(&event, &token).await {
            Ok(()) => Ok(event),
            Err(rejection) => {
                if matches!(rejection, WebhookRejection::Store(_)) {
                    self.release_later(&event, token).await;
                }
                Err(rejection)
            }
        }
    }

    /// Reads and verifies a delivery and decodes its event, without deduplication.
    /// Rejections are logged.
    pub(crate) async fn verify<B>(
        &self,
        request: Request<B>,
    ) -> Result<WebhookEvent, WebhookRejection>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let result = self.verify_inner(request).await;
        if let Err(rejection) = &result {
            rejection.log();
        }
        result
    }

    async fn verify_inner<B>(&self, request: Request<B>) -> Result<WebhookEvent, WebhookRejection>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let too_large = WebhookRejection::TooLarge {
            limit: self.max_body,
        };
        // A declared length over the limit is refused before reading anything.
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|len| usize::try_from(len).map_or(true, |len| len > self.max_body))
        {
            return Err(too_large);
        }
        let body: Bytes = match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.is::<LengthLimitError>() => return Err(too_large),
            Err(error) => return Err(WebhookRejection::UnreadableBody(error)),
        };
        // The raw bytes as received: the signature covers them, not their meaning.
        self.verifier
            .verify_headers(&body, |name| {
                parts.headers.get(name).and_then(|v| v.to_str().ok())
            })
            .map_err(WebhookRejection::from_verify)
    }

    /// Claims the event's id for the delivery `token`; `Err(Duplicate)` if another delivery
    /// holds it, `Err(Store)` if the store failed (the claim may have landed: see
    /// [`settle_claim`](Self::settle_claim)). Events without an id (or with an empty one)
    /// pass. Rejections are logged.
    pub(crate) async fn claim(
        &self,
        event: &WebhookEvent,
        token: &str,
    ) -> Result<(), WebhookRejection> {
        let (Some(store), Some(id)) = (&self.store, event_id(event)) else {
            if self.store.is_some() {
                tracing::debug!(
                    event_type = event.event_type.as_str(),
                    "talkjs-webhooks: an event without an id is handled without deduplication"
                );
            }
            return Ok(());
        };
        let rejection = match store.claim(id, token, self.ttl).await {
            Ok(true) => return Ok(()),
            Ok(false) => WebhookRejection::Duplicate { id: id.to_owned() },
            Err(error) => WebhookRejection::Store(error),
        };
        rejection.log();
        Err(rejection)
    }

    /// After [`claim`](Self::claim) failed: asks the store again with the same token until
    /// it answers (backing off, for at most the dedupe time to live). `true` if this
    /// delivery holds the event (its first claim had landed, or this one did), so it must
    /// run the handler; `false` if another delivery holds it, or the store never answered.
    pub(crate) async fn settle_claim(&self, event: &WebhookEvent, token: &str) -> bool {
        let (Some(store), Some(id)) = (&self.store, event_id(event)) else {
            return false;
        };
        let settled = retry_until_answered(self.ttl, || store.claim(id, token, self.ttl)).await;
        match settled {
            Some(true) => {
                tracing::info!(
                    event_id = id,
                    "talkjs-webhooks: the dedupe store answered after all: this delivery \
                     holds the event, which is handled now (TalkJS's retry is a duplicate)"
                );
                true
            }
            Some(false) => {
                tracing::info!(
                    event_id = id,
                    "talkjs-webhooks: the dedupe store answered after all: another delivery \
                     holds the event and handles it"
                );
                false
            }
            None => {
                tracing::error!(
                    event_id = id,
                    "talkjs-webhooks: the dedupe store did not answer within the dedupe time \
                     to live: if this delivery's claim was stored, the event is lost"
                );
                false
            }
        }
    }

    /// After [`claim`](Self::claim) failed in [`receive`](Self::receive), whose caller
    /// cannot handle the event later: withdraws this delivery's claim, so that TalkJS's
    /// retry can take it. On a task of its own, retried until the store answers (for at
    /// most the dedupe time to live); without a tokio runtime, tried once before returning.
    pub(crate) async fn release_later(&self, event: &WebhookEvent, token: String) {
        let (Some(store), Some(id)) = (self.store.clone(), event_id(event)) else {
            return;
        };
        let id = id.to_owned();
        let lost = "talkjs-webhooks: could not withdraw the claim of a delivery answered 500: \
                    if it was stored, TalkJS's retry is taken for a duplicate and the event is \
                    lost";
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let ttl = self.ttl;
            runtime.spawn(async move {
                if retry_until_answered(ttl, || store.release(&id, &token))
                    .await
                    .is_none()
                {
                    tracing::error!(event_id = id, "{lost}");
                }
            });
        } else if let Err(error) = store.release(&id, &token).await {
            tracing::error!(event_id = id, %error, "{lost}");
        }
    }
}

#[allow(
    clippy::missing_fields_in_debug,
    reason = "the store is shown as whether there is one"
)]
impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("verifier", &self.verifier)
            .field("max_body", &self.max_body)
            .field("dedupe", &self.store.is_some())
            .field("dedupe_ttl", &self.ttl)
            .finish()
    }
}

/// The id an event is deduplicated by: its id, unless missing or empty.
fn event_id(event: &WebhookEvent) -> Option<&str> {
    event.id.as_deref().filter(|id| !id.is_empty())
}

/// The first wait before asking a failed store again; it doubles up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The longest wait between two calls to a failing store.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// Calls `call` until it answers, backing off, for at most `within`; `None` if it never
/// did. Needs a tokio runtime (it sleeps).
async fn retry_until_answered<'a, T>(
    within: Duration,
    mut call: impl FnMut() -> BoxFuture<'a, Result<T, DedupeError>>,
) -> Option<T> {
    let deadline = Instant::now().checked_add(within);
    let mut delay = FIRST_RETRY_DELAY;
    loop {
        match call().await {
            Ok(answer) => return Some(answer),
            Err(error) => {
                tracing::debug!(%error, "talkjs-webhooks: the dedupe store failed again");
            }
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return None;
        }
        tokio::time::sleep(delay).await;
        delay = delay.saturating_mul(2).min(MAX_RETRY_DELAY);
    }
}

//! # talkjs-webhooks
//!
//! Receive [TalkJS webhooks](https://talkjs.com/docs/Reference/Webhooks/) correctly: a
//! [tower](https://docs.rs/tower) service (and, with feature `axum`, an extractor and a
//! one-route router) that verifies every delivery, drops duplicates, answers at once and
//! hands each event to your code.
//!
//! Why it takes more than a handler: TalkJS waits 5 seconds for an answer and then tries
//! once more, so a slow handler makes TalkJS give up on events, and an event whose first
//! answer was late arrives twice. The signature covers the exact bytes of the body, so a
//! framework that parses and re-encodes the JSON breaks it. This crate reads the raw bytes,
//! checks them, remembers event ids, and answers `200` before your code runs.
//!
//! **Paths.** Depend on `talkjs-webhooks` alone, or on the `talkjs` facade with its feature
//! `webhooks` (`webhooks-axum`, `webhooks-redis` for this crate's `axum` and `redis`), where
//! `talkjs_webhooks::X` is `talkjs::webhooks::X`. It re-exports what its API names from `talkjs-auth` ([`SecretKey`],
//! [`WebhookVerifier`], [`WebhookError`]) and `talkjs-models` ([`WebhookEvent`], and the
//! rest of that crate as [`models`]).
//!
//! ## What is checked
//!
//! For every request, in this order ([`WebhookConfig::receive`]); a request that fails a
//! step never reaches your handler and is answered with the status of its
//! [`WebhookRejection`]:
//!
//! 1. **Size**: at most [`WebhookConfig::max_body`] bytes are read (1 MiB by default);
//!    beyond, `413`.
//! 2. **Signature**: HMAC-SHA256 over `<X-TalkJS-Timestamp>.<raw body>` with your webhook
//!    secret key must equal `X-TalkJS-Signature` (header names in any case); a missing
//!    header, a wrong key or a changed body (re-encoded JSON included) is `401`.
//! 3. **Freshness**: the timestamp must be within the tolerance of this server's clock
//!    (5 minutes by default, either direction), else `401`.
//! 4. **Shape**: the body must be a TalkJS event envelope, decoded into a typed
//!    [`WebhookEvent`], else `400`. (Unknown event types are fine: they decode to
//!    [`models::WebhookData::Other`].)
//! 5. **Duplicates**: the event id is claimed in the [`DedupeStore`] by this delivery; an id
//!    another delivery claimed within the time to live (1 hour by default) is answered
//!    `200` and not handled again. If the store fails: `500`, so TalkJS retries once (see
//!    "When the dedupe store fails" for what becomes of the event).
//!
//! Each refusal is logged with [`tracing`](https://docs.rs/tracing) (a warning; the
//! receiver's own failures, such as a dedupe store down, an error). No log line, error or
//! `Debug` output contains the secret key.
//!
//! ## The handler model
//!
//! A [`WebhookService`] answers `200` as soon as the event is verified and claimed, and
//! runs your [`EventHandler`] (an `async fn(WebhookEvent)`) on a tokio task of its own. So a
//! slow handler costs TalkJS nothing, and TalkJS never retries because of it. Handlers of
//! different events run concurrently, in no particular order; to process events one at a
//! time, in order of arrival, use [`channel`] and read its stream in one place.
//!
//! **At most once per event id.** The id is claimed before the handler runs, and claiming
//! is atomic (two deliveries racing, even on two replicas sharing a Redis store, produce
//! one handler run). The price is that an event whose handler fails or panics, or whose
//! process stops between the claim and the end of the handler, is not delivered again:
//! TalkJS already has its `200`, and its retry would be dropped as a duplicate anyway.
//! Events without an id are handled every time they arrive (nothing to deduplicate them
//! by).
//!
//! **When the dedupe store fails.** A store that fails or times out leaves the claim
//! uncertain: a Redis may have stored the key and lost only its answer. Answering 500 and
//! forgetting the event would lose it, since TalkJS's retry would find the key and be
//! dropped as a duplicate. So each delivery claims with a random token of its own, and a
//! claim is idempotent for its token ([`DedupeStore::claim`]): after a failure,
//! [`WebhookService`] (and [`axum::router`]) answers 500 and asks the store again with the
//! same token, backing off, until it answers (for at most the time to live). If the key
//! holds this delivery's token (the first claim had landed, or this one did), the handler
//! runs here, and TalkJS's retry is a duplicate; if it holds the retry's token, the retry
//! runs it. Either way the handler runs once, and nothing needs a timer or a second state:
//! whoever's token the store holds, handles. [`WebhookConfig::receive`] (and the
//! [`axum::TalkjsEvent`] extractor) cannot run your handler later, so instead it withdraws
//! its claim ([`DedupeStore::release`], which deletes the key only if it holds this
//! token) on a task of its own, and the retry claims the event anew; a retry that the store
//! answers before the withdrawal lands is taken for a duplicate, so prefer the router.
//! During a store outage each delivery answered 500 waits this way, its event in memory, on
//! a task that asks the store at most every 5 seconds, until the store answers or the time
//! to live has passed.
//!
//! Every event once, then, holds under: duplicate, retried and racing deliveries (on
//! several replicas with a shared store), a store that fails or times out before or after
//! recording a claim (as long as it answers again within the time to live), a slow handler
//! (TalkJS has its answer). It does not hold when the process stops between claiming and
//! finishing the handler (deploys, crashes: the event is lost), when both TalkJS attempts
//! fail (TalkJS gives up: see below), across replicas with the in-memory store (a retry on
//! another replica runs again), or for a replay after the time to live.
//!
//! **No loss needs a second source.** Webhooks are a notification channel, not a log:
//! TalkJS gives up after one retry, and a receiver that is down misses events. A service
//! that must see every message should combine the webhook events (fast) with the gap-free
//! message stream of the REST client (`talkjs_api::Client::events`), which lists what the
//! webhooks missed: [`channel`] gives a handler that forwards every handled event into a
//! bounded tokio channel, and the [`EventStream`] of that channel, a
//! `Stream<Item = WebhookEvent>` for `client.events().webhooks(stream)`.
//!
//! (The other models were worse: running the handler before answering makes TalkJS's
//! 5-second limit the handler's, and a retry after a timeout would run it twice at once;
//! marking the id only after the handler succeeded allows exactly that double run, since
//! the retry arrives while the first run is still going. Deleting the mark after a failed
//! store call races with the retry, which may find the mark first; a short-lived "claimed"
//! mark next to a "handled" one needs a time to guess how long a handler or a retry takes.)
//!
//! ## With tower and hyper
//!
//! [`WebhookService`] is a `tower::Service<http::Request<B>>` for any
//! [`http_body::Body`](https://docs.rs/http-body) `B`. Serve it with hyper:
//!
//! ```no_run
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//! use talkjs_webhooks::{SecretKey, WebhookConfig, WebhookEvent, WebhookService};
//!
//! async fn on_event(event: WebhookEvent) {
//!     println!("{} {:?}", event.event_type.as_str(), event.id);
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = SecretKey::new(std::env::var("TALKJS_SECRET_KEY")?);
//! let service = WebhookService::new(WebhookConfig::new(secret), on_event);
//!
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(service.clone());
//!     tokio::spawn(async move {
//!         let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
//!     });
//! }
//! # }
//! ```
//!
//! It answers every path and method the same way: route to it with your framework.
//!
//! ## With axum
//!
//! With feature `axum`, one route ([`axum::router`], or [`axum::TalkjsEvent`] as an
//! extractor in a handler of your own):
//!
#![cfg_attr(
    feature = "axum",
    doc = r#"
```no_run
use talkjs_webhooks::{SecretKey, WebhookConfig, WebhookEvent};

async fn on_event(event: WebhookEvent) {
    println!("{} {:?}", event.event_type.as_str(), event.id);
}

# async fn run() -> Result<(), Box<dyn std::error::Error>> {
let config = WebhookConfig::new(SecretKey::new(std::env::var("TALKJS_SECRET_KEY")?));
let app: axum::Router = talkjs_webhooks::axum::router("/talkjs", config, on_event);
// ... .merge(your other routes), then serve `app` as usual:
let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
axum::serve(listener, app).await?;
# Ok(()) }
```
"#
)]
#![cfg_attr(
    not(feature = "axum"),
    doc = r#"
```ignore
let config = WebhookConfig::new(SecretKey::new(std::env::var("TALKJS_SECRET_KEY")?));
let app: axum::Router = talkjs_webhooks::axum::router("/talkjs", config, on_event);
axum::serve(listener, app).await?;
```
"#
)]
//!
//! ## Deduplication across replicas
//!
//! The default [`MemoryDedupeStore`] is one process's memory (bounded: expired ids are
//! purged, at most 100,000 kept). Behind a load balancer, TalkJS's retry may reach another
//! replica: share the ids with [`RedisDedupeStore`] (feature `redis`), or implement
//! [`DedupeStore`] for your database.
//!
//! ## Testing your endpoint
//!
//! [`SignedDelivery`] signs any event (or body) as TalkJS would, now or at a time you
//! choose, and gives the headers and body or a complete `http::Request`:
//!
//! ```
//! use http::Uri;
//! use talkjs_webhooks::models::WebhookEventType;
//! use talkjs_webhooks::{SecretKey, SignedDelivery, WebhookConfig, WebhookEvent};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let secret = SecretKey::new("sk_test_webhook");
//! let mut event = WebhookEvent::new(WebhookEventType::UserCreated, serde_json::json!({}));
//! event.id = Some("evt_1".into());
//!
//! let config = WebhookConfig::new(secret.clone());
//! let delivery = SignedDelivery::new(&secret, &event);
//! let received = config.receive(delivery.to_request(Uri::from_static("/talkjs"))).await;
//! assert_eq!(received.unwrap(), event);
//!
//! // The same event again is a duplicate: answered 200, not handled.
//! let again = config.receive(delivery.to_request(Uri::from_static("/talkjs"))).await;
//! assert_eq!(again.unwrap_err().status(), 200);
//! # }
//! ```
//!
//! ## Features
//!
//! - `axum`: the [`axum`] module (axum 0.8, no default features).
//! - `redis`: [`RedisDedupeStore`].
//!
#![cfg_attr(
    not(feature = "axum"),
    doc = "[`axum`]: https://docs.rs/talkjs-webhooks/latest/talkjs_webhooks/axum/index.html"
)]
#![cfg_attr(
    not(feature = "axum"),
    doc = "[`axum::router`]: https://docs.rs/talkjs-webhooks/latest/talkjs_webhooks/axum/fn.router.html"
)]
#![cfg_attr(
    not(feature = "axum"),
    doc = "[`axum::TalkjsEvent`]: https://docs.rs/talkjs-webhooks/latest/talkjs_webhooks/axum/struct.TalkjsEvent.html"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "[`RedisDedupeStore`]: https://docs.rs/talkjs-webhooks/latest/talkjs_webhooks/struct.RedisDedupeStore.html"
)]
#![deny(missing_docs)]

mod config;
mod dedupe;
mod handler;
#[cfg(feature = "redis")]
mod redis_store;
mod rejection;
mod service;
mod signed;

#[cfg(feature = "axum")]
pub mod axum;

pub use config::{DEFAULT_DEDUPE_TTL, DEFAULT_MAX_BODY, WebhookConfig};
pub use dedupe::{BoxError, BoxFuture, DedupeError, DedupeStore, MemoryDedupeStore};
pub use handler::{ChannelHandler, EventHandler, EventStream, channel};
#[cfg(feature = "redis")]
pub use redis_store::RedisDedupeStore;
pub use rejection::WebhookRejection;
pub use service::WebhookService;
pub use signed::SignedDelivery;

pub use talkjs_auth::{
    SIGNATURE_HEADER, SecretKey, TIMESTAMP_HEADER, WebhookError, WebhookVerifier,
};
pub use talkjs_models as models;
pub use talkjs_models::WebhookEvent;

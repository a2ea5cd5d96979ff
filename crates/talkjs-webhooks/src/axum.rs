//! axum integration (feature `axum`): the [`TalkjsEvent`] extractor and the one-route
//! [`router`].
//!
//! Two ways to receive webhooks in an axum app:
//!
//! - **[`router`]**: a `Router` with one `POST` route served by
//!   [`WebhookService`]: the delivery is answered at once and your handler runs on its own
//!   task. Merge it into your app. This is the recommended way.
//! - **[`TalkjsEvent`]**: an extractor for your own axum handler, with the
//!   [`WebhookConfig`] taken from the router's state. Your handler is the request handler,
//!   so TalkJS waits for it: keep it fast (spawn long work).
//!
//! ```
//! use axum::Router;
//! use axum::routing::post;
//! use talkjs_webhooks::axum::{TalkjsEvent, router};
//! use talkjs_webhooks::{SecretKey, WebhookConfig, WebhookEvent};
//!
//! async fn on_event(event: WebhookEvent) {
//!     println!("{}", event.event_type.as_str());
//! }
//!
//! let config = WebhookConfig::new(SecretKey::new("sk_test_webhook"));
//!
//! // One route, the handler on its own task:
//! let app: Router = Router::new().merge(router("/talkjs", config.clone(), on_event));
//!
//! // Or the extractor in a handler of your own:
//! async fn webhook(TalkjsEvent(event): TalkjsEvent) -> &'static str {
//!     println!("{}", event.event_type.as_str());
//!     "ok"
//! }
//! let app2: Router = Router::new().route("/talkjs", post(webhook)).with_state(config);
//! # let _ = (app, app2);
//! ```

use std::ops::{Deref, DerefMut};

use axum::Router;
use axum::extract::{FromRef, FromRequest, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::post_service;
use talkjs_models::WebhookEvent;

use crate::config::WebhookConfig;
use crate::handler::EventHandler;
use crate::rejection::WebhookRejection;
use crate::service::WebhookService;

/// An extractor for a verified, first-seen webhook event, with the [`WebhookConfig`] taken
/// from the router's state (through [`FromRef`], so the state can be a struct of yours
/// holding a `WebhookConfig`).
///
/// Extracting runs [`WebhookConfig::receive`]: the body is read (size-bounded), the
/// signature and timestamp verified, the event decoded and its id claimed. A request
/// that fails never reaches your handler; it is answered with the
/// [`WebhookRejection`]'s status: 401, 400, 413, 500, or **200** for a duplicate, so
/// TalkJS stops sending it.
///
/// The event counts as handled once extracted: if your handler then fails (say with a 500),
/// the retry TalkJS sends is a duplicate and answered 200 without calling it. Keep the
/// handler short and reliable, or use [`router`], which answers first and runs the handler
/// on its own task. When the dedupe store fails (500), the claim is withdrawn in the
/// background so that TalkJS's retry reaches your handler; a retry that comes before the
/// withdrawal lands is taken for a duplicate, a window [`router`] does not have (see
/// [`WebhookConfig::receive`]).
///
/// It consumes the body, so it must be the last extractor of the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct TalkjsEvent(pub WebhookEvent);

impl<S> FromRequest<S> for TalkjsEvent
where
    WebhookConfig: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = WebhookRejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        WebhookConfig::from_ref(state)
            .receive(request)
            .await
            .map(TalkjsEvent)
    }
}

impl Deref for TalkjsEvent {
    type Target = WebhookEvent;

    fn deref(&self) -> &WebhookEvent {
        &self.0
    }
}

impl DerefMut for TalkjsEvent {
    fn deref_mut(&mut self) -> &mut WebhookEvent {
        &mut self.0
    }
}

impl IntoResponse for WebhookRejection {
    fn into_response(self) -> Response {
        self.to_response().into_response()
    }
}

/// A router with one route: `POST path` served by a [`WebhookService`] with `config` and
/// `handler`. Other methods on `path` are answered 405.
///
/// Merge it into your app (`app.merge(router(..))`); it works with any state type.
///
/// ```
/// use axum::Router;
/// use talkjs_webhooks::{SecretKey, WebhookConfig, channel};
///
/// let (handler, events) = channel(1024);
/// let app: Router = talkjs_webhooks::axum::router(
///     "/talkjs",
///     WebhookConfig::new(SecretKey::new("sk_test_webhook")),
///     handler,
/// );
/// // Serve `app`; read the verified events from `events`.
/// # let _ = (app, events);
/// ```
///
/// # Panics
///
/// Like [`Router::route`], if `path` is not a valid route (it must start with `/`).
pub fn router<S, H>(path: &str, config: WebhookConfig, handler: H) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    H: EventHandler,
{
    Router::new().route(path, post_service(WebhookService::new(config, handler)))
}

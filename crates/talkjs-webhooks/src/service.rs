//! The webhook endpoint as a tower service: [`WebhookService`].

use std::convert::Infallible;
use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use tokio::sync::oneshot;
use tower::Service;

use crate::config::WebhookConfig;
use crate::dedupe::{BoxError, BoxFuture, claim_token};
use crate::handler::EventHandler;
use crate::rejection::{WebhookRejection, text_response};

/// A webhook endpoint: a tower [`Service`] for `http::Request<B>` of any body `B`
/// (hyper's `Incoming`, axum's `Body`, ...) that verifies each delivery, answers it and
/// hands the first delivery of each event to the handler on a task of its own.
///
/// For each request:
///
/// 1. the body is read, at most [`WebhookConfig::max_body`] bytes (413 beyond);
/// 2. the signature is checked over those exact bytes, and the timestamp against the
///    tolerance (401);
/// 3. the body is decoded into a [`WebhookEvent`](crate::WebhookEvent) (400);
/// 4. on a tokio task: the event id is claimed in the dedupe store with a token of this
///    delivery's own (200 without running the handler if another delivery holds it), the
///    answer is released, and the handler runs;
/// 5. the service answers `200 ok` as soon as step 4 has claimed the id, without waiting
///    for the handler.
///
/// If the store fails in step 4, the delivery is answered 500, and the task asks the store
/// again with the same token (backing off, for at most the dedupe time to live) until it
/// answers: if this delivery's claim had landed after all, or lands now, the handler runs
/// here and TalkJS's retry is a duplicate; if the retry got there first, it runs there.
///
/// Claiming the id and running the handler happen in one task, so a connection closed
/// while the store is asked (a hyper server then drops this service's future) cannot
/// claim an event without handling it. Outside a tokio runtime there is no task: the
/// handler runs before the answer, and a failed claim is withdrawn as by
/// [`WebhookConfig::receive`].
///
/// The service is the endpoint itself: there is no `Layer`, since it wraps no inner
/// service. Put your own layers (timeouts, tracing, concurrency limits) around it, and
/// route to it with your framework (`axum::routing::post_service`, or the `axum` module of
/// this crate). It never fails (`Error = Infallible`) and is always ready; cloning is cheap.
#[derive(Clone)]
pub struct WebhookService<H> {
    config: WebhookConfig,
    handler: H,
}

impl<H: EventHandler> WebhookService<H> {
    /// An endpoint checking deliveries with `config` and handing events to `handler`.
    pub fn new(config: WebhookConfig, handler: H) -> Self {
        Self { config, handler }
    }

    /// The configuration.
    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }
}

impl<H> fmt::Debug for WebhookService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<H, B> Service<Request<B>> for WebhookService<H>
where
    H: EventHandler,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let config = self.config.clone();
        let handler = self.handler.clone();
        Box::pin(async move { Ok(respond(config, handler, request).await) })
    }
}

/// The whole exchange of one delivery.
async fn respond<H, B>(
    config: WebhookConfig,
    handler: H,
    request: Request<B>,
) -> Response<Full<Bytes>>
where
    H: EventHandler,
    B: Body,
    B::Error: Into<BoxError>,
{
    let event = match config.verify(request).await {
        Ok(event) => event,
        Err(rejection) => return rejection.to_response(),
    };
    let token = claim_token();
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No runtime to spawn on: claim, then handle before answering. A failed claim is
        // withdrawn (as by `receive`): nothing can ask the store again later.
        return match config.claim(&event, &token).await {
            Ok(()) => {
                handler.handle(event).await;
                ok()
            }
            Err(rejection) => {
                if matches!(rejection, WebhookRejection::Store(_)) {
                    config.release_later(&event, token).await;
                }
                rejection.to_response()
            }
        };
    };
    let (answer, answered) = oneshot::channel();
    runtime.spawn(async move {
        let outcome = config.claim(&event, &token).await;
        let holds = outcome.is_ok();
        let uncertain = matches!(outcome, Err(WebhookRejection::Store(_)));
        // The request may be gone (connection closed): handle the event anyway.
        let _ = answer.send(outcome);
        // After a failed claim (answered 500), ask again with the same token: if the claim
        // had landed, this delivery holds the event and TalkJS's retry is a duplicate.
        if holds || (uncertain && config.settle_claim(&event, &token).await) {
            handler.handle(event).await;
        }
    });
    match answered.await {
        Ok(Ok(())) => ok(),
        Ok(Err(rejection)) => rejection.to_response(),
        // The task ended without answering: the dedupe store panicked, or the runtime is
        // shutting down. Whether the event was marked is unknown; TalkJS may retry.
        Err(_) => {
            tracing::error!(
                "talkjs-webhooks: the dedupe check ended without an answer (the store panicked, or the runtime is shutting down)"
            );
            text_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// `200 ok`.
fn ok() -> Response<Full<Bytes>> {
    text_response(StatusCode::OK, "ok")
}

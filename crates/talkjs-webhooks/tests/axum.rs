//! The axum integration, through `tower::ServiceExt::oneshot` on the `Router` (no
//! sockets): `talkjs_webhooks::axum::router` and the `TalkjsEvent` extractor with the
//! signature, freshness, size, shape and duplicate cases of the tower service.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, State};
use axum::routing::post;
use bytes::Bytes;
use common::{
    PATH, delivery, drain, event, large_event, read, recorder, reencoded_pretty, reencoded_sorted,
    secret, signed_ago, signed_ahead, uri,
};
use http::{HeaderMap, Request, StatusCode};
use talkjs_webhooks::axum::{TalkjsEvent, router};
use talkjs_webhooks::{SecretKey, SignedDelivery, WebhookConfig, WebhookEvent};
use tokio::sync::Mutex;
use tower::ServiceExt;

fn config() -> WebhookConfig {
    WebhookConfig::new(secret()).with_max_body(4096)
}

fn to_axum(request: Request<http_body_util::Full<Bytes>>) -> Request<Body> {
    request.map(Body::new)
}

fn raw(headers: HeaderMap, body: impl Into<Bytes>) -> Request<Body> {
    let mut request = Request::post(PATH).body(Body::from(body.into())).unwrap();
    *request.headers_mut() = headers;
    request
}

/// The requests of the refusal cases, each with the status it must get.
fn refusals() -> Vec<(&'static str, Request<Body>, StatusCode)> {
    let sent = event(Some("evt_refused"), "hello");
    let signed = delivery(&sent);
    let six_minutes = Duration::from_secs(360);
    let mut no_signature = signed.headers();
    no_signature.remove("x-talkjs-signature");
    let mut no_timestamp = signed.headers();
    no_timestamp.remove("x-talkjs-timestamp");
    vec![
        (
            "pretty re-encoded",
            raw(signed.headers(), reencoded_pretty(signed.body())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "keys re-ordered",
            raw(signed.headers(), reencoded_sorted(signed.body())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "stale",
            to_axum(signed_ago(&sent, six_minutes).to_request(uri())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "future",
            to_axum(signed_ahead(&sent, six_minutes).to_request(uri())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong key",
            to_axum(SignedDelivery::new(&SecretKey::new("sk_test_other"), &sent).to_request(uri())),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no signature",
            raw(no_signature, signed.body().clone()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no timestamp",
            raw(no_timestamp, signed.body().clone()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no headers",
            raw(HeaderMap::new(), signed.body().clone()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not JSON",
            to_axum(SignedDelivery::from_body(&secret(), "not json").to_request(uri())),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not an event",
            to_axum(SignedDelivery::from_body(&secret(), r#"{"hello":1}"#).to_request(uri())),
            StatusCode::BAD_REQUEST,
        ),
        (
            "oversized",
            to_axum(delivery(&large_event("evt_big", 5000)).to_request(uri())),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ]
}

#[tokio::test]
async fn the_router_answers_and_hands_over_a_valid_delivery() {
    let (handler, rx) = recorder();
    let app: Router = router(PATH, config(), handler);
    let sent = event(Some("evt_1"), "hello");
    let response = app
        .clone()
        .oneshot(to_axum(delivery(&sent).to_request(uri())))
        .await
        .unwrap();
    assert_eq!(read(response).await, (StatusCode::OK, "ok".to_owned()));
    drop(app);
    assert_eq!(drain(rx).await, [sent]);
}

#[tokio::test]
async fn the_router_refuses_what_it_must_and_never_runs_the_handler_for_it() {
    let (handler, rx) = recorder();
    let app: Router = router(PATH, config(), handler);
    for (case, request, expected) in refusals() {
        let (status, _) = read(app.clone().oneshot(request).await.unwrap()).await;
        assert_eq!(status, expected, "{case}");
    }
    drop(app);
    assert!(drain(rx).await.is_empty());
}

#[tokio::test]
async fn the_router_runs_the_handler_once_for_a_duplicate() {
    let (handler, rx) = recorder();
    let app: Router = router(PATH, config(), handler);
    let sent = event(Some("evt_dup"), "hello");
    let signed = delivery(&sent);
    let mut texts = Vec::new();
    for _ in 0..3 {
        let response = app
            .clone()
            .oneshot(to_axum(signed.to_request(uri())))
            .await
            .unwrap();
        let (status, text) = read(response).await;
        assert_eq!(status, StatusCode::OK);
        texts.push(text);
    }
    assert_eq!(texts, ["ok", "duplicate", "duplicate"]);
    drop(app);
    assert_eq!(drain(rx).await, [sent]);
}

#[tokio::test]
async fn the_router_takes_only_post_on_its_path_and_merges_into_an_app_with_state() {
    #[derive(Clone)]
    struct AppState;
    let (handler, rx) = recorder();
    let app = Router::new()
        .route("/health", axum::routing::get(|| async { "up" }))
        .merge(router(PATH, config(), handler))
        .with_state(AppState);
    let get = Request::get(PATH).body(Body::empty()).unwrap();
    let (status, _) = read(app.clone().oneshot(get).await.unwrap()).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let health = Request::get("/health").body(Body::empty()).unwrap();
    assert_eq!(
        read(app.clone().oneshot(health).await.unwrap()).await,
        (StatusCode::OK, "up".to_owned())
    );
    drop(app);
    assert!(drain(rx).await.is_empty());
}

/// An app state holding the config, as a real app would (with its database and so on).
#[derive(Clone)]
struct AppState {
    webhooks: WebhookConfig,
    handled: Arc<Mutex<Vec<WebhookEvent>>>,
    calls: Arc<AtomicUsize>,
}

impl FromRef<AppState> for WebhookConfig {
    fn from_ref(state: &AppState) -> Self {
        state.webhooks.clone()
    }
}

async fn webhook(State(state): State<AppState>, TalkjsEvent(event): TalkjsEvent) -> &'static str {
    state.calls.fetch_add(1, Ordering::SeqCst);
    state.handled.lock().await.push(event);
    "handled"
}

fn extractor_app() -> (Router, AppState) {
    let state = AppState {
        webhooks: config(),
        handled: Arc::default(),
        calls: Arc::default(),
    };
    let app = Router::new()
        .route(PATH, post(webhook))
        .with_state(state.clone());
    (app, state)
}

#[tokio::test]
async fn the_extractor_gives_a_valid_event_to_the_handler() {
    let (app, state) = extractor_app();
    let sent = event(Some("evt_1"), "hello");
    let response = app
        .oneshot(to_axum(delivery(&sent).to_request(uri())))
        .await
        .unwrap();
    assert_eq!(read(response).await, (StatusCode::OK, "handled".to_owned()));
    assert_eq!(*state.handled.lock().await, [sent]);
}

#[tokio::test]
async fn the_extractor_refuses_what_it_must_before_the_handler() {
    let (app, state) = extractor_app();
    for (case, request, expected) in refusals() {
        let (status, _) = read(app.clone().oneshot(request).await.unwrap()).await;
        assert_eq!(status, expected, "{case}");
    }
    assert_eq!(state.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_extractor_answers_a_duplicate_200_without_the_handler() {
    let (app, state) = extractor_app();
    let sent = event(Some("evt_dup"), "hello");
    let signed = delivery(&sent);
    let mut answers = Vec::new();
    for _ in 0..3 {
        let response = app
            .clone()
            .oneshot(to_axum(signed.to_request(uri())))
            .await
            .unwrap();
        answers.push(read(response).await);
    }
    assert_eq!(
        answers,
        [
            (StatusCode::OK, "handled".to_owned()),
            (StatusCode::OK, "duplicate".to_owned()),
            (StatusCode::OK, "duplicate".to_owned()),
        ]
    );
    assert_eq!(state.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_extractor_takes_the_config_as_the_state_itself() {
    async fn bare(event: TalkjsEvent) -> String {
        event.event_type.as_str().to_owned()
    }
    let app = Router::new().route(PATH, post(bare)).with_state(config());
    let sent = event(Some("evt_1"), "hello");
    let response = app
        .oneshot(to_axum(delivery(&sent).to_request(uri())))
        .await
        .unwrap();
    assert_eq!(
        read(response).await,
        (StatusCode::OK, "message.sent".to_owned())
    );
}

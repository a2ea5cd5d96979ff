//! A layer that reserves capacity in `poll_ready` (tower's `ConcurrencyLimitLayer`) works in
//! every way a user can add it: through `ClientBuilder::layer`, through `StackBuilder::layer`
//! with `Client::from_service`, and in a hand-built `ServiceBuilder` stack. Twenty concurrent
//! calls over a backend that takes 100 ms each all complete, and the limit is fully used: at
//! most `limit` calls are in flight, and the whole run takes `20 / limit × 100 ms`.
//!
//! (A client that polled a shared stack's readiness with a no-op waker lost the permit the
//! limit queued for it: with limit 1, one call of 20 completed and the rest hung; with limit
//! 2, one permit was lost for good and the run took twice as long.)
//!
//! The clock is tokio's paused clock: the 100 ms are virtual, the verdict does not depend on
//! the machine's speed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use talkjs_api::Client;
use talkjs_auth::{AppId, Credentials, SecretKey};
use talkjs_transport::{BoxError, HttpRequest, HttpResponse, StackBuilder};
use tokio::time::Instant;
use tower::limit::ConcurrencyLimitLayer;
use tower::{ServiceBuilder, service_fn};

const CALLS: usize = 20;
const BACKEND: Duration = Duration::from_millis(100);

/// How many requests are in the backend now, and the most there ever were.
#[derive(Clone, Default)]
struct Gauge {
    now: Arc<AtomicUsize>,
    max: Arc<AtomicUsize>,
    done: Arc<AtomicUsize>,
}

/// A backend that takes 100 ms for every request and answers with a user.
fn backend(
    gauge: Gauge,
) -> impl tower::Service<
    HttpRequest,
    Response = HttpResponse,
    Error = BoxError,
    Future = impl Future<Output = Result<HttpResponse, BoxError>> + Send,
> + Clone
+ Send
+ Sync
+ 'static {
    service_fn(move |req: HttpRequest| {
        let gauge = gauge.clone();
        async move {
            let now = gauge.now.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.max.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(BACKEND).await;
            gauge.now.fetch_sub(1, Ordering::SeqCst);
            gauge.done.fetch_add(1, Ordering::SeqCst);
            let id = req.uri().path().rsplit('/').next().unwrap_or("").to_owned();
            let body = format!(r#"{{"id":"{id}","name":"User {id}","createdAt":1}}"#);
            Ok::<_, BoxError>(http::Response::new(Bytes::from(body)))
        }
    })
}

/// Runs `CALLS` concurrent `users().get()` and checks they all complete with the limit
/// fully used.
async fn run(client: Client, gauge: &Gauge, limit: usize, how: &str) {
    let start = Instant::now();
    let calls = (0..CALLS).map(|i| {
        let client = client.clone();
        async move { client.users().get(format!("u{i}")).await }
    });
    let results = tokio::time::timeout(Duration::from_secs(60), join_all(calls))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{how}, limit {limit}: calls hung; {} of {CALLS} completed",
                gauge.done.load(Ordering::SeqCst)
            )
        });
    for (i, result) in results.into_iter().enumerate() {
        assert_eq!(result.unwrap().id.as_str(), format!("u{i}"), "{how}");
    }
    let elapsed = start.elapsed();
    assert_eq!(gauge.done.load(Ordering::SeqCst), CALLS, "{how}");
    assert_eq!(
        gauge.max.load(Ordering::SeqCst),
        limit,
        "{how}: at most `limit` in flight, and the limit reached"
    );
    // 20 calls, `limit` at a time, 100 ms each: a lost permit would take longer.
    let ideal = BACKEND * u32::try_from(CALLS / limit).unwrap();
    assert!(
        elapsed >= ideal && elapsed < ideal + BACKEND / 2,
        "{how}, limit {limit}: took {elapsed:?}, expected {ideal:?}"
    );
}

fn credentials() -> (AppId, Credentials) {
    let app = AppId::new("app1");
    (app, Credentials::LegacySecretKey(SecretKey::new("sk_test")))
}

#[tokio::test(start_paused = true)]
async fn through_client_builder_layer() {
    for limit in [1, 2] {
        let gauge = Gauge::default();
        let client = Client::builder("app1", "sk_test")
            .layer(ConcurrencyLimitLayer::new(limit))
            .inner_service(backend(gauge.clone()))
            .build()
            .unwrap();
        run(client, &gauge, limit, "ClientBuilder::layer").await;
    }
}

#[tokio::test(start_paused = true)]
async fn through_stack_builder_layer_and_from_service() {
    for limit in [1, 2] {
        let gauge = Gauge::default();
        let (app, credentials) = credentials();
        let stack = StackBuilder::new(app, credentials)
            .layer(ConcurrencyLimitLayer::new(limit))
            .inner_service(backend(gauge.clone()))
            .build()
            .unwrap();
        let client = Client::from_service(stack);
        run(client, &gauge, limit, "StackBuilder::layer + from_service").await;
    }
}

#[tokio::test(start_paused = true)]
async fn through_a_hand_built_service_builder() {
    for limit in [1, 2] {
        let gauge = Gauge::default();
        let service = ServiceBuilder::new()
            .layer(ConcurrencyLimitLayer::new(limit))
            .service(backend(gauge.clone()));
        let client = Client::from_service(service);
        run(client, &gauge, limit, "ServiceBuilder + from_service").await;
    }
}

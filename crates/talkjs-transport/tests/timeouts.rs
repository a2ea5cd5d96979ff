//! The deadline and the per-attempt timeout together, on tokio's paused clock: each limit
//! ends the call at its own time with its own error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use talkjs_transport::{
    BoxError, HttpRequest, HttpResponse, Quota, RateLimitLayer, RateLimiter, RetryConfig,
    RetryLayer, TimeoutKind, TimeoutLayer, TransportError,
};
use tokio::time::Instant;
use tower::{ServiceBuilder, ServiceExt};

/// A service that hangs on its first `hang` calls and answers 200 after, counting calls.
#[derive(Clone)]
struct HangFirst {
    hang: usize,
    calls: Arc<AtomicUsize>,
}

impl HangFirst {
    fn new(hang: usize) -> Self {
        Self {
            hang,
            calls: Arc::default(),
        }
    }

    fn count(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl tower::Service<HttpRequest> for HangFirst {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<HttpResponse, BoxError>> + Send>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: HttpRequest) -> Self::Future {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let hang = n < self.hang;
        Box::pin(async move {
            if hang {
                tokio::time::sleep(secs(3600)).await;
            }
            Ok(HttpResponse::new(Bytes::from_static(b"{}")))
        })
    }
}

fn get() -> HttpRequest {
    http::Request::get("/users/alice")
        .body(Bytes::new())
        .unwrap()
}

fn quick_retries() -> RetryConfig {
    RetryConfig::default()
        .budget(None)
        .base_delay(Duration::from_millis(10))
        .max_attempts(10)
}

/// Calls `svc` once, expecting a timeout: how long the call took, and the timeout's kind
/// and limit.
async fn time_out<S>(svc: S) -> (Duration, TimeoutKind, Duration)
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
{
    let started = Instant::now();
    let err = svc.oneshot(get()).await.unwrap_err();
    match TransportError::find(err.as_ref()) {
        Some(TransportError::Timeout { kind, after }) => (started.elapsed(), *kind, *after),
        other => panic!("expected a timeout, got {other:?} ({err})"),
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[tokio::test(start_paused = true)]
async fn a_deadline_shorter_than_the_attempt_limit_ends_a_hung_attempt_on_time() {
    let inner = HangFirst::new(usize::MAX);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(secs(5)))
        .layer(RetryLayer::new(quick_retries()))
        .layer(TimeoutLayer::per_attempt(secs(30)))
        .service(inner.clone());
    assert_eq!(
        time_out(svc).await,
        (secs(5), TimeoutKind::Deadline, secs(5))
    );
    assert_eq!(inner.count(), 1, "a deadline is not retried");
}

#[tokio::test(start_paused = true)]
async fn hung_attempts_are_retried_until_the_deadline() {
    let inner = HangFirst::new(usize::MAX);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(secs(5)))
        .layer(RetryLayer::new(quick_retries()))
        .layer(TimeoutLayer::per_attempt(secs(2)))
        .service(inner.clone());
    assert_eq!(
        time_out(svc).await,
        (secs(5), TimeoutKind::Deadline, secs(5))
    );
    // Attempts start at 0 s, after 2 s and after 4 s (plus backoffs of at most 10 and 20 ms).
    assert_eq!(inner.count(), 3);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_limit_shorter_than_the_deadline_is_an_attempt_timeout() {
    let inner = HangFirst::new(1);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(secs(60)))
        .layer(TimeoutLayer::per_attempt(secs(2)))
        .service(inner.clone());
    assert_eq!(
        time_out(svc).await,
        (secs(2), TimeoutKind::Attempt, secs(2))
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_ends_a_rate_limit_wait() {
    // One call per second: the second call waits for a slot, with no attempt in flight.
    let limiter = RateLimiter::new("app").general_quota(Quota::per_second(1, 1));
    let inner = HangFirst::new(0);
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(Duration::from_millis(300)))
        .layer(RateLimitLayer::new(limiter))
        .layer(TimeoutLayer::per_attempt(secs(30)))
        .service(inner.clone());
    svc.clone().oneshot(get()).await.unwrap();
    assert_eq!(
        time_out(svc).await,
        (
            Duration::from_millis(300),
            TimeoutKind::Deadline,
            Duration::from_millis(300)
        )
    );
    assert_eq!(inner.count(), 1, "the second call never got a slot");
}

#[tokio::test(start_paused = true)]
async fn a_deadline_does_not_reach_calls_made_after_it() {
    // A call under a short deadline, then a call through a stack with only an attempt
    // limit: the second one must not inherit the first one's deadline.
    let first = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(secs(1)))
        .layer(TimeoutLayer::per_attempt(secs(30)))
        .service(HangFirst::new(0));
    first.oneshot(get()).await.unwrap();
    let second = ServiceBuilder::new()
        .layer(TimeoutLayer::per_attempt(secs(10)))
        .service(HangFirst::new(1));
    assert_eq!(
        time_out(second).await,
        (secs(10), TimeoutKind::Attempt, secs(10))
    );
}

#[tokio::test(start_paused = true)]
async fn nested_deadlines_each_hold() {
    // An outer deadline of 2 s around an inner one of 10 s: the outer one fires first.
    let svc = ServiceBuilder::new()
        .layer(TimeoutLayer::deadline(secs(2)))
        .layer(TimeoutLayer::deadline(secs(10)))
        .layer(TimeoutLayer::per_attempt(secs(30)))
        .service(HangFirst::new(1));
    assert_eq!(
        time_out(svc).await,
        (secs(2), TimeoutKind::Deadline, secs(2))
    );
}

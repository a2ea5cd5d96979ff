//! `Client::from_service` with services that are not always ready: a call waits for the
//! service's readiness (on a clone of its own), a readiness error fails the call, and
//! concurrent calls through one shared client all complete.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use talkjs_api::{Client, Error};
use talkjs_transport::{BoxError, HttpRequest, HttpResponse};
use tower::Service;

/// Answers every request with one user; `poll_ready` is `Pending` (after asking to be polled
/// again) on every `not_ready_every`-th poll, or fails when `fail` is set.
#[derive(Clone)]
struct Flaky {
    polls: Arc<AtomicUsize>,
    calls: Arc<AtomicUsize>,
    not_ready_every: usize,
    fail: bool,
}

impl Flaky {
    fn new(not_ready_every: usize, fail: bool) -> Self {
        Self {
            polls: Arc::default(),
            calls: Arc::default(),
            not_ready_every,
            fail,
        }
    }
}

impl Service<HttpRequest> for Flaky {
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = std::future::Ready<Result<HttpResponse, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.fail {
            return Poll::Ready(Err("the backend is gone".into()));
        }
        let n = self.polls.fetch_add(1, Ordering::SeqCst);
        if n % self.not_ready_every == 0 {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: HttpRequest) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let id = req.uri().path().rsplit('/').next().unwrap_or("").to_owned();
        let body = format!(r#"{{"id":"{id}","name":"User {id}","createdAt":1}}"#);
        std::future::ready(Ok(http::Response::new(Bytes::from(body))))
    }
}

#[tokio::test]
async fn a_service_that_is_not_ready_at_once_is_waited_for() {
    // Pending on every other poll: every call drives its own clone of the service to
    // readiness, and is woken when it is ready.
    let service = Flaky::new(2, false);
    let client = Client::from_service(service.clone());
    for i in 0..6 {
        let user = client.users().get(&format!("u{i}")).await.unwrap();
        assert_eq!(user.id.as_str(), format!("u{i}"));
    }
    assert_eq!(
        service.calls.load(Ordering::SeqCst),
        6,
        "one call per request"
    );
    assert!(
        service.polls.load(Ordering::SeqCst) > 6,
        "readiness was polled again"
    );
}

#[tokio::test]
async fn a_readiness_error_fails_the_call_without_sending() {
    let service = Flaky::new(1, true);
    let client = Client::from_service(service.clone());
    let error = client.users().get("alice").await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.to_string().contains("the backend is gone"), "{error}");
    assert_eq!(service.calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_through_one_client_all_complete() {
    let service = Flaky::new(3, false);
    let client = Client::from_service(service.clone());
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8 {
        let client = client.clone();
        tasks.spawn(async move {
            for i in 0..25 {
                let id = format!("t{t}-{i}");
                let user = client.users().get(&id).await.unwrap();
                assert_eq!(user.id.as_str(), id);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(service.calls.load(Ordering::SeqCst), 200);
}

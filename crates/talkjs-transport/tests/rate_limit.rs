//! The rate limiter on tokio's paused clock: TalkJS's burst and sustained rate, one state
//! shared by clones and stacks, push-back by 429s, the batch class, the maximum wait, and the
//! GCRA arithmetic of the memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use talkjs_transport::{
    BoxError, BoxFuture, HttpRequest, HttpResponse, MemoryStore, Quota, RateLimitLayer,
    RateLimitStore, RateLimiter, RequestClass, Reservation, TransportError,
};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

const MS: Duration = Duration::from_millis(1);

/// Records the virtual time of every call the inner service receives. A request with an
/// `x-status` header is answered with that status, and with its `x-retry-after` header as
/// `Retry-After`.
#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Recorder {
    fn service(
        &self,
    ) -> impl Service<
        HttpRequest,
        Response = HttpResponse,
        Error = BoxError,
        Future = impl std::future::Future<Output = Result<HttpResponse, BoxError>> + Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static {
        let calls = Arc::clone(&self.calls);
        tower::service_fn(move |req: HttpRequest| {
            let calls = Arc::clone(&calls);
            async move {
                calls
                    .lock()
                    .unwrap()
                    .push((Instant::now(), req.uri().path().to_owned()));
                let mut response = http::Response::builder();
                if let Some(status) = req.headers().get("x-status") {
                    response = response.status(status.to_str().unwrap());
                }
                if let Some(retry_after) = req.headers().get("x-retry-after") {
                    response = response.header("retry-after", retry_after);
                }
                Ok::<_, BoxError>(response.body(Bytes::from_static(b"{}")).unwrap())
            }
        })
    }

    /// Offsets from `start` of all calls, in the order they arrived.
    fn offsets(&self, start: Instant) -> Vec<Duration> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(t, _)| t.duration_since(start))
            .collect()
    }

    /// Offsets from `start` of the calls to `path`.
    fn offsets_of(&self, start: Instant, path: &str) -> Vec<Duration> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p)| p == path)
            .map(|(t, _)| t.duration_since(start))
            .collect()
    }

    fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }
}

fn get(path: &str) -> HttpRequest {
    http::Request::get(path).body(Bytes::new()).unwrap()
}

fn batch() -> HttpRequest {
    let mut req = http::Request::post("/batch")
        .body(Bytes::from_static(b"[]"))
        .unwrap();
    req.extensions_mut().insert(RequestClass::Batch);
    req
}

fn too_many(retry_after: Option<&str>) -> HttpRequest {
    let mut builder = http::Request::get("/refused").header("x-status", "429");
    if let Some(v) = retry_after {
        builder = builder.header("x-retry-after", v);
    }
    builder.body(Bytes::new()).unwrap()
}

fn assert_near(actual: Duration, expected: Duration) {
    let diff = actual.abs_diff(expected);
    assert!(diff <= MS, "expected ≈{expected:?} (±1 ms), got {actual:?}");
}

/// burst 5, 10 per second: small enough to keep the tests short.
fn small() -> Quota {
    Quota::per_second(10, 5)
}

#[tokio::test(start_paused = true)]
async fn talkjs_defaults_burst_600_then_9_per_second() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1");
    let mut svc = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    for i in 0..620 {
        let resp = svc
            .ready()
            .await
            .unwrap()
            .call(get(&format!("/r{i}")))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    let offsets = rec.offsets(start);
    assert_eq!(offsets.len(), 620);
    // TalkJS's burst of 600, less the default margin of 10: requests 1..=590 go through
    // at once.
    let burst = 600 - RateLimiter::DEFAULT_BURST_MARGIN as usize;
    assert!(
        offsets[..burst].iter().all(Duration::is_zero),
        "the burst of 590 is immediate"
    );
    assert!(!offsets[burst].is_zero(), "request 591 waits");
    // Then one every 1/9 s: request n (1-based, n > 590) at (n − 590) / 9 s.
    let interval = Quota::TALKJS_GENERAL.interval();
    assert!(
        interval >= Duration::from_nanos(111_111_111),
        "never above 9 a second"
    );
    assert_near(offsets[burst], interval); // request 591: ≈111 ms
    assert_near(offsets[burst + 8], Duration::from_secs(1)); // request 599: ≈1 s
    assert_near(offsets[burst + 9], interval * 10); // request 600: ≈1.111 s
    for (i, d) in offsets.iter().enumerate().skip(burst) {
        let n = u32::try_from(i + 1 - burst).unwrap();
        assert_near(*d, interval * n);
    }
}

#[tokio::test(start_paused = true)]
async fn one_state_across_clones_and_stacks() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1").general_quota(small());
    // Two stacks built from clones of one limiter, each cloned twice more.
    let stack_a = ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter.clone()))
        .service(rec.service());
    let stack_b = ServiceBuilder::new()
        .layer(RateLimitLayer::new(limiter.clone()))
        .service(rec.service());
    let services = [stack_a.clone(), stack_a, stack_b.clone(), stack_b];
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for (n, svc) in services.into_iter().enumerate() {
        for i in 0..5 {
            let svc = svc.clone();
            tasks.spawn(async move { svc.oneshot(get(&format!("/s{n}/{i}"))).await.unwrap() });
        }
    }
    while let Some(done) = tasks.join_next().await {
        assert_eq!(done.unwrap().status(), 200);
    }
    let mut offsets = rec.offsets(start);
    offsets.sort();
    assert_eq!(offsets.len(), 20);
    // One quota for all 20 callers: 5 at once, then one every 100 ms.
    for (i, d) in offsets.iter().enumerate() {
        let expected = Duration::from_millis(100) * u32::try_from(i.saturating_sub(4)).unwrap();
        assert_near(*d, expected);
    }
    // The limiter used directly shares the same state: its next slot is after all of them.
    let waited = limiter.acquire(RequestClass::General).await.unwrap();
    assert_near(waited, Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_pushes_other_clones_back() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1").general_quota(small());
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();

    let resp = stack.clone().oneshot(too_many(Some("2"))).await.unwrap();
    assert_eq!(resp.status(), 429, "the 429 is returned unchanged");
    assert_eq!(resp.headers()["retry-after"], "2");

    // Another clone: four burst slots were left, but the server said to pause for 2 s.
    let other = stack.clone();
    for i in 0..4 {
        other
            .clone()
            .oneshot(get(&format!("/after{i}")))
            .await
            .unwrap();
    }
    let after = rec.offsets_of(start, "/after0");
    assert!(
        after[0] >= Duration::from_secs(2),
        "first request after the 429 at {:?}",
        after[0]
    );
    // After the pause the rate is the sustained one (no new burst): 2.0, 2.1, 2.2, 2.3 s.
    for i in 0..4u32 {
        let at = rec.offsets_of(start, &format!("/after{i}"));
        assert_near(
            at[0],
            Duration::from_secs(2) + Duration::from_millis(100) * i,
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_applies_the_default_penalty() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1").general_quota(small());
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    let resp = stack.clone().oneshot(too_many(None)).await.unwrap();
    assert_eq!(resp.status(), 429);
    for i in 0..3 {
        stack
            .clone()
            .oneshot(get(&format!("/after{i}")))
            .await
            .unwrap();
    }
    let mut offsets = rec.offsets(start);
    offsets.remove(0);
    assert_near(offsets[0], RateLimiter::DEFAULT_PENALTY);
    assert_near(
        offsets[1],
        RateLimiter::DEFAULT_PENALTY + Duration::from_millis(100),
    );
    assert_near(
        offsets[2],
        RateLimiter::DEFAULT_PENALTY + Duration::from_millis(200),
    );
}

#[tokio::test(start_paused = true)]
async fn the_penalty_without_retry_after_is_configurable_and_malformed_headers_use_it() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1")
        .general_quota(small())
        .penalty_without_retry_after(Duration::from_secs(3));
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    stack.clone().oneshot(too_many(Some("soon"))).await.unwrap();
    stack.clone().oneshot(get("/after")).await.unwrap();
    assert_near(rec.offsets_of(start, "/after")[0], Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_429_on_a_batch_pushes_back_only_the_batch_class() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1").general_quota(small());
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    let mut refused = too_many(Some("5"));
    refused.extensions_mut().insert(RequestClass::Batch);
    stack.clone().oneshot(refused).await.unwrap();
    stack.clone().oneshot(get("/general")).await.unwrap();
    stack.clone().oneshot(batch()).await.unwrap();
    assert!(rec.offsets_of(start, "/general")[0].is_zero());
    assert_near(rec.offsets_of(start, "/batch")[0], Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn talkjs_batch_default_is_a_burst_of_500_then_1_per_second() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1");
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    for _ in 0..502 {
        stack.clone().oneshot(batch()).await.unwrap();
    }
    let batches = rec.offsets_of(start, "/batch");
    assert!(
        batches[..500].iter().all(Duration::is_zero),
        "the burst goes at once"
    );
    assert_near(batches[500], Duration::from_secs(1));
    assert_near(batches[501], Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn batch_requests_are_limited_to_one_per_second_independently() {
    let rec = Recorder::default();
    // A batch burst of 1 (TalkJS's is 500), to see the batches' own pace at once.
    let limiter = RateLimiter::new("app1")
        .general_quota(small())
        .batch_quota(Quota::with_interval(Duration::from_secs(1), 1));
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..3 {
        let svc = stack.clone();
        tasks.spawn(async move { svc.oneshot(batch()).await.unwrap() });
    }
    for i in 0..5 {
        let svc = stack.clone();
        tasks.spawn(async move { svc.oneshot(get(&format!("/g{i}"))).await.unwrap() });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let batches = rec.offsets_of(start, "/batch");
    assert_eq!(batches.len(), 3);
    assert_near(batches[0], Duration::ZERO);
    assert_near(batches[1], Duration::from_secs(1));
    assert_near(batches[2], Duration::from_secs(2));
    // The general class is not held up by waiting batches (its burst of 5 is untouched).
    for i in 0..5 {
        assert!(rec.offsets_of(start, &format!("/g{i}"))[0].is_zero());
    }
}

#[tokio::test(start_paused = true)]
async fn max_wait_fails_fast_without_consuming_a_slot() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1")
        .general_quota(Quota::per_second(1, 2))
        .max_wait(Some(Duration::from_millis(500)));
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let start = Instant::now();
    stack.clone().oneshot(get("/a")).await.unwrap();
    stack.clone().oneshot(get("/b")).await.unwrap();

    // The next slot is 1 s away: more than 500 ms, so the call fails at once.
    let error = stack.clone().oneshot(get("/c")).await.unwrap_err();
    assert_eq!(Instant::now(), start, "failing took no time");
    match TransportError::find(&*error) {
        Some(TransportError::LocalRateLimit { wait, max_wait }) => {
            assert_eq!(*wait, Duration::from_secs(1));
            assert_eq!(*max_wait, Duration::from_millis(500));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(
        rec.count(),
        2,
        "the refused call never reached the inner service"
    );

    // 600 ms later the slot at 1 s is 400 ms away: it fits, and is still free.
    tokio::time::sleep(Duration::from_millis(600)).await;
    stack.clone().oneshot(get("/d")).await.unwrap();
    assert_near(rec.offsets_of(start, "/d")[0], Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn the_limiter_works_without_the_layer() {
    let limiter = RateLimiter::new("app1").general_quota(small());
    for _ in 0..5 {
        assert_eq!(
            limiter.acquire(RequestClass::General).await.unwrap(),
            Duration::ZERO
        );
    }
    let start = Instant::now();
    assert_near(
        limiter.acquire(RequestClass::General).await.unwrap(),
        Duration::from_millis(100),
    );
    assert_near(start.elapsed(), Duration::from_millis(100));
    limiter
        .on_rate_limited(RequestClass::General, Some(Duration::from_secs(2)))
        .await
        .unwrap();
    assert_near(
        limiter.acquire(RequestClass::General).await.unwrap(),
        Duration::from_secs(2),
    );
    assert_eq!(limiter.key(RequestClass::General), "talkjs:app1:general");
    assert_eq!(limiter.key(RequestClass::Batch), "talkjs:app1:batch");
    assert_eq!(limiter.quota(RequestClass::Batch), Quota::TALKJS_BATCH);
}

/// A store that fails every call, like an unreachable Redis.
#[derive(Debug)]
struct BrokenStore;

impl RateLimitStore for BrokenStore {
    fn reserve<'a>(
        &'a self,
        _key: &'a str,
        _quota: Quota,
        _max_wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<Reservation, BoxError>> {
        Box::pin(async { Err("connection refused".into()) })
    }

    fn penalize<'a>(
        &'a self,
        _key: &'a str,
        _quota: Quota,
        _pause: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        Box::pin(async { Err("connection refused".into()) })
    }
}

/// Counts calls and the keys used, delegating to a memory store.
#[derive(Debug, Default)]
struct CountingStore {
    memory: MemoryStore,
    keys: Mutex<Vec<String>>,
    calls: AtomicUsize,
}

impl RateLimitStore for CountingStore {
    fn reserve<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        max_wait: Option<Duration>,
    ) -> BoxFuture<'a, Result<Reservation, BoxError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(key.to_owned());
        self.memory.reserve(key, quota, max_wait)
    }

    fn penalize<'a>(
        &'a self,
        key: &'a str,
        quota: Quota,
        pause: Duration,
    ) -> BoxFuture<'a, Result<(), BoxError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(key.to_owned());
        self.memory.penalize(key, quota, pause)
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_store_is_used_with_the_documented_keys() {
    let rec = Recorder::default();
    let store = Arc::new(CountingStore::default());
    let limiter = RateLimiter::new("app1").with_store(store.clone());
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    stack.clone().oneshot(get("/x")).await.unwrap();
    stack.clone().oneshot(batch()).await.unwrap();
    stack.clone().oneshot(too_many(None)).await.unwrap();
    assert_eq!(store.calls.load(Ordering::SeqCst), 4);
    assert_eq!(
        *store.keys.lock().unwrap(),
        [
            "talkjs:app1:general",
            "talkjs:app1:batch",
            "talkjs:app1:general",
            "talkjs:app1:general"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_fails_the_call_with_a_clear_error() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1").with_store(Arc::new(BrokenStore));
    let stack = RateLimitLayer::new(limiter).layer(rec.service());
    let error = stack.oneshot(get("/x")).await.unwrap_err();
    assert!(
        matches!(
            TransportError::find(&*error),
            Some(TransportError::RateLimitStore { .. })
        ),
        "{error}"
    );
    assert_eq!(rec.count(), 0);
}

#[tokio::test]
async fn readiness_is_the_inner_services() {
    let (mock, mut handle) = tower_test::mock::pair::<HttpRequest, HttpResponse>();
    let limiter = RateLimiter::new("app1");
    let mut svc = tower_test::mock::Spawn::new(RateLimitLayer::new(limiter).layer(mock));
    handle.allow(0);
    assert!(
        svc.poll_ready().is_pending(),
        "the inner service is not ready"
    );
    handle.allow(1);
    assert!(matches!(svc.poll_ready(), std::task::Poll::Ready(Ok(()))));
    let call = tokio::spawn(svc.call(get("/x")));
    let (request, send) = handle.next_request().await.unwrap();
    assert_eq!(request.uri().path(), "/x");
    send.send_response(HttpResponse::new(Bytes::from_static(b"{}")));
    assert_eq!(call.await.unwrap().unwrap().status(), 200);
}

// ---- MemoryStore arithmetic, through the trait ----

async fn reserve(
    store: &MemoryStore,
    key: &str,
    quota: Quota,
    max: Option<Duration>,
) -> Reservation {
    store.reserve(key, quota, max).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn memory_store_reserve_arithmetic() {
    let store = MemoryStore::new();
    let q = Quota::with_interval(Duration::from_millis(100), 3); // tau = 200 ms
    // A fresh key: the burst of 3 at once, then queued reservations 100 ms apart.
    for _ in 0..3 {
        assert_eq!(
            reserve(&store, "k", q, None).await,
            Reservation::Granted(Duration::ZERO)
        );
    }
    assert_eq!(
        reserve(&store, "k", q, None).await,
        Reservation::Granted(100 * MS)
    );
    assert_eq!(
        reserve(&store, "k", q, None).await,
        Reservation::Granted(200 * MS)
    );
    // TAT is now 500 ms. At 250 ms: wait = 500 − 200 − 250 = 50 ms.
    tokio::time::advance(250 * MS).await;
    assert_eq!(
        reserve(&store, "k", q, None).await,
        Reservation::Granted(50 * MS)
    );
    // TAT 600 ms; a maximum wait shorter than the 150 ms to the next slot denies it and
    // stores nothing; equal to it grants.
    assert_eq!(
        reserve(&store, "k", q, Some(149 * MS)).await,
        Reservation::Denied(150 * MS)
    );
    assert_eq!(
        reserve(&store, "k", q, Some(149 * MS)).await,
        Reservation::Denied(150 * MS)
    );
    assert_eq!(
        reserve(&store, "k", q, Some(150 * MS)).await,
        Reservation::Granted(150 * MS)
    );
    // Idle long enough, the full burst is back (but not more).
    tokio::time::advance(Duration::from_secs(10)).await;
    for _ in 0..3 {
        assert_eq!(
            reserve(&store, "k", q, Some(Duration::ZERO)).await,
            Reservation::Granted(Duration::ZERO)
        );
    }
    assert_eq!(
        reserve(&store, "k", q, Some(Duration::ZERO)).await,
        Reservation::Denied(100 * MS)
    );
    // Keys are independent.
    assert_eq!(
        reserve(&store, "other", q, Some(Duration::ZERO)).await,
        Reservation::Granted(Duration::ZERO)
    );
}

#[tokio::test(start_paused = true)]
async fn memory_store_penalize_arithmetic() {
    let store = MemoryStore::new();
    let q = Quota::with_interval(Duration::from_millis(100), 3); // tau = 200 ms

    // A fresh key penalized for 1 s: first slot in 1 s, then 100 ms apart (no burst).
    store
        .penalize("fresh", q, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(
        reserve(&store, "fresh", q, None).await,
        Reservation::Granted(1000 * MS)
    );
    assert_eq!(
        reserve(&store, "fresh", q, None).await,
        Reservation::Granted(1100 * MS)
    );

    // A penalty never moves a key earlier: TAT of "fresh" is 1.2 s + tau; a 100 ms pause
    // changes nothing.
    store.penalize("fresh", q, 100 * MS).await.unwrap();
    assert_eq!(
        reserve(&store, "fresh", q, None).await,
        Reservation::Granted(1200 * MS)
    );

    // A used key: the pause counts from now, not from its TAT.
    let _ = reserve(&store, "used", q, None).await;
    tokio::time::advance(50 * MS).await;
    store
        .penalize("used", q, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(
        reserve(&store, "used", q, Some(Duration::from_secs(1))).await,
        Reservation::Denied(2000 * MS)
    );
    tokio::time::advance(Duration::from_secs(2)).await;
    assert_eq!(
        reserve(&store, "used", q, None).await,
        Reservation::Granted(Duration::ZERO)
    );
    assert_eq!(
        reserve(&store, "used", q, None).await,
        Reservation::Granted(100 * MS)
    );

    // A zero pause on a fresh key leaves only the sustained rate.
    store.penalize("zero", q, Duration::ZERO).await.unwrap();
    assert_eq!(
        reserve(&store, "zero", q, None).await,
        Reservation::Granted(Duration::ZERO)
    );
    assert_eq!(
        reserve(&store, "zero", q, None).await,
        Reservation::Granted(100 * MS)
    );
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_pauses_the_limiter_for_the_maximum_penalty_only() {
    let rec = Recorder::default();
    let limiter = RateLimiter::new("app1").general_quota(small());
    let stack = RateLimitLayer::new(limiter.clone()).layer(rec.service());

    let resp = stack
        .clone()
        .oneshot(too_many(Some("999999999")))
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(
        resp.headers()["retry-after"],
        "999999999",
        "returned unchanged"
    );
    // The next slot is the default maximum penalty away, not 31 years.
    let waited = limiter.acquire(RequestClass::General).await.unwrap();
    assert_eq!(waited, RateLimiter::DEFAULT_MAX_PENALTY);

    // A smaller maximum, shared by the limiter's clones.
    let limiter = RateLimiter::new("app2")
        .general_quota(small())
        .max_penalty(Duration::from_secs(5));
    limiter
        .on_rate_limited(RequestClass::General, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let waited = limiter
        .clone()
        .acquire(RequestClass::General)
        .await
        .unwrap();
    assert_eq!(waited, Duration::from_secs(5));

    // A Retry-After within the maximum is obeyed as it is.
    let limiter = RateLimiter::new("app3").general_quota(small());
    limiter
        .on_rate_limited(RequestClass::General, Some(Duration::from_secs(59)))
        .await
        .unwrap();
    let waited = limiter.acquire(RequestClass::General).await.unwrap();
    assert_eq!(waited, Duration::from_secs(59));
}
